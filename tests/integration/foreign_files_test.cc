// Other people's files against the real binary: every command that opens a dataset, pointed at
// another application's SQLite database, at a file that is not SQLite, at a name that does
// not exist, or into a folder that does not exist. Each must exit 2, say what is wrong, and
// leave the file byte for byte as it was (and no new file or folder behind).
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "harness.h"
#include "wattfleet/store/store.h"

namespace wattfleet {
namespace {

using testing::Exists;
using testing::RunCli;
using testing::Slurp;
using testing::TempDir;

const std::string kSource = WATTFLEET_SOURCE_DIR;

// Another application's database built by `sql`; with `keep_wal`, closed the way an
// application that runs its own checkpoints closes it: its changes left in the -wal file.
void MakeDatabase(const std::string& path, const char* sql, bool keep_wal = false) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* err = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, &err), SQLITE_OK) << err;
  sqlite3_free(err);
  if (keep_wal) sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  sqlite3_close(db);
}

// An SQLite file of another application: a table and a row, and optionally its own
// application_id.
void MakeForeignDatabase(const std::string& path, int32_t application_id) {
  std::string sql = "CREATE TABLE notes(id INTEGER PRIMARY KEY, text TEXT);"
                    "INSERT INTO notes(text) VALUES('groceries');";
  if (application_id != 0) sql += "PRAGMA application_id = " + std::to_string(application_id) + ";";
  MakeDatabase(path, sql.c_str());
}

std::vector<std::string> Listing(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Every command that opens `db`, as a user would type it.
std::vector<std::vector<std::string>> Commands(const std::string& db, const std::string& dir) {
  return {
      {"run", kSource + "/experiments/quickstart.yaml", "--agents", "1", "--db", db},
      {"export", "--db", db, "--format", "csv", "--out", dir + "/out.csv"},
      {"fit", "--db", db},
      {"predict", "--db", db, "--arch", "lenet5", "--device", "cpu"},
      {"report", "--db", db, "--out", dir + "/report.html"},
      {"import", "--db", db, "--mapping", dir + "/map.yaml"},
  };
}

class ForeignFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::ofstream(tmp_.File("ops.csv")) << "op,flops,ms\nmatmul,2e9,4\n";
    std::ofstream(tmp_.File("map.yaml")) << "source: toy\n"
                                            "csv: ops.csv\n"
                                            "device: {name: gpu-a, peak_flops: 10e12}\n"
                                            "record:\n"
                                            "  kind: operation\n"
                                            "  name: \"{op}\"\n"
                                            "  flops: flops\n"
                                            "  time_s: ms / 1000\n";
  }
  // A log outside the directory under watch.
  std::string Log(int n) {
    return "/tmp/wattfleet-foreign-" + std::to_string(::getpid()) + "-" + std::to_string(n) +
           ".log";
  }
  // Runs every command against `db` (already there, or not), expecting exit 2, a message
  // containing `says`, and the directory (and the file's bytes) unchanged.
  void ExpectRefusedEverywhere(const std::string& db, const std::string& says) {
    const bool existed = Exists(db);
    const std::string before = existed ? Slurp(db) : "";
    const std::vector<std::string> listing = Listing(tmp_.path());
    int n = 0;
    for (const auto& args : Commands(db, tmp_.path())) {
      const std::string log = Log(n++);
      const int code = RunCli(args, log, 120);
      const std::string output = Slurp(log);
      ::unlink(log.c_str());
      EXPECT_EQ(code, 2) << args[0] << ": " << output;
      EXPECT_NE(output.find(says), std::string::npos) << args[0] << ": " << output;
      EXPECT_EQ(Listing(tmp_.path()), listing) << args[0] << " left files behind";
      if (existed) {
        EXPECT_TRUE(Slurp(db) == before) << args[0] << " changed " << db;
      } else {
        EXPECT_FALSE(Exists(db)) << args[0] << " created " << db;
      }
    }
  }
  TempDir tmp_;
};

TEST_F(ForeignFilesTest, AnotherApplicationsDatabaseIsLeftAlone) {
  const std::string db = tmp_.File("notes.sqlite");
  MakeForeignDatabase(db, 0);
  ExpectRefusedEverywhere(db, "not a wattfleet dataset");
}

TEST_F(ForeignFilesTest, ADatabaseMarkedByAnotherApplicationIsLeftAlone) {
  const std::string db = tmp_.File("marked.sqlite");
  MakeForeignDatabase(db, 0x12345678);
  ExpectRefusedEverywhere(db, "application_id 0x12345678");
}

// A name that LIKE 'sqlite_%' would have taken for one of SQLite's own tables.
TEST_F(ForeignFilesTest, ATableNamedLikeSqlitesOwnIsAnotherApplicationsToo) {
  const std::string db = tmp_.File("browser.sqlite");
  MakeDatabase(db, "CREATE TABLE sqlitebrowser_cfg(k, v);"
                   "INSERT INTO sqlitebrowser_cfg VALUES('font', 'mono');");
  ExpectRefusedEverywhere(db, "sqlitebrowser_cfg");
}

