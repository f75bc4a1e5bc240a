// The Python package's native part, `wattfleet._wattfleet` (docs/python.md): thin bindings over
// the same functions the `wattfleet` commands call, so that a number in Python is the number
// the command line prints. Documents cross as the commands' --json text; the package's Python
// side (wattfleet/__init__.py) turns them into dicts and DataFrames.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <optional>
#include <type_traits>
#include <variant>
#include <string>
#include <vector>

#include "cli_commands.h"
#include "cli_evaluate.h"
#include "cli_predict.h"
#include "cli_publish.h"
#include "wattfleet/meters/meter_registry.h"
#include "wattfleet/monitor/window_monitor.h"
#include "window_recorder.h"
#include "wattfleet/campaign/estimator_catalog.h"
#include "wattfleet/common/version.h"
#include "wattfleet/store/dataset_backend.h"
#include "wattfleet/store/dataset_reader.h"
#include "wattfleet/store/export.h"
#include "wattfleet/zoo/torchscript_import.h"

namespace py = pybind11;

namespace wattfleet {
namespace {

// Python's SensorError: created at module load and owned by the module (never released,
// so nothing is freed after the interpreter has gone).
PyObject* sensor_error = nullptr;

// A Status as the Python exception a caller would catch: bad input is ValueError, an unknown
// name LookupError, a sensor's failure SensorError, anything else RuntimeError.
[[noreturn]] void Raise(const Status& s) {
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      throw py::value_error(s.message());
    case StatusCode::kNotFound:
    case StatusCode::kAlreadyExists:
      throw py::key_error(s.message());
    case StatusCode::kSensor:
      PyErr_SetString(sensor_error, s.message().c_str());
      throw py::error_already_set();
    default:
      throw std::runtime_error(s.message());
  }
}

template <typename T>
T Unwrap(Result<T> r) {
  if (!r.ok()) Raise(r.status());
  return std::move(r).value();
}

// The export's rows as typed columns, {name: [value, ...]} in the export's order: pandas
// builds its frame from them with no text in between. Missing values and empty texts are
// None, as the export's CSV leaves them empty.
py::dict ExportColumnsOf(const std::string& db, std::optional<std::string> campaign) {
  std::vector<ExportRow> rows;
  {
    py::gil_scoped_release unlocked;
    auto read = ReadExportRows(db, campaign);
    if (!read.ok()) {
      py::gil_scoped_acquire locked;
      Raise(read.status());
    }
    rows = std::move(read).value();
  }
  const std::vector<std::string>& names = ExportColumns();
  std::vector<py::list> columns(names.size());
  for (const ExportRow& row : rows) {
    const std::vector<ExportCell> cells = ExportCells(row);
    for (size_t c = 0; c < names.size() && c < cells.size(); ++c) {
      columns[c].append(std::visit(
          [](const auto& v) -> py::object {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              return py::none();
            } else if constexpr (std::is_same_v<T, std::string>) {
              if (v.empty()) return py::none();
              return py::str(v);
            } else {
              return py::cast(v);
            }
          },
          cells[c]));
    }
  }
  py::dict out;
  for (size_t c = 0; c < names.size(); ++c) out[py::str(names[c])] = columns[c];
  return out;
}

std::unique_ptr<DatasetReader> Reader(const std::string& db) {
  return Unwrap(OpenDatasetReader(db));
}

// Records as typed columns, {name: [value, ...]} in the order of `fields`: the one place the
// Python package's frames get their column names from.
template <typename R>
using Field = std::pair<const char*, py::object (*)(const R&)>;

template <typename R>
py::dict ColumnsOf(const std::vector<R>& records, std::initializer_list<Field<R>> fields) {
  py::dict out;
  for (const auto& [name, get] : fields) {
    py::list column;
    for (const R& r : records) column.append(get(r));
    out[py::str(name)] = column;
  }
  return out;
}

py::dict Layers(const std::string& db) {
  using L = LayerRecord;
  return ColumnsOf<L>(
      Unwrap(Reader(db)->Layers()),
      {{"key", [](const L& l) -> py::object { return py::str(l.key); }},
       {"type", [](const L& l) -> py::object { return py::str(l.type); }},
       {"macs", [](const L& l) -> py::object { return py::int_(l.macs); }},
       {"flops", [](const L& l) -> py::object { return py::int_(l.flops); }},
       {"params", [](const L& l) -> py::object { return py::int_(l.params); }},
       {"input_elements", [](const L& l) -> py::object { return py::int_(l.input_elements); }},
       {"output_elements", [](const L& l) -> py::object { return py::int_(l.output_elements); }},
       {"params_json", [](const L& l) -> py::object { return py::str(l.params_json); }}});
}

