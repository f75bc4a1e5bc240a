// The nvml meter against a fake libnvidia-ml (tests/helpers/fake_nvml.cc, built as a shared
// library and loaded through the same dlopen path as the real one): counter mode, the
// power-sampling fallback with a fake clock (exact arithmetic), and every refusal: missing
// library, missing symbol, failed init, missing device, a counter that goes backwards.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "wattfleet/monitor/characterise.h"
#include "wattfleet/monitor/interference.h"
#include "wattfleet/meters/meter.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;

// Read by the sampler thread while the test advances it: atomic.
class FakeClock final : public Clock {
 public:
  double NowSeconds() override { return now.load(); }
  int64_t UnixMillis() override { return static_cast<int64_t>(now.load() * 1000); }
  void SleepFor(double seconds) override { now = now.load() + seconds; }
  std::atomic<double> now{10};
};

// The test's own handle on the fake library: dlopen of the same path returns the same loaded
// object as the meter's, so its counters are the ones the meter drives.
class FakeNvml {
 public:
  FakeNvml() : handle_(dlopen(FAKE_NVML_LIB, RTLD_NOW | RTLD_LOCAL)) {
    if (handle_ == nullptr) return;
    live_inits_ = reinterpret_cast<int (*)()>(dlsym(handle_, "fake_nvml_live_inits"));
    power_calls_ = reinterpret_cast<long (*)()>(dlsym(handle_, "fake_nvml_power_calls"));
    last_energy_gpu_ = reinterpret_cast<int (*)()>(dlsym(handle_, "fake_nvml_last_energy_gpu"));
  }
  int last_energy_gpu() const { return last_energy_gpu_ ? last_energy_gpu_() : -2; }
  ~FakeNvml() {
    if (handle_ != nullptr) dlclose(handle_);
  }
  bool ok() const { return live_inits_ != nullptr && power_calls_ != nullptr; }
  int live_inits() const { return live_inits_(); }
  long power_calls() const { return power_calls_(); }

  // Waits until the sampler has started `n` more power reads than `since` (so at least n - 1
  // complete samples begun after whatever the test changed).
  bool WaitForPowerCalls(long since, long n) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (power_calls() < since + n) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

 private:
  void* handle_;
  int (*live_inits_)() = nullptr;
  long (*power_calls_)() = nullptr;
  int (*last_energy_gpu_)() = nullptr;
};

class NvmlMeterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fake_.ok()) << dlerror();
    std::string tmpl = (fs::temp_directory_path() / "wf_nvml_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    energy_file_ = dir_ + "/energy_mj";
    power_file_ = dir_ + "/power_mw";
    setenv("FAKE_NVML_ENERGY_FILE", energy_file_.c_str(), 1);
    setenv("FAKE_NVML_POWER_FILE", power_file_.c_str(), 1);
    setenv("FAKE_NVML_MODE", "counter", 1);
    WriteEnergy("0");
    WritePower("0");
  }
  void TearDown() override {
    unsetenv("FAKE_NVML_GPUS");
    unsetenv("CUDA_VISIBLE_DEVICES");
    unsetenv("CUDA_DEVICE_ORDER");
    unsetenv("FAKE_NVML_ENERGY_FILE");
    unsetenv("FAKE_NVML_POWER_FILE");
    unsetenv("FAKE_NVML_MODE");
    unsetenv("FAKE_NVML_PROCS_FILE");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Written to a temporary and renamed, so the sampler thread never reads a half-written file.
  static void WriteAtomically(const std::string& path, const std::string& content) {
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << content << "\n";
    }
    ASSERT_EQ(std::rename(tmp.c_str(), path.c_str()), 0);
  }
  void WriteEnergy(const std::string& mj) { WriteAtomically(energy_file_, mj); }
  void WritePower(const std::string& mw) { WriteAtomically(power_file_, mw); }

  FakeNvml fake_;
  FakeClock clock_;
  std::string dir_, energy_file_, power_file_;
};

