#include "cli_report.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace wattfleet {
namespace {

int Fail(int code, const std::string& what) {
  std::cerr << "wattfleet: " << what << "\n";
  return code;
}

// Removes the temporary file unless the rename has taken it, and only when Create() made it:
// a file that was already there (Create() fails with EEXIST) belongs to someone else.
class TempFile {
 public:
  explicit TempFile(std::string path) : path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (created_ && !kept_) ::unlink(path_.c_str());
  }
  bool Create() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    created_ = fd_ >= 0;
    return created_;
  }
  bool Write(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Synced before the rename: a crash must not leave a complete-looking empty file.
  bool SyncAndClose() {
    const bool ok = ::fsync(fd_) == 0;
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 && ok;
  }
  bool RenameTo(const std::string& path) {
    kept_ = ::rename(path_.c_str(), path.c_str()) == 0;
    return kept_;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
  bool created_ = false;
  bool kept_ = false;
};

}  // namespace

int CmdReport(const ReportOptions& options, const std::string& out, bool json) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (out.empty()) return Fail(2, "--out: empty path");
  if (fs::is_directory(out, ec)) return Fail(2, "--out " + out + ": is a directory");
  fs::path dir = fs::path(out).parent_path();
  if (dir.empty()) dir = ".";
  if (!fs::is_directory(dir, ec)) {
    return Fail(2, "--out " + out + ": directory " + dir.string() + " does not exist");
  }
  if (fs::exists(out, ec) && fs::equivalent(out, options.db, ec)) {
    return Fail(2, "--out " + out + ": is the dataset itself (--db)");
  }

  Result<Report> built = BuildReport(options);
  if (!built.ok()) {
    return Fail(built.status().code() == StatusCode::kInvalidArgument ? 2 : 1,
                built.status().message());
  }

  TempFile tmp(out + ".tmp-" + std::to_string(::getpid()));
  if (!tmp.Create()) {
    return Fail(2, "--out " + out + ": cannot create " + tmp.path() + ": " + std::strerror(errno));
  }
  if (!tmp.Write(built->html) || !tmp.SyncAndClose()) {
    return Fail(1, "--out " + out + ": cannot write " + tmp.path() + ": " + std::strerror(errno));
  }
  if (!tmp.RenameTo(out)) {
    return Fail(1, "--out " + out + ": cannot rename " + tmp.path() + ": " + std::strerror(errno));
  }
  if (json) {
    std::cout << nlohmann::json{{"out", out},
                                {"plots", built->plots},
                                {"notes", built->notes},
                                {"bytes", built->html.size()}}
                     .dump()
              << "\n";
    return 0;
  }
  // A report of what was done: stderr, as every command keeps stdout for what scripts read.
  std::fprintf(stderr, "wrote %s: %d plots, %d notes, %zu KB\n", out.c_str(), built->plots,
               built->notes, (built->html.size() + 1023) / 1024);
  return 0;
}

}  // namespace wattfleet
