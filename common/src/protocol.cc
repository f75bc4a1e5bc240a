#include "wattfleet/common/protocol.h"

#include <cmath>
#include <sstream>

#include "msgpack_adaptors.h"

namespace wattfleet {
namespace {

// Bounds on what one body may make the decoder allocate: a hostile peer cannot ask for
// billions of elements with a few bytes.
const msgpack::unpack_limit& Limits() {
  static const msgpack::unpack_limit kLimits(/*array=*/1u << 16, /*map=*/1u << 12,
                                             /*str=*/kMaxBodyBytes, /*bin=*/kMaxBodyBytes,
                                             /*ext=*/0, /*depth=*/32);
  return kLimits;
}

template <typename T>
std::string Pack(const T& value) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, value);
  return std::string(buf.data(), buf.size());
}

// Finite floats beyond the int64 range are never a wattfleet figure (infinity is: the CI of a
// single window), and msgpack-cxx's encoder has undefined behaviour on doubles near 2^64 (its
// integer shortcut): refuse them at the door.
bool HasHugeFloat(const msgpack::object& o, int depth = 0) {
  if (depth > 40) return true;
  switch (o.type) {
    case msgpack::type::FLOAT32:
    case msgpack::type::FLOAT64:
      return std::isfinite(o.via.f64) && std::fabs(o.via.f64) >= 9.2e18;
    case msgpack::type::ARRAY:
      for (uint32_t i = 0; i < o.via.array.size; ++i) {
        if (HasHugeFloat(o.via.array.ptr[i], depth + 1)) return true;
      }
      return false;
    case msgpack::type::MAP:
      for (uint32_t i = 0; i < o.via.map.size; ++i) {
        if (HasHugeFloat(o.via.map.ptr[i].key, depth + 1) ||
            HasHugeFloat(o.via.map.ptr[i].val, depth + 1)) {
          return true;
        }
      }
      return false;
    default:
      return false;
  }
}

template <typename T>
Result<T> Unpack(std::string_view body, const char* what) {
  if (body.size() > kMaxBodyBytes) {
    return Status::Corruption(std::string(what) + " body of " + std::to_string(body.size()) +
                              " bytes exceeds the limit");
  }
  try {
    std::size_t offset = 0;
    msgpack::object_handle handle =
        msgpack::unpack(body.data(), body.size(), offset, nullptr, nullptr, Limits());
    if (offset != body.size()) {
      return Status::Corruption(std::string(what) + " body has " +
                                std::to_string(body.size() - offset) + " trailing bytes");
    }
    if (HasHugeFloat(handle.get())) {
      return Status::Corruption(std::string(what) + " body holds a number out of range");
    }
    T value;
    handle.get().convert(value);
    return value;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string(what) + " body is malformed: " + e.what());
  }
}

Status CheckGraph(const Architecture& graph) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    for (int input : graph.nodes[i].inputs) {
      const int lowest = GraphInput(static_cast<int>(graph.extra_inputs.size()));
      if (input < lowest || input >= static_cast<int>(i)) {
        return Status::Corruption("node " + std::to_string(i) + " reads input " +
                                  std::to_string(input) +
                                  ", which is neither an earlier node nor a graph input");
      }
    }
    const LayerSpec& spec = graph.nodes[i].spec;
    for (size_t j = 0; j <= spec.extra_inputs.size(); ++j) {
      for (int64_t d : j == 0 ? spec.input_shape : spec.extra_inputs[j - 1]) {
        if (d <= 0) {
          return Status::Corruption("node " + std::to_string(i) +
                                    " has a non-positive dimension");
        }
      }
    }
  }
  return Status::OK();
}

}  // namespace

std::string_view CommandName(Command c) {
  switch (c) {
    case Command::kReady: return "READY";
    case Command::kWelcome: return "WELCOME";
    case Command::kJob: return "JOB";
    case Command::kProgress: return "PROGRESS";
    case Command::kResult: return "RESULT";
    case Command::kAck: return "ACK";
    case Command::kNack: return "NACK";
    case Command::kHeartbeat: return "HEARTBEAT";
    case Command::kDisconnect: return "DISCONNECT";
    case Command::kFetch: return "FETCH";
    case Command::kChunk: return "CHUNK";
  }
  return "UNKNOWN";
}

std::array<std::string, 3> MakeFrames(Command command, std::string body) {
  return {std::string(kProtocolMagic), std::string(1, static_cast<char>(command)),
          std::move(body)};
}

Result<Envelope> ParseFrames(const std::vector<std::string_view>& frames) {
  if (frames.size() != 3) {
    return Status::Corruption("expected 3 frames, got " + std::to_string(frames.size()));
  }
  if (frames[0] != kProtocolMagic) {
    return Status::Corruption("bad protocol magic (expected " + std::string(kProtocolMagic) +
                              ")");
  }
  if (frames[1].size() != 1) {
    return Status::Corruption("command frame must be one byte, got " +
                              std::to_string(frames[1].size()));
  }
  const auto byte = static_cast<uint8_t>(frames[1][0]);
  if (byte < static_cast<uint8_t>(Command::kReady) ||
      byte > static_cast<uint8_t>(Command::kChunk)) {
    return Status::Corruption("unknown command " + std::to_string(byte));
  }
  if (frames[2].size() > kMaxBodyBytes) {
    return Status::Corruption("body of " + std::to_string(frames[2].size()) +
                              " bytes exceeds the limit");
  }
  return Envelope{static_cast<Command>(byte), std::string(frames[2])};
}

