// libFuzzer target for the wire-protocol decoder (common/include/wattfleet/common/protocol.h).
//
// Input layout: byte 0 is a selector, the rest is the payload.
//   - selector & 0x0f picks the decoder run on the whole payload: 0 READY, 1 WELCOME, 2 JOB,
//     3 RESULT, 4 ACK, 5 PROGRESS, 6 DISCONNECT, 7 measurement, 8..15 every decoder.
//   - 1 + (selector >> 4) % 5 is the number of frames the payload is also split into for
//     ParseFrames: every frame but the last is [length byte][that many bytes] (clamped to what
//     is left), the last frame is whatever remains. When ParseFrames accepts the frames, the
//     body goes to the decoder for its command, as the dispatcher and the agent do.
//
// Properties checked (any violation aborts, which libFuzzer reports as a crash):
//   - nothing crashes, trips ASan/UBSan or leaks, and no exception escapes (the target catches
//     nothing on purpose: decoding promises never to throw);
//   - every refusal is a non-empty Corruption status (protocol.h: "are Corruption errors");
//   - ParseFrames' envelope is the command byte and the third frame, and MakeFrames' frames
//     parse back to the same envelope;
//   - whenever a decoder accepts a body, Encode of the value decodes again, and encoding that
//     second value gives the same bytes: Encode(Decode(Encode(x))) == Encode(x). (Encode(x) is
//     not compared with the input itself: unknown fields are dropped, bin becomes str, floats
//     widen and integral doubles pack as integers, all legitimately.)
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "wattfleet/common/protocol.h"

namespace wattfleet {
namespace {

std::string Hex(std::string_view bytes) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "protocol_fuzz: property violated: %s: %s\n", what, detail.c_str());
  std::fflush(stderr);
  std::abort();
}

void CheckRefusal(const Status& s, const char* what) {
  if (s.ok()) Fail(what, "a refusal with an OK status");
  if (s.code() != StatusCode::kCorruption) Fail(what, "refused with " + s.ToString());
  if (s.message().empty()) Fail(what, "refused with an empty message");
}

template <typename T>
using DecodeFn = Result<T> (*)(std::string_view);

// Decodes `body`; on success checks the encode/decode round trip.
template <typename T>
void DecodeAndCheck(DecodeFn<T> decode, std::string_view body, const char* what) {
  Result<T> first = decode(body);
  if (!first.ok()) {
    CheckRefusal(first.status(), what);
    return;
  }
  const std::string once = Encode(*first);
  Result<T> second = decode(once);
  if (!second.ok()) {
    Fail(what, "re-decoding Encode() of an accepted body failed: " + second.status().ToString() +
                   "; encoded=" + Hex(once));
  }
  const std::string twice = Encode(*second);
  if (twice != once) {
    Fail(what, "Encode(Decode(Encode(x))) != Encode(x): " + Hex(twice) + " vs " + Hex(once));
  }
}

void RunDecoder(unsigned index, std::string_view body) {
  switch (index) {
    case 0: DecodeAndCheck<ReadyMsg>(&DecodeReady, body, "DecodeReady"); break;
    case 1: DecodeAndCheck<WelcomeMsg>(&DecodeWelcome, body, "DecodeWelcome"); break;
    case 2: DecodeAndCheck<JobSpec>(&DecodeJob, body, "DecodeJob"); break;
    case 3: DecodeAndCheck<JobResult>(&DecodeJobResult, body, "DecodeJobResult"); break;
    case 4: DecodeAndCheck<AckMsg>(&DecodeAck, body, "DecodeAck"); break;
    case 5: DecodeAndCheck<ProgressMsg>(&DecodeProgress, body, "DecodeProgress"); break;
    case 6: DecodeAndCheck<DisconnectMsg>(&DecodeDisconnect, body, "DecodeDisconnect"); break;
    case 7: DecodeAndCheck<Measurement>(&DecodeMeasurement, body, "DecodeMeasurement"); break;
    default:
      for (unsigned i = 0; i < 8; ++i) RunDecoder(i, body);
      break;
  }
}

// The decoder a peer runs for each command (HEARTBEAT's body is never decoded).
void DecodeForCommand(Command command, std::string_view body) {
  switch (command) {
    case Command::kReady: RunDecoder(0, body); break;
    case Command::kWelcome: RunDecoder(1, body); break;
    case Command::kJob: RunDecoder(2, body); break;
    case Command::kResult:
    case Command::kNack: RunDecoder(3, body); break;
    case Command::kAck: RunDecoder(4, body); break;
    case Command::kProgress: RunDecoder(5, body); break;
    case Command::kDisconnect: RunDecoder(6, body); break;
    case Command::kHeartbeat: break;
  }
}

void FuzzFrames(unsigned frame_count, std::string_view rest) {
  std::vector<std::string_view> frames;
  for (unsigned i = 0; i + 1 < frame_count; ++i) {
    size_t len = 0;
    if (!rest.empty()) {
      len = static_cast<unsigned char>(rest[0]);
      rest.remove_prefix(1);
    }
    if (len > rest.size()) len = rest.size();
    frames.push_back(rest.substr(0, len));
    rest.remove_prefix(len);
  }
  frames.push_back(rest);

  Result<Envelope> env = ParseFrames(frames);
  if (!env.ok()) {
    CheckRefusal(env.status(), "ParseFrames");
    return;
  }
  if (frames.size() != 3 || frames[0] != kProtocolMagic || frames[1].size() != 1 ||
      static_cast<uint8_t>(frames[1][0]) != static_cast<uint8_t>(env->command) ||
      env->body != frames[2]) {
    Fail("ParseFrames", "accepted frames but the envelope does not match them");
  }
  if (CommandName(env->command) == "UNKNOWN") Fail("ParseFrames", "accepted an unknown command");

  // MakeFrames is ParseFrames' inverse.
  std::array<std::string, 3> made = MakeFrames(env->command, env->body);
  Result<Envelope> again = ParseFrames({made[0], made[1], made[2]});
  if (!again.ok() || again->command != env->command || again->body != env->body) {
    Fail("MakeFrames", "frames made from an accepted envelope do not parse back to it");
  }

  DecodeForCommand(env->command, env->body);
}

}  // namespace
}  // namespace wattfleet

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const unsigned selector = data[0];
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  wattfleet::RunDecoder(selector & 0x0f, rest);
  wattfleet::FuzzFrames(1 + (selector >> 4) % 5, rest);
  return 0;
}