TEST_F(NvmlMeterTest, CounterModeGivesExactJoulesBetweenReads) {
  WriteEnergy("5000");
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  Meter& m = **meter;
  EXPECT_EQ(m.name(), "nvml");
  EXPECT_EQ(m.domain(), "gpu0");
  EXPECT_FALSE(m.is_estimate());
  EXPECT_DOUBLE_EQ(m.update_period_s(), 0.1);
  EXPECT_EQ(fake_.live_inits(), 1);

  auto r = m.ReadJoules();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(*r, 0.0);
  WriteEnergy("17345");
  r = m.ReadJoules();
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(*r, 12.345);
  WriteEnergy("17345");  // unchanged between counter updates: same reading, not an error
  r = m.ReadJoules();
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(*r, 12.345);

  meter = Status::Internal("destroyed");
  EXPECT_EQ(fake_.live_inits(), 0) << "nvmlShutdown not called on destruction";
}

TEST_F(NvmlMeterTest, CounterKeepsMillijoulesOnAHugeOrigin) {
  // 2^60 mJ: doubles there are 256 mJ apart, so the origin must be subtracted in integers.
  WriteEnergy("1152921504606846976");
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  WriteEnergy("1152921504606859321");
  auto r = (*meter)->ReadJoules();
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(*r, 12.345);
}

TEST_F(NvmlMeterTest, CounterGoingBackwardsIsAnError) {
  WriteEnergy("5000");
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  WriteEnergy("8000");
  ASSERT_TRUE((*meter)->ReadJoules().ok());
  WriteEnergy("7000");
  auto r = (*meter)->ReadJoules();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_NE(r.status().message().find("went backwards"), std::string::npos)
      << r.status().ToString();
  EXPECT_NE(r.status().message().find("8000 -> 7000"), std::string::npos);
}

TEST_F(NvmlMeterTest, CounterReadErrorNamesTheCallAndNvmlError) {
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  WriteEnergy("fail");
  auto r = (*meter)->ReadJoules();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("nvmlDeviceGetTotalEnergyConsumption"), std::string::npos);
  EXPECT_NE(r.status().message().find("GPU is lost"), std::string::npos);
  EXPECT_NE(r.status().message().find("Fake GPU"), std::string::npos) << r.status().ToString();
  WriteEnergy("2000");
  r = (*meter)->ReadJoules();
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(*r, 2.0);
}

TEST_F(NvmlMeterTest, PowerSampledFallbackIntegratesExactlyWithFakeClock) {
  setenv("FAKE_NVML_MODE", "power_only", 1);
  WritePower("100000");  // 100 W
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  Meter& m = **meter;
  EXPECT_EQ(m.name(), "nvml");
  EXPECT_EQ(m.domain(), "gpu0-power-sampled");
  EXPECT_FALSE(m.is_estimate());
  EXPECT_DOUBLE_EQ(m.update_period_s(), 0.02);

  clock_.now = 11;
  auto r = m.ReadJoules();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(*r, 100.0);
  // The read samples at its own instant, so a step at t = 11 is seen exactly there.
  WritePower("300000");
  r = m.ReadJoules();
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(*r, 100.0);
  clock_.now = 12;
  r = m.ReadJoules();
  ASSERT_TRUE(r.ok());
  EXPECT_DOUBLE_EQ(*r, 400.0);
}

