// `wattfleet publish` (publish.h): reads the package's content, writes its files into a
// private sibling folder, and renames that folder into place once everything is written and
// synced, so that a reader never finds half a package and a failure leaves nothing.
#include "wattfleet/package/publish.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <regex>
#include <sstream>

#include "package_metadata.h"
#include "wattfleet/common/sha256.h"
#include "wattfleet/common/text.h"
#include "wattfleet/common/unique_fd.h"
#include "wattfleet/store/dataset_reader.h"

namespace wattfleet {
namespace {

namespace fs = std::filesystem;
using package::FileEntry;

std::string Today() {
  return UtcText(static_cast<int64_t>(std::time(nullptr)) * 1000, "%Y-%m-%d");
}

Status CheckOptions(const PublishOptions& o) {
  if (o.title.empty()) return Status::InvalidArgument("--title: a package needs a title");
  if (!LooksLikeSpdx(o.license)) {
    return Status::InvalidArgument("--license " + o.license +
                                   ": not an SPDX licence identifier (e.g. CC-BY-4.0, MIT, "
                                   "CC0-1.0; https://spdx.org/licenses/)");
  }
  if (!o.date.empty() && !std::regex_match(o.date, std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}"))) {
    return Status::InvalidArgument("--date " + o.date + ": expected YYYY-MM-DD");
  }
  for (const std::string& c : o.creators) {
    if (c.empty()) return Status::InvalidArgument("--creator: a creator needs a name");
  }
  return Status::OK();
}

// The package's folder may not hold anything yet: publishing never replaces or mixes with
// what is there.
Status CheckOut(const std::string& out) {
  if (out.empty()) return Status::InvalidArgument("--out: a folder is needed");
  std::error_code ec;
  const fs::path path(out);
  if (fs::exists(fs::symlink_status(path, ec))) {
    if (!fs::is_directory(fs::symlink_status(path, ec)) || !fs::is_empty(path, ec)) {
      return Status::InvalidArgument("--out " + out +
                                     ": exists and is not an empty folder (nothing was written)");
    }
  }
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (!fs::is_directory(parent, ec)) {
    return Status::InvalidArgument("--out " + out + ": the folder " + parent.string() +
                                   " does not exist");
  }
  return Status::OK();
}

// One file of the package being written: its bytes go to disk in parts and into its hash.
class FileSink {
 public:
  FileSink(std::string path, UniqueFd fd) : path_(std::move(path)), fd_(std::move(fd)) {}

  Status Append(std::string_view data) {
    hash_.Update(data);
    bytes_ += static_cast<int64_t>(data.size());
    while (!data.empty()) {
      const ssize_t n = ::write(fd_.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::IOError("cannot write " + path_ + ": " + std::strerror(errno));
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::OK();
  }
  // Synced before the package is renamed into place: a crash never leaves a complete-looking
  // package with an empty file.
  Result<std::pair<std::string, int64_t>> Finish() {
    if (::fsync(fd_.get()) != 0 || fd_.Close() != 0) {
      return Status::IOError("cannot write " + path_ + ": " + std::strerror(errno));
    }
    return std::make_pair(hash_.HexDigest(), bytes_);
  }

 private:
  std::string path_;
  UniqueFd fd_;
  Sha256Stream hash_;
  int64_t bytes_ = 0;
};

// The package's files, each created new under `root`.
class PackageWriter {
 public:
  explicit PackageWriter(std::string root) : root_(std::move(root)) {}

  // Writes the file through `fill`, which appends its bytes in parts.
  Result<FileEntry> Stream(const std::string& relative, const std::string& media_type,
                           const std::string& table,
                           const std::function<Status(FileSink&)>& fill) {
    const fs::path path = fs::path(root_) / relative;
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) {
      return Status::IOError("cannot create " + path.parent_path().string() + ": " +
                             ec.message());
    }
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) {
      return Status::IOError("cannot create " + path.string() + ": " + std::strerror(errno));
    }
    FileSink sink(path.string(), std::move(fd));
    WF_RETURN_IF_ERROR(fill(sink));
    WF_ASSIGN_OR_RETURN(const auto done, sink.Finish());
    FileEntry f{relative, done.first, done.second, media_type, table};
    written_.push_back(f);
    return f;
  }
  Result<FileEntry> Write(const std::string& relative, const std::string& data,
                          const std::string& media_type) {
    return Stream(relative, media_type, "", [&](FileSink& s) { return s.Append(data); });
  }
  const std::vector<FileEntry>& written() const { return written_; }

 private:
  std::string root_;
  std::vector<FileEntry> written_;
};

// Appends rows to a file a megabyte at a time.
class RowBuffer {
 public:
  explicit RowBuffer(FileSink& sink) : sink_(sink) {}
  std::ostream& out() { return buffer_; }
  void RowDone() {
    if (buffer_.tellp() >= (1 << 20)) Flush();
  }
  Status Finish() {
    Flush();
    return status_;
  }

