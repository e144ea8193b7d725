//===- CUDADriver.h - the CUDA driver, and the state its users share -*- C++ -*-===//
//
// Internal to the runtime's CUDA path: the driver API reached through
// dlopen("libcuda.so.1") (CUDADriver.cpp), the per-thread state the qnext
// API (CUDA.cpp) and MLIR's mgpu* ABI (MGPU.cpp) share: the stream of the
// call under way, the capture under way, the first failure.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_CUDADRIVER_H
#define QNEXT_RUNTIME_CUDADRIVER_H

#include "CUDA.h"

#include <algorithm>
#include <cstdint>
#include <string>

namespace qnext::cuda::detail {

// The driver API's types, as opaque as the code needs them.
using CUresult = int;
using CUdevice = int;
using CUcontext = void *;
using CUmodule = void *;
using CUfunction = void *;
using CUstream = void *;
using CUevent = void *;
using CUdeviceptr = uint64_t;
using CUmemoryPool = void *;
using CUgraph = void *;
using CUgraphExec = void *;
using CUgraphNode = void *;
struct CUgraphExecUpdateResultInfo {
  int result;
  CUgraphNode errorNode, errorFromNode;
};
constexpr int kMemoryPoolsSupported = 115; // CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED
constexpr int kReleaseThreshold = 4;       // CU_MEMPOOL_ATTR_RELEASE_THRESHOLD
constexpr int kCaptureRelaxed = 2;         // CU_STREAM_CAPTURE_MODE_RELAXED
constexpr int kPointerMemoryType = 2;      // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
constexpr unsigned kMemoryTypeDevice = 2;  // CU_MEMORYTYPE_DEVICE


struct Driver {
  CUresult (*cuInit)(unsigned);
  CUresult (*cuDeviceGetCount)(int *);
  CUresult (*cuDeviceGet)(CUdevice *, int);
  CUresult (*cuDevicePrimaryCtxRetain)(CUcontext *, CUdevice);
  CUresult (*cuCtxSetCurrent)(CUcontext);
  CUresult (*cuCtxSynchronize)();
  CUresult (*cuGetErrorName)(CUresult, const char **);
  CUresult (*cuMemAlloc)(CUdeviceptr *, size_t);
  CUresult (*cuMemFree)(CUdeviceptr);
  CUresult (*cuMemcpyHtoD)(CUdeviceptr, const void *, size_t);
  CUresult (*cuMemcpyDtoH)(void *, CUdeviceptr, size_t);
  CUresult (*cuMemcpyAsync)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*cuMemsetD32Async)(CUdeviceptr, unsigned, size_t, CUstream);
  CUresult (*cuMemsetD16Async)(CUdeviceptr, unsigned short, size_t, CUstream);
  CUresult (*cuModuleLoadData)(CUmodule *, const void *);
  CUresult (*cuModuleUnload)(CUmodule);
  CUresult (*cuModuleGetFunction)(CUfunction *, CUmodule, const char *);
  CUresult (*cuLaunchKernel)(CUfunction, unsigned, unsigned, unsigned, unsigned,
                             unsigned, unsigned, unsigned, CUstream, void **,
                             void **);
  CUresult (*cuStreamCreate)(CUstream *, unsigned);
  CUresult (*cuStreamDestroy)(CUstream);
  CUresult (*cuStreamSynchronize)(CUstream);
  CUresult (*cuStreamWaitEvent)(CUstream, CUevent, unsigned);
  CUresult (*cuEventCreate)(CUevent *, unsigned);
  CUresult (*cuEventDestroy)(CUevent);
  CUresult (*cuEventSynchronize)(CUevent);
  CUresult (*cuEventRecord)(CUevent, CUstream);
  // Stream-ordered allocation (CUDA 11.2 on): looked up, not required.
  CUresult (*cuDeviceGetAttribute)(int *, int, CUdevice) = nullptr;
  CUresult (*cuDeviceGetDefaultMemPool)(CUmemoryPool *, CUdevice) = nullptr;
  CUresult (*cuMemPoolSetAttribute)(CUmemoryPool, int, void *) = nullptr;
  CUresult (*cuMemAllocAsync)(CUdeviceptr *, size_t, CUstream) = nullptr;
  CUresult (*cuMemFreeAsync)(CUdeviceptr, CUstream) = nullptr;
  // Graphs (CUDA 12 on): looked up, not required.
  CUresult (*cuStreamBeginCapture)(CUstream, int) = nullptr;
  CUresult (*cuStreamEndCapture)(CUstream, CUgraph *) = nullptr;
  CUresult (*cuGraphInstantiate)(CUgraphExec *, CUgraph, unsigned long long) = nullptr;
  CUresult (*cuGraphExecUpdate)(CUgraphExec, CUgraph,
                                CUgraphExecUpdateResultInfo *) = nullptr;
  CUresult (*cuGraphLaunch)(CUgraphExec, CUstream) = nullptr;
  CUresult (*cuGraphDestroy)(CUgraph) = nullptr;
  CUresult (*cuGraphExecDestroy)(CUgraphExec) = nullptr;
  CUresult (*cuPointerGetAttribute)(void *, int, CUdeviceptr) = nullptr;
  CUcontext context = nullptr;
  CUdevice device = 0;
  /// The kernels' buffers come from the device's memory pool, in stream
  /// order (cuMemAllocAsync / cuMemFreeAsync), and the pool keeps what is
  /// freed for the next call: no cuMemAlloc per buffer, and no cuMemFree,
  /// which waits for the whole device, between kernels.
  bool pools = false;
  bool graphs = false;
  bool ready = false;
  std::string failure;
};

