// `wattfleet project --series LOG.csv --iterations N`: reads one column of a training log and
// prints STEP's stable point, window and projected total (step_projection.h).
#include "cli_project.h"

#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>

#include <nlohmann/json.hpp>

#include "wattfleet/estimate/step_projection.h"
#include "wattfleet/common/text.h"
#include "wattfleet/common/text.h"

namespace wattfleet {
namespace {

// The cells of one CSV line: comma separated, double quotes around a cell that holds commas
// or quotes ("" inside). A log's cells never span lines.
Result<std::vector<std::string>> SplitLine(const std::string& line, const std::string& where) {
  std::vector<std::string> cells;
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cell += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cell += c;
      }
    } else if (c == '"' && Trim(cell).empty()) {
      cell.clear();
      quoted = true;
    } else if (c == ',') {
      cells.push_back(Trim(cell));
      cell.clear();
    } else {
      cell += c;
    }
  }
  if (quoted) return Status::InvalidArgument(where + ": unterminated quoted cell");
  cells.push_back(Trim(cell));
  return cells;
}

int BadInput(const std::string& message) {
  std::cerr << "wattfleet project: " << message << "\n";
  return 2;
}

}  // namespace

Result<LogSeries> ReadLogColumn(const std::string& path, const std::string& column) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(path + ": cannot be read (no such file?)");
  std::string line;
  int64_t line_no = 0;
  std::vector<std::string> header;
  // The header is the first line that is not blank.
  while (header.empty() && std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty()) continue;
    WF_ASSIGN_OR_RETURN(header, SplitLine(line, path + ":" + std::to_string(line_no)));
  }
  if (header.empty()) {
    return Status::InvalidArgument(path + ":1: empty; expected a header row and one row per "
                                   "iteration");
  }
  const int64_t header_line = line_no;
  LogSeries out;
  size_t col = header.size();
  auto find = [&](const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return i;
    }
    return header.size();
  };
  if (!column.empty()) {
    col = find(column);
    if (col == header.size()) {
      return Status::InvalidArgument(path + ":" + std::to_string(header_line) + ": no column '" +
                                     column + "'" + Suggestion(column, header) +
                                     "; columns: " + Join(header));
    }
  } else {
    for (const char* name : {"energy_j", "time_s"}) {
      if (col == header.size()) col = find(name);
    }
    if (col == header.size()) {
      return Status::InvalidArgument(path + ":" + std::to_string(header_line) +
                                     ": no energy_j or time_s column; name one with --column "
                                     "(columns: " + Join(header) + ")");
    }
  }
  out.column = header[col];
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (Trim(line).empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no);
    WF_ASSIGN_OR_RETURN(std::vector<std::string> cells, SplitLine(line, where));
    if (cells.size() <= col) {
      return Status::InvalidArgument(where + ": " + std::to_string(cells.size()) +
                                     " cells, no column " + std::to_string(col + 1) + " ('" +
                                     out.column + "')");
    }
    const std::optional<double> v = ParseDouble(cells[col]);
    if (!v) {
      return Status::InvalidArgument(where + ":" + std::to_string(col + 1) + ": column '" +
                                     out.column + "': '" + cells[col] +
                                     "' is not a finite number");
    }
    out.values.push_back(*v);
    out.line_of.push_back(line_no);
  }
  if (static_cast<int64_t>(out.values.size()) < kStepMinIterations) {
    return Status::InvalidArgument(
        path + ":" + std::to_string(line_no) + ": " + std::to_string(out.values.size()) +
        " iterations after the header; STEP needs at least " +
        std::to_string(kStepMinIterations));
  }
  return out;
}

int CmdProject(const ProjectOptions& o) {
  if (o.window < 0) return BadInput("--window " + std::to_string(o.window) + ": must be > 0");
  auto log = ReadLogColumn(o.series, o.column);
  if (!log.ok()) return BadInput(log.status().message());
  const int64_t n = static_cast<int64_t>(log->values.size());
  if (o.iterations < n) {
    return BadInput("--iterations " + std::to_string(o.iterations) + ": fewer than the " +
                    std::to_string(n) + " iterations " + o.series + " already holds (" +
                    o.series + ":" + std::to_string(log->line_of.back()) + " is the last)");
  }
  StepOptions options;
  options.window = o.window;
  auto r = ProjectStep(log->values, o.iterations, options);
  if (!r.ok()) return BadInput(o.series + ": " + r.status().message());

  if (o.json) {
    nlohmann::json doc = {{"series", o.series},
                          {"column", log->column},
                          {"change_point", r->change_point},
                          {"change_points", r->change_points},
                          {"window", r->window},
                          {"iterations", r->iterations},
                          {"series_length", r->series_length},
                          {"energy_before", r->energy_before},
                          {"window_mean", r->window_mean},
                          {"window_std", r->window_std},
                          {"noise_sigma", r->noise_sigma},
                          {"projected_total", r->projected_total},
                          {"projected_total_std", r->projected_total_std}};
    std::cout << doc.dump(2) << "\n";
    return 0;
  }
  std::string changes;
  for (int64_t c : r->change_points) changes += (changes.empty() ? "" : ", ") + std::to_string(c);
  std::printf("series           %s, column %s: %lld iterations (noise sigma %.4g)\n",
              o.series.c_str(), log->column.c_str(), static_cast<long long>(n), r->noise_sigma);
  std::printf("change points    %s\n", changes.empty() ? "none" : changes.c_str());
  std::printf("stable from      iteration %lld (0-based; %s:%lld)\n",
              static_cast<long long>(r->change_point), o.series.c_str(),
              static_cast<long long>(log->line_of[static_cast<size_t>(r->change_point)]));
  std::printf("before stable    %.6g\n", r->energy_before);
  std::printf("window           %lld iterations, %.6g +- %.3g per iteration\n",
              static_cast<long long>(r->window), r->window_mean, r->window_std);
  std::printf("projected total  %.6g +- %.3g over %lld iterations\n", r->projected_total,
              r->projected_total_std, static_cast<long long>(r->iterations));
  return 0;
}

}  // namespace wattfleet
