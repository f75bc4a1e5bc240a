// Datasets as older versions of wattfleet wrote them, made from a current one: for the tests of
// the schema migrations, which must upgrade what users already have. Before SQLite's schema 7
// (PostgreSQL's 6) each measurement was also kept whole, as the agent's message, in a payload
// column, and the migrations up to then read their figures from it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <gtest/gtest.h>

#include "wattfleet/common/protocol.h"
#include "wattfleet/common/text.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet::testing {

// The columns that came with the payload's removal.
inline constexpr const char* kColumnsSincePayload[] = {
    "energy_model", "interference", "windows_discarded", "energy_bound_j",
    "sensor_update_period_s", "agent_name"};

// Puts the payload column back, each measurement encoded as its agent sent it, and takes the
// newer columns away; `exec` runs one statement on the dataset, `bytea` writes a hex literal
// as the backend's SQL does.
inline void PutPayloadsBack(const std::string& db,
                            const std::function<void(const std::string&)>& exec,
                            const std::function<std::string(const std::string&)>& bytea,
                            const std::string& blob_type) {
  std::map<int64_t, std::string> payloads;
  {
    auto reader = OpenDatasetReader(db);
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_TRUE((*reader)
                    ->ForEachMeasurement([&](const MeasurementRecord& r) {
                      Measurement m = r.m;
                      auto windows = RepeatsOf(r);
                      EXPECT_TRUE(windows.ok());
                      if (windows.ok()) m.repeats = *windows;
                      payloads[r.id] = Encode(m);
                      return Status::OK();
                    })
                    .ok());
  }
  for (const char* column : kColumnsSincePayload) {
    exec(std::string("ALTER TABLE measurements DROP COLUMN ") + column);
  }
  exec("ALTER TABLE measurements ADD COLUMN payload " + blob_type);
  for (const auto& [id, bytes] : payloads) {
    exec("UPDATE measurements SET payload = " + bytea(HexOf(bytes)) +
         " WHERE id = " + std::to_string(id));
  }
}

}  // namespace wattfleet::testing
