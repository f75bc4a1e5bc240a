// CurveZMQ key pairs on disk (Z85 text, 40 characters per key).
//
// A key pair is two files: NAME.key (public key, one line) and NAME.key_secret (public and
// secret key, `public=...` and `secret=...` lines, mode 0600). An agents allowlist directory
// holds public key files (*.key), one per enrolled agent: NAME.key enrols the agent NAME, and
// only the holder of that key may register under that name.
#pragma once

#include <map>
#include <string>

#include "wattfleet/common/status.h"

namespace wattfleet {

struct CurveKeyPair {
  std::string public_key;  // Z85, 40 characters
  std::string secret_key;  // Z85, 40 characters; empty when only the public key is known
};

// A fresh key pair (zmq_curve_keypair). Unavailable when libzmq has no CURVE support.
Result<CurveKeyPair> GenerateCurveKeyPair();

// Writes DIR/NAME.key and DIR/NAME.key_secret (0600), atomically each; refuses to overwrite.
Status WriteCurveKeyPair(const std::string& dir, const std::string& name,
                         const CurveKeyPair& pair);

// Reads a public key file (NAME.key) or a secret file (NAME.key_secret, both keys). Errors
// name the file and what is wrong (missing, unreadable, not 40 Z85 characters).
Result<CurveKeyPair> ReadCurvePublicKey(const std::string& path);
Result<CurveKeyPair> ReadCurveKeyPair(const std::string& path);

// Every valid public key in DIR/*.key, mapped to the agent name it enrols (the file name
// without ".key"). Invalid files are errors naming the file, and so is one key enrolled under
// two names (either name could then be taken by the other's holder).
Result<std::map<std::string, std::string>> ReadAllowlist(const std::string& dir);

}  // namespace wattfleet
