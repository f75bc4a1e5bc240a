// The report's page: loads the dataset, evaluates the estimators, and puts the sections
// (report_accuracy.cc, report_activity.cc) into one HTML document with its style sheet.
#include "wattfleet/report/report.h"


#include "wattfleet/common/text.h"
#include "wattfleet/store/dataset_reader.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <exception>

#include "wattfleet/estimate/estimator.h"
#include "report_sections.h"
#include "svg_plot.h"

namespace wattfleet {
namespace report {

std::string Page::Id(const std::string& text) {
  std::string id;
  for (char c : text) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u) && u < 0x80) {
      id += static_cast<char>(std::tolower(u));
    } else if (!id.empty() && id.back() != '-') {
      id += '-';
    }
  }
  while (!id.empty() && id.back() == '-') id.pop_back();
  if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) id = "plot-" + id;
  // Two texts may differ only in what was dropped ("a.b" and "a-b"): number the later ones.
  std::string unique = id;
  for (int k = 2; ids_.count(unique); ++k) unique = id + "-" + std::to_string(k);
  ids_.insert(unique);
  return unique;
}

std::string Page::Plot(std::string svg) {
  ++plots_;
  return svg;
}

std::string Page::Note(const std::string& text, bool in_grid) {
  ++notes_;
  return std::string("<p class=\"wf-note") + (in_grid ? " wf-in-grid" : "") + "\">" +
         svg::Escape(text) + "</p>";
}

