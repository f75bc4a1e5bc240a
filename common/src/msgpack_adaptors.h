// msgpack adaptors for the wire and storage types. Private to the common library: the rest of
// the code sees only Encode/Decode (protocol.h), which keeps msgpack's heavy headers out of
// most translation units.
//
// Structs are maps keyed by field name (tolerant of unknown and missing fields); enums are
// their names, so a reordered enum never changes the meaning of stored data.
#pragma once

#include <msgpack.hpp>

#include "wattfleet/common/job.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet::detail {

// Converts the value of `key` into the field of that name; false when no field has the name.
inline bool ConvertField(std::string_view, const msgpack::object&) { return false; }
template <typename Field, typename... Rest>
bool ConvertField(std::string_view key, const msgpack::object& value, const char* name,
                  Field& field, Rest&&... rest) {
  if (key == name) {
    value.convert(field);
    return true;
  }
  return ConvertField(key, value, std::forward<Rest>(rest)...);
}

// A map body into named fields: unknown keys are skipped, missing ones keep their defaults.
// Unlike msgpack's define_map it builds no key index, which the dispatcher's hot path feels.
template <typename... Fields>
void ConvertMap(const msgpack::object& o, Fields&&... fields) {
  if (o.type != msgpack::type::MAP) throw msgpack::type_error();
  for (uint32_t i = 0; i < o.via.map.size; ++i) {
    const msgpack::object_kv& kv = o.via.map.ptr[i];
    if (kv.key.type != msgpack::type::STR) throw msgpack::type_error();
    ConvertField(std::string_view(kv.key.via.str.ptr, kv.key.via.str.size), kv.val,
                 std::forward<Fields>(fields)...);
  }
}

}  // namespace wattfleet::detail

#define WF_MSGPACK_MAP(Type, ...)                                                   \
  namespace msgpack {                                                               \
  MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {                           \
    namespace adaptor {                                                             \
    template <>                                                                     \
    struct pack<Type> {                                                             \
      template <typename Stream>                                                    \
      packer<Stream>& operator()(packer<Stream>& o, const Type& v) const {          \
        msgpack::type::make_define_map(__VA_ARGS__).msgpack_pack(o);                \
        return o;                                                                   \
      }                                                                             \
    };                                                                              \
    template <>                                                                     \
    struct convert<Type> {                                                          \
      msgpack::object const& operator()(msgpack::object const& o, Type& v) const {  \
        ::wattfleet::detail::ConvertMap(o, __VA_ARGS__);                            \
        return o;                                                                   \
      }                                                                             \
    };                                                                              \
    }                                                                               \
  }                                                                                 \
  }

#define WF_MSGPACK_ENUM(Type, NameFn, ParseFn)                                       \
  namespace msgpack {                                                               \
  MSGPACK_API_VERSION_NAMESPACE(MSGPACK_DEFAULT_API_NS) {                           \
    namespace adaptor {                                                             \
    template <>                                                                     \
    struct pack<Type> {                                                             \
      template <typename Stream>                                                    \
      packer<Stream>& operator()(packer<Stream>& o, const Type& v) const {          \
        std::string_view name = NameFn(v);                                          \
        o.pack_str(static_cast<uint32_t>(name.size()));                             \
        o.pack_str_body(name.data(), static_cast<uint32_t>(name.size()));           \
        return o;                                                                   \
      }                                                                             \
    };                                                                              \
    template <>                                                                     \
    struct convert<Type> {                                                          \
      msgpack::object const& operator()(msgpack::object const& o, Type& v) const {  \
        if (o.type != msgpack::type::STR) throw msgpack::type_error();              \
        auto parsed = ParseFn(std::string_view(o.via.str.ptr, o.via.str.size));     \
        if (!parsed) throw msgpack::type_error();                                   \
        v = *parsed;                                                                \
        return o;                                                                   \
      }                                                                             \
    };                                                                              \
    }                                                                               \
  }                                                                                 \
  }

WF_MSGPACK_ENUM(wattfleet::LayerType, wattfleet::LayerTypeName, wattfleet::ParseLayerType)
WF_MSGPACK_ENUM(wattfleet::Mode, wattfleet::ModeName, wattfleet::ParseMode)
WF_MSGPACK_ENUM(wattfleet::DType, wattfleet::DTypeName, wattfleet::ParseDType)
WF_MSGPACK_ENUM(wattfleet::JobKind, wattfleet::JobKindName, wattfleet::ParseJobKind)
WF_MSGPACK_ENUM(wattfleet::Outcome, wattfleet::OutcomeName, wattfleet::ParseOutcome)
WF_MSGPACK_ENUM(wattfleet::Optimizer, wattfleet::OptimizerName, wattfleet::ParseOptimizer)
WF_MSGPACK_ENUM(wattfleet::Loss, wattfleet::LossName, wattfleet::ParseLoss)

WF_MSGPACK_MAP(wattfleet::LayerSpec, "type", v.type, "params", v.params, "input_shape",
               v.input_shape, "extra_inputs", v.extra_inputs)
