#include "wattfleet/meters/proc_stat.h"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace wattfleet {

// Parses /proc/stat. Only user..steal are summed: guest and guest_nice are already counted in
// user and nice, so adding them would count virtual-machine time twice.
Result<CpuSample> ReadProcStat(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Status::IOError(path + ": cannot open (" + std::string(std::strerror(errno)) + ")");
  }
  CpuSample sample;
  std::string line;
  bool have_total = false;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.compare(0, 3, "cpu") != 0) continue;
    if (line.size() > 3 && line[3] != ' ') {
      // "cpuN": one core. Only the digit after "cpu" matters; the rest is per-core jiffies.
      if (line[3] >= '0' && line[3] <= '9') ++sample.cores;
      continue;
    }
    if (line_no != 1) {
      return Status::Corruption(path + ":" + std::to_string(line_no) +
                                ": aggregate \"cpu\" line is not the first line");
    }
    std::istringstream fields(line.substr(3));
    std::vector<unsigned long long> v;
    std::string tok;
    while (fields >> tok && v.size() < 8) {
      char* end = nullptr;
      errno = 0;
      unsigned long long x = std::strtoull(tok.c_str(), &end, 10);
      if (errno != 0 || end == tok.c_str() || *end != '\0' || tok[0] == '-') {
        return Status::Corruption(path + ":1: bad jiffies field \"" + tok + "\"");
      }
      v.push_back(x);
    }
    // Kernels before 2.6 had four fields (user nice system idle); iowait and later are
    // optional.
    if (v.size() < 4) {
      return Status::Corruption(path + ":1: expected at least 4 jiffies fields on the cpu line");
    }
    unsigned long long total = 0;
    for (unsigned long long x : v) total += x;
    unsigned long long idle = v[3] + (v.size() > 4 ? v[4] : 0);  // idle + iowait
    sample.busy = total - idle;
    sample.steal = v.size() > 7 ? v[7] : 0;
    have_total = true;
  }
  if (!have_total) {
    return Status::Corruption(path + ": no aggregate \"cpu\" line on line 1");
  }
  if (sample.cores == 0) {
    return Status::Corruption(path + ": no \"cpuN\" lines (cannot count cores)");
  }
  return sample;
}

Result<unsigned long long> ReadProcessTicks(const std::string& path, bool with_children) {
  std::ifstream in(path);
  if (!in) {
    return Status::IOError(path + ": cannot open (" + std::string(std::strerror(errno)) + ")");
  }
  std::string line;
  std::getline(in, line);
  // The command name may hold spaces and parentheses: the fields start after the last ')'.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return Status::Corruption(path + ": no command name");
  std::istringstream fields(line.substr(close + 1));
  std::string tok;
  // Field 3 (state) is the first after the name; utime and stime are fields 14 and 15, the
  // reaped children's cutime and cstime 16 and 17.
  const int last = with_children ? 17 : 15;
  unsigned long long ticks = 0;
  for (int field = 3; field <= last && fields >> tok; ++field) {
    if (field < 14) continue;
    char* end = nullptr;
    errno = 0;
    const unsigned long long x = std::strtoull(tok.c_str(), &end, 10);
    if (errno != 0 || end == tok.c_str() || *end != '\0' || tok[0] == '-') {
      return Status::Corruption(path + ": bad CPU time field " + std::to_string(field) + " \"" +
                                tok + "\"");
    }
    ticks += x;
    if (field == last) return ticks;
  }
  return Status::Corruption(path + ": fewer than " + std::to_string(last) + " fields");
}

double TicksPerSecond() {
  const long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? static_cast<double>(hz) : 100.0;  // USER_HZ has been 100 on every Linux ABI
}

}  // namespace wattfleet
