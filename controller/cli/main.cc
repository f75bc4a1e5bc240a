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
#include "cli_evaluate.h"
#include "cli_fit.h"
#include "cli_measure.h"
#include "cli_project.h"
#include "cli_predict.h"
#include "cli_report.h"
#include "wattfleet/estimate/estimator.h"
#include "wattfleet/store/store_open.h"
#include "wattfleet/common/text.h"
#include "wattfleet/common/cli_parse.h"
#include "wattfleet/common/version.h"
#include "wattfleet/zoo/torchscript_import.h"

int main(int argc, char** argv) {
  using namespace wattfleet;
  CLI::App app{"wattfleet: measure and predict the energy of neural networks, layer by layer"};
  app.set_version_flag("--version", VersionLine("wattfleet", TorchScriptLibtorchVersion()),
                       "print the version, git revision and libtorch, and exit");
  app.require_subcommand(1);
  app.fallthrough();  // --log-level may follow the subcommand
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();

  ServeArgs serve;
  auto* c_serve = app.add_subcommand("serve", "the controller daemon");
  c_serve->add_option("--db", serve.db, "SQLite file or postgresql:// URI")->required();
  c_serve->add_option("--bind", serve.bind, "endpoint agents connect to")->capture_default_str();
  c_serve->add_option("--admin", serve.admin,
                      "endpoint for submit/status/cancel: ipc:// in a folder of mode 0700, or "
                      "tcp:// with CURVE and --admin-keys")
      ->capture_default_str();
  c_serve->add_option("--admin-keys", serve.admin_keys,
                      "directory of administrators' public keys (NAME.key), for a tcp:// --admin");
  c_serve->add_option("--heartbeat-ms", serve.heartbeat_ms, "heartbeat interval")
      ->check(CLI::Range(int64_t{10}, int64_t{60000}))->capture_default_str();
  c_serve->add_option("--liveness", serve.liveness, "silent heartbeats before an agent is dead")
      ->check(CLI::Range(1, 100))->capture_default_str();
  c_serve->add_option("--max-attempts", serve.max_attempts, "tries before quarantine")
      ->check(CLI::Range(1, 100))->capture_default_str();
  c_serve->add_option("--ready-file", serve.ready_file,
                      "write the bound endpoints as JSON here once listening");
  c_serve->add_option("--curve-secret", serve.curve_secret,
                      "controller key pair (controller.key_secret): CURVE authentication on");
  c_serve->add_option("--agents-dir", serve.agents_dir,
                      "directory of enrolled agents' public keys (NAME.key), with --curve-secret");
  c_serve->add_option("--max-campaign-jobs", serve.max_campaign_jobs,
                      "the most jobs one submitted campaign may plan")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))->capture_default_str();
  c_serve->add_option("--metrics", serve.metrics, "Prometheus metrics (GET /metrics) on PORT (loopback) or HOST:PORT");

  EmbeddedOptions run;
  auto* c_run = app.add_subcommand("run", "embedded mode: a controller and N local agents");
  c_run->add_option("campaign", run.campaign_path, "campaign YAML")->required();
  c_run->add_option("--db", run.db_path, "SQLite file or postgresql:// URI")->capture_default_str();
  c_run->add_option("--agents", run.agents, "local agent processes")
      ->check(CLI::Range(1, 256))->capture_default_str();
  c_run->add_option("--sensor", run.sensor, "sensor backend for the agents")->capture_default_str();
  c_run->add_option("--modeled-core-w", run.modeled_core_w,
                    "the modeled sensor's power of one fully busy core, in W (default 15)")
      ->check(CLI::Range(0.0, 10000.0));
  c_run->add_option("--threads", run.threads_per_agent, "threads per agent (0: cores / agents)")
      ->check(CLI::Range(0, 1024));
  c_run->add_option("--out", run.export_path, "CSV export (default: next to the db)");
  c_run->add_option("--log-dir", run.log_dir, "agents' logs and spools (default: next to the db)");
  c_run->add_option("--max-campaign-jobs", run.max_campaign_jobs,
                    "the most jobs the campaign may plan")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))->capture_default_str();
  c_run->add_flag("--mkdir", run.make_dirs,
                  "create the folders of --db, --out and --log-dir when missing");
  c_run->add_flag("--fresh", run.fresh,
                  "start the campaign over (an unfinished run of it in the dataset is resumed "
                  "otherwise)");

  std::string campaign_path;
  AdminClient admin;
  // The admin options of submit, status and cancel.
  auto admin_options = [&admin](CLI::App* c) {
    c->add_option("--admin", admin.endpoint, "controller admin endpoint")->capture_default_str();
    c->add_option("--admin-key", admin.key_file,
                  "for a tcp:// --admin: this administrator's key pair (NAME.key_secret)");
    c->add_option("--controller-key", admin.controller_key_file,
                  "for a tcp:// --admin: the controller's public key (controller.key)");
  };
  bool wait = false, json = false;
  auto* c_submit = app.add_subcommand("submit", "queue a campaign on a running controller");
  c_submit->add_option("campaign", campaign_path, "campaign YAML")->required();
  admin_options(c_submit);
  c_submit->add_flag("--wait", wait, "wait until the campaign has ended");
  c_submit->add_flag("--json", json, "one JSON document on stdout");

  std::optional<std::string> status_id;
  auto* c_status = app.add_subcommand("status", "campaigns, jobs by state, agents");
  c_status->add_option("campaign", status_id, "only this campaign: its id, or its name");
  admin_options(c_status);
  c_status->add_flag("--json", json, "one JSON document on stdout");

  std::string cancel_id;
  auto* c_cancel = app.add_subcommand("cancel", "stop dispatching a campaign");
  c_cancel->add_option("campaign", cancel_id,
                       "the campaign: its id, or the name of a running one")
      ->required();
  admin_options(c_cancel);
  c_cancel->add_flag("--json", json, "one JSON document on stdout");

  auto* c_plan = app.add_subcommand("plan", "expand, decompose, dedup and print the plan");
  c_plan->add_option("campaign", campaign_path, "campaign YAML")->required();
  c_plan->add_flag("--json", json, "one JSON document on stdout");
  std::string plan_db;
  int64_t plan_max_jobs = kDefaultMaxCampaignJobs;
  c_plan->add_option("--max-campaign-jobs", plan_max_jobs,
                     "the job bound of the controller it is meant for (serve's flag)")
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}))->capture_default_str();
  c_plan->add_option("--db", plan_db,
                     "estimate the device time from this dataset's measurements (SQLite file "
                     "or postgresql:// URI)");

  std::string db, format = "csv", out;
  std::optional<std::string> export_campaign;
  auto* c_export = app.add_subcommand("export", "the dataset, one row per measurement");
  c_export->add_option("--db", db, "SQLite file or postgresql:// URI")->required();
  c_export->add_option("--campaign", export_campaign,
                       "only this campaign: its id, or its name (every campaign of that name)");
  c_export->add_option("--format", format, "csv | jsonl")
      ->check(CLI::IsMember({"csv", "jsonl"}))->capture_default_str();
  c_export->add_option("--out", out, "output file (- for stdout)")->required();

  std::string arch, campaign_file, torchscript;
  std::vector<int64_t> input_shape;
  auto* c_inspect = app.add_subcommand("inspect", "an architecture's layers and features");
  auto* o_arch =
      c_inspect->add_option("--arch", arch, "architecture name (zoo, or of --campaign-file)");
  c_inspect->add_option("--campaign-file", campaign_file, "look the name up in this campaign")
      ->needs(o_arch);
  auto* o_ts = c_inspect->add_option("--torchscript", torchscript, "a traced TorchScript file")
                   ->excludes(o_arch);
  c_inspect->add_option("--input-shape", input_shape,
                        "the traced input's shape, batch first: 1,3,224,224")
      ->delimiter(',')
      ->needs(o_ts);
  c_inspect->add_flag("--json", json, "one JSON document on stdout");

  std::string keys_out;
  std::vector<std::string> keys_agents;
  auto* c_keys = app.add_subcommand("keys", "CurveZMQ key pairs for authenticated agents");
  c_keys->require_subcommand(1);
  auto* c_keys_generate =
      c_keys->add_subcommand("generate", "controller and agent key pairs, and the allowlist");
  c_keys_generate->add_option("--out", keys_out, "directory for the key files (created)")
      ->required();
  c_keys_generate->add_option("--agent", keys_agents, "an agent's name, repeatable (default: agent)");
  std::vector<std::string> keys_admins;
  c_keys_generate->add_option("--admin", keys_admins,
                              "an administrator's name, repeatable: a key pair enrolled in "
                              "OUT/admins, for a tcp:// admin socket");

  std::string import_mapping;
  auto* c_import = app.add_subcommand("import", "external measurement CSVs into the dataset");
  c_import->add_option("--db", db, "SQLite file (created) or postgresql:// URI")->required();
  c_import->add_option("--mapping", import_mapping, "mapping YAML (docs/import.md)")->required();
  std::vector<std::string> import_csvs;
  c_import->add_option("csv", import_csvs,
                       "CSV files to import through the mapping (default: the mapping's csv:)");
  c_import->add_flag("--json", json, "one JSON document on stdout");

  std::optional<std::string> fit_device;
  std::string fit_estimator = "all";
  auto* c_fit = app.add_subcommand("fit", "fit and cross-validate estimators");
  c_fit->add_option("--db", db, "SQLite file or postgresql:// URI")->required();
  c_fit->add_option("--device", fit_device, "only this device");
  c_fit->add_option("--estimator", fit_estimator,
                    "macs | tdp | wattlayer | wattlayer-paper | measured-layers | thor | pre | "
                    "powerlaw (imported data) | all, or several joined by commas")
      ->capture_default_str();
  std::vector<std::string> fit_holdout;
  c_fit->add_option("--holdout-campaign", fit_holdout,
                    "never train on this campaign's measurements; score its whole models "
                    "(split 'campaign'); repeatable");
  std::string fit_target = "both", fit_split = "both";
  c_fit->add_option("--target", fit_target, "energy | time | both")
      ->check(CLI::IsMember({"energy", "time", "both"}))
      ->capture_default_str();
  c_fit->add_option("--split", fit_split, "kfold (by architecture) | lofo (by family) | both")
      ->check(CLI::IsMember({"kfold", "lofo", "both"}))
      ->capture_default_str();
  bool fit_include_flagged = false;
  c_fit->add_flag("--include-flagged", fit_include_flagged,
                  "also train on measurements with quality flags (missed CI target, "
                  "interference, energy below idle, a doubtful idle figure, whole models "
                  "failing the layer-sum check)");
  c_fit->add_flag("--json", json, "one JSON document on stdout");

  PredictOptions predict;
  std::string estimator_names;
  for (const std::string& n : EstimatorNames()) {
    estimator_names += (estimator_names.empty() ? "" : " | ") + n;
  }
  auto* c_predict = app.add_subcommand(
      "predict", "energy and time of an architecture on a device, total and per layer");
  c_predict->add_option("--db", predict.db, "SQLite file or postgresql:// URI")->required();
  c_predict->add_option("--device", predict.device, "device class, as measured (e.g. cpu)")
      ->required();
  auto* p_arch = c_predict->add_option("--arch", predict.source.arch_name,
                                       "architecture name (zoo, or of --campaign-file), or "
                                       "several: resnet18,mobilenet_v2");
  c_predict->add_option("--campaign-file", predict.source.campaign_file,
                        "look the name up in this campaign")
      ->needs(p_arch);
  auto* p_ts = c_predict->add_option("--torchscript", predict.source.torchscript,
                                     "a traced TorchScript file")
                   ->excludes(p_arch);
  c_predict->add_option("--input-shape", predict.source.input_shape,
                        "the traced input's shape, batch first: 1,3,224,224")
      ->delimiter(',')
      ->needs(p_ts);
  std::vector<int64_t> predict_batches;
  c_predict->add_option("--batch", predict_batches,
                        "batch size, or several: 1,4,16 (default: the batch the device was "
                        "measured at)")
      ->delimiter(',');
  c_predict->add_option("--mode", predict.mode, "inference | training")
      ->check(CLI::IsMember({"inference", "training"}))
      ->capture_default_str();
  c_predict->add_option("--optimizer", predict.optimizer,
                        "training: the step's optimiser, sgd | sgd-momentum | adam | adamw "
                        "(default sgd)");
  c_predict->add_option("--loss", predict.loss,
                        "training: the step's loss, cross-entropy | mse (default "
                        "cross-entropy)");
  c_predict->add_option("--samples", predict.samples,
                        "training: the samples of one epoch; adds the whole run's energy and "
                        "time");
  c_predict->add_option("--epochs", predict.epochs, "training: epochs of the run (default 1)");
  c_predict->add_option("--estimator", predict.estimator, estimator_names)->capture_default_str();
  c_predict->add_flag("--prefer-measured", predict.prefer_measured,
                     "return the dataset's whole-model measurement of this architecture, "
                     "batch, mode and device when it holds one");
  c_predict->add_flag("--include-flagged", predict.include_flagged,
                      "train on measurements with quality flags too (left out by default)");
  c_predict->add_flag("--json", predict.json, "one JSON document on stdout");

  ProjectOptions project;
  auto* c_project = app.add_subcommand(
      "project", "STEP: a training run's total from its stable iterations (docs/estimators.md)");
  c_project->add_option("--series", project.series,
                        "training log CSV: a header row, then one row per iteration")
      ->required();
  c_project->add_option("--iterations", project.iterations, "N: iterations of the whole run")
      ->required()
      ->check(CLI::PositiveNumber);
  c_project->add_option("--column", project.column,
                        "the per-iteration column (default: energy_j, else time_s)");
  c_project->add_option("--window", project.window,
                        "W: iterations averaged after the stable point (default: all)")
      ->check(CLI::PositiveNumber);
  c_project->add_flag("--json", project.json, "one JSON document on stdout");

  ReportOptions report_options;
  std::string report_out;
  auto* c_report = app.add_subcommand("report", "HTML report with plots (docs/report.md)");
  c_report->add_option("--db", report_options.db, "SQLite file or postgresql:// URI")->required();
  c_report->add_option("--out", report_out, "the HTML file to write")->required();
  c_report->add_flag("--include-flagged", report_options.include_flagged,
                     "evaluate on measurements with quality flags too (left out by default)");
  c_report->add_flag("--json", json, "one JSON document on stdout");
  c_report->add_option("--folds", report_options.folds, "k of the grouped k-fold evaluation")
      ->check(CLI::Range(2, 100))
      ->capture_default_str();

  MeasureOptions measure;
  auto* c_measure = app.add_subcommand(
      "measure", "the energy and time of a command: wattfleet measure [OPTIONS] -- CMD ARGS...");
  c_measure->add_option("--sensor", measure.sensor,
                        "auto, rapl, nvml, hwmon, android, modeled (docs/measurement.md)")
      ->capture_default_str();
  c_measure->add_option("--device", measure.device, "cpu, or cuda:N for GPU N's NVML counter")
      ->capture_default_str();
  c_measure->add_option("--modeled-core-w", measure.modeled_core_w,
                        "the modeled sensor's power of one fully busy core, in W (default 15)")
      ->check(CLI::Range(0.0, 10000.0));
  c_measure->add_option("--idle-s", measure.idle_s,
                        "seconds of idle power measured first (0: none)")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  c_measure->add_flag("--json", measure.json, "one JSON document on stdout");
  c_measure->add_option("--db", measure.db,
                        "also store the window in this dataset (kind window; SQLite file or "
                        "postgresql:// URI)");
  c_measure->add_option("--name", measure.name,
                        "the window's name (default: the program, or the script it runs)");
  c_measure->add_option("--campaign", measure.campaign, "the campaign it is stored under")
      ->capture_default_str();
  c_measure->add_option("command", measure.command, "the command and its arguments, after --")
      ->required();

  if (auto code = ParseCommandLine(app, argc, argv)) return *code;
  // Logs on stderr: stdout carries results and --json documents.
  // Never on a progress bar's line: the sink takes the bar off and draws it again.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "wattfleet", std::make_shared<BarAwareSink>(LogColours())));
  spdlog::set_level(spdlog::level::from_str(log_level));

  try {
    if (c_serve->parsed()) return CmdServe(serve);
    if (c_run->parsed()) return CmdRun(run);
    if (c_submit->parsed()) return CmdSubmit(campaign_path, admin, wait, json);
    if (c_status->parsed()) return CmdStatus(status_id, admin, json);
    if (c_cancel->parsed()) return CmdCancel(cancel_id, admin, json);
    if (c_plan->parsed()) return CmdPlan(campaign_path, json, plan_db, plan_max_jobs);
    if (c_export->parsed()) return CmdExport(db, export_campaign, format, out);
    if (c_inspect->parsed()) {
      return CmdInspect(arch, campaign_file, torchscript, input_shape, json);
    }
    if (c_keys_generate->parsed()) return CmdKeysGenerate(keys_out, keys_agents, keys_admins);
    if (c_import->parsed()) return CmdImport(db, import_mapping, import_csvs, json);
    if (c_project->parsed()) return CmdProject(project);
    if (c_report->parsed()) return CmdReport(report_options, report_out, json);
    if (c_predict->parsed()) return CmdPredictMany(predict, predict_batches);
    if (c_measure->parsed()) return CmdMeasure(measure);
    if (c_fit->parsed()) {
      // fit only reads and adds fitted models: a mistyped name must not become a new dataset.
      if (!wattfleet::IsPostgresUri(db) && ::access(db.c_str(), F_OK) != 0) {
        std::cerr << "wattfleet: --db " << db << ": no such dataset\n";
        return 2;
      }
      // The dataset's own measurements go to the layer and model estimators; imported
      // operation measurements to the power law.
      wattfleet::EvaluateOptions eo;
      eo.db = db;
      eo.device = fit_device;
      eo.target = fit_target;
      eo.split = fit_split;
      eo.json = json;
      const bool power_law =
          fit_estimator == "powerlaw" ||
          (fit_estimator == "all" && !wattfleet::HasEstimatorSamples(db));
      if (power_law && !fit_holdout.empty()) {
        std::cerr << "wattfleet: --holdout-campaign: the power law is fitted on imported "
                     "operations, which belong to no campaign\n";
        return 2;
      }
      if (fit_estimator == "powerlaw") return CmdFit(db, fit_device, fit_estimator, json);
      eo.holdout_campaigns = fit_holdout;
      eo.include_flagged = fit_include_flagged;
      if (fit_estimator != "all") {
        std::stringstream names(fit_estimator);
        for (std::string n; std::getline(names, n, ',');) eo.estimators.push_back(n);
      }
      if (fit_estimator == "all" && !wattfleet::HasEstimatorSamples(db)) {
        return CmdFit(db, fit_device, fit_estimator, json);
      }
      return CmdEvaluate(eo);
    }
  } catch (const std::exception& e) {
    // Nothing should get here; if something does, it is a failure, not a crash.
    spdlog::error("{}", e.what());
    return 1;
  }
  return 2;
}
