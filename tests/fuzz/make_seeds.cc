// Writes protocol_fuzz's seed corpus: valid encoded messages of every kind, in the input layout
// protocol_fuzz.cc documents. Built and run by run_fuzz_smoke.sh before every fuzzing run, so
// the seeds always match the current encoders (nothing binary is committed).
//
// Usage: make_seeds OUTPUT_DIR
//
// Every seed is decoded back before it is written: a seed the decoders refuse is a bug here or
// in the protocol, and the program fails.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

// Decoder indices of protocol_fuzz.cc's selector.
enum Decoder : uint8_t {
  kReadyIdx = 0,
  kWelcomeIdx = 1,
  kJobIdx = 2,
  kResultIdx = 3,
  kAckIdx = 4,
  kProgressIdx = 5,
  kDisconnectIdx = 6,
  kMeasurementIdx = 7,
  kAllIdx = 8,
};

int failures = 0;

void Check(const Status& s, const std::string& name) {
  if (!s.ok()) {
    std::fprintf(stderr, "make_seeds: seed %s does not decode: %s\n", name.c_str(),
                 s.ToString().c_str());
    ++failures;
  }
}

void Write(const std::string& dir, const std::string& name, const std::string& bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "make_seeds: cannot write %s/%s\n", dir.c_str(), name.c_str());
    ++failures;
  }
}

// A decoder seed: [decoder index] [body]; the payload then forms a single (refused) frame.
void DecoderSeed(const std::string& dir, const std::string& name, uint8_t index,
                 const std::string& body) {
  Write(dir, "decode-" + name, std::string(1, static_cast<char>(index)) + body);
}

// A frames seed: three length-prefixed frames that ParseFrames accepts. The selector's high
// nibble 2 means three frames; its low nibble 8 (every decoder) sees the framed payload.
void FramesSeed(const std::string& dir, const std::string& name, Command command,
                const std::string& body) {
  std::string seed(1, static_cast<char>(0x28));
  seed.push_back(static_cast<char>(kProtocolMagic.size()));
  seed += kProtocolMagic;
  seed.push_back(1);
  seed.push_back(static_cast<char>(command));
  seed += body;  // the last frame: the rest of the input
  Write(dir, "frames-" + name, seed);
}

ReadyMsg SampleReady() {
  ReadyMsg m;
  m.name = "agent-a";
  m.device_class = "cpu";
  m.device = "cpu";
  m.sensor = "rapl";
  m.hostname = "node-1";
  m.cores = 16;
  m.memory_bytes = int64_t{64} << 30;
  m.agent_version = "0.1.0";
  m.torch_version = "2.1.0";
  m.prefetch = 2;
  m.resumed_job_ids = {17, 23, 4096};
  return m;
}

WelcomeMsg SampleWelcome() {
  WelcomeMsg m;
  m.heartbeat_ms = 1000;
  m.liveness = 3;
  m.controller_version = "0.1.0";
  return m;
}

JobSpec SampleLayerJob() {
  JobSpec job;
  job.job_id = 42;
  job.attempt = 1;
  job.campaign_id = 7;
  job.kind = JobKind::kLayer;
  job.mode = Mode::kInference;
  job.dtype = DType::kFloat32;
  job.batch = 8;
  job.device_class = "cpu";
  job.subject = "Conv2d(in_channels=3,out_channels=16,kernel_size=3)[3,32,32]";
  ArchNode conv{"conv2d0",
                {LayerType::kConv2d,
                 {{"in_channels", 3}, {"out_channels", 16}, {"kernel_size", 3}, {"stride", 1},
                  {"padding", 1}, {"bias", 1}},
                 {3, 32, 32}},
                {-1}};
  job.graph.name = job.subject;
  job.graph.family = "layer";
  job.graph.input_shape = {3, 32, 32};
  job.graph.nodes = {conv};
  job.lease_ms = 60000;
  return job;
}

JobSpec SampleModelJob() {
  JobSpec job;
  job.job_id = 1000;
  job.attempt = 3;
  job.campaign_id = 2;
  job.kind = JobKind::kModel;
  job.mode = Mode::kTraining;
  job.dtype = DType::kBFloat16;
  job.batch = 32;
  job.device_class = "cuda";
  job.subject = "mlp-d2-w64";
  job.graph.name = "mlp-d2-w64";
  job.graph.family = "mlp";
  job.graph.input_shape = {784};
  job.graph.nodes = {
      {"linear0", {LayerType::kLinear, {{"in_features", 784}, {"out_features", 64}}, {784}}, {-1}},
      {"relu1", {LayerType::kReLU, {}, {64}}, {0}},
      {"dropout2", {LayerType::kDropout, {{"p", 0.1}}, {64}}, {1}},
      {"linear3", {LayerType::kLinear, {{"in_features", 64}, {"out_features", 10}}, {64}}, {2}},
      {"softmax4", {LayerType::kSoftmax, {{"dim", -1}}, {10}}, {3}},
  };
  job.settings.warmup_ms = 500;
  job.settings.min_window_ms = 1000;
  job.settings.target_rel_ci = 0.02;
  job.settings.min_repeats = 5;
  job.settings.max_repeats = 30;
  job.settings.cooldown_ms = 0;
  job.lease_ms = 120000;
  return job;
}

