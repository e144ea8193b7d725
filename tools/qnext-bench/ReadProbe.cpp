//===- ReadProbe.cpp - the read bandwidth decode can use ------------------===//
//
// qnext-bench's roofline: read-only sweeps shaped as decode reads weight
// rows (ReadProbe.h), and the last-level cache the weights must exceed.
//
//===----------------------------------------------------------------------===//

#include "ReadProbe.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace {

/// Rows [lo, hi) of `rowBytes` each, read in blocks of S rows: 64 bytes of
/// each row of a block in turn (as Vec loads), each row summed into its own
/// register. Inlined into sweeps compiled for each vector width.
template <typename Vec, unsigned S>
inline __attribute__((always_inline)) uint64_t
sweepRows(const char *base, size_t rowBytes, size_t lo, size_t hi) {
  constexpr size_t perLine = 64 / sizeof(Vec);
  Vec acc[S] = {};
  size_t r = lo;
  for (; r + S <= hi; r += S) {
    const char *block = base + r * rowBytes;
    for (size_t k = 0; k < rowBytes; k += 64)
      for (unsigned s = 0; s < S; ++s) {
        const Vec *p = reinterpret_cast<const Vec *>(block + s * rowBytes + k);
        for (size_t v = 0; v < perLine; ++v)
          acc[s] += p[v];
      }
  }
  for (; r < hi; ++r) // the rows left over
    for (size_t k = 0; k < rowBytes; k += sizeof(Vec))
      acc[0] += *reinterpret_cast<const Vec *>(base + r * rowBytes + k);
  uint64_t total = 0;
  for (const Vec &a : acc)
    for (size_t i = 0; i < sizeof(Vec) / 8; ++i)
      total += a[i];
  return total;
}

template <typename Vec>
inline __attribute__((always_inline)) uint64_t
sweepShape(const char *base, size_t rowBytes, size_t lo, size_t hi, unsigned streams) {
  switch (streams) {
  case 1:
    return sweepRows<Vec, 1>(base, rowBytes, lo, hi);
  case 2:
    return sweepRows<Vec, 2>(base, rowBytes, lo, hi);
  case 4:
    return sweepRows<Vec, 4>(base, rowBytes, lo, hi);
  case 8:
    return sweepRows<Vec, 8>(base, rowBytes, lo, hi);
  default:
    return sweepRows<Vec, 16>(base, rowBytes, lo, hi);
  }
}

using Vec128 = uint64_t __attribute__((vector_size(16)));
using Vec256 = uint64_t __attribute__((vector_size(32)));
using Vec512 = uint64_t __attribute__((vector_size(64)));

// One sweep per vector width: on these machines one thread reads ~25 % more
// with 64-byte loads than with 16-byte ones, and decode's kernels use the
// widest the artifact's CPU has.
uint64_t sweep128(const char *b, size_t row, size_t lo, size_t hi, unsigned s) {
  return sweepShape<Vec128>(b, row, lo, hi, s);
}
__attribute__((target("avx2"))) uint64_t sweep256(const char *b, size_t row, size_t lo,
                                                  size_t hi, unsigned s) {
  return sweepShape<Vec256>(b, row, lo, hi, s);
}
__attribute__((target("avx512f"))) uint64_t sweep512(const char *b, size_t row, size_t lo,
                                                     size_t hi, unsigned s) {
  return sweepShape<Vec512>(b, row, lo, hi, s);
}

} // namespace

ReadProbe::ReadProbe(unsigned threads, size_t bytes, const cpu_set_t &startCPUs)
    : threads(threads), rows(bytes / rowBytes), cpus(startCPUs) {
  // In huge pages where the kernel has them, as the weights are read (an
  // artifact's file pages; with 4 KiB pages every row of a block is a TLB
  // miss of its own).
  constexpr size_t hugePage = size_t(2) << 20;
  size_t size = (rows * rowBytes + hugePage - 1) / hugePage * hugePage;
  buffer.reset(static_cast<char *>(std::aligned_alloc(hugePage, size)));
  if (buffer)
    madvise(buffer.get(), size, MADV_HUGEPAGE); // best effort
  sweep = __builtin_cpu_supports("avx512f") ? sweep512
          : __builtin_cpu_supports("avx2")  ? sweep256
                                            : sweep128;
  if (!buffer)
    return;
  part([&](size_t lo, size_t hi) { // first touch on the same threads
    for (size_t i = lo * rowBytes / 8; i < hi * rowBytes / 8; ++i)
      reinterpret_cast<uint64_t *>(buffer.get())[i] = i;
  });
}

double ReadProbe::measure(int reps, std::map<unsigned, double> *byShape) {
  double best = 0;
  for (int rep = 0; rep < reps; ++rep)
    for (unsigned s : shapes) {
      auto start = std::chrono::steady_clock::now();
      part([&](size_t lo, size_t hi) {
        sink += sweep(buffer.get(), rowBytes, lo, hi, s);
      });
      std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      double gbs = double(rows) * rowBytes / took.count() / 1e9;
      best = std::max(best, gbs);
      if (byShape)
        (*byShape)[s] = std::max((*byShape)[s], gbs);
    }
  return best;
}

void ReadProbe::part(const std::function<void(size_t, size_t)> &f) {
  std::vector<std::thread> pool;
  for (unsigned i = 0; i < threads; ++i)
    pool.emplace_back([&, i] {
      sched_setaffinity(0, sizeof(cpus), &cpus); // best effort: a probe, not a result
      f(rows * i / threads, rows * (i + 1) / threads);
    });
  for (std::thread &th : pool)
    th.join();
}

/// The last-level cache, in bytes: the kernel's view (the highest level in
/// /sys/devices/system/cpu/cpu0/cache, what lscpu prints), else glibc's
/// sysconf, else 64 MiB. sysconf derives it from CPUID, which a VM may
/// misreport: 320 MiB on an AMD EPYC VM whose kernel (and lscpu) say 32 MiB,
/// and would have hidden decode's roofline for weights of 0.6 GB.
size_t lastLevelCache() {
  int bestLevel = 0;
  size_t best = 0;
  for (int index = 0; index < 8; ++index) {
    std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(index);
    std::ifstream levelFile(dir + "/level"), sizeFile(dir + "/size");
    int level = 0;
    size_t size = 0;
    std::string unit;
    if (!(levelFile >> level) || !(sizeFile >> size))
      continue;
    sizeFile >> unit; // "K" (the kernel's only unit today), "M" or none
    size <<= unit == "K" ? 10 : unit == "M" ? 20 : 0;
    if (level > bestLevel || (level == bestLevel && size > best))
      bestLevel = level, best = size;
  }
  if (best > 0)
    return best;
  long l3 = sysconf(_SC_LEVEL3_CACHE_SIZE), l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);
  long fromLibc = std::max(l3, l2);
  return fromLibc > 0 ? size_t(fromLibc) : size_t(64) << 20;
}
