#include "cli_publish.h"

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli_commands.h"

namespace wattfleet {

int CmdPublish(const PublishFlags& flags) {
  PublishOptions o = flags.options;
  const auto fail = [](const Status& s) {
    std::cerr << "wattfleet: " << s.message() << "\n";
    return s.code() == StatusCode::kInvalidArgument ? 2 : 1;
  };
  auto ids = OpenDatasetCampaigns(o.db, flags.campaigns);
  if (!ids.ok()) return fail(ids.status());
  o.campaign_ids = *ids;
  auto summary = Publish(o);
  if (!summary.ok()) return fail(summary.status());
  if (flags.json) {
    nlohmann::json doc = {{"out", summary->out}, {"rows", summary->rows},
                          {"files", summary->files}};
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  std::cout << "published " << summary->out << ": " << summary->files.size() << " files\n";
  for (const auto& [table, rows] : summary->rows) {
    std::cout << "  data/" << table << ".csv  " << rows << " rows\n";
  }
  std::cout << "check it with: (cd " << summary->out << " && sha256sum -c SHA256SUMS)\n";
  return 0;
}

}  // namespace wattfleet
