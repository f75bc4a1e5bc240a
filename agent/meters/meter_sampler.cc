#include "meter_sampler.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <utility>

namespace wattfleet {

PeriodicThread::PeriodicThread(double period_s, std::function<void()> tick)
    : period_s_(period_s), tick_(std::move(tick)), thread_([this] { Run(); }) {}

PeriodicThread::~PeriodicThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PeriodicThread::Run() {
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(period_s_));
  // Deadlines, not sleeps: a slow tick does not make every later tick late.
  auto next = std::chrono::steady_clock::now() + period;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (cv_.wait_until(lock, next, [this] { return stop_; })) return;
    lock.unlock();
    try {
      tick_();
    } catch (...) {
      // Nothing may escape a thread (std::terminate); tick functions report their own errors.
    }
    lock.lock();
    next += period;
    const auto now = std::chrono::steady_clock::now();
    if (next < now) next = now + period;  // fell behind (suspend, overload): do not burst
  }
}

PowerSampler::PowerSampler(ReadWatts read, Clock& clock) : read_(std::move(read)), clock_(clock) {}

Result<std::unique_ptr<PowerSampler>> PowerSampler::Start(ReadWatts read, double period_s,
                                                          Clock& clock) {
  auto s = std::make_unique<PowerSampler>(std::move(read), clock);
  {
    std::lock_guard<std::mutex> lock(s->mu_);
    WF_ASSIGN_OR_RETURN(s->last_w_, s->read_());
    s->last_t_ = s->clock_.NowSeconds();
  }
  PowerSampler* self = s.get();
  s->thread_ = std::make_unique<PeriodicThread>(period_s, [self] {
    std::lock_guard<std::mutex> lock(self->mu_);
    Status st;
    try {
      st = self->SampleLocked();
    } catch (const std::exception& e) {
      st = Status::Internal(std::string("power sampler: ") + e.what());
    } catch (...) {
      st = Status::Internal("power sampler: unknown exception");
    }
    // Keep the first failure: later ones are usually its consequences.
    self->latched_.Latch(std::move(st));
  });
  return s;
}

PowerSampler::~PowerSampler() {
  // Join before the members the tick uses go away.
  thread_.reset();
}

Status PowerSampler::SampleLocked() {
  WF_ASSIGN_OR_RETURN(double w, read_());
  const double t = clock_.NowSeconds();
  // Clocks are monotonic by contract; a step backwards adds nothing rather than subtracting.
  const double dt = std::max(0.0, t - last_t_);
  joules_ += 0.5 * (last_w_ + w) * dt;
  last_t_ = std::max(t, last_t_);
  last_w_ = w;
  return Status::OK();
}

Result<double> PowerSampler::ReadJoules() {
  std::lock_guard<std::mutex> lock(mu_);
  WF_RETURN_IF_ERROR(latched_.Take());
  WF_RETURN_IF_ERROR(SampleLocked());
  return joules_;
}

}  // namespace wattfleet
