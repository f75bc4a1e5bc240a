// An error a meter's background poll met, kept for the next read. Private to the meters.
#pragma once

#include <utility>

#include "wattfleet/common/status.h"

namespace wattfleet {

// Reported by the next read, once: the window that spans the failure fails (a counter wrap
// or a power sample may have been missed), and the one after integrates from the last good
// sample. The first error is kept. Not synchronised: its owner's mutex guards it.
class LatchedError {
 public:
  void Latch(Status s) {
    if (!s.ok() && error_.ok()) error_ = std::move(s);
  }
  // The latched error, cleared; OK where there is none.
  Status Take() {
    Status s = std::move(error_);
    error_ = Status::OK();
    return s;
  }

 private:
  Status error_;
};

}  // namespace wattfleet
