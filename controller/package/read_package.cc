// A published package read back (read_package.h). The JSON Lines twins are read (typed, one
// row per line); each file is hashed while it is read, and compared with SHA256SUMS before
// its rows are used.
#include "wattfleet/package/read_package.h"

#include <sys/stat.h>

#include <fstream>
#include <functional>
#include <string_view>
#include <type_traits>
#include <map>
#include <regex>

#include <nlohmann/json.hpp>

#include "wattfleet/common/bounded_file.h"
#include "wattfleet/common/protocol.h"
#include "wattfleet/common/sha256.h"
#include "wattfleet/common/text.h"

namespace wattfleet {
namespace {

using Json = nlohmann::json;

// What a package may hold: a SHA256SUMS of a few thousand lines, rows of a few megabytes (a
// whole model's job in hex), files of up to 4 GiB.
constexpr size_t kMaxSumsBytes = 4u << 20;
constexpr size_t kMaxLineBytes = 64u << 20;
constexpr int64_t kMaxFileBytes = int64_t{4} << 30;

Status Bad(const std::string& where, const std::string& what) {
  return Status::InvalidArgument(where + ": " + what);
}

// SHA256SUMS: "HEX  PATH" per line, each path inside the package.
Result<std::map<std::string, std::string>> ReadSums(const std::string& dir,
                                                    std::string* identity) {
  const std::string path = dir + "/SHA256SUMS";
  auto text = ReadBoundedFile(path, "SHA256SUMS", FileBounds{kMaxSumsBytes, false});
  if (!text.ok()) return Status::InvalidArgument(text.status().message());
  *identity = Sha256Hex(*text);
  static const std::regex kLine("([0-9a-f]{64})  ([A-Za-z0-9._/-]{1,255})");
  std::map<std::string, std::string> sums;
  size_t at = 0;
  for (int line = 1; at < text->size(); ++line) {
    const size_t end = text->find('\n', at);
    const std::string row = text->substr(at, end == std::string::npos ? end : end - at);
    at = end == std::string::npos ? text->size() : end + 1;
    std::smatch m;
    if (!std::regex_match(row, m, kLine)) {
      return Bad(path + ":" + std::to_string(line), "not 'SHA256  PATH'");
    }
    const std::string file = m[2].str();
    if (file.front() == '/' || file.find("..") != std::string::npos) {
      return Bad(path + ":" + std::to_string(line), file + " leaves the package");
    }
    sums[file] = m[1].str();
  }
  return sums;
}

// One file of the package, read line by line while it is hashed.
class CheckedFile {
 public:
  CheckedFile(std::string dir, const std::map<std::string, std::string>& sums)
      : dir_(std::move(dir)), sums_(sums) {}

  // Calls `row` with each line; then compares the hash. Nothing read is used by the caller
  // before this returns OK.
  Status Lines(const std::string& name,
               const std::function<Status(const std::string&, int)>& row) {
    WF_ASSIGN_OR_RETURN(std::ifstream in, Open(name));
    Sha256Stream hash;
    std::string chunk(1 << 20, '\0'), line;
    int number = 0;
    Status first_error;
    const auto take = [&] {
      ++number;
      if (first_error.ok() && !line.empty()) first_error = row(line, number);
      line.clear();
    };
    while (in) {
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      const std::string_view got(chunk.data(), static_cast<size_t>(in.gcount()));
      hash.Update(got);
      for (const char c : got) {
        if (c == '\n') {
          take();
        } else if (line.size() < kMaxLineBytes) {
          line += c;
        } else if (first_error.ok()) {
          first_error = Bad(Where(name, number + 1), "a line longer than a row may be");
        }
      }
    }
    if (in.bad()) return Status::IOError("cannot read " + dir_ + "/" + name);
    if (!line.empty()) take();
    WF_RETURN_IF_ERROR(Compare(name, hash.HexDigest()));
    return first_error;
  }
  Result<std::string> Whole(const std::string& name) {
    WF_ASSIGN_OR_RETURN(std::ifstream in, Open(name));
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    WF_RETURN_IF_ERROR(Compare(name, Sha256Hex(bytes)));
    return bytes;
  }
  std::string Where(const std::string& name, int line) const {
    return dir_ + "/" + name + ":" + std::to_string(line);
  }

