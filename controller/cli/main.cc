// wattfleet: the controller daemon and the command line (docs/design/cli.md).
#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "bar_log_sink.h"
#include "cli_commands.h"
#include "cli_publish.h"
#include "cli_evaluate.h"
#include "cli_fit.h"
#include "cli_measure.h"
#include "cli_project.h"
#include "cli_predict.h"
#include "cli_report.h"
#include "wattfleet/meters/meter_registry.h"
#include "wattfleet/campaign/estimator_catalog.h"
#include "wattfleet/estimate/estimator.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/common/text.h"
#include "wattfleet/common/cli_parse.h"
#include "wattfleet/common/version.h"
#include "wattfleet/zoo/torchscript_import.h"
#include "cli_architecture_flags.h"

namespace wattfleet {
namespace {

// Every command's flags, as the command line sets them.
struct Flags {
  std::string log_level = "info";
  ServeArgs serve;
  EmbeddedOptions run;
  std::string campaign_path;
  AdminClient admin;
  bool wait = false, json = false;
  std::optional<std::string> status_id;
  std::string cancel_id;
  std::string plan_db;
  int64_t plan_max_jobs = kDefaultMaxCampaignJobs;
  std::string db, format = "csv", out;
  std::optional<std::string> export_campaign;
  ArchitectureSource inspect_source;
  std::string inspect_family;
  // Per model format (model_formats.h): the file its flag names, for inspect and predict.
  std::map<std::string, std::string> inspect_files, predict_files;
  std::string keys_out;
  std::vector<std::string> keys_agents, keys_admins;
  std::string import_mapping, import_package;
  std::vector<std::string> import_csvs;
  std::optional<std::string> fit_device;
  std::string fit_estimator = "all";
  std::vector<std::string> fit_holdout;
  std::string fit_target = "both", fit_split = "both";
  bool fit_include_flagged = false;
  PredictOptions predict;
  std::vector<int64_t> predict_batches;
  ProjectOptions project;
  ReportOptions report_options;
  std::string report_out;
  MeasureOptions measure;
  PublishFlags publish;
};

// The subcommands, to ask which one was parsed.
struct Commands {
  CLI::App *serve = nullptr, *run = nullptr, *submit = nullptr, *status = nullptr,
           *cancel = nullptr, *plan = nullptr, *export_ = nullptr, *inspect = nullptr,
           *keys_generate = nullptr, *import_ = nullptr, *fit = nullptr, *predict = nullptr,
           *project = nullptr, *report = nullptr, *measure = nullptr, *publish = nullptr;
};

void AddServe(CLI::App& app, Flags& f, Commands& c) {
  c.serve = app.add_subcommand("serve", "the controller daemon");
  c.serve->add_option("--db", f.serve.db, DatasetFlagHelp())->required();
  c.serve->add_option("--bind", f.serve.bind, "endpoint agents connect to")->capture_default_str();
  c.serve->add_option("--admin", f.serve.admin,
                      "endpoint for submit/status/cancel: ipc:// in a folder of mode 0700, or "
                      "tcp:// with CURVE and --admin-keys")
      ->capture_default_str();
  c.serve->add_option("--admin-keys", f.serve.admin_keys,
                      "directory of administrators' public keys (NAME.key), for a tcp:// --admin");
  c.serve->add_option("--heartbeat-ms", f.serve.heartbeat_ms, "heartbeat interval")
      ->check(CLI::Range(int64_t{10}, int64_t{60000}))->capture_default_str();
  c.serve->add_option("--liveness", f.serve.liveness, "silent heartbeats before an agent is dead")
      ->check(CLI::Range(1, 100))->capture_default_str();
  c.serve->add_option("--max-attempts", f.serve.max_attempts, "tries before quarantine")
      ->check(CLI::Range(1, 100))->capture_default_str();
  c.serve->add_option("--ready-file", f.serve.ready_file,
                      "write the bound endpoints as JSON here once listening");
  c.serve->add_option("--curve-secret", f.serve.curve_secret,
                      "controller key pair (controller.key_secret): CURVE authentication on");
  c.serve->add_option("--agents-dir", f.serve.agents_dir,
                      "directory of enrolled agents' public keys (NAME.key), with --curve-secret");
  c.serve->add_option("--max-campaign-jobs", f.serve.max_campaign_jobs,
                      "the most jobs one submitted campaign may plan")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))->capture_default_str();
  c.serve->add_option("--metrics", f.serve.metrics,
                      "Prometheus metrics (GET /metrics) on PORT (loopback) or HOST:PORT");
}

