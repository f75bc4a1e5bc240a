#include "wattfleet/common/version.h"

namespace wattfleet {

std::string VersionLine(std::string_view program, std::string_view torch) {
  return std::string(program) + " " + WATTFLEET_VERSION + " (git " + WATTFLEET_GIT_REVISION +
         ", " + (torch.empty() ? std::string("built without libtorch")
                               : "libtorch " + std::string(torch)) +
         ")";
}

}  // namespace wattfleet
