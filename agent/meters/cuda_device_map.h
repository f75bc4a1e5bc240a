// Which physical GPU `--device cuda:N` means. N counts the devices the CUDA runtime sees:
// CUDA_VISIBLE_DEVICES picks and reorders them (by index or by UUID), and CUDA_DEVICE_ORDER
// says how CUDA numbers them (FASTEST_FIRST by default, or PCI_BUS_ID). NVML ignores both and
// numbers GPUs by PCI bus, so the agent maps the CUDA device to its NVML handle by UUID.
// A MIG instance is refused: NVML's energy counter covers the whole physical GPU.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "wattfleet/common/status.h"

namespace wattfleet {

// A GPU as NVML enumerates it (index order = PCI bus order).
struct PhysicalGpu {
  int nvml_index = 0;
  std::string uuid;  // "GPU-8f6e..."
  std::string name;  // the model, "NVIDIA A100-SXM4-80GB"
  bool mig_enabled = false;
};

// The GPU behind CUDA device `cuda_index`, given NVML's GPUs and the two environment
// variables (nullopt: unset). InvalidArgument, saying what to set, when the mapping cannot be
// known or the device is a MIG instance; NotFound when there is no such CUDA device.
Result<PhysicalGpu> ResolveCudaDevice(int cuda_index, const std::vector<PhysicalGpu>& gpus,
                                      const std::optional<std::string>& visible_devices,
                                      const std::optional<std::string>& device_order);

}  // namespace wattfleet
