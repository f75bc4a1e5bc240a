// Private to the package library: the package's descriptions of itself, made from what it
// holds: Croissant (croissant.cc), Frictionless Data Package (datapackage.cc), the datasheet
// (datasheet.cc) and the provenance (provenance.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "package_tables.h"

namespace wattfleet::package {

// What the publisher says of the package.
struct Metadata {
  std::string title, description, license, url;
  std::vector<std::string> creators;
  std::string date;  // YYYY-MM-DD
};

// A file of the package, as written.
struct FileEntry {
  std::string path;  // relative to the package
  std::string sha256;
  int64_t bytes = 0;
  std::string media_type;
  std::string table;  // the table it presents; "" for other files
};

using Json = nlohmann::ordered_json;

// croissant.json: Croissant 1.0 with its responsible-AI fields.
Json Croissant(const Metadata& meta, const Content& content, const std::vector<Table>& tables,
               const std::vector<FileEntry>& files);
// datapackage.json: a Frictionless Data Package whose tables carry Table Schemas.
Json DataPackage(const Metadata& meta, const Content& content, const std::vector<Table>& tables,
                 const std::vector<FileEntry>& files);
// README.md: a datasheet in the usual sections.
std::string Datasheet(const Metadata& meta, const Content& content,
                      const std::vector<Table>& tables);
// provenance.json: the software, the campaigns verbatim, the counts.
Json Provenance(const Metadata& meta, const Content& content,
                const std::vector<FileEntry>& campaign_files);

// The RAI and datasheet prose shared by Croissant and README.md.
std::string CollectionText(const Content& content);
std::string LimitsText(const Content& content);
std::string PreprocessingText();
std::string UsesText();
std::string MaintenanceText();

// The publisher's description, or one made from the content when none was given.
std::string DescriptionOf(const Metadata& meta, const Content& content);

// The energy's origin in one phrase: "metered", "modeled" or "metered and modeled".
std::string EnergyOrigin(const Content& content);

}  // namespace wattfleet::package
