// The estimators' part of the report: measured vs predicted per estimator, the error
// distributions, and the comparison table, all from the held-out points of Evaluate().
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <functional>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "wattfleet/estimate/estimator.h"
#include "report_sections.h"
#include "svg_plot.h"

namespace wattfleet::report {
namespace {

using Where = std::pair<std::string, std::string>;  // device class, mode

std::string Label(const Where& w) { return w.first + "/" + w.second; }

std::string TargetLabel(const std::string& target) {
  return target == "time" ? "time per iteration" : "energy per iteration";
}
std::string TargetUnit(const std::string& target) { return target == "time" ? "s" : "J"; }

std::string EstimatorColour(const std::string& name) {
  const std::vector<std::string> names = EstimatorNames();
  const size_t n = std::size(report_colours::kEstimators);
  const auto it = std::find(names.begin(), names.end(), name);
  size_t index = static_cast<size_t>(it - names.begin());
  if (it == names.end()) {  // not a built-in name: still a stable colour
    index = names.size() + std::hash<std::string>{}(name);
  }
  return report_colours::kEstimators[index % n];
}

// (device, mode) pairs of the results, in their order of appearance.
std::vector<Where> Places(const std::vector<Evaluation>& evaluations) {
  std::vector<Where> places;
  for (const Evaluation& e : evaluations) {
    for (const EvalResult& r : e.results) {
      const Where w{r.device, r.mode};
      if (std::find(places.begin(), places.end(), w) == places.end()) places.push_back(w);
    }
  }
  return places;
}

// Evenly spaced indices into n items, at most `max` of them (all when n <= max).
std::vector<size_t> Subsample(size_t n, size_t max) {
  std::vector<size_t> idx;
  if (n <= max || max == 0) {
    for (size_t i = 0; i < n; ++i) idx.push_back(i);
    return idx;
  }
  for (size_t k = 0; k < max; ++k) idx.push_back(k * n / max);
  return idx;
}

std::string Fixed(const char* format, double v) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), format, v);
  return buf;
}

std::string Scatter(const EvalResult& r, const ReportOptions& options, Page& page) {
  const std::string title = r.estimator + " \u00b7 " + r.device + "/" + r.mode + " \u00b7 " +
                            r.target;
  if (r.n == 0) {
    return page.Note(title + ": not scored \u2014 " +
                         (r.error.empty() ? std::string("no held-out prediction") : r.error),
                     true);
  }
  // Log-log axes show positive values only; an estimator may predict <= 0 (a linear fit's
  // intercept), and those points are counted in the note instead.
  std::vector<const EvalPoint*> usable;
  for (const EvalPoint& p : r.points) {
    if (std::isfinite(p.measured) && std::isfinite(p.predicted) && p.measured > 0 &&
        p.predicted > 0) {
      usable.push_back(&p);
    }
  }
  const size_t dropped = r.points.size() - usable.size();
  if (usable.empty()) {
    return page.Note(title + ": no prediction can be drawn on log axes (" +
                         std::to_string(dropped) + " not positive)",
                     true);
  }
  svg::Series series;
  series.colour = r.target == "time" ? report_colours::kTimePoint : report_colours::kEnergyPoint;
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (const EvalPoint* p : usable) {
    lo = std::min({lo, p->measured, p->predicted});
    hi = std::max({hi, p->measured, p->predicted});
  }
  const std::vector<size_t> shown = Subsample(usable.size(), options.max_scatter_points);
  // One series per batch, so that a batch sweep's points can be told apart; each point named
  // in its tooltip.
  std::map<int64_t, svg::Series> by_batch;
  for (size_t i : shown) {
    const EvalPoint& p = *usable[i];
    svg::Series& b = by_batch[p.batch];
    b.x.push_back(p.measured);
    b.y.push_back(p.predicted);
    b.labels.push_back(p.architecture + ", batch " + std::to_string(p.batch) + ", " +
                       r.device + ": measured " + svg::FormatSi(p.measured, TargetUnit(r.target)) +
                       ", predicted " + svg::FormatSi(p.predicted, TargetUnit(r.target)) +
                       " (an estimate)");
  }
  std::vector<svg::Series> all;
  if (by_batch.size() == 1) {
    series.x = std::move(by_batch.begin()->second.x);
    series.y = std::move(by_batch.begin()->second.y);
    series.labels = std::move(by_batch.begin()->second.labels);
    all.push_back(std::move(series));
  } else {
    size_t k = 0;
    for (auto& [batch, b] : by_batch) {
      b.name = "batch " + std::to_string(batch);
      b.colour = report_colours::kBatches[k++ % std::size(report_colours::kBatches)];
      all.push_back(std::move(b));
    }
  }
  std::string note = "n = " + std::to_string(r.n) + ", median APE " + Percent(r.median_ape) +
                     ", R\u00b2 " + Fixed("%.3f", r.r2);
  if (shown.size() < usable.size()) {
    note += "; " + std::to_string(shown.size()) + " of " + std::to_string(usable.size()) +
            " points shown (evenly subsampled)";
  }
  if (dropped > 0) note += "; " + std::to_string(dropped) + " predictions \u2264 0 not shown";
  svg::PlotOptions o;
  o.id = page.Id("scatter-" + r.estimator + "-" + r.device + "-" + r.mode + "-" + r.target);
  o.title = title;
  o.note = note;
  o.width = kPlotWidth;
  o.height = kPlotHeight;
  // The same domain on both axes, so that y = x is the diagonal.
  const svg::Scale both = svg::Scale::Fitted(svg::ScaleType::kLog, lo, hi, 0, 1);
  const std::string unit = " (" + TargetUnit(r.target) + ")";
  o.x = {"measured " + TargetLabel(r.target) + unit, svg::ScaleType::kLog, both.domain_lo(),
         both.domain_hi()};
  o.y = {"predicted (estimate) " + TargetLabel(r.target) + unit, svg::ScaleType::kLog,
         both.domain_lo(), both.domain_hi()};
  return page.Plot(svg::ScatterPlot(o, all, true));
}

}  // namespace

