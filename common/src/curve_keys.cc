#include "wattfleet/common/curve_keys.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>
#include <zmq.h>

#include "wattfleet/common/text.h"

namespace wattfleet {
namespace {

constexpr size_t kZ85KeyChars = 40;
constexpr size_t kBinaryKeyBytes = 32;

std::string ErrnoText(int err) { return std::strerror(err); }

// A file descriptor closed on every path out.
struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// A key is valid when it is 40 characters that decode to 32 bytes and encode back to the same
// text: the round trip rejects characters outside the Z85 alphabet and 5-character groups
// that overflow 32 bits, which zmq_z85_decode does not reject on every libzmq version.
bool ValidZ85Key(const std::string& key) {
  if (key.size() != kZ85KeyChars) return false;
  uint8_t binary[kBinaryKeyBytes];
  if (zmq_z85_decode(binary, key.c_str()) == nullptr) return false;
  char text[kZ85KeyChars + 1];
  if (zmq_z85_encode(text, binary, kBinaryKeyBytes) == nullptr) return false;
  return key == std::string(text, kZ85KeyChars);
}

Result<std::string> Slurp(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError(path + ": " + ErrnoText(err));
  }
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(path + ": not a regular file");
  // A key file is under 200 bytes; anything much larger is not one (and is not read whole).
  if (st.st_size > 4096) return Status::InvalidArgument(path + ": too large for a key file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::PermissionDenied(path + ": cannot read (" + ErrnoText(errno) + ")");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses either format: a secret file (`public=` and `secret=` lines) or a public key file
// (the key alone on one line). Errors name the file and, where there is one, the line.
Result<CurveKeyPair> ParseKeyFile(const std::string& path) {
  WF_ASSIGN_OR_RETURN(std::string text, Slurp(path));
  std::vector<std::string> lines;
  {
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) lines.push_back(Trim(line));
  }
  CurveKeyPair pair;
  bool key_value = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(i + 1);
    const size_t eq = line.find('=');
    // Z85's alphabet contains '=', so a bare public key may hold one: only `public=` and
    // `secret=` prefixes mark the key=value format.
    const bool is_public = line.rfind("public=", 0) == 0;
    const bool is_secret = line.rfind("secret=", 0) == 0;
    if (is_public || is_secret) {
      key_value = true;
      std::string value = Trim(line.substr(eq + 1));
      if (!ValidZ85Key(value)) {
        return Status::InvalidArgument(where + ": " + (is_public ? "public" : "secret") +
                                       " key is not 40 Z85 characters");
      }
      std::string& slot = is_public ? pair.public_key : pair.secret_key;
      if (!slot.empty()) {
        return Status::InvalidArgument(where + ": " + (is_public ? "public" : "secret") +
                                       " key given twice");
      }
      slot = std::move(value);
      continue;
    }
    if (key_value || !pair.public_key.empty()) {
      return Status::InvalidArgument(where + ": unexpected line in a key file");
    }
    if (!ValidZ85Key(line)) {
      return Status::InvalidArgument(where + ": not a CURVE key (40 Z85 characters)");
    }
    pair.public_key = line;
  }
  if (pair.public_key.empty()) {
    return Status::InvalidArgument(path + ": no public key in the file");
  }
  if (!pair.secret_key.empty()) {
    // A pair whose halves do not belong together would fail every handshake with no hint why.
    char derived[kZ85KeyChars + 1];
    if (zmq_curve_public(derived, pair.secret_key.c_str()) != 0) {
      return Status::InvalidArgument(path + ": cannot derive the public key from the secret key");
    }
    if (pair.public_key != std::string(derived, kZ85KeyChars)) {
      return Status::InvalidArgument(path + ": the public key does not match the secret key");
    }
  }
  return pair;
}

bool ValidKeyName(const std::string& name) {
  if (name.empty() || name.size() > 128 || name[0] == '.') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// Writes `content` to `path` with `mode`, never replacing an existing file, and never leaving
// a half-written one: the bytes go to a temporary file in the same directory, are synced, then
// hard-linked to the final name (link fails with EEXIST rather than overwrite).
Status WriteNewFile(const std::string& dir, const std::string& path, const std::string& content,
                    mode_t mode) {
  std::string tmpl = dir + "/.wattfleet-key-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  Fd fd(::mkstemp(buf.data()));  // created 0600: the secret is never readable by others
  if (fd.fd < 0) return Status::IOError(dir + ": cannot create a file (" + ErrnoText(errno) + ")");
  const std::string tmp(buf.data());
  struct Unlink {  // the temporary name goes away whatever happens
    std::string path;
    ~Unlink() { ::unlink(path.c_str()); }
  } unlink_tmp{tmp};
  if (::fchmod(fd.fd, mode) != 0) {
    return Status::IOError(path + ": cannot set mode (" + ErrnoText(errno) + ")");
  }
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd.fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(path + ": cannot write (" + ErrnoText(errno) + ")");
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd.fd) != 0) {
    return Status::IOError(path + ": cannot sync (" + ErrnoText(errno) + ")");
  }
  if (::link(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    if (err == EEXIST) return Status::AlreadyExists(path + ": already exists, not overwritten");
    return Status::IOError(path + ": " + ErrnoText(err));
  }
  // The new name must survive a crash too.
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.fd >= 0) (void)::fsync(dfd.fd);
  return Status::OK();
}

}  // namespace

