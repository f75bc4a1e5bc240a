// Per-layer and whole-architecture records through `wattfleet import` (docs/import.md, "Layers
// and zoo architectures"): a CodeCarbon-style layer benchmark CSV (module, channels, kernel,
// image size, batch, kWh and seconds over N passes) and a whole-model CSV, generated here
// from a known cost law, become layer and model samples of the layer-wise estimators, under
// the same canonical keys as the zoo's own layers; bad rows are refused naming the row.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "cli_evaluate.h"
#include "wattfleet/estimate/architecture_sample.h"
#include "wattfleet/estimate/estimator.h"
#include "wattfleet/import/external_store.h"
#include "wattfleet/import/import_mapping.h"
#include "temp_dir.h"
#include "wattfleet/estimate/training_data.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {
namespace {

using testing::TempDir;

// Seconds per pass of a layer in the imaginary lab: 5 µs per call, 1 ns per MAC or element.
double LawSeconds(double macs, double elements) { return 5e-6 + 1e-9 * (macs + elements); }

constexpr int kPasses = 100;

// module,in_channels,out_channels,kernel,stride,padding,image_size,batch,energy_kwh,
// duration_s,passes — one row per configuration, the totals of `kPasses` passes.
std::string LayerCsv() {
  std::ostringstream csv;
  csv.precision(17);
  csv << "module,in_channels,out_channels,kernel,stride,padding,image_size,batch,energy_kwh,"
         "duration_s,passes\n";
  auto row = [&](const std::string& module, int in, int out, int image, int batch, double macs,
                 double elements) {
    const double t = LawSeconds(macs * batch, elements * batch);
    csv << module << "," << in << "," << out << ",0,0,0," << image << "," << batch << ","
        << t * kPasses * 20 / 3.6e6 << "," << t * kPasses << "," << kPasses << "\n";
  };
  for (int batch : {1, 8}) {
    // mlp-mnist's layers and neighbours of them.
    for (auto [in, out] : {std::pair{784, 256}, {256, 128}, {128, 10}, {512, 64}, {64, 32}}) {
      row("Linear", in, out, 0, batch, static_cast<double>(in) * out, in + out);
    }
    for (int n : {256, 128, 512, 64}) row("ReLU", n, n, 0, batch, 0, 2.0 * n);
  }
  return csv.str();
}

constexpr const char* kLayerMapping = R"(source: lab-layers
csv: layers.csv
device: {name: lab-cpu}
record:
  kind: operation
  name: "{module}"
  time_s: duration_s / passes
  energy_j: energy_kwh * 3.6e6 / passes
  batch: batch
  layer:
    type: "{module}"
    params:
      Linear: {in_features: in_channels, out_features: out_channels}
    input:
      Linear: [in_channels]
      ReLU: [in_channels]
)";

constexpr const char* kModelMapping = R"(source: lab-models
csv: models.csv
device: {name: lab-cpu}
record:
  kind: architecture
  name: "{model}-b{batch}"
  family: "{model}"
  zoo: "{model}"
  batch: batch
  time_s: seconds
  energy_j: joules
)";

// The law's whole-model seconds of a zoo architecture at `batch`, times 1.1.
double ModelSeconds(const std::string& name, int64_t batch) {
  auto arch = FindZooArchitecture(name);
  auto sample = MakeArchitectureSample(*arch, batch, "lab-cpu", "inference");
  double sum = 0;
  for (const LayerSample& s : sample->nodes) {
    sum += LawSeconds(s.macs, s.macs > 0 ? s.input_elements + s.output_elements
                                         : s.input_elements + s.output_elements);
  }
  return 1.1 * sum;
}

std::string ModelCsv() {
  std::ostringstream csv;
  csv.precision(17);
  csv << "model,batch,seconds,joules\n";
  for (int64_t batch : {1, 8}) {
    const double t = ModelSeconds("mlp-mnist", batch);
    csv << "mlp-mnist," << batch << "," << t << "," << 20 * t << "\n";
  }
  return csv.str();
}

