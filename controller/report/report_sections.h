// The report's sections (report.h), each a fragment of HTML: the estimators' accuracy
// (report_accuracy.cc) and the dataset's activity (report_activity.cc). Private to report.cc.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "wattfleet/estimate/evaluation.h"
#include "wattfleet/report/report.h"
#include "report_data.h"
#include "svg_plot.h"
#include "wattfleet/estimate/training_data.h"

namespace wattfleet::report {

// What the sections share while one page is written: unique element ids, and counts of the
// plots and notes written.
class Page {
 public:
  // A unique id from free text: lower-case letters, digits and '-' ("scatter-thor-cpu-...").
  std::string Id(const std::string& text);
  // Counts a figure.
  std::string Plot(std::string svg);
  // A visible note (escaped). `in_grid`: sized like a plot, in place of one.
  std::string Note(const std::string& text, bool in_grid = false);
  int plots() const { return plots_; }
  int notes() const { return notes_; }

 private:
  std::set<std::string> ids_;
  int plots_ = 0, notes_ = 0;
};

// The held-out predictions of one target.
struct Evaluation {
  std::string target;  // "energy" | "time"
  std::vector<EvalResult> results;
  std::string error;  // why there are no results: nothing to evaluate on, or a failure
};

// Measured vs predicted, one scatter plot per estimator, device class, mode and target; a
// note for each device class and mode of `shown` (every measurement, flagged ones included)
// without whole-model measurements in `data` (what the estimators were evaluated on), saying
// why: none measured, or all left out for their flags.
std::string AccuracySection(const std::vector<Evaluation>& evaluations, const TrainingData& data,
                            const TrainingData& shown, const ReportOptions& options, Page& page);
// Distribution of the absolute percentage errors, one plot per device class, mode, target.
std::string ErrorSection(const std::vector<Evaluation>& evaluations, Page& page);
// The comparison table (the figures of `wattfleet fit --split kfold`).
std::string ComparisonSection(const std::vector<Evaluation>& evaluations, int folds, Page& page);

// Energy per iteration of the measured layers, summed by layer type.
std::string LayerEnergySection(const TrainingData& data, Page& page);
// Jobs by state per campaign, and measurements stored over time.
std::string CampaignSection(const ReportData& data, Page& page);
// Busy fraction of each agent per time bin.
std::string UtilisationSection(const ReportData& data, Page& page);

// Each whole network's energy split by the layer types it is made of (report_breakdown.cc);
// those with flagged measurements (when `data` holds them) named so.
std::string BreakdownSection(const TrainingData& data, Page& page);
// Whole networks' energy against their MACs, per mode, one colour per device class; flagged
// ones (when `data` holds them) as open circles.
std::string EnergyVsMacsSection(const TrainingData& data, Page& page);
// The measurements of each campaign by quality flag.
std::string QualitySection(const ReportData& data, const TrainingData& training, Page& page);

// Plot sizes: three plots side by side in a 1200 px wide window.
inline constexpr int kPlotWidth = 370;
inline constexpr int kPlotHeight = 300;
inline constexpr int kWidePlotWidth = 760;

// "4.2 %" for a fraction of 0.042.
std::string Percent(double fraction);
// "<div class=\"wf-grid\">" + items + "</div>"
std::string Grid(const std::string& items);

// A wide chart of one stacked bar per campaign: `x` says what the bars count, `value_unit`
// (empty: none) what a bar's tooltip adds to its figures.
svg::PlotOptions PerCampaignBars(Page& page, const std::string& id, const std::string& title,
                                 const std::string& x, const std::string& value_unit);

}  // namespace wattfleet::report
