// The `rapl` meter: Intel/AMD package (and dram) energy counters from the Linux powercap
// framework (docs/measurement.md, "Meters").
//
//   <sysfs_root>/class/powercap/intel-rapl:N/{name,energy_uj,max_energy_range_uj}
//   <sysfs_root>/class/powercap/intel-rapl:N:M/...        (subdomains; only "dram" is used)
//
// energy_uj is a counter in microjoules that wraps to 0 after max_energy_range_uj (every few
// minutes on a loaded server: a 2^32 uJ range at 200 W lasts ~20 s on some parts). A background
// poller reads the counters often enough to see each wrap at most once between two reads, and
// accumulates the deltas; ReadJoules() polls too, so its value is current.
#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "wattfleet/meters/meter.h"
#include "meter_sampler.h"
#include "sysfs_reader.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;

// How often the poller reads the counters. It must be well below the shortest wrap time
// (max_energy_range_uj / peak power); 0.5 s leaves a wide margin for every known part.
constexpr double kPollPeriodS = 0.5;

struct Domain {
  std::string dir;          // .../intel-rapl:N or .../intel-rapl:N:M
  std::string energy_path;  // dir + "/energy_uj"
  uint64_t max_range = 0;   // max_energy_range_uj
  uint64_t last = 0;        // counter at the previous poll
  uint64_t total_uj = 0;    // accumulated since creation
};

// "intel-rapl:N" (depth 1) or "intel-rapl:N:M" (depth 2); 0 for anything else, including the
// "intel-rapl" control type itself and "intel-rapl-mmio:N" (a second interface to the same
// package counter, which would count it twice).
int RaplDepth(const std::string& entry) {
  const std::string prefix = "intel-rapl:";
  if (entry.compare(0, prefix.size(), prefix) != 0) return 0;
  int depth = 1;
  bool digit_seen = false;
  for (size_t i = prefix.size(); i < entry.size(); ++i) {
    const char c = entry[i];
    if (c >= '0' && c <= '9') {
      digit_seen = true;
    } else if (c == ':' && digit_seen) {
      ++depth;
      digit_seen = false;
    } else {
      return 0;
    }
  }
  return digit_seen ? depth : 0;
}

Result<uint64_t> ReadCounter(const std::string& path) {
  WF_ASSIGN_OR_RETURN(int64_t v, sysfs::ReadInt(path));
  if (v < 0) return Status::Corruption(path + ": negative counter " + std::to_string(v));
  return static_cast<uint64_t>(v);
}

Result<Domain> OpenDomain(const std::string& dir) {
  Domain d;
  d.dir = dir;
  d.energy_path = dir + "/energy_uj";
  WF_ASSIGN_OR_RETURN(d.max_range, ReadCounter(dir + "/max_energy_range_uj"));
  if (d.max_range == 0) {
    return Status::Corruption(dir + "/max_energy_range_uj: zero range");
  }
  WF_ASSIGN_OR_RETURN(d.last, ReadCounter(d.energy_path));
  if (d.last > d.max_range) {
    return Status::Corruption(d.energy_path + ": counter " + std::to_string(d.last) +
                              " above max_energy_range_uj " + std::to_string(d.max_range));
  }
  return d;
}

class RaplMeter final : public Meter {
 public:
  RaplMeter(std::vector<Domain> domains, std::string domain_label, std::string note)
      : domains_(std::move(domains)),
        domain_label_(std::move(domain_label)),
        note_(std::move(note)) {}

  ~RaplMeter() override { poller_.reset(); }  // join before domains_ and mu_ go away

  void StartPoller() {
    poller_ = std::make_unique<PeriodicThread>(kPollPeriodS, [this] {
      std::lock_guard<std::mutex> lock(mu_);
      latched_.Latch(PollLocked());
    });
  }

  std::string name() const override { return "rapl"; }
  std::string domain() const override { return domain_label_; }
  bool is_estimate() const override { return false; }
  std::string assumes() const override { return ""; }
  // The hardware updates energy_uj about every millisecond.
  double update_period_s() const override { return 0.001; }
  MeterFacts facts() const override {
    std::lock_guard<std::mutex> lock(mu_);
    // The first counter to wrap bounds how long a window may go unpolled.
    uint64_t wrap = domains_.front().max_range;
    for (const Domain& d : domains_) wrap = std::min(wrap, d.max_range);
    return {"energy counter", 1e-6, static_cast<double>(wrap) * 1e-6, 0, note_};
  }
  // The counters as the kernel shows them now, summed, without accumulating: a change of any
  // of them is an update.
  Result<double> ReadSensor() override {
    uint64_t sum = 0;
    for (const Domain& d : domains_) {
      WF_ASSIGN_OR_RETURN(uint64_t v, ReadCounter(d.energy_path));
      sum += v;
    }
    return static_cast<double>(sum) * 1e-6;
  }

