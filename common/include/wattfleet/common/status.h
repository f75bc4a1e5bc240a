// Status and Result<T>: expected failures as values (in the manner of LevelDB's Status).
//
// An OK Status holds no allocation. Errors carry a code and a message; messages for user
// input name where the input is wrong (file:line:column, the flag, or the field).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace wattfleet {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,   // bad user input: exit code 2 at the CLI
  kNotFound,
  kAlreadyExists,
  kIOError,
  kCorruption,        // malformed stored data or wire bodies
  kUnavailable,       // a peer or a resource is not reachable right now
  kPermissionDenied,
  kTimeout,
  kInternal,
  kSensor,            // the power or energy sensor failed or read nonsense: the job is a SENSOR
                      // failure (Outcome::kSensor), retried, and the device's sensor suspect
};

const char* StatusCodeName(StatusCode code);

// [[nodiscard]]: a Status or Result that nobody looks at is an error that vanished; the build
// treats dropping one as an error (-Werror=unused-result). Where ignoring is deliberate, say
// why and cast to void.
class [[nodiscard]] Status {
 public:
  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(StatusCode::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(StatusCode::kNotFound, std::move(msg)); }
  static Status AlreadyExists(std::string msg) { return Status(StatusCode::kAlreadyExists, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(StatusCode::kIOError, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(StatusCode::kCorruption, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(StatusCode::kUnavailable, std::move(msg)); }
  static Status PermissionDenied(std::string msg) { return Status(StatusCode::kPermissionDenied, std::move(msg)); }
  static Status Timeout(std::string msg) { return Status(StatusCode::kTimeout, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(StatusCode::kInternal, std::move(msg)); }
  static Status Sensor(std::string msg) { return Status(StatusCode::kSensor, std::move(msg)); }

  bool ok() const { return state_ == nullptr; }
  StatusCode code() const { return state_ ? state_->code : StatusCode::kOk; }
  // Empty for OK.
  const std::string& message() const;
  // "OK" or "<code name>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(const std::string& context) const;

 private:
  Status(StatusCode code, std::string msg)
      : state_(std::make_shared<const State>(State{code, std::move(msg)})) {}
  struct State {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const State> state_;
};

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}  // NOLINT: implicit by design

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  const T& value() const& { return std::get<T>(v_); }
  T& value() & { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  const T* operator->() const { return &std::get<T>(v_); }
  T* operator->() { return &std::get<T>(v_); }
  const T& operator*() const& { return std::get<T>(v_); }
  T& operator*() & { return std::get<T>(v_); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace wattfleet

// Returns early from a function returning Status or Result<T> when `expr` is not OK.
#define WF_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::wattfleet::Status wf_status_ = (expr);      \
    if (!wf_status_.ok()) return wf_status_;      \
  } while (0)

#define WF_CONCAT_INNER(a, b) a##b
#define WF_CONCAT(a, b) WF_CONCAT_INNER(a, b)
// Declares `lhs` from a Result expression, or returns its Status.
#define WF_ASSIGN_OR_RETURN(lhs, expr)                               \
  auto WF_CONCAT(wf_result_, __LINE__) = (expr);                      \
  if (!WF_CONCAT(wf_result_, __LINE__).ok())                          \
    return WF_CONCAT(wf_result_, __LINE__).status();                  \
  lhs = std::move(WF_CONCAT(wf_result_, __LINE__)).value()
