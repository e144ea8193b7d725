//===- ReadProbe.h - the read bandwidth decode can use ----------*- C++ -*-===//

#ifndef QNEXT_TOOLS_QNEXT_BENCH_READPROBE_H
#define QNEXT_TOOLS_QNEXT_BENCH_READPROBE_H

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>

#include <sched.h>

/// The read bandwidth decode can use: read-only sweeps of a buffer far
/// larger than the last-level cache on `threads` threads, each thread reading
/// its share as blocks of rows of 4 KiB (a 2048-wide bf16 weight row), one
/// cache line of each row of the block in turn, as a decode kernel reads a
/// block of weight rows, with the widest vector loads this CPU has. Blocks of
/// 1, 2, 4, 8 and 16 rows are tried (as many memory streams per thread); the
/// figure is the best shape's best sweep, in GB/s of bytes read. A triad (two
/// streams read, one written) measured below what decode reads on these
/// machines (fractions of 111-151 %), and no one shape is the fastest on
/// every machine: hence the several shapes. The buffer stays allocated
/// between measurements.
///
/// Each probe thread may run on any CPU the process started with
/// (`startCPUs`): with OMP_PROC_BIND set, the OpenMP runtime pins the main
/// thread to one CPU once the model's code runs its first parallel loop, and
/// threads started from it inherit that mask, so the probe's threads would
/// share one core and measure about half of what decode's team reads (seen:
/// 21.6 GB/s against 32.1 unpinned, decode at 147 % of that "roofline").
class ReadProbe {
public:
  static constexpr unsigned shapes[] = {1, 2, 4, 8, 16};
  static constexpr size_t rowBytes = 4096;

  /// A buffer of `bytes` (whole rows), first touched by the probe's threads;
  /// false (operator bool) when it could not be allocated.
  ReadProbe(unsigned threads, size_t bytes, const cpu_set_t &startCPUs);
  explicit operator bool() const { return buffer != nullptr; }

  /// The best GB/s over `reps` sweeps of each shape; `byShape` gets each
  /// shape's best (streams per thread -> GB/s).
  double measure(int reps, std::map<unsigned, double> *byShape = nullptr);

private:
  /// Runs f(lo, hi) on `threads` threads, each its share of the rows.
  void part(const std::function<void(size_t, size_t)> &f);

  unsigned threads;
  size_t rows;
  cpu_set_t cpus;
  std::unique_ptr<char, decltype(&std::free)> buffer{nullptr, &std::free};
  uint64_t (*sweep)(const char *, size_t, size_t, size_t, unsigned) = nullptr;
  std::atomic<uint64_t> sink{0}; ///< keeps the sums (and so the reads) alive
};

/// The last-level cache, in bytes: the kernel's view (the highest level in
/// /sys/devices/system/cpu/cpu0/cache, what lscpu prints), else glibc's
/// sysconf, else 64 MiB. sysconf derives it from CPUID, which a VM may
/// misreport: 320 MiB on an AMD EPYC VM whose kernel (and lscpu) say 32 MiB,
/// and would have hidden decode's roofline for weights of 0.6 GB.
size_t lastLevelCache();

#endif // QNEXT_TOOLS_QNEXT_BENCH_READPROBE_H
