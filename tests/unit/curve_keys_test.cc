// CurveZMQ key files: generation, the on-disk formats, refusal to overwrite, file modes, and
// errors that name the offending file.
#include "wattfleet/common/curve_keys.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

namespace wattfleet {
namespace {

class CurveKeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wattfleet-curve-keys-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  void WriteText(const std::string& path, const std::string& text) {
    std::ofstream f(path);
    f << text;
  }
  std::string Slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  CurveKeyPair Generate() {
    auto pair = GenerateCurveKeyPair();
    EXPECT_TRUE(pair.ok()) << pair.status().ToString();
    return pair.ok() ? *pair : CurveKeyPair{};
  }
  std::string dir_;
};

TEST_F(CurveKeysTest, GeneratesDistinctZ85Pairs) {
  CurveKeyPair a = Generate(), b = Generate();
  EXPECT_EQ(a.public_key.size(), 40u);
  EXPECT_EQ(a.secret_key.size(), 40u);
  EXPECT_NE(a.public_key, b.public_key);
  EXPECT_NE(a.secret_key, b.secret_key);
}

TEST_F(CurveKeysTest, WriteThenReadRoundTrips) {
  CurveKeyPair pair = Generate();
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "gpu0", pair).ok());

  auto pub = ReadCurvePublicKey(dir_ + "/gpu0.key");
  ASSERT_TRUE(pub.ok()) << pub.status().ToString();
  EXPECT_EQ(pub->public_key, pair.public_key);
  EXPECT_TRUE(pub->secret_key.empty());
  EXPECT_EQ(Slurp(dir_ + "/gpu0.key"), pair.public_key + "\n");

  auto both = ReadCurveKeyPair(dir_ + "/gpu0.key_secret");
  ASSERT_TRUE(both.ok()) << both.status().ToString();
  EXPECT_EQ(both->public_key, pair.public_key);
  EXPECT_EQ(both->secret_key, pair.secret_key);

  // A public key file read as a pair: the public half only, no secret.
  auto only_public = ReadCurveKeyPair(dir_ + "/gpu0.key");
  ASSERT_TRUE(only_public.ok());
  EXPECT_TRUE(only_public->secret_key.empty());
  // The public key can be read out of a secret file; the secret is not handed out.
  auto from_secret = ReadCurvePublicKey(dir_ + "/gpu0.key_secret");
  ASSERT_TRUE(from_secret.ok());
  EXPECT_EQ(from_secret->public_key, pair.public_key);
  EXPECT_TRUE(from_secret->secret_key.empty());
}

