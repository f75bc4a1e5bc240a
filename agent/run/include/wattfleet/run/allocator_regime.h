// The C library allocator's regime in the process that runs the jobs.
#pragma once

#include <string>

namespace wattfleet {

// glibc's malloc adapts two thresholds as a process frees memory: below the mmap threshold a
// block comes from the heap, above it from a fresh mapping whose pages the kernel must fault
// in and zero on first touch; heap memory past the trim threshold goes back to the kernel.
// Both start low (128 KiB) and only rise: freeing a mapped block of up to 32 MiB sets the
// mmap threshold to its size and the trim threshold to twice that (a larger block moves
// neither). So the same training step costs up to twice as much in a process whose history
// never freed a large block (its gradients and optimiser temporaries are faulted in afresh
// every step) as in one that did, and a job's time would depend on the jobs run before it in
// the same worker.
//
// Pinned here at the most the adaptation itself reaches, 32 and 64 MiB, the regime of a
// process that has freed a mapped block of nearly 32 MiB: every job is measured in the same
// one, a layer alone and its whole step alike, and blocks over 32 MiB are still mapped afresh
// each time, as in any process. A process whose step never frees a mapped block that large settles lower and
// pays more page faults (docs/measurement.md). Left as they are where the user set them
// (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_ or a glibc.malloc tunable). Once per
// process; returns a line for the log.
std::string PinAllocatorRegime();

}  // namespace wattfleet
