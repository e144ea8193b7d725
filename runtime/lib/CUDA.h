//===- CUDA.h - the CUDA driver, reached through dlopen ---------*- C++ -*-===//
//
// The runtime's only contact with CUDA: libcuda.so.1 is opened at run time
// (the runtime builds, and its CPU path runs, with no driver installed), its
// entry points looked up by name. The generated host code of a CUDA
// artifact calls MLIR's mgpu* runtime ABI (mgpuModuleLoad, mgpuLaunchKernel,
// mgpuMemAlloc, ...); CUDA.cpp implements it over the same driver, and an
// executable linking the runtime exports those symbols to the code it loads.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_CUDA_H
#define QNEXT_RUNTIME_CUDA_H

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace qnext::cuda {

/// Opens the driver and the first device's primary context (once). False,
/// with the reason ("no CUDA driver: ...", "no CUDA device"), otherwise.
bool initialize(std::string &error);

/// Device memory. Each returns false (or null) and sets `error` on failure.
void *allocate(size_t bytes, std::string &error);
void release(void *device);
bool upload(void *device, const void *host, size_t bytes, std::string &error);
bool download(void *host, const void *device, size_t bytes, std::string &error);
bool zero(void *device, size_t bytes, std::string &error);
/// Copies `bytes` from device memory to device memory, and waits.
bool copy(void *to, const void *from, size_t bytes, std::string &error);
/// Waits for all work; reports an error a kernel raised.
bool synchronize(std::string &error);

/// The first failure of the mgpu* functions the generated code called on
/// this thread ("cuMemAllocAsync failed: CUDA_ERROR_OUT_OF_MEMORY (2)"), or
/// empty; taking it lets them act again. They cannot report one to the code
/// that calls them: after a failure they do nothing (and return null) until
/// the runtime takes it, when that code returns.
std::string takeFailure();

/// The device's compute capability, "9.0" ("" when it cannot be read).
std::string computeCapability();

/// Device-to-device copy bandwidth in GB/s (bytes read plus written): the
/// best of `repeats` copies of `bytes`. 0, with the reason, on failure.
double copyBandwidth(size_t bytes, int repeats, std::string &error);

/// One stream for a call of the generated code. The host code makes a
/// stream of its own wherever its launches need no order among them (each
/// host loop's body, for one) and waits for it before going on. Under run()
/// each of those is this one stream: the code's work is queued in order,
/// with no wait in between, and the caller waits once the code returns. That
/// is safe because the host code reads nothing the device wrote but through
/// a copy to host memory, and such a copy is then made synchronous.
class Stream {
public:
  Stream() = default;
  Stream(const Stream &) = delete;
  Stream &operator=(const Stream &) = delete;
  ~Stream();

  /// Runs `code` with this stream as every stream it asks for. False, with
  /// the reason, when the stream could not be created (`code` did not run).
  bool run(const std::function<void()> &code, std::string &error);

private:
  /// Creates the stream (non-blocking) on first use.
  bool create(std::string &error);
  void *stream = nullptr;
  friend class Graph;
};

/// A call of the generated code as one CUDA graph (the decode step).
///
/// run() captures every stream operation the code issues: its streams are
/// all the graph's capture stream (a Stream), its buffers come from an arena of device
/// memory that is reset before each capture (the same sizes in the same
/// order get the same addresses, so consecutive steps make graphs that
/// differ only in kernel parameters and grid sizes, and the executable graph
/// is updated in place rather than instantiated again), and a copy of a
/// host constant into one of those buffers is made at capture time. The
/// graph is then launched on the capture stream.
class Graph {
public:
  Graph() = default;
  Graph(const Graph &) = delete;
  Graph &operator=(const Graph &) = delete;
  ~Graph();

  /// Captures `code`, updates or instantiates the executable graph and
  /// launches it (the caller synchronizes). False, with the reason, when the
  /// code does something a graph cannot hold (a synchronous allocation, a
  /// copy to the host, waiting for an event): none of it ran, and the caller
  /// runs `code` directly instead.
  bool run(const std::function<void()> &code, std::string &error);

private:
  Stream stream;        ///< the capture stream
  void *exec = nullptr; ///< the executable graph
  /// The arena: chunks of device memory, handed out in order.
  std::vector<std::pair<void *, size_t>> chunks;
  friend struct Capture;
};

} // namespace qnext::cuda

#endif // QNEXT_RUNTIME_CUDA_H
