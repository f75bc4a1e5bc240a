// The exec-worker: the child process that actually runs jobs (`wattfleet-agent exec-worker`).
//
// Protocol on its stdin/stdout: frames of a 4-byte little-endian length and a body. The parent
// sends a JobSpec (protocol.h's Encode), the worker answers with a JobResult, one job at a
// time. EOF on stdin ends the worker. Logs go to stderr.
#pragma once

#include <cstdint>
#include <string>

#include "wattfleet/run/job_runner.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

// Frame I/O on file descriptors. ReadFrame waits at most `timeout_s` (negative: forever);
// Timeout when it runs out, Unavailable on EOF.
Status WriteFrame(int fd, const std::string& body);
Result<std::string> ReadFrame(int fd, double timeout_s);

// Serves jobs from stdin through `runner` until EOF. Returns the process exit code.
int ServeExecWorker(JobRunner& runner);

}  // namespace wattfleet