void AddRun(CLI::App& app, Flags& f, Commands& c) {
  c.run = app.add_subcommand("run", "embedded mode: a controller and N local agents");
  c.run->add_option("campaign", f.run.campaign_path, "campaign YAML")->required();
  c.run->add_option("--db", f.run.db_path, DatasetFlagHelp())
      ->capture_default_str();
  c.run->add_option("--agents", f.run.agents, "local agent processes")
      ->check(CLI::Range(1, 256))->capture_default_str();
  c.run->add_option("--sensor", f.run.sensor,
                    "sensor backend for the agents: " + MeterBackendChoices())
      ->capture_default_str();
  c.run->add_option("--modeled-core-w", f.run.modeled_core_w,
                    "the modeled sensor's power of one fully busy core, in W (default 15)")
      ->check(CLI::Range(0.0, 10000.0));
  c.run->add_option("--threads", f.run.threads_per_agent, "threads per agent (0: cores / agents)")
      ->check(CLI::Range(0, 1024));
  c.run->add_option("--out", f.run.export_path, "CSV export (default: next to the db)");
  c.run->add_option("--log-dir", f.run.log_dir,
                    "agents' logs and spools (default: next to the db)");
  c.run->add_option("--max-campaign-jobs", f.run.max_campaign_jobs,
                    "the most jobs the campaign may plan")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))->capture_default_str();
  c.run->add_flag("--mkdir", f.run.make_dirs,
                  "create the folders of --db, --out and --log-dir when missing");
  c.run->add_flag("--fresh", f.run.fresh,
                  "start the campaign over (an unfinished run of it in the dataset is resumed "
                  "otherwise)");
}

// submit, status and cancel: the commands that speak to a running controller.
void AddAdmin(CLI::App& app, Flags& f, Commands& c) {
  // The admin options of submit, status and cancel.
  auto admin_options = [&f](CLI::App* command) {
    command->add_option("--admin", f.admin.endpoint, "controller admin endpoint")
        ->capture_default_str();
    command->add_option("--admin-key", f.admin.key_file,
                        "for a tcp:// --admin: this administrator's key pair (NAME.key_secret)");
    command->add_option("--controller-key", f.admin.controller_key_file,
                        "for a tcp:// --admin: the controller's public key (controller.key)");
  };
  c.submit = app.add_subcommand("submit", "queue a campaign on a running controller");
  c.submit->add_option("campaign", f.campaign_path, "campaign YAML")->required();
  admin_options(c.submit);
  c.submit->add_flag("--wait", f.wait, "wait until the campaign has ended");
  c.submit->add_flag("--json", f.json, "one JSON document on stdout");

  c.status = app.add_subcommand("status", "campaigns, jobs by state, agents");
  c.status->add_option("campaign", f.status_id, "only this campaign: its id, or its name");
  admin_options(c.status);
  c.status->add_flag("--json", f.json, "one JSON document on stdout");

  c.cancel = app.add_subcommand("cancel", "stop dispatching a campaign");
  c.cancel->add_option("campaign", f.cancel_id,
                       "the campaign: its id, or the name of a running one")
      ->required();
  admin_options(c.cancel);
  c.cancel->add_flag("--json", f.json, "one JSON document on stdout");
}

