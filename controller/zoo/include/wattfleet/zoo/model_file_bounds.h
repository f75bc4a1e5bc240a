// What a model file may cost before it is loaded. A TorchScript file is a zip archive whose
// entries libtorch decompresses into memory whole: a few megabytes of archive can declare
// gigabytes (a zip bomb). The archive's directory is read first, without decompressing
// anything, and a file past these bounds is refused naming the bound it crosses.
#pragma once

#include <cstdint>
#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct ModelFileBounds {
  // Entries in the archive: a model has one per tensor storage and a few more.
  int64_t max_entries = 100000;
  // Bytes once decompressed, all entries together, and the largest one (a tensor storage):
  // fp32 weights of a 500-million-parameter model fit.
  int64_t max_total_bytes = int64_t{2} << 30;
  int64_t max_entry_bytes = int64_t{2} << 30;
};

// OK when `path` is a zip archive within `bounds`; InvalidArgument naming `path` and the
// bound otherwise (also when it is not a zip archive at all).
Status CheckZipModelFile(const std::string& path, const ModelFileBounds& bounds = {});

}  // namespace wattfleet
