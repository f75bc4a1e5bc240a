// Sensor selection: `--sensor auto` picks the best backend that works on this device and says
// why; a named backend that does not work is a clear error; `simulated` only by name.
#include "wattfleet/monitor/device_info.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

namespace wattfleet {
namespace {

class FakeRoots {
 public:
  FakeRoots() {
    char tmpl[] = "/tmp/wattfleet-sensors-XXXXXX";
    if (::mkdtemp(tmpl)) dir_ = tmpl;
    roots.sysfs_root = dir_ + "/sys";
    roots.proc_root = dir_ + "/proc";
    roots.nvml_library = dir_ + "/no-such-libnvidia-ml.so";
    Write("proc/stat", "cpu  100 0 100 1000 0 0 0 0 0 0\ncpu0 100 0 100 1000 0 0 0 0 0 0\n");
  }
  ~FakeRoots() {
    std::string cmd = "rm -rf '" + dir_ + "'";
    if (std::system(cmd.c_str()) != 0) std::cerr << "cannot remove " << dir_ << "\n";
  }
  void Write(const std::string& rel, const std::string& content) {
    const std::string path = dir_ + "/" + rel;
    std::string cmd = "mkdir -p '" + path.substr(0, path.rfind('/')) + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::ofstream(path) << content;
  }
  void AddRapl() {
    Write("sys/class/powercap/intel-rapl:0/name", "package-0\n");
    Write("sys/class/powercap/intel-rapl:0/energy_uj", "123456789\n");
    Write("sys/class/powercap/intel-rapl:0/max_energy_range_uj", "262143328850\n");
  }
  SensorRoots roots;

 private:
  std::string dir_;
};

TEST(SensorSelection, AutoFallsBackToTheModeledEstimateAndSaysWhy) {
  FakeRoots fake;
  std::string why;
  auto meter = OpenMeter("auto", fake.roots, &why);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  EXPECT_EQ((*meter)->name(), "modeled");
  EXPECT_TRUE((*meter)->is_estimate());
  EXPECT_NE(why.find("rapl"), std::string::npos) << why;  // why each hardware backend failed
  EXPECT_NE(why.find("nvml"), std::string::npos) << why;
}

TEST(SensorSelection, AutoPrefersRaplWhenItWorks) {
  FakeRoots fake;
  fake.AddRapl();
  std::string why;
  auto meter = OpenMeter("auto", fake.roots, &why);
  ASSERT_TRUE(meter.ok()) << meter.status().ToString();
  EXPECT_EQ((*meter)->name(), "rapl");
  EXPECT_FALSE((*meter)->is_estimate());
  EXPECT_NE(why.find("rapl"), std::string::npos) << why;
}

TEST(SensorSelection, NamedBackendThatDoesNotWorkIsAnError) {
  FakeRoots fake;
  for (const char* name : {"rapl", "hwmon", "android", "nvml"}) {
    auto meter = OpenMeter(name, fake.roots, nullptr);
    ASSERT_FALSE(meter.ok()) << name;
    EXPECT_EQ(meter.status().code(), StatusCode::kInvalidArgument) << name;
    EXPECT_NE(meter.status().message().find(std::string("--sensor ") + name), std::string::npos);
  }
  EXPECT_FALSE(OpenMeter("geiger", fake.roots, nullptr).ok());
}

TEST(SensorSelection, SimulatedOnlyByName) {
  FakeRoots fake;
  auto automatic = OpenMeter("auto", fake.roots, nullptr);
  ASSERT_TRUE(automatic.ok());
  EXPECT_NE((*automatic)->name(), "simulated");
  auto named = OpenMeter("simulated", fake.roots, nullptr);
  ASSERT_TRUE(named.ok());
  EXPECT_EQ((*named)->name(), "simulated");
}

TEST(SensorSelection, InterferenceFollowsWhatTheMeterMeasures) {
  FakeRoots fake;
  fake.AddRapl();
  auto rapl = OpenMeter("rapl", fake.roots, nullptr);
  ASSERT_TRUE(rapl.ok()) << rapl.status().ToString();
  ProcCpuActivity cpu(fake.roots.proc_root);
  std::string why;
  // The package's counter takes in every process's CPU work.
  auto probe = OpenInterference(**rapl, fake.roots, cpu, ::getpid(), &why);
  ASSERT_NE(probe, nullptr);
  EXPECT_NE(dynamic_cast<CpuInterference*>(probe.get()), nullptr);
  EXPECT_NE(why.find("CPU time"), std::string::npos) << why;
}

TEST(SensorSelection, ProbeListsEveryBackendWithAReason) {
  FakeRoots fake;
  fake.AddRapl();
  auto probes = ProbeSensors(fake.roots);
  std::map<std::string, SensorProbe> by_name;
  for (const auto& p : probes) by_name[p.backend] = p;
  for (const char* name : {"nvml", "rapl", "hwmon", "android", "modeled", "simulated"}) {
    ASSERT_TRUE(by_name.count(name)) << name;
    EXPECT_FALSE(by_name[name].reason.empty()) << name;
  }
  EXPECT_TRUE(by_name["rapl"].available);
  EXPECT_FALSE(by_name["nvml"].available);
  EXPECT_FALSE(by_name["hwmon"].available);
}

}  // namespace
}  // namespace wattfleet

namespace wattfleet {
namespace {

// The BLAS libtorch's matrix products run through, from the process's mapped files: Debian
// keeps each implementation in a folder of its own behind the libblas.so.3 alternative.
TEST(LoadedBlas, NamesTheImplementationMapped) {
  const std::string head = "7f0000000000-7f0000001000 r-xp 00000000 08:01 42   ";
  struct Case {
    std::string library;
    std::string kind;
  };
  for (const Case& c :
       {Case{"/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0", "reference"},
        Case{"/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3", "OpenBLAS"},
        Case{"/usr/lib/x86_64-linux-gnu/blis-pthread/libblas.so.3", "BLIS"},
        Case{"/opt/intel/lib/libmkl_rt.so.2", "MKL"}}) {
    FakeRoots fake;
    fake.Write("proc/self/maps", head + "/usr/lib/x86_64-linux-gnu/libtorch_cpu.so.1.13\n" +
                                     head + c.library + "\n[heap]\n");
    const BlasInfo blas = LoadedBlas(fake.roots.proc_root);
    EXPECT_EQ(blas.kind, c.kind) << c.library;
    EXPECT_EQ(blas.path, c.library);
  }
  FakeRoots none;
  none.Write("proc/self/maps", head + "/usr/lib/libc.so.6\n");
  EXPECT_TRUE(LoadedBlas(none.roots.proc_root).path.empty());
}

}  // namespace
}  // namespace wattfleet