void AddPlanExportInspect(CLI::App& app, Flags& f, Commands& c) {
  c.plan = app.add_subcommand("plan", "expand, decompose, dedup and print the plan");
  c.plan->add_option("campaign", f.campaign_path, "campaign YAML")->required();
  c.plan->add_flag("--json", f.json, "one JSON document on stdout");
  c.plan->add_option("--max-campaign-jobs", f.plan_max_jobs,
                     "the job bound of the controller it is meant for (serve's flag)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))->capture_default_str();
  c.plan->add_option("--db", f.plan_db,
                     "estimate the device time from this dataset's measurements (" +
                         DatasetFlagHelp() + ")");

  c.export_ = app.add_subcommand("export", "the dataset, one row per measurement");
  c.export_->add_option("--db", f.db, DatasetFlagHelp())->required();
  c.export_->add_option("--campaign", f.export_campaign,
                        "only this campaign: its id, or its name (every campaign of that name)");
  c.export_->add_option("--format", f.format, "csv | jsonl")
      ->check(CLI::IsMember({"csv", "jsonl"}))->capture_default_str();
  c.export_->add_option("--out", f.out, "output file (- for stdout)")->required();

  PublishOptions& p = f.publish.options;
  c.publish = app.add_subcommand(
      "publish", "the dataset as a package: data, Croissant, Data Package, datasheet, checksums");
  c.publish->add_option("--db", p.db, DatasetFlagHelp())->required();
  c.publish->add_option("--out", p.out, "the package's folder (new, or empty)")->required();
  c.publish->add_option("--campaign", f.publish.campaigns,
                        "only these campaigns: ids or names (repeat the flag)");
  c.publish->add_option("--license", p.license, "SPDX identifier, e.g. CC-BY-4.0")->required();
  c.publish->add_option("--title", p.title, "the dataset's title")->required();
  c.publish->add_option("--creator", p.creators, "a creator's name (repeat the flag)");
  c.publish->add_option("--description", p.description, "what the dataset is");
  c.publish->add_option("--url", p.url,
                        "where the package will be found (Croissant's validators want it)");
  c.publish->add_option("--date", p.date, "publication date YYYY-MM-DD (default: today, UTC)");
  c.publish->add_flag("--json", f.publish.json, "one JSON document on stdout");

  c.inspect = app.add_subcommand("inspect", "an architecture's layers and features");
  AddArchitectureSource(c.inspect, &f.inspect_source, &f.inspect_files,
                        "architecture name (zoo, or of --campaign-file)");
  auto* family = c.inspect->add_option(
      "--family", f.inspect_family,
      "a zoo family: the parameters its sweeps take, with their defaults and bounds");
  for (CLI::Option* other : c.inspect->get_options()) {
    if (other != family && other->get_name() != "--help") family->excludes(other);
  }
  c.inspect->add_flag("--json", f.json, "one JSON document on stdout");
}

void AddKeysImport(CLI::App& app, Flags& f, Commands& c) {
  auto* c_keys = app.add_subcommand("keys", "CurveZMQ key pairs for authenticated agents");
  c_keys->require_subcommand(1);
  c.keys_generate =
      c_keys->add_subcommand("generate", "controller and agent key pairs, and the allowlist");
  c.keys_generate->add_option("--out", f.keys_out, "directory for the key files (created)")
      ->required();
  c.keys_generate->add_option("--agent", f.keys_agents,
                              "an agent's name, repeatable (default: agent)");
  c.keys_generate->add_option("--admin", f.keys_admins,
                              "an administrator's name, repeatable: a key pair enrolled in "
                              "OUT/admins, for a tcp:// admin socket");

  c.import_ = app.add_subcommand(
      "import", "external measurement CSVs (--mapping) or a published package into the dataset");
  c.import_->add_option("--db", f.db, DatasetFlagHelp() + ", created when missing")->required();
  auto* o_mapping =
      c.import_->add_option("--mapping", f.import_mapping, "mapping YAML (docs/import.md)");
  auto* o_package = c.import_->add_option("--package", f.import_package,
                                          "a package `wattfleet publish` wrote (its folder)");
  o_mapping->excludes(o_package);
  c.import_->add_option("csv", f.import_csvs,
                       "CSV files to import through the mapping (default: the mapping's csv:)");
  c.import_->add_flag("--json", f.json, "one JSON document on stdout");
}

void AddFit(CLI::App& app, Flags& f, Commands& c) {
  c.fit = app.add_subcommand("fit", "fit and cross-validate estimators");
  c.fit->add_option("--db", f.db, DatasetFlagHelp())->required();
  c.fit->add_option("--device", f.fit_device, "only this device");
  // Every estimator `fit` fits: the measured ones, and those fitted on imported operations.
  std::string names;
  for (const EstimatorInfo& e : kEstimatorCatalog) {
    if (e.kind == EstimatorKind::kMeasured) names += std::string(e.name) + " | ";
    if (e.kind == EstimatorKind::kOperations) names += std::string(e.name) + " (imported data) | ";
  }
  c.fit->add_option("--estimator", f.fit_estimator,
                    names + "all, or several joined by commas")
      ->capture_default_str();
  c.fit->add_option("--holdout-campaign", f.fit_holdout,
                    "never train on this campaign's measurements; score its whole models "
                    "(split 'campaign'); repeatable");
  c.fit->add_option("--target", f.fit_target, "energy | time | both")
      ->check(CLI::IsMember({"energy", "time", "both"}))
      ->capture_default_str();
  c.fit->add_option("--split", f.fit_split, "kfold (by architecture) | lofo (by family) | both")
      ->check(CLI::IsMember({"kfold", "lofo", "both"}))
      ->capture_default_str();
  c.fit->add_flag("--include-flagged", f.fit_include_flagged,
                  "also train on measurements with quality flags (missed CI target, "
                  "interference, energy below idle, a doubtful idle figure, whole models "
                  "failing the layer-sum check)");
  c.fit->add_flag("--json", f.json, "one JSON document on stdout");
}

void AddPredict(CLI::App& app, Flags& f, Commands& c) {
  std::string estimator_names;
  for (const std::string& n : EstimatorNames()) {
    estimator_names += (estimator_names.empty() ? "" : " | ") + n;
  }
  c.predict = app.add_subcommand(
      "predict", "energy and time of an architecture on a device, total and per layer");
  c.predict->add_option("--db", f.predict.db, DatasetFlagHelp())->required();
  c.predict->add_option("--device", f.predict.device, "device class, as measured (e.g. cpu)")
      ->required();
  AddArchitectureSource(c.predict, &f.predict.source, &f.predict_files,
                        "architecture name (zoo, or of --campaign-file), or several: "
                        "resnet18,mobilenet_v2");
  c.predict->add_option("--batch", f.predict_batches,
                        "batch size, or several: 1,4,16 (default: the batch the device was "
                        "measured at)")
      ->delimiter(',');
  c.predict->add_option("--mode", f.predict.mode, "inference | training")
      ->check(CLI::IsMember({"inference", "training"}))
      ->capture_default_str();
  c.predict->add_option("--optimizer", f.predict.optimizer,
                        "training: the step's optimiser, sgd | sgd-momentum | adam | adamw "
                        "(default sgd)");
  c.predict->add_option("--loss", f.predict.loss,
                        "training: the step's loss, cross-entropy | mse (default "
                        "cross-entropy)");
  c.predict->add_option("--samples", f.predict.samples,
                        "training: the samples of one epoch; adds the whole run's energy and "
                        "time");
  c.predict->add_option("--epochs", f.predict.epochs, "training: epochs of the run (default 1)");
  c.predict->add_option("--estimator", f.predict.estimator, estimator_names)->capture_default_str();
  c.predict->add_flag("--prefer-measured", f.predict.prefer_measured,
                     "return the dataset's whole-model measurement of this architecture, "
                     "batch, mode and device when it holds one");
  c.predict->add_flag("--include-flagged", f.predict.include_flagged,
                      "train on measurements with quality flags too (left out by default)");
  c.predict->add_flag("--json", f.predict.json, "one JSON document on stdout");
}

void AddProjectReportMeasure(CLI::App& app, Flags& f, Commands& c) {
  c.project = app.add_subcommand(
      "project", "STEP: a training run's total from its stable iterations (docs/estimators.md)");
  c.project->add_option("--series", f.project.series,
                        "training log CSV: a header row, then one row per iteration")
      ->required();
  c.project->add_option("--iterations", f.project.iterations, "N: iterations of the whole run")
      ->required()
      ->check(CLI::PositiveNumber);
  c.project->add_option("--column", f.project.column,
                        "the per-iteration column (default: energy_j, else time_s)");
  c.project->add_option("--window", f.project.window,
                        "W: iterations averaged after the stable point (default: all)")
      ->check(CLI::PositiveNumber);
  c.project->add_flag("--json", f.project.json, "one JSON document on stdout");

  c.report = app.add_subcommand("report", "HTML report with plots (docs/report.md)");
  c.report->add_option("--db", f.report_options.db, DatasetFlagHelp())->required();
  c.report->add_option("--out", f.report_out, "the HTML file to write")->required();
  c.report->add_flag("--include-flagged", f.report_options.include_flagged,
                     "evaluate on measurements with quality flags too (left out by default)");
  c.report->add_flag("--json", f.json, "one JSON document on stdout");
  c.report->add_option("--folds", f.report_options.folds, "k of the grouped k-fold evaluation")
      ->check(CLI::Range(2, 100))
      ->capture_default_str();

  c.measure = app.add_subcommand(
      "measure", "the energy and time of a command: wattfleet measure [OPTIONS] -- CMD ARGS...");
  c.measure->add_option("--sensor", f.measure.sensor,
                        MeterBackendChoices() + " (docs/measurement.md)")
      ->capture_default_str();
  c.measure->add_option("--device", f.measure.device, "cpu, or cuda:N for GPU N's NVML counter")
      ->capture_default_str();
  c.measure->add_option("--modeled-core-w", f.measure.modeled_core_w,
                        "the modeled sensor's power of one fully busy core, in W (default 15)")
      ->check(CLI::Range(0.0, 10000.0));
  c.measure->add_option("--idle-s", f.measure.idle_s,
                        "seconds of idle power measured first (0: none)")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  c.measure->add_flag("--json", f.measure.json, "one JSON document on stdout");
  c.measure->add_option("--db", f.measure.db,
                        "also store the window in this dataset (kind window; " + DatasetFlagHelp() +
                            ")");
  c.measure->add_option("--name", f.measure.name,
                        "the window's name (default: the program, or the script it runs)");
  c.measure->add_option("--campaign", f.measure.campaign, "the campaign it is stored under")
      ->capture_default_str();
  c.measure->add_option("command", f.measure.command, "the command and its arguments, after --")
      ->required();
}

// fit: the dataset's own measurements go to the layer and model estimators; imported operation
// measurements to the power law.
int RunFit(const Flags& f) {
  // fit only reads and adds fitted models: a mistyped name must not become a new dataset.
  if (Status exists = RequireExistingDataset(f.db); !exists.ok()) {
    std::cerr << "wattfleet: " << exists.message() << "\n";
    return 2;
  }
  wattfleet::EvaluateOptions eo;
  eo.db = f.db;
  eo.device = f.fit_device;
  eo.target = f.fit_target;
  eo.split = f.fit_split;
  eo.json = f.json;
  const bool power_law =
      f.fit_estimator == "powerlaw" ||
      (f.fit_estimator == "all" && !wattfleet::HasEstimatorSamples(f.db));
  if (power_law && !f.fit_holdout.empty()) {
    std::cerr << "wattfleet: --holdout-campaign: the power law is fitted on imported "
                 "operations, which belong to no campaign\n";
    return 2;
  }
  if (f.fit_estimator == "powerlaw") return CmdFit(f.db, f.fit_device, f.fit_estimator, f.json);
  eo.holdout_campaigns = f.fit_holdout;
  eo.include_flagged = f.fit_include_flagged;
  if (f.fit_estimator != "all") {
    std::stringstream names(f.fit_estimator);
    for (std::string n; std::getline(names, n, ',');) eo.estimators.push_back(n);
  }
  if (f.fit_estimator == "all" && !wattfleet::HasEstimatorSamples(f.db)) {
    return CmdFit(f.db, f.fit_device, f.fit_estimator, f.json);
  }
  return CmdEvaluate(eo);
}

int RunParsed(const Commands& c, const Flags& f) {
  if (c.serve->parsed()) return CmdServe(f.serve);
  if (c.run->parsed()) return CmdRun(f.run);
  if (c.submit->parsed()) return CmdSubmit(f.campaign_path, f.admin, f.wait, f.json);
  if (c.status->parsed()) return CmdStatus(f.status_id, f.admin, f.json);
  if (c.cancel->parsed()) return CmdCancel(f.cancel_id, f.admin, f.json);
  if (c.plan->parsed()) return CmdPlan(f.campaign_path, f.json, f.plan_db, f.plan_max_jobs);
  if (c.export_->parsed()) return CmdExport(f.db, f.export_campaign, f.format, f.out);
  if (c.publish->parsed()) return CmdPublish(f.publish);
  if (c.inspect->parsed()) {
    if (!f.inspect_family.empty()) return CmdInspectFamily(f.inspect_family, f.json);
    return CmdInspect(f.inspect_source, f.json);
  }
  if (c.keys_generate->parsed()) return CmdKeysGenerate(f.keys_out, f.keys_agents, f.keys_admins);
  if (c.import_->parsed()) {
    if (!f.import_package.empty()) {
      if (!f.import_csvs.empty()) {
        std::cerr << "wattfleet: import --package takes no CSV files\n";
        return 2;
      }
      return CmdImportPackage(f.db, f.import_package, f.json);
    }
    if (f.import_mapping.empty()) {
      std::cerr << "wattfleet: import needs --mapping (CSV files) or --package (a published "
                   "package)\n";
      return 2;
    }
    return CmdImport(f.db, f.import_mapping, f.import_csvs, f.json);
  }
  if (c.project->parsed()) return CmdProject(f.project);
  if (c.report->parsed()) return CmdReport(f.report_options, f.report_out, f.json);
  if (c.predict->parsed()) return CmdPredictMany(f.predict, f.predict_batches);
  if (c.measure->parsed()) return CmdMeasure(f.measure);
  if (c.fit->parsed()) return RunFit(f);
  return 2;
}

}  // namespace
}  // namespace wattfleet

