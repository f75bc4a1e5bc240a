// `wattfleet project` (the real binary, controller/cli/cli_project.cc) on good and bad
// training logs.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../unit/temp_dir.h"
#include "../unit/training_series.h"
#include "process.h"

namespace wattfleet {
namespace {

using testing::Simulate;
using testing::TrainingRun;

// The real `wattfleet project`: exit code and everything it printed.
struct CliRun {
  int code = -1;
  std::string output;
};

CliRun Project(const testing::TempDir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> argv{WATTFLEET_BIN, "project"};
  argv.insert(argv.end(), args.begin(), args.end());
  static int runs = 0;
  const std::string log = dir.File("cli-" + std::to_string(++runs) + ".log");
  CliRun out;
  auto child = ChildProcess::Start(argv, log);
  if (!child.ok()) {
    ADD_FAILURE() << child.status().ToString();
    return out;
  }
  auto code = child->Wait(30);
  if (!code.ok()) {
    ADD_FAILURE() << "wattfleet project did not finish in 30 s";
    return out;
  }
  out.code = *code;
  std::ifstream in(log);
  std::stringstream ss;
  ss << in.rdbuf();
  out.output = ss.str();
  return out;
}

std::string Log(const std::vector<double>& energies, int64_t bad_line = -1) {
  std::ostringstream csv;
  csv << "iteration,energy_j,time_s\n";
  for (size_t i = 0; i < energies.size(); ++i) {
    // Line numbers: the header is line 1, iteration i is on line i + 2.
    csv << i << "," << (static_cast<int64_t>(i) + 2 == bad_line ? std::string("n/a")
                                                                 : std::to_string(energies[i]))
        << "," << energies[i] / 50 << "\n";
  }
  return csv.str();
}

TEST(StepCli, ProjectsATrainingLogAsJson) {
  testing::TempDir dir("wf-step");
  const std::vector<double> x = Simulate(TrainingRun{}, 300, 8);
  const std::string path = dir.Write("log.csv", Log(x));
  const CliRun r = Project(dir, {"--series", path, "--iterations", "3000", "--json"});
  ASSERT_EQ(r.code, 0) << r.output;
  const auto doc = nlohmann::json::parse(r.output, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << r.output;
  EXPECT_GE(doc["change_point"].get<int64_t>(), 60 - 12);
  EXPECT_LE(doc["change_point"].get<int64_t>(), 60 + 4);
  EXPECT_EQ(doc["series_length"], 300);
  EXPECT_EQ(doc["iterations"], 3000);
  EXPECT_EQ(doc["window"].get<int64_t>(), 300 - doc["change_point"].get<int64_t>());
  EXPECT_NEAR(doc["projected_total"].get<double>(), 10 * 3000 + 0.6 * 10 * 30 + 30, 300);
  EXPECT_GT(doc["projected_total_std"].get<double>(), 0);

  // --column picks another column; --window limits the average.
  const CliRun t = Project(dir, {"--series", path, "--iterations", "3000", "--column", "time_s",
                                 "--window", "40", "--json"});
  ASSERT_EQ(t.code, 0) << t.output;
  const auto time_doc = nlohmann::json::parse(t.output);
  EXPECT_EQ(time_doc["column"], "time_s");
  EXPECT_EQ(time_doc["window"], 40);
  EXPECT_NEAR(time_doc["projected_total"].get<double>(), doc["projected_total"].get<double>() / 50,
              0.05 * doc["projected_total"].get<double>() / 50);
}

TEST(StepCli, BadInputNamesTheFileLineAndColumnAndExitsTwo) {
  testing::TempDir dir("wf-step");
  const std::vector<double> x = Simulate(TrainingRun{}, 100, 3);
  const std::string good = dir.Write("log.csv", Log(x));

  const CliRun missing =
      Project(dir, {"--series", dir.File("nope.csv"), "--iterations", "1000"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.output.find("nope.csv"), std::string::npos) << missing.output;

  const CliRun column =
      Project(dir, {"--series", good, "--iterations", "1000", "--column", "energy"});
  EXPECT_EQ(column.code, 2);
  EXPECT_NE(column.output.find(good + ":1:"), std::string::npos) << column.output;
  EXPECT_NE(column.output.find("energy_j"), std::string::npos) << column.output;

  const std::string bad = dir.Write("bad.csv", Log(x, 7));
  const CliRun cell = Project(dir, {"--series", bad, "--iterations", "1000"});
  EXPECT_EQ(cell.code, 2);
  EXPECT_NE(cell.output.find(bad + ":7:2"), std::string::npos) << cell.output;
  EXPECT_NE(cell.output.find("n/a"), std::string::npos) << cell.output;

  const CliRun shorter = Project(dir, {"--series", good, "--iterations", "50"});
  EXPECT_EQ(shorter.code, 2);
  EXPECT_NE(shorter.output.find("--iterations"), std::string::npos) << shorter.output;
  EXPECT_NE(shorter.output.find(good + ":101"), std::string::npos) << shorter.output;

  const std::string few = dir.Write("few.csv", Log({1, 2, 3}));
  const CliRun rows = Project(dir, {"--series", few, "--iterations", "100"});
  EXPECT_EQ(rows.code, 2);
  EXPECT_NE(rows.output.find(few + ":4"), std::string::npos) << rows.output;

  const std::string empty = dir.Write("empty.csv", "");
  const CliRun nothing = Project(dir, {"--series", empty, "--iterations", "100"});
  EXPECT_EQ(nothing.code, 2);
  EXPECT_NE(nothing.output.find(empty + ":1"), std::string::npos) << nothing.output;
}

}  // namespace
}  // namespace wattfleet
