// Wire protocol v1: round trips of every message, and rejection of hostile input.
#include <gtest/gtest.h>
#include <msgpack.hpp>

#include <cmath>
#include <map>

#include "wattfleet/common/peer_text.h"
#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

std::vector<std::string_view> Views(const std::array<std::string, 3>& frames) {
  return {frames[0], frames[1], frames[2]};
}

JobSpec SampleJob() {
  JobSpec job;
  job.job_id = 42;
  job.attempt = 2;
  job.campaign_id = 7;
  job.kind = JobKind::kModel;
  job.mode = Mode::kTraining;
  job.dtype = DType::kBFloat16;
  job.batch = 32;
  job.device_class = "cpu";
  job.subject = "lenet5";
  job.graph.name = "lenet5";
  job.graph.family = "lenet5";
  job.graph.input_shape = {1, 32, 32};
  ArchNode conv{"conv1", {LayerType::kConv2d, {{"in_channels", 1}, {"out_channels", 6}, {"kernel_size", 5}}, {1, 32, 32}}, {-1}};
  ArchNode relu{"relu1", {LayerType::kReLU, {}, {6, 28, 28}}, {0}};
  job.graph.nodes = {conv, relu};
  job.settings.warmup_ms = 123;
  job.settings.target_rel_ci = 0.02;
  job.lease_ms = 60000;
  return job;
}

TEST(ProtocolTest, FramesRoundTrip) {
  auto frames = MakeFrames(Command::kHeartbeat, EncodeEmpty());
  EXPECT_EQ(frames[0], "WFP1");
  auto env = ParseFrames(Views(frames));
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->command, Command::kHeartbeat);
  EXPECT_EQ(env->body, frames[2]);
}

TEST(ProtocolTest, ReadyRoundTrip) {
  ReadyMsg m;
  m.name = "agent-a";
  m.device_class = "cpu";
  m.device = "cpu";
  m.sensor = "modeled";
  m.cores = 8;
  m.prefetch = 3;
  m.resumed_job_ids = {5, 9};
  auto d = DecodeReady(Encode(m));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->name, "agent-a");
  EXPECT_EQ(d->protocol_version, kProtocolVersion);
  EXPECT_EQ(d->cores, 8);
  EXPECT_EQ(d->prefetch, 3);
  EXPECT_EQ(d->resumed_job_ids, (std::vector<int64_t>{5, 9}));
  EXPECT_TRUE(d->sensor_character.method.empty());  // not sent: not characterised
}

TEST(ProtocolTest, TheSensorCharacterTravelsInReadyAndIsCheckedLikeEveryPeerText) {
  ReadyMsg m;
  m.name = "agent-a";
  m.device_class = "cuda";
  m.device = "cuda:0";
  m.sensor = "nvml";
  m.sensor_character.method = "energy counter";
  m.sensor_character.update_period_s = 0.1;
  m.sensor_character.updates_seen = 20;
  m.sensor_character.resolution_j = 1e-3;
  m.sensor_character.stuck = true;
  m.sensor_character.note = "no dram domain";
  auto d = DecodeReady(Encode(m));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->sensor_character.method, "energy counter");
  EXPECT_DOUBLE_EQ(d->sensor_character.update_period_s, 0.1);
  EXPECT_EQ(d->sensor_character.updates_seen, 20);
  EXPECT_TRUE(d->sensor_character.stuck);
  EXPECT_EQ(d->sensor_character.note, "no dram domain");
  EXPECT_TRUE(CheckPeerText(*d).ok());
  d->sensor_character.note = "fake\n[info] line";
  EXPECT_FALSE(CheckPeerText(*d).ok());
}

TEST(ProtocolTest, QualityFlagsFromAPeerAreNamesOrTheMeasurementIsRefused) {
  Measurement m;
  m.flags = {"ci", "interference"};
  EXPECT_TRUE(CheckPeerText(m).ok());
  for (const std::string& bad : {std::string("ci;forged"), std::string("\x1b[31mred"),
                                std::string(""), std::string(100, 'x'), std::string("a b")}) {
    m.flags = {bad};
    EXPECT_FALSE(CheckPeerText(m).ok()) << bad;
  }
  m.flags.assign(kMaxPeerFlags + 1, "ci");
  EXPECT_FALSE(CheckPeerText(m).ok());
}

