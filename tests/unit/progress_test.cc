// The progress display against a string stream and a fake clock: a bar redrawn with '\r' on a
// terminal (clipped, rate-limited, ended with a newline), plain lines elsewhere.
#include "progress.h"

#include <spdlog/spdlog.h>

#include "bar_log_sink.h"
#include "wattfleet/common/cli_parse.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

namespace wattfleet {
namespace {

class FakeClock final : public Clock {
 public:
  double NowSeconds() override { return now_; }
  int64_t UnixMillis() override { return static_cast<int64_t>(now_ * 1000); }
  void SleepFor(double seconds) override { now_ += seconds; }
  void Advance(double seconds) { now_ += seconds; }

 private:
  double now_ = 1000;
};

// The screen states a terminal shows: the text between one '\r' and the next.
std::vector<std::string> Redraws(const std::string& out) {
  std::vector<std::string> frames;
  size_t at = out.find('\r');
  while (at != std::string::npos) {
    const size_t next = out.find('\r', at + 1);
    frames.push_back(out.substr(at + 1, next == std::string::npos ? std::string::npos
                                                                  : next - at - 1));
    at = next;
  }
  return frames;
}

ProgressOptions Columns(int n) {
  ProgressOptions o;
  o.columns = n;
  return o;
}

TEST(ProgressTest, TerminalRedrawsOneLineAndEndsItWithANewline) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, /*terminal=*/true, "fit", 4, clock, Columns(120));
  p.Update(1, "kfold energy, macs");
  clock.Advance(1);
  p.Update(2, "kfold energy, thor");
  clock.Advance(1);
  p.Finish();
  const std::string s = out.str();
  const auto frames = Redraws(s);
  ASSERT_EQ(frames.size(), 3u) << s;
  EXPECT_NE(frames[0].find("fit ["), std::string::npos) << frames[0];
  EXPECT_NE(frames[0].find("1/4"), std::string::npos) << frames[0];
  EXPECT_NE(frames[0].find(" 25%"), std::string::npos) << frames[0];
  EXPECT_NE(frames[0].find("kfold energy, macs"), std::string::npos) << frames[0];
  // Half done after 1 s: 1 s more to go.
  EXPECT_NE(frames[1].find("2/4"), std::string::npos) << frames[1];
  EXPECT_NE(frames[1].find(" 50%"), std::string::npos) << frames[1];
  EXPECT_NE(frames[1].find("0:01 ETA 0:01"), std::string::npos) << frames[1];
  // Finish draws the state it was left in, then ends the line: nothing before the first '\r',
  // one newline, at the very end.
  EXPECT_NE(frames[2].find("2/4"), std::string::npos) << frames[2];
  EXPECT_EQ(s.front(), '\r');
  EXPECT_EQ(s.back(), '\n');
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1) << s;
  // A later Update or Finish draws nothing.
  p.Update(3, "late");
  p.Finish();
  EXPECT_EQ(out.str(), s);
}

TEST(ProgressTest, TheTimeLeftCountsDownBetweenCompletions) {
  FakeClock clock;
  std::ostringstream out;
  ProgressOptions o = Columns(120);
  o.redraw_interval_s = 0;
  Progress p(out, true, "run", 4, clock, o);
  clock.Advance(10);
  p.Update(1);  // 10 s per job: 30 s left
  clock.Advance(5);
  p.Update(1);  // nothing finished since: 25 s left, not 45
  clock.Advance(40);
  p.Update(1);  // later than the rate says: 0, never negative
  const auto frames = Redraws(out.str());
  ASSERT_EQ(frames.size(), 3u) << out.str();
  EXPECT_NE(frames[0].find("ETA 0:30"), std::string::npos) << frames[0];
  EXPECT_NE(frames[1].find("ETA 0:25"), std::string::npos) << frames[1];
  EXPECT_NE(frames[2].find("ETA 0:00"), std::string::npos) << frames[2];
}

TEST(ProgressTest, ALogLineTakesTheBarOffItsLineAndDrawsItAgain) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, true, "run", 4, clock, Columns(120));
  p.Update(1, "working");
  const size_t before = out.str().size();
  p.ClearLine();
  const std::string cleared = out.str().substr(before);
  // '\r', blanks over the whole bar, '\r': the log line starts on an empty line.
  ASSERT_GE(cleared.size(), 3u);
  EXPECT_EQ(cleared.front(), '\r');
  EXPECT_EQ(cleared.back(), '\r');
  EXPECT_EQ(cleared.find_first_not_of(' ', 1), cleared.size() - 1) << cleared;
  p.Redraw();
  EXPECT_NE(out.str().substr(before + cleared.size()).find("1/4"), std::string::npos);
  // Nothing to redraw without a clear, and nothing after Finish.
  const size_t drawn = out.str().size();
  p.Redraw();
  EXPECT_EQ(out.str().size(), drawn);
  p.Finish();
  const size_t finished = out.str().size();
  p.ClearLine();
  p.Redraw();
  EXPECT_EQ(out.str().size(), finished);
}

