#include "wattfleet/dispatch/job_queue.h"

#include <vector>

namespace wattfleet {

std::optional<int64_t> JobQueue::Next(const std::function<Verdict(int64_t)>& judge,
                                      size_t scan) {
  if (fifo_.empty()) return std::nullopt;
  // Campaigns in round-robin order: those after the last served, then the rest.
  std::vector<int64_t> order;
  order.reserve(fifo_.size());
  for (auto it = fifo_.upper_bound(last_campaign_); it != fifo_.end(); ++it) {
    order.push_back(it->first);
  }
  for (auto it = fifo_.begin(); it != fifo_.end() && it->first <= last_campaign_; ++it) {
    order.push_back(it->first);
  }
  for (int64_t campaign : order) {
    auto& q = fifo_[campaign];
    size_t looked = 0;
    for (size_t i = 0; i < q.size() && looked < scan;) {
      const int64_t id = q[i];
      const Verdict v = judge(id);
      if (v == Verdict::kSkip) {
        ++i;
        ++looked;
        continue;
      }
      q.erase(q.begin() + static_cast<std::ptrdiff_t>(i));
      if (v == Verdict::kTake) {
        last_campaign_ = campaign;
        if (q.empty()) fifo_.erase(campaign);
        return id;
      }
    }
    if (q.empty()) fifo_.erase(campaign);
  }
  return std::nullopt;
}

size_t JobQueue::size() const {
  size_t n = 0;
  for (const auto& [c, q] : fifo_) n += q.size();
  return n;
}

}  // namespace wattfleet