std::string AccuracySection(const std::vector<Evaluation>& evaluations, const TrainingData& data,
                            const TrainingData& shown, const ReportOptions& options, Page& page) {
  std::string s = "<section id=\"accuracy\"><h2>Measured vs predicted</h2>";
  s += "<p>Each point is one architecture's whole-model measurement against the estimator's "
       "prediction for it while it was held out: grouped " +
       std::to_string(options.folds) +
       "-fold cross-validation by architecture, as <code>wattfleet fit --split kfold</code>. "
       "Log\u2013log axes; the dashed line is y = x.</p>";
  // Device classes and modes measured without whole models cannot be evaluated.
  std::set<Where> with_models, measured;
  std::map<Where, int64_t> flagged_models;  // whole models measured but left out for flags
  for (const ModelSample& m : data.models) {
    if (m.kind == JobKind::kModel) with_models.insert({m.device_class, m.mode});
  }
  for (const LayerSample& l : shown.layers) measured.insert({l.device_class, l.mode});
  for (const ModelSample& m : shown.models) {
    measured.insert({m.device_class, m.mode});
    if (m.kind == JobKind::kModel && m.flagged) ++flagged_models[{m.device_class, m.mode}];
  }
  for (const Where& w : measured) {
    if (with_models.count(w)) continue;
    if (const auto f = flagged_models.find(w); f != flagged_models.end()) {
      s += page.Note(Label(w) + ": all " + std::to_string(f->second) +
                     " whole-model measurements carry quality flags and are left out, so "
                     "nothing to evaluate the estimators on (Measurement quality, below; "
                     "report --include-flagged uses them)");
    } else {
      s += page.Note(Label(w) + ": no whole-model measurements, so nothing to evaluate the "
                                "estimators on (plan whole_models: true)");
    }
  }
  if (measured.empty()) s += page.Note("The dataset holds no measurements yet.");
  for (const Evaluation& e : evaluations) {
    if (!e.error.empty()) s += page.Note(TargetLabel(e.target) + ": " + e.error);
  }
  for (const Where& w : Places(evaluations)) {
    s += "<h3>" + svg::Escape(w.first + " \u00b7 " + w.second) + "</h3>";
    for (const Evaluation& e : evaluations) {
      std::string cards;
      for (const EvalResult& r : e.results) {
        if (r.device == w.first && r.mode == w.second) cards += Scatter(r, options, page);
      }
      if (cards.empty()) continue;
      std::string heading = TargetLabel(e.target);
      heading[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(heading[0])));
      s += "<h4>" + svg::Escape(heading) + "</h4>" + Grid(cards);
    }
  }
  return s + "</section>";
}

