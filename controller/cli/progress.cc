#include "progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <utility>

namespace wattfleet {
namespace {

constexpr int kBarWidth = 20;

// M:SS, or H:MM:SS from an hour on.
std::string Duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof(buf), "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}

// At most `width` bytes, cut before a UTF-8 continuation byte rather than inside a character.
std::string Clip(std::string line, size_t width) {
  if (line.size() <= width) return line;
  size_t cut = width;
  while (cut > 0 && (static_cast<unsigned char>(line[cut]) & 0xC0) == 0x80) --cut;
  line.resize(cut);
  return line;
}

}  // namespace

int TerminalColumns(int fd) {
  struct winsize ws {};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

Progress::Progress(std::ostream& out, bool terminal, std::string label, int64_t total,
                   Clock& clock, ProgressOptions options)
    : out_(out),
      terminal_(terminal),
      label_(std::move(label)),
      total_(total),
      clock_(clock),
      options_(options),
      columns_(options.columns > 0 ? options.columns : TerminalColumns(STDOUT_FILENO)),
      started_(clock.NowSeconds()),
      last_output_(started_) {
  // A bar appears at once (the first Update draws it); plain lines wait a full interval.
  if (terminal_) last_output_ = -1;
  // Only a bar on the real terminal is one the commands' log lines must go around.
  if (terminal_ && &out_ == &std::cout) SetActiveBar(this);
}

Progress::~Progress() {
  SetActiveBar(nullptr, this);
  std::lock_guard<std::mutex> lock(mu_);
  if (!finished_ && drawn_width_ > 0) {
    out_ << "\n";
    out_.flush();
  }
}

void Progress::ClearLine() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!terminal_ || finished_ || drawn_width_ == 0) return;
  out_ << '\r' << std::string(drawn_width_, ' ') << '\r';
  out_.flush();
  drawn_width_ = 0;
  cleared_ = true;
}

void Progress::Redraw() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!terminal_ || finished_ || !cleared_) return;
  cleared_ = false;
  Draw();
}

void Progress::Update(int64_t done, const std::string& detail) {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  const double now = clock_.NowSeconds();
  if (done != done_) {
    // The rate is taken when the count moves, not at every redraw: between two completions
    // the estimate then counts down instead of climbing with the elapsed time.
    done_ = done;
    done_changed_at_ = now;
    rate_ = done_ > 0 && now > started_ ? static_cast<double>(done_) / (now - started_) : 0;
  }
  detail_ = detail;
  const double interval = terminal_ ? options_.redraw_interval_s : options_.line_interval_s;
  if (last_output_ >= 0 && now - last_output_ < interval) return;
  // A log line is being written where the bar was: Redraw() puts it back after.
  if (cleared_) return;
  last_output_ = now;
  Draw();
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  if (terminal_) {
    Draw();
    out_ << "\n";
    out_.flush();
  } else if (printed_) {
    Draw();
  }
}

void Progress::Draw() {
  if (!terminal_) {
    out_ << PlainLine() << "\n";
    out_.flush();
    printed_ = true;
    return;
  }
  // The last column stays empty: writing into it makes some terminals wrap at once.
  const std::string line = Clip(BarLine(), static_cast<size_t>(std::max(1, columns_ - 1)));
  out_ << '\r' << line;
  // Blank what a longer previous line left behind.
  if (line.size() < drawn_width_) out_ << std::string(drawn_width_ - line.size(), ' ');
  drawn_width_ = std::max(drawn_width_, line.size());
  out_.flush();
}

std::string Progress::BarLine() const {
  const double elapsed = clock_.NowSeconds() - started_;
  std::string line = label_ + " [";
  if (total_ > 0) {
    const double fraction = std::clamp(static_cast<double>(done_) / total_, 0.0, 1.0);
    const int filled = static_cast<int>(fraction * kBarWidth);
    line += std::string(filled, '#') + std::string(kBarWidth - filled, '.');
    char figures[96];
    std::snprintf(figures, sizeof(figures), "] %lld/%lld %3d%% %s",
                  static_cast<long long>(done_), static_cast<long long>(total_),
                  static_cast<int>(fraction * 100), Duration(elapsed).c_str());
    line += figures;
    if (done_ > 0 && done_ < total_ && rate_ > 0) {
      const double since = clock_.NowSeconds() - done_changed_at_;
      const double left = static_cast<double>(total_ - done_) / rate_ - since;
      line += " ETA " + Duration(std::max(0.0, left));
    }
  } else {
    // Nothing known to do yet: the count alone.
    line += std::string(kBarWidth, '.') + "] " + std::to_string(done_) + " " + Duration(elapsed);
  }
  if (!detail_.empty()) line += "  " + detail_;
  return line;
}

std::string Progress::PlainLine() const {
  std::string line = label_ + ": " + std::to_string(done_) + "/" + std::to_string(total_);
  if (!detail_.empty()) line += " " + detail_;
  return line;
}

ProgressOptions CliProgressOptions() {
  ProgressOptions options;
  const char* env = std::getenv("WATTFLEET_PROGRESS_INTERVAL_S");
  if (env == nullptr || *env == '\0') return options;
  char* end = nullptr;
  const double seconds = std::strtod(env, &end);
  if (*end != '\0' || !std::isfinite(seconds) || seconds < 0) {
    std::cerr << "wattfleet: WATTFLEET_PROGRESS_INTERVAL_S=" << env
              << ": not a number of seconds >= 0; progress lines every "
              << options.line_interval_s << " s\n";
    return options;
  }
  options.line_interval_s = seconds;
  return options;
}

namespace {

std::mutex active_mu;
Progress* active_bar = nullptr;  // guarded by active_mu

}  // namespace

void SetActiveBar(Progress* bar, Progress* only_if) {
  std::lock_guard<std::mutex> lock(active_mu);
  if (bar != nullptr || active_bar == only_if) active_bar = bar;
}

void ClearActiveBar() {
  std::lock_guard<std::mutex> lock(active_mu);
  if (active_bar != nullptr) active_bar->ClearLine();
}

void RedrawActiveBar() {
  std::lock_guard<std::mutex> lock(active_mu);
  if (active_bar != nullptr) active_bar->Redraw();
}

Progress MakeCliProgress(std::string label, int64_t total, bool json, std::ostream& plain) {
  const bool terminal = !json && ::isatty(STDOUT_FILENO) == 1;
  return Progress(terminal ? std::cout : plain, terminal, std::move(label), total, SystemClock(),
                  CliProgressOptions());
}

}  // namespace wattfleet
