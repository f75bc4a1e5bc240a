#include "wattfleet/link/model_cache.h"

#include <sys/stat.h>

#include <filesystem>
#include <system_error>

namespace wattfleet {
namespace {

namespace fs = std::filesystem;

JobResult Failure(const JobSpec& job, Outcome outcome, const std::string& why) {
  JobResult r;
  r.job_id = job.job_id;
  r.attempt = job.attempt;
  r.outcome = outcome;
  r.error = why;
  return r;
}

// The folder, private to this user: a copy others could write would run as their code.
Status MakeFolder(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Status::IOError("cannot create " + dir + ": " + ec.message());
  if (::chmod(dir.c_str(), 0700) != 0) return Status::IOError("cannot make " + dir + " private");
  return Status::OK();
}

}  // namespace

FetchMsg ModelCache::NextFetch(const Download& d) const {
  FetchMsg f;
  f.job_id = d.waiting.front().job_id;
  f.attempt = d.waiting.front().attempt;
  f.offset = d.received;
  return f;
}

ModelCache::Step ModelCache::Accept(JobSpec job, double now) {
  Step step;
  const ModelFile file = job.graph.model_file;
  if (file.empty()) {
    step.ready.push_back(std::move(job));
    return step;
  }
  const std::string local = PathOf(file.sha256);
  std::error_code ec;
  // Only a checked copy is ever renamed to this name (OnChunk), in a folder only this user
  // can write: its size is all that is left to look at.
  const bool cached = fs::is_regular_file(local, ec) &&
                      static_cast<int64_t>(fs::file_size(local, ec)) == file.bytes && !ec;
  if (cached) {
    job.graph.model_file.path = local;
    step.ready.push_back(std::move(job));
    return step;
  }
  auto it = downloads_.find(file.sha256);
  if (it != downloads_.end()) {
    it->second.waiting.push_back(std::move(job));
    return step;
  }
  if (Status s = MakeFolder(dir_); !s.ok()) {
    step.failed.push_back(Failure(job, Outcome::kFailed, "model file: " + s.message()));
    return step;
  }
  Download& d = downloads_[file.sha256];
  d.file = file;
  d.last_progress = now;
  d.out.open(local + ".part", std::ios::binary | std::ios::trunc);
  d.waiting.push_back(std::move(job));
  if (!d.out) {
    Fail(file.sha256, Outcome::kFailed, "model file: cannot write " + local + ".part", &step);
    return step;
  }
  step.fetch = NextFetch(d);
  return step;
}

ModelCache::Step ModelCache::OnChunk(const ChunkMsg& chunk, double now) {
  Step step;
  // The download this part answers: the one asked for under this job and attempt.
  auto it = downloads_.begin();
  for (; it != downloads_.end(); ++it) {
    const JobSpec& asker = it->second.waiting.front();
    if (asker.job_id == chunk.job_id && asker.attempt == chunk.attempt) break;
  }
  if (it == downloads_.end()) return step;  // a late answer to a download already dropped
  Download& d = it->second;
  const std::string sha = it->first;
  if (!chunk.error.empty()) {
    Fail(sha, Outcome::kFailed, "model file: the controller says: " + chunk.error, &step);
    return step;
  }
  if (chunk.offset != d.received || chunk.total != d.file.bytes) {
    Fail(sha, Outcome::kFailed,
         "model file: the controller sent bytes " + std::to_string(chunk.offset) + " of " +
             std::to_string(chunk.total) + ", expected " + std::to_string(d.received) + " of " +
             std::to_string(d.file.bytes),
         &step);
    return step;
  }
  d.out.write(chunk.data.data(), static_cast<std::streamsize>(chunk.data.size()));
  d.hash.Update(chunk.data);
  d.received += static_cast<int64_t>(chunk.data.size());
  d.last_progress = now;
  if (!d.out) {
    Fail(sha, Outcome::kFailed, "model file: cannot write " + PathOf(sha) + ".part", &step);
    return step;
  }
  if (d.received < d.file.bytes) {
    if (chunk.data.empty()) {
      Fail(sha, Outcome::kFailed, "model file: the controller sent an empty part", &step);
    } else {
      step.fetch = NextFetch(d);
    }
    return step;
  }
  d.out.close();
  const std::string digest = d.hash.HexDigest();
  if (digest != sha || !d.out) {
    Fail(sha, Outcome::kFailed,
         "model file: the copy fetched has checksum " + digest + ", not the " + sha +
             " the campaign was planned with (was the file changed on the controller's host?)",
         &step);
    return step;
  }
  std::error_code ec;
  fs::rename(PathOf(sha) + ".part", PathOf(sha), ec);
  if (ec) {
    Fail(sha, Outcome::kFailed, "model file: " + ec.message(), &step);
    return step;
  }
  for (JobSpec& job : d.waiting) {
    job.graph.model_file.path = PathOf(sha);
    step.ready.push_back(std::move(job));
  }
  downloads_.erase(it);
  return step;
}

ModelCache::Step ModelCache::Expire(double now, double timeout_s) {
  Step step;
  std::vector<std::string> stale;
  for (const auto& [sha, d] : downloads_) {
    if (now - d.last_progress > timeout_s) stale.push_back(sha);
  }
  for (const std::string& sha : stale) {
    Fail(sha, Outcome::kTimeout,
         "model file: no part of it came from the controller for " +
             std::to_string(static_cast<int>(timeout_s)) +
             " s (a controller older than this agent does not serve model files)",
         &step);
  }
  return step;
}

void ModelCache::Fail(const std::string& sha256, Outcome outcome, const std::string& why,
                      Step* step) {
  auto it = downloads_.find(sha256);
  if (it == downloads_.end()) return;
  for (const JobSpec& job : it->second.waiting) step->failed.push_back(Failure(job, outcome, why));
  it->second.out.close();
  std::error_code ec;
  fs::remove(PathOf(sha256) + ".part", ec);
  downloads_.erase(it);
}

void ModelCache::Clear() {
  std::vector<std::string> shas;
  for (const auto& entry : downloads_) shas.push_back(entry.first);
  for (const std::string& sha : shas) {
    downloads_[sha].out.close();
    std::error_code ec;
    fs::remove(PathOf(sha) + ".part", ec);
  }
  downloads_.clear();
}

}  // namespace wattfleet