py::dict Architectures(const std::string& db) {
  using A = ArchitectureRecord;
  return ColumnsOf<A>(
      Unwrap(Reader(db)->Architectures()),
      {{"id", [](const A& a) -> py::object { return py::int_(a.id); }},
       {"campaign_id", [](const A& a) -> py::object { return py::int_(a.campaign_id); }},
       {"campaign", [](const A& a) -> py::object { return py::str(a.campaign); }},
       {"name", [](const A& a) -> py::object { return py::str(a.name); }},
       {"family", [](const A& a) -> py::object { return py::str(a.family); }},
       {"input_shape", [](const A& a) -> py::object { return py::str(a.input_shape); }},
       {"macs", [](const A& a) -> py::object { return py::int_(a.macs); }},
       {"flops", [](const A& a) -> py::object { return py::int_(a.flops); }},
       {"params", [](const A& a) -> py::object { return py::int_(a.params); }},
       {"layers", [](const A& a) -> py::object { return py::int_(a.layers); }}});
}

std::string Fit(const std::string& db, std::optional<std::string> device,
                std::vector<std::string> estimators, const std::string& target,
                const std::string& split, int folds, std::vector<std::string> holdout,
                bool include_flagged) {
  EvaluateOptions o;
  o.db = db;
  o.device = std::move(device);
  o.estimators = std::move(estimators);
  o.target = target;
  o.split = split;
  o.folds = folds;
  o.holdout_campaigns = std::move(holdout);
  o.include_flagged = include_flagged;
  o.json = true;  // progress as plain lines on stderr, never a bar over a notebook's output
  Result<nlohmann::json> doc = Status::Internal("not run");
  {
    py::gil_scoped_release unlocked;
    doc = EvaluateDataset(o);
  }
  return Unwrap(std::move(doc)).dump();
}

// The architecture named as `wattfleet inspect` and `predict` name it; a model file in at
// most one format.
ArchitectureSource SourceOf(const std::string& arch, const std::string& campaign_file,
                            const std::string& torchscript, const std::string& onnx,
                            std::vector<int64_t> input_shape) {
  if (!torchscript.empty() && !onnx.empty()) {
    throw py::value_error("give one of torchscript or onnx, not both");
  }
  ArchitectureSource source;
  source.arch_name = arch;
  source.campaign_file = campaign_file;
  source.model_file = torchscript.empty() ? onnx : torchscript;
  source.model_format = torchscript.empty() ? "onnx" : "torchscript";
  source.input_shape = std::move(input_shape);
  return source;
}

std::string Predict(const std::string& db, const std::string& device, const std::string& arch,
                    const std::string& campaign_file, const std::string& torchscript,
                    const std::string& onnx, std::vector<int64_t> input_shape, std::optional<int64_t> batch,
                    const std::string& mode, const std::string& estimator,
                    bool prefer_measured, bool include_flagged,
                    std::optional<std::string> optimizer, std::optional<std::string> loss,
                    std::optional<int64_t> samples, std::optional<int64_t> epochs) {
  PredictOptions o;
  o.db = db;
  o.device = device;
  o.source = SourceOf(arch, campaign_file, torchscript, onnx, std::move(input_shape));
  o.batch = batch;
  o.mode = mode;
  o.estimator = estimator;
  o.prefer_measured = prefer_measured;
  o.include_flagged = include_flagged;
  o.optimizer = std::move(optimizer);
  o.loss = std::move(loss);
  o.samples = samples;
  o.epochs = epochs;
  Result<Prediction> p = Status::Internal("not run");
  {
    py::gil_scoped_release unlocked;
    p = PredictArchitecture(o);
  }
  return PredictionToJson(Unwrap(std::move(p))).dump();
}

std::string Inspect(const std::string& arch, const std::string& campaign_file,
                    const std::string& torchscript, const std::string& onnx,
                    std::vector<int64_t> input_shape) {
  return Unwrap(InspectArchitecture(
                    SourceOf(arch, campaign_file, torchscript, onnx, std::move(input_shape))))
      .dump();
}

