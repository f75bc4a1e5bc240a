// A stand-in for `wattfleet-agent exec-worker` behind the runner's command-line seam: it speaks
// the same stdin/stdout protocol but misbehaves on request, by the job's subject:
// "crash" aborts, "hang" never answers, "exit" exits 3, "garbage" answers with junk;
// anything else answers DONE with a small fixed measurement.
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "wattfleet/run/exec_worker.h"
#include "wattfleet/common/protocol.h"

int main() {
  using namespace wattfleet;
  for (;;) {
    auto frame = ReadFrame(STDIN_FILENO, -1);
    if (!frame.ok()) return 0;
    auto job = DecodeJob(*frame);
    if (!job.ok()) return 1;
    if (job->subject == "crash") std::abort();
    if (job->subject == "exit") std::_Exit(3);
    if (job->subject == "hang") {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
    }
    if (job->subject == "garbage") {
      (void)WriteFrame(STDOUT_FILENO, "not a result");
      continue;
    }
    JobResult r;
    r.job_id = job->job_id;
    r.attempt = job->attempt;
    r.measurement.sensor = "fake";
    r.measurement.repeats = {{1, 0.01, 0.5}, {1, 0.01, 0.5}};
    r.measurement.time_per_iter_s = 0.01;
    r.measurement.energy_per_iter_j = 0.5;
    r.measurement.device = "pid-" + std::to_string(::getpid());
    if (!WriteFrame(STDOUT_FILENO, Encode(r)).ok()) return 1;
  }
}