TEST(ProtocolTest, JobRoundTripKeepsEveryField) {
  JobSpec job = SampleJob();
  auto d = DecodeJob(Encode(job));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->job_id, 42);
  EXPECT_EQ(d->attempt, 2);
  EXPECT_EQ(d->kind, JobKind::kModel);
  EXPECT_EQ(d->mode, Mode::kTraining);
  EXPECT_EQ(d->dtype, DType::kBFloat16);
  EXPECT_EQ(d->batch, 32);
  EXPECT_EQ(d->subject, "lenet5");
  ASSERT_EQ(d->graph.nodes.size(), 2u);
  EXPECT_EQ(d->graph.nodes[0].spec, job.graph.nodes[0].spec);
  EXPECT_EQ(d->graph.nodes[1].inputs, std::vector<int>{0});
  EXPECT_EQ(d->settings, job.settings);
  EXPECT_EQ(d->lease_ms, 60000);
}

TEST(ProtocolTest, AModelFileTravelsWithItsJobAndIsChecked) {
  JobSpec job = SampleJob();
  job.graph.model_file = ModelFile{"torchscript", "/data/net.pt", std::string(64, 'a'), 1234};
  auto d = DecodeJob(Encode(job));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->graph.model_file.path, "/data/net.pt");
  EXPECT_EQ(d->graph.model_file.sha256, std::string(64, 'a'));
  EXPECT_EQ(d->graph.model_file.bytes, 1234);
  // A job of the zoo has none.
  EXPECT_TRUE(DecodeJob(Encode(SampleJob()))->graph.model_file.empty());
  for (auto bad : {ModelFile{"onnx", "/a", std::string(64, 'a'), 1},
                   ModelFile{"torchscript", "/a", std::string(63, 'a'), 1},
                   ModelFile{"torchscript", "/a", std::string(64, 'G'), 1},
                   ModelFile{"torchscript", "/a", std::string(64, 'a'), 0},
                   ModelFile{"torchscript", "/a", std::string(64, 'a'), kMaxModelFileBytes + 1}}) {
    job.graph.model_file = bad;
    EXPECT_FALSE(DecodeJob(Encode(job)).ok()) << bad.format << " " << bad.sha256 << " " << bad.bytes;
  }
}

TEST(ProtocolTest, FetchAndChunkRoundTripAndChunksStayInsideTheirFile) {
  auto f = DecodeFetch(Encode(FetchMsg{9, 2, 4096}));
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->job_id, 9);
  EXPECT_EQ(f->attempt, 2);
  EXPECT_EQ(f->offset, 4096);
  EXPECT_FALSE(DecodeFetch(Encode(FetchMsg{9, 2, -1})).ok());
  EXPECT_FALSE(DecodeFetch(Encode(FetchMsg{0, 2, 0})).ok());
  auto frames = MakeFrames(Command::kFetch, Encode(FetchMsg{9, 2, 0}));
  auto env = ParseFrames(Views(frames));
  ASSERT_TRUE(env.ok()) << env.status().ToString();
  EXPECT_EQ(env->command, Command::kFetch);
  EXPECT_EQ(CommandName(Command::kChunk), "CHUNK");

  ChunkMsg c{9, 2, 10, 14, std::string("\0\1\2\3", 4), ""};
  auto d = DecodeChunk(Encode(c));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->data, c.data);
  EXPECT_EQ(d->total, 14);
  c.total = 13;  // bytes 10..14 of a 13-byte file
  EXPECT_FALSE(DecodeChunk(Encode(c)).ok());
  c.total = 14;
  c.offset = -1;
  EXPECT_FALSE(DecodeChunk(Encode(c)).ok());
  ChunkMsg refusal{9, 2, 0, 0, "", "not leased to this agent"};
  EXPECT_TRUE(DecodeChunk(Encode(refusal)).ok());
}

