#include "svg_axis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace wattfleet::svg {
namespace {

// Relative slack when comparing tick positions computed in floating point.
constexpr double kEps = 1e-9;

std::string Printf(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

// Decades [e0, e1] (e1 > e0) enclosing [lo, hi] on a log axis, and the stride between
// labelled decades; e1 is moved up so that it is a labelled decade too.
struct Decades {
  int e0, e1, stride;
};

Decades DecadesOf(double lo, double hi) {
  if (!(hi > 0)) hi = 1;
  if (!(lo > 0) || lo > hi) lo = hi;
  int e0 = static_cast<int>(std::floor(std::log10(lo) + kEps));
  int e1 = static_cast<int>(std::ceil(std::log10(hi) - kEps));
  if (e1 <= e0) e1 = e0 + 1;
  // At most about 7 labels: every decade up to 6, then every 2nd, 3rd, ...
  const int stride = std::max(1, (e1 - e0 + 5) / 6);
  e1 = e0 + (e1 - e0 + stride - 1) / stride * stride;
  return {e0, e1, stride};
}

}  // namespace

double NiceStep(double span, int target_count) {
  if (!(span > 0) || !std::isfinite(span)) return 1;
  const double raw = span / std::max(1, target_count);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  const double nice = f <= 1 + kEps ? 1 : f <= 2 + kEps ? 2 : f <= 5 + kEps ? 5 : 10;
  return nice * mag;
}

std::vector<double> NiceTicks(double lo, double hi, int target_count) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (lo > hi) std::swap(lo, hi);
  if (hi == lo) {
    const double d = lo == 0 ? 1 : std::fabs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const double step = NiceStep(hi - lo, target_count);
  // step = nice x 10^e. Below 1, i x nice / 10^-e is the correctly rounded decimal (0.6),
  // where i x step would not be (0.6000000000000001).
  const double mag = std::pow(10.0, std::floor(std::log10(step) + kEps));
  const double nice = std::round(step / mag);
  const double inverse = mag < 1 ? std::round(1 / mag) : 0;
  const double first = std::floor(lo / step + kEps);
  const double last = std::ceil(hi / step - kEps);
  std::vector<double> ticks;
  for (double i = first; i <= last + kEps; i += 1) {
    double v = inverse > 0 ? i * nice / inverse : i * step;
    if (std::fabs(v) < step * kEps) v = 0;  // no "-0"
    ticks.push_back(v);
  }
  return ticks;
}

std::vector<double> LogTicks(double lo, double hi) {
  const Decades d = DecadesOf(lo, hi);
  std::vector<double> ticks;
  for (int e = d.e0; e <= d.e1; e += d.stride) {
    const double p = std::pow(10.0, e);
    ticks.push_back(p);
    if (d.e1 - d.e0 <= 2 && e < d.e1) {
      ticks.push_back(2 * p);
      ticks.push_back(5 * p);
    }
  }
  return ticks;
}

std::string FormatTick(double v) {
  const double a = std::fabs(v);
  if (a < 1e-15) return "0";
  if (a >= 1e-3 && a < 1e5) return Printf("%.6g", v);
  int exponent = static_cast<int>(std::floor(std::log10(a) + kEps));
  double mantissa = v / std::pow(10.0, exponent);
  std::string m = Printf("%.3g", mantissa);
  if (m == "10" || m == "-10") {  // 9.9999 rounded up
    ++exponent;
    m = mantissa < 0 ? "-1" : "1";
  }
  return m + "e" + std::to_string(exponent);
}

std::string FormatSi(double v, const std::string& unit) {
  if (!std::isfinite(v)) return "n/a";
  if (v == 0) return "0 " + unit;
  static const char* const kPrefix[] = {"p", "n", "\u00b5", "m", "", "k", "M", "G"};
  int e3 = static_cast<int>(std::floor(std::log10(std::fabs(v)) / 3 + kEps));
  e3 = std::clamp(e3, -4, 3);
  double scaled = v / std::pow(1000.0, e3);
  std::string text = Printf("%.3g", scaled);
  if (std::fabs(std::stod(text)) >= 1000 && e3 < 3) {  // 999.95 rounds to 1000
    ++e3;
    text = Printf("%.3g", v / std::pow(1000.0, e3));
  }
  return text + " " + kPrefix[e3 + 4] + unit;
}

Scale::Scale(ScaleType type, double domain_lo, double domain_hi, double range_lo,
             double range_hi)
    : type_(type), lo_(domain_lo), hi_(domain_hi), r0_(range_lo), r1_(range_hi) {
  if (type_ == ScaleType::kLog) {
    if (!(lo_ > 0)) lo_ = hi_ > 0 ? hi_ / 10 : 1;
    if (!(hi_ > lo_)) hi_ = lo_ * 10;
  } else if (!(hi_ > lo_)) {
    hi_ = lo_ + 1;
  }
}

Scale Scale::Fitted(ScaleType type, double lo, double hi, double range_lo, double range_hi) {
  if (type == ScaleType::kLog) {
    const Decades d = DecadesOf(lo, hi);
    return Scale(type, std::pow(10.0, d.e0), std::pow(10.0, d.e1), range_lo, range_hi);
  }
  const std::vector<double> ticks = NiceTicks(lo, hi);
  return Scale(type, ticks.front(), ticks.back(), range_lo, range_hi);
}

double Scale::Map(double v) const {
  double t;
  if (type_ == ScaleType::kLog) {
    const double x = v > 0 ? v : lo_;
    t = (std::log10(x) - std::log10(lo_)) / (std::log10(hi_) - std::log10(lo_));
  } else {
    t = (v - lo_) / (hi_ - lo_);
  }
  return r0_ + t * (r1_ - r0_);
}

std::vector<double> Scale::Ticks() const {
  std::vector<double> all = type_ == ScaleType::kLog ? LogTicks(lo_, hi_) : NiceTicks(lo_, hi_);
  // Ends computed in floating point may miss the domain's ends by a rounding error.
  const bool log = type_ == ScaleType::kLog;
  const double min = log ? lo_ * (1 - 1e-9) : lo_ - (hi_ - lo_) * 1e-9;
  const double max = log ? hi_ * (1 + 1e-9) : hi_ + (hi_ - lo_) * 1e-9;
  std::vector<double> inside;
  for (double t : all) {
    if (t >= min && t <= max) inside.push_back(t);
  }
  return inside;
}

}  // namespace wattfleet::svg