TEST_F(NvmlMeterTest, WithoutAnEnergyCounterPowerIsSampledAndTheCharacterSaysSo) {
  setenv("FAKE_NVML_MODE", "power_only", 1);
  WritePower("100000");
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  const MeterFacts f = (*meter)->facts();
  EXPECT_EQ(f.method, "power sampling");
  EXPECT_NE(f.note.find("no NVML energy counter"), std::string::npos) << f.note;
  auto w = (*meter)->ReadSensor();
  ASSERT_TRUE(w.ok());
  EXPECT_DOUBLE_EQ(*w, 100.0);
  CharacteriseOptions o;
  o.max_s = 0.1;
  o.poll_s = 0.01;
  auto c = Characterise(**meter, clock_, o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NE(c->note.find("no NVML energy counter"), std::string::npos) << c->note;
}

TEST_F(NvmlMeterTest, TheCounterIsCharacterisedFromNvmlItself) {
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  const MeterFacts f = (*meter)->facts();
  EXPECT_EQ(f.method, "energy counter");
  EXPECT_DOUBLE_EQ(f.resolution_j, 1e-3);
  EXPECT_NE(f.note.find("A100/H100"), std::string::npos) << f.note;

  // The driver refreshes the counter every 100 ms of the clock the poll runs on.
  class Refreshing final : public Clock {
   public:
    explicit Refreshing(std::function<void(const std::string&)> write)
        : write_(std::move(write)) {}
    double NowSeconds() override { return now; }
    int64_t UnixMillis() override { return static_cast<int64_t>(now * 1000); }
    void SleepFor(double seconds) override {
      now += seconds;
      if (now + 1e-9 >= next) {
        next += 0.1;
        mj += 25000;
        write_(std::to_string(mj));
      }
    }
    double now = 0, next = 0.1;
    long long mj = 0;

   private:
    std::function<void(const std::string&)> write_;
  } clock([this](const std::string& mj) { WriteEnergy(mj); });
  CharacteriseOptions o;
  o.poll_s = 0.01;
  o.enough = 8;
  auto c = Characterise(**meter, clock, o);
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_NEAR(c->update_period_s, 0.1, 0.011);
  EXPECT_EQ(c->updates_seen, 8);
  EXPECT_FALSE(c->stuck);
  EXPECT_NEAR(c->EffectivePeriod(), 0.1, 0.011);
}

TEST_F(NvmlMeterTest, OtherProcessesKernelsOnTheGpuAreInterferenceItsOwnAreNot) {
  const std::string procs = dir_ + "/procs";
  setenv("FAKE_NVML_PROCS_FILE", procs.c_str(), 1);
  WriteAtomically(procs, "");  // nothing ran
  constexpr pid_t kSelf = 4242;
  auto probe = MakeNvmlInterference(0, FAKE_NVML_LIB, kSelf);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  // Windows of two of the driver's sampling periods (1/3 s).
  const auto window = [&](const std::string& samples, double wall_s = 1.0 / 3) -> Result<double> {
    WriteAtomically(procs, samples);
    WF_RETURN_IF_ERROR((*probe)->Begin());
    return (*probe)->End(wall_s);
  };
  auto o = window("");
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_DOUBLE_EQ(*o, 0);
  // The measuring process itself, however busy, is not interference.
  o = window("4242 97 1\n4242 99 2");
  ASSERT_TRUE(o.ok());
  EXPECT_DOUBLE_EQ(*o, 0);
  // Two others over two periods: 30 % and 50 %, and 10 % in one: (0.3 + 0.5 + 0.1) / 2.
  o = window("4242 90 1\n777 30 1\n4242 90 2\n777 50 2\n888 10 2");
  ASSERT_TRUE(o.ok());
  EXPECT_NEAR(*o, 0.45, 1e-12);
  // One that ran flat out in one period of a one-second window kept a sixth of the GPU.
  o = window("4242 90 1\n777 100 1\n4242 90 2\n4242 90 3\n4242 90 4\n4242 90 5\n4242 90 6",
             1.0);
  ASSERT_TRUE(o.ok());
  EXPECT_NEAR(*o, 1.0 / 6, 1e-12);
}

TEST_F(NvmlMeterTest, SamplesThatNeverNameThisProcessLeaveGpuInterferenceUnmeasured) {
  // In a container NVML names the host's pids: this process's own kernels read as another's.
  const std::string procs = dir_ + "/procs";
  setenv("FAKE_NVML_PROCS_FILE", procs.c_str(), 1);
  WriteAtomically(procs, "");
  auto probe = MakeNvmlInterference(0, FAKE_NVML_LIB, 4242);
  ASSERT_TRUE(probe.ok()) << probe.status().ToString();
  // A short (idle) window with another process is just that.
  WriteAtomically(procs, "777 80 1");
  ASSERT_TRUE((*probe)->Begin().ok());
  auto o = (*probe)->End(0.3);
  ASSERT_TRUE(o.ok());
  EXPECT_GT(*o, 0);
  // A timed window of this process's work in which only "another" ran: not measurable.
  WriteAtomically(procs, "777 99 1\n777 99 2\n777 99 3");
  ASSERT_TRUE((*probe)->Begin().ok());
  o = (*probe)->End(1.0);
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("PID namespace"), std::string::npos) << o.status().ToString();
  // And from then on, without asking NVML again.
  WriteAtomically(procs, "4242 99 1");
  ASSERT_TRUE((*probe)->Begin().ok());
  EXPECT_FALSE((*probe)->End(1.0).ok());
}

