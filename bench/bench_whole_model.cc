// The zoo's rebuild of a torchvision model against torchvision's own module, traced to
// TorchScript, both run by the agent's executor as whole-model inference jobs in one
// process:
//
//   ./build/bench/bench_whole_model --threads 2 --rounds 15 NAME=FILE.pt [NAME=FILE.pt ...]
//
// NAME is a zoo name (efficientnet_bN is built at FILE's resolution through the efficientnet
// family, the zoo holding B1-B7 at their own); FILE a torch.jit.trace of torchvision's module
// at batch 1 (bench/zoo_fidelity.py writes them). Rounds alternate the two, which goes first
// alternating too; each prints the median per-iteration times and the median and range of the
// per-round ratios (rebuild / module). One line per model:
//   NAME zoo_ms module_ms ratio_median ratio_min ratio_max
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "alternating_rounds.h"
#include "wattfleet/run/executor.h"
#include "wattfleet/common/sha256.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

Result<Architecture> ZooArchitecture(const std::string& name, int64_t resolution) {
  if (name.rfind("efficientnet_b", 0) == 0 && name.size() == 15) {
    SweepPoint point;
    point["variant"].values = {name.back() - '0'};
    point["resolution"].values = {resolution};
    return BuildFamilyMember("efficientnet", point);
  }
  return FindZooArchitecture(name);
}

JobSpec InferenceJob(Architecture graph) {
  JobSpec job;
  job.job_id = 1;
  job.kind = JobKind::kModel;
  job.batch = 1;
  job.graph = std::move(graph);
  return job;
}

// Iterations of `w` filling about `seconds`.
int64_t Iterations(Workload& w, double seconds) {
  const double per = bench::PerIteration([&](int64_t n) { (void)w.Run(n); }, 2);
  return std::max<int64_t>(1, static_cast<int64_t>(seconds / per));
}

int Compare(Executor& executor, const std::string& name, const std::string& file, int rounds,
            double window_s) {
  auto sha = Sha256OfFile(file);
  if (!sha.ok()) {
    std::fprintf(stderr, "%s: %s\n", file.c_str(), sha.status().message().c_str());
    return 2;
  }
  // bench/zoo_fidelity.py traces at 224 px, the size of every zoo entry it names but
  // EfficientNet B1-B7, which the family rebuilds at 224.
  auto zoo = ZooArchitecture(name, 224);
  if (!zoo.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), zoo.status().message().c_str());
    return 2;
  }
  Architecture traced = *zoo;
  traced.model_file = ModelFile{"torchscript", file, *sha,
                                static_cast<int64_t>(std::filesystem::file_size(file))};
  auto rebuilt = executor.Prepare(InferenceJob(*zoo));
  auto module = executor.Prepare(InferenceJob(traced));
  if (!rebuilt.ok() || !module.ok()) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(),
                 (rebuilt.ok() ? module.status() : rebuilt.status()).ToString().c_str());
    return 1;
  }
  const int64_t n = Iterations(**rebuilt, window_s);
  bench::Rounds r = bench::AlternatingRounds([&](int64_t k) { (void)(*rebuilt)->Run(k); },
                                             [&](int64_t k) { (void)(*module)->Run(k); }, n,
                                             rounds);
  // Rounds.ratios is module / rebuild: print its inverse, rebuild / module.
  std::printf("%s %.3f %.3f %.4f %.4f %.4f\n", name.c_str(), 1e3 * bench::Median(r.first),
              1e3 * bench::Median(r.second), 1.0 / bench::Median(r.ratios),
              1.0 / r.ratios.back(), 1.0 / r.ratios.front());
  std::fflush(stdout);
  return 0;
}

}  // namespace
}  // namespace wattfleet

int main(int argc, char** argv) {
  using namespace wattfleet;
  int threads = 2, rounds = 15;
  double window_s = 0.25;
  std::vector<std::pair<std::string, std::string>> models;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (a == "--rounds" && i + 1 < argc) {
      rounds = std::atoi(argv[++i]);
    } else if (a == "--window-s" && i + 1 < argc) {
      window_s = std::atof(argv[++i]);
    } else if (a.find('=') != std::string::npos) {
      models.emplace_back(a.substr(0, a.find('=')), a.substr(a.find('=') + 1));
    } else {
      std::fprintf(stderr, "usage: %s [--threads N] [--rounds N] [--window-s S] NAME=FILE.pt...\n",
                   argv[0]);
      return 2;
    }
  }
  auto executor = MakeExecutor(ExecutorOptions{"cpu", threads});
  if (!executor.ok()) {
    std::fprintf(stderr, "%s\n", executor.status().ToString().c_str());
    return 1;
  }
  int status = 0;
  for (const auto& [name, file] : models) {
    status = std::max(status, Compare(**executor, name, file, rounds, window_s));
  }
  return status;
}