TEST(ProtocolTest, ResultRoundTrip) {
  JobResult r;
  r.job_id = 3;
  r.attempt = 1;
  r.measurement.sensor = "modeled";
  r.measurement.repeats = {{10, 0.5, 12.5}, {10, 0.51, 12.6}};
  r.measurement.time_per_iter_s = 0.05;
  r.measurement.energy_per_iter_j = 1.25;
  auto d = DecodeJobResult(Encode(r));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->outcome, Outcome::kDone);
  ASSERT_EQ(d->measurement.repeats.size(), 2u);
  EXPECT_DOUBLE_EQ(d->measurement.repeats[1].energy_j, 12.6);
  EXPECT_DOUBLE_EQ(d->measurement.energy_per_iter_j, 1.25);
}

TEST(ProtocolTest, TelemetryRoundTripsAndNaNStaysNotExposed) {
  JobResult r;
  r.job_id = 4;
  r.attempt = 1;
  r.measurement.sensor = "nvml";
  r.measurement.repeats = {{10, 0.5, 12.5}};
  r.measurement.time_per_iter_s = 0.05;
  r.measurement.energy_per_iter_j = 1.25;
  r.measurement.temperature_before_c = 41.5;
  r.measurement.clock_before_mhz = 1980;  // integral: msgpack packs it as an integer
  r.measurement.temperature_after_c = 67.25;
  r.measurement.telemetry_source = "nvml:gpu0";
  // clock_after_mhz keeps its default: not exposed.
  auto d = DecodeJobResult(Encode(r));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_DOUBLE_EQ(d->measurement.temperature_before_c, 41.5);
  EXPECT_DOUBLE_EQ(d->measurement.clock_before_mhz, 1980);
  EXPECT_DOUBLE_EQ(d->measurement.temperature_after_c, 67.25);
  EXPECT_TRUE(std::isnan(d->measurement.clock_after_mhz));
  EXPECT_EQ(d->measurement.telemetry_source, "nvml:gpu0");
}

TEST(ProtocolTest, ResultFromAnAgentWithoutTelemetryDecodesAsNotExposed) {
  // A DONE result as an agent that predates telemetry sends it: no telemetry keys at all.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(4);
  pk.pack(std::string("job_id"));
  pk.pack(int64_t{9});
  pk.pack(std::string("attempt"));
  pk.pack(1);
  pk.pack(std::string("outcome"));
  pk.pack(std::string("DONE"));
  pk.pack(std::string("measurement"));
  pk.pack_map(4);
  pk.pack(std::string("sensor"));
  pk.pack(std::string("rapl"));
  pk.pack(std::string("repeats"));
  pk.pack_array(1);
  pk.pack(std::map<std::string, double>{{"iterations", 10}, {"time_s", 0.5}, {"energy_j", 3}});
  pk.pack(std::string("time_per_iter_s"));
  pk.pack(0.05);
  pk.pack(std::string("energy_per_iter_j"));
  pk.pack(0.3);
  auto d = DecodeJobResult(std::string_view(buf.data(), buf.size()));
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->measurement.sensor, "rapl");
  EXPECT_DOUBLE_EQ(d->measurement.energy_per_iter_j, 0.3);
  EXPECT_TRUE(std::isnan(d->measurement.temperature_before_c));
  EXPECT_TRUE(std::isnan(d->measurement.temperature_after_c));
  EXPECT_TRUE(std::isnan(d->measurement.clock_before_mhz));
  EXPECT_TRUE(std::isnan(d->measurement.clock_after_mhz));
  EXPECT_EQ(d->measurement.telemetry_source, "");
}

TEST(ProtocolTest, FailureResultNeedsNoMeasurement) {
  JobResult r;
  r.job_id = 3;
  r.attempt = 1;
  r.outcome = Outcome::kSensor;
  r.error = "sensor: window read zero";
  auto d = DecodeJobResult(Encode(r));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->outcome, Outcome::kSensor);
  EXPECT_EQ(d->error, "sensor: window read zero");
}

TEST(ProtocolTest, RejectsBadFrames) {
  EXPECT_FALSE(ParseFrames({"WFP1", "\x08"}).ok());                 // two frames
  EXPECT_FALSE(ParseFrames({"WFP2", "\x08", ""}).ok());             // wrong magic
  EXPECT_FALSE(ParseFrames({"WFP1", "\x08\x08", ""}).ok());         // long command
  EXPECT_FALSE(ParseFrames({"WFP1", std::string_view("\x00", 1), ""}).ok());
  EXPECT_FALSE(ParseFrames({"WFP1", "\x63", ""}).ok());             // unknown command 99
  std::string huge(kMaxBodyBytes + 1, 'x');
  EXPECT_FALSE(ParseFrames({"WFP1", "\x08", huge}).ok());
}

