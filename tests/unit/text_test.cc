// Tests of the text helpers every target uses (common/src/text.cc).
#include "wattfleet/common/text.h"

#include <gtest/gtest.h>

namespace wattfleet {
namespace {

TEST(Text, TrimAndCount) {
  EXPECT_EQ(Trim(" \t a b \r\n"), "a b");
  EXPECT_EQ(Trim(""), "");
  EXPECT_EQ(Count(1, "agent"), "1 agent");
  EXPECT_EQ(Count(0, "agent"), "0 agents");
  EXPECT_EQ(Count(2, "job"), "2 jobs");
}

TEST(Text, SuggestionsAreForTyposAndTruncationsOnly) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(Suggestion("warmup_mss", {"warmup_ms", "cooldown_ms"}),
            " (did you mean 'warmup_ms'?)");
  EXPECT_EQ(Suggestion("warmup", {"warmup_ms", "cooldown_ms"}), " (did you mean 'warmup_ms'?)");
  EXPECT_EQ(Suggestion("banana", {"warmup_ms", "cooldown_ms"}), "");
}

TEST(Text, NumbersAreTheWholeStringOrNothing) {
  EXPECT_EQ(ParseInt("42"), 42);
  EXPECT_EQ(ParseInt("-7"), -7);
  EXPECT_FALSE(ParseInt("42x").has_value());
  EXPECT_FALSE(ParseInt("99999999999999999999").has_value());
  EXPECT_EQ(ParseDouble("2.5e3"), 2500.0);
  for (const char* bad : {"0x10", "inf", "nan", "1.5 ", ""}) {
    EXPECT_FALSE(ParseDouble(bad).has_value()) << bad;
  }
}

TEST(Text, HexRoundTripsAndRefusesWhatIsNotHex) {
  const std::string bytes("\x00\x7f\x80\xff wattfleet", 14);
  EXPECT_EQ(HexOf(std::string_view("\x01\xab", 2)), "01ab");
  EXPECT_EQ(BytesOfHex(HexOf(bytes)), bytes);
  EXPECT_EQ(BytesOfHex("0A0b"), std::string("\x0a\x0b", 2));
  for (const char* bad : {"0", "0g", "zz", "012"}) EXPECT_FALSE(BytesOfHex(bad)) << bad;
  EXPECT_EQ(BytesOfHex(""), std::string());
}

TEST(Text, UtcTextFormatsUnixMilliseconds) {
  EXPECT_EQ(UtcText(0, "%Y-%m-%d %H:%M:%S"), "1970-01-01 00:00:00");
  // A year of days, then 1 h 2 min 3 s; the milliseconds are dropped.
  EXPECT_EQ(UtcText(int64_t{86400000} * 365 + 3723999, "%Y-%m-%dT%H:%M:%SZ"),
            "1971-01-01T01:02:03Z");
}

}  // namespace
}  // namespace wattfleet
