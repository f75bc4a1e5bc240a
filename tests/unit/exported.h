// The export's rows of a dataset, read as `wattfleet export` reads them: through the read
// side (DatasetReader), in one snapshot, beside any Store still open on the same dataset.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "wattfleet/store/dataset_reader.h"

namespace wattfleet::testing {

inline Result<std::vector<ExportRow>> Exported(const std::string& db,
                                               std::optional<int64_t> campaign_id = std::nullopt) {
  auto reader = OpenDatasetReader(db);
  if (!reader.ok()) return reader.status();
  return (*reader)->ExportRows(campaign_id);
}

}  // namespace wattfleet::testing
