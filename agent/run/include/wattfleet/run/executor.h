// The executor turns a job's graph into something the measurement loop can run: modules and
// inputs built on the job's device, in the job's mode and dtype.
//
// The libtorch implementation lives in torch_executor.cc, the only agent file that includes
// libtorch headers; builds without libtorch get an executor that refuses every job with a
// clear reason, so the agent core still runs (and reports) on tiny devices.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "wattfleet/monitor/measurement_loop.h"
#include "wattfleet/common/job.h"
#include "wattfleet/common/status.h"

namespace wattfleet {

class Executor {
 public:
  virtual ~Executor() = default;
  // Builds the job's modules and inputs. InvalidArgument for a job this executor cannot run
  // (unsupported layer, dtype or device): such a job is FAILED, never retried.
  virtual Result<std::unique_ptr<Workload>> Prepare(const JobSpec& job) = 0;
  // "1.13.1", or "" without libtorch.
  virtual std::string torch_version() const = 0;
  // Intra-op threads the executor runs with.
  virtual int threads() const = 0;
  // The dtypes this device computes in (float32 always, float16/bfloat16 where the device and
  // libtorch have kernels for them); Prepare refuses the others. Empty without libtorch.
  virtual std::vector<DType> dtypes() const = 0;
  // The device's attainable float32 throughput (FLOP/s): square matrix products for about
  // `seconds`, synchronized. Reported at registration for the power-law estimator.
  virtual Result<double> MeasurePeakFlops(double seconds) = 0;
  // The same through a 3x3 convolution of 64 channels (FLOP/s, 2 per MAC). Unavailable where
  // the executor cannot run one.
  virtual Result<double> MeasurePeakConvFlops(double seconds) {
    (void)seconds;
    return Status::Unavailable("this executor measures no convolution peak");
  }
  // The rate (FLOP/s) of batch-1 1x1 convolutions over 14x14, one widening 64 -> 384
  // channels and one narrowing 384 -> 64 (their geometric mean): frameworks run such a layer
  // either as the matrix product it is or through their convolution kernels, by build,
  // device, thread count and shape, and nothing else the agent measures says which.
  virtual Result<double> MeasurePointwiseFlops(double seconds) {
    (void)seconds;
    return Status::Unavailable("this executor measures no pointwise convolution");
  }
};

struct ExecutorOptions {
  std::string device = "cpu";  // "cpu" | "cuda:N"
  int threads = 0;             // 0: libtorch's default
};

// The libtorch this agent runs layers with ("1.13.1"), "" when built without it.
std::string ExecutorLibtorchVersion();

// For tests, with libtorch only: the output of one forward pass of `job`'s graph (seeded
// weights and inputs, float32, CPU), flattened, in inference mode, where nodes may write into
// their inputs, and without it, where none does. Equal when every in-place form was safe.
Result<std::pair<std::vector<float>, std::vector<float>>> ForwardBothWays(const JobSpec& job);

// The libtorch executor when built with it; otherwise one that refuses every job.
Result<std::unique_ptr<Executor>> MakeExecutor(const ExecutorOptions& options);

}  // namespace wattfleet
