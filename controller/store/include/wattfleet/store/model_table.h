// Fitted models as the dataset keeps them: the models table (docs/dataset.md), rows of text
// that only estimate/model_store.h interprets. Both backends; the commands that fit and
// predict open it beside their DatasetReader.
//
// Rows are only ever added: a new fit is a new row, and a reader takes the latest row that
// matches what it would fit (ModelKey).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

// What identifies a stored fit: the estimator, the data it was fitted on (device class, mode,
// target, and the training set's fingerprint) and the row layout's version.
struct ModelKey {
  std::string estimator;
  std::string device_class;
  std::string mode;
  std::string target;  // "energy" | "time"
  std::string fingerprint;
  int format_version = 0;
};

struct ModelRow {
  int64_t id = 0;  // assigned by Insert
  ModelKey key;
  std::string wattfleet_version;
  std::string training_json;
  std::string state_json;
  int64_t created_ms = 0;
};

class ModelTable {
 public:
  virtual ~ModelTable() = default;

  // Whether Insert can write; when not, why (a read-only file, say).
  virtual bool writable() const = 0;
  virtual const std::string& read_only_reason() const = 0;

  // The latest row with exactly this key; nullopt when there is none (or no models table).
  virtual Result<std::optional<ModelRow>> Latest(const ModelKey& key) = 0;
  // Adds `row` in one transaction and returns its id. IOError when not writable.
  virtual Result<int64_t> Insert(const ModelRow& row) = 0;
};

// Opens the models of the dataset `db` names (an SQLite file or a postgresql:// URI), which
// must exist. Writable where the dataset can be written (its schema is then brought up to this
// build's, adding the table); read-only otherwise, or always with `read_only`.
// InvalidArgument for a dataset written by a newer wattfleet or not a wattfleet dataset.
Result<std::unique_ptr<ModelTable>> OpenModelTable(const std::string& db, bool read_only);

}  // namespace wattfleet