std::string Percent(double fraction) {
  if (!std::isfinite(fraction)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %%", 100 * fraction);
  return buf;
}

std::string Grid(const std::string& items) { return "<div class=\"wf-grid\">" + items + "</div>"; }

svg::PlotOptions PerCampaignBars(Page& page, const std::string& id, const std::string& title,
                                 const std::string& x, const std::string& value_unit) {
  svg::PlotOptions o;
  o.id = page.Id(id);
  o.title = title;
  o.width = kWidePlotWidth;
  o.x = {x};
  o.value_unit = value_unit;
  o.y = {"campaign"};
  return o;
}

namespace {

// Plain CSS: system fonts only, nothing fetched.
constexpr const char* kStyle = R"css(
body { font-family: sans-serif; font-size: 14px; color: #222; background: #f6f6f4;
       margin: 16px 20px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 6px; padding-bottom: 3px; border-bottom: 1px solid #bbb; }
h3 { font-size: 15px; margin: 18px 0 6px; }
h4 { font-size: 13px; margin: 12px 0 6px; color: #444; }
p { max-width: 1100px; line-height: 1.4; }
nav a { margin-right: 14px; }
code { background: #ececec; padding: 0 3px; }
.wf-meta { color: #555; }
.wf-grid { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start; }
svg.wf-plot { background: #fff; border: 1px solid #d8d8d8; }
.wf-note { background: #fff4d6; border: 1px solid #e0c170; padding: 6px 10px; margin: 6px 0;
           max-width: 1100px; }
.wf-note.wf-in-grid { box-sizing: border-box; width: 372px; min-height: 60px; margin: 0; }
table.wf-table { border-collapse: collapse; background: #fff; font-size: 13px; }
table.wf-table th, table.wf-table td { border: 1px solid #d8d8d8; padding: 3px 8px;
                                       text-align: right; }
table.wf-table th { background: #efefef; }
table.wf-table .t { text-align: left; }
td.wf-bad { color: #a02020; }
.wf-swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; }
)css";

std::string UtcNow() {
  return UtcText(static_cast<int64_t>(std::time(nullptr)) * 1000, "%Y-%m-%d %H:%M:%S UTC");
}

// Held-out predictions for one target; an estimator that throws is a failure of the
// evaluation, not of the report.
Evaluation EvaluateTarget(const TrainingData& data, Target target, int folds) {
  Evaluation e;
  e.target = std::string(TargetName(target));
  try {
    e.results = Evaluate(data, EstimatorNames(), target, Split::kGroupedKFold, folds);
  } catch (const std::exception& ex) {
    e.results.clear();
    e.error = std::string("the evaluation failed: ") + ex.what();
  }
  return e;
}

}  // namespace
}  // namespace report

Result<Report> BuildReport(const ReportOptions& options) {
  // One snapshot for every section, while a controller may be writing.
  WF_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, OpenDatasetReader(options.db));
  TrainingDataOptions load;
  load.include_flagged = options.include_flagged;
  WF_ASSIGN_OR_RETURN(TrainingData data, LoadTrainingData(*reader, load));
  // What was measured, flagged measurements included: shown marked, and the notes say when
  // something is missing from `data` only because of its flags.
  TrainingData shown_all;
  if (!options.include_flagged) {
    TrainingDataOptions all;
    all.include_flagged = true;
    WF_ASSIGN_OR_RETURN(shown_all, LoadTrainingData(*reader, all));
  }
  const TrainingData& shown = options.include_flagged ? data : shown_all;
  WF_ASSIGN_OR_RETURN(ReportData activity, LoadReportData(*reader));

  std::vector<report::Evaluation> evaluations;
  for (Target target : {Target::kEnergy, Target::kTime}) {
    evaluations.push_back(report::EvaluateTarget(data, target, options.folds));
  }

  report::Page page;
  std::string body;
  body += report::AccuracySection(evaluations, data, shown, options, page);
  body += report::ErrorSection(evaluations, page);
  body += report::ComparisonSection(evaluations, options.folds, page);
  body += report::LayerEnergySection(data, page);
  body += report::CampaignSection(activity, page);
  body += report::UtilisationSection(activity, page);
  body += report::BreakdownSection(shown, page);
  body += report::EnergyVsMacsSection(shown, page);
  body += report::QualitySection(activity, data, page);

  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"/>"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>";
  html += "<title>wattfleet report: " + svg::Escape(options.db) + "</title>";
  html += "<style>" + std::string(report::kStyle) + "</style></head><body>";
  html += "<h1>wattfleet report</h1>";
  html += "<p class=\"wf-meta\">Dataset <code>" + svg::Escape(options.db) + "</code>, " +
          std::to_string(data.layers.size()) + " layer and " +
          std::to_string(data.models.size()) + " whole-model or probe measurements" +
          (data.flagged_left_out > 0
               ? " (" + std::to_string(data.flagged_left_out) +
                     " more left out of fits for their quality flags: Measurement quality)"
               : std::string()) +
          ", " +
          std::to_string(activity.campaigns.size()) + " campaigns; generated " +
          report::UtcNow() + ".</p>";
  // Every predicted figure is an estimate; so is every energy of the modeled meter.
  const bool modeled =
      std::any_of(data.layers.begin(), data.layers.end(),
                  [](const LayerSample& l) { return l.energy_is_estimate; }) ||
      std::any_of(data.models.begin(), data.models.end(),
                  [](const ModelSample& m) { return m.energy_is_estimate; });
  html += "<p class=\"wf-note\">Predicted energies and times are estimates.";
  if (modeled) {
    html += " Energy in this dataset was modeled where no power sensor was available (TDP "
            "\u00d7 utilisation \u00d7 time): those energies, measured ones included, are "
            "estimates too; times are measured.";
  }
  html += "</p>";
  html += "<nav><a href=\"#accuracy\">Measured vs predicted</a><a href=\"#errors\">Error "
          "distributions</a><a href=\"#comparison\">Comparison</a><a href=\"#layers\">Energy by "
          "layer type</a><a href=\"#campaigns\">Campaigns</a><a href=\"#utilisation\">Device "
          "utilisation</a><a href=\"#breakdown\">Networks by layer type</a><a "
          "href=\"#energy-macs\">Energy against MACs</a><a href=\"#quality\">Measurement "
          "quality</a></nav>";
  html += body + "</body></html>\n";

  Report out;
  out.html = std::move(html);
  out.plots = page.plots();
  out.notes = page.notes();
  return out;
}

}  // namespace wattfleet
