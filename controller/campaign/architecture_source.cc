#include "wattfleet/campaign/architecture_source.h"

#include <filesystem>

#include "wattfleet/campaign/campaign.h"
#include "wattfleet/zoo/model_formats.h"
#include "wattfleet/zoo/zoo.h"

namespace wattfleet {

Result<ResolvedArchitecture> ResolveArchitecture(const ArchitectureSource& source) {
  const std::string model_flags = "--" + ModelFormatNames(" or --");
  if (source.arch_name.empty() == source.model_file.empty()) {
    return Status::InvalidArgument("give exactly one of --arch or " + model_flags);
  }
  if (source.model_file.empty() && !source.input_shape.empty()) {
    return Status::InvalidArgument("--input-shape goes with " + model_flags + ", not --arch");
  }
  ResolvedArchitecture out;
  if (!source.model_file.empty()) {
    const ModelFormat* format = FindModelFormat(source.model_format);
    if (format == nullptr) {
      return Status::InvalidArgument("unknown model format '" + source.model_format + "'");
    }
    if (format->shape_required && source.input_shape.size() < 2) {
      return Status::InvalidArgument(std::string("--input-shape: --") + format->name +
                                     " needs the input's shape with its batch dimension, e.g. "
                                     "1,3,224,224");
    }
    WF_ASSIGN_OR_RETURN(
        ModelImport imported,
        format->import(source.model_file, Shape(source.input_shape.begin(), source.input_shape.end()),
                       std::filesystem::path(source.model_file).filename().string()));
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
