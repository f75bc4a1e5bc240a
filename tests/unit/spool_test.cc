// The result spool on a real temporary directory: round trip, reopen, ordering, atomicity
// leftovers and corrupt files.
#include "wattfleet/link/spool.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace wattfleet {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "wf_spool_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

JobResult Done(int64_t job, int32_t attempt, double energy = 0.25) {
  JobResult r;
  r.job_id = job;
  r.attempt = attempt;
  r.outcome = Outcome::kDone;
  r.measurement.sensor = "modeled";
  r.measurement.domain = "cpu-estimate";
  r.measurement.energy_is_estimate = true;
  r.measurement.repeats = {{100, 0.5, 12.5}, {100, 0.51, 12.75}};
  r.measurement.iterations_per_window = 100;
  r.measurement.time_per_iter_s = 0.005;  // DecodeJobResult refuses DONE without positive figures
  r.measurement.energy_per_iter_j = energy;
  r.measurement.agent_name = "agent-1";
  return r;
}

JobResult Failed(int64_t job, int32_t attempt) {
  JobResult r;
  r.job_id = job;
  r.attempt = attempt;
  r.outcome = Outcome::kSensor;
  r.error = "sensor: window 1 read zero";
  return r;
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name != ".spool-key") out.push_back(name);  // the spool's key, always there
  }
  std::sort(out.begin(), out.end());
  return out;
}

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

TEST(Spool, OpenCreatesParents) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/a/b/c";
  auto spool = Spool::Open(dir);
  ASSERT_TRUE(spool.ok()) << spool.status().ToString();
  EXPECT_TRUE(fs::is_directory(dir));
  EXPECT_EQ(spool->dir(), dir);
  EXPECT_TRUE(spool->List().empty());
  // Opening an existing directory is fine too.
  EXPECT_TRUE(Spool::Open(dir).ok());
}

TEST(Spool, OpenFailsNamingTheDirectory) {
  TempDir tmp;
  const std::string file = tmp.path() + "/plainfile";
  WriteFile(file, "x");
  auto s = Spool::Open(file);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(file), std::string::npos) << s.status().message();

  auto under = Spool::Open(file + "/sub");
  ASSERT_FALSE(under.ok());
  EXPECT_NE(under.status().message().find(file + "/sub"), std::string::npos);

  EXPECT_FALSE(Spool::Open("").ok());
}

TEST(Spool, PutListRemoveRoundTrip) {
  TempDir tmp;
  auto spool = Spool::Open(tmp.path());
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE(spool->Put(Done(7, 1)).ok());
  ASSERT_TRUE(spool->Put(Failed(8, 2)).ok());
  EXPECT_EQ(Names(tmp.path()), (std::vector<std::string>{"7-1.result", "8-2.result"}));

  std::vector<std::string> errors;
  auto all = spool->List(&errors);
  EXPECT_TRUE(errors.empty()) << ::testing::PrintToString(errors);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].job_id, 7);
  EXPECT_EQ(all[0].attempt, 1);
  EXPECT_EQ(all[0].outcome, Outcome::kDone);
  EXPECT_EQ(all[0].measurement.sensor, "modeled");
  EXPECT_EQ(all[0].measurement.domain, "cpu-estimate");
  EXPECT_TRUE(all[0].measurement.energy_is_estimate);
  EXPECT_EQ(all[0].measurement.agent_name, "agent-1");
  EXPECT_DOUBLE_EQ(all[0].measurement.energy_per_iter_j, 0.25);
  ASSERT_EQ(all[0].measurement.repeats.size(), 2u);
  EXPECT_DOUBLE_EQ(all[0].measurement.repeats[1].energy_j, 12.75);
  EXPECT_EQ(all[1].job_id, 8);
  EXPECT_EQ(all[1].outcome, Outcome::kSensor);
  EXPECT_EQ(all[1].error, "sensor: window 1 read zero");

  ASSERT_TRUE(spool->Remove(7, 1).ok());
  all = spool->List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].job_id, 8);
  EXPECT_TRUE(spool->Remove(7, 1).ok()) << "removing an absent result is OK";
  EXPECT_TRUE(spool->Remove(99, 3).ok());
  ASSERT_TRUE(spool->Remove(8, 2).ok());
  EXPECT_TRUE(spool->List().empty());
  EXPECT_TRUE(Names(tmp.path()).empty());
}

