// The `wattfleet` subcommands (docs/design/cli.md). Each returns the process exit code: 0 success, 2 bad
// input (with a message naming the file:line:column or the flag), 1 any other failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "embedded.h"
#include "wattfleet/campaign/architecture_source.h"
#include "wattfleet/common/status.h"
#include "wattfleet/dispatch/private_endpoint.h"
#include "wattfleet/store/store.h"

namespace wattfleet {

struct ServeArgs {
  std::string db;
  std::string bind = "tcp://127.0.0.1:5555";
  std::string admin = DefaultAdminEndpoint();
  std::string admin_keys;    // administrators' public keys (*.key), for a tcp:// --admin
  int64_t heartbeat_ms = 1000;
  int32_t liveness = 3;
  int32_t max_attempts = 3;
  std::string ready_file;  // JSON with the bound endpoints, written once listening
  std::string curve_secret;  // controller.key_secret: CURVE on (with agents_dir)
  std::string agents_dir;    // enrolled agents' public keys (*.key)
  std::string metrics;     // HOST:PORT for Prometheus metrics; empty: off
  int64_t max_campaign_jobs = kDefaultMaxCampaignJobs;
};

// How the CLI reaches a running controller's admin socket: an ipc:// path (filesystem
// permissions decide), or tcp:// with this administrator's key pair and the controller's
// public key (CURVE).
struct AdminClient {
  std::string endpoint = DefaultAdminEndpoint();
  std::string key_file;             // NAME.key_secret of an enrolled administrator
  std::string controller_key_file;  // controller.key
};

int CmdServe(const ServeArgs& args);
int CmdRun(const EmbeddedOptions& options);
int CmdSubmit(const std::string& campaign_path, const AdminClient& admin, bool wait, bool json);
// `campaign`: an id, or a name (every campaign of that name).
int CmdStatus(const std::optional<std::string>& campaign, const AdminClient& admin, bool json);
// `campaign`: an id, or a name (the one running campaign of that name).
int CmdCancel(const std::string& campaign, const AdminClient& admin, bool json);
// With `history_db`, the device time is estimated from that dataset's measurements;
// `max_campaign_jobs`: the bound of the controller the campaign is meant for.
int CmdPlan(const std::string& campaign_path, bool json, const std::string& history_db = "",
            int64_t max_campaign_jobs = kDefaultMaxCampaignJobs);
// Opens `db` once as a Store, which upgrades an older dataset, and gives the ids of the
// campaigns `campaigns` names (each an id, or a name: every campaign of that name), in order,
// once each; none when `campaigns` is empty. InvalidArgument naming --db for a dataset that does
// not exist (nothing is created), and --campaign, with the campaigns there are, for a name that
// matches none. The Store is closed again: the caller reads through the read side.
Result<std::vector<int64_t>> OpenDatasetCampaigns(const std::string& db,
                                                  const std::vector<std::string>& campaigns);
// The export's rows (one per measurement) of `db`, or of its campaigns named `campaign`: an
// id, or a name (every campaign of that name: `run`s and Monitor sessions reuse theirs).
// InvalidArgument naming --db for a dataset that does not exist (nothing is created), and
// --campaign, with the campaigns there are, for one that matches none.
Result<std::vector<ExportRow>> ReadExportRows(const std::string& db,
                                              const std::optional<std::string>& campaign);
int CmdExport(const std::string& db, const std::optional<std::string>& campaign,
              const std::string& format, const std::string& out);
// The --json document of `inspect`: name, family, input_shape, macs, flops, params,
// layers[], unsupported[] (docs/design/cli.md).
Result<nlohmann::json> InspectArchitecture(const ArchitectureSource& source);
// `source` names the architecture: a zoo name, a name in a campaign file, or a model file.
int CmdInspect(const ArchitectureSource& source, bool json);
// `inspect --family NAME`: the family's sweep parameters, each with its help line (default and
// bounds); --json: {family, parameters: [{name, help}]}.
int CmdInspectFamily(const std::string& family, bool json);
// `wattfleet keys generate`: the controller's and each agent's CURVE key pair in `out`, the
// agents' public keys enrolled in out/agents (cli_keys.cc).
// With `admins`, also those administrators' key pairs, enrolled in out/admins.
int CmdKeysGenerate(const std::string& out, const std::vector<std::string>& agents,
                    const std::vector<std::string>& admins = {});

}  // namespace wattfleet