 private:
  void Flush() {
    if (status_.ok()) status_ = sink_.Append(buffer_.str());
    buffer_.str("");
  }
  FileSink& sink_;
  std::ostringstream buffer_;
  Status status_;
};

// The table's CSV (exact text: the package is data for programs) and its JSON Lines twin, or
// the one of them the table is presented by.
Status WriteTable(const package::Table& t, PackageWriter& w, std::vector<FileEntry>* files) {
  std::vector<std::string> names;
  for (const ColumnInfo& c : t.columns) names.push_back(c.name);
  if (t.csv) {
    WF_ASSIGN_OR_RETURN(
        FileEntry csv,
        w.Stream("data/" + t.name + ".csv", "text/csv", t.name, [&](FileSink& s) {
          RowBuffer rows(s);
          WriteCsvHeader(names, rows.out());
          t.each([&](const std::vector<ExportCell>& cells) {
            WriteCsvRow(cells, CsvText::kExact, rows.out());
            rows.RowDone();
          });
          return rows.Finish();
        }));
    files->push_back(std::move(csv));
  }
  if (!t.json_lines) return Status::OK();
  WF_ASSIGN_OR_RETURN(
      FileEntry jsonl,
      w.Stream("data/" + t.name + ".jsonl", "application/jsonlines", t.name, [&](FileSink& s) {
        RowBuffer rows(s);
        t.each([&](const std::vector<ExportCell>& cells) {
          WriteJsonLine(names, cells, rows.out());
          rows.RowDone();
        });
        return rows.Finish();
      }));
  files->push_back(std::move(jsonl));
  return Status::OK();
}

std::string Pretty(const package::Json& j) {
  return j.dump(2, ' ', false, package::Json::error_handler_t::replace) + "\n";
}

Status WritePackage(const PublishOptions& o, const package::Content& content,
                    const std::string& root, PublishSummary* summary) {
  package::Metadata meta{o.title, o.description, o.license, o.url, o.creators,
                         o.date.empty() ? Today() : o.date};
  PackageWriter w(root);
  const std::vector<package::Table> tables = package::TablesOf(content);
  std::vector<FileEntry> described;  // what croissant.json and datapackage.json list
  for (const package::Table& t : tables) {
    WF_RETURN_IF_ERROR(WriteTable(t, w, &described));
    summary->rows[t.name] = t.rows;
  }
  std::vector<FileEntry> campaign_files;
  for (const CampaignRecord& r : content.campaigns) {
    WF_ASSIGN_OR_RETURN(FileEntry f,
                        w.Write(package::CampaignFile(r), r.yaml, "application/yaml"));
    campaign_files.push_back(f);
    described.push_back(std::move(f));
  }
  WF_ASSIGN_OR_RETURN(
      FileEntry prov,
      w.Write("provenance.json", Pretty(package::Provenance(meta, content, campaign_files)),
              "application/json"));
  described.push_back(std::move(prov));
  WF_RETURN_IF_ERROR(
      w.Write("croissant.json", Pretty(package::Croissant(meta, content, tables, described)),
              "application/ld+json").status());
  WF_RETURN_IF_ERROR(
      w.Write("datapackage.json", Pretty(package::DataPackage(meta, content, tables, described)),
              "application/json").status());
  WF_RETURN_IF_ERROR(
      w.Write("README.md", package::Datasheet(meta, content, tables), "text/markdown").status());
  // SHA256SUMS, as sha256sum writes it: every other file, sorted by path.
  std::vector<FileEntry> all = w.written();
  std::sort(all.begin(), all.end(),
            [](const FileEntry& a, const FileEntry& b) { return a.path < b.path; });
  std::string sums;
  for (const FileEntry& f : all) {
    sums += f.sha256 + "  " + f.path + "\n";
    summary->files.push_back(f.path);
  }
  WF_RETURN_IF_ERROR(w.Write("SHA256SUMS", sums, "text/plain").status());
  summary->files.push_back("SHA256SUMS");
  std::sort(summary->files.begin(), summary->files.end());
  return Status::OK();
}

}  // namespace

bool LooksLikeSpdx(const std::string& id) {
  static const std::regex kTerm("(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.+-]*)");
  static const std::regex kExpression(
      "\\(?(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.+-]*)\\)?"
      "( (AND|OR|WITH) \\(?(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.+-]*)\\)?)*");
  if (id.empty() || id.size() > 200) return false;
  return std::regex_match(id, kTerm) || std::regex_match(id, kExpression);
}

Result<PublishSummary> Publish(const PublishOptions& o) {
  WF_RETURN_IF_ERROR(CheckOptions(o));
  WF_RETURN_IF_ERROR(CheckOut(o.out));
  WF_ASSIGN_OR_RETURN(std::unique_ptr<DatasetReader> reader, OpenDatasetReader(o.db));
  WF_ASSIGN_OR_RETURN(const package::Content content,
                      package::ReadContent(*reader, o.campaign_ids));
  reader.reset();

  // A private folder beside the package's: the rename below is then within one filesystem.
  const fs::path out = fs::absolute(fs::path(o.out)).lexically_normal();
  std::string tmpl = (out.parent_path() / ("." + out.filename().string() + ".XXXXXX")).string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::IOError("cannot create a folder beside " + o.out + ": " + std::strerror(errno));
  }
  const std::string staging = tmpl;
  ::chmod(staging.c_str(), 0755);
  PublishSummary summary;
  summary.out = o.out;
  Status written = WritePackage(o, content, staging, &summary);
  if (written.ok() && ::rename(staging.c_str(), out.c_str()) != 0) {
    written =
        Status::IOError("cannot move the package into " + o.out + ": " + std::strerror(errno));
  }
  if (!written.ok()) {
    std::error_code ec;
    fs::remove_all(staging, ec);  // the folder mkdtemp made for this call, nothing else
    return written;
  }
  return summary;
}

}  // namespace wattfleet
