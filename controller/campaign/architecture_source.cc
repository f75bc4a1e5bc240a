#include "wattfleet/campaign/architecture_source.h"

#include <filesystem>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/zoo/torchscript_import.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {

Result<ResolvedArchitecture> ResolveArchitecture(const ArchitectureSource& source) {
  if (source.arch_name.empty() == source.torchscript.empty()) {
    return Status::InvalidArgument("give exactly one of --arch or --torchscript");
  }
  ResolvedArchitecture out;
  if (!source.torchscript.empty()) {
    if (source.input_shape.size() < 2) {
      return Status::InvalidArgument(
          "--input-shape: the traced input's shape with its batch dimension, e.g. 1,3,224,224");
    }
    WF_ASSIGN_OR_RETURN(
        TorchScriptImport imported,
        ImportTorchScript(source.torchscript,
                          Shape(source.input_shape.begin() + 1, source.input_shape.end()),
                          std::filesystem::path(source.torchscript).filename().string()));
    out.unsupported = std::move(imported.unsupported);
    out.architecture = std::move(imported.architecture);
    return out;
  }
  if (!source.campaign_file.empty()) {
    WF_ASSIGN_OR_RETURN(Campaign campaign, LoadCampaignFile(source.campaign_file));
    for (Architecture& a : campaign.architectures) {
      if (a.name == source.arch_name) {
        out.architecture = std::move(a);
        return out;
      }
    }
    return Status::InvalidArgument("--arch " + source.arch_name + ": not in " +
                                   source.campaign_file);
  }
  auto arch = FindZooArchitecture(source.arch_name);
  if (!arch.ok()) return Status::InvalidArgument("--arch " + arch.status().message());
  out.architecture = std::move(arch).value();
  return out;
}

}  // namespace wattfleet
