// What the measured networks are made of and how their cost grows (report_sections.h): each
// whole network's energy split by layer type, energy against MACs, and the measurements'
// quality flags per campaign.
#include <algorithm>
#include <cmath>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "report_sections.h"
#include "svg_plot.h"

namespace wattfleet::report {
namespace {

// Per plot, at most this many networks (those with the most energy): a bar each.
constexpr size_t kMaxNetworks = 30;

template <size_t N>
const char* Cycle(const char* const (&colours)[N], size_t i) {
  return colours[i % N];
}

}  // namespace

namespace {

// One network measured whole, its energy per iteration as the sum of its measured layers, by
// layer type.
struct Network {
  std::string name;
  std::map<std::string, double> by_type;
  double total = 0;
};

using Place = std::tuple<std::string, std::string, int64_t>;  // device class, mode, batch

struct Breakdowns {
  std::map<Place, std::map<std::string, Network>> places;
  std::map<Place, bool> modeled;  // any layer's energy an estimate
  int64_t incomplete = 0;         // networks with a layer not measured at their batch
};

Breakdowns GroupNetworks(const TrainingData& data) {
  // (device, mode, batch, key) -> the layer's measured energy (the last one seen).
  std::map<std::tuple<std::string, std::string, int64_t, std::string>, const LayerSample*> layers;
  for (const LayerSample& l : data.layers) {
    if (std::isfinite(l.energy_j) && l.energy_j >= 0) {
      layers[{l.device_class, l.mode, l.batch, l.key}] = &l;
    }
  }
  Breakdowns out;
  for (const ModelSample& m : data.models) {
    if (m.kind != JobKind::kModel || m.layer_keys.empty()) continue;
    Network n;
    bool complete = true;
    bool estimate = false;
    bool flagged = m.flagged;
    for (const std::string& key : m.layer_keys) {
      auto it = layers.find({m.device_class, m.mode, m.batch, key});
      if (it == layers.end()) {
        complete = false;
        break;
      }
      n.by_type[it->second->type] += it->second->energy_j;
      n.total += it->second->energy_j;
      estimate |= it->second->energy_is_estimate;
      flagged |= it->second->flagged;
    }
    n.name = flagged ? m.name + " (flagged)" : m.name;
    if (!complete) {
      ++out.incomplete;
      continue;
    }
    const Place place = std::make_tuple(m.device_class, m.mode, m.batch);
    out.places[place][n.name] = std::move(n);  // repeats of a network: one bar
    out.modeled[place] = out.modeled[place] || estimate;
  }
  return out;
}

// One place's networks as stacked bars, the largest first, the layer types by their energy.
std::string BreakdownPlot(const Place& place, std::map<std::string, Network>& networks,
                          bool modeled, Page& page) {
  const auto& [device, mode, batch] = place;
  std::vector<Network> list;
  for (auto& [name, n] : networks) list.push_back(std::move(n));
  std::stable_sort(list.begin(), list.end(),
                   [](const Network& a, const Network& b) { return a.total > b.total; });
  const size_t total_networks = list.size();
  if (list.size() > kMaxNetworks) list.resize(kMaxNetworks);
  // Segments: the types by their energy over the plot, largest first.
  std::map<std::string, double> type_totals;
  for (const Network& n : list) {
    for (const auto& [type, e] : n.by_type) type_totals[type] += e;
  }
  std::vector<std::string> types;
  for (const auto& [type, e] : type_totals) types.push_back(type);
  std::stable_sort(types.begin(), types.end(), [&](const std::string& a, const std::string& b) {
    return type_totals[a] > type_totals[b];
  });
  std::vector<std::string> colours;
  for (size_t i = 0; i < types.size(); ++i) colours.push_back(Cycle(report_colours::kLayerTypes, i));
  std::vector<svg::StackedBar> bars;
  for (const Network& n : list) {
    svg::StackedBar bar;
    bar.label = n.name;
    for (const std::string& type : types) {
      auto it = n.by_type.find(type);
      bar.values.push_back(it == n.by_type.end() ? 0.0 : it->second);
    }
    bars.push_back(std::move(bar));
  }
  svg::PlotOptions o;
  o.id = page.Id("breakdown-" + device + "-" + mode + "-batch-" + std::to_string(batch));
  o.title = device + "/" + mode + ", batch " + std::to_string(batch) +
            ": networks' energy by layer type";
  if (total_networks > list.size()) {
    o.note = std::to_string(list.size()) + " of " + std::to_string(total_networks) +
             " networks shown (those with the most energy)";
  }
  if (modeled) {
    o.note += std::string(o.note.empty() ? "" : "; ") + "modeled energy (no power sensor): an estimate";
  }
  o.width = kWidePlotWidth;
  o.x = {"energy per iteration, sum of the measured layers (J)"};
  o.value_unit = "J";
  o.y = {"network"};
  return page.Plot(svg::StackedBarChart(o, types, colours, bars));
}

}  // namespace

std::string BreakdownSection(const TrainingData& data, Page& page) {
  std::string s = "<section id=\"breakdown\"><h2>Networks by layer type</h2>";
  s += "<p>Each whole network measured, its energy per iteration split by the layer types it "
       "is made of: the measured energy of each of its layers on the same device class, mode "
       "and batch, summed by type. The bar's length is the sum of its layers, which may differ "
       "from the network measured whole (see the campaign's summary, layer-sum). A network "
       "whose measurement or any of whose layers carry quality flags is named "
       "<code>(flagged)</code>: shown, but left out of fits unless asked for.</p>";
  Breakdowns b = GroupNetworks(data);
  if (b.places.empty()) {
    return s + page.Note("No whole network has all of its layers measured at its batch (plan "
                         "layers: distinct and whole_models: true).") +
           "</section>";
  }
  std::string items;
  for (auto& [place, networks] : b.places) {
    items += BreakdownPlot(place, networks, b.modeled[place], page);
  }
  std::string note;
  if (b.incomplete > 0) {
    note = page.Note(std::to_string(b.incomplete) + " whole-network measurements left out: some "
                     "of their layers were not measured at their batch.");
  }
  return s + Grid(items) + note + "</section>";
}

std::string EnergyVsMacsSection(const TrainingData& data, Page& page) {
  std::string s = "<section id=\"energy-macs\"><h2>Energy against MACs</h2>";
  s += "<p>Whole networks as measured: energy per iteration against multiply-accumulates per "
       "iteration (the batch included), one colour per device class. Open circles carry "
       "quality flags (Measurement quality, below): shown, but left out of fits unless asked "
       "for. Hover a point for its name and batch.</p>";
  // mode -> (device, flagged) -> points
  std::map<std::string, std::map<std::pair<std::string, bool>, svg::Series>> by_mode;
  std::map<std::string, bool> modeled;
  for (const ModelSample& m : data.models) {
    if (m.kind != JobKind::kModel || !(m.macs > 0) || !(m.energy_j > 0)) continue;
    svg::Series& ser = by_mode[m.mode][{m.device_class, m.flagged}];
    ser.x.push_back(m.macs);
    ser.y.push_back(m.energy_j);
    ser.labels.push_back(m.name + ", batch " + std::to_string(m.batch) + ", " + m.device_class +
                         ": " + svg::FormatSi(m.energy_j, "J") +
                         (m.energy_is_estimate ? " (modeled: an estimate)" : "") + ", " +
                         svg::FormatSi(m.macs, "MAC") + (m.flagged ? ", flagged" : ""));
    modeled[m.mode] = modeled[m.mode] || m.energy_is_estimate;
  }
  if (by_mode.empty()) {
    return s + page.Note("No whole-network measurements with energy (plan whole_models: true).") +
           "</section>";
  }
  std::string items;
  for (auto& [mode, devices] : by_mode) {
    std::vector<svg::Series> series;
    std::map<std::string, std::string> colour_of;  // one colour per device, flagged or not
    for (auto& [where, ser] : devices) {
      const auto& [device, flagged] = where;
      colour_of.emplace(device, Cycle(report_colours::kDevices, colour_of.size()));
      ser.name = flagged ? device + ", flagged" : device;
      ser.colour = colour_of[device];
      ser.hollow = flagged;
      series.push_back(std::move(ser));
    }
    svg::PlotOptions o;
    o.id = page.Id("energy-macs-" + mode);
    o.title = mode + ": energy against MACs, whole networks";
    if (modeled[mode]) o.note = "modeled energy (no power sensor) is an estimate";
    o.width = kPlotWidth * 3 / 2;
    o.height = kPlotHeight;
    o.x = {"MACs per iteration", svg::ScaleType::kLog};
    o.y = {"energy per iteration (J)", svg::ScaleType::kLog};
    items += page.Plot(svg::ScatterPlot(o, series, false));
  }
  return s + Grid(items) + "</section>";
}

std::string QualitySection(const ReportData& data, const TrainingData& training, Page& page) {
  std::string s = "<section id=\"quality\"><h2>Measurement quality</h2>";
  s += "<p>The measurements of each campaign by the quality flags they carry (docs/dataset.md): "
       "<code>ci</code> the confidence target was missed, <code>interference</code> other work "
       "shared the device, <code>below-idle</code> less than idle power, "
       "<code>idle-stale</code> the idle power was measured shared or long before. Each "
       "measurement counts once, so that a bar is as long as the campaign's measurements: one "
       "with several flags under the first of interference, below-idle, idle-stale, ci (the "
       "note under Campaigns gives every flag's own count). <code>fit</code> and this report's estimators "
       "leave measurements with flags out";
  if (training.flagged_left_out > 0) {
    s += " (" + std::to_string(training.flagged_left_out) + " here)";
  }
  s += ".</p>";
  if (data.campaigns.empty()) {
    return s + page.Note("No campaigns in the dataset.") + "</section>";
  }
  std::vector<std::string> segments = {"no flag"};
  segments.insert(segments.end(), std::begin(kFlagOrder), std::end(kFlagOrder));
  std::set<std::string> known(segments.begin() + 1, segments.end());
  bool other = false;
  for (const CampaignSummary& c : data.campaigns) {
    for (const auto& [flag, n] : c.first_flag) other |= known.count(flag) == 0 && n > 0;
  }
  if (other) segments.push_back("other");
  const std::vector<std::string> colours(std::begin(report_colours::kQuality),
                                         std::begin(report_colours::kQuality) + segments.size());
  std::vector<svg::StackedBar> bars;
  for (const CampaignSummary& c : data.campaigns) {
    auto done = c.jobs.find("done");
    const int64_t measured = done == c.jobs.end() ? 0 : done->second;
    svg::StackedBar bar;
    bar.label = "#" + std::to_string(c.id) + " " + c.name;
    bar.values.assign(segments.size(), 0.0);
    bar.values[0] = static_cast<double>(std::max<int64_t>(0, measured - c.flagged));
    for (const auto& [flag, n] : c.first_flag) {
      auto at = std::find(segments.begin(), segments.end(), known.count(flag) ? flag : "other");
      if (at != segments.end()) bar.values[static_cast<size_t>(at - segments.begin())] += n;
    }
    bars.push_back(std::move(bar));
  }
  const svg::PlotOptions o = PerCampaignBars(
      page, "quality-flags", "Measurements by quality flag, per campaign", "measurements", "");
  return s + page.Plot(svg::StackedBarChart(o, segments, colours, bars)) + "</section>";
}

}  // namespace wattfleet::report
