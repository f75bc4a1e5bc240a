// The queue of one device class: one FIFO per campaign, served round-robin so that several
// campaigns share the class's agents fairly (a large campaign submitted first does not starve
// a small one submitted after it).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>

namespace wattfleet {

class JobQueue {
 public:
  enum class Verdict {
    kTake,  // hand this job out now
    kSkip,  // not for this agent: leave it in place
    kDrop,  // no longer queued (ended, cancelled, already leased): forget it
  };

  void PushBack(int64_t campaign, int64_t job_id) { fifo_[campaign].push_back(job_id); }
  // Retries go first within their campaign.
  void PushFront(int64_t campaign, int64_t job_id) { fifo_[campaign].push_front(job_id); }

  // The next job that `judge` takes, visiting campaigns round-robin from the one after the
  // last served, and at most `scan` jobs deep in each campaign. Removes what it takes or
  // drops.
  std::optional<int64_t> Next(const std::function<Verdict(int64_t)>& judge, size_t scan = 64);

  // Jobs held, dropped ones included until they are met.
  size_t size() const;
  bool empty() const { return size() == 0; }

 private:
  std::map<int64_t, std::deque<int64_t>> fifo_;  // campaign -> job ids
  int64_t last_campaign_ = -1;                   // served last
};

}  // namespace wattfleet
