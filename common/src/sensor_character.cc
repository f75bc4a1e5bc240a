#include "wattfleet/common/sensor_character.h"

#include <cstdio>

namespace wattfleet {
namespace {

// Three significant figures with the largest SI prefix (of k, none, m, u; up to `largest`)
// that keeps the figure at 1 or more: "100 ms", "1.2 s", "61 uJ", "262 kJ".
std::string Scaled(double v, const char* unit, double largest) {
  struct Prefix {
    double factor;
    const char* name;
  };
  static constexpr Prefix kPrefixes[] = {{1e3, "k"}, {1, ""}, {1e-3, "m"}, {1e-6, "u"}};
  const Prefix* p = &kPrefixes[3];
  for (const Prefix& candidate : kPrefixes) {
    if (candidate.factor <= largest && v >= candidate.factor) {
      p = &candidate;
      break;
    }
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g %s%s", v / p->factor, p->name, unit);
  return buf;
}

std::string Seconds(double s) { return Scaled(s, "s", 1); }
std::string Joules(double j) { return Scaled(j, "J", 1e3); }

}  // namespace

std::string DescribeSensor(const SensorCharacter& c) {
  if (c.method.empty()) return "not characterised";
  std::string out = c.method;
  char seen[64];
  std::snprintf(seen, sizeof seen, "%lld seen in %.1f s", static_cast<long long>(c.updates_seen),
                c.polled_s);
  if (c.stuck) {
    out += ", STUCK: did not move in " + Seconds(c.polled_s);
  } else if (c.update_period_s > 0) {
    out += ", updates every " + Seconds(c.update_period_s) + " (" + seen + ")";
  } else if (c.polled_s > 0) {
    out += ", update period not measured (" + std::string(seen) + ")";
  }
  if (c.declared_period_s > 0 && c.update_period_s <= 0) {
    out += ", assumed " + Seconds(c.declared_period_s);
  }
  if (c.resolution_j > 0) out += ", step " + Joules(c.resolution_j);
  if (c.wrap_j > 0) out += ", wraps at " + Joules(c.wrap_j);
  if (c.averaging_s > 0) out += ", averages over " + Seconds(c.averaging_s);
  if (!c.note.empty()) out += "; " + c.note;
  return out;
}

}  // namespace wattfleet