Measurement SampleMeasurement() {
  Measurement x;
  x.sensor = "rapl";
  x.domain = "package";
  x.energy_is_estimate = false;
  x.repeats = {{200, 0.51, 12.3}, {200, 0.5, 12.1}, {210, 0.52, 12.9}};
  x.iterations_per_window = 200;
  x.time_per_iter_s = 0.0025;
  x.time_std_s = 0.00001;
  x.energy_per_iter_j = 0.061;
  x.energy_std_j = 0.0005;
  x.energy_dynamic_per_iter_j = 0.02;
  x.idle_w = 16.5;
  x.rel_ci = 0.03;
  x.time_rel_ci = std::numeric_limits<double>::infinity();  // one window: a legitimate CI
  x.ci_met = true;
  x.agent_name = "agent-a";
  x.agent_version = "0.1.0";
  x.torch_version = "2.1.0";
  x.device = "cpu";
  x.threads = 8;
  return x;
}

JobResult SampleDone() {
  JobResult r;
  r.job_id = 42;
  r.attempt = 1;
  r.outcome = Outcome::kDone;
  r.measurement = SampleMeasurement();
  return r;
}

JobResult SampleFailed() {
  JobResult r;
  r.job_id = 43;
  r.attempt = 2;
  r.outcome = Outcome::kTimeout;
  r.error = "the job ran past its lease";
  return r;
}

}  // namespace
}  // namespace wattfleet

int main(int argc, char** argv) {
  using namespace wattfleet;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];

  const std::string ready = Encode(SampleReady());
  const std::string welcome = Encode(SampleWelcome());
  const std::string layer_job = Encode(SampleLayerJob());
  const std::string model_job = Encode(SampleModelJob());
  const std::string done = Encode(SampleDone());
  const std::string failed = Encode(SampleFailed());
  const std::string ack = Encode(AckMsg{42, 1});
  const std::string progress = Encode(ProgressMsg{42, 1, "repeat 2 of 3"});
  const std::string disconnect = Encode(DisconnectMsg{"draining"});
  const std::string measurement = Encode(SampleMeasurement());
  const std::string empty = EncodeEmpty();

  Check(DecodeReady(ready).status(), "ready");
  Check(DecodeWelcome(welcome).status(), "welcome");
  Check(DecodeJob(layer_job).status(), "job-layer");
  Check(DecodeJob(model_job).status(), "job-model");
  Check(DecodeJobResult(done).status(), "result-done");
  Check(DecodeJobResult(failed).status(), "result-timeout");
  Check(DecodeAck(ack).status(), "ack");
  Check(DecodeProgress(progress).status(), "progress");
  Check(DecodeDisconnect(disconnect).status(), "disconnect");
  Check(DecodeMeasurement(measurement).status(), "measurement");
  Check(DecodeDisconnect(empty).status(), "empty");  // every field defaulted

  DecoderSeed(dir, "ready", kReadyIdx, ready);
  DecoderSeed(dir, "welcome", kWelcomeIdx, welcome);
  DecoderSeed(dir, "job-layer", kJobIdx, layer_job);
  DecoderSeed(dir, "job-model", kJobIdx, model_job);
  DecoderSeed(dir, "result-done", kResultIdx, done);
  DecoderSeed(dir, "result-timeout", kResultIdx, failed);
  DecoderSeed(dir, "ack", kAckIdx, ack);
  DecoderSeed(dir, "progress", kProgressIdx, progress);
  DecoderSeed(dir, "disconnect", kDisconnectIdx, disconnect);
  DecoderSeed(dir, "measurement", kMeasurementIdx, measurement);
  DecoderSeed(dir, "empty-all", kAllIdx, empty);

  FramesSeed(dir, "ready", Command::kReady, ready);
  FramesSeed(dir, "welcome", Command::kWelcome, welcome);
  FramesSeed(dir, "job", Command::kJob, model_job);
  FramesSeed(dir, "progress", Command::kProgress, progress);
  FramesSeed(dir, "result", Command::kResult, done);
  FramesSeed(dir, "ack", Command::kAck, ack);
  FramesSeed(dir, "nack", Command::kNack, failed);
  FramesSeed(dir, "heartbeat", Command::kHeartbeat, empty);
  FramesSeed(dir, "disconnect", Command::kDisconnect, disconnect);

  if (failures != 0) return 1;
  return 0;
}
