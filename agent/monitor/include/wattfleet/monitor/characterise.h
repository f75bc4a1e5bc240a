// Measures what a meter can resolve by polling it (docs/measurement.md, "Sensor
// characterisation"): how often its reading really changes, whether a counter moves at all,
// and what its backend declares (counter step, wrap point, averaging, fallbacks).
#pragma once

#include <cstdint>
#include <memory>

#include "wattfleet/meters/meter.h"
#include "wattfleet/common/clock.h"
#include "wattfleet/common/sensor_character.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

struct CharacteriseOptions {
  double max_s = 2.0;      // poll at most this long
  double poll_s = 0.001;   // between two reads
  int64_t enough = 20;     // stop once this many updates were seen
};

// Polls meter.ReadSensor(). The update period is the median time between consecutive changes
// (at least two changes are needed; fewer leave it unmeasured and say so). A counter that does
// not change at all is `stuck`. Models are not polled: their reading follows the machine's
// activity, not a sensor's cadence. Errors are the sensor's.
Result<SensorCharacter> Characterise(Meter& meter, Clock& clock,
                                     const CharacteriseOptions& options = {});

// `meter`, with windows sized from the characterised update period when it is longer than the
// one the backend assumes. `meter` must outlive the result.
std::unique_ptr<Meter> WithUpdatePeriod(Meter& meter, double update_period_s);

}  // namespace wattfleet