std::string ErrorSection(const std::vector<Evaluation>& evaluations, Page& page) {
  std::string s = "<section id=\"errors\"><h2>Error distributions</h2>";
  s += "<p>Empirical distribution of the absolute percentage error |predicted \u2212 measured| "
       "/ measured of the held-out predictions: the higher and further left a curve, the "
       "better the estimator.</p>";
  std::string items;
  for (const Where& w : Places(evaluations)) {
    for (const Evaluation& e : evaluations) {
      std::vector<svg::Series> series;
      std::vector<std::string> unscored;
      bool clamped = false;
      for (const EvalResult& r : e.results) {
        if (r.device != w.first || r.mode != w.second) continue;
        std::vector<double> apes;
        for (const EvalPoint& p : r.points) {
          if (!(p.measured > 0) || !std::isfinite(p.predicted)) continue;
          double ape = 100 * std::fabs(p.predicted - p.measured) / p.measured;
          // A log axis cannot show 0: exact predictions are drawn at 0.01 %.
          if (ape < 0.01) {
            ape = 0.01;
            clamped = true;
          }
          apes.push_back(ape);
        }
        if (apes.empty()) {
          unscored.push_back(r.estimator);
          continue;
        }
        std::sort(apes.begin(), apes.end());
        svg::Series ser;
        ser.name = r.estimator;
        ser.colour = EstimatorColour(r.estimator);
        const double n = static_cast<double>(apes.size());
        // The step function of the ECDF through at most 1 000 of its points.
        const std::vector<size_t> idx = Subsample(apes.size(), 1000);
        ser.x.push_back(apes[idx.front()]);
        ser.y.push_back(0);
        for (size_t i : idx) {
          ser.x.push_back(apes[i]);
          ser.y.push_back(100 * static_cast<double>(i + 1) / n);
        }
        if (idx.back() != apes.size() - 1) {
          ser.x.push_back(apes.back());
          ser.y.push_back(100);
        }
        // Estimators with the very same errors (tdp is macs' time times a constant power,
        // so their APEs of time coincide) would hide each other: one curve, both names.
        auto same = std::find_if(series.begin(), series.end(), [&](const svg::Series& other) {
          return other.x == ser.x && other.y == ser.y;
        });
        if (same != series.end()) {
          same->name += " = " + ser.name;
          continue;
        }
        series.push_back(std::move(ser));
      }
      if (series.empty() && unscored.empty()) continue;
      const std::string title = "APE distribution \u00b7 " + Label(w) + " \u00b7 " + e.target;
      if (series.empty()) {
        items += page.Note(title + ": no estimator was scored", true);
        continue;
      }
      svg::PlotOptions o;
      o.id = page.Id("ape-cdf-" + w.first + "-" + w.second + "-" + e.target);
      o.title = title;
      std::string note;
      if (!unscored.empty()) {
        std::string names;
        for (const std::string& n : unscored) names += (names.empty() ? "" : ", ") + n;
        note = "not scored: " + names;
      }
      if (clamped) note += std::string(note.empty() ? "" : "; ") + "APE < 0.01 % drawn at 0.01 %";
      o.note = note;
      o.width = kPlotWidth;
      o.height = kPlotHeight;
      o.x = {"absolute percentage error (%)", svg::ScaleType::kLog};
      o.y = {"architectures with APE \u2264 x (%)", svg::ScaleType::kLinear, 0, 100};
      items += page.Plot(svg::LinePlot(o, series, true));
    }
  }
  if (items.empty()) {
    s += page.Note("No held-out predictions, so no error distribution (see Measured vs "
                   "predicted).");
  } else {
    s += Grid(items);
  }
  return s + "</section>";
}

std::string ComparisonSection(const std::vector<Evaluation>& evaluations, int folds, Page& page) {
  std::string s = "<section id=\"comparison\"><h2>Comparison</h2>";
  s += "<p>The figures of <code>wattfleet fit --split kfold</code> (grouped " +
       std::to_string(folds) +
       "-fold by architecture): APE is |predicted \u2212 measured| / measured; R\u00b2 of the "
       "predictions against the measurements; n held-out predictions scored.</p>";
  std::vector<const EvalResult*> rows;
  for (const Where& w : Places(evaluations)) {
    for (const Evaluation& e : evaluations) {
      for (const EvalResult& r : e.results) {
        if (r.device == w.first && r.mode == w.second) rows.push_back(&r);
      }
    }
  }
  if (rows.empty()) {
    return s + page.Note("No estimator was evaluated (see Measured vs predicted).") +
           "</section>";
  }
  s += "<table class=\"wf-table\" id=\"comparison-table\"><thead><tr><th class=\"t\">device"
       "</th><th class=\"t\">mode</th><th class=\"t\">target</th><th class=\"t\">estimator</th>"
       "<th>median APE</th><th>MAPE</th><th>p90 APE</th><th>R\u00b2</th><th>n</th>"
       "<th class=\"t\">notes</th></tr></thead><tbody>";
  for (const EvalResult* r : rows) {
    s += "<tr><td class=\"t\">" + svg::Escape(r->device) + "</td><td class=\"t\">" +
         svg::Escape(r->mode) + "</td><td class=\"t\">" + svg::Escape(r->target) +
         "</td><td class=\"t\"><span class=\"wf-swatch\" style=\"background:" +
         EstimatorColour(r->estimator) + "\"></span>" + svg::Escape(r->estimator) + "</td>";
    if (r->n == 0) {
      s += "<td colspan=\"5\" class=\"t wf-bad\">not scored</td><td class=\"t\">" +
           svg::Escape(r->error) + "</td></tr>";
      continue;
    }
    std::string notes;
    if (!r->unmodelled.empty()) {
      notes = "no model of its own for ";
      for (size_t i = 0; i < r->unmodelled.size(); ++i) {
        notes += (i ? ", " : "") + r->unmodelled[i];
      }
      notes += " (global fallback)";
    }
    if (!r->error.empty()) notes += std::string(notes.empty() ? "" : "; ") + r->error;
    s += "<td>" + Percent(r->median_ape) + "</td><td>" + Percent(r->mape) + "</td><td>" +
         Percent(r->p90_ape) + "</td><td>" + Fixed("%.3f", r->r2) + "</td><td>" +
         std::to_string(r->n) + "</td><td class=\"t\">" + svg::Escape(notes) + "</td></tr>";
  }
  return s + "</tbody></table></section>";
}

}  // namespace wattfleet::report