TEST(ImportLayers, LayerAndModelRowsTrainTheLayerEstimators) {
  TempDir dir;
  dir.Write("layers.csv", LayerCsv());
  dir.Write("models.csv", ModelCsv());
  const std::string db = dir.File("lab.db");
  auto store = ExternalStore::Open(db);
  ASSERT_TRUE(store.ok()) << store.status().message();
  for (const char* mapping : {"layers.yaml", "models.yaml"}) {
    auto batch = LoadImport(dir.Write(mapping, std::string(mapping) == "layers.yaml"
                                                   ? kLayerMapping
                                                   : kModelMapping));
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    ASSERT_TRUE((*store)->Import(*batch).ok());
  }
  store->reset();

  auto data = LoadTrainingData(db);
  ASSERT_TRUE(data.ok()) << data.status().message();
  ASSERT_EQ(data->layers.size(), 18u);
  ASSERT_EQ(data->models.size(), 2u);
  // An imported Linear 784→256 is the zoo's linear1 of mlp-mnist: one canonical key.
  auto arch = FindZooArchitecture("mlp-mnist");
  auto sample = MakeArchitectureSample(*arch, 8, "lab-cpu", "inference");
  ASSERT_TRUE(sample.ok());
  const std::string linear1 = sample->nodes[0].key;
  int found = 0;
  for (const LayerSample& s : data->layers) {
    EXPECT_EQ(s.device_class, "lab-cpu");
    EXPECT_EQ(s.campaign, "import:lab-layers");
    if (s.key == linear1 && s.batch == 8) {
      ++found;
      EXPECT_DOUBLE_EQ(s.macs, 8.0 * 784 * 256);
      EXPECT_NEAR(s.time_s, LawSeconds(8.0 * 784 * 256, 8.0 * (784 + 256)), 1e-12);
      EXPECT_NEAR(s.energy_j, 20 * s.time_s, 1e-9);
    }
  }
  EXPECT_EQ(found, 1);
  const ModelSample& m = data->models[1];
  EXPECT_EQ(m.name, "mlp-mnist-b8");
  EXPECT_EQ(m.family, "mlp-mnist");
  EXPECT_EQ(m.batch, 8);
  EXPECT_EQ(m.layer_keys, sample->model.layer_keys);

  // Fitted on the imports alone, measured-layers predicts batch 4 (never measured) between
  // the two measured batches and close to the law; wattlayer too.
  auto batch4 = MakeArchitectureSample(*arch, 4, "lab-cpu", "inference");
  for (const char* name : {"measured-layers", "wattlayer"}) {
    auto est = MakeEstimator(name);
    ASSERT_TRUE((*est)->Fit(data->layers, data->models, Target::kTime).ok()) << name;
    auto e = PredictMonotoneInBatch(**est, batch4->model, batch4->catalog);
    ASSERT_TRUE(e.ok()) << e.status().message();
    const double truth = ModelSeconds("mlp-mnist", 4);
    EXPECT_NEAR(e->value / truth, 1.0, 0.10) << name;
    EXPECT_GT(e->value, data->models[0].time_s) << name;
    EXPECT_LT(e->value, data->models[1].time_s) << name;
  }
}

// A lab's per-layer CSVs alone are a dataset `fit` fits, scores (layer by layer, grouped by
// layer) and stores; its whole models, imported apart, are scored without being trained on
// (--holdout-campaign import:SOURCE); and once trained on, they set κ.
TEST(ImportLayers, LayerOnlyImportsAreFittedScoredAndStored) {
  TempDir dir;
  dir.Write("layers.csv", LayerCsv());
  const std::string db = dir.File("lab.db");
  auto import = [&](const char* mapping, const char* text) {
    auto store = ExternalStore::Open(db);
    ASSERT_TRUE(store.ok()) << store.status().message();
    auto batch = LoadImport(dir.Write(mapping, text));
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    ASSERT_TRUE((*store)->Import(*batch).ok());
  };
  import("layers.yaml", kLayerMapping);
  ASSERT_TRUE(HasEstimatorSamples(db)) << "layer rows are the estimators', not the power law's";

  EvaluateOptions o;
  o.db = db;
  o.estimators = {"wattlayer", "measured-layers", "macs"};
  o.target = "time";
  o.split = "both";
  auto doc = EvaluateDataset(o);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  int scored = 0;
  for (const auto& r : (*doc)["results"]) {
    EXPECT_EQ(r["level"], "layer");
    EXPECT_EQ(r["split"], "kfold") << "families belong to whole models";
    if (r["estimator"] == "macs") {
      EXPECT_EQ(r["n"], 0);
      EXPECT_NE(r["error"].get<std::string>().find("whole-model"), std::string::npos);
      continue;
    }
    EXPECT_EQ(r["n"], 18) << r.dump();  // every imported layer row, held out once
    EXPECT_LT(r["median_ape"].get<double>(), 0.25) << r.dump();
    ++scored;
  }
  EXPECT_EQ(scored, 2);
  bool stored = false;
  for (const auto& m : (*doc)["models"]) {
    if (m["estimator"] == "wattlayer") stored |= m["stored"].get<bool>();
  }
  EXPECT_TRUE(stored) << (*doc)["models"].dump();

  // The lab's whole models, held out: scored, not trained on.
  dir.Write("models.csv", ModelCsv());
  import("models.yaml", kModelMapping);
  o.holdout_campaigns = {"import:lab-models"};
  o.split = "kfold";
  doc = EvaluateDataset(o);
  ASSERT_TRUE(doc.ok()) << doc.status().message();
  int held = 0;
  for (const auto& r : (*doc)["results"]) {
    if (r["split"] != "campaign" || r["estimator"] != "wattlayer") continue;
    ++held;
    EXPECT_EQ(r["n"], 2);
    for (const auto& p : r["points"]) {
      EXPECT_NEAR(p["predicted"].get<double>() / p["measured"].get<double>(), 1 / 1.1, 0.1)
          << "κ is 1 without whole models to train on: the layers' sum";
    }
  }
  EXPECT_EQ(held, 1);

  // Trained on, the imported whole models set κ: 1.1 times the layers' sum.
  auto data = LoadTrainingData(db);
  ASSERT_TRUE(data.ok());
  auto est = MakeEstimator("wattlayer");
  (*est)->UseLayerFeatures(&data->layer_features);
  ASSERT_TRUE((*est)->Fit(data->layers, data->models, Target::kTime).ok());
  EXPECT_NEAR((*est)->ToJson()["inner"]["kappa"]["0"].get<double>(), 1.1, 0.05);
}