TEST(Spool, PutOverwritesTheSameAttempt) {
  TempDir tmp;
  auto spool = Spool::Open(tmp.path());
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE(spool->Put(Done(3, 1, 1.0)).ok());
  ASSERT_TRUE(spool->Put(Done(3, 1, 2.0)).ok());
  auto all = spool->List();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_DOUBLE_EQ(all[0].measurement.energy_per_iter_j, 2.0);
  EXPECT_EQ(Names(tmp.path()), std::vector<std::string>{"3-1.result"}) << "no .tmp left";
}

TEST(Spool, ListsOldestJobFirstThenAttempt) {
  TempDir tmp;
  auto spool = Spool::Open(tmp.path());
  ASSERT_TRUE(spool.ok());
  // Lexical order of the file names would put 10 before 3 and 5.
  for (auto [job, attempt] : std::vector<std::pair<int64_t, int32_t>>{
           {10, 1}, {5, 2}, {3, 1}, {5, 1}, {100, 1}, {5, 10}}) {
    ASSERT_TRUE(spool->Put(Done(job, attempt)).ok());
  }
  auto all = spool->List();
  std::vector<std::pair<int64_t, int32_t>> got;
  for (const auto& r : all) got.emplace_back(r.job_id, r.attempt);
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, int32_t>>{
                     {3, 1}, {5, 1}, {5, 2}, {5, 10}, {10, 1}, {100, 1}}));
}

TEST(Spool, SurvivesReopen) {
  TempDir tmp;
  {
    auto spool = Spool::Open(tmp.path());
    ASSERT_TRUE(spool.ok());
    ASSERT_TRUE(spool->Put(Done(1, 1)).ok());
    ASSERT_TRUE(spool->Put(Done(2, 1)).ok());
  }
  auto again = Spool::Open(tmp.path());
  ASSERT_TRUE(again.ok());
  auto all = again->List();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].job_id, 1);
  EXPECT_EQ(all[1].job_id, 2);
}

TEST(Spool, StrayTemporaryFilesAreIgnoredAndDiscardedOnOpen) {
  TempDir tmp;
  auto spool = Spool::Open(tmp.path());
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE(spool->Put(Done(1, 1)).ok());
  // A crash between write and rename leaves a .tmp that was never acknowledged.
  WriteFile(tmp.path() + "/2-1.result.tmp", "half-writ");
  std::vector<std::string> errors;
  auto all = spool->List(&errors);
  EXPECT_TRUE(errors.empty());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(fs::exists(tmp.path() + "/2-1.result.tmp")) << "List does not touch .tmp files";

  auto reopened = Spool::Open(tmp.path());
  ASSERT_TRUE(reopened.ok());
  EXPECT_EQ(Names(tmp.path()), std::vector<std::string>{"1-1.result"});
  EXPECT_EQ(reopened->List().size(), 1u);
}

TEST(Spool, CorruptFilesAreMovedAsideAndReported) {
  TempDir tmp;
  auto spool = Spool::Open(tmp.path());
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE(spool->Put(Done(1, 1)).ok());
  ASSERT_TRUE(spool->Put(Done(3, 1)).ok());
  WriteFile(tmp.path() + "/2-1.result", "\xff\x00garbage");
  WriteFile(tmp.path() + "/4-1.result", "");
  // A valid body under the wrong name must not be replayed as another job.
  fs::copy_file(tmp.path() + "/1-1.result", tmp.path() + "/5-1.result");
  WriteFile(tmp.path() + "/junk.result", "whatever");
  WriteFile(tmp.path() + "/README", "not a result: left alone");

  std::vector<std::string> errors;
  auto all = spool->List(&errors);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].job_id, 1);
  EXPECT_EQ(all[1].job_id, 3);
  ASSERT_EQ(errors.size(), 4u);
  for (const char* name : {"2-1.result", "4-1.result", "5-1.result", "junk.result"}) {
    const std::string path = tmp.path() + "/" + name;
    bool reported = false;
    for (const auto& e : errors) reported = reported || e.find(path) != std::string::npos;
    EXPECT_TRUE(reported) << name;
    EXPECT_FALSE(fs::exists(path)) << name;
    EXPECT_TRUE(fs::exists(path + ".corrupt")) << name << " is kept for inspection";
  }
  EXPECT_TRUE(fs::exists(tmp.path() + "/README"));

  errors.clear();
  EXPECT_EQ(spool->List(&errors).size(), 2u);
  EXPECT_TRUE(errors.empty()) << "moved aside once, not reported forever";
  EXPECT_EQ(spool->List().size(), 2u) << "errors may be omitted";
}

