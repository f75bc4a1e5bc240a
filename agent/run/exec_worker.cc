#include "wattfleet/run/exec_worker.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

// A job spec or a result is far below this; a larger length is a broken stream.
constexpr uint32_t kMaxFrame = 64u << 20;

Status WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, data, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("pipe write: ") + std::strerror(errno));
    }
    data += w;
    n -= static_cast<size_t>(w);
  }
  return Status::OK();
}

// Reads exactly n bytes before `deadline` (steady clock seconds; negative: none).
Status ReadAll(int fd, char* data, size_t n, double deadline) {
  using Clock = std::chrono::steady_clock;
  while (n > 0) {
    int wait_ms = -1;
    if (deadline >= 0) {
      const double left =
          deadline - std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
      if (left <= 0) return Status::Timeout("no answer in time");
      wait_ms = static_cast<int>(left * 1000) + 1;
    }
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, wait_ms);
    if (r < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(std::string("pipe poll: ") + std::strerror(errno));
    }
    if (r == 0) continue;  // the deadline check above decides
    const ssize_t got = ::read(fd, data, n);
    if (got < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return Status::IOError(std::string("pipe read: ") + std::strerror(errno));
    }
    if (got == 0) return Status::Unavailable("end of stream");
    data += got;
    n -= static_cast<size_t>(got);
  }
  return Status::OK();
}

}  // namespace

Status WriteFrame(int fd, const std::string& body) {
  const auto n = static_cast<uint32_t>(body.size());
  const char header[4] = {static_cast<char>(n & 0xff), static_cast<char>((n >> 8) & 0xff),
                          static_cast<char>((n >> 16) & 0xff), static_cast<char>(n >> 24)};
  WF_RETURN_IF_ERROR(WriteAll(fd, header, 4));
  return WriteAll(fd, body.data(), body.size());
}

Result<std::string> ReadFrame(int fd, double timeout_s) {
  const double deadline =
      timeout_s < 0 ? -1
                    : std::chrono::duration<double>(
                          std::chrono::steady_clock::now().time_since_epoch())
                              .count() +
                          timeout_s;
  unsigned char header[4];
  WF_RETURN_IF_ERROR(ReadAll(fd, reinterpret_cast<char*>(header), 4, deadline));
  const uint32_t n = header[0] | (header[1] << 8) | (header[2] << 16) |
                     (static_cast<uint32_t>(header[3]) << 24);
  if (n > kMaxFrame) return Status::Corruption("frame of " + std::to_string(n) + " bytes");
  std::string body(n, '\0');
  WF_RETURN_IF_ERROR(ReadAll(fd, body.data(), n, deadline));
  return body;
}

int ServeExecWorker(JobRunner& runner) {
  for (;;) {
    auto frame = ReadFrame(STDIN_FILENO, -1);
    if (!frame.ok()) return frame.status().code() == StatusCode::kUnavailable ? 0 : 1;
    JobResult result;
    auto job = DecodeJob(*frame);
    if (!job.ok()) {
      result.outcome = Outcome::kFailed;
      result.error = "exec-worker: " + job.status().message();
    } else {
      result = runner.Run(*job);
    }
    if (!WriteFrame(STDOUT_FILENO, Encode(result)).ok()) return 1;
  }
}

}  // namespace wattfleet
