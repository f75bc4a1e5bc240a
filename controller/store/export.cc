#include "wattfleet/store/export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <string_view>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "wattfleet/common/unique_fd.h"

namespace wattfleet {

namespace {

// An optional text figure: empty means not recorded.
ExportCell TextOrMissing(const std::string& s) {
  if (s.empty()) return std::monostate{};
  return s;
}

// `value`, or missing where `known` is false.
template <typename T>
ExportCell Unless(bool known, T value) {
  if (!known) return std::monostate{};
  return value;
}

// One row's values, in ExportColumns() order. The single place that maps columns to fields,
// so that CSV and JSON Lines can never disagree.
std::vector<ExportCell> Cells(const ExportRow& r) {
  const Measurement& m = r.m;
  // A window of a program's own code is one span of whatever the program did: no mode of
  // ours, no spread over repeats, no confidence target to meet or miss.
  const bool protocol = r.kind != JobKind::kWindow;
  // Idle power is measured or not at all (a measured idle is always positive: IdleBaseline
  // refuses zero); without it there is no dynamic energy to show, rather than the raw one.
  // Nor is there where it comes out at or below zero: no work draws less than an idle device,
  // so the idle figure could not be measured cleanly (the flags say why: below-idle,
  // idle-stale).
  const bool idle_measured = m.idle_w > 0;
  const bool dynamic_known = idle_measured && m.energy_dynamic_per_iter_j > 0;
  return {
      r.campaign,
      r.campaign_id,
      r.job_id,
      int64_t{r.attempt},
      r.device,
      r.device_class,
      m.sensor,
      m.domain,
      m.energy_is_estimate,
      std::string(JobKindName(r.kind)),
      r.layer_key,
      r.layer_type,
      r.architecture,
      Unless(protocol, r.mode),
      r.dtype,
      r.batch,
      r.macs,
      r.flops,
      r.params,
      m.energy_per_iter_j,
      Unless(protocol, m.energy_std_j),
      Unless(dynamic_known, m.energy_dynamic_per_iter_j),
      m.time_per_iter_s,
      Unless(protocol, m.time_std_s),
      static_cast<int64_t>(m.repeats.size()),
      Unless(protocol, m.rel_ci),
      Unless(protocol, m.time_rel_ci),
      Unless(protocol, m.ci_met),
      Unless(idle_measured, m.idle_w),
      m.iterations_per_window,
      m.agent_version,
      m.torch_version,
      r.measured_at_ms,
      m.device,
      m.threads,
      m.temperature_before_c,
      m.temperature_after_c,
      m.clock_before_mhz,
      m.clock_after_mhz,
      TextOrMissing(m.telemetry_source),
      m.interference,
      m.windows_discarded,
      QualityFlagsText(m),
      m.energy_bound_j,
      m.sensor_update_period_s,
      TextOrMissing(m.energy_model),
  };
}

// The shortest %g form that reads back as the same double (15 digits usually suffice; 17
// always do), so "0.1" stays "0.1" while nothing is lost.
std::string FormatDouble(double v) {
  char buf[32];
  for (int precision : {15, 16, 17}) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

// A spreadsheet opening the file runs a cell that starts like a formula ("=HYPERLINK(...)"
// in an agent's error text). OWASP's CSV-injection guidance: prefix such a cell with a
// single quote, which the spreadsheet shows as text, and quote the field.
bool ReadsAsFormula(std::string_view s) {
  return !s.empty() && std::string_view("=+-@\t\r").find(s.front()) != std::string_view::npos;
}

// RFC 4180: a field with a comma, a quote or a line break is quoted, quotes doubled.
void WriteCsvField(std::string_view s, CsvText text, std::ostream& out) {
  const bool neutralise = text == CsvText::kForSpreadsheets && ReadsAsFormula(s);
  if (!neutralise && s.find_first_of(",\"\r\n") == std::string_view::npos) {
    out << s;
    return;
  }
  out << '"';
  if (neutralise) out << '\'';
  for (const char c : s) {
    if (c == '"') out << '"';
    out << c;
  }
  out << '"';
}

void WriteCsvCell(const ExportCell& cell, CsvText text, std::ostream& out) {
  if (std::holds_alternative<std::monostate>(cell)) return;
  if (const auto* i = std::get_if<int64_t>(&cell)) {
    out << *i;
  } else if (const auto* d = std::get_if<double>(&cell)) {
    // Not-a-number and infinities are missing values (empty), as in the JSON form (null).
    if (std::isfinite(*d)) out << FormatDouble(*d);
  } else if (const auto* b = std::get_if<bool>(&cell)) {
    out << (*b ? "true" : "false");
  } else {
    WriteCsvField(std::get<std::string>(cell), text, out);
  }
}

nlohmann::ordered_json ToJson(const ExportCell& cell) {
  if (std::holds_alternative<std::monostate>(cell)) return nullptr;
  if (const auto* i = std::get_if<int64_t>(&cell)) return *i;
  if (const auto* d = std::get_if<double>(&cell)) {
    if (!std::isfinite(*d)) return nullptr;
    return *d;
  }
  if (const auto* b = std::get_if<bool>(&cell)) return *b;
  return std::get<std::string>(cell);
}

Status WriteAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError("cannot write " + path + ": " + std::strerror(errno));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

// Writes and syncs `data` into `tmp`, then renames it over `path`.
Status WriteAndRename(const std::string& data, const std::string& tmp, const std::string& path) {
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (fd.get() < 0)
    return Status::IOError("cannot create " + tmp + " (for " + path + "): " +
                           std::strerror(errno));
  WF_RETURN_IF_ERROR(WriteAll(fd.get(), data, tmp));
  // The data must be on disk before the rename makes it visible under the final name;
  // otherwise a crash could leave a complete-looking but empty file.
  if (::fsync(fd.get()) != 0)
    return Status::IOError("cannot sync " + tmp + ": " + std::strerror(errno));
  if (fd.Close() != 0) return Status::IOError("cannot close " + tmp + ": " + std::strerror(errno));
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return Status::IOError("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
  return Status::OK();
}

}  // namespace

std::vector<ExportCell> ExportCells(const ExportRow& row) { return Cells(row); }

const std::vector<ColumnInfo>& ExportColumnInfo() {
  static const std::vector<ColumnInfo> kColumns = {
      {"campaign", "string", "", "the campaign's name"},
      {"campaign_id", "integer", "", "the campaign's id in the dataset"},
      {"job_id", "integer", "", "the job whose result this is (one measurement per job)"},
      {"attempt", "integer", "", "the attempt of the job whose result was stored"},
      {"device", "string", "", "the measuring agent's name"},
      {"device_class", "string", "", "the agent's device class"},
      {"sensor", "string", "", "meter backend (rapl, nvml, hwmon, modeled, simulated, ...)"},
      {"domain", "string", "", "what the meter covers (package, board, cpu-estimate, ...)"},
      {"energy_is_estimate", "boolean", "",
       "true where the energy is modeled or simulated, not metered"},
      {"kind", "string", "", "layer, model, probe or window"},
      {"layer_key", "string", "", "layer jobs: the canonical layer key (layers.key)"},
      {"layer_type", "string", "", "layer jobs: the layer type"},
      {"architecture", "string", "",
       "model jobs: the architecture; layer jobs: the campaign's architectures holding it"},
      {"mode", "string", "", "inference or training; empty for windows"},
      {"dtype", "string", "", "the tensors' element type"},
      {"batch", "integer", "", "samples per iteration"},
      {"macs", "integer", "", "multiply-accumulates per iteration"},
      {"flops", "integer", "", "floating-point operations per iteration"},
      {"params", "integer", "", "trainable parameters"},
      {"energy_j", "number", "J", "energy per iteration, idle included: mean over windows"},
      {"energy_std_j", "number", "J", "standard deviation of energy_j over windows"},
      {"energy_dynamic_j", "number", "J",
       "energy per iteration with idle power subtracted; empty where idle was not measured"},
      {"time_s", "number", "s", "time per iteration: mean over windows"},
      {"time_std_s", "number", "s", "standard deviation of time_s over windows"},
      {"repeats", "integer", "", "timed windows (repeats.csv holds each)"},
      {"rel_ci", "number", "", "95 % confidence half-width of energy over its mean"},
      {"time_rel_ci", "number", "", "95 % confidence half-width of time over its mean"},
      {"ci_met", "boolean", "", "whether rel_ci reached the campaign's target"},
      {"idle_w", "number", "W", "idle power subtracted for energy_dynamic_j"},
      {"iterations_per_window", "integer", "", "iterations in each timed window"},
      {"agent_version", "string", "", "the agent's wattfleet version"},
      {"torch_version", "string", "", "the agent's libtorch version"},
      {"measured_at_ms", "integer", "ms", "when the result was stored (Unix time)"},
      {"torch_device", "string", "", "libtorch device"},
      {"threads", "integer", "", "libtorch intra-op threads"},
      {"temperature_before_c", "number", "Cel", "device temperature before the protocol"},
      {"temperature_after_c", "number", "Cel", "device temperature after the last window"},
      {"clock_before_mhz", "number", "MHz", "device clock before the protocol"},
      {"clock_after_mhz", "number", "MHz", "device clock after the last window"},
      {"telemetry_source", "string", "", "where temperature and clock were read"},
      {"interference", "number", "",
       "other work during the kept windows: CPU cores, or the GPU's share"},
      {"windows_discarded", "integer", "", "windows measured again for interference"},
      {"quality_flags", "string", "",
       "';'-separated: ci, interference, below-idle, idle-stale, short-window"},
      {"energy_bound_j", "number", "J", "what the sensor cannot resolve, per iteration"},
      {"sensor_update_period_s", "number", "s", "the sensor's update period"},
      {"energy_model", "string", "", "for estimated energy: what the estimate assumes"},
  };
  return kColumns;
}

const std::vector<std::string>& ExportColumns() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const ColumnInfo& c : ExportColumnInfo()) names.push_back(c.name);
    return names;
  }();
  return kNames;
}

