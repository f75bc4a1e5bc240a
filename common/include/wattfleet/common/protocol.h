// Wire protocol v1 between the controller (ROUTER) and agents (DEALER).
//
// Every message is three frames: [magic "WFP1"] [command byte] [msgpack body]. Bodies are
// msgpack maps keyed by field name, so a peer ignores fields it does not know and defaults
// fields it does not receive. The protocol version is checked at READY.
//
// Decoding never throws: truncated, oversized or mistyped bodies, unknown commands and a wrong
// magic are Corruption errors that the caller counts, logs and drops.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/common/job.h"
#include "wattfleet/common/sensor_character.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

inline constexpr std::string_view kProtocolMagic = "WFP1";
inline constexpr int32_t kProtocolVersion = 1;
// Larger bodies are refused before decoding (the ROUTER also sets ZMQ_MAXMSGSIZE).
inline constexpr size_t kMaxBodyBytes = 16u << 20;

enum class Command : uint8_t {
  kReady = 1,       // agent -> controller: register
  kWelcome = 2,     // controller -> agent: accepted
  kJob = 3,         // controller -> agent
  kProgress = 4,    // agent -> controller
  kResult = 5,      // agent -> controller: a DONE job
  kAck = 6,         // controller -> agent: result stored (or already stored)
  kNack = 7,        // agent -> controller: a job that ended in anything but DONE
  kHeartbeat = 8,   // both ways
  kDisconnect = 9,  // both ways, with a reason
  kFetch = 10,      // agent -> controller: a part of a leased job's model file
  kChunk = 11,      // controller -> agent: that part
};
std::string_view CommandName(Command c);

struct ReadyMsg {
  int32_t protocol_version = kProtocolVersion;
  std::string name;          // agent name, unique in the fleet
  std::string device_class;  // e.g. "cpu"
  std::string device;        // "cpu" | "cuda:N"
  std::string sensor;        // meter backend in use
  std::string hostname;
  int64_t cores = 0;
  int64_t memory_bytes = 0;
  std::string agent_version;
  std::string torch_version;
  int32_t prefetch = 1;                  // jobs the agent wants to hold
  double peak_flops = 0;                 // attainable float32 FLOP/s (0: unknown)
  // The same through a 3x3 convolution: on a CPU the framework's convolution kernels can
  // run far faster than its matrix products (another library), and the estimators bound
  // each kind of work by its own peak (0: unknown, as from an older agent).
  double peak_conv_flops = 0;
  // The rate of a batch-1 1x1 convolution (FLOP/s): whether the framework runs one at its
  // matrix products' rate or at its convolutions' (0: unknown).
  double pointwise_flops = 0;
  std::vector<int64_t> resumed_job_ids;  // results still in its spool
  SensorCharacter sensor_character;      // its meter, characterised at start-up
};

struct WelcomeMsg {
  int64_t heartbeat_ms = 1000;
  int32_t liveness = 3;
  std::string controller_version;
};

struct AckMsg {
  int64_t job_id = 0;
  int32_t attempt = 0;
};

struct ProgressMsg {
  int64_t job_id = 0;
  int32_t attempt = 0;
  std::string message;
};

struct DisconnectMsg {
  std::string reason;
};

// A whole-model job of an imported model runs the model's own file (Architecture::model_file),
// which an agent without a copy fetches from the controller a part at a time, each part asked
// for under the job's lease: an agent reads only the files of the jobs it holds.
inline constexpr int64_t kModelChunkBytes = int64_t{4} << 20;
// The largest model file a job may name (the fp32 weights of a billion parameters fit).
inline constexpr int64_t kMaxModelFileBytes = int64_t{4} << 30;

struct FetchMsg {
  int64_t job_id = 0;
  int32_t attempt = 0;
  int64_t offset = 0;  // the first byte wanted; the controller sends up to kModelChunkBytes
};

struct ChunkMsg {
  int64_t job_id = 0;
  int32_t attempt = 0;
  int64_t offset = 0;
  int64_t total = 0;   // the file's size
  std::string data;    // bytes [offset, offset + data.size())
  // Set instead of data when the controller cannot serve the file (gone, changed, the job
  // not leased to this agent): the job fails with it.
  std::string error;
};

// A parsed envelope: the command and its still-encoded body.
struct Envelope {
  Command command;
  std::string body;
};

// The three frames of a message.
std::array<std::string, 3> MakeFrames(Command command, std::string body);
// Checks frame count, magic, command byte and body size.
Result<Envelope> ParseFrames(const std::vector<std::string_view>& frames);

std::string Encode(const ReadyMsg& m);
std::string Encode(const WelcomeMsg& m);
std::string Encode(const JobSpec& m);
std::string Encode(const JobResult& m);
std::string Encode(const AckMsg& m);
std::string Encode(const ProgressMsg& m);
std::string Encode(const DisconnectMsg& m);
std::string Encode(const FetchMsg& m);
std::string Encode(const ChunkMsg& m);
std::string Encode(const Measurement& m);
std::string EncodeEmpty();  // HEARTBEAT body

Result<ReadyMsg> DecodeReady(std::string_view body);
Result<WelcomeMsg> DecodeWelcome(std::string_view body);
Result<JobSpec> DecodeJob(std::string_view body);
Result<JobResult> DecodeJobResult(std::string_view body);
Result<AckMsg> DecodeAck(std::string_view body);
Result<ProgressMsg> DecodeProgress(std::string_view body);
Result<DisconnectMsg> DecodeDisconnect(std::string_view body);
Result<FetchMsg> DecodeFetch(std::string_view body);
Result<ChunkMsg> DecodeChunk(std::string_view body);
Result<Measurement> DecodeMeasurement(std::string_view body);

}  // namespace wattfleet
