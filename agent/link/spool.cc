// The result spool: one file per job attempt, "<job_id>-<attempt>.result", holding a magic,
// an HMAC-SHA256 tag and the protocol's encoding of the JobResult (the same bytes that go on
// the wire), the tag keyed by the spool's own random key (.spool-key).
//
// Durability: a result is acknowledged as spooled only after its bytes and its directory entry
// are on disk (write to a .tmp, fsync, rename, fsync the directory). A crash leaves either the
// old state or the new one, plus possibly a .tmp that was never acknowledged and is discarded.
#include "wattfleet/link/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "wattfleet/common/bounded_file.h"
#include "wattfleet/common/private_folder.h"
#include "wattfleet/common/unique_fd.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

constexpr std::string_view kResultSuffix = ".result";
constexpr std::string_view kTmpSuffix = ".tmp";
constexpr std::string_view kCorruptSuffix = ".corrupt";
// Hidden (List skips names not ending in .result), and its temporary ends in .tmp so that
// Open discards one a crash left behind.
constexpr std::string_view kKeyFile = ".spool-key";
// Records before this format had no tag: they are refused like any unverifiable record.
constexpr std::string_view kRecordMagic = "WFSPOOL2";
constexpr size_t kTagBytes = crypto_auth_hmacsha256_BYTES;
constexpr size_t kKeyBytes = crypto_auth_hmacsha256_KEYBYTES;
// A record is one protocol body with its magic and tag; anything larger is not one.
constexpr size_t kMaxRecordBytes = kMaxBodyBytes + 64;

// Closes a DIR* stream on scope exit.
struct DirCloser {
  void operator()(DIR* d) const {
    if (d) ::closedir(d);
  }
};

Status Errno(const std::string& what, const std::string& path, int err) {
  std::string msg = what + " " + path + ": " + std::strerror(err);
  if (err == EACCES || err == EPERM) return Status::PermissionDenied(msg);
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string FileName(int64_t job_id, int32_t attempt) {
  return std::to_string(job_id) + "-" + std::to_string(attempt) + std::string(kResultSuffix);
}

// Parses "<job_id>-<attempt>.result"; false for anything else.
bool ParseFileName(std::string_view name, int64_t* job_id, int32_t* attempt) {
  if (!EndsWith(name, kResultSuffix)) return false;
  std::string stem(name.substr(0, name.size() - kResultSuffix.size()));
  // The last '-' separates the attempt, so that a negative job id ("-5-1") still parses.
  const size_t dash = stem.rfind('-');
  if (dash == std::string::npos || dash == 0 || dash + 1 == stem.size()) return false;
  const std::string id_s = stem.substr(0, dash), attempt_s = stem.substr(dash + 1);
  char* end = nullptr;
  errno = 0;
  const long long id = std::strtoll(id_s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  errno = 0;
  const long a = std::strtol(attempt_s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || a < INT32_MIN || a > INT32_MAX) return false;
  *job_id = id;
  *attempt = static_cast<int32_t>(a);
  return true;
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

// `data` as the whole of a new file at `path` (mode `mode`), on disk before it returns.
Status WriteSynced(const std::string& path, std::string_view data, mode_t mode) {
  UniqueFd fd(
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) return Errno("open", path, errno);
  WF_RETURN_IF_ERROR(WriteAll(fd.get(), data, path));
  if (::fsync(fd.get()) != 0) return Errno("fsync", path, errno);
  if (fd.Close() != 0) return Errno("close", path, errno);
  return Status::OK();
}

// A file of the spool's own: a regular file, never a link (to /dev/zero, to someone's file)
// or a FIFO (which would hold the agent before it ever says READY), and bounded.
Result<std::string> ReadAll(const std::string& path, size_t max_bytes) {
  return ReadBoundedFile(path, "spool file", FileBounds{max_bytes, /*follow_links=*/false});
}

// Makes a rename or unlink in `dir` durable: the entry lives in the directory's own data.
Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return Errno("open directory", dir, errno);
  if (::fsync(fd.get()) != 0) return Errno("fsync directory", dir, errno);
  return Status::OK();
}

// mkdir -p: creates every missing component; existing ones are fine if they are directories.
Status MakeDirs(const std::string& dir) {
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    const std::string prefix = dir.substr(0, pos);
    if (prefix.empty() || prefix.back() == '/') continue;
    // Private: what the agent measured is nobody else's to read or replace.
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      return Errno("cannot create spool directory", dir + " (at " + prefix + ")", errno);
    }
  }
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return Errno("cannot stat spool directory", dir, errno);
  if (S_ISLNK(st.st_mode) && ::stat(dir.c_str(), &st) != 0) {
    return Errno("cannot stat spool directory", dir, errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("spool directory " + dir + " exists but is not a directory");
  }
  // A folder someone else owns, or may write in, holds records (and a key) that someone else
  // may have put there or may take away: not a place to keep measurements.
  if (st.st_uid != ::geteuid()) {
    return Status::InvalidArgument("spool directory " + dir + " belongs to user " +
                                   std::to_string(st.st_uid) + ", not to this agent's user (" +
                                   std::to_string(::geteuid()) + "); give the agent a spool "
                                   "of its own (--spool)");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return Status::InvalidArgument("spool directory " + dir + " can be written by other users "
                                   "(mode " + ModeText(st.st_mode) + "); chmod go-w it, or "
                                   "give the agent a spool of its own (--spool)");
  }
  return Status::OK();
}

// Every entry name in `dir` (not . and ..).
Result<std::vector<std::string>> ListDir(const std::string& dir) {
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (!d) return Errno("cannot list spool directory", dir, errno);
  std::vector<std::string> names;
  errno = 0;
  while (dirent* e = ::readdir(d.get())) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
    errno = 0;
  }
  if (errno != 0) return Errno("cannot list spool directory", dir, errno);
  return names;
}