Result<CurveKeyPair> GenerateCurveKeyPair() {
  if (!zmq_has("curve")) {
    return Status::Unavailable("this libzmq was built without CURVE support");
  }
  char public_key[kZ85KeyChars + 1];
  char secret_key[kZ85KeyChars + 1];
  if (zmq_curve_keypair(public_key, secret_key) != 0) {
    return Status::Internal(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
  }
  return CurveKeyPair{std::string(public_key, kZ85KeyChars),
                      std::string(secret_key, kZ85KeyChars)};
}

Status WriteCurveKeyPair(const std::string& dir, const std::string& name,
                         const CurveKeyPair& pair) {
  if (!ValidKeyName(name)) {
    return Status::InvalidArgument("key name '" + name +
                                   "': use letters, digits, '-', '_' and '.' (not first)");
  }
  if (!ValidZ85Key(pair.public_key) || !ValidZ85Key(pair.secret_key)) {
    return Status::InvalidArgument("key pair " + name + ": keys must be 40 Z85 characters");
  }
  const std::string public_path = dir + "/" + name + ".key";
  const std::string secret_path = dir + "/" + name + ".key_secret";
  // Checked up front so that a refused pair leaves nothing behind; link() below still refuses
  // a file that appears in between.
  for (const std::string& p : {public_path, secret_path}) {
    if (Exists(p)) return Status::AlreadyExists(p + ": already exists, not overwritten");
  }
  WF_RETURN_IF_ERROR(WriteNewFile(dir, secret_path,
                                  "public=" + pair.public_key + "\nsecret=" + pair.secret_key +
                                      "\n",
                                  0600));
  Status s = WriteNewFile(dir, public_path, pair.public_key + "\n", 0644);
  if (!s.ok()) {
    ::unlink(secret_path.c_str());  // half a pair is of no use; we created it just now
    return s;
  }
  return Status::OK();
}

Result<CurveKeyPair> ReadCurvePublicKey(const std::string& path) {
  WF_ASSIGN_OR_RETURN(CurveKeyPair pair, ParseKeyFile(path));
  pair.secret_key.clear();  // a secret file given where a public key is expected: keep the public half
  return pair;
}

Result<CurveKeyPair> ReadCurveKeyPair(const std::string& path) { return ParseKeyFile(path); }

Result<std::map<std::string, std::string>> ReadAllowlist(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), &::closedir);
  if (!d) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(dir + ": no such directory");
    return Status::IOError(dir + ": cannot list (" + ErrnoText(err) + ")");
  }
  std::map<std::string, std::string> keys;
  errno = 0;
  while (const dirent* e = ::readdir(d.get())) {
    const std::string name = e->d_name;
    // Hidden files (editor swap files, our own temporaries) are never enrolments.
    if (name.empty() || name[0] == '.') continue;
    if (name.size() <= 4 || name.compare(name.size() - 4, 4, ".key") != 0) continue;
    WF_ASSIGN_OR_RETURN(CurveKeyPair pair, ReadCurvePublicKey(dir + "/" + name));
    const std::string agent = name.substr(0, name.size() - 4);
    auto [it, fresh] = keys.emplace(pair.public_key, agent);
    if (!fresh) {
      return Status::InvalidArgument(dir + ": one key is enrolled as both " + it->second +
                                     ".key and " + name + "; remove one");
    }
    errno = 0;
  }
  if (errno != 0) return Status::IOError(dir + ": cannot list (" + ErrnoText(errno) + ")");
  return keys;
}

}  // namespace wattfleet