TEST(ProtocolTest, RejectsTruncatedBody) {
  std::string body = Encode(SampleJob());
  for (size_t cut : {size_t{0}, size_t{1}, body.size() / 2, body.size() - 1}) {
    auto d = DecodeJob(std::string_view(body).substr(0, cut));
    EXPECT_FALSE(d.ok()) << "cut at " << cut;
    EXPECT_EQ(d.status().code(), StatusCode::kCorruption);
  }
}

TEST(ProtocolTest, RejectsTrailingBytes) {
  std::string body = Encode(SampleJob()) + "x";
  EXPECT_FALSE(DecodeJob(body).ok());
}

TEST(ProtocolTest, RejectsWrongTypes) {
  msgpack::sbuffer buf;
  msgpack::pack(buf, std::map<std::string, std::string>{{"job_id", "forty-two"}});
  auto d = DecodeJob(std::string_view(buf.data(), buf.size()));
  EXPECT_FALSE(d.ok());

  msgpack::sbuffer arr;
  msgpack::pack(arr, std::vector<int>{1, 2, 3});  // not a map at all
  EXPECT_FALSE(DecodeReady(std::string_view(arr.data(), arr.size())).ok());
}

TEST(ProtocolTest, RejectsUnknownEnumNames) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(3);
  pk.pack(std::string("job_id"));
  pk.pack(int64_t{1});
  pk.pack(std::string("attempt"));
  pk.pack(1);
  pk.pack(std::string("outcome"));
  pk.pack(std::string("EXPLODED"));
  EXPECT_FALSE(DecodeJobResult(std::string_view(buf.data(), buf.size())).ok());
}

TEST(ProtocolTest, RejectsGraphsThatReadLaterNodes) {
  JobSpec job = SampleJob();
  job.graph.nodes[0].inputs = {1};  // reads a later node: a cycle
  EXPECT_FALSE(DecodeJob(Encode(job)).ok());
}

TEST(ProtocolTest, RejectsHugeDeclaredArrays) {
  // A 5-byte body declaring a 2^32-1 element array must not allocate it.
  const char body[] = {'\xdd', '\xff', '\xff', '\xff', '\xff'};
  EXPECT_FALSE(DecodeJob(std::string_view(body, sizeof body)).ok());
}

TEST(ProtocolTest, RejectsReadyWithoutName) {
  ReadyMsg m;
  m.device_class = "cpu";
  EXPECT_FALSE(DecodeReady(Encode(m)).ok());
}

TEST(ProtocolTest, RejectsDoneResultWithNonsenseFigures) {
  JobResult r;
  r.job_id = 1;
  r.attempt = 1;
  r.measurement.sensor = "modeled";
  r.measurement.repeats = {{1, 1, 1}};
  r.measurement.time_per_iter_s = -1;
  r.measurement.energy_per_iter_j = 1;
  EXPECT_FALSE(DecodeJobResult(Encode(r)).ok());
}

TEST(ProtocolTest, RejectsFloatsBeyondInt64) {
  // {"idle_w": 2^64}: msgpack-cxx's encoder is undefined on such doubles, so they never get in.
  const char body[] = {'\x81', '\xa6', 'i', 'd', 'l', 'e', '_', 'w', '\xcb', '\x43', '\xf0', 0, 0, 0, 0, 0, 0};
  EXPECT_FALSE(DecodeMeasurement(std::string_view(body, sizeof body)).ok());
  Measurement m;
  m.idle_w = 1e18;
  EXPECT_TRUE(DecodeMeasurement(Encode(m)).ok());
}

TEST(ProtocolTest, ToleratesUnknownFields) {
  // A newer peer may add fields: an older one ignores them.
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> pk(buf);
  pk.pack_map(2);
  pk.pack(std::string("reason"));
  pk.pack(std::string("shutting down"));
  pk.pack(std::string("future_field"));
  pk.pack(17);
  auto d = DecodeDisconnect(std::string_view(buf.data(), buf.size()));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->reason, "shutting down");
}

}  // namespace
}  // namespace wattfleet