TEST_F(NvmlMeterTest, ADriverWithoutPerProcessSamplesMeasuresNoGpuInterference) {
  // FAKE_NVML_PROCS_FILE unset: NOT_SUPPORTED, said at start-up, not at the first window.
  auto probe = MakeNvmlInterference(0, FAKE_NVML_LIB, 1);
  ASSERT_FALSE(probe.ok());
  EXPECT_NE(probe.status().message().find("nvmlDeviceGetProcessUtilization"), std::string::npos)
      << probe.status().ToString();
}

TEST_F(NvmlMeterTest, SamplerThreadFollowsPowerBetweenReads) {
  setenv("FAKE_NVML_MODE", "power_only", 1);
  WritePower("100000");
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  // A 500 W pulse over [11, 12] that no read sees: only the sampler can catch it. Reads at 10
  // and 13 alone would give (100 + 100) / 2 x 3 = 300 J. Clock and power change one at a
  // time, each followed by samples taken wholly after the change.
  long c = fake_.power_calls();
  clock_.now = 11;
  ASSERT_TRUE(fake_.WaitForPowerCalls(c, 2));
  c = fake_.power_calls();
  WritePower("500000");
  ASSERT_TRUE(fake_.WaitForPowerCalls(c, 2));
  c = fake_.power_calls();
  clock_.now = 12;
  ASSERT_TRUE(fake_.WaitForPowerCalls(c, 2));
  c = fake_.power_calls();
  WritePower("100000");
  ASSERT_TRUE(fake_.WaitForPowerCalls(c, 2));
  clock_.now = 13;
  auto r = (*meter)->ReadJoules();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_DOUBLE_EQ(*r, 100.0 + 500.0 + 100.0);
}

TEST_F(NvmlMeterTest, SamplerErrorIsReportedByTheNextRead) {
  setenv("FAKE_NVML_MODE", "power_only", 1);
  WritePower("50000");
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  long c = fake_.power_calls();
  WritePower("fail");
  ASSERT_TRUE(fake_.WaitForPowerCalls(c, 2));
  WritePower("50000");  // recovered before the read: the hole must still be reported
  auto r = (*meter)->ReadJoules();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("nvmlDeviceGetPowerUsage"), std::string::npos);
  EXPECT_NE(r.status().message().find("GPU is lost"), std::string::npos) << r.status().ToString();
  EXPECT_TRUE((*meter)->ReadJoules().ok()) << "an error is reported once, then reads resume";
}

TEST_F(NvmlMeterTest, DestructorStopsTheSamplerPromptly) {
  setenv("FAKE_NVML_MODE", "power_only", 1);
  WritePower("100000");
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, SystemClock());
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  ASSERT_TRUE(fake_.WaitForPowerCalls(fake_.power_calls(), 3));
  const auto t0 = std::chrono::steady_clock::now();
  meter = Status::Internal("destroyed");
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(ms, 200.0);
  EXPECT_EQ(fake_.live_inits(), 0);
  // No sampler left behind calling into NVML after shutdown.
  const long c = fake_.power_calls();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(fake_.power_calls(), c);
}

