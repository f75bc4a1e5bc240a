#include "wattfleet/common/version.h"

namespace wattfleet {

std::string VersionLine(std::string_view program, std::string_view torch) {
  return std::string(program) + " " + WATTFLEET_VERSION + " (git " + WATTFLEET_GIT_REVISION +
         ", " + (torch.empty() ? std::string("built without libtorch")
                               : "libtorch " + std::string(torch)) +
         ")";
}

std::string_view Version() { return WATTFLEET_VERSION; }
std::string_view GitRevision() { return WATTFLEET_GIT_REVISION; }

}  // namespace wattfleet
