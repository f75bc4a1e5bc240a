// The flags that name the architecture `inspect` and `predict` are about: --arch (with
// --campaign-file), one flag per model format (model_formats.h: --torchscript, --onnx) and
// --input-shape. Header-only: main.cc is the one translation unit that adds CLI11 options.
#pragma once

#include <CLI/CLI.hpp>

#include <map>
#include <string>

#include "wattfleet/campaign/architecture_source.h"
#include "wattfleet/zoo/model_formats.h"

namespace wattfleet {

// Adds the flags to `command`; each format's file lands in files[format name].
inline void AddArchitectureSource(CLI::App* command, ArchitectureSource* source,
                                  std::map<std::string, std::string>* files,
                                  const std::string& arch_help) {
  auto* arch = command->add_option("--arch", source->arch_name, arch_help);
  command->add_option("--campaign-file", source->campaign_file, "look the name up in this campaign")
      ->needs(arch);
  std::vector<CLI::Option*> file_options;
  for (const ModelFormat& format : ModelFormats()) {
    auto* o = command->add_option(std::string("--") + format.name, (*files)[format.name],
                                  format.help);
    o->excludes(arch);
    for (CLI::Option* other : file_options) o->excludes(other);
    file_options.push_back(o);
  }
  // Checked against the model file by ResolveArchitecture: CLI11's needs() would want every
  // format's flag at once.
  command
      ->add_option("--input-shape", source->input_shape,
                   "the model's input shape, batch first: 1,3,224,224 (TorchScript: the "
                   "traced input's; ONNX: where the file leaves a dimension free)")
      ->delimiter(',');
}

// Moves the one given file (if any) into `source`.
inline void SelectModelFile(const std::map<std::string, std::string>& files,
                            ArchitectureSource* source) {
  for (const auto& [format, file] : files) {
    if (file.empty()) continue;
    source->model_file = file;
    source->model_format = format;
  }
}

}  // namespace wattfleet
