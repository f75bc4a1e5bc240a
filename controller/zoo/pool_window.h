// What the model-file mappers (TorchScript, ONNX) share about pooling windows.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "wattfleet/common/architecture.h"

namespace wattfleet {

// Whether ceil_mode adds a last, partial window to a pool of `kernel`, `stride` and `padding`
// over per-sample shape `s` ([C, spatial...]): only then is it passed on, since elsewhere it
// computes the default's layer and the spec keeps the default's key. As libtorch counts: no
// window starts in the padding.
inline bool CeilModeAddsAWindow(const Shape& s, int64_t kernel, int64_t stride, int64_t padding) {
  for (size_t i = 1; i < s.size(); ++i) {
    const int64_t span = s[i] + 2 * padding - kernel;
    if (span < 0 || stride <= 0) return false;  // the builder reports the kernel as too large
    int64_t up = (span + stride - 1) / stride + 1;
    if ((up - 1) * stride >= s[i] + padding) --up;
    if (up != span / stride + 1) return true;
  }
  return false;
}

// A max or average pool of a fixed window over per-sample shape `s` ([C, L] or [C, H, W]):
// its layer type and hyper-parameters, ceil_mode only where it adds a window.
struct FixedPool {
  LayerType type;
  std::map<std::string, double> params;
};
inline FixedPool FixedPoolOf(bool max, const Shape& s, int64_t kernel, int64_t stride,
                             int64_t padding, bool ceil_mode) {
  const bool two_d = s.size() == 3;
  FixedPool pool{max ? (two_d ? LayerType::kMaxPool2d : LayerType::kMaxPool1d)
                     : (two_d ? LayerType::kAvgPool2d : LayerType::kAvgPool1d),
                 {{"kernel_size", static_cast<double>(kernel)},
                  {"stride", static_cast<double>(stride)},
                  {"padding", static_cast<double>(padding)}}};
  if (ceil_mode && CeilModeAddsAWindow(s, kernel, stride, padding)) pool.params["ceil_mode"] = 1;
  return pool;
}

}  // namespace wattfleet
