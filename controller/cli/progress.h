// How far a long command has got (`run`, `submit --wait`, `import`, `fit`).
//
// On a terminal: one line redrawn in place with '\r' — a bar, done/total, the percentage,
// the elapsed time and an estimate of the time left, and a free-form detail — clipped to the
// terminal's width, at most ten times a second, and ended with a newline by Finish().
// Elsewhere (a pipe, a file, a log): a plain line "LABEL: DONE/TOTAL DETAIL" at most every
// few seconds (5; the commands' WATTFLEET_PROGRESS_INTERVAL_S, below), so that logs stay
// readable; a command that ends before the first such line prints none at all, one that
// printed some prints a last one at Finish().
//
// Results must never share a line with the display: callers Finish() before printing them.
// One thread updates it; log lines from other threads go around the bar (ClearLine, Redraw;
// the commands' logger does that for the bar registered with SetActiveBar).
// The time left is the rate at the last completion applied to what remains, counting down
// between completions.
#pragma once

#include <cstdint>
#include <ostream>
#include <mutex>
#include <string>

#include "wattfleet/common/clock.h"

namespace wattfleet {

struct ProgressOptions {
  // Terminal width in characters; 0: the width of the terminal on stdout (TIOCGWINSZ), 80
  // when it cannot be read.
  int columns = 0;
  // Terminal: at least this long between two redraws (the last state is always drawn by
  // Finish()).
  double redraw_interval_s = 0.1;
  // Plain: at least this long between two lines, and before the first.
  double line_interval_s = 5;
};

class Progress {
 public:
  // `total` may change later (SetTotal): some commands learn of more work as they go.
  Progress(std::ostream& out, bool terminal, std::string label, int64_t total,
           Clock& clock = SystemClock(), ProgressOptions options = {});
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  // Ends a bar still on screen with a newline (an error message must not land on its line),
  // without the final plain line that Finish() prints.
  ~Progress();

  void SetTotal(int64_t total) {
    std::lock_guard<std::mutex> lock(mu_);
    total_ = total;
  }
  // `done` of the total are finished; `detail` says what is going on (shown after the
  // figures, and clipped first when the line is too long).
  void Update(int64_t done, const std::string& detail = "");
  // Draws the last state and ends the line (terminal), or prints the last line (plain, when
  // an earlier one was printed). Later calls do nothing.
  void Finish();

  // For a log line from any thread (a warning): takes the bar off its line, and draws it
  // again after the message, so that the two never share a line.
  void ClearLine();
  void Redraw();

 private:
  std::string BarLine() const;
  std::string PlainLine() const;
  void Draw();

  std::ostream& out_;
  const bool terminal_;
  const std::string label_;
  int64_t total_;
  Clock& clock_;
  const ProgressOptions options_;
  const int columns_;
  const double started_;
  int64_t done_ = 0;
  double done_changed_at_ = 0;  // when done_ last moved
  double rate_ = 0;             // done_ per second from the start to then
  bool cleared_ = false;        // ClearLine() took the bar off; Redraw() puts it back
  std::mutex mu_;               // ClearLine/Redraw come from logging threads
  std::string detail_;
  double last_output_ = -1;   // when the bar was last drawn, or the last plain line printed
  bool printed_ = false;      // a plain line went out (then Finish() prints the last one)
  size_t drawn_width_ = 0;    // of the bar on screen; 0: none
  bool finished_ = false;
};

// The bar that log lines clear and redraw (the commands' logger, main.cc); null: none.
// `only_if`: unregistering, only when it is still that bar.
void SetActiveBar(Progress* bar, Progress* only_if = nullptr);
void ClearActiveBar();
void RedrawActiveBar();

// The width of the terminal on `fd`, or 80 when it is not a terminal or does not say.
int TerminalColumns(int fd);

// The options of the commands' displays: the defaults, except that the environment variable
// WATTFLEET_PROGRESS_INTERVAL_S (seconds, >= 0; 0: a line on every update) sets the plain
// lines' interval, for logs that want more or fewer of them. A value that is not such a
// number is ignored, with a warning on stderr.
ProgressOptions CliProgressOptions();

// The display a command shows: a bar on stdout when stdout is a terminal and no --json
// document goes there; otherwise plain lines on `plain` (stdout for a human's report, stderr
// where stdout carries something a script reads: the --json document, `submit`'s id).
// Options from CliProgressOptions().
Progress MakeCliProgress(std::string label, int64_t total, bool json, std::ostream& plain);

}  // namespace wattfleet