 private:
  Result<std::ifstream> Open(const std::string& name) {
    if (sums_.count(name) == 0) {
      return Bad(dir_ + "/SHA256SUMS", "does not list " + name + ", which a package holds");
    }
    const std::string path = dir_ + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return Bad(path, "missing, or not a plain file (a link is not followed)");
    }
    if (st.st_size > kMaxFileBytes) return Bad(path, "larger than a package's file may be");
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::IOError("cannot open " + path);
    return in;
  }
  Status Compare(const std::string& name, const std::string& digest) const {
    if (digest == sums_.at(name)) return Status::OK();
    return Bad(dir_ + "/" + name,
               "its SHA-256 is not the one SHA256SUMS gives: the package was changed after it "
               "was published (nothing was stored)");
  }

  std::string dir_;
  const std::map<std::string, std::string>& sums_;
};

// Typed fields of one row, each error naming the row and the field.
class Row {
 public:
  Row(const std::string& line, std::string where) : where_(std::move(where)) {
    j_ = Json::parse(line, nullptr, false);
  }
  Status Check() const {
    return j_.is_object() ? Status::OK() : Bad(where_, "not a JSON object");
  }
  Result<std::string> Text(const char* name, bool nullable = false) const {
    const auto it = j_.find(name);
    if (it != j_.end() && it->is_string()) return it->get<std::string>();
    if (nullable && (it == j_.end() || it->is_null())) return std::string();
    return Bad(where_, std::string(name) + " is not a text");
  }
  Result<int64_t> Int(const char* name, bool nullable = false) const {
    const auto it = j_.find(name);
    if (it != j_.end() && it->is_number_integer()) return it->get<int64_t>();
    if (nullable && (it == j_.end() || it->is_null())) return int64_t{0};
    return Bad(where_, std::string(name) + " is not an integer");
  }
  Result<std::vector<std::string>> List(const char* name) const {
    WF_ASSIGN_OR_RETURN(const std::string text, Text(name));
    const Json list = Json::parse(text, nullptr, false);
    std::vector<std::string> out;
    if (!list.is_array()) return Bad(where_, std::string(name) + " is not a JSON list");
    for (const Json& item : list) {
      if (!item.is_string()) return Bad(where_, std::string(name) + " holds a non-text");
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  Result<std::string> Bytes(const char* name) const {
    WF_ASSIGN_OR_RETURN(const std::string hex, Text(name));
    std::optional<std::string> bytes = BytesOfHex(hex);
    if (!bytes) return Bad(where_, std::string(name) + " is not hex");
    return std::move(*bytes);
  }
  // Reads each named field into the variable after it, by its type: `Into("name", c.name,
  // "batch", c.batch)`. The first that is missing or of another type is the error.
  template <typename Field, typename... Rest>
  Status Into(const char* name, Field& field, Rest&... rest) const {
    if constexpr (std::is_same_v<Field, std::string>) {
      WF_ASSIGN_OR_RETURN(field, Text(name));
    } else {
      static_assert(std::is_same_v<Field, int64_t>, "a field is a text or an integer");
      WF_ASSIGN_OR_RETURN(field, Int(name));
    }
    if constexpr (sizeof...(rest) > 0) return Into(rest...);
    return Status::OK();
  }
  const std::string& where() const { return where_; }

 private:
  Json j_;
  std::string where_;
};

using RowFn = std::function<Status(const Row&)>;

Status EachRow(CheckedFile& f, const std::string& name, const RowFn& fn) {
  return f.Lines(name, [&](const std::string& line, int number) -> Status {
    const Row row(line, f.Where(name, number));
    WF_RETURN_IF_ERROR(row.Check());
    return fn(row);
  });
}

Status ReadCampaigns(CheckedFile& f, DatasetPackage* p) {
  std::vector<std::string> files;
  WF_RETURN_IF_ERROR(EachRow(f, "data/campaigns.jsonl", [&](const Row& r) -> Status {
    CampaignRecord c;
    std::string file;
    WF_RETURN_IF_ERROR(r.Into("campaign_id", c.id, "name", c.name, "state", c.state,
                              "created_ms", c.created_ms, "mode", c.mode, "dtype", c.dtype,
                              "batch", c.batch, "yaml_file", file));
    WF_ASSIGN_OR_RETURN(c.finished_ms, r.Int("finished_ms", true));  // missing while it runs
    p->campaigns.push_back(std::move(c));
    files.push_back(file);
    return Status::OK();
  }));
  for (size_t i = 0; i < files.size(); ++i) {
    WF_ASSIGN_OR_RETURN(p->campaigns[i].yaml, f.Whole(files[i]));
  }
  return Status::OK();
}

Status ReadLayersAndArchitectures(CheckedFile& f, DatasetPackage* p) {
  WF_RETURN_IF_ERROR(EachRow(f, "data/layers.jsonl", [&](const Row& r) -> Status {
    LayerRecord l;
    WF_RETURN_IF_ERROR(r.Into("key", l.key, "type", l.type, "macs", l.macs, "flops", l.flops,
                              "params", l.params, "input_elements", l.input_elements,
                              "output_elements", l.output_elements, "params_json",
                              l.params_json, "input_shape", l.input_shape, "output_shape",
                              l.output_shape));
    p->layers.push_back(std::move(l));
    return Status::OK();
  }));
  return EachRow(f, "data/architectures.jsonl", [&](const Row& r) -> Status {
    PackageArchitecture a;
    ArchitectureRecord& row = a.row;
    WF_RETURN_IF_ERROR(r.Into("campaign_id", row.campaign_id, "campaign", row.campaign, "name",
                              row.name, "family", row.family, "input_shape", row.input_shape,
                              "output_shape", row.output_shape, "macs", row.macs, "flops",
                              row.flops, "params", row.params, "layers", row.layers));
    WF_ASSIGN_OR_RETURN(a.layer_keys, r.List("layer_keys"));
    WF_ASSIGN_OR_RETURN(a.node_names, r.List("node_names"));
    if (a.layer_keys.size() != a.node_names.size() ||
        static_cast<int64_t>(a.layer_keys.size()) != a.row.layers) {
      return Bad(r.where(), "layers, layer_keys and node_names disagree");
    }
    p->architectures.push_back(std::move(a));
    return Status::OK();
  });
}

Status ReadDevicesAndJobs(CheckedFile& f, DatasetPackage* p) {
  WF_RETURN_IF_ERROR(EachRow(f, "data/devices.jsonl", [&](const Row& r) -> Status {
    PackageDevice d;
    WF_RETURN_IF_ERROR(r.Into("name", d.name, "device_class", d.device_class));
    WF_ASSIGN_OR_RETURN(d.capabilities_json, r.Text("capabilities_json", true));
    p->devices.push_back(std::move(d));
    return Status::OK();
  }));
  return EachRow(f, "data/jobs.jsonl", [&](const Row& r) -> Status {
    PackageMeasurement m;
    int64_t job_id = 0, attempt = 0;
    WF_RETURN_IF_ERROR(r.Into("job_id", job_id, "campaign_id", m.campaign_id, "attempt", attempt,
                              "agent", m.agent, "measured_at_ms", m.measured_at_ms));
    if (attempt < 1 || attempt > 1000) return Bad(r.where(), "attempt is not a job's attempt");
    m.attempt = static_cast<int32_t>(attempt);
    WF_ASSIGN_OR_RETURN(const std::string spec, r.Bytes("spec_msgpack_hex"));
    WF_ASSIGN_OR_RETURN(const std::string figures, r.Bytes("measurement_msgpack_hex"));
    auto job = DecodeJob(spec);
    if (!job.ok()) return Bad(r.where(), "spec_msgpack_hex: " + job.status().message());
    auto measured = DecodeMeasurement(figures);
    if (!measured.ok()) {
      return Bad(r.where(), "measurement_msgpack_hex: " + measured.status().message());
    }
    m.job = std::move(job).value();
    m.job.job_id = job_id;
    m.job.campaign_id = m.campaign_id;
    m.m = std::move(measured).value();
    p->measurements.push_back(std::move(m));
    return Status::OK();
  });
}

}  // namespace

Result<DatasetPackage> ReadPackage(const std::string& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidArgument("--package " + dir + ": not a folder");
  }
  DatasetPackage p;
  p.path = dir;
  WF_ASSIGN_OR_RETURN(const auto sums, ReadSums(dir, &p.identity));
  CheckedFile f(dir, sums);
  WF_ASSIGN_OR_RETURN(const std::string descriptor, f.Whole("datapackage.json"));
  const Json meta = Json::parse(descriptor, nullptr, false);
  static const std::regex kName("[a-z0-9][a-z0-9._-]{0,99}");
  if (!meta.is_object() || !meta.contains("name") || !meta["name"].is_string() ||
      !std::regex_match(meta["name"].get<std::string>(), kName)) {
    return Bad(dir + "/datapackage.json", "no package name of lower-case letters, digits, '.', "
                                          "'_' and '-'");
  }
  p.source = meta["name"].get<std::string>();
  WF_ASSIGN_OR_RETURN(p.provenance, f.Whole("provenance.json"));
  if (!Json::parse(p.provenance, nullptr, false).is_object()) {
    return Bad(dir + "/provenance.json", "not a JSON object");
  }
  WF_RETURN_IF_ERROR(ReadCampaigns(f, &p));
  WF_RETURN_IF_ERROR(ReadLayersAndArchitectures(f, &p));
  WF_RETURN_IF_ERROR(ReadDevicesAndJobs(f, &p));
  return p;
}

}  // namespace wattfleet
