// `wattfleet import` and `wattfleet fit`.
#include "cli_fit.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "wattfleet/import/external_store.h"
#include "wattfleet/import/import_mapping.h"
#include "wattfleet/import/power_law_eval.h"
#include "progress.h"

namespace wattfleet {

// What `import --json` says of a CSV's import, beside the batch's figures.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ImportOutcome, import_id, already_imported, rows_stored)

namespace {

int ExitCode(const Status& s) {
  if (s.ok()) return 0;
  spdlog::error("{}", s.message());
  return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

nlohmann::json CurveJson(const CurveReport& c) {
  int converged = 0;
  bool naive = false;
  nlohmann::json starts = nlohmann::json::array();
  for (const CurveStart& s : c.fit.starts) {
    converged += s.converged ? 1 : 0;
    if (s.label == "naive") naive = s.converged;
    starts.push_back({{"label", s.label}, {"converged", s.converged},
                      {"lm_status", s.lm_status}, {"rmse", std::sqrt(s.sse / std::max<int64_t>(1, c.fit.n))},
                      {"eta_max", s.end.eta_max}, {"k", s.end.k}, {"alpha", s.end.alpha}});
  }
  return {{"device", c.device},
          {"operation", c.operation},
          {"estimator", "powerlaw"},
          {"eta_max", c.fit.params.eta_max},
          {"k", c.fit.params.k},
          {"alpha", c.fit.params.alpha},
          {"rmse", c.fit.rmse},
          {"n", c.fit.n},
          {"converged", c.fit.converged},
          {"starts_tried", c.fit.starts.size()},
          {"starts_converged", converged},
          {"naive_start_converged", naive},
          {"starts", starts}};
}

}  // namespace

namespace {

nlohmann::json ImportJson(const ImportBatch& batch, const ImportOutcome& outcome) {
  nlohmann::json doc = outcome;
  doc["source"] = batch.source;
  doc["csv"] = batch.csv_path;
  doc["csv_sha256"] = batch.csv_sha256;
  doc["rows_read"] = batch.rows_read;
  doc["rows_filtered"] = batch.rows_filtered;
  return doc;
}

void PrintImport(const ImportBatch& batch, const ImportOutcome& outcome) {
  if (outcome.already_imported) {
    std::cout << batch.csv_path << ": already imported as '" << batch.source << "' (import "
              << outcome.import_id << "), nothing stored\n";
  } else {
    std::cout << batch.csv_path << ": " << outcome.rows_stored << " rows stored as '"
              << batch.source << "' (import " << outcome.import_id << "; " << batch.rows_read
              << " read, " << batch.rows_filtered << " filtered out)\n";
  }
}

}  // namespace

int CmdImport(const std::string& db, const std::string& mapping,
              const std::vector<std::string>& csvs, bool json) {
  // Every file is read and evaluated before anything is stored: a bad row in the last CSV
  // leaves the dataset as it was. Two displays, one per pass over the files; each is
  // finished before anything else is printed.
  std::vector<std::string> files = csvs;
  if (files.empty()) files.push_back("");  // the mapping's own csv:
  std::vector<ImportBatch> batches;
  {
    Progress reading = MakeCliProgress("reading CSVs", static_cast<int64_t>(files.size()),
                                       json, json ? std::cerr : std::cout);
    for (const std::string& csv : files) {
      reading.Update(static_cast<int64_t>(batches.size()), csv.empty() ? mapping : csv);
      auto batch = LoadImport(mapping, csv);
      if (!batch.ok()) {
        reading.Finish();
        return ExitCode(batch.status());
      }
      batches.push_back(std::move(batch).value());
    }
    reading.Update(static_cast<int64_t>(batches.size()),
                   std::to_string(batches.back().rows_read) + " rows in " +
                       batches.back().csv_path);
    reading.Finish();
  }
  auto store = ExternalStore::Open(db);
  if (!store.ok()) return ExitCode(store.status());
  nlohmann::json imports = nlohmann::json::array();
  std::vector<ImportOutcome> outcomes;
  Status failed;
  {
    Progress storing = MakeCliProgress("storing CSVs", static_cast<int64_t>(batches.size()),
                                       json, json ? std::cerr : std::cout);
    for (const ImportBatch& batch : batches) {
      storing.Update(static_cast<int64_t>(outcomes.size()), batch.csv_path);
      auto outcome = (*store)->Import(batch);
      if (!outcome.ok()) {
        failed = outcome.status();
        break;
      }
      outcomes.push_back(*outcome);
    }
    storing.Update(static_cast<int64_t>(outcomes.size()), "");
    storing.Finish();
  }
  // What was stored before a failure is reported, then the failure.
  for (size_t i = 0; i < outcomes.size(); ++i) {
    if (json) {
      imports.push_back(ImportJson(batches[i], outcomes[i]));
    } else {
      PrintImport(batches[i], outcomes[i]);
    }
  }
  if (!failed.ok()) return ExitCode(failed);
  // The mapping's own CSV keeps its one-document form; CSVs named on the command line give
  // one entry each under imports[].
  if (json) std::cout << (csvs.empty() ? imports[0] : nlohmann::json{{"imports", imports}}).dump(2) << "\n";
  return 0;
}

int CmdFit(const std::string& db, const std::optional<std::string>& device,
           const std::string& estimator, bool json) {
  if (estimator != "powerlaw" && estimator != "all") {
    return ExitCode(Status::InvalidArgument(
        "--estimator " + estimator + ": only powerlaw (and all) can be fitted from this "
        "dataset's imported measurements"));
  }
  auto store = ExternalStore::Open(db);
  if (!store.ok()) return ExitCode(store.status());
  auto devices = (*store)->Devices();
  if (!devices.ok()) return ExitCode(devices.status());
  auto ops = (*store)->Records("operation", std::nullopt);
  if (!ops.ok()) return ExitCode(ops.status());
  auto archs = (*store)->Records("architecture", std::nullopt);
  if (!archs.ok()) return ExitCode(archs.status());
  std::vector<ExternalRecord> op_records, arch_records;
  for (auto& s : *ops) op_records.push_back(std::move(s.record));
  for (auto& s : *archs) arch_records.push_back(std::move(s.record));

  PowerLawOptions options;
  options.device = device;
  auto report = EvaluatePowerLaw(*devices, op_records, arch_records, options);
  if (!report.ok()) return ExitCode(report.status());
  for (const std::string& note : report->notes) spdlog::warn("{}", note);

  if (json) {
    nlohmann::json doc = {{"results", nlohmann::json::array()},
                          {"curves", nlohmann::json::array()},
                          {"energy_models", nlohmann::json::array()},
                          {"notes", report->notes}};
    for (const EvaluationRow& r : report->results) {
      doc["results"].push_back({{"device", r.device},
                                {"estimator", "powerlaw"},
                                {"level", r.level},
                                {"target", r.target},
                                {"evaluation", r.evaluation},
                                {"median_ape", r.summary.median_ape / 100},
                                {"mape", r.summary.mape / 100},
                                {"p90_ape", r.summary.p90_ape / 100},
                                {"r2", r.summary.r2},
                                {"n", r.summary.n}});
    }
    for (const CurveReport& c : report->curves) doc["curves"].push_back(CurveJson(c));
    for (const EnergyCoefficients& e : report->energy_models) {
      nlohmann::json h = nlohmann::json::object();
      for (size_t i = 0; i < e.operations.size(); ++i) h[e.operations[i]] = e.model.h[i];
      doc["energy_models"].push_back({{"device", e.device}, {"h0", e.model.h0}, {"h", h}});
    }
    std::cout << doc.dump(2) << "\n";
    return 0;
  }

  std::printf("Efficiency curves  eta(c) = eta_max * (1 - exp(-k * c^alpha)), c in TFLOP, eta in %%\n");
  std::printf("%-28s %-18s %8s %10s %7s %7s %6s %9s %6s\n", "device", "operation", "eta_max",
              "k", "alpha", "rmse", "n", "converged", "starts");
  for (const CurveReport& c : report->curves) {
    int ok = 0;
    for (const CurveStart& s : c.fit.starts) ok += s.converged ? 1 : 0;
    std::printf("%-28s %-18s %8.2f %10.4g %7.3f %7.3f %6lld %9s %3d/%-2zu\n", c.device.c_str(),
                c.operation.c_str(), c.fit.params.eta_max, c.fit.params.k, c.fit.params.alpha,
                c.fit.rmse, static_cast<long long>(c.fit.n), c.fit.converged ? "yes" : "NO",
                ok, c.fit.starts.size());
  }
  std::printf("\n%-28s %-12s %-8s %-58s %7s %8s %8s %8s %6s\n", "device", "level", "target",
              "evaluation", "r2", "medAPE%", "MAPE%", "p90APE%", "n");
  for (const EvaluationRow& r : report->results) {
    std::printf("%-28s %-12s %-8s %-58s %7.4f %8.2f %8.2f %8.2f %6lld\n", r.device.c_str(),
                r.level.c_str(), r.target.c_str(), r.evaluation.c_str(), r.summary.r2,
                r.summary.median_ape, r.summary.mape, r.summary.p90_ape,
                static_cast<long long>(r.summary.n));
  }
  return 0;
}

}  // namespace wattfleet
