// The report's SVG writer (ticks, scales, escaping, well-formed output) and the report built
// from a real dataset file: a plot or a visible note for every estimator, the held-out points
// behind each scatter plot, and notes instead of plots where the dataset lacks something.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "cli_report.h"
#include "wattfleet/estimate/estimator.h"
#include "wattfleet/estimate/evaluation.h"
#include "wattfleet/report/report.h"
#include "svg_plot.h"
#include "synthetic_dataset.h"
#include "temp_dir.h"
#include "xml_check.h"

namespace wattfleet {
namespace {

using svg::ScaleType;

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The <svg> element with this id, or "".
std::string SvgById(const std::string& html, const std::string& id) {
  const size_t at = html.find("id=\"" + id + "\"");
  if (at == std::string::npos) return "";
  const size_t start = html.rfind("<svg", at);
  const size_t end = html.find("</svg>", at);
  return html.substr(start, end + 6 - start);
}

TEST(SvgAxis, LinearTicksAreNiceAndEncloseTheData) {
  EXPECT_EQ(svg::NiceTicks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1.0}));
  for (const auto& [lo, hi] : std::vector<std::pair<double, double>>{
           {0.013, 0.087}, {3, 997}, {-42, 17}, {1e-7, 3.3e-7}, {12345, 12346}}) {
    const std::vector<double> t = svg::NiceTicks(lo, hi);
    ASSERT_GE(t.size(), 3u) << lo << ".." << hi;
    EXPECT_LE(t.size(), 8u) << lo << ".." << hi;
    EXPECT_LE(t.front(), lo);
    EXPECT_GE(t.back(), hi);
    const double step = t[1] - t[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::fabs(mantissa - 1) < 1e-6 || std::fabs(mantissa - 2) < 1e-6 ||
                std::fabs(mantissa - 5) < 1e-6)
        << "step " << step;
    for (size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, step * 1e-6);
  }
  // A single value still gets an axis around it; no "-0" from rounding.
  const std::vector<double> single = svg::NiceTicks(5, 5);
  EXPECT_LT(single.front(), 5);
  EXPECT_GT(single.back(), 5);
  for (double v : svg::NiceTicks(-0.3, 0.3)) EXPECT_NE(svg::FormatTick(v), "-0");
}

TEST(SvgAxis, LogTicksArePowersOfTen) {
  EXPECT_EQ(svg::LogTicks(2, 30), (std::vector<double>{1, 2, 5, 10, 20, 50, 100}));
  const std::vector<double> wide = svg::LogTicks(0.003, 2000);
  EXPECT_LE(wide.size(), 7u);
  EXPECT_LE(wide.front(), 0.003);
  EXPECT_GE(wide.back(), 2000);
  for (double t : wide) {
    const double e = std::log10(t);
    EXPECT_NEAR(e, std::round(e), 1e-9) << t;
  }
}

TEST(SvgAxis, ScalesMapLinearlyAndLogarithmically) {
  const svg::Scale log(ScaleType::kLog, 1, 1000, 0, 300);
  EXPECT_DOUBLE_EQ(log.Map(1), 0);
  EXPECT_NEAR(log.Map(10), 100, 1e-9);
  EXPECT_NEAR(log.Map(std::sqrt(10.0)), 50, 1e-9);
  EXPECT_NEAR(log.Map(1000), 300, 1e-9);
  EXPECT_DOUBLE_EQ(log.Map(0), 0);  // not representable: the low end
  // y grows downwards: the range runs from the bottom to the top.
  const svg::Scale y(ScaleType::kLog, 1e-3, 1, 200, 20);
  EXPECT_NEAR(y.Map(1e-3), 200, 1e-9);
  EXPECT_NEAR(y.Map(1e-2), 140, 1e-9);
  EXPECT_NEAR(y.Map(1), 20, 1e-9);
  const svg::Scale lin(ScaleType::kLinear, -1, 3, 0, 100);
  EXPECT_DOUBLE_EQ(lin.Map(0), 25);
  // Fitted scales end on ticks.
  const svg::Scale fitted = svg::Scale::Fitted(ScaleType::kLog, 0.003, 2000, 0, 1);
  EXPECT_DOUBLE_EQ(fitted.domain_lo(), 1e-3);
  EXPECT_GE(fitted.domain_hi(), 2000);
  EXPECT_EQ(fitted.Ticks().front(), 1e-3);
  EXPECT_EQ(fitted.Ticks().back(), fitted.domain_hi());
}

