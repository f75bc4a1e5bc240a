// One timed window of libtorch work, as every workload of the executor runs it. Included by
// the executor's libtorch translation units only.
#pragma once

#include <torch/cuda.h>
#include <torch/torch.h>

#include "wattfleet/common/status.h"

namespace wattfleet {

// `body`, then, on a GPU, a synchronize: its work is asynchronous, and the window ends when the
// device is done, not when the launches are. libtorch's errors come back as Internal.
template <typename Body>
Status RunWindow(const torch::Device& device, Body&& body) {
  try {
    body();
    if (device.is_cuda()) torch::cuda::synchronize(device.index());
    return Status::OK();
  } catch (const c10::Error& e) {
    return Status::Internal(e.what_without_backtrace());
  } catch (const std::exception& e) {
    return Status::Internal(e.what());
  }
}

}  // namespace wattfleet