std::string Tag(const std::string& key, std::string_view body) {
  std::string tag(kTagBytes, '\0');
  crypto_auth_hmacsha256(reinterpret_cast<unsigned char*>(tag.data()),
                         reinterpret_cast<const unsigned char*>(body.data()), body.size(),
                         reinterpret_cast<const unsigned char*>(key.data()));
  return tag;
}

// The record's body when its magic and tag are right; otherwise why not.
Result<std::string_view> VerifiedBody(const std::string& key, std::string_view record) {
  if (record.size() < kRecordMagic.size() + kTagBytes ||
      record.substr(0, kRecordMagic.size()) != kRecordMagic) {
    return Status::Corruption("not a spool record of this version (no integrity tag)");
  }
  const std::string_view tag = record.substr(kRecordMagic.size(), kTagBytes);
  const std::string_view body = record.substr(kRecordMagic.size() + kTagBytes);
  if (crypto_auth_hmacsha256_verify(reinterpret_cast<const unsigned char*>(tag.data()),
                                    reinterpret_cast<const unsigned char*>(body.data()),
                                    body.size(),
                                    reinterpret_cast<const unsigned char*>(key.data())) != 0) {
    return Status::Corruption("fails its integrity check (edited or damaged on disk)");
  }
  return body;
}

// The spool's key: read, or made once (random, 0600, durable before first use).
Result<std::string> LoadOrCreateKey(const std::string& dir) {
  const std::string path = dir + "/" + std::string(kKeyFile);
  auto existing = ReadAll(path, 4096);
  if (existing.ok()) {
    // Whoever could read the key could have signed records the agent would replay as its
    // own measurements. Refused rather than trusted; removing it starts a new key and the
    // results spooled under the old one are measured again.
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) return Errno("cannot stat spool key", path, errno);
    if (st.st_uid != ::geteuid() || (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
      const std::string mode = ModeText(st.st_mode);
      return Status::InvalidArgument(
          "spool key " + path + " can be read by other users or is not this user's (mode " +
          mode + ", owner " + std::to_string(st.st_uid) + "): records signed with it cannot "
          "be trusted; remove it to start a new key (the results spooled under it will then "
          "be measured again)");
    }
    if (existing->size() != kKeyBytes) {
      return Status::InvalidArgument(
          "spool key " + path + " holds " + std::to_string(existing->size()) + " bytes, not " +
          std::to_string(kKeyBytes) + "; remove it to start a new one (the results spooled "
          "under it will then be measured again)");
    }
    return std::move(existing).value();
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  std::string key(kKeyBytes, '\0');
  randombytes_buf(key.data(), key.size());
  const std::string tmp = path + std::string(kTmpSuffix);
  Status st = [&]() -> Status {
    WF_RETURN_IF_ERROR(WriteSynced(tmp, key, 0600));
    // link, not rename: two agents opening one spool at once must not end with two keys.
    if (::link(tmp.c_str(), path.c_str()) != 0 && errno != EEXIST) {
      return Errno("link to " + path, tmp, errno);
    }
    return Status::OK();
  }();
  ::unlink(tmp.c_str());
  WF_RETURN_IF_ERROR(st);
  WF_RETURN_IF_ERROR(FsyncDir(dir));
  // Whoever won a race, the key on disk is the one.
  WF_ASSIGN_OR_RETURN(std::string on_disk, ReadAll(path, 4096));
  if (on_disk.size() != kKeyBytes) return Status::IOError("spool key " + path + " is damaged");
  return on_disk;
}

}  // namespace

