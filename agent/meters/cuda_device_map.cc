#include "cuda_device_map.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "wattfleet/common/text.h"

namespace wattfleet {
namespace {

bool IsIndex(const std::string& s) {
  return !s.empty() && s.size() < 9 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string Names(const std::vector<PhysicalGpu>& gpus) {
  std::string out;
  for (const PhysicalGpu& g : gpus) {
    out += (out.empty() ? "" : ", ") + std::to_string(g.nvml_index) + ": " + g.name + " " + g.uuid;
  }
  return out.empty() ? "none" : out;
}

}  // namespace

Result<PhysicalGpu> ResolveCudaDevice(int cuda_index, const std::vector<PhysicalGpu>& gpus,
                                      const std::optional<std::string>& visible_devices,
                                      const std::optional<std::string>& device_order) {
  if (cuda_index < 0) {
    return Status::InvalidArgument("cuda:" + std::to_string(cuda_index) +
                                   ": the device index must be >= 0");
  }
  // CUDA's own numbering of every GPU. By PCI bus it is NVML's; fastest first it is too when
  // every GPU is the same model (ties go by PCI bus), and unknowable to NVML otherwise.
  const bool pci_order = device_order && Trim(*device_order) == "PCI_BUS_ID";
  bool one_model = true;
  for (const PhysicalGpu& g : gpus) one_model = one_model && g.name == gpus.front().name;
  const bool order_known = pci_order || one_model;
  auto by_cuda_number = [&](size_t k, const std::string& entry) -> Result<PhysicalGpu> {
    if (!order_known) {
      return Status::InvalidArgument(
          "cuda:" + std::to_string(cuda_index) + " (CUDA_VISIBLE_DEVICES entry '" + entry +
          "'): this machine has several GPU models, which CUDA numbers fastest first and NVML "
          "by PCI bus; set CUDA_DEVICE_ORDER=PCI_BUS_ID, or name GPUs by UUID in "
          "CUDA_VISIBLE_DEVICES (GPUs: " + Names(gpus) + ")");
    }
    if (k >= gpus.size()) {
      return Status::NotFound("cuda:" + std::to_string(cuda_index) + ": no GPU " + entry +
                              " (GPUs: " + Names(gpus) + ")");
    }
    return gpus[k];
  };

  // The visible list: CUDA stops reading it at the first entry it cannot use.
  std::vector<std::string> visible;
  if (!visible_devices) {
    for (size_t k = 0; k < gpus.size(); ++k) visible.push_back(std::to_string(k));
  } else {
    std::string rest = *visible_devices;
    size_t start = 0;
    while (start <= rest.size()) {
      const size_t comma = rest.find(',', start);
      const std::string entry =
          Trim(rest.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
      if (entry.empty()) break;
      visible.push_back(entry);
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  if (static_cast<size_t>(cuda_index) >= visible.size()) {
    return Status::NotFound(
        "cuda:" + std::to_string(cuda_index) + ": the CUDA runtime sees " +
        std::to_string(visible.size()) + " GPU(s)" +
        (visible_devices ? " (CUDA_VISIBLE_DEVICES=" + *visible_devices + ")" : std::string()) +
        "; GPUs on this machine: " + Names(gpus));
  }
  const std::string& entry = visible[static_cast<size_t>(cuda_index)];
  PhysicalGpu gpu;
  if (entry.rfind("MIG-", 0) == 0) {
    return Status::InvalidArgument(
        "cuda:" + std::to_string(cuda_index) + " is MIG instance " + entry +
        ": NVML's energy counter covers the whole physical GPU, so a MIG instance's energy "
        "cannot be measured; give the agent a whole GPU");
  }
  if (IsIndex(entry)) {
    WF_ASSIGN_OR_RETURN(gpu, by_cuda_number(static_cast<size_t>(std::atoi(entry.c_str())), entry));
  } else {
    // A UUID, or a unique prefix of one ("GPU-8f6e"), as CUDA accepts.
    const std::string prefix = entry.rfind("GPU-", 0) == 0 ? entry : "GPU-" + entry;
    std::vector<const PhysicalGpu*> matches;
    for (const PhysicalGpu& g : gpus) {
      if (g.uuid.rfind(prefix, 0) == 0) matches.push_back(&g);
    }
    if (matches.size() != 1) {
      return Status::NotFound("cuda:" + std::to_string(cuda_index) +
                              ": CUDA_VISIBLE_DEVICES entry '" + entry + "' names " +
                              (matches.empty() ? "no GPU" : "several GPUs") +
                              " (GPUs: " + Names(gpus) + ")");
    }
    gpu = *matches.front();
  }
  if (gpu.mig_enabled) {
    return Status::InvalidArgument(
        "cuda:" + std::to_string(cuda_index) + " is GPU " + std::to_string(gpu.nvml_index) +
        " (" + gpu.name + "), which has MIG enabled: NVML's energy counter covers the whole "
        "GPU, shared by its instances; disable MIG to measure on it");
  }
  return gpu;
}

}  // namespace wattfleet
