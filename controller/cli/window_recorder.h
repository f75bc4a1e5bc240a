// Windows of a user's own code written into a dataset (`wattfleet measure --db`,
// `wattfleet.Monitor(dataset=...)`; docs/python.md): each window is stored as the result of a
// job of kind `window` in a campaign of its own, so that export and the report show it beside
// the campaigns' measurements. Windows are never planned, dispatched or fitted on.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "wattfleet/common/status.h"
#include "wattfleet/store/store.h"
#include "wattfleet/monitor/window_monitor.h"

namespace wattfleet {

struct WindowDatasetOptions {
  std::string db;                   // an SQLite file (created when missing) or postgresql://
  std::string campaign = "windows";  // the campaign the windows are stored under
  std::string device_class = "cpu";
  std::string agent;                // who measured: this host's name when empty
};

class WindowRecorder {
 public:
  // Opens (or creates) the dataset and starts a campaign for the windows. InvalidArgument for
  // a campaign name that is not 1 to 128 letters, digits, '_', '.' or '-', or a dataset that
  // cannot be opened.
  static Result<std::unique_ptr<WindowRecorder>> Open(const WindowDatasetOptions& options);
  // Over a store whose campaign `campaign` Open() created.
  WindowRecorder(std::unique_ptr<Store> store, WindowDatasetOptions options, int64_t campaign);
  ~WindowRecorder();  // finishes the campaign
  WindowRecorder(const WindowRecorder&) = delete;
  WindowRecorder& operator=(const WindowRecorder&) = delete;

  // Stores one window; returns its job id. `idle_w`: the idle power its dynamic energy rests on.
  Result<int64_t> Record(const WindowReading& window, std::optional<double> idle_w);
  int64_t campaign_id() const { return campaign_id_; }

 private:
  std::unique_ptr<Store> store_;
  WindowDatasetOptions options_;
  int64_t campaign_id_ = 0;
};

}  // namespace wattfleet