std::string ImportError(const TempDir& dir, const std::string& csv, const std::string& mapping) {
  dir.Write("layers.csv", csv);
  auto batch = LoadImport(dir.Write("bad.yaml", mapping));
  EXPECT_FALSE(batch.ok());
  if (batch.ok()) return "";
  EXPECT_EQ(batch.status().code(), StatusCode::kInvalidArgument);
  return batch.status().message();
}

TEST(ImportLayers, BadRowsAreRefusedNamingTheRow) {
  TempDir dir;
  const std::string header =
      "module,in_channels,out_channels,kernel,stride,padding,image_size,batch,energy_kwh,"
      "duration_s,passes\n";
  const std::string good = "Linear,8,4,0,0,0,0,1,1e-9,0.01,100\n";
  // An unknown layer type, with the closest known name.
  std::string msg = ImportError(dir, header + good + "Linaer,8,4,0,0,0,0,1,1e-9,0.01,100\n",
                                kLayerMapping);
  EXPECT_NE(msg.find("row 2"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Linaer"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Linear"), std::string::npos) << msg;
  // A shape that does not fit the layer: Linear(8 → 4) fed 9 features.
  std::string mapping = kLayerMapping;
  mapping.replace(mapping.find("Linear: [in_channels]"), 21, "Linear: [in_channels + 1]");
  msg = ImportError(dir, header + good, mapping);
  EXPECT_NE(msg.find("row 1"), std::string::npos) << msg;
  // A batch that is not a whole number, or absurdly large.
  msg = ImportError(dir, header + "Linear,8,4,0,0,0,0,1.5,1e-9,0.01,100\n", kLayerMapping);
  EXPECT_NE(msg.find("whole number"), std::string::npos) << msg;
  msg = ImportError(dir, header + "Linear,8,4,0,0,0,0,1e12,1e-9,0.01,100\n", kLayerMapping);
  EXPECT_NE(msg.find("whole number"), std::string::npos) << msg;
  // A type the mapping gives no input shape for.
  msg = ImportError(dir, header + "Sigmoid,8,8,0,0,0,0,1,1e-9,0.01,100\n", kLayerMapping);
  EXPECT_NE(msg.find("no input shape for Sigmoid"), std::string::npos) << msg;
  // An unknown zoo architecture.
  dir.Write("models.csv", "model,batch,seconds,joules\nresnet-18,1,0.1,2\n");
  auto batch = LoadImport(dir.Write("models.yaml", kModelMapping));
  ASSERT_FALSE(batch.ok());
  EXPECT_NE(batch.status().message().find("resnet18"), std::string::npos)
      << batch.status().message();
  EXPECT_NE(batch.status().message().find("row 1"), std::string::npos);
  // layer: belongs to operations, zoo: to architectures.
  mapping = kModelMapping;
  mapping.replace(mapping.find("kind: architecture"), 18, "kind: operation");
  dir.Write("models.csv", "model,batch,seconds,joules\nmlp-mnist,1,0.1,2\n");
  batch = LoadImport(dir.Write("models.yaml", mapping));
  ASSERT_FALSE(batch.ok());
  EXPECT_NE(batch.status().message().find("zoo goes with kind: architecture"), std::string::npos)
      << batch.status().message();
}

}  // namespace
}  // namespace wattfleet
