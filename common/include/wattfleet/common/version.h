// What `--version` prints, the same for both binaries.
#pragma once

#include <string>
#include <string_view>

namespace wattfleet {

// "wattfleet 0.1.0 (git 1a2b3c4d5e6f, libtorch 1.13.1)": the version, the git revision the
// build was configured from ("unknown" outside a checkout) and the libtorch it runs layers or
// reads TorchScript with ("built without libtorch" when `torch` is empty).
std::string VersionLine(std::string_view program, std::string_view torch);
// The two parts alone (for labels such as Prometheus's build info).
std::string_view Version();
std::string_view GitRevision();

}  // namespace wattfleet