// A WAL database whose writer keeps its changes in the -wal file: closing our connection
// must not checkpoint it into the main file, nor delete the -wal.
TEST_F(ForeignFilesTest, AnotherApplicationsWalIsNeitherCheckpointedNorDeleted) {
  const std::string db = tmp_.File("journal.sqlite");
  MakeDatabase(db, "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;"
                   "CREATE TABLE notes(text); INSERT INTO notes VALUES('kept in the wal');",
               /*keep_wal=*/true);
  ASSERT_TRUE(Exists(db + "-wal"));
  const std::string wal = Slurp(db + "-wal");
  ASSERT_FALSE(wal.empty());
  ExpectRefusedEverywhere(db, "not a wattfleet dataset");
  ASSERT_TRUE(Exists(db + "-wal")) << "the -wal was checkpointed and deleted";
  EXPECT_TRUE(Slurp(db + "-wal") == wal);
}

// A WAL database closed cleanly has no -wal or -shm; opening it makes SQLite create both.
// They are removed again when the file turns out to be someone else's (the listing check).
TEST_F(ForeignFilesTest, ProbingAClosedWalDatabaseLeavesNoFilesBesideIt) {
  const std::string db = tmp_.File("closed.sqlite");
  MakeDatabase(db, "PRAGMA journal_mode = WAL; CREATE TABLE notes(text);"
                   "INSERT INTO notes VALUES('kept');");
  ASSERT_FALSE(Exists(db + "-wal"));
  ASSERT_FALSE(Exists(db + "-shm"));
  ExpectRefusedEverywhere(db, "not a wattfleet dataset");
}

TEST_F(ForeignFilesTest, AFileThatIsNotSqliteIsLeftAlone) {
  const std::string db = tmp_.File("thesis.txt");
  {
    std::ofstream f(db);
    for (int i = 0; i < 200; ++i) f << "Chapter " << i << ": not a database at all.\n";
  }
  ExpectRefusedEverywhere(db, "not an SQLite database");
}

TEST_F(ForeignFilesTest, ReadingCommandsNeverCreateADataset) {
  const std::string db = tmp_.File("typo.db");
  const std::vector<std::string> listing = Listing(tmp_.path());
  int n = 0;
  for (const auto& args : Commands(db, tmp_.path())) {
    if (args[0] == "run" || args[0] == "import") continue;  // these start datasets
    const std::string log = Log(n++);
    const int code = RunCli(args, log, 60);
    const std::string output = Slurp(log);
    ::unlink(log.c_str());
    EXPECT_EQ(code, 2) << args[0] << ": " << output;
    EXPECT_NE(output.find("no such dataset"), std::string::npos) << args[0] << ": " << output;
    EXPECT_FALSE(Exists(db)) << args[0] << " created " << db;
    EXPECT_EQ(Listing(tmp_.path()), listing) << args[0];
  }
}

TEST_F(ForeignFilesTest, AMissingFolderIsAnErrorUnlessAskedFor) {
  const std::string db = tmp_.File("typo-dir/sub/q.db");
  const int code = RunCli({"run", kSource + "/experiments/quickstart.yaml", "--agents", "1",
                           "--db", db},
                          tmp_.File("run.log"), 60);
  EXPECT_EQ(code, 2) << Slurp(tmp_.File("run.log"));
  EXPECT_NE(Slurp(tmp_.File("run.log")).find("--mkdir"), std::string::npos);
  EXPECT_FALSE(Exists(tmp_.File("typo-dir")));

  // serve and import on a dataset in a folder that is not there: refused, nothing created.
  ASSERT_EQ(RunCli({"serve", "--db", db, "--bind", "tcp://127.0.0.1:*"},
                   tmp_.File("serve.log"), 60),
            2)
      << Slurp(tmp_.File("serve.log"));
  ASSERT_EQ(RunCli({"import", "--db", db, "--mapping", tmp_.File("map.yaml")},
                   tmp_.File("import.log"), 60),
            2)
      << Slurp(tmp_.File("import.log"));
  EXPECT_FALSE(Exists(tmp_.File("typo-dir")));

  // export into a folder that is not there: refused, nothing created.
  const std::string real = tmp_.File("real.db");
  ASSERT_TRUE(OpenSqliteStore(real).ok());
  ASSERT_EQ(RunCli({"export", "--db", real, "--out", tmp_.File("nowhere/x.csv")},
                   tmp_.File("export.log"), 60),
            2);
  EXPECT_FALSE(Exists(tmp_.File("nowhere")));
}

}  // namespace
}  // namespace wattfleet
