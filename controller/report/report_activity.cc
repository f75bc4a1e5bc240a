// The dataset's part of the report: energy by layer type, campaign progress and device
// utilisation over time.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <map>
#include <set>
#include <tuple>

#include "report_sections.h"
#include "wattfleet/common/text.h"
#include "wattfleet/store/store.h"
#include "svg_plot.h"

namespace wattfleet::report {
namespace {

// A shared time axis for the plots over time: offsets from the first activity, in a unit
// that suits the span.
struct TimeAxis {
  int64_t t0_ms = 0;
  int64_t t1_ms = 0;
  double unit_ms = 1000;
  std::string label;  // "time since 2024-05-01 12:00:00 UTC (min)"
  double At(double ms) const { return (ms - static_cast<double>(t0_ms)) / unit_ms; }
};

std::string Utc(int64_t ms) { return UtcText(ms, "%Y-%m-%d %H:%M:%S UTC"); }

double StartMs(const Activity& a) { return static_cast<double>(a.end_ms) - a.busy_ms; }

TimeAxis MakeTimeAxis(const std::vector<Activity>& activity) {
  TimeAxis axis;
  double t0 = std::numeric_limits<double>::infinity();
  int64_t t1 = std::numeric_limits<int64_t>::min();
  for (const Activity& a : activity) {
    t0 = std::min(t0, StartMs(a));
    t1 = std::max(t1, a.end_ms);
  }
  axis.t0_ms = static_cast<int64_t>(std::floor(t0 / 1000) * 1000);  // a whole second
  axis.t1_ms = std::max(t1, axis.t0_ms + 1);
  const double span_s = static_cast<double>(axis.t1_ms - axis.t0_ms) / 1000;
  std::string unit = "s";
  if (span_s > 72 * 3600) {
    axis.unit_ms = 86400e3;
    unit = "d";
  } else if (span_s > 3 * 3600) {
    axis.unit_ms = 3600e3;
    unit = "h";
  } else if (span_s > 180) {
    axis.unit_ms = 60e3;
    unit = "min";
  }
  axis.label = "time since " + Utc(axis.t0_ms) + " (" + unit + ")";
  return axis;
}

// "30 s", "5 min", "2 h", "1 d".
std::string Duration(double seconds) {
  char buf[32];
  if (seconds < 120) {
    std::snprintf(buf, sizeof(buf), "%.3g s", seconds);
  } else if (seconds < 7200) {
    std::snprintf(buf, sizeof(buf), "%.3g min", seconds / 60);
  } else if (seconds < 172800) {
    std::snprintf(buf, sizeof(buf), "%.3g h", seconds / 3600);
  } else {
    std::snprintf(buf, sizeof(buf), "%.3g d", seconds / 86400);
  }
  return buf;
}

// The narrowest round bin width that cuts `span_s` into at most 60 bins.
double BinSeconds(double span_s) {
  static constexpr double kWidths[] = {1,    2,    5,     10,    15,    30,    60,
                                       120,  300,  600,   900,   1800,  3600,  7200,
                                       10800, 21600, 43200, 86400, 172800, 604800};
  for (double w : kWidths) {
    if (span_s / w <= 60) return w;
  }
  return std::ceil(span_s / 60 / 604800) * 604800;
}

}  // namespace

std::string LayerEnergySection(const TrainingData& data, Page& page) {
  std::string s = "<section id=\"layers\"><h2>Energy by layer type</h2>";
  s += "<p>Energy per iteration of the measured layer jobs (raw, idle power included), summed "
       "by layer type, one plot per device class, mode and batch (batches are never mixed); "
       "the count is the number of layer measurements of the type.</p>";
  struct Sum {
    double energy = 0;
    int64_t n = 0;
  };
  struct Place {
    std::map<std::string, Sum> types;
    bool modeled = false;
  };
  std::map<std::tuple<std::string, std::string, int64_t>, Place> by_place;
  std::map<std::pair<std::string, std::string>, std::set<int64_t>> batches;
  for (const LayerSample& l : data.layers) {
    if (!std::isfinite(l.energy_j)) continue;
    Place& place = by_place[{l.device_class, l.mode, l.batch}];
    Sum& sum = place.types[l.type.empty() ? "(unknown)" : l.type];
    sum.energy += l.energy_j;
    ++sum.n;
    place.modeled |= l.energy_is_estimate;
    batches[{l.device_class, l.mode}].insert(l.batch);
  }
  if (by_place.empty()) {
    return s + page.Note("No layer measurements in the dataset (plan layers: distinct).") +
           "</section>";
  }
  std::string items;
  for (const auto& [where, place] : by_place) {
    const auto& [device, mode, batch] = where;
    std::vector<svg::Bar> bars;
    for (const auto& [type, sum] : place.types) {
      bars.push_back({type, sum.energy,
                      svg::FormatSi(sum.energy, "J") + " (" + std::to_string(sum.n) + ")"});
    }
    std::stable_sort(bars.begin(), bars.end(),
                     [](const svg::Bar& a, const svg::Bar& b) { return a.value > b.value; });
    // The id without the batch where there is one batch (the common case, and what links
    // to it use); with a sweep, one per batch.
    const bool sweep = batches[{device, mode}].size() > 1;
    svg::PlotOptions o;
    o.id = page.Id("layer-energy-" + device + "-" + mode +
                   (sweep ? "-batch-" + std::to_string(batch) : std::string()));
    o.title = device + "/" + mode + ", batch " + std::to_string(batch) +
              ": energy of measured layers by type";
    if (place.modeled) o.note = "modeled energy (no power sensor): an estimate";
    o.width = kPlotWidth * 3 / 2;
    o.x = {"energy per iteration, summed over the type's layer measurements (J)"};
    o.y = {"layer type"};
    items += page.Plot(svg::BarChart(o, bars, report_colours::kLayerBar));
  }
  return s + Grid(items) + "</section>";
}

namespace {

// The campaigns' jobs by state, one bar each, and which quality flags their measurements carry.
// `names` gets each campaign's label for the progress plot.
std::string CampaignJobs(const ReportData& data, Page& page,
                         std::map<int64_t, std::string>* names_out) {
  std::map<int64_t, std::string>& names = *names_out;
  std::vector<std::string> states;
  for (JobState st : {JobState::kPlanned, JobState::kQueued, JobState::kLeased, JobState::kDone,
                      JobState::kFailed, JobState::kQuarantined, JobState::kCancelled}) {
    states.emplace_back(JobStateName(st));
  }
  const std::vector<std::string> colours(std::begin(report_colours::kJobStates),
                                         std::end(report_colours::kJobStates));
  std::vector<svg::StackedBar> bars;
  for (const CampaignSummary& c : data.campaigns) {
    svg::StackedBar bar;
    bar.label = "#" + std::to_string(c.id) + " " + c.name + " (" + c.state +
                (c.flagged > 0 ? ", " + std::to_string(c.flagged) + " flagged" : std::string()) +
                ")";
    names[c.id] = "#" + std::to_string(c.id) + " " + c.name;
    for (const std::string& st : states) {
      auto it = c.jobs.find(st);
      bar.values.push_back(it == c.jobs.end() ? 0.0 : static_cast<double>(it->second));
    }
    bars.push_back(std::move(bar));
  }
  const svg::PlotOptions jobs = PerCampaignBars(
      page, "campaign-jobs", "Jobs by state, per campaign", "jobs (count)", "jobs");
  std::string items = page.Plot(svg::StackedBarChart(jobs, states, colours, bars));
  // Which flags, said in words: estimators leave these measurements out (docs/dataset.md).
  std::string flagged;
  for (const CampaignSummary& c : data.campaigns) {
    if (c.flagged == 0) continue;
    std::string kinds;
    for (const auto& [flag, n] : c.flags) {
      kinds += (kinds.empty() ? "" : ", ") + flag + " " + std::to_string(n);
    }
    flagged += (flagged.empty() ? "" : "; ") + std::string("#") + std::to_string(c.id) + " " +
               c.name + ": " + std::to_string(c.flagged) + " (" + kinds + ")";
  }
  if (!flagged.empty()) {
    items += page.Note("Measurements with quality flags, left out of every estimator: " +
                       flagged + ".", true);
  }

  return items;
}

// How many measurements each campaign had stored over time: one line per campaign.
std::string CampaignProgress(const ReportData& data, std::map<int64_t, std::string> names,
                             Page& page) {
  const TimeAxis axis = MakeTimeAxis(data.activity);
  // One line per campaign while each can have a colour of its own; beyond that, one line of
  // all campaigns together (a legend of dozens of look-alike lines helps nobody).
  std::map<int64_t, std::vector<double>> ends;  // campaign (0: all) -> end times (ms)
  for (const Activity& a : data.activity) {
    ends[a.campaign_id].push_back(static_cast<double>(a.end_ms));
  }
  const size_t campaigns_measured = ends.size();
  const bool together = campaigns_measured > std::size(report_colours::kCampaigns);
  if (together) {
    std::vector<double> all;
    for (const auto& [id, times] : ends) all.insert(all.end(), times.begin(), times.end());
    ends.clear();
    ends[0] = std::move(all);
    names[0] = "all " + std::to_string(campaigns_measured) + " campaigns";
  }
  std::vector<svg::Series> series;
  size_t k = 0;
  bool thinned = false;
  for (auto& [id, times] : ends) {
    std::sort(times.begin(), times.end());
    svg::Series ser;
    ser.name = names.count(id) ? names[id] : "#" + std::to_string(id);
    ser.colour = report_colours::kCampaigns[k++ % std::size(report_colours::kCampaigns)];
    ser.x.push_back(axis.At(times.front()));
    ser.y.push_back(0);
    // At most about 1 000 steps per line: every m-th measurement, and the last.
    const size_t m = std::max<size_t>(1, times.size() / 1000);
    thinned = thinned || m > 1;
    for (size_t i = 0; i < times.size(); ++i) {
      if ((i + 1) % m != 0 && i + 1 != times.size()) continue;
      ser.x.push_back(axis.At(times[i]));
      ser.y.push_back(static_cast<double>(i + 1));
    }
    series.push_back(std::move(ser));
  }
  svg::PlotOptions over_time;
  over_time.id = page.Id("campaign-measurements");
  over_time.title = "Measurements stored over time";
  if (together) over_time.note = "campaigns together (more than there are colours)";
  if (thinned) {
    over_time.note += std::string(over_time.note.empty() ? "" : "; ") +
                      "steps of several measurements where there are many";
  }
  over_time.width = kWidePlotWidth;
  over_time.height = kPlotHeight;
  over_time.x = {axis.label, svg::ScaleType::kLinear, 0, std::nan("")};
  over_time.y = {"measurements stored (count)", svg::ScaleType::kLinear, 0, std::nan("")};
  return page.Plot(svg::LinePlot(over_time, series, true));
}

}  // namespace

std::string CampaignSection(const ReportData& data, Page& page) {
  std::string s = "<section id=\"campaigns\"><h2>Campaigns</h2>";
  if (data.campaigns.empty()) {
    return s + page.Note("No campaigns in the dataset (imported measurements only, or none).") +
           "</section>";
  }
  std::map<int64_t, std::string> names;
  std::string items = CampaignJobs(data, page, &names);
  if (data.activity.empty()) {
    items += page.Note("No measurements stored yet, so no progress over time.", true);
    return s + Grid(items) + "</section>";
  }
  items += CampaignProgress(data, std::move(names), page);
  return s + Grid(items) + "</section>";
}

std::string UtilisationSection(const ReportData& data, Page& page) {
  std::string s = "<section id=\"utilisation\"><h2>Device utilisation</h2>";
  s += "<p>Share of each time bin an agent spent measuring. A measurement is taken to have "
       "occupied its agent for its warm-up, its timed windows and its cool-down, ending when "
       "the controller stored it; set-up and the idle baseline are not counted, so this is a "
       "lower bound.</p>";
  if (data.activity.empty()) {
    return s + page.Note("No measurements stored yet, so no utilisation.") + "</section>";
  }
  const TimeAxis axis = MakeTimeAxis(data.activity);
  const double span_s = static_cast<double>(axis.t1_ms - axis.t0_ms) / 1000;
  const double bin_s = BinSeconds(span_s);
  const size_t bins = std::max<size_t>(1, static_cast<size_t>(std::ceil(span_s / bin_s)));
  const double bin_ms = bin_s * 1000;
  std::vector<double> edges;
  for (size_t i = 0; i <= bins; ++i) {
    edges.push_back(axis.At(static_cast<double>(axis.t0_ms) + bin_ms * static_cast<double>(i)));
  }
  struct Agent {
    std::set<std::string> classes;
    std::vector<double> busy_ms;
    double total_ms = 0;
    int64_t measurements = 0;
  };
  std::map<std::string, Agent> agents;
  for (const Activity& a : data.activity) {
    Agent& agent = agents[a.agent];
    if (agent.busy_ms.empty()) agent.busy_ms.assign(bins, 0);
    agent.classes.insert(a.device_class);
    ++agent.measurements;
    const double start = StartMs(a) - static_cast<double>(axis.t0_ms);
    const double end = static_cast<double>(a.end_ms - axis.t0_ms);
    if (!(end > start)) continue;
    agent.total_ms += end - start;
    const size_t first = static_cast<size_t>(std::max(0.0, std::floor(start / bin_ms)));
    for (size_t b = first; b < bins && static_cast<double>(b) * bin_ms < end; ++b) {
      const double lo = std::max(start, static_cast<double>(b) * bin_ms);
      const double hi = std::min(end, static_cast<double>(b + 1) * bin_ms);
      if (hi > lo) agent.busy_ms[b] += hi - lo;
    }
  }
  std::string items;
  for (const auto& [name, agent] : agents) {
    std::vector<double> percent;
    for (double ms : agent.busy_ms) percent.push_back(std::min(100.0, 100 * ms / bin_ms));
    std::string classes;
    for (const std::string& c : agent.classes) classes += (classes.empty() ? "" : ", ") + c;
    svg::PlotOptions o;
    o.id = page.Id("utilisation-" + name);
    o.title = name + " (" + classes + "): busy per " + Duration(bin_s);
    o.note = "busy " + Percent(std::min(1.0, agent.total_ms / (span_s * 1000))) + " of " +
             Duration(span_s) + ", " + std::to_string(agent.measurements) + " measurements";
    o.width = kPlotWidth;
    o.height = kPlotHeight - 40;
    o.x = {axis.label, svg::ScaleType::kLinear, 0, edges.back()};
    o.y = {"busy (% of the bin)", svg::ScaleType::kLinear, 0, 100};
    items += page.Plot(svg::ColumnPlot(o, edges, percent, report_colours::kBusy));
  }
  return s + Grid(items) + "</section>";
}

}  // namespace wattfleet::report