TEST_F(NvmlMeterTest, MissingLibraryIsUnavailableWithAClearMessage) {
  auto meter = MakeNvmlMeter(0, dir_ + "/no/libnvidia-ml.so.1", clock_);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(meter.status().message().find("not found: no NVIDIA driver on this machine"),
            std::string::npos)
      << meter.status().ToString();
  EXPECT_NE(meter.status().message().find("libnvidia-ml.so.1"), std::string::npos);
}

TEST_F(NvmlMeterTest, LibraryWithoutNvmlSymbolsNamesTheSymbol) {
  auto meter = MakeNvmlMeter(0, "libm.so.6", clock_);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(meter.status().message().find("nvmlInit_v2"), std::string::npos)
      << meter.status().ToString();
}

TEST_F(NvmlMeterTest, InitFailureCarriesNvmlErrorString) {
  setenv("FAKE_NVML_MODE", "init_fails", 1);
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(meter.status().message().find("nvmlInit_v2 failed: Driver Not Loaded"),
            std::string::npos)
      << meter.status().ToString();
  EXPECT_EQ(fake_.live_inits(), 0);
}

TEST_F(NvmlMeterTest, MissingDeviceRefusesAndShutsNvmlDown) {
  setenv("FAKE_NVML_MODE", "no_device", 1);
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_FALSE(meter.ok());
  EXPECT_EQ(meter.status().code(), StatusCode::kNotFound);
  // NVML lists no GPU: the CUDA device cannot be mapped to one.
  EXPECT_NE(meter.status().message().find("sees 0 GPU(s)"), std::string::npos)
      << meter.status().ToString();
  EXPECT_EQ(fake_.live_inits(), 0) << "nvmlShutdown must follow a failed factory";

  setenv("FAKE_NVML_MODE", "counter", 1);
  EXPECT_FALSE(MakeNvmlMeter(3, FAKE_NVML_LIB, clock_).ok());
  auto negative = MakeNvmlMeter(-1, FAKE_NVML_LIB, clock_);
  ASSERT_FALSE(negative.ok());
  EXPECT_EQ(negative.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(NvmlMeterTest, CudaDevicesAreMappedToTheirPhysicalGpuByUuid) {
  setenv("FAKE_NVML_GPUS",
         "GPU-aaaa/Fake A100/0;GPU-bbbb/Fake A100/0;GPU-cccc/Fake A100/1", 1);
  // CUDA sees GPU 1 as its device 0: the meter must read GPU 1's counter, not GPU 0's.
  setenv("CUDA_VISIBLE_DEVICES", "1,0", 1);
  auto meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  EXPECT_EQ((*meter)->domain(), "gpu1");
  ASSERT_TRUE((*meter)->ReadJoules().ok());
  EXPECT_EQ(fake_.last_energy_gpu(), 1);

  setenv("CUDA_VISIBLE_DEVICES", "GPU-aaaa", 1);
  meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  ASSERT_TRUE((*meter)->ReadJoules().ok());
  EXPECT_EQ(fake_.last_energy_gpu(), 0);

  // GPU 2 has MIG on: refused, saying why.
  setenv("CUDA_VISIBLE_DEVICES", "2", 1);
  meter = MakeNvmlMeter(0, FAKE_NVML_LIB, clock_);
  ASSERT_FALSE(meter.ok());
  EXPECT_NE(meter.status().message().find("MIG"), std::string::npos) << meter.status().message();
  // No such CUDA device.
  unsetenv("CUDA_VISIBLE_DEVICES");
  meter = MakeNvmlMeter(3, FAKE_NVML_LIB, clock_);
  ASSERT_FALSE(meter.ok());
  EXPECT_NE(meter.status().message().find("sees 3 GPU(s)"), std::string::npos);
}

}  // namespace
}  // namespace wattfleet
