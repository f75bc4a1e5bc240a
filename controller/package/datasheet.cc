// README.md of a package (package_metadata.h): a datasheet in the usual sections (motivation,
// composition, collection process, preprocessing, uses, distribution, maintenance), written from
// what the package holds, and the prose Croissant's responsible-AI fields share with it.
#include "package_metadata.h"

#include <cstdio>
#include <sstream>

namespace wattfleet::package {
namespace {

// What each meter backend can and cannot resolve, for a reader without wattfleet at hand.
struct SensorNote {
  const char* name;
  const char* note;
};
constexpr SensorNote kSensorNotes[] = {
    {"rapl",
     "RAPL energy counters of the CPU package (and DRAM where exposed): the whole socket, "
     "so other work on the machine is counted too (the interference column measures it); "
     "updated about every millisecond; the counter wraps, which the agent unwraps."},
    {"nvml",
     "NVIDIA's NVML: the board's energy counter where the GPU has one, else its power "
     "samples integrated over time; the whole board, idle included; updated every 20 to "
     "100 ms depending on the GPU."},
    {"hwmon",
     "an INA power monitor's rail (Jetson boards), sampled: the rail, not the chip alone; "
     "each sample averages the monitor's conversion window."},
    {"android",
     "the battery's current times voltage, sampled while discharging: the whole phone, "
     "screen and radios included; updated as slowly as the fuel gauge (often 1 s or more)."},
    {"modeled",
     "no power sensor: TDP times CPU utilisation times time. An estimate, not a measurement "
     "(energy_is_estimate is true and energy_model says what it assumes); its time figures "
     "are measured."},
    {"simulated", "synthetic figures for testing the software: not measurements of anything."},
};

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g s", s);
  return buf;
}

std::string Joined(const std::set<std::string>& items) {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : ", ") + s;
  return out.empty() ? "none recorded" : out;
}

}  // namespace

std::string EnergyOrigin(const Content& c) {
  if (c.modeled == 0) return "metered";
  if (c.metered == 0) return "modeled";
  return "metered and modeled";
}

std::string DescriptionOf(const Metadata& meta, const Content& c) {
  if (!meta.description.empty()) return meta.description;
  std::ostringstream s;
  s << "Energy and time of neural network layers and whole models, per iteration, measured "
       "on " << c.devices.size() << " device(s) of class(es) " << Joined(c.device_classes)
    << ": " << c.measurements.size() << " measurements, energy " << EnergyOrigin(c) << ".";
  return s.str();
}

std::string CollectionText(const Content& c) {
  std::ostringstream s;
  s << "Measured by wattfleet agents running each job with libtorch on the device itself and "
       "reading its power sensor (or, where it has none, modeling the energy from CPU "
       "utilisation: see the sensors) around timed windows of many iterations: warm-up "
       "iterations first, then windows sized to span many sensor updates, repeated until the "
       "95 % confidence half-width of the mean reaches the campaign's target or the window "
       "budget ends; idle power is measured apart and subtracted for the dynamic energy. "
       "Layers are run alone and whole models as the framework runs them. "
    << c.measurements.size() << " measurements (" << c.metered << " metered, " << c.modeled
    << " modeled) over " << c.windows << " windows, on " << c.devices.size()
    << " device(s) of class(es) " << Joined(c.device_classes) << "; modes: " << Joined(c.modes)
    << ".";
  return s.str();
}

std::string LimitsText(const Content& c) {
  std::ostringstream s;
  for (const auto& [name, use] : c.sensors) {
    s << name << " (" << use.measurements << " measurements";
    if (use.max_update_s > 0) {
      s << ", update period " << Seconds(use.min_update_s);
      if (use.max_update_s != use.min_update_s) s << " to " << Seconds(use.max_update_s);
    }
    s << "): ";
    const char* note = "a meter this datasheet does not describe.";
    for (const SensorNote& n : kSensorNotes) {
      if (name == n.name) note = n.note;
    }
    s << note << " ";
  }
  s << "Every figure is per iteration of one batch on one device at the clocks and "
       "temperatures recorded; energy_bound_j is what the sensor itself cannot resolve. A "
       "measurement taken while other work ran is flagged, not corrected.";
  return s.str();
}

