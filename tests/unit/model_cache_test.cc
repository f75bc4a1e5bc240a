// The agent's model files: a job naming a file the agent lacks waits while the file is
// fetched a part at a time, the copy is checked against the campaign's checksum, and later
// jobs reuse it; a wrong copy, a controller's refusal or silence fail the waiting jobs.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "wattfleet/link/model_cache.h"
#include "temp_dir.h"
#include "wattfleet/common/sha256.h"

namespace wattfleet {
namespace {

JobSpec ModelJob(int64_t id, const std::string& bytes) {
  JobSpec job;
  job.job_id = id;
  job.attempt = 1;
  job.kind = JobKind::kModel;
  job.subject = "net.pt";
  job.graph.model_file =
      ModelFile{"torchscript", "/controller/net.pt", Sha256Hex(bytes),
                static_cast<int64_t>(bytes.size())};
  return job;
}

ChunkMsg Part(const FetchMsg& f, const std::string& bytes) {
  ChunkMsg c;
  c.job_id = f.job_id;
  c.attempt = f.attempt;
  c.offset = f.offset;
  c.total = static_cast<int64_t>(bytes.size());
  c.data = bytes.substr(static_cast<size_t>(f.offset),
                        static_cast<size_t>(kModelChunkBytes));
  return c;
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ModelCacheTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  ModelCache cache_{tmp_.File("models")};
  // Larger than one part: the fetch takes three.
  std::string bytes_ = std::string(static_cast<size_t>(2 * kModelChunkBytes + 123), 'w');
};

TEST_F(ModelCacheTest, AJobWithoutAFileIsReadyAsItIs) {
  JobSpec job;
  job.job_id = 7;
  ModelCache::Step step = cache_.Accept(job, 0);
  ASSERT_EQ(step.ready.size(), 1u);
  EXPECT_FALSE(step.fetch.has_value());
  EXPECT_TRUE(cache_.empty());
}

TEST_F(ModelCacheTest, AFileIsFetchedInPartsCheckedAndReused) {
  bytes_[5] = 'x';  // not all one byte: an offset error would show in the checksum
  ModelCache::Step step = cache_.Accept(ModelJob(1, bytes_), 0);
  EXPECT_TRUE(step.ready.empty());
  ASSERT_TRUE(step.fetch.has_value());
  EXPECT_EQ(step.fetch->job_id, 1);
  EXPECT_EQ(step.fetch->offset, 0);
  // A second job of the same file waits on the same download: no second fetch.
  ModelCache::Step second = cache_.Accept(ModelJob(2, bytes_), 0);
  EXPECT_FALSE(second.fetch.has_value());
  EXPECT_TRUE(second.ready.empty());
  int parts = 0;
  while (step.fetch) {
    ++parts;
    step = cache_.OnChunk(Part(*step.fetch, bytes_), 1);
    ASSERT_TRUE(step.failed.empty()) << step.failed.front().error;
  }
  EXPECT_EQ(parts, 3);
  ASSERT_EQ(step.ready.size(), 2u);
  const std::string local = step.ready[0].graph.model_file.path;
  EXPECT_EQ(local, cache_.PathOf(Sha256Hex(bytes_)));
  EXPECT_EQ(step.ready[1].graph.model_file.path, local);
  EXPECT_EQ(Slurp(local), bytes_);
  EXPECT_FALSE(std::filesystem::exists(local + ".part"));
  EXPECT_EQ(std::filesystem::status(tmp_.File("models")).permissions() &
                std::filesystem::perms::all,
            std::filesystem::perms::owner_all);
  EXPECT_TRUE(cache_.empty());
  // A later job of the file runs the copy at once.
  ModelCache::Step later = cache_.Accept(ModelJob(3, bytes_), 2);
  ASSERT_EQ(later.ready.size(), 1u);
  EXPECT_FALSE(later.fetch.has_value());
  EXPECT_EQ(later.ready[0].graph.model_file.path, local);
}

TEST_F(ModelCacheTest, ACopyThatDoesNotMatchTheChecksumFailsItsJobs) {
  ModelCache::Step step = cache_.Accept(ModelJob(1, bytes_), 0);
  std::string other = bytes_;
  other.back() = 'z';  // the file changed on the controller's host, same size
  while (step.fetch) step = cache_.OnChunk(Part(*step.fetch, other), 1);
  ASSERT_EQ(step.failed.size(), 1u);
  EXPECT_EQ(step.failed[0].outcome, Outcome::kFailed);
  EXPECT_NE(step.failed[0].error.find("checksum"), std::string::npos) << step.failed[0].error;
  EXPECT_TRUE(step.ready.empty());
  EXPECT_FALSE(std::filesystem::exists(cache_.PathOf(Sha256Hex(bytes_))));
  EXPECT_FALSE(std::filesystem::exists(cache_.PathOf(Sha256Hex(bytes_)) + ".part"));
}

TEST_F(ModelCacheTest, TheControllersRefusalFailsEveryWaitingJob) {
  ModelCache::Step step = cache_.Accept(ModelJob(1, bytes_), 0);
  (void)cache_.Accept(ModelJob(2, bytes_), 0);
  ChunkMsg refusal;
  refusal.job_id = 1;
  refusal.attempt = 1;
  refusal.error = "model file /controller/net.pt has changed since the campaign was planned";
  step = cache_.OnChunk(refusal, 1);
  ASSERT_EQ(step.failed.size(), 2u);
  EXPECT_NE(step.failed[1].error.find("has changed"), std::string::npos);
  EXPECT_TRUE(cache_.empty());
}

TEST_F(ModelCacheTest, PartsOutOfOrderOrForAnotherJobAreNotWritten) {
  ModelCache::Step step = cache_.Accept(ModelJob(1, bytes_), 0);
  FetchMsg elsewhere = *step.fetch;
  elsewhere.job_id = 99;  // a late answer for a download long gone
  EXPECT_TRUE(cache_.OnChunk(Part(elsewhere, bytes_), 1).failed.empty());
  FetchMsg skipped = *step.fetch;
  skipped.offset = kModelChunkBytes;  // not the part asked for
  ModelCache::Step bad = cache_.OnChunk(Part(skipped, bytes_), 1);
  ASSERT_EQ(bad.failed.size(), 1u);
  EXPECT_NE(bad.failed[0].error.find("expected 0"), std::string::npos) << bad.failed[0].error;
}

TEST_F(ModelCacheTest, ASilentControllerTimesTheJobsOut) {
  (void)cache_.Accept(ModelJob(1, bytes_), 100);
  EXPECT_TRUE(cache_.Expire(150, 60).failed.empty());
  ModelCache::Step step = cache_.Expire(161, 60);
  ASSERT_EQ(step.failed.size(), 1u);
  EXPECT_EQ(step.failed[0].outcome, Outcome::kTimeout);
  EXPECT_TRUE(cache_.empty());
}

}  // namespace
}  // namespace wattfleet
