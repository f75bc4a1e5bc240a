#include "wattfleet/dispatch/job_queue.h"

#include <gtest/gtest.h>

#include <set>

namespace wattfleet {
namespace {

using V = JobQueue::Verdict;

TEST(JobQueue, FifoWithinACampaign) {
  JobQueue q;
  for (int64_t id : {1, 2, 3}) q.PushBack(7, id);
  auto take = [](int64_t) { return V::kTake; };
  EXPECT_EQ(q.Next(take), 1);
  EXPECT_EQ(q.Next(take), 2);
  EXPECT_EQ(q.Next(take), 3);
  EXPECT_FALSE(q.Next(take).has_value());
  EXPECT_TRUE(q.empty());
}

TEST(JobQueue, CampaignsAreServedRoundRobin) {
  JobQueue q;
  for (int64_t id = 1; id <= 100; ++id) q.PushBack(1, id);  // a big campaign first
  for (int64_t id = 101; id <= 103; ++id) q.PushBack(2, id);  // a small one after it
  auto take = [](int64_t) { return V::kTake; };
  std::vector<int64_t> got;
  for (int i = 0; i < 6; ++i) got.push_back(*q.Next(take));
  EXPECT_EQ(got, (std::vector<int64_t>{1, 101, 2, 102, 3, 103}));
  EXPECT_EQ(q.Next(take), 4);
}

TEST(JobQueue, RetriesGoFirst) {
  JobQueue q;
  q.PushBack(1, 10);
  q.PushFront(1, 5);
  EXPECT_EQ(q.Next([](int64_t) { return V::kTake; }), 5);
}

TEST(JobQueue, SkippedJobsStayAndDroppedOnesGo) {
  JobQueue q;
  for (int64_t id : {1, 2, 3, 4}) q.PushBack(1, id);
  // Job 1 is not for this agent, job 2 has ended: the agent gets 3.
  auto judge = [](int64_t id) { return id == 1 ? V::kSkip : id == 2 ? V::kDrop : V::kTake; };
  EXPECT_EQ(q.Next(judge), 3);
  EXPECT_EQ(q.size(), 2u);  // 1 and 4
  EXPECT_EQ(q.Next([](int64_t) { return V::kTake; }), 1);
}

TEST(JobQueue, ScanDepthBoundsTheSearch) {
  JobQueue q;
  for (int64_t id = 1; id <= 10; ++id) q.PushBack(1, id);
  auto only_ten = [](int64_t id) { return id == 10 ? V::kTake : V::kSkip; };
  EXPECT_FALSE(q.Next(only_ten, /*scan=*/5).has_value());
  EXPECT_EQ(q.Next(only_ten, /*scan=*/64), 10);
}

TEST(JobQueue, NothingAcceptableLeavesTheQueueIntact) {
  JobQueue q;
  q.PushBack(1, 1);
  q.PushBack(2, 2);
  EXPECT_FALSE(q.Next([](int64_t) { return V::kSkip; }).has_value());
  EXPECT_EQ(q.size(), 2u);
}

}  // namespace
}  // namespace wattfleet