TEST(SvgAxis, TickLabelsAndSiValues) {
  EXPECT_EQ(svg::FormatTick(0), "0");
  EXPECT_EQ(svg::FormatTick(-0.0), "0");
  EXPECT_EQ(svg::FormatTick(0.25), "0.25");
  EXPECT_EQ(svg::FormatTick(0.1 + 0.2), "0.3");
  EXPECT_EQ(svg::FormatTick(1000), "1000");
  EXPECT_EQ(svg::FormatTick(1e-6), "1e-6");
  EXPECT_EQ(svg::FormatTick(2.5e-5), "2.5e-5");
  EXPECT_EQ(svg::FormatTick(1e6), "1e6");
  EXPECT_EQ(svg::FormatSi(0.0123, "J"), "12.3 mJ");
  EXPECT_EQ(svg::FormatSi(4.5e-6, "J"), "4.5 \u00b5J");
  EXPECT_EQ(svg::FormatSi(1500, "J"), "1.5 kJ");
  EXPECT_EQ(svg::FormatSi(0, "s"), "0 s");
}

TEST(SvgPlot, EscapesText) {
  EXPECT_EQ(svg::Escape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
  EXPECT_EQ(svg::Escape(std::string("a\x01") + "b\x1f" + "c"), "abc");
  EXPECT_EQ(svg::Escape("\u00b5J \u2264"), "\u00b5J \u2264");  // UTF-8 untouched
}

svg::PlotOptions Options(const std::string& id) {
  svg::PlotOptions o;
  o.id = id;
  o.title = "<script>alert('x')</script> & \"co\"";
  o.note = "a < b";
  o.x = {"measured energy (J) <x>", ScaleType::kLog};
  o.y = {"predicted energy (J) & y", ScaleType::kLog};
  return o;
}

TEST(SvgPlot, EveryChartIsWellFormedAndEscaped) {
  const svg::Series points{"", "#1f77b4", {0, -1, 1e-3, 2e-3, 5e-2}, {1, 2, 1.1e-3, 2.5e-3, 4e-2}};
  const svg::Series named{"<b>thor</b>", "#9467bd", {1, 10, 100}, {10, 50, 100}};
  std::vector<std::string> charts;
  charts.push_back(svg::ScatterPlot(Options("s1"), {points}, true));
  charts.push_back(svg::LinePlot(Options("l1"), {named, points}, true));
  svg::PlotOptions linear = Options("c1");
  linear.x.scale = ScaleType::kLinear;
  linear.y = {"busy (%)", ScaleType::kLinear, 0, 100};
  charts.push_back(svg::ColumnPlot(linear, {0, 1, 2, 3}, {10, 0, 100}, "#1b9e77"));
  charts.push_back(svg::BarChart(linear, {{"Conv2d <3x3>", 0.5, "0.5 J"}, {"ReLU", 0.01, ""}},
                                 "#4e79a7"));
  charts.push_back(svg::StackedBarChart(linear, {"done", "queued"}, {"#59a14f", "#edc948"},
                                        {{"#1 a&b", {10, 2}}, {"#2", {0, 5}}}));
  for (const std::string& c : charts) {
    EXPECT_EQ(testing::CheckWellFormed(c), "") << c;
    EXPECT_EQ(c.rfind("<svg class=\"wf-plot\" id=\"", 0), 0u) << c.substr(0, 80);
    EXPECT_EQ(c.find("<script"), std::string::npos);
    EXPECT_EQ(c.find("<b>"), std::string::npos);
    EXPECT_NE(c.find("&lt;script&gt;"), std::string::npos);
    EXPECT_EQ(c.find("http"), std::string::npos);  // nothing to fetch, not even a namespace
    EXPECT_EQ(Count(c, "<svg"), 1u);
  }
  // The scatter plot: the three positive points only (log axes), and the y = x line.
  EXPECT_EQ(Count(charts[0], "<circle"), 3u);
  EXPECT_NE(charts[0].find("stroke-dasharray=\"6 4\""), std::string::npos);
  EXPECT_NE(charts[0].find(">0.001<"), std::string::npos) << "a tick at 1e-3";
  // The line plot's legend names the named series, escaped.
  EXPECT_NE(charts[1].find("&lt;b&gt;thor&lt;/b&gt;"), std::string::npos);
  // Two non-empty columns; the bar chart's two bars; the stacked bars' three segments.
  EXPECT_EQ(Count(charts[2], "<rect") - Count(charts[2], "<rect x=\"0\""), 3u);  // + frame
  EXPECT_NE(charts[3].find("Conv2d &lt;3x3&gt;"), std::string::npos);
  EXPECT_EQ(Count(charts[4], "fill=\"#59a14f\""), 2u);  // one segment + its legend box
}

// A network's energy per iteration is often below a joule: totals and tooltips carry the
// unit with a prefix that fits, never a rounded "0".
TEST(SvgPlot, StackedBarTotalsAndTooltipsCarryTheirUnit) {
  svg::PlotOptions o = Options("energy");
  o.x = {"energy per iteration (J)", ScaleType::kLinear};
  o.value_unit = "J";
  const std::string chart = svg::StackedBarChart(
      o, {"Conv2d", "ReLU"}, {"#4e79a7", "#f28e2b"}, {{"lenet5", {0.0046, 0.0002}}});
  EXPECT_NE(chart.find(">4.8 mJ<"), std::string::npos) << chart;
  EXPECT_NE(chart.find("<title>Conv2d: 4.6 mJ</title>"), std::string::npos) << chart;
  EXPECT_NE(chart.find("<title>ReLU: 200 \u00b5J</title>"), std::string::npos) << chart;
}

TEST(SvgPlot, ScatterPointsLandWhereTheScaleSays) {
  svg::PlotOptions o;
  o.id = "p";
  o.title = "t";
  o.width = 400;
  o.height = 300;
  o.x = {"x", ScaleType::kLog, 1, 100};
  o.y = {"y", ScaleType::kLog, 1, 100};
  const std::string c = svg::ScatterPlot(o, {{"", "#000000", {1, 10, 100}, {1, 10, 100}}}, false);
  std::regex circle("<circle cx=\"([0-9.]+)\" cy=\"([0-9.]+)\"");
  std::vector<double> xs, ys;
  for (auto it = std::sregex_iterator(c.begin(), c.end(), circle); it != std::sregex_iterator();
       ++it) {
    xs.push_back(std::stod((*it)[1]));
    ys.push_back(std::stod((*it)[2]));
  }
  ASSERT_EQ(xs.size(), 3u);
  // Equal steps in log space, x to the right and y upwards.
  EXPECT_NEAR(xs[1] - xs[0], xs[2] - xs[1], 0.11);
  EXPECT_NEAR(ys[0] - ys[1], ys[1] - ys[2], 0.11);
  EXPECT_GT(xs[1], xs[0]);
  EXPECT_LT(ys[1], ys[0]);
}

TEST(Evaluation, HeldOutPointsAreTheScoredPredictions) {
  testing::TempDir dir;
  const std::string db = dir.File("data.db");
  testing::BuildSyntheticDataset(db);
  auto data = LoadTrainingData(db);
  ASSERT_TRUE(data.ok()) << data.status().ToString();
  int scored = 0;
  for (const EvalResult& r :
       Evaluate(*data, {"macs", "measured-layers"}, Target::kEnergy, Split::kGroupedKFold)) {
    ASSERT_EQ(r.points.size(), static_cast<size_t>(r.n)) << r.estimator;
    if (r.n == 0) continue;
    ++scored;
    std::vector<double> apes;
    std::set<std::string> names;
    for (const EvalPoint& p : r.points) {
      apes.push_back(std::fabs(p.predicted - p.measured) / p.measured);
      names.insert(p.architecture);
    }
    EXPECT_EQ(names.size(), r.points.size()) << "each architecture held out once";
    std::sort(apes.begin(), apes.end());
    const double pos = 0.5 * static_cast<double>(apes.size() - 1);
    const size_t lo = static_cast<size_t>(pos);
    const double median =
        apes[lo] + (apes[std::min(lo + 1, apes.size() - 1)] - apes[lo]) * (pos - lo);
    EXPECT_NEAR(median, r.median_ape, 1e-12) << r.estimator;
  }
  EXPECT_EQ(scored, 2);
}

TEST(Report, EveryEstimatorHasAPlotOrANote) {
  testing::TempDir dir;
  const std::string db = dir.File("data.db");
  testing::BuildSyntheticDataset(db, 3);
  ReportOptions options;
  options.db = db;
  auto report = BuildReport(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& html = report->html;
  EXPECT_EQ(testing::CheckWellFormed(html), "");
  EXPECT_EQ(html.find("http://"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(static_cast<size_t>(report->plots), Count(html, "<svg class=\"wf-plot\""));

  // Ids are unique.
  std::regex id_re("<svg class=\"wf-plot\" id=\"([^\"]+)\"");
  std::set<std::string> ids;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), id_re);
       it != std::sregex_iterator(); ++it) {
    EXPECT_TRUE(ids.insert((*it)[1]).second) << "duplicate id " << (*it)[1];
  }

  auto data = LoadTrainingData(db);
  ASSERT_TRUE(data.ok());
  int scatters = 0;
  for (Target target : {Target::kEnergy, Target::kTime}) {
    for (const EvalResult& r : Evaluate(*data, EstimatorNames(), target, Split::kGroupedKFold)) {
      const std::string id = "scatter-" + r.estimator + "-cpu-inference-" + r.target;
      const std::string plot = SvgById(html, id);
      if (r.n > 0) {
        ASSERT_FALSE(plot.empty()) << id;
        ++scatters;
        // One marker per held-out prediction (all positive here), none left out.
        size_t positive = 0;
        for (const EvalPoint& p : r.points) positive += p.predicted > 0;
        EXPECT_EQ(Count(plot, "<circle"), positive) << id;
      } else {
        EXPECT_TRUE(plot.empty()) << id;
        EXPECT_NE(html.find(svg::Escape(r.estimator + " \u00b7 cpu/inference \u00b7 " + r.target +
                                        ": not scored")),
                  std::string::npos)
            << "no note for " << id;
      }
    }
  }
  EXPECT_GE(scatters, 4);
  for (const char* id : {"ape-cdf-cpu-inference-energy", "ape-cdf-cpu-inference-time",
                         "layer-energy-cpu-inference", "campaign-jobs", "campaign-measurements",
                         "utilisation-agent-1"}) {
    EXPECT_TRUE(ids.count(id)) << id;
  }
  EXPECT_NE(html.find("id=\"comparison-table\""), std::string::npos);
  // Three jobs left queued show in the campaign's bar.
  EXPECT_NE(SvgById(html, "campaign-jobs").find("queued: 3"), std::string::npos);
  // Nothing is flagged yet: no plot marks or counts anything as flagged.
  size_t svgs = 0;
  for (size_t at = html.find("<svg"); at != std::string::npos; at = html.find("<svg", at + 1)) {
    const std::string svg = html.substr(at, html.find("</svg>", at) - at);
    EXPECT_EQ(svg.find("flagged"), std::string::npos) << svg.substr(0, 200);
    ++svgs;
  }
  EXPECT_GT(svgs, 5u);
  EXPECT_EQ(html.find("more left out of fits"), std::string::npos);
}

TEST(Report, ABatchSweepIsKeptApartNamedAndBrokenDownByLayerType) {
  testing::TempDir dir;
  const std::string db = dir.File("sweep.db");
  std::string campaign = testing::kSyntheticCampaign;
  campaign.replace(campaign.find("batch_size: 4"), 13, "batch_size: [4, 8]");
  testing::BuildSyntheticDataset(db, 0, campaign);
  ReportOptions options;
  options.db = db;
  auto report = BuildReport(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& html = report->html;
  EXPECT_EQ(testing::CheckWellFormed(html), "");

  // Energy by layer type: one plot per batch, never a mix.
  const std::string b4 = SvgById(html, "layer-energy-cpu-inference-batch-4");
  const std::string b8 = SvgById(html, "layer-energy-cpu-inference-batch-8");
  ASSERT_FALSE(b4.empty());
  ASSERT_FALSE(b8.empty());
  EXPECT_NE(b4.find("batch 4"), std::string::npos);

  // Measured vs predicted: a colour and a legend entry per batch, and each point named.
  const std::string scatter = SvgById(html, "scatter-macs-cpu-inference-energy");
  ASSERT_FALSE(scatter.empty());
  EXPECT_NE(scatter.find(report_colours::kBatches[0]), std::string::npos);
  EXPECT_NE(scatter.find(report_colours::kBatches[1]), std::string::npos);
  EXPECT_NE(scatter.find(">batch 8<"), std::string::npos);
  EXPECT_TRUE(std::regex_search(scatter, std::regex("<title>mlp-[^<]*, batch 8, cpu: measured "
                                                    "[^<]*predicted [^<]*an estimate\\)</title>")))
      << scatter.substr(0, 2000);
  EXPECT_NE(scatter.find("predicted (estimate)"), std::string::npos);  // the axis says so

  // Every network's energy by layer type, per batch: the MLPs' Linear layers are in it.
  const std::string breakdown = SvgById(html, "breakdown-cpu-inference-batch-8");
  ASSERT_FALSE(breakdown.empty());
  EXPECT_NE(breakdown.find("Linear"), std::string::npos);
  EXPECT_NE(breakdown.find("mlp-mnist"), std::string::npos);
  // Energy against MACs, points named; the synthetic energy is modeled, and said to be.
  const std::string macs = SvgById(html, "energy-macs-inference");
  ASSERT_FALSE(macs.empty());
  EXPECT_NE(macs.find("<title>mlp-mnist, batch 8, cpu: "), std::string::npos);
  EXPECT_NE(html.find("those energies, measured ones included, are estimates"),
            std::string::npos);
  // Quality: every measurement of the campaign without a flag.
  const std::string quality = SvgById(html, "quality-flags");
  ASSERT_FALSE(quality.empty());
  EXPECT_NE(quality.find("no flag"), std::string::npos);
  // No rotated axis label is cut short: long ones are set smaller instead.
  EXPECT_EQ(html.find("\u2026</text>"), std::string::npos);
}

TEST(Report, FlaggedMeasurementsAreCountedPerCampaign) {
  testing::TempDir dir;
  const std::string db = dir.File("data.db");
  std::vector<JobSpec> left = testing::BuildSyntheticDataset(db, 1);
  ASSERT_EQ(left.size(), 1u);
  testing::MeasureLater(db, left[0], {kFlagInterference});
  ReportOptions options;
  options.db = db;
  auto report = BuildReport(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_NE(SvgById(report->html, "campaign-jobs").find("1 flagged"), std::string::npos);
  EXPECT_NE(report->html.find("(interference 1)"), std::string::npos);
}

// Every whole model flagged, every layer clean: the models are drawn as open circles, the
// accuracy note says they were left out for their flags (not that none were measured), and
// the quality bar counts each measurement once although each carries two flags.
TEST(Report, FlaggedMeasurementsAreShownMarkedCountedOnceAndExplained) {
  testing::TempDir dir;
  const std::string db = dir.File("data.db");
  const std::vector<JobSpec> jobs = testing::BuildSyntheticDataset(db, 100000);
  int64_t models = 0;
  for (const JobSpec& job : jobs) {
    if (job.kind == JobKind::kModel) {
      testing::MeasureLater(db, job, {kFlagInterference, kFlagIdleStale});
      ++models;
    } else {
      testing::MeasureLater(db, job);
    }
  }
  ASSERT_GT(models, 2);
  ReportOptions options;
  options.db = db;
  auto report = BuildReport(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& html = report->html;
  EXPECT_EQ(testing::CheckWellFormed(html), "");
  EXPECT_NE(html.find("cpu/inference: all " + std::to_string(models) +
                      " whole-model measurements carry quality flags and are left out"),
            std::string::npos)
      << html;
  EXPECT_EQ(html.find("no whole-model measurements"), std::string::npos);
  // Shown, marked: open circles under their own legend entry.
  const std::string macs = SvgById(html, "energy-macs-inference");
  ASSERT_FALSE(macs.empty());
  EXPECT_NE(macs.find("cpu, flagged"), std::string::npos) << macs;
  EXPECT_NE(macs.find("<g fill=\"none\""), std::string::npos) << macs;
  EXPECT_NE(macs.find(", flagged</title>"), std::string::npos) << macs;
  // Counted once, under the first flag: interference, never idle-stale as well.
  const std::string quality = SvgById(html, "quality-flags");
  ASSERT_FALSE(quality.empty());
  EXPECT_NE(quality.find("<title>interference: " + std::to_string(models) + "</title>"),
            std::string::npos)
      << quality;
  EXPECT_EQ(quality.find("<title>idle-stale:"), std::string::npos) << quality;
  EXPECT_NE(quality.find("<title>no flag: " +
                         std::to_string(static_cast<int64_t>(jobs.size()) - models) + "</title>"),
            std::string::npos)
      << quality;
  // The flag counts themselves, each flag its own, in the campaigns' note.
  EXPECT_NE(html.find("idle-stale " + std::to_string(models)), std::string::npos);
  EXPECT_NE(html.find(std::to_string(models) + " more left out of fits"), std::string::npos);
}

TEST(Report, NotesInsteadOfPlotsWithoutWholeModels) {
  testing::TempDir dir;
  const std::string db = dir.File("data.db");
  testing::BuildSyntheticDataset(db);
  testing::ExecRaw(db, "DELETE FROM measurements WHERE job_id IN "
                       "(SELECT id FROM jobs WHERE kind <> 'layer')");
  ReportOptions options;
  options.db = db;
  auto report = BuildReport(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& html = report->html;
  EXPECT_EQ(testing::CheckWellFormed(html), "");
  EXPECT_EQ(html.find("id=\"scatter-"), std::string::npos);
  EXPECT_EQ(html.find("id=\"ape-cdf-"), std::string::npos);
  EXPECT_NE(html.find("cpu/inference: no whole-model measurements"), std::string::npos);
  EXPECT_NE(html.find("No held-out predictions"), std::string::npos);
  EXPECT_NE(html.find("id=\"layer-energy-cpu-inference\""), std::string::npos);
  EXPECT_GE(report->notes, 3);
}

TEST(Report, AnEstimatorThatCannotBeFittedGetsANote) {
  testing::TempDir dir;
  const std::string db = dir.File("data.db");
  testing::BuildSyntheticDataset(db);
  // Without its probes THOR has nothing to fit on; the other estimators are unaffected.
  testing::ExecRaw(db, "DELETE FROM measurements WHERE job_id IN "
                       "(SELECT id FROM jobs WHERE kind = 'probe')");
  ReportOptions options;
  options.db = db;
  auto report = BuildReport(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string& html = report->html;
  EXPECT_EQ(testing::CheckWellFormed(html), "");
  for (const char* target : {"energy", "time"}) {
    EXPECT_EQ(SvgById(html, std::string("scatter-thor-cpu-inference-") + target), "");
    EXPECT_NE(html.find(std::string("thor \u00b7 cpu/inference \u00b7 ") + target +
                        ": not scored \u2014 "),
              std::string::npos)
        << target;
    EXPECT_NE(SvgById(html, std::string("scatter-macs-cpu-inference-") + target), "");
  }
  EXPECT_NE(html.find("<td colspan=\"5\" class=\"t wf-bad\">not scored</td>"),
            std::string::npos);
}

TEST(Report, ScatterPlotsAreSubsampledAndSaySo) {
  testing::TempDir dir;
  const std::string db = dir.File("data.db");
  testing::BuildSyntheticDataset(db);
  ReportOptions options;
  options.db = db;
  options.max_scatter_points = 3;
  auto report = BuildReport(options);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  const std::string plot = SvgById(report->html, "scatter-macs-cpu-inference-energy");
  ASSERT_FALSE(plot.empty());
  EXPECT_EQ(Count(plot, "<circle"), 3u);
  EXPECT_NE(plot.find("3 of "), std::string::npos);
  EXPECT_NE(plot.find("evenly subsampled)"), std::string::npos) << "the note, in full";
}

TEST(Report, MissingDatasetIsAnErrorNamingTheFlag) {
  testing::TempDir dir;
  ReportOptions options;
  options.db = dir.File("none.db");
  auto report = BuildReport(options);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(report.status().message().find("--db"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(options.db));  // not created
}

TEST(Report, ATemporaryFileThatWasAlreadyThereIsLeftAlone) {
  testing::TempDir dir;
  const std::string db = dir.File("data.db");
  testing::BuildSyntheticDataset(db);
  const std::string out = dir.File("report.html");
  // The name of the temporary file the report is written to before the rename (beside --out,
  // with this process's id) is taken by a file that is someone else's.
  const std::string taken = out + ".tmp-" + std::to_string(::getpid());
  std::ofstream(taken) << "not the report's";
  ReportOptions options;
  options.db = db;
  EXPECT_EQ(CmdReport(options, out), 2);
  ASSERT_TRUE(std::filesystem::exists(taken)) << "a file the report did not create was deleted";
  std::ifstream in(taken);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(kept, "not the report's");
  EXPECT_FALSE(std::filesystem::exists(out));
}

}  // namespace
}  // namespace wattfleet
