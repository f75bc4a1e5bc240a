// SensorCharacter as JSON, one form for `probe --json`, `status --json` and the devices
// table. Header-only, so that common itself does not depend on nlohmann-json.
#pragma once

#include <nlohmann/json.hpp>

#include "wattfleet/common/sensor_character.h"

namespace wattfleet {

inline nlohmann::json SensorCharacterJson(const SensorCharacter& c) {
  // Unknown figures are null rather than 0, which would read as "instantaneous" or "exact".
  const auto figure = [](double v) { return v > 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
  return {{"method", c.method},
          {"declared_period_s", figure(c.declared_period_s)},
          {"update_period_s", figure(c.update_period_s)},
          {"effective_period_s", figure(c.EffectivePeriod())},
          {"updates_seen", c.updates_seen},
          {"polled_s", c.polled_s},
          {"resolution_j", figure(c.resolution_j)},
          {"wrap_j", figure(c.wrap_j)},
          {"averaging_s", figure(c.averaging_s)},
          {"stuck", c.stuck},
          {"note", c.note}};
}

}  // namespace wattfleet