py::dict ReadingDict(const WindowReading& r) {
  py::dict d;
  d["name"] = r.name;
  d["energy_j"] = r.energy_j;
  d["time_s"] = r.time_s;
  d["energy_dynamic_j"] = r.energy_dynamic_j;
  d["sensor"] = r.sensor;
  d["domain"] = r.domain;
  d["energy_is_estimate"] = r.energy_is_estimate;
  d["energy_model"] = r.energy_model.empty() ? py::object(py::none()) : py::str(r.energy_model);
  d["interference"] = r.interference;
  d["energy_bound_j"] = r.energy_bound_j;
  d["quality_flags"] = r.flags;
  return d;
}

// `wattfleet publish` and `import --package`: the same documents as their --json.
std::string PublishPackage(const std::string& db, const std::string& out,
                           const std::string& license, const std::string& title,
                           std::vector<std::string> creators, const std::string& description,
                           const std::string& url, const std::string& date,
                           std::vector<std::string> campaigns) {
  PublishFlags f;
  f.options = {db, out, {}, license, title, std::move(creators), description, url, date};
  f.campaigns = std::move(campaigns);
  Result<nlohmann::json> doc = Status::Internal("not run");
  {
    py::gil_scoped_release unlocked;
    doc = PublishDocument(f);
  }
  return Unwrap(std::move(doc)).dump();
}

std::string ImportPackage(const std::string& db, const std::string& dir) {
  Result<nlohmann::json> doc = Status::Internal("not run");
  {
    py::gil_scoped_release unlocked;
    doc = ImportPackageDocument(db, dir);
  }
  return Unwrap(std::move(doc)).dump();
}

// The dataset's tables, fits and predictions: the functions the commands call.
void BindDataset(py::module_& m) {
  m.def("export_columns", &ExportColumnsOf, py::arg("db"), py::arg("campaign") = py::none());
  m.def("layers", &Layers, py::arg("db"));
  m.def("architectures", &Architectures, py::arg("db"));
  m.def("fit", &Fit, py::arg("db"), py::arg("device"), py::arg("estimators"), py::arg("target"),
        py::arg("split"), py::arg("folds"), py::arg("holdout_campaigns"),
        py::arg("include_flagged"));
  m.def("predict", &Predict, py::arg("db"), py::arg("device"), py::arg("arch"),
        py::arg("campaign_file"), py::arg("torchscript"), py::arg("onnx"),
        py::arg("input_shape"), py::arg("batch"), py::arg("mode"), py::arg("estimator"), py::arg("prefer_measured"),
        py::arg("include_flagged"), py::arg("optimizer") = py::none(),
        py::arg("loss") = py::none(), py::arg("samples") = py::none(),
        py::arg("epochs") = py::none());
  m.def("inspect", &Inspect, py::arg("arch"), py::arg("campaign_file"), py::arg("torchscript"),
        py::arg("onnx"), py::arg("input_shape"));
  m.def("publish", &PublishPackage, py::arg("db"), py::arg("out"), py::arg("license"),
        py::arg("title"), py::arg("creators"), py::arg("description"), py::arg("url"),
        py::arg("date"), py::arg("campaigns"));
  m.def("import_package", &ImportPackage, py::arg("db"), py::arg("dir"));
}

// What the commands and the package choose among: estimators, dataset backends, meters.
void BindCatalogs(py::module_& m) {
  // The estimator catalog: what fit(estimators=...) and predict(estimator=...) take.
  m.def("estimators", [] {
    std::vector<std::tuple<std::string, std::string, std::string>> out;
    for (const EstimatorInfo& e : kEstimatorCatalog) {
      const char* kind = e.kind == EstimatorKind::kMeasured     ? "measured"
                         : e.kind == EstimatorKind::kOperations ? "operations"
                                                                : "projection";
      out.emplace_back(std::string(e.name), kind, std::string(e.help));
    }
    return out;
  });

  // The dataset backend a path or URI opens with (dataset_backend.h): its name, and whether
  // it is a local file that must exist before a read.
  m.def("dataset_backend", [](const std::string& db) {
    const DatasetBackend& b = BackendFor(db);
    return std::make_pair(std::string(b.name), b.local);
  }, py::arg("db"));

  // The agent's meter registry: what Monitor(sensor=...) takes, in the order `probe` lists.
  m.def("sensor_backends", [] {
    std::vector<std::pair<std::string, std::string>> out;
    for (const MeterBackend& b : MeterBackends()) out.emplace_back(b.name, b.help);
    return out;
  });
}

