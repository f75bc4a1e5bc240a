#include "store_values.h"

#include <cinttypes>
#include <cstdio>

#include <nlohmann/json.hpp>

namespace wattfleet {

std::string PayloadHash(std::string_view bytes) {
  uint64_t h = 14695981039346656037ull;
  for (const unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016" PRIx64, h);
  return buf;
}

std::string RepeatsJson(const std::vector<Repeat>& repeats) {
  nlohmann::json arr = nlohmann::json::array();
  for (const Repeat& r : repeats)
    arr.push_back({{"iterations", r.iterations}, {"time_s", r.time_s}, {"energy_j", r.energy_j}});
  return arr.dump();
}

std::string ParamsJson(const std::map<std::string, double>& params) {
  nlohmann::json obj = nlohmann::json::object();
  for (const auto& [k, v] : params) obj[k] = v;
  return obj.dump();
}

}  // namespace wattfleet
