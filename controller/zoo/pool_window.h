// What the model-file mappers (TorchScript, ONNX) share about pooling windows.
#pragma once

#include <cstdint>

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

}  // namespace wattfleet
