#include "wattfleet/common/sensor_character.h"

#include <cstdio>

namespace wattfleet {
namespace {

// "100 ms", "1.2 s", "61 us": three significant figures in a unit that reads naturally.
std::string Seconds(double s) {
  char buf[32];
  if (s >= 1) {
    std::snprintf(buf, sizeof buf, "%.3g s", s);
  } else if (s >= 1e-3) {
    std::snprintf(buf, sizeof buf, "%.3g ms", s * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g us", s * 1e6);
  }
  return buf;
}

std::string Joules(double j) {
  char buf[32];
  if (j >= 1e3) {
    std::snprintf(buf, sizeof buf, "%.3g kJ", j / 1e3);
  } else if (j >= 1) {
    std::snprintf(buf, sizeof buf, "%.3g J", j);
  } else if (j >= 1e-3) {
    std::snprintf(buf, sizeof buf, "%.3g mJ", j * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g uJ", j * 1e6);
  }
  return buf;
}

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