/// The driver's entry points, loaded once (load()).
Driver &driver();
/// "CUDA_ERROR_NAME (code)".
std::string describe(CUresult rc);
/// Loads libcuda.so.1 and looks up every entry point; false with `error`.
bool load(std::string &error);

} // namespace qnext::cuda::detail

namespace qnext::cuda {

/// What a Graph::run is capturing: the mgpu* functions below consult it.
struct Capture {
  explicit Capture(Graph &graph) : graph(graph) {}

  Graph &graph;
  size_t chunk = 0, offset = 0; ///< the arena's next free byte
  /// The first thing the code did that a graph cannot hold (the capture is
  /// then thrown away and the code run directly).
  std::string failure;

  void fail(std::string why) {
    if (failure.empty())
      failure = std::move(why);
  }

  /// The next `bytes` of the arena; a new chunk when the current one is
  /// full. The same requests in the same order get the same addresses.
  void *allocate(size_t bytes) {
    constexpr size_t kAlign = 256, kChunk = size_t(64) << 20;
    bytes = (std::max<size_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
    auto &chunks = graph.chunks;
    while (chunk < chunks.size() && offset + bytes > chunks[chunk].second) {
      ++chunk;
      offset = 0;
    }
    if (chunk == chunks.size()) {
      std::string why;
      void *p = qnext::cuda::allocate(std::max(bytes, kChunk), why);
      if (!p) {
        fail("the graph's buffers: " + why);
        return nullptr;
      }
      chunks.emplace_back(p, std::max(bytes, kChunk));
    }
    void *p = static_cast<char *>(chunks[chunk].first) + offset;
    offset += bytes;
    return p;
  }

  /// Whether [p, p + bytes) was handed out by this capture.
  bool handedOut(const void *p, size_t bytes) const {
    auto at = reinterpret_cast<uintptr_t>(p);
    for (size_t i = 0; i <= chunk && i < graph.chunks.size(); ++i) {
      auto base = reinterpret_cast<uintptr_t>(graph.chunks[i].first);
      size_t used = i == chunk ? offset : graph.chunks[i].second;
      if (at >= base && at + bytes <= base + used)
        return true;
    }
    return false;
  }
};

} // namespace qnext::cuda

namespace qnext::cuda::detail {

/// The stream of the call of the generated code under way on this thread
/// (Stream::run, Graph::run), if any: every stream the code asks for.
extern thread_local CUstream callStream;

/// The capture under way on this thread, if any (callStream captures).
extern thread_local Capture *capturing;

/// The first failure of an mgpu* function on this thread, until the
/// runtime takes it (takeFailure). The generated code cannot see one: it
/// goes on calling, and the functions do nothing until then.
extern thread_local std::string failure;

/// Whether `p` is device memory (else, for the copies the generated code
/// makes, host memory: a constant's global).
bool isDevice(const void *p);
/// Records the first failure.
void failed(std::string why);
/// For the mgpu* functions: a failure is recorded (while capturing, for the
/// capture: nothing ran, and the code runs again directly).
bool check(CUresult rc, const char *what);
/// Whether an mgpu* function should act: no failure is pending, and the
/// calling thread has the context current.
bool usable();
/// The calling thread must have the context current (the runtime's own
/// calls, after initialize()).
void current();

} // namespace qnext::cuda::detail

#endif // QNEXT_RUNTIME_CUDADRIVER_H