WF_MSGPACK_MAP(wattfleet::ArchNode, "name", v.name, "spec", v.spec, "inputs", v.inputs)
WF_MSGPACK_MAP(wattfleet::ModelFile, "format", v.format, "path", v.path, "sha256", v.sha256,
               "bytes", v.bytes)
WF_MSGPACK_MAP(wattfleet::Architecture, "name", v.name, "family", v.family, "input_shape",
               v.input_shape, "extra_inputs", v.extra_inputs, "nodes", v.nodes, "model_file",
               v.model_file)
WF_MSGPACK_MAP(wattfleet::MeasurementSettings, "warmup_ms", v.warmup_ms, "min_window_ms",
               v.min_window_ms, "target_rel_ci", v.target_rel_ci, "min_repeats",
               v.min_repeats, "max_repeats", v.max_repeats, "cooldown_ms", v.cooldown_ms,
               "max_interference", v.max_interference)
WF_MSGPACK_MAP(wattfleet::AgentSelector, "name_glob", v.name_glob, "accelerator",
               v.accelerator, "sensor", v.sensor)
WF_MSGPACK_MAP(wattfleet::JobSpec, "job_id", v.job_id, "attempt", v.attempt, "campaign_id",
               v.campaign_id, "kind", v.kind, "mode", v.mode, "dtype", v.dtype, "batch",
               v.batch, "device_class", v.device_class, "selectors", v.selectors, "subject", v.subject, "graph",
               v.graph, "settings", v.settings, "lease_ms", v.lease_ms, "optimizer",
               v.optimizer, "loss", v.loss)
WF_MSGPACK_MAP(wattfleet::Repeat, "iterations", v.iterations, "time_s", v.time_s, "energy_j",
               v.energy_j)
WF_MSGPACK_MAP(wattfleet::Measurement, "sensor", v.sensor, "domain", v.domain,
               "energy_is_estimate", v.energy_is_estimate, "repeats", v.repeats,
               "iterations_per_window", v.iterations_per_window, "time_per_iter_s",
               v.time_per_iter_s, "time_std_s", v.time_std_s, "energy_per_iter_j",
               v.energy_per_iter_j, "energy_std_j", v.energy_std_j,
               "energy_dynamic_per_iter_j", v.energy_dynamic_per_iter_j, "idle_w", v.idle_w,
               "rel_ci", v.rel_ci, "time_rel_ci", v.time_rel_ci, "ci_met", v.ci_met,
               "agent_name", v.agent_name, "agent_version", v.agent_version,
               "torch_version", v.torch_version, "device", v.device, "threads", v.threads,
               "temperature_before_c", v.temperature_before_c, "temperature_after_c",
               v.temperature_after_c, "clock_before_mhz", v.clock_before_mhz,
               "clock_after_mhz", v.clock_after_mhz, "telemetry_source", v.telemetry_source,
               "interference", v.interference, "windows_discarded", v.windows_discarded,
               "flags", v.flags, "energy_bound_j", v.energy_bound_j,
               "sensor_update_period_s", v.sensor_update_period_s, "energy_model",
               v.energy_model)
WF_MSGPACK_MAP(wattfleet::JobResult, "job_id", v.job_id, "attempt", v.attempt, "outcome",
               v.outcome, "error", v.error, "measurement", v.measurement)
WF_MSGPACK_MAP(wattfleet::SensorCharacter, "method", v.method, "declared_period_s",
               v.declared_period_s, "update_period_s", v.update_period_s, "updates_seen",
               v.updates_seen, "polled_s", v.polled_s, "resolution_j", v.resolution_j,
               "wrap_j", v.wrap_j, "averaging_s", v.averaging_s, "stuck", v.stuck, "note",
               v.note)
WF_MSGPACK_MAP(wattfleet::ReadyMsg, "protocol_version", v.protocol_version, "name", v.name,
               "device_class", v.device_class, "device", v.device, "sensor", v.sensor,
               "hostname", v.hostname, "cores", v.cores, "memory_bytes", v.memory_bytes,
               "agent_version", v.agent_version, "torch_version", v.torch_version,
               "prefetch", v.prefetch, "resumed_job_ids", v.resumed_job_ids, "peak_flops",
               v.peak_flops, "peak_conv_flops", v.peak_conv_flops, "pointwise_flops",
               v.pointwise_flops, "sensor_character", v.sensor_character)
WF_MSGPACK_MAP(wattfleet::WelcomeMsg, "heartbeat_ms", v.heartbeat_ms, "liveness", v.liveness,
               "controller_version", v.controller_version)
WF_MSGPACK_MAP(wattfleet::AckMsg, "job_id", v.job_id, "attempt", v.attempt)
WF_MSGPACK_MAP(wattfleet::ProgressMsg, "job_id", v.job_id, "attempt", v.attempt, "message",
               v.message)
WF_MSGPACK_MAP(wattfleet::DisconnectMsg, "reason", v.reason)
WF_MSGPACK_MAP(wattfleet::FetchMsg, "job_id", v.job_id, "attempt", v.attempt, "offset",
               v.offset)
WF_MSGPACK_MAP(wattfleet::ChunkMsg, "job_id", v.job_id, "attempt", v.attempt, "offset",
               v.offset, "total", v.total, "data", v.data, "error", v.error)
