// Axes for the report's SVG charts: "nice" tick values (1, 2, 5 × 10^k steps; powers of ten
// on log axes), the mapping of data values onto pixels, and compact tick labels.
#pragma once

#include <string>
#include <vector>

namespace wattfleet::svg {

enum class ScaleType { kLinear, kLog };

// The step of at most about `target_count` linear ticks over a span: 1, 2 or 5 × 10^k.
double NiceStep(double span, int target_count);

// Linear tick values: multiples of NiceStep(hi - lo) from the first at or below `lo` to the
// first at or above `hi` (so the ticks enclose the data). lo == hi gets a span around it.
std::vector<double> NiceTicks(double lo, double hi, int target_count = 5);

// Log tick values: the powers of ten from the one at or below `lo` to the one at or above
// `hi` (lo, hi > 0), thinned to at most about 7; within two decades 2× and 5× are added so
// that a narrow axis still has several labels.
std::vector<double> LogTicks(double lo, double hi);

// A tick label: "0", "0.25", "40", "1e-6", "2.5e+04" style for very small or large values;
// no trailing zeros; -0 printed as 0.
std::string FormatTick(double v);

// A value with an SI prefix and a unit: FormatSi(0.0123, "J") == "12.3 mJ".
std::string FormatSi(double v, const std::string& unit);

// Maps a data domain onto a pixel range (range_lo may exceed range_hi: y grows downwards).
// On a log scale, values <= 0 are mapped to the low end of the domain; callers drop them
// and say so.
class Scale {
 public:
  Scale(ScaleType type, double domain_lo, double domain_hi, double range_lo, double range_hi);

  // A scale whose domain encloses [lo, hi] on tick boundaries (see NiceTicks and LogTicks).
  static Scale Fitted(ScaleType type, double lo, double hi, double range_lo, double range_hi);

  double Map(double v) const;
  ScaleType type() const { return type_; }
  double domain_lo() const { return lo_; }
  double domain_hi() const { return hi_; }
  // Tick values inside the domain.
  std::vector<double> Ticks() const;

 private:
  ScaleType type_;
  double lo_, hi_, r0_, r1_;
};

}  // namespace wattfleet::svg
