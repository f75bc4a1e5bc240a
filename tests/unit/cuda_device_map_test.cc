// Which physical GPU `cuda:N` is, for fake enumerations: several GPUs, a remapped
// CUDA_VISIBLE_DEVICES (by index, by UUID and by UUID prefix), mixed models under CUDA's
// default fastest-first order, and MIG.
#include "cuda_device_map.h"

#include <gtest/gtest.h>

namespace wattfleet {
namespace {

std::vector<PhysicalGpu> FourGpus(const std::string& model3 = "NVIDIA A100-SXM4-80GB") {
  return {{0, "GPU-aaaa0000-0000", "NVIDIA A100-SXM4-80GB", false},
          {1, "GPU-bbbb1111-1111", "NVIDIA A100-SXM4-80GB", false},
          {2, "GPU-cccc2222-2222", "NVIDIA A100-SXM4-80GB", false},
          {3, "GPU-dddd3333-3333", model3, false}};
}

int Nvml(const Result<PhysicalGpu>& r) { return r.ok() ? r->nvml_index : -1; }

TEST(CudaDeviceMap, WithoutRemappingCudaAndNvmlAgree) {
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(Nvml(ResolveCudaDevice(i, FourGpus(), std::nullopt, std::nullopt)), i);
  }
  auto missing = ResolveCudaDevice(4, FourGpus(), std::nullopt, std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("sees 4 GPU(s)"), std::string::npos);
}

TEST(CudaDeviceMap, VisibleDevicesRemapTheNumbering) {
  // cuda:0 is physical GPU 2, cuda:1 physical GPU 0: measuring NVML's 0 for cuda:0 would
  // read another GPU's energy.
  EXPECT_EQ(Nvml(ResolveCudaDevice(0, FourGpus(), "2,0", std::nullopt)), 2);
  EXPECT_EQ(Nvml(ResolveCudaDevice(1, FourGpus(), "2,0", std::nullopt)), 0);
  EXPECT_FALSE(ResolveCudaDevice(2, FourGpus(), "2,0", std::nullopt).ok());
  // By UUID, and by a unique prefix of one, as CUDA accepts.
  EXPECT_EQ(Nvml(ResolveCudaDevice(0, FourGpus(), "GPU-dddd3333-3333", std::nullopt)), 3);
  EXPECT_EQ(Nvml(ResolveCudaDevice(1, FourGpus(), "0, GPU-bbbb", std::nullopt)), 1);
  EXPECT_FALSE(ResolveCudaDevice(0, FourGpus(), "GPU-", std::nullopt).ok());  // ambiguous
  // CUDA stops at the first entry it cannot read, and sees nothing from an empty list.
  EXPECT_FALSE(ResolveCudaDevice(1, FourGpus(), "1,,2", std::nullopt).ok());
  EXPECT_FALSE(ResolveCudaDevice(0, FourGpus(), "", std::nullopt).ok());
}

TEST(CudaDeviceMap, MixedModelsNeedAnOrderNvmlCanFollow) {
  const auto mixed = FourGpus("NVIDIA RTX A6000");
  auto r = ResolveCudaDevice(0, mixed, std::nullopt, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("CUDA_DEVICE_ORDER=PCI_BUS_ID"), std::string::npos);
  EXPECT_EQ(Nvml(ResolveCudaDevice(3, mixed, std::nullopt, "PCI_BUS_ID")), 3);
  // UUIDs need no order at all.
  EXPECT_EQ(Nvml(ResolveCudaDevice(0, mixed, "GPU-dddd", std::nullopt)), 3);
}

TEST(CudaDeviceMap, MigIsRefusedBecauseEnergyIsPerPhysicalGpu) {
  auto gpus = FourGpus();
  gpus[1].mig_enabled = true;
  auto r = ResolveCudaDevice(1, gpus, std::nullopt, std::nullopt);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("MIG"), std::string::npos) << r.status().message();
  EXPECT_EQ(Nvml(ResolveCudaDevice(0, gpus, std::nullopt, std::nullopt)), 0);
  auto instance =
      ResolveCudaDevice(0, gpus, "MIG-4f3e2a1b-0000-1111-2222-333344445555", std::nullopt);
  ASSERT_FALSE(instance.ok());
  EXPECT_NE(instance.status().message().find("MIG instance"), std::string::npos);
}

}  // namespace
}  // namespace wattfleet