TEST(Spool, AnEditedRecordIsRefusedAndItsJobReportedForAnotherMeasurement) {
  TempDir tmp;
  auto spool = Spool::Open(tmp.path());
  ASSERT_TRUE(spool.ok()) << spool.status().ToString();
  ASSERT_TRUE(spool->Put(Done(7, 2, /*energy=*/0.000885)).ok());
  ASSERT_TRUE(spool->Put(Done(8, 1)).ok());
  // Someone multiplies the measured energy by 1000 in place: same length, valid encoding.
  const std::string path = tmp.path() + "/7-2.result";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // msgpack float64: big-endian IEEE 754.
  auto big_endian = [](double v) {
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof bits);
    std::string out(8, '\0');
    for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((bits >> (56 - 8 * i)) & 0xff);
    return out;
  };
  const std::string needle = big_endian(0.000885), patch = big_endian(0.885);
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos) << "the energy is not where the test expects it";
  bytes.replace(at, 8, patch);
  WriteFile(path, bytes);

  std::vector<std::string> errors;
  std::vector<SpoolRejection> rejected;
  auto all = spool->List(&errors, &rejected);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].job_id, 8);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].job_id, 7);
  EXPECT_EQ(rejected[0].attempt, 2);
  EXPECT_NE(rejected[0].why.find("integrity"), std::string::npos) << rejected[0].why;
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(path), std::string::npos) << errors[0];
  EXPECT_TRUE(fs::exists(path + ".corrupt"));
}

TEST(Spool, TheKeyIsPrivateStableAndAKeyThatIsNotOneIsAnError) {
  TempDir tmp;
  {
    auto spool = Spool::Open(tmp.path());
    ASSERT_TRUE(spool.ok());
    ASSERT_TRUE(spool->Put(Done(1, 1)).ok());
  }
  const std::string key = tmp.path() + "/.spool-key";
  struct stat st {};
  ASSERT_EQ(::stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Reopened (a restarted agent): the same key verifies what was spooled before.
  auto again = Spool::Open(tmp.path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->List().size(), 1u);
  // A record written before records carried a tag is not trusted either.
  WriteFile(tmp.path() + "/2-1.result", std::string("\x85\xa6job_id\x02"));
  std::vector<SpoolRejection> rejected;
  EXPECT_EQ(again->List(nullptr, &rejected).size(), 1u);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].job_id, 2);

  WriteFile(key, "short");
  auto broken = Spool::Open(tmp.path());
  ASSERT_FALSE(broken.ok());
  EXPECT_NE(broken.status().message().find(key), std::string::npos)
      << broken.status().message();
}

