// The model file formats a campaign, `inspect` and `predict` take, one registration each
// (model_formats.cc): the CLI's flags, the campaign's keys and the help texts all read this
// list. Adding a format is its importer's files plus one entry.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/common/status.h"
#include "wattfleet/zoo/model_import.h"

namespace wattfleet {

struct ModelFormat {
  // The flag (--NAME) and the campaign key (NAME: FILE); also the architecture's family.
  const char* name;
  const char* label;  // "TorchScript", in messages
  const char* help;   // one line, for --help
  // The file does not declare its input shape: --input-shape / input_shape is required.
  bool shape_required;
  // Agents run the file itself as the whole model (docs/measurement.md); otherwise whole-model
  // jobs run the mapped layers.
  bool runs_whole;
  // `input_shape` batch first, as the user gives it; empty: the file's own (where it has one).
  Result<ModelImport> (*import)(const std::string& path, const Shape& input_shape,
                                const std::string& name);
  bool (*available)();  // built with the library that reads it
};

// Every format, in the order help texts list them.
const std::vector<ModelFormat>& ModelFormats();
// nullptr for an unknown name.
const ModelFormat* FindModelFormat(std::string_view name);
// "torchscript or onnx", for messages.
std::string ModelFormatNames(const std::string& last_joiner = " or ");

}  // namespace wattfleet
