// Bounds on a zipped model file, read from its central directory with libzip
// (model_file_bounds.h).
#include "wattfleet/zoo/model_file_bounds.h"

#include <zip.h>

#include <memory>

namespace wattfleet {
namespace {

struct ZipDiscard {
  void operator()(zip_t* z) const { zip_discard(z); }  // read only: nothing to write back
};

std::string Bytes(int64_t n) {
  if (n >= (int64_t{1} << 30)) return std::to_string(n >> 30) + " GiB";
  if (n >= (int64_t{1} << 20)) return std::to_string(n >> 20) + " MiB";
  return std::to_string(n) + " bytes";
}

}  // namespace

Status CheckZipModelFile(const std::string& path, const ModelFileBounds& bounds) {
  int err = 0;
  std::unique_ptr<zip_t, ZipDiscard> zip(zip_open(path.c_str(), ZIP_RDONLY, &err));
  if (!zip) {
    zip_error_t error;
    zip_error_init_with_code(&error, err);
    const std::string why = zip_error_strerror(&error);
    zip_error_fini(&error);
    return Status::InvalidArgument(path + ": not a zip archive, as TorchScript files are (" +
                                   why + ")");
  }
  const zip_int64_t entries = zip_get_num_entries(zip.get(), 0);
  if (entries < 0 || entries > bounds.max_entries) {
    return Status::InvalidArgument(path + ": " + std::to_string(entries) + " entries, more than "
                                   "the " + std::to_string(bounds.max_entries) + " a model file "
                                   "may hold");
  }
  int64_t total = 0;
  for (zip_int64_t i = 0; i < entries; ++i) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(zip.get(), static_cast<zip_uint64_t>(i), 0, &st) != 0 ||
        !(st.valid & ZIP_STAT_SIZE)) {
      return Status::InvalidArgument(path + ": entry " + std::to_string(i) +
                                     " of the archive cannot be read");
    }
    // What the loader would allocate for it: the size the directory declares.
    const int64_t size = st.size > static_cast<zip_uint64_t>(INT64_MAX)
                             ? INT64_MAX
                             : static_cast<int64_t>(st.size);
    const std::string name = (st.valid & ZIP_STAT_NAME) && st.name ? st.name : "?";
    if (size > bounds.max_entry_bytes) {
      return Status::InvalidArgument(path + ": entry '" + name + "' decompresses to " +
                                     Bytes(size) + ", more than the " +
                                     Bytes(bounds.max_entry_bytes) + " one tensor may take");
    }
    total += size;
    if (total > bounds.max_total_bytes) {
      return Status::InvalidArgument(path + ": its entries decompress to more than the " +
                                     Bytes(bounds.max_total_bytes) + " a model file may take "
                                     "(at entry '" + name + "')");
    }
  }
  return Status::OK();
}

}  // namespace wattfleet