// A spool another user could write in, or one another user made first (the default spool
// without a home folder is in /tmp), is refused: its records and key are not the agent's.
TEST(Spool, AFolderOthersMayWriteOrOwnIsRefused) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/shared";
  ASSERT_EQ(::mkdir(dir.c_str(), 0777), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);  // past the umask
  auto open = Spool::Open(dir);
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("can be written by other users (mode 0777)"),
            std::string::npos)
      << open.status().message();
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);
  EXPECT_TRUE(Spool::Open(dir).ok());
  // A folder of another user's: only root can make one here.
  if (::geteuid() == 0) {
    const std::string theirs = tmp.path() + "/theirs";
    ASSERT_EQ(::mkdir(theirs.c_str(), 0700), 0);
    ASSERT_EQ(::chown(theirs.c_str(), 65534, 65534), 0);
    auto refused = Spool::Open(theirs);
    ASSERT_FALSE(refused.ok());
    EXPECT_NE(refused.status().message().find("belongs to user 65534"), std::string::npos)
        << refused.status().message();
  }
  // Folders it makes are private.
  const std::string made = tmp.path() + "/new/spool";
  ASSERT_TRUE(Spool::Open(made).ok());
  struct stat st {};
  ASSERT_EQ(::stat(made.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
}

TEST(Spool, AKeyOthersCanReadIsRefused) {
  TempDir tmp;
  {
    auto spool = Spool::Open(tmp.path());
    ASSERT_TRUE(spool.ok());
    ASSERT_TRUE(spool->Put(Done(1, 1)).ok());
  }
  const std::string key = tmp.path() + "/.spool-key";
  ASSERT_EQ(::chmod(key.c_str(), 0644), 0);
  auto open = Spool::Open(tmp.path());
  ASSERT_FALSE(open.ok());
  EXPECT_NE(open.status().message().find("can be read by other users"), std::string::npos)
      << open.status().message();
  EXPECT_NE(open.status().message().find("mode 0644"), std::string::npos);
  // A key that is a link (to a key someone else controls) is not the spool's either.
  ASSERT_EQ(::chmod(key.c_str(), 0600), 0);
  ASSERT_EQ(::rename(key.c_str(), (tmp.path() + "/elsewhere").c_str()), 0);
  ASSERT_EQ(::symlink((tmp.path() + "/elsewhere").c_str(), key.c_str()), 0);
  EXPECT_FALSE(Spool::Open(tmp.path()).ok());
}

// Files in the spool that are not records: a FIFO would hold the agent before READY, a link
// to /dev/zero would be read until memory runs out, a huge file likewise. Each is refused and
// moved aside; the genuine record is still replayed.
TEST(Spool, FifosLinksAndHugeFilesAreRefusedWithoutHangingOrReadingThem) {
  TempDir tmp;
  auto spool = Spool::Open(tmp.path());
  ASSERT_TRUE(spool.ok());
  ASSERT_TRUE(spool->Put(Done(1, 1)).ok());
  ASSERT_EQ(::mkfifo((tmp.path() + "/2-1.result").c_str(), 0600), 0);
  ASSERT_EQ(::symlink("/dev/zero", (tmp.path() + "/3-1.result").c_str()), 0);
  {
    std::ofstream big(tmp.path() + "/4-1.result", std::ios::binary);
    big.seekp((32 << 20) - 1);
    big.put('\0');
  }
  std::vector<std::string> errors;
  std::vector<SpoolRejection> rejected;
  const auto listed = spool->List(&errors, &rejected);
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].job_id, 1);
  ASSERT_EQ(rejected.size(), 3u);
  std::vector<int64_t> jobs;
  for (const auto& r : rejected) jobs.push_back(r.job_id);
  std::sort(jobs.begin(), jobs.end());
  EXPECT_EQ(jobs, (std::vector<int64_t>{2, 3, 4}));
  std::string all;
  for (const auto& e : errors) all += e + "\n";
  EXPECT_NE(all.find("not a regular file"), std::string::npos) << all;
  EXPECT_NE(all.find("symbolic link"), std::string::npos) << all;
  EXPECT_NE(all.find("bytes, more than"), std::string::npos) << all;
  // Moved aside, so the next replay is clean.
  std::vector<std::string> again;
  EXPECT_EQ(spool->List(&again).size(), 1u);
  EXPECT_TRUE(again.empty());
}

TEST(Spool, PutFailsCleanlyWhenTheDirectoryIsReadOnly) {
  if (geteuid() == 0) GTEST_SKIP() << "root ignores directory permissions";
  TempDir tmp;
  auto spool = Spool::Open(tmp.path());
  ASSERT_TRUE(spool.ok());
  ASSERT_EQ(chmod(tmp.path().c_str(), 0555), 0);
  Status s = spool->Put(Done(1, 1));
  chmod(tmp.path().c_str(), 0755);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(tmp.path()), std::string::npos) << s.message();
  EXPECT_TRUE(Names(tmp.path()).empty());
}

TEST(Spool, PutFailsNamingThePathWhenTheDirectoryVanished) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/spool";
  auto spool = Spool::Open(dir);
  ASSERT_TRUE(spool.ok());
  fs::remove_all(dir);
  Status s = spool->Put(Done(1, 1));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find(dir + "/1-1.result"), std::string::npos) << s.message();
  std::vector<std::string> errors;
  EXPECT_TRUE(spool->List(&errors).empty());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find(dir), std::string::npos) << errors[0];
}

}  // namespace
}  // namespace wattfleet
