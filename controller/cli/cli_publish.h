// `wattfleet publish`: a dataset as a package (docs/dataset.md, "Publishing").
#pragma once

#include <string>
#include <vector>

#include "wattfleet/package/publish.h"

namespace wattfleet {

struct PublishFlags {
  PublishOptions options;
  std::vector<std::string> campaigns;  // ids or names, as --campaign gives them
  bool json = false;
};

// Exit 0 written, 2 bad flags or input (nothing written), 1 anything else.
int CmdPublish(const PublishFlags& flags);

}  // namespace wattfleet
