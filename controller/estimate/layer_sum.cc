#include "wattfleet/estimate/layer_sum.h"

#include <map>
#include <string>
#include <tuple>

namespace wattfleet {
namespace {

// (device class, mode, batch, campaign, key) -> time per iteration. The campaign is "" in the
// second index, where any campaign's measurement of the layer stands in.
using LayerKey = std::tuple<std::string, std::string, int64_t, std::string, std::string>;

struct LayerTimes {
  std::map<LayerKey, double> own, any;
  explicit LayerTimes(const std::vector<LayerSample>& layers) {
    for (const LayerSample& l : layers) {
      own.emplace(LayerKey{l.device_class, l.mode, l.batch, l.campaign, l.key}, l.time_s);
      any.emplace(LayerKey{l.device_class, l.mode, l.batch, "", l.key}, l.time_s);
    }
  }
  std::optional<double> Ratio(const ModelSample& m) const {
    if (m.layer_keys.empty() || !(m.time_s > 0)) return std::nullopt;
    double sum = 0;
    for (const std::string& key : m.layer_keys) {
      if (auto it = own.find({m.device_class, m.mode, m.batch, m.campaign, key});
          it != own.end()) {
        sum += it->second;
      } else if (auto any_it = any.find({m.device_class, m.mode, m.batch, "", key});
                 any_it != any.end()) {
        sum += any_it->second;
      } else {
        return std::nullopt;
      }
    }
    return sum / m.time_s;
  }
};

}  // namespace

std::optional<double> LayerSumRatio(const ModelSample& model,
                                    const std::vector<LayerSample>& layers) {
  return LayerTimes(layers).Ratio(model);
}

int64_t DropLayerSumOutliers(TrainingData* data) {
  const LayerTimes times(data->layers);
  std::vector<ModelSample> kept;
  kept.reserve(data->models.size());
  int64_t dropped = 0;
  for (ModelSample& m : data->models) {
    const std::optional<double> ratio = times.Ratio(m);
    if (ratio && LayerSumOutOfRange(*ratio)) {
      ++dropped;
      continue;
    }
    kept.push_back(std::move(m));
  }
  data->models = std::move(kept);
  return dropped;
}

}  // namespace wattfleet