std::string PreprocessingText() {
  return "Nothing is removed. Each measurement keeps every window (repeats.csv); the means, "
         "spreads and confidence intervals of measurements.csv are computed from them by the "
         "agent. energy_dynamic_j subtracts the measured idle power and is left empty where "
         "idle was not measured or the result is not positive. quality_flags marks what a "
         "reviewer should know: ci (the confidence target was missed), interference (windows "
         "over the interference limit had to be kept), below-idle, idle-stale, short-window.";
}

std::string UsesText() {
  return "Fitting and evaluating energy and latency estimators of neural networks, layer by "
         "layer (per-layer regressions, Gaussian processes, power laws); comparing devices; "
         "choosing models by energy. Not for devices, precisions or software versions other "
         "than those recorded without new measurements, and not for modeled rows as if they "
         "were metered.";
}

std::string MaintenanceText() {
  return "The package is a snapshot: its files and SHA256SUMS do not change. A later "
         "publication of the same dataset is a new package; `wattfleet import --package` "
         "merges packages into one dataset, storing each measurement once.";
}

std::string Datasheet(const Metadata& meta, const Content& c, const std::vector<Table>& tables) {
  std::ostringstream s;
  s << "# " << meta.title << "\n\n";
  s << DescriptionOf(meta, c) << "\n\n";
  s << "Published " << meta.date << " under " << meta.license;
  for (size_t i = 0; i < meta.creators.size(); ++i) {
    s << (i == 0 ? " by " : ", ") << meta.creators[i];
  }
  s << ". Energy: " << EnergyOrigin(c) << ".\n\n";
  s << "## Motivation\n\nMeasurements of the energy and time neural networks spend, layer by "
       "layer and as whole models, on real devices, for building and checking estimators of "
       "the energy of networks nobody measured.\n\n";
  s << "## Composition\n\n| file | rows | what |\n|---|---|---|\n";
  for (const Table& t : tables) {
    s << "| `data/" << t.name << (t.csv ? ".csv`" : ".jsonl`")
      << (t.csv && t.json_lines ? " (and `.jsonl`)" : "") << " | " << t.rows << " | "
      << t.description << " |\n";
  }
  s << "\nMeasurements by kind:";
  for (const auto& [kind, n] : c.kinds) s << " " << kind << " " << n << ";";
  s << " campaigns:";
  for (const CampaignRecord& r : c.campaigns) s << " " << r.name << " (" << r.state << ");";
  s << "\n\nEach column's type, unit and meaning are in `datapackage.json` (Table Schema) and "
       "`croissant.json` (Croissant RecordSets). The CSV files hold the exact text (RFC 4180, "
       "one header row, empty for missing); the JSON Lines files the same rows as objects, "
       "null for missing.\n\n";
  s << "## Collection process\n\n" << CollectionText(c) << "\n\nSensors:\n\n";
  for (const auto& [name, use] : c.sensors) {
    std::string note = "a meter this datasheet does not describe.";
    for (const SensorNote& n : kSensorNotes) {
      if (name == n.name) note = n.note;
    }
    s << "- `" << name << "`, " << use.measurements << " measurements, domains "
      << Joined(use.domains) << ": " << note << "\n";
  }
  s << "\nSoftware: agent versions " << Joined(c.agent_versions) << "; libtorch "
    << Joined(c.torch_versions) << ". The campaigns' files are under `campaigns/`, verbatim; "
       "`provenance.json` has the rest.\n\n";
  s << "## Preprocessing and flags\n\n" << PreprocessingText() << "\n\nFlag counts:";
  if (c.flags.empty()) s << " none";
  for (const auto& [flag, n] : c.flags) s << " " << flag << " " << n << ";";
  s << "\n\n## Uses\n\n" << UsesText() << "\n\n";
  s << "## Limits\n\n" << LimitsText(c) << "\n\n";
  s << "## Distribution\n\nLicence: " << meta.license << " (https://spdx.org/licenses/"
    << meta.license << ".html). `SHA256SUMS` lists every file's SHA-256 (`sha256sum -c "
       "SHA256SUMS`).\n\n";
  s << "## Maintenance\n\n" << MaintenanceText() << "\n";
  return s.str();
}

}  // namespace wattfleet::package
