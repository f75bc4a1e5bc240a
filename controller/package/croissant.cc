// croissant.json (package_metadata.h): Croissant 1.0 JSON-LD, the metadata dataset venues and
// dataset search read. Every data file is a FileObject with its SHA-256; every table a
// RecordSet whose fields read the CSV's columns, typed, with the keys and references between
// tables; the responsible-AI fields say how the data was collected and what it cannot say.
#include "package_metadata.h"

#include "wattfleet/common/text.h"


namespace wattfleet::package {
namespace {

constexpr const char* kIso8601 = "%Y-%m-%dT%H:%M:%SZ";

// The context of the Croissant 1.0 specification (its appendix), with the RAI vocabulary.
Json Context() {
  Json c = Json::object();
  c["@language"] = "en";
  c["@vocab"] = "https://schema.org/";
  c["sc"] = "https://schema.org/";
  c["cr"] = "http://mlcommons.org/croissant/";
  c["rai"] = "http://mlcommons.org/croissant/RAI/";
  c["dct"] = "http://purl.org/dc/terms/";
  for (const char* term : {"citeAs", "column", "extract", "field", "fileProperty", "fileObject",
                           "fileSet", "format", "includes", "isLiveDataset", "jsonPath", "key",
                           "md5", "parentField", "path", "recordSet", "references", "regex",
                           "repeated", "replace", "separator", "source", "subField",
                           "transform"}) {
    c[term] = std::string("cr:") + term;
  }
  c["conformsTo"] = "dct:conformsTo";
  c["data"] = {{"@id", "cr:data"}, {"@type", "@json"}};
  c["dataType"] = {{"@id", "cr:dataType"}, {"@type", "@vocab"}};
  c["examples"] = {{"@id", "cr:examples"}, {"@type", "@json"}};
  return c;
}

std::string DataType(const std::string& table_schema_type) {
  if (table_schema_type == "integer") return "sc:Integer";
  if (table_schema_type == "number") return "sc:Float";
  if (table_schema_type == "boolean") return "sc:Boolean";
  return "sc:Text";
}

Json Distribution(const std::vector<FileEntry>& files) {
  Json out = Json::array();
  for (const FileEntry& f : files) {
    out.push_back({{"@type", "cr:FileObject"},
                   {"@id", f.path},
                   {"name", f.path},
                   {"contentUrl", f.path},
                   {"contentSize", std::to_string(f.bytes) + " B"},
                   {"encodingFormat", f.media_type},
                   {"sha256", f.sha256}});
  }
  return out;
}

// A table's fields read its CSV's columns, or, for a table presented only as JSON Lines, its
// objects' members.
Json RecordSet(const Table& t) {
  const std::string file = "data/" + t.name + (t.csv ? ".csv" : ".jsonl");
  Json fields = Json::array();
  for (const ColumnInfo& c : t.columns) {
    Json f = {{"@type", "cr:Field"},
              {"@id", t.name + "/" + c.name},
              {"name", c.name},
              {"description", c.unit.empty() ? c.description
                                             : c.description + " (" + c.unit + ")"},
              {"dataType", DataType(c.type)},
              {"source",
               {{"fileObject", {{"@id", file}}},
                {"extract",
                 t.csv ? Json{{"column", c.name}} : Json{{"jsonPath", "$." + c.name}}}}}};
    for (const Table::Reference& r : t.references) {
      if (r.column == c.name) {
        f["references"] = {{"field", {{"@id", r.table + "/" + r.table_column}}}};
      }
    }
    fields.push_back(std::move(f));
  }
  Json key = Json::array();
  for (const std::string& k : t.key) key.push_back({{"@id", t.name + "/" + k}});
  return {{"@type", "cr:RecordSet"}, {"@id", t.name},           {"name", t.name},
          {"description", t.description}, {"key", std::move(key)}, {"field", std::move(fields)}};
}

}  // namespace

Json Croissant(const Metadata& meta, const Content& content, const std::vector<Table>& tables,
               const std::vector<FileEntry>& files) {
  Json d = Json::object();
  d["@context"] = Context();
  d["@type"] = "sc:Dataset";
  d["conformsTo"] = {"http://mlcommons.org/croissant/1.0",
                     "http://mlcommons.org/croissant/RAI/1.0"};
  d["name"] = meta.title;
  d["description"] = DescriptionOf(meta, content);
  d["license"] = "https://spdx.org/licenses/" + meta.license + ".html";
  if (!meta.url.empty()) d["url"] = meta.url;
  Json creators = Json::array();
  for (const std::string& c : meta.creators) {
    creators.push_back({{"@type", "sc:Person"}, {"name", c}});
  }
  d["creator"] = std::move(creators);
  d["datePublished"] = meta.date;
  d["keywords"] = {"energy", "power", "neural networks", "layer-wise energy",
                   "energy measurement"};
  d["isLiveDataset"] = false;
  d["citeAs"] = meta.title + " (" + meta.date.substr(0, 4) + ")";
  d["rai:dataCollection"] = CollectionText(content);
  d["rai:dataCollectionType"] = {"Experiments", "Direct measurement"};
  if (content.first_ms > 0) {
    d["rai:dataCollectionTimeframe"] = {UtcText(content.first_ms, kIso8601), UtcText(content.last_ms, kIso8601)};
  }
  d["rai:dataLimitations"] = LimitsText(content);
  d["rai:dataPreprocessingProtocol"] = PreprocessingText();
  d["rai:dataUseCases"] = UsesText();
  d["rai:dataReleaseMaintenancePlan"] = MaintenanceText();
  d["rai:personalSensitiveInformation"] =
      "None about people. Device names are the agents' names as their operators chose them; "
      "the devices table also holds each agent's description of its hardware.";
  d["rai:dataSocialImpact"] =
      "Energy figures for choosing, scheduling and reporting neural network workloads by their "
      "energy; the energy's origin is " + EnergyOrigin(content) +
      " (measurements.energy_is_estimate says which, per row).";
  d["distribution"] = Distribution(files);
  Json sets = Json::array();
  for (const Table& t : tables) sets.push_back(RecordSet(t));
  d["recordSet"] = std::move(sets);
  return d;
}

}  // namespace wattfleet::package