// Windows over the caller's own code (Monitor), and their storage in a dataset.
void BindMonitor(py::module_& m) {
  py::class_<WindowMonitor>(m, "WindowMonitor")
      .def(py::init([](const std::string& sensor, const std::string& device,
                       double max_interference, const std::string& sysfs_root,
                       const std::string& proc_root, const std::string& nvml_library,
                       double modeled_core_w) {
             MonitorOptions o;
             o.roots.modeled.core_w = modeled_core_w;
             o.sensor = sensor;
             o.roots.device = device;
             o.max_interference = max_interference;
             if (!sysfs_root.empty()) o.roots.sysfs_root = sysfs_root;
             if (!proc_root.empty()) o.roots.proc_root = proc_root;
             if (!nvml_library.empty()) o.roots.nvml_library = nvml_library;
             return Unwrap(WindowMonitor::Open(o));
           }),
           py::arg("sensor"), py::arg("device"), py::arg("max_interference"),
           py::arg("sysfs_root"), py::arg("proc_root"), py::arg("nvml_library"),
           py::arg("modeled_core_w") = 0.0)
      .def("begin", [](WindowMonitor& w, const std::string& name) {
        if (Status s = w.Begin(name); !s.ok()) Raise(s);
      })
      .def("end", [](WindowMonitor& w, const std::string& name) {
        return ReadingDict(Unwrap(w.End(name)));
      })
      .def("measure_idle", [](WindowMonitor& w, double seconds) {
        Result<double> r = Status::Internal("not run");
        {
          py::gil_scoped_release unlocked;
          r = w.MeasureIdle(seconds);
        }
        return Unwrap(std::move(r));
      })
      .def_property_readonly("idle_w", &WindowMonitor::idle_w)
      .def_property_readonly("sensor", &WindowMonitor::sensor)
      .def_property_readonly("domain", &WindowMonitor::domain)
      .def_property_readonly("energy_is_estimate", &WindowMonitor::energy_is_estimate)
      .def_property_readonly("why", &WindowMonitor::why)
      .def_property_readonly("interference_source", &WindowMonitor::interference_source)
      .def_property_readonly("open_windows", &WindowMonitor::open_windows);

  // Windows stored in a dataset as they end (Monitor(dataset=...)).
  py::class_<WindowRecorder>(m, "WindowRecorder")
      .def(py::init([](const std::string& db, const std::string& campaign,
                       const std::string& device_class) {
             WindowDatasetOptions o;
             o.db = db;
             o.campaign = campaign;
             o.device_class = device_class;
             return Unwrap(WindowRecorder::Open(o));
           }),
           py::arg("db"), py::arg("campaign"), py::arg("device_class"))
      .def("end_and_record",
           [](WindowRecorder& r, WindowMonitor& w, const std::string& name) {
             const WindowReading reading = Unwrap(w.End(name));
             py::dict d = ReadingDict(reading);
             d["job_id"] = Unwrap(r.Record(reading, w.idle_w()));
             return d;
           })
      .def_property_readonly("campaign_id", &WindowRecorder::campaign_id);
}

}  // namespace
}  // namespace wattfleet

PYBIND11_MODULE(_wattfleet, m) {
  using namespace wattfleet;
  m.doc() = "wattfleet's native core (use the wattfleet package, not this module)";
  sensor_error = PyErr_NewException("wattfleet._wattfleet.SensorError", PyExc_RuntimeError,
                                     nullptr);
  if (sensor_error == nullptr) throw py::error_already_set();
  m.add_object("SensorError", py::handle(sensor_error));
  // The core's log lines (a store's or an estimator's warnings) on stderr, never into the
  // notebook's or the script's stdout.
  spdlog::set_default_logger(spdlog::stderr_logger_mt("wattfleet"));

  m.attr("version_line") = VersionLine("wattfleet", TorchScriptLibtorchVersion());

  BindDataset(m);
  BindCatalogs(m);
  BindMonitor(m);
}