TEST_F(CurveKeysTest, SecretFileIsOwnerOnlyAndPublicFileIsReadable) {
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "c", Generate()).ok());
  struct stat st;
  ASSERT_EQ(::stat((dir_ + "/c.key_secret").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(::stat((dir_ + "/c.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  // No temporary file is left behind.
  std::string cmd = "test $(ls -A '" + dir_ + "' | wc -l) -eq 2";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(CurveKeysTest, RefusesToOverwrite) {
  CurveKeyPair first = Generate();
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "a", first).ok());
  Status again = WriteCurveKeyPair(dir_, "a", Generate());
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.message().find(dir_ + "/a.key"), std::string::npos) << again.message();
  auto kept = ReadCurveKeyPair(dir_ + "/a.key_secret");
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->secret_key, first.secret_key);

  // Only the secret half is in the way: nothing is written, not even the free public file.
  WriteText(dir_ + "/b.key_secret", "occupied\n");
  Status blocked = WriteCurveKeyPair(dir_, "b", Generate());
  EXPECT_EQ(blocked.code(), StatusCode::kAlreadyExists);
  EXPECT_NE(blocked.message().find("b.key_secret"), std::string::npos) << blocked.message();
  EXPECT_NE(::access((dir_ + "/b.key").c_str(), F_OK), 0);
}

TEST_F(CurveKeysTest, RefusesBadNamesAndBadKeys) {
  EXPECT_EQ(WriteCurveKeyPair(dir_, "../escape", Generate()).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteCurveKeyPair(dir_, "", Generate()).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteCurveKeyPair(dir_, "x", CurveKeyPair{"short", "short"}).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteCurveKeyPair(dir_ + "/missing-dir", "x", Generate()).code(),
            StatusCode::kIOError);
}

TEST_F(CurveKeysTest, InvalidFilesAreNamedInErrors) {
  const std::string missing = dir_ + "/missing.key";
  auto r = ReadCurvePublicKey(missing);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find(missing), std::string::npos);

  const std::string short_key = dir_ + "/short.key";
  WriteText(short_key, "abc\n");
  r = ReadCurvePublicKey(short_key);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(short_key), std::string::npos);
  EXPECT_NE(r.status().message().find("40 Z85"), std::string::npos) << r.status().message();

  // 40 characters, but '~' and ' ' are outside the Z85 alphabet.
  const std::string bad_chars = dir_ + "/chars.key";
  WriteText(bad_chars, std::string(39, 'a') + "~\n");
  r = ReadCurvePublicKey(bad_chars);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(bad_chars), std::string::npos);

  const std::string empty = dir_ + "/empty.key";
  WriteText(empty, "");
  EXPECT_FALSE(ReadCurvePublicKey(empty).ok());

  // A secret file whose halves belong to different pairs.
  CurveKeyPair a = Generate(), b = Generate();
  const std::string mixed = dir_ + "/mixed.key_secret";
  WriteText(mixed, "public=" + a.public_key + "\nsecret=" + b.secret_key + "\n");
  auto m = ReadCurveKeyPair(mixed);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(mixed), std::string::npos);
  EXPECT_NE(m.status().message().find("does not match"), std::string::npos);

  const std::string bad_secret = dir_ + "/bad.key_secret";
  WriteText(bad_secret, "public=" + a.public_key + "\nsecret=tooshort\n");
  m = ReadCurveKeyPair(bad_secret);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find(bad_secret + ":2"), std::string::npos)
      << m.status().message();
}

TEST_F(CurveKeysTest, AllowlistHoldsEveryKeyFileAndOnlyThose) {
  CurveKeyPair a = Generate(), b = Generate();
  ASSERT_TRUE(WriteCurveKeyPair(dir_, "a", a).ok());  // a.key and a.key_secret
  WriteText(dir_ + "/b.key", b.public_key + "\n");
  WriteText(dir_ + "/notes.txt", "not a key\n");
  WriteText(dir_ + "/.hidden.key", "garbage, but hidden\n");
  auto keys = ReadAllowlist(dir_);
  ASSERT_TRUE(keys.ok()) << keys.status().ToString();
  EXPECT_EQ(*keys, (std::map<std::string, std::string>{{a.public_key, "a"}, {b.public_key, "b"}}));

  // One key under two names would let its holder take either name.
  WriteText(dir_ + "/a-again.key", a.public_key + "\n");
  keys = ReadAllowlist(dir_);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find("a-again.key"), std::string::npos)
      << keys.status().message();
  ASSERT_EQ(::unlink((dir_ + "/a-again.key").c_str()), 0);

  // One bad enrolment file invalidates the list, and the error says which file.
  WriteText(dir_ + "/broken.key", "nonsense\n");
  keys = ReadAllowlist(dir_);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find(dir_ + "/broken.key"), std::string::npos);
}

TEST_F(CurveKeysTest, AllowlistOfMissingOrEmptyDirectory) {
  auto keys = ReadAllowlist(dir_);
  ASSERT_TRUE(keys.ok());
  EXPECT_TRUE(keys->empty());
  auto missing = ReadAllowlist(dir_ + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find(dir_ + "/nope"), std::string::npos);
}

}  // namespace
}  // namespace wattfleet