TEST(ProgressTest, TheCommandsLoggerGoesAroundTheRegisteredBar) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, true, "run", 4, clock, Columns(120));
  SetActiveBar(&p);
  p.Update(2, "jobs");
  const size_t drawn = out.str().size();
  spdlog::logger logger("test", std::make_shared<BarAwareSink>(spdlog::color_mode::never));
  logger.warn("agent lost");
  const std::string around = out.str().substr(drawn);
  SetActiveBar(nullptr, &p);
  // Cleared ("\r", blanks, "\r") before the message, drawn again after it.
  ASSERT_GE(around.size(), 3u);
  EXPECT_EQ(around.front(), '\r');
  const size_t second = around.find('\r', 1);
  ASSERT_NE(second, std::string::npos);
  EXPECT_EQ(around.find_first_not_of(' ', 1), second) << around;
  EXPECT_NE(around.find("2/4", second), std::string::npos) << around;
  // Unregistered: a log line leaves the display alone.
  const size_t before = out.str().size();
  logger.warn("again");
  EXPECT_EQ(out.str().size(), before);
}

TEST(ProgressTest, NoColorTurnsTheLogsColoursOff) {
  // no-color.org: set to anything but empty, no colour whatever the terminal.
  ::setenv("NO_COLOR", "1", 1);
  EXPECT_EQ(LogColours(), spdlog::color_mode::never);
  ::setenv("NO_COLOR", "", 1);
  EXPECT_EQ(LogColours(), spdlog::color_mode::automatic);
  ::unsetenv("NO_COLOR");
  EXPECT_EQ(LogColours(), spdlog::color_mode::automatic);
}

TEST(ProgressTest, TerminalLineIsClippedToTheTerminalWidth) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, true, "import", 10, clock, Columns(50));
  p.Update(3, std::string(200, 'x') + " end of a very long detail");
  p.Finish();
  const auto frames = Redraws(out.str());
  ASSERT_FALSE(frames.empty());
  for (std::string f : frames) {
    if (!f.empty() && f.back() == '\n') f.pop_back();
    // The last column stays free so that the terminal does not wrap.
    EXPECT_EQ(f.size(), 49u) << f;
    EXPECT_EQ(f.find("end of a very long detail"), std::string::npos) << f;
    EXPECT_NE(f.find("3/10"), std::string::npos) << f;  // the figures survive the clip
  }
}

TEST(ProgressTest, TerminalBlanksWhatALongerLineLeftBehind) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, true, "run", 2, clock, Columns(200));
  p.Update(0, "a long detail that will go away");
  clock.Advance(1);
  p.Update(1, "short");
  const auto frames = Redraws(out.str());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_GE(frames[1].size(), frames[0].size());  // padded with spaces over the old text
  EXPECT_EQ(frames[1].find("will go away"), std::string::npos);
}

TEST(ProgressTest, TerminalRedrawsAtMostTenTimesASecond) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, true, "fit", 1000, clock, Columns(100));
  // 1 000 updates over one second, one every millisecond.
  for (int i = 1; i <= 1000; ++i) {
    p.Update(i);
    clock.Advance(0.001);
  }
  const size_t before_finish = Redraws(out.str()).size();
  EXPECT_GE(before_finish, 9u);
  EXPECT_LE(before_finish, 11u);
  // Updates within the interval are not drawn, but the last state is drawn by Finish().
  p.Finish();
  const auto frames = Redraws(out.str());
  EXPECT_EQ(frames.size(), before_finish + 1);
  EXPECT_NE(frames.back().find("1000/1000 100%"), std::string::npos) << frames.back();
}

TEST(ProgressTest, PlainModePrintsALineEveryFewSecondsAndNoCarriageReturn) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, /*terminal=*/false, "progress", 28, clock, Columns(40));
  p.Update(1, "jobs measured, 2 agents alive");
  EXPECT_EQ(out.str(), "") << "no line before the first interval";
  for (int i = 2; i <= 12; ++i) {
    clock.Advance(1);
    p.Update(i, "jobs measured, 2 agents alive");
  }
  p.Finish();
  const std::string s = out.str();
  EXPECT_EQ(s.find('\r'), std::string::npos) << s;
  // 5 s and 10 s after the start, then the last state at Finish().
  EXPECT_EQ(s,
            "progress: 6/28 jobs measured, 2 agents alive\n"
            "progress: 11/28 jobs measured, 2 agents alive\n"
            "progress: 12/28 jobs measured, 2 agents alive\n");
}

TEST(ProgressTest, PlainModeIsSilentForAShortCommand) {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress p(out, false, "fit", 3, clock);
    p.Update(1);
    clock.Advance(0.5);
    p.Update(3);
    p.Finish();
  }
  EXPECT_EQ(out.str(), "");
}

TEST(ProgressTest, AnAbandonedBarEndsItsLine) {
  FakeClock clock;
  std::ostringstream out;
  {
    Progress p(out, true, "import", 2, clock, Columns(80));
    p.Update(1, "a.csv");
  }  // an error path: no Finish()
  const std::string s = out.str();
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back(), '\n');
}

TEST(ProgressTest, TotalCanGrowAndUnknownTotalShowsTheCount) {
  FakeClock clock;
  std::ostringstream out;
  Progress p(out, true, "campaign 1", 0, clock, Columns(100));
  p.Update(0);
  clock.Advance(1);
  p.SetTotal(10);
  p.Update(5);
  clock.Advance(1);
  p.SetTotal(20);  // more work found (active profiling)
  p.Update(5);
  const auto frames = Redraws(out.str());
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].find('%'), std::string::npos) << frames[0];
  EXPECT_NE(frames[1].find("5/10  50%"), std::string::npos) << frames[1];
  EXPECT_NE(frames[2].find("5/20  25%"), std::string::npos) << frames[2];
}

}  // namespace
}  // namespace wattfleet