int main(int argc, char** argv) {
  using namespace wattfleet;
  CLI::App app{"wattfleet: measure and predict the energy of neural networks, layer by layer"};
  app.set_version_flag("--version", VersionLine("wattfleet", TorchScriptLibtorchVersion()),
                       "print the version, git revision and libtorch, and exit");
  app.require_subcommand(1);
  app.fallthrough();  // --log-level may follow the subcommand
  Flags f;
  app.add_option("--log-level", f.log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  Commands c;
  AddServe(app, f, c);
  AddRun(app, f, c);
  AddAdmin(app, f, c);
  AddPlanExportInspect(app, f, c);
  AddKeysImport(app, f, c);
  AddFit(app, f, c);
  AddPredict(app, f, c);
  AddProjectReportMeasure(app, f, c);

  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  SelectModelFile(f.inspect_files, &f.inspect_source);
  SelectModelFile(f.predict_files, &f.predict.source);
  // Logs on stderr: stdout carries results and --json documents.
  // Never on a progress bar's line: the sink takes the bar off and draws it again.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "wattfleet", std::make_shared<BarAwareSink>(LogColours())));
  spdlog::set_level(spdlog::level::from_str(f.log_level));
  try {
    return RunParsed(c, f);
  } catch (const std::exception& e) {
    // Nothing should get here; if something does, it is a failure, not a crash.
    spdlog::error("{}", e.what());
    return 1;
  }
}
