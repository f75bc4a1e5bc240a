// Model files: a whole-model job of an imported model runs the model's own file, which the
// agent holding the job fetches a part at a time. Only the agent the job is leased to may
// read it, and only that job's file; each part served counts as the job's progress.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "wattfleet/common/peer_text.h"
#include "wattfleet/dispatch/dispatcher.h"

namespace wattfleet {
namespace {

// Bytes [offset, offset + kModelChunkBytes) of `file`, or why they cannot be served. The size
// is checked on every part: a file replaced since the campaign was planned is refused here,
// one changed in place by the agent's checksum.
Result<std::string> ReadPart(const ModelFile& file, int64_t offset) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file.path, ec);
  if (ec) return Status::NotFound("model file " + file.path + ": " + ec.message());
  if (static_cast<int64_t>(size) != file.bytes) {
    return Status::InvalidArgument("model file " + file.path + " has changed since the "
                                      "campaign was planned (" + std::to_string(size) +
                                      " bytes, planned with " + std::to_string(file.bytes) + ")");
  }
  if (offset > file.bytes) {
    return Status::InvalidArgument("offset " + std::to_string(offset) + " is past the end of " +
                                   file.path);
  }
  std::ifstream in(file.path, std::ios::binary);
  std::string data(static_cast<size_t>(std::min(kModelChunkBytes, file.bytes - offset)), '\0');
  in.seekg(offset);
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (!in || in.gcount() != static_cast<std::streamsize>(data.size())) {
    return Status::IOError("cannot read model file " + file.path);
  }
  return data;
}

}  // namespace

void Dispatcher::HandleFetch(const std::string& identity, const std::string& body) {
  auto fetch = DecodeFetch(body);
  if (Malformed(fetch.status(), "FETCH", identity)) return;
  ChunkMsg chunk;
  chunk.job_id = fetch->job_id;
  chunk.attempt = fetch->attempt;
  chunk.offset = fetch->offset;
  auto it = jobs_.find(fetch->job_id);
  const bool holds = it != jobs_.end() && it->second.job.state == JobState::kLeased &&
                     it->second.identity == identity &&
                     it->second.job.spec.attempt == fetch->attempt;
  if (!holds) {
    chunk.error = "job " + std::to_string(fetch->job_id) + " attempt " +
                  std::to_string(fetch->attempt) + " is not leased to this agent";
  } else if (it->second.job.spec.graph.model_file.empty()) {
    chunk.error = "job " + std::to_string(fetch->job_id) + " has no model file";
  } else {
    const ModelFile& file = it->second.job.spec.graph.model_file;
    chunk.total = file.bytes;
    Result<std::string> data = ReadPart(file, fetch->offset);
    if (data.ok()) {
      chunk.data = std::move(data).value();
      // The lease runs from the last part served: a large file on a slow link is progress.
      it->second.deadline =
          std::max(it->second.deadline,
                   clock_.NowSeconds() +
                       static_cast<double>(std::max<int64_t>(it->second.job.spec.lease_ms, 1000)) /
                           1000.0);
    } else {
      chunk.error = data.status().message();
      spdlog::warn("controller: job {}: {}", fetch->job_id, chunk.error);
    }
  }
  SendTo(identity, Command::kChunk, Encode(chunk));
}

}  // namespace wattfleet
