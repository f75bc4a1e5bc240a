// Model archives are bounded from their directory before anything decompresses them: a few
// bytes that declare gigabytes are refused, naming the bound; an honest archive passes.
#include "wattfleet/zoo/model_file_bounds.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "crafted_zip.h"
#include "temp_dir.h"

namespace wattfleet {
namespace {

using testing::CraftedEntry;
using testing::TempDir;
using testing::WriteCraftedZip;

TEST(ModelFileBounds, ArchivesThatDeclareGigabytesAreRefusedUnread) {
  TempDir dir;
  const std::string one = dir.path() + "/one-big.pt";
  WriteCraftedZip(one, {{"m/data.pkl", 100}, {"m/data/0", 3u << 30}});
  Status s = CheckZipModelFile(one);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("entry 'm/data/0' decompresses to 3 GiB, more than the 2 GiB"),
            std::string::npos)
      << s.message();

  // Each entry within bounds, together past them.
  const std::string many = dir.path() + "/many.pt";
  WriteCraftedZip(many, {{"m/data/0", 1u << 30}, {"m/data/1", 1u << 30}, {"m/data/2", 1u << 30}});
  s = CheckZipModelFile(many);
  EXPECT_NE(s.message().find("decompress to more than the 2 GiB"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("m/data/2"), std::string::npos) << s.message();

  // Fewer entries allowed than it holds.
  s = CheckZipModelFile(many, ModelFileBounds{2, int64_t{8} << 30, int64_t{8} << 30});
  EXPECT_NE(s.message().find("3 entries, more than the 2"), std::string::npos) << s.message();

  // Within every bound: fine.
  const std::string small = dir.path() + "/small.pt";
  WriteCraftedZip(small, {{"m/data.pkl", 4096}, {"m/data/0", 1u << 20}});
  EXPECT_TRUE(CheckZipModelFile(small).ok()) << CheckZipModelFile(small).ToString();

  // Not an archive at all.
  const std::string text = dir.path() + "/notes.pt";
  std::ofstream(text) << "not a model\n";
  s = CheckZipModelFile(text);
  EXPECT_NE(s.message().find("not a zip archive"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace wattfleet
