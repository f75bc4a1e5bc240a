// What an agent's meter can resolve, measured by polling it at start-up and sent in READY
// (docs/measurement.md, "Sensor characterisation"): the controller stores it with the device,
// `probe` and `status` show it, and the agent sizes its windows from it.
#pragma once

#include <cstdint>
#include <string>

namespace wattfleet {

// Zeros: not known.
struct SensorCharacter {
  std::string method;            // "energy counter" | "power sampling" | "model"
  double declared_period_s = 0;  // the update period the backend assumes
  double update_period_s = 0;    // measured: median time between changes of the reading
  int64_t updates_seen = 0;      // changes seen while polling
  double polled_s = 0;           // how long it was polled
  double resolution_j = 0;       // one step of the energy counter (0: not a counter)
  double wrap_j = 0;             // the counter wraps to zero past this (0: never in practice)
  double averaging_s = 0;        // readings are averages over this long (0: none known)
  bool stuck = false;            // a counter that did not move while polled
  std::string note;              // what the user should know (a fallback, a known limit)

  // The period windows are sized from: the measured one when it is longer than declared.
  double EffectivePeriod() const {
    return update_period_s > declared_period_s ? update_period_s : declared_period_s;
  }
};

// One line for people: "energy counter, updates every 100 ms (20 seen in 2.0 s), step 1 mJ,
// wraps at 262 kJ; <note>". Empty method: "not characterised".
std::string DescribeSensor(const SensorCharacter& c);

}  // namespace wattfleet