  Result<double> ReadJoules() override {
    std::lock_guard<std::mutex> lock(mu_);
    // A failed background poll means a wrap may have been missed: that window fails.
    WF_RETURN_IF_ERROR(latched_.Take());
    WF_RETURN_IF_ERROR(PollLocked());
    uint64_t total = 0;
    for (const Domain& d : domains_) total += d.total_uj;
    return static_cast<double>(total) * 1e-6;
  }

 private:
  // Reads every counter and accumulates its delta. A domain that fails keeps its last value,
  // so it resumes correctly when the file is readable again (unless it wrapped meanwhile).
  Status PollLocked() {
    Status first;
    for (Domain& d : domains_) {
      auto cur = ReadCounter(d.energy_path);
      if (cur.ok() && *cur > d.max_range) {
        cur = Status::Corruption(d.energy_path + ": counter " + std::to_string(*cur) +
                                 " above max_energy_range_uj " + std::to_string(d.max_range));
      }
      if (!cur.ok()) {
        if (first.ok()) first = cur.status();
        continue;
      }
      // Below the previous value: the counter wrapped once, from max_range to 0. Two wraps
      // between polls cannot be told from one; the poll period makes that impossible.
      const uint64_t delta = *cur >= d.last ? *cur - d.last : *cur + (d.max_range - d.last);
      d.total_uj += delta;
      d.last = *cur;
    }
    return first;
  }

  mutable std::mutex mu_;
  std::vector<Domain> domains_;
  const std::string domain_label_;
  const std::string note_;
  LatchedError latched_;
  std::unique_ptr<PeriodicThread> poller_;
};

}  // namespace

Result<std::unique_ptr<Meter>> MakeRaplMeter(const std::string& sysfs_root, Clock& clock) {
  // The counters are cumulative: no clock is needed (the poller runs on real time).
  (void)clock;
  const std::string base = sysfs_root + "/class/powercap";
  std::error_code ec;
  if (!fs::is_directory(base, ec)) {
    return Status::NotFound(base + ": no powercap directory (no RAPL on this machine, or the "
                                   "intel_rapl_common/intel_rapl_msr module is not loaded)");
  }
  std::vector<std::string> packages, subdomains;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string entry = it->path().filename().string();
    const int depth = RaplDepth(entry);
    if (depth == 1) packages.push_back(it->path().string());
    if (depth == 2) subdomains.push_back(it->path().string());
  }
  if (ec) return sysfs::ErrnoToStatus(ec.value(), base, "list");
  std::sort(packages.begin(), packages.end());
  std::sort(subdomains.begin(), subdomains.end());

  std::vector<Domain> domains;
  std::vector<std::string> used_packages;
  bool have_dram = false;
  for (const std::string& dir : packages) {
    WF_ASSIGN_OR_RETURN(std::string name, sysfs::ReadTrimmed(dir + "/name"));
    // psys (platform) covers the package and more: summing it with the package would count
    // the package twice. Only package-N domains are top-level sources here.
    if (name.rfind("package", 0) != 0) continue;
    WF_ASSIGN_OR_RETURN(Domain d, OpenDomain(dir));
    domains.push_back(std::move(d));
    used_packages.push_back(dir);
  }
  if (domains.empty()) {
    return Status::NotFound(base + ": no intel-rapl:N package domain");
  }
  for (const std::string& dir : subdomains) {
    // Only below a package we count (not below psys).
    const std::string parent = dir.substr(0, dir.rfind(':'));
    if (std::find(used_packages.begin(), used_packages.end(), parent) == used_packages.end()) {
      continue;
    }
    // core/uncore subdomains are parts of the package counter; dram is not.
    WF_ASSIGN_OR_RETURN(std::string name, sysfs::ReadTrimmed(dir + "/name"));
    if (name != "dram") continue;
    WF_ASSIGN_OR_RETURN(Domain d, OpenDomain(dir));
    domains.push_back(std::move(d));
    have_dram = true;
  }
  // Many client CPUs and AMD parts expose no dram domain: memory energy is then outside the
  // figure, which matters for memory-bound layers.
  auto meter = std::make_unique<RaplMeter>(
      std::move(domains), have_dram ? "package+dram" : "package",
      have_dram ? "" : "no dram domain: memory energy is not included");
  meter->StartPoller();
  return std::unique_ptr<Meter>(std::move(meter));
}

}  // namespace wattfleet