Result<Spool> Spool::Open(const std::string& dir) {
  if (dir.empty()) return Status::InvalidArgument("spool directory is empty");
  WF_RETURN_IF_ERROR(MakeDirs(dir));
  // Leftover .tmp files were never renamed, so Put never returned OK for them: their results
  // were not acknowledged as spooled, and the job will be reported (or re-run) anyway.
  WF_ASSIGN_OR_RETURN(std::vector<std::string> names, ListDir(dir));
  for (const std::string& name : names) {
    if (!EndsWith(name, kTmpSuffix)) continue;
    const std::string path = dir + "/" + name;
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Errno("cannot remove stale temporary file", path, errno);
    }
  }
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  WF_ASSIGN_OR_RETURN(std::string key, LoadOrCreateKey(dir));
  return Spool(dir, std::move(key));
}

Status Spool::Put(const JobResult& result) {
  const std::string name = FileName(result.job_id, result.attempt);
  const std::string path = dir_ + "/" + name;
  const std::string tmp = path + std::string(kTmpSuffix);
  const std::string encoded = Encode(result);
  const std::string body = std::string(kRecordMagic) + Tag(key_, encoded) + encoded;

  Status st = [&]() -> Status {
    WF_RETURN_IF_ERROR(WriteSynced(tmp, body, 0600));
    if (::rename(tmp.c_str(), path.c_str()) != 0) return Errno("rename to " + path, tmp, errno);
    return Status::OK();
  }();
  if (!st.ok()) {
    ::unlink(tmp.c_str());  // best effort; Open discards any .tmp left behind anyway
    return st;
  }
  return FsyncDir(dir_);
}

Status Spool::Remove(int64_t job_id, int32_t attempt) {
  const std::string path = dir_ + "/" + FileName(job_id, attempt);
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path, errno);
  // No directory fsync: if a crash resurrects the file, the result is replayed and the
  // controller acknowledges it again as already stored, which is harmless.
  return Status::OK();
}

std::vector<JobResult> Spool::List(std::vector<std::string>* errors,
                                   std::vector<SpoolRejection>* rejected) const {
  auto report = [errors](std::string msg) {
    if (errors) errors->push_back(std::move(msg));
  };
  std::vector<JobResult> out;
  auto names = ListDir(dir_);
  if (!names.ok()) {
    report(names.status().message());
    return out;
  }
  for (const std::string& name : *names) {
    if (!EndsWith(name, kResultSuffix)) continue;  // .tmp, .corrupt, foreign files
    const std::string path = dir_ + "/" + name;
    std::string problem;
    int64_t job_id = 0;
    int32_t attempt = 0;
    if (!ParseFileName(name, &job_id, &attempt)) {
      problem = "file name is not <job_id>-<attempt>.result";
    } else {
      auto body = ReadAll(path, kMaxRecordBytes);
      if (!body.ok() && body.status().code() == StatusCode::kNotFound) continue;  // just gone
      if (!body.ok() && body.status().code() != StatusCode::kInvalidArgument) {
        // An unreadable file (permissions, I/O error) may be fine later: report, do not move.
        report(path + ": " + body.status().message());
        continue;
      }
      // Not a record at all (a link, a FIFO, too large): refused like a damaged one.
      auto verified = body.ok() ? VerifiedBody(key_, *body)
                                : Result<std::string_view>(body.status());
      auto decoded = verified.ok() ? DecodeJobResult(*verified) : Result<JobResult>(verified.status());
      if (!decoded.ok()) {
        problem = decoded.status().message();
        if (rejected) rejected->push_back(SpoolRejection{job_id, attempt, problem});
      } else if (decoded->job_id != job_id || decoded->attempt != attempt) {
        problem = "holds job " + std::to_string(decoded->job_id) + " attempt " +
                  std::to_string(decoded->attempt) + ", not the one its name says";
        if (rejected) rejected->push_back(SpoolRejection{job_id, attempt, problem});
      } else {
        out.push_back(std::move(decoded).value());
        continue;
      }
    }
    // Moved aside, never deleted: a human may want to look at it, and it must not be replayed
    // (or block the replay of the others) forever.
    const std::string aside = path + std::string(kCorruptSuffix);
    if (::rename(path.c_str(), aside.c_str()) != 0) {
      report(path + ": " + problem + "; could not move it to " + aside + ": " +
             std::strerror(errno));
    } else {
      report(path + ": " + problem + "; moved to " + aside);
    }
  }
  std::sort(out.begin(), out.end(), [](const JobResult& a, const JobResult& b) {
    return std::tie(a.job_id, a.attempt) < std::tie(b.job_id, b.attempt);
  });
  return out;
}

}  // namespace wattfleet
