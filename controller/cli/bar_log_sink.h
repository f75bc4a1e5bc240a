// The commands' log sink: log lines on stderr that never land on a progress bar's line. The
// bar registered with SetActiveBar (progress.h) is taken off its line before each message and
// drawn again after it.
#pragma once

#include <memory>
#include <mutex>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include "progress.h"

namespace wattfleet {

class BarAwareSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit BarAwareSink(spdlog::color_mode colours)
      : inner_(std::make_shared<spdlog::sinks::stderr_color_sink_mt>(colours)) {}

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    ClearActiveBar();
    inner_->log(msg);
    inner_->flush();
    RedrawActiveBar();
  }
  void flush_() override { inner_->flush(); }
  void set_pattern_(const std::string& pattern) override { inner_->set_pattern(pattern); }
  void set_formatter_(std::unique_ptr<spdlog::formatter> formatter) override {
    inner_->set_formatter(std::move(formatter));
  }

 private:
  std::shared_ptr<spdlog::sinks::stderr_color_sink_mt> inner_;
};

}  // namespace wattfleet
