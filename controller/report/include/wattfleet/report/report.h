// The HTML report of a dataset (`wattfleet report`, docs/report.md): one self-contained file
// (inline CSS and SVG, no scripts, nothing fetched) with the estimators' held-out predictions
// against the measurements, their error distributions and comparison table, energy by layer
// type, campaign progress and device utilisation. What the dataset cannot support (no
// whole-model measurements, an estimator that failed) is a visible note in place of a plot.
#pragma once

#include <cstddef>
#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

// Colours of the report's marks. Fixed, so that a reader (and a test looking at rendered
// pixels) can tell the kinds of plot apart; none is used by two kinds.
namespace report_colours {
inline constexpr const char* kEnergyPoint = "#1f77b4";  // measured vs predicted, energy
inline constexpr const char* kTimePoint = "#ff7f0e";    // measured vs predicted, time
inline constexpr const char* kLayerBar = "#4e79a7";     // energy by layer type
inline constexpr const char* kBusy = "#1b9e77";         // device utilisation
// Error distributions: one per estimator, in EstimatorNames() order (then cycled).
inline constexpr const char* kEstimators[] = {"#9467bd", "#8c564b", "#e377c2", "#17becf",
                                              "#bcbd22", "#d62728", "#2ca02c", "#7f7f7f"};
// Jobs by state: planned, queued, leased, done, failed, quarantined, cancelled.
inline constexpr const char* kJobStates[] = {"#bab0ac", "#edc948", "#f28e2b", "#59a14f",
                                             "#e15759", "#b07aa1", "#9c755f"};
// Measurements over time: one per campaign (cycled).
inline constexpr const char* kCampaigns[] = {"#003f5c", "#bc5090", "#ffa600",
                                             "#58508d", "#ff6361", "#2f4b7c"};
// Measured vs predicted when the dataset holds several batches: one per batch (cycled).
inline constexpr const char* kBatches[] = {"#08519c", "#a50f15", "#006d2c",
                                           "#6baed6", "#fb6a4a", "#74c476"};
// Energy against MACs: one per device class (cycled).
inline constexpr const char* kDevices[] = {"#e7298a", "#66a61e", "#e6ab02",
                                           "#a6761d", "#666666", "#7570b3"};
// A network's energy by layer type: one per type, by the type's total (cycled).
inline constexpr const char* kLayerTypes[] = {"#8dd3c7", "#bebada", "#fb8072", "#80b1d3",
                                              "#fdb462", "#b3de69", "#fccde5", "#bc80bd",
                                              "#ccebc5", "#ffed6f", "#d9d9d9", "#ffffb3"};
// Measurement quality: without a flag, then interference, below-idle, idle-stale, ci (the
// order of kFlagOrder) and any other flag.
inline constexpr const char* kQuality[] = {"#99d594", "#d53e4f", "#3288bd",
                                           "#5e4fa2", "#fee08b", "#636363"};
}  // namespace report_colours

struct ReportOptions {
  std::string db;
  int folds = 5;  // grouped k-fold by architecture, as `wattfleet fit --split kfold`
  // Scatter plots draw at most this many points (evenly subsampled, and the plot says so),
  // which keeps the file small for large datasets.
  size_t max_scatter_points = 1500;
  // Evaluate on measurements with quality flags too (left out by default, as for `fit`).
  bool include_flagged = false;
};

struct Report {
  std::string html;
  int plots = 0;  // <svg> figures
  int notes = 0;  // notes in place of a plot, or about what a plot leaves out
};

// InvalidArgument naming --db when the dataset is missing or not a wattfleet dataset;
// anything else the dataset lacks becomes a note in the report.
Result<Report> BuildReport(const ReportOptions& options);

}  // namespace wattfleet
