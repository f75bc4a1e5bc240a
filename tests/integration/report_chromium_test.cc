// The real `wattfleet report` binary on a real dataset file, and the report rendered by
// headless Chromium: the page must show every kind of plot, which the test sees in the
// screenshot's pixels (each kind of plot draws its marks in colours no other kind uses,
// report.h). A dataset without whole-model measurements must give notes and no scatter
// plots; a missing dataset exit code 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <png.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "../unit/synthetic_dataset.h"
#include "wattfleet/estimate/estimator.h"
#include "harness.h"
#include "process.h"
#include "wattfleet/report/report.h"

namespace wattfleet {
namespace {

using testing::Slurp;

void Exec(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << sql << ": " << (error ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

// The synthetic campaign (three jobs left queued), made to look like a run of ten minutes by
// two agents: one measurement every 4 s, alternating, each with two windows of 0.9 s.
void BuildDataset(const std::string& db) {
  testing::BuildSyntheticDataset(db, 3);
  Exec(db,
       "UPDATE measurements SET created_ms = 1714564800000 + id * 4000, "
       "agent = CASE id % 2 WHEN 0 THEN 'agent-2' ELSE 'agent-1' END, "
       "repeats_json = '[{\"iterations\":10,\"time_s\":0.9,\"energy_j\":1.0},"
       "{\"iterations\":10,\"time_s\":0.9,\"energy_j\":1.0}]'");
}

struct CliRun {
  int code = -1;
  std::string out, err;
};

CliRun Report(const testing::TempDir& dir, const std::vector<std::string>& args) {
  std::string command = std::string("exec '") + WATTFLEET_BIN + "' report";
  for (const std::string& a : args) command += " '" + a + "'";
  command += " > '" + dir.File("report.out") + "' 2> '" + dir.File("report.err") + "'";
  CliRun run;
  auto child = ChildProcess::Start({"/bin/sh", "-c", command});
  if (!child.ok()) {
    ADD_FAILURE() << child.status().ToString();
    return run;
  }
  auto code = child->Wait(240);
  if (!code.ok()) {
    ADD_FAILURE() << "timed out: " << command;
    return run;
  }
  run.code = *code;
  run.out = Slurp(dir.File("report.out"));
  run.err = Slurp(dir.File("report.err"));
  return run;
}

std::string ChromiumPath() {
  if (const char* env = std::getenv("WATTFLEET_CHROMIUM")) return env;
  return "/usr/bin/chromium";
}

// The page rendered by headless Chromium into `png` (1200 px wide, `height` tall).
bool Screenshot(const testing::TempDir& dir, const std::string& html, const std::string& png,
                int height) {
  const std::string chromium = ChromiumPath();
  if (::access(chromium.c_str(), X_OK) != 0) {
    ADD_FAILURE() << chromium << " not found: install the Debian package chromium "
                  << "(scripts/bootstrap.sh does), or point WATTFLEET_CHROMIUM at a Chromium";
    return false;
  }
  const std::string log = dir.File("chromium.log");
  auto child = ChildProcess::Start(
      {chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
       "--no-first-run", "--disable-extensions", "--force-device-scale-factor=1",
       "--user-data-dir=" + dir.File("chromium-profile"), "--screenshot=" + png,
       "--window-size=1200," + std::to_string(height), "file://" + html},
      log);
  if (!child.ok()) {
    ADD_FAILURE() << child.status().ToString();
    return false;
  }
  auto code = child->Wait(120);
  if (!code.ok()) {
    ADD_FAILURE() << "chromium timed out\n" << Slurp(log);
    return false;
  }
  if (*code != 0 || !testing::Exists(png)) {
    ADD_FAILURE() << "chromium exited " << *code << " without " << png << "\n" << Slurp(log);
    return false;
  }
  return true;
}

struct Image {
  int width = 0, height = 0;
  std::vector<unsigned char> rgb;
};

bool ReadPng(const std::string& path, Image* image) {
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&png, path.c_str())) {
    ADD_FAILURE() << path << ": " << png.message;
    return false;
  }
  png.format = PNG_FORMAT_RGB;
  image->width = static_cast<int>(png.width);
  image->height = static_cast<int>(png.height);
  image->rgb.resize(PNG_IMAGE_SIZE(png));
  if (!png_image_finish_read(&png, nullptr, image->rgb.data(), 0, nullptr)) {
    ADD_FAILURE() << path << ": " << png.message;
    png_image_free(&png);
    return false;
  }
  return true;
}

// Pixels of each "#rrggbb" colour (within 2 per channel: antialiasing leaves the inside of
// a mark exact, its edges blended).
std::map<std::string, int64_t> CountColours(const Image& image,
                                            const std::vector<std::string>& colours) {
  std::map<std::string, int64_t> counts;
  std::vector<std::array<int, 3>> rgb;
  for (const std::string& c : colours) {
    rgb.push_back({std::stoi(c.substr(1, 2), nullptr, 16), std::stoi(c.substr(3, 2), nullptr, 16),
                   std::stoi(c.substr(5, 2), nullptr, 16)});
    counts[c] = 0;
  }
  for (size_t p = 0; p + 2 < image.rgb.size(); p += 3) {
    for (size_t k = 0; k < rgb.size(); ++k) {
      if (std::abs(image.rgb[p] - rgb[k][0]) <= 2 && std::abs(image.rgb[p + 1] - rgb[k][1]) <= 2 &&
          std::abs(image.rgb[p + 2] - rgb[k][2]) <= 2) {
        ++counts[colours[k]];
      }
    }
  }
  return counts;
}

// The <svg> element with this id, or "".
std::string SvgById(const std::string& html, const std::string& id) {
  const size_t at = html.find("<svg class=\"wf-plot\" id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  return html.substr(at, html.find("</svg>", at) + 6 - at);
}

bool HasSvg(const std::string& html, const std::string& id) {
  return html.find("<svg class=\"wf-plot\" id=\"" + id + "\"") != std::string::npos;
}

constexpr int kPageHeight = 9000;

TEST(ReportChromium, RendersEveryKindOfPlot) {
  testing::TempDir dir;
  const std::string db = dir.File("dataset.db");
  BuildDataset(db);
  ASSERT_FALSE(::testing::Test::HasFailure());

  const std::string html_path = dir.File("report.html");
  const CliRun run = Report(dir, {"--db", db, "--out", html_path});
  ASSERT_EQ(run.code, 0) << run.err;
  // What was done is a report on stderr; stdout stays empty (or one document with --json).
  EXPECT_NE(run.err.find("wrote " + html_path), std::string::npos) << run.err;
  EXPECT_EQ(run.out, "");
  const CliRun json = Report(dir, {"--db", db, "--out", html_path, "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  const auto doc = nlohmann::json::parse(json.out);
  EXPECT_EQ(doc["out"], html_path);
  EXPECT_GT(doc["plots"].get<int>(), 0);
  EXPECT_GT(doc["bytes"].get<int64_t>(), 0);
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    EXPECT_EQ(entry.path().string().find(".tmp-"), std::string::npos)
        << "left behind: " << entry.path();
  }
  const std::string html = Slurp(html_path);

  // Self-contained: nothing to fetch, no scripts.
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_LT(html.size(), 3u << 20);
  std::vector<std::string> scored;  // estimators with a scatter plot of energy
  for (const std::string& e : EstimatorNames()) {
    if (HasSvg(html, "scatter-" + e + "-cpu-inference-energy")) scored.push_back(e);
  }
  EXPECT_GE(scored.size(), 3u) << "too few estimators scored on the synthetic dataset";
  for (const char* id : {"ape-cdf-cpu-inference-energy", "ape-cdf-cpu-inference-time",
                         "layer-energy-cpu-inference", "campaign-jobs", "campaign-measurements",
                         "utilisation-agent-1", "utilisation-agent-2"}) {
    EXPECT_TRUE(HasSvg(html, id)) << id;
  }
  EXPECT_NE(html.find("id=\"comparison-table\""), std::string::npos);

  const std::string png = dir.File("report.png");
  ASSERT_TRUE(Screenshot(dir, html_path, png, kPageHeight));
  Image image;
  ASSERT_TRUE(ReadPng(png, &image));
  EXPECT_EQ(image.width, 1200);
  namespace colours = report_colours;
  const std::string done = colours::kJobStates[3], queued = colours::kJobStates[1];
  std::vector<std::string> wanted = {colours::kEnergyPoint, colours::kTimePoint,
                                     colours::kLayerBar,    colours::kBusy,
                                     done,                  queued,
                                     colours::kCampaigns[0]};
  const std::vector<std::string> names = EstimatorNames();
  for (size_t i = 0; i < names.size(); ++i) wanted.push_back(colours::kEstimators[i]);
  const auto counts = CountColours(image, wanted);
  for (const auto& [colour, n] : counts) std::cout << colour << ": " << n << " px\n";
  // Markers of about 38 px each, several per scored estimator and target.
  EXPECT_GE(counts.at(colours::kEnergyPoint), 150) << "no energy scatter points rendered";
  EXPECT_GE(counts.at(colours::kTimePoint), 150) << "no time scatter points rendered";
  EXPECT_GE(counts.at(colours::kLayerBar), 400) << "no layer-type bars rendered";
  // The last section: also shows that the window was tall enough for the whole page.
  EXPECT_GE(counts.at(colours::kBusy), 200) << "no utilisation columns rendered";
  EXPECT_GE(counts.at(done), 400) << "no done segment in the campaign's bar";
  EXPECT_GE(counts.at(queued), 10) << "no queued segment in the campaign's bar";
  EXPECT_GE(counts.at(colours::kCampaigns[0]), 150) << "no measurements-over-time line";
  // Each curve of the error distributions (estimators with identical errors share one): a
  // 2 px line climbing the plot's height in each of two plots, where the legend's swatches
  // alone are 64 px.
  std::set<std::string> curves;
  for (const char* id : {"ape-cdf-cpu-inference-energy", "ape-cdf-cpu-inference-time"}) {
    const std::string plot = SvgById(html, id);
    const std::regex path_re("<path d=\"[^\"]*\" fill=\"none\" stroke=\"(#[0-9a-f]{6})\"");
    for (auto it = std::sregex_iterator(plot.begin(), plot.end(), path_re);
         it != std::sregex_iterator(); ++it) {
      curves.insert((*it)[1]);
    }
  }
  EXPECT_GE(curves.size(), 3u);
  for (size_t i = 0; i < names.size(); ++i) {
    if (!curves.count(colours::kEstimators[i])) continue;
    EXPECT_GE(counts.at(colours::kEstimators[i]), 300) << "no error distribution of " << names[i];
  }
}

TEST(ReportChromium, WithoutWholeModelsNotesReplaceScatterPlots) {
  testing::TempDir dir;
  const std::string db = dir.File("dataset.db");
  BuildDataset(db);
  Exec(db, "DELETE FROM measurements WHERE job_id IN (SELECT id FROM jobs WHERE kind <> 'layer')");
  ASSERT_FALSE(::testing::Test::HasFailure());

  const std::string html_path = dir.File("report.html");
  const CliRun run = Report(dir, {"--db", db, "--out", html_path});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string html = Slurp(html_path);
  EXPECT_EQ(html.find("id=\"scatter-"), std::string::npos);
  EXPECT_NE(html.find("class=\"wf-note"), std::string::npos);
  EXPECT_NE(html.find("no whole-model measurements"), std::string::npos);
  EXPECT_TRUE(HasSvg(html, "layer-energy-cpu-inference"));

  const std::string png = dir.File("report.png");
  ASSERT_TRUE(Screenshot(dir, html_path, png, 4000));
  Image image;
  ASSERT_TRUE(ReadPng(png, &image));
  const auto counts = CountColours(image, {report_colours::kEnergyPoint,
                                           report_colours::kTimePoint, report_colours::kLayerBar});
  // The pixel check tells a missing plot: no scatter colour at all, the bars still there.
  EXPECT_EQ(counts.at(report_colours::kEnergyPoint), 0);
  EXPECT_EQ(counts.at(report_colours::kTimePoint), 0);
  EXPECT_GE(counts.at(report_colours::kLayerBar), 400);
}

// Every whole model flagged (a missed CI target): the estimators have nothing to be scored
// on, and the note says why; the models are still drawn against their MACs, as open circles
// in their device's colour, where a hidden plot would leave no pixel of it.
TEST(ReportChromium, FlaggedWholeModelsAreDrawnMarkedNotHidden) {
  testing::TempDir dir;
  const std::string db = dir.File("dataset.db");
  BuildDataset(db);
  Exec(db, "UPDATE measurements SET ci_met = 0 WHERE job_id IN "
           "(SELECT id FROM jobs WHERE kind = 'model')");
  ASSERT_FALSE(::testing::Test::HasFailure());

  const std::string html_path = dir.File("report.html");
  const CliRun run = Report(dir, {"--db", db, "--out", html_path});
  ASSERT_EQ(run.code, 0) << run.err;
  const std::string html = Slurp(html_path);
  EXPECT_EQ(html.find("id=\"scatter-"), std::string::npos);
  EXPECT_NE(html.find("whole-model measurements carry quality flags and are left out"),
            std::string::npos);
  const std::string macs = SvgById(html, "energy-macs-inference");
  ASSERT_FALSE(macs.empty());
  EXPECT_NE(macs.find("cpu, flagged"), std::string::npos);

  const std::string png = dir.File("report.png");
  ASSERT_TRUE(Screenshot(dir, html_path, png, 6000));
  Image image;
  ASSERT_TRUE(ReadPng(png, &image));
  const std::string device = report_colours::kDevices[0];
  const auto counts = CountColours(image, {device, report_colours::kEnergyPoint});
  std::cout << device << ": " << counts.at(device) << " px\n";
  // Rings of about 10 px of the exact colour each (antialiasing blends the rest) for the
  // eight networks measured, and the legend's; a hidden plot leaves none.
  EXPECT_GE(counts.at(device), 50) << "flagged networks not drawn";
  // Their breakdown by layer type is there too, named as flagged.
  EXPECT_NE(SvgById(html, "breakdown-cpu-inference-batch-4").find("(flagged)"), std::string::npos);
  EXPECT_EQ(counts.at(report_colours::kEnergyPoint), 0);
}

TEST(ReportChromium, BadInputExitsTwoNamingTheFlag) {
  testing::TempDir dir;
  const std::string out = dir.File("report.html");
  const CliRun missing = Report(dir, {"--db", dir.File("none.db"), "--out", out});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("--db"), std::string::npos) << missing.err;
  EXPECT_FALSE(testing::Exists(out));
  EXPECT_FALSE(testing::Exists(dir.File("none.db")));

  const std::string db = dir.File("dataset.db");
  BuildDataset(db);
  const CliRun no_dir = Report(dir, {"--db", db, "--out", dir.File("no/such/dir/r.html")});
  EXPECT_EQ(no_dir.code, 2);
  EXPECT_NE(no_dir.err.find("--out"), std::string::npos) << no_dir.err;

  const CliRun no_flag = Report(dir, {"--db", db});
  EXPECT_EQ(no_flag.code, 2);
  EXPECT_NE(no_flag.err.find("--out"), std::string::npos) << no_flag.err;
}

}  // namespace
}  // namespace wattfleet