std::string Encode(const ReadyMsg& m) { return Pack(m); }
std::string Encode(const WelcomeMsg& m) { return Pack(m); }
std::string Encode(const JobSpec& m) { return Pack(m); }
std::string Encode(const JobResult& m) { return Pack(m); }
std::string Encode(const AckMsg& m) { return Pack(m); }
std::string Encode(const ProgressMsg& m) { return Pack(m); }
std::string Encode(const DisconnectMsg& m) { return Pack(m); }
std::string Encode(const FetchMsg& m) { return Pack(m); }
std::string Encode(const ChunkMsg& m) { return Pack(m); }
std::string Encode(const Measurement& m) { return Pack(m); }
std::string EncodeEmpty() { return Pack(std::map<std::string, int>{}); }

Result<ReadyMsg> DecodeReady(std::string_view body) {
  WF_ASSIGN_OR_RETURN(ReadyMsg m, Unpack<ReadyMsg>(body, "READY"));
  if (m.name.empty()) return Status::Corruption("READY without an agent name");
  if (m.device_class.empty()) return Status::Corruption("READY without a device class");
  if (m.prefetch < 1 || m.prefetch > 1024) {
    return Status::Corruption("READY prefetch " + std::to_string(m.prefetch) +
                              " is outside 1..1024");
  }
  return m;
}

Result<WelcomeMsg> DecodeWelcome(std::string_view body) {
  WF_ASSIGN_OR_RETURN(WelcomeMsg m, Unpack<WelcomeMsg>(body, "WELCOME"));
  if (m.heartbeat_ms <= 0 || m.liveness <= 0) {
    return Status::Corruption("WELCOME with a non-positive heartbeat or liveness");
  }
  return m;
}

Result<JobSpec> DecodeJob(std::string_view body) {
  WF_ASSIGN_OR_RETURN(JobSpec m, Unpack<JobSpec>(body, "JOB"));
  if (m.job_id <= 0) return Status::Corruption("JOB without a job id");
  if (m.batch <= 0) return Status::Corruption("JOB with a non-positive batch");
  if (m.graph.nodes.empty()) return Status::Corruption("JOB with an empty graph");
  WF_RETURN_IF_ERROR(CheckGraph(m.graph).WithContext("JOB"));
  const ModelFile& f = m.graph.model_file;
  if (!f.empty()) {
    const bool hex = f.sha256.size() == 64 &&
                     f.sha256.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (f.format != "torchscript" || !hex || f.bytes <= 0 || f.bytes > kMaxModelFileBytes) {
      return Status::Corruption("JOB with a model file of unknown format, bad checksum or size");
    }
  }
  return m;
}

Result<JobResult> DecodeJobResult(std::string_view body) {
  WF_ASSIGN_OR_RETURN(JobResult m, Unpack<JobResult>(body, "RESULT"));
  if (m.job_id <= 0) return Status::Corruption("RESULT without a job id");
  if (m.outcome == Outcome::kDone) {
    const Measurement& x = m.measurement;
    if (x.repeats.empty()) return Status::Corruption("DONE result without repeats");
    if (!std::isfinite(x.time_per_iter_s) || x.time_per_iter_s <= 0 ||
        !std::isfinite(x.energy_per_iter_j) || x.energy_per_iter_j <= 0) {
      return Status::Corruption("DONE result with a non-positive or non-finite figure");
    }
    if (x.sensor.empty()) return Status::Corruption("DONE result without a sensor");
    // Infinity is a legitimate CI (one window); NaN is never a figure.
    for (double v : {x.time_std_s, x.energy_std_j, x.energy_dynamic_per_iter_j, x.idle_w,
                     x.rel_ci, x.time_rel_ci}) {
      if (std::isnan(v)) return Status::Corruption("DONE result with a NaN figure");
    }
    for (const Repeat& r : x.repeats) {
      if (r.iterations <= 0 || !std::isfinite(r.time_s) || !std::isfinite(r.energy_j)) {
        return Status::Corruption("DONE result with an invalid repeat");
      }
    }
  }
  return m;
}

Result<AckMsg> DecodeAck(std::string_view body) { return Unpack<AckMsg>(body, "ACK"); }
Result<ProgressMsg> DecodeProgress(std::string_view body) {
  return Unpack<ProgressMsg>(body, "PROGRESS");
}
Result<DisconnectMsg> DecodeDisconnect(std::string_view body) {
  return Unpack<DisconnectMsg>(body, "DISCONNECT");
}
Result<FetchMsg> DecodeFetch(std::string_view body) {
  WF_ASSIGN_OR_RETURN(FetchMsg m, Unpack<FetchMsg>(body, "FETCH"));
  if (m.job_id <= 0 || m.offset < 0) {
    return Status::Corruption("FETCH without a job id or with a negative offset");
  }
  return m;
}
Result<ChunkMsg> DecodeChunk(std::string_view body) {
  WF_ASSIGN_OR_RETURN(ChunkMsg m, Unpack<ChunkMsg>(body, "CHUNK"));
  if (m.error.empty() &&
      (m.offset < 0 || m.total < 0 || static_cast<int64_t>(m.data.size()) > kModelChunkBytes ||
       m.offset + static_cast<int64_t>(m.data.size()) > m.total)) {
    return Status::Corruption("CHUNK whose bytes lie outside its file");
  }
  return m;
}
Result<Measurement> DecodeMeasurement(std::string_view body) {
  return Unpack<Measurement>(body, "measurement");
}

}  // namespace wattfleet
