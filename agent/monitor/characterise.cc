#include "wattfleet/monitor/characterise.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

namespace wattfleet {
namespace {

// Peers' fields are bounded (peer_text.h): a note longer than this would have READY refused.
constexpr size_t kMaxNoteBytes = 240;

std::string Cut(std::string s) {
  if (s.size() > kMaxNoteBytes) s.resize(kMaxNoteBytes);
  return s;
}

std::string Fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

class UpdatePeriodMeter final : public Meter {
 public:
  UpdatePeriodMeter(Meter& inner, double period_s) : inner_(inner), period_s_(period_s) {}
  std::string name() const override { return inner_.name(); }
  std::string domain() const override { return inner_.domain(); }
  bool is_estimate() const override { return inner_.is_estimate(); }
  double update_period_s() const override {
    return std::max(inner_.update_period_s(), period_s_);
  }
  Result<double> ReadJoules() override { return inner_.ReadJoules(); }
  MeterFacts facts() const override { return inner_.facts(); }
  std::string assumes() const override { return inner_.assumes(); }
  Result<double> ReadSensor() override { return inner_.ReadSensor(); }

 private:
  Meter& inner_;
  const double period_s_;
};

}  // namespace

Result<SensorCharacter> Characterise(Meter& meter, Clock& clock,
                                     const CharacteriseOptions& options) {
  const MeterFacts facts = meter.facts();
  SensorCharacter c;
  c.method = facts.method;
  c.declared_period_s = meter.update_period_s();
  c.resolution_j = facts.resolution_j;
  c.wrap_j = facts.wrap_j;
  c.averaging_s = facts.averaging_s;
  std::string note = facts.note;
  if (facts.method == "model") {
    c.note = Cut(note);
    return c;
  }

  const double start = clock.NowSeconds();
  WF_ASSIGN_OR_RETURN(double last, meter.ReadSensor());
  std::vector<double> changes;  // when the reading was seen to change
  double now = start;
  while (now - start < options.max_s && static_cast<int64_t>(changes.size()) < options.enough) {
    clock.SleepFor(options.poll_s);
    WF_ASSIGN_OR_RETURN(const double v, meter.ReadSensor());
    now = clock.NowSeconds();
    if (v != last) changes.push_back(now);
    last = v;
  }
  c.polled_s = now - start;
  c.updates_seen = static_cast<int64_t>(changes.size());
  if (changes.size() >= 2) {
    // Between consecutive changes only: the time to the first one is a partial period.
    std::vector<double> gaps;
    for (size_t i = 1; i < changes.size(); ++i) gaps.push_back(changes[i] - changes[i - 1]);
    std::nth_element(gaps.begin(), gaps.begin() + static_cast<long>(gaps.size() / 2),
                     gaps.end());
    c.update_period_s = gaps[gaps.size() / 2];
  } else if (changes.empty() && facts.method == "energy counter") {
    // A counter that does not move reads as zero energy: the windows would then fail, and
    // this says why before any job is lost to it.
    c.stuck = true;
    note = "counter did not move in " + Fixed(c.polled_s, 1) + " s" +
           (note.empty() ? "" : "; " + note);
  } else {
    // A sampled power reading may hold still under a constant load: that says nothing of its
    // cadence, so the declared period stays.
    note = "reading changed " + std::to_string(changes.size()) + " time(s) in " +
           Fixed(c.polled_s, 1) + " s: period not measured" + (note.empty() ? "" : "; " + note);
  }
  c.note = Cut(note);
  return c;
}

std::unique_ptr<Meter> WithUpdatePeriod(Meter& meter, double update_period_s) {
  return std::make_unique<UpdatePeriodMeter>(meter, update_period_s);
}

}  // namespace wattfleet