void WriteCsvHeader(const std::vector<std::string>& names, std::ostream& out) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out << ',';
    WriteCsvField(names[i], CsvText::kExact, out);
  }
  // RFC 4180 ends records with CRLF, but every CSV reader accepts LF and LF keeps the file
  // friendly to line-based tools.
  out << '\n';
}

void WriteCsvRow(const std::vector<ExportCell>& cells, CsvText text, std::ostream& out) {
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) out << ',';
    WriteCsvCell(cells[i], text, out);
  }
  out << '\n';
}

void WriteJsonLine(const std::vector<std::string>& names, const std::vector<ExportCell>& cells,
                   std::ostream& out) {
  nlohmann::ordered_json obj = nlohmann::ordered_json::object();
  for (size_t i = 0; i < cells.size() && i < names.size(); ++i) obj[names[i]] = ToJson(cells[i]);
  // Replacing invalid UTF-8 (a stray byte in a version string) keeps dump() from throwing.
  out << obj.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << '\n';
}

void WriteCsv(const std::vector<ExportRow>& rows, std::ostream& out, CsvText text) {
  WriteCsvHeader(ExportColumns(), out);
  for (const ExportRow& row : rows) WriteCsvRow(Cells(row), text, out);
}

void WriteJsonLines(const std::vector<ExportRow>& rows, std::ostream& out) {
  const auto& columns = ExportColumns();
  for (const ExportRow& row : rows) WriteJsonLine(columns, Cells(row), out);
}

Status WriteExportFile(const std::vector<ExportRow>& rows, const std::string& format,
                       const std::string& path) {
  std::ostringstream body;
  if (format == "csv") {
    WriteCsv(rows, body);
  } else if (format == "jsonl") {
    WriteJsonLines(rows, body);
  } else {
    return Status::InvalidArgument("unknown export format '" + format +
                                   "' (expected csv or jsonl)");
  }
  // A missing folder is a typo in --out, not something to create.
  const size_t slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0) {
    struct stat st {};
    const std::string dir = path.substr(0, slash);
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::InvalidArgument("--out " + path + ": the directory " + dir +
                                     " does not exist");
    }
  }
  const std::string tmp = path + ".tmp";
  const Status written = WriteAndRename(body.str(), tmp, path);
  if (!written.ok()) ::unlink(tmp.c_str());
  return written;
}

}  // namespace wattfleet
