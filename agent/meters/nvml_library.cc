#include "wattfleet/meters/nvml_library.h"

#include <cstdlib>
#include <optional>
#include <vector>

#include "cuda_device_map.h"

namespace wattfleet::nvml {
namespace {

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::optional<std::string>(v) : std::nullopt;
}

// Every GPU NVML sees, by PCI bus.
Result<std::vector<PhysicalGpu>> Enumerate(NvmlLibrary& lib) {
  unsigned int count = 0;
  nvmlReturn_t rc = lib.get_count(&count);
  if (rc != NVML_SUCCESS) return Status::Unavailable("nvmlDeviceGetCount_v2: " + lib.ErrorString(rc));
  std::vector<PhysicalGpu> gpus;
  for (unsigned int i = 0; i < count; ++i) {
    nvmlDevice_t device = nullptr;
    rc = lib.get_handle_by_index(i, &device);
    if (rc != NVML_SUCCESS) {
      return Status::Unavailable("nvmlDeviceGetHandleByIndex_v2(" + std::to_string(i) +
                                 "): " + lib.ErrorString(rc));
    }
    PhysicalGpu g;
    g.nvml_index = static_cast<int>(i);
    char buf[kUuidBufferSize] = {};
    if (lib.get_uuid(device, buf, sizeof buf) == NVML_SUCCESS) {
      buf[sizeof buf - 1] = '\0';
      g.uuid = buf;
    }
    char name[kNameBufferSize] = {};
    if (lib.get_name(device, name, sizeof name) == NVML_SUCCESS) {
      name[sizeof name - 1] = '\0';
      g.name = name;
    }
    unsigned int current = 0, pending = 0;
    // NOT_SUPPORTED: a GPU without MIG.
    if (lib.get_mig_mode != nullptr && lib.get_mig_mode(device, &current, &pending) == NVML_SUCCESS) {
      g.mig_enabled = current == 1;
    }
    gpus.push_back(std::move(g));
  }
  return gpus;
}

// `device_index` is the CUDA device number (`cuda:N`); the NVML index it maps to.
Result<int> NvmlIndexOf(NvmlLibrary& lib, int device_index) {
  const auto visible = Env("CUDA_VISIBLE_DEVICES");
  if (lib.get_count == nullptr || lib.get_uuid == nullptr) {
    // A driver without UUIDs: only the unremapped numbering can be trusted.
    if (visible) {
      return Status::InvalidArgument(
          "CUDA_VISIBLE_DEVICES is set, but this libnvidia-ml cannot name GPUs by UUID "
          "(nvmlDeviceGetUUID missing): unset it and give --device cuda:N by NVML's numbering");
    }
    return device_index;
  }
  WF_ASSIGN_OR_RETURN(std::vector<PhysicalGpu> gpus, Enumerate(lib));
  WF_ASSIGN_OR_RETURN(PhysicalGpu gpu,
                      ResolveCudaDevice(device_index, gpus, visible, Env("CUDA_DEVICE_ORDER")));
  return gpu.nvml_index;
}

}  // namespace

Result<OpenedDevice> OpenDevice(int device_index, const std::string& library, const char* what) {
  if (device_index < 0) {
    return Status::InvalidArgument(std::string(what) + ": device index must be >= 0, got " +
                                   std::to_string(device_index));
  }
  OpenedDevice d;
  WF_ASSIGN_OR_RETURN(d.lib, NvmlLibrary::Open(library));
  WF_ASSIGN_OR_RETURN(d.nvml_index, NvmlIndexOf(*d.lib, device_index));
  const nvmlReturn_t rc =
      d.lib->get_handle_by_index(static_cast<unsigned int>(d.nvml_index), &d.device);
  if (rc != NVML_SUCCESS) {
    return Status::NotFound("nvmlDeviceGetHandleByIndex_v2(" + std::to_string(device_index) +
                            "): " + d.lib->ErrorString(rc) + " (no such GPU on this machine?)");
  }
  // The model only makes error messages readable; a failure here is not worth refusing for.
  char name_buf[kNameBufferSize] = {};
  if (d.lib->get_name(d.device, name_buf, sizeof(name_buf)) == NVML_SUCCESS) {
    name_buf[sizeof(name_buf) - 1] = '\0';
    d.model = name_buf;
  }
  return d;
}

}  // namespace wattfleet::nvml
