// datapackage.json (package_metadata.h): a Frictionless Data Package. Each CSV is a tabular
// resource with its Table Schema (typed fields, units, primary and foreign keys) and its
// SHA-256; the JSON Lines twins, the campaign files and the provenance are plain resources.
#include "package_metadata.h"

#include <cctype>
#include <set>

namespace wattfleet::package {
namespace {

// A package name as the specification wants it: lower case, digits, '-', '_' and '.'.
std::string PackageName(const std::string& title) {
  std::string out;
  for (const char c : title) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) {
      out += static_cast<char>(std::tolower(u));
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "wattfleet-dataset" : out;
}

// A resource's name as the specification wants it (lower-case letters, digits, '-', '_', '.',
// '/'), from its path.
std::string ResourceName(const std::string& path) {
  std::string out;
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    const bool kept = std::isdigit(u) || std::islower(u) || c == '-' || c == '_' || c == '.' ||
                      c == '/';
    out += kept ? c : (std::isupper(u) ? static_cast<char>(std::tolower(u)) : '-');
  }
  return out;
}

Json Schema(const Table& t) {
  Json fields = Json::array();
  for (const ColumnInfo& c : t.columns) {
    Json f = {{"name", c.name}, {"type", c.type}, {"description", c.description}};
    if (!c.unit.empty()) f["unit"] = c.unit;
    fields.push_back(std::move(f));
  }
  Json s = {{"fields", std::move(fields)}, {"missingValues", {""}}};
  s["primaryKey"] = t.key;
  Json foreign = Json::array();
  for (const Table::Reference& r : t.references) {
    foreign.push_back({{"fields", r.column},
                       {"reference", {{"resource", r.table}, {"fields", r.table_column}}}});
  }
  if (!foreign.empty()) s["foreignKeys"] = std::move(foreign);
  return s;
}

}  // namespace

Json DataPackage(const Metadata& meta, const Content& content, const std::vector<Table>& tables,
                 const std::vector<FileEntry>& files) {
  Json p = Json::object();
  p["profile"] = "tabular-data-package";
  p["name"] = PackageName(meta.title);
  p["title"] = meta.title;
  p["description"] = DescriptionOf(meta, content);
  if (!meta.url.empty()) p["homepage"] = meta.url;
  p["created"] = meta.date + "T00:00:00Z";
  p["licenses"] = {{{"name", meta.license},
                    {"path", "https://spdx.org/licenses/" + meta.license + ".html"}}};
  Json contributors = Json::array();
  for (const std::string& c : meta.creators) {
    contributors.push_back({{"title", c}, {"role", "author"}});
  }
  p["contributors"] = std::move(contributors);
  Json resources = Json::array();
  std::set<std::string> names;
  for (const FileEntry& f : files) {
    Json r = Json::object();
    const bool csv = f.media_type == "text/csv";
    bool has_csv = false;
    for (const Table& t : tables) has_csv = has_csv || (t.name == f.table && t.csv);
    std::string name = f.table.empty() ? ResourceName(f.path)
                                       : (csv || !has_csv ? f.table : f.table + "-jsonl");
    // Names are unique in a package: a campaign file's lowered name may meet another's.
    for (int n = 2; !names.insert(name).second; ++n) name += "-" + std::to_string(n);
    r["name"] = name;
    r["path"] = f.path;
    r["mediatype"] = f.media_type;
    r["encoding"] = "utf-8";
    r["bytes"] = f.bytes;
    r["hash"] = "sha256:" + f.sha256;
    for (const Table& t : tables) {
      if (t.name == f.table && !csv) r["description"] = t.description + " (JSON Lines)";
    }
    if (csv && !f.table.empty()) {
      for (const Table& t : tables) {
        if (t.name != f.table) continue;
        r["profile"] = "tabular-data-resource";
        r["format"] = "csv";
        r["description"] = t.description;
        r["dialect"] = {{"delimiter", ","}, {"doubleQuote", true}, {"header", true}};
        r["schema"] = Schema(t);
      }
    }
    resources.push_back(std::move(r));
  }
  p["resources"] = std::move(resources);
  return p;
}

}  // namespace wattfleet::package
