//===- CUDA.cpp - the CUDA driver through dlopen, and the mgpu* ABI -------===//

#include "CUDA.h"

#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <utility>

namespace {

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

Driver &driver() {
  static Driver d;
  return d;
}

std::string describe(CUresult rc) {
  const char *name = nullptr;
  if (driver().cuGetErrorName)
    driver().cuGetErrorName(rc, &name);
  // CUDA_ERROR_STUB_LIBRARY (34) has no name in the stub itself.
  return std::string(name ? name : "CUDA error") + " (" + std::to_string(rc) + ")";
}

bool load(std::string &error) {
  Driver &d = driver();
  void *lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    error = std::string("no CUDA driver: ") + dlerror();
    return false;
  }
#define QNEXT_CU(name, symbol)                                                 \
  d.name = reinterpret_cast<decltype(d.name)>(dlsym(lib, symbol));             \
  if (!d.name) {                                                               \
    error = std::string("the CUDA driver lacks ") + symbol;                    \
    return false;                                                              \
  }
  QNEXT_CU(cuInit, "cuInit")
  QNEXT_CU(cuDeviceGetCount, "cuDeviceGetCount")
  QNEXT_CU(cuDeviceGet, "cuDeviceGet")
  QNEXT_CU(cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
  QNEXT_CU(cuCtxSetCurrent, "cuCtxSetCurrent")
  QNEXT_CU(cuCtxSynchronize, "cuCtxSynchronize")
  QNEXT_CU(cuGetErrorName, "cuGetErrorName")
  QNEXT_CU(cuMemAlloc, "cuMemAlloc_v2")
  QNEXT_CU(cuMemFree, "cuMemFree_v2")
  QNEXT_CU(cuMemcpyHtoD, "cuMemcpyHtoD_v2")
  QNEXT_CU(cuMemcpyDtoH, "cuMemcpyDtoH_v2")
  QNEXT_CU(cuMemcpyAsync, "cuMemcpyAsync")
  QNEXT_CU(cuMemsetD8, "cuMemsetD8_v2")
  QNEXT_CU(cuMemsetD32Async, "cuMemsetD32Async")
  QNEXT_CU(cuMemsetD16Async, "cuMemsetD16Async")
  QNEXT_CU(cuModuleLoadData, "cuModuleLoadData")
  QNEXT_CU(cuModuleUnload, "cuModuleUnload")
  QNEXT_CU(cuModuleGetFunction, "cuModuleGetFunction")
  QNEXT_CU(cuLaunchKernel, "cuLaunchKernel")
  QNEXT_CU(cuStreamCreate, "cuStreamCreate")
  QNEXT_CU(cuStreamDestroy, "cuStreamDestroy_v2")
  QNEXT_CU(cuStreamSynchronize, "cuStreamSynchronize")
  QNEXT_CU(cuStreamWaitEvent, "cuStreamWaitEvent")
  QNEXT_CU(cuEventCreate, "cuEventCreate")
  QNEXT_CU(cuEventDestroy, "cuEventDestroy_v2")
  QNEXT_CU(cuEventSynchronize, "cuEventSynchronize")
  QNEXT_CU(cuEventRecord, "cuEventRecord")
#define QNEXT_CU_OPTIONAL(name, symbol)                                        \
  d.name = reinterpret_cast<decltype(d.name)>(dlsym(lib, symbol));
  QNEXT_CU_OPTIONAL(cuDeviceGetAttribute, "cuDeviceGetAttribute")
  QNEXT_CU_OPTIONAL(cuDeviceGetDefaultMemPool, "cuDeviceGetDefaultMemPool")
  QNEXT_CU_OPTIONAL(cuMemPoolSetAttribute, "cuMemPoolSetAttribute")
  QNEXT_CU_OPTIONAL(cuMemAllocAsync, "cuMemAllocAsync")
  QNEXT_CU_OPTIONAL(cuMemFreeAsync, "cuMemFreeAsync")
  QNEXT_CU_OPTIONAL(cuStreamBeginCapture, "cuStreamBeginCapture_v2")
  QNEXT_CU_OPTIONAL(cuStreamEndCapture, "cuStreamEndCapture")
  QNEXT_CU_OPTIONAL(cuGraphInstantiate, "cuGraphInstantiateWithFlags")
  QNEXT_CU_OPTIONAL(cuGraphExecUpdate, "cuGraphExecUpdate_v2")
  QNEXT_CU_OPTIONAL(cuGraphLaunch, "cuGraphLaunch")
  QNEXT_CU_OPTIONAL(cuGraphDestroy, "cuGraphDestroy")
  QNEXT_CU_OPTIONAL(cuGraphExecDestroy, "cuGraphExecDestroy")
  QNEXT_CU_OPTIONAL(cuPointerGetAttribute, "cuPointerGetAttribute")
#undef QNEXT_CU_OPTIONAL
#undef QNEXT_CU
  CUresult rc = d.cuInit(0);
  if (rc != 0) {
    error = "no CUDA device: cuInit failed with " + describe(rc);
    return false;
  }
  int count = 0;
  if (d.cuDeviceGetCount(&count) != 0 || count == 0) {
    error = "no CUDA device";
    return false;
  }
  CUdevice &device = d.device;
  if ((rc = d.cuDeviceGet(&device, 0)) != 0 ||
      (rc = d.cuDevicePrimaryCtxRetain(&d.context, device)) != 0 ||
      (rc = d.cuCtxSetCurrent(d.context)) != 0) {
    error = "CUDA device 0: " + describe(rc);
    return false;
  }
  // The memory pool, when the device has one: it keeps every byte freed
  // (release threshold: all of them) for the next allocation.
  int pools = 0;
  CUmemoryPool pool = nullptr;
  uint64_t keep = UINT64_MAX;
  d.pools = d.cuDeviceGetAttribute && d.cuDeviceGetDefaultMemPool &&
            d.cuMemPoolSetAttribute && d.cuMemAllocAsync && d.cuMemFreeAsync &&
            d.cuDeviceGetAttribute(&pools, kMemoryPoolsSupported, device) == 0 &&
            pools && d.cuDeviceGetDefaultMemPool(&pool, device) == 0 &&
            d.cuMemPoolSetAttribute(pool, kReleaseThreshold, &keep) == 0;
  d.graphs = d.cuStreamBeginCapture && d.cuStreamEndCapture &&
             d.cuGraphInstantiate && d.cuGraphExecUpdate && d.cuGraphLaunch &&
             d.cuGraphDestroy && d.cuGraphExecDestroy && d.cuPointerGetAttribute;
  return true;
}

} // namespace

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

namespace {

/// The stream of the call of the generated code under way on this thread
/// (Stream::run, Graph::run), if any: every stream the code asks for.
thread_local CUstream callStream = nullptr;

/// The capture under way on this thread, if any (callStream captures).
thread_local qnext::cuda::Capture *capturing = nullptr;

/// Whether `p` is device memory (else, for the copies the generated code
/// makes, host memory: a constant's global). A driver that cannot tell
/// (the lookup is optional) has it host memory.
bool isDevice(const void *p) {
  unsigned type = 0;
  return driver().cuPointerGetAttribute &&
         driver().cuPointerGetAttribute(&type, kPointerMemoryType,
                                        reinterpret_cast<CUdeviceptr>(p)) == 0 &&
         type == kMemoryTypeDevice;
}

/// The first failure of an mgpu* function on this thread, until the
/// runtime takes it (takeFailure). The generated code cannot see one: it
/// goes on calling, and the functions do nothing until then.
thread_local std::string failure;

void failed(std::string why) {
  if (failure.empty())
    failure = std::move(why);
}

/// For the mgpu* functions: a failure is recorded (while capturing, for the
/// capture: nothing ran, and the code runs again directly).
bool check(CUresult rc, const char *what) {
  if (rc == 0)
    return true;
  std::string why = std::string(what) + " failed: " + describe(rc);
  if (capturing)
    capturing->fail(std::move(why));
  else
    failed(std::move(why));
  return false;
}

/// Whether an mgpu* function should act: no failure is pending, and the
/// calling thread has the context current.
bool usable() {
  if (!failure.empty())
    return false;
  static thread_local bool set = false;
  if (!set) {
    std::string error;
    if (!qnext::cuda::initialize(error)) {
      failed(error);
      return false;
    }
    set = check(driver().cuCtxSetCurrent(driver().context), "cuCtxSetCurrent");
  }
  return set;
}

/// The calling thread must have the context current (the runtime's own
/// calls, after initialize()).
void current() { (void)usable(); }

} // namespace

namespace qnext::cuda {

std::string takeFailure() { return std::exchange(failure, std::string()); }

std::string computeCapability() {
  Driver &d = driver();
  int major = 0, minor = 0;
  if (!d.ready || !d.cuDeviceGetAttribute ||
      d.cuDeviceGetAttribute(&major, 75 /*COMPUTE_CAPABILITY_MAJOR*/, d.device) ||
      d.cuDeviceGetAttribute(&minor, 76 /*COMPUTE_CAPABILITY_MINOR*/, d.device))
    return "";
  return std::to_string(major) + "." + std::to_string(minor);
}

bool initialize(std::string &error) {
  static std::once_flag once;
  std::call_once(once, [] {
    Driver &d = driver();
    d.ready = load(d.failure);
  });
  if (!driver().ready)
    error = driver().failure;
  return driver().ready;
}

void *allocate(size_t bytes, std::string &error) {
  current();
  CUdeviceptr p = 0;
  if (CUresult rc = driver().cuMemAlloc(&p, bytes ? bytes : 1)) {
    error = "cuMemAlloc(" + std::to_string(bytes) + " bytes): " + describe(rc);
    return nullptr;
  }
  return reinterpret_cast<void *>(p);
}

void release(void *device) {
  if (device)
    driver().cuMemFree(reinterpret_cast<CUdeviceptr>(device));
}

// upload() and zero() wait for the default stream: a copy from pageable
// memory may still be in flight when cuMemcpyHtoD returns, and cuMemsetD8
// is asynchronous, while the code's own streams are non-blocking (they do
// not wait for the default stream) and would race with them.

bool upload(void *device, const void *host, size_t bytes, std::string &error) {
  current();
  CUresult rc = driver().cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(device),
                                      host, bytes);
  if (rc == 0)
    rc = driver().cuStreamSynchronize(nullptr);
  if (rc) {
    error = "copying to the GPU: " + describe(rc);
    return false;
  }
  return true;
}

bool download(void *host, const void *device, size_t bytes, std::string &error) {
  current();
  if (CUresult rc = driver().cuMemcpyDtoH(
          host, reinterpret_cast<CUdeviceptr>(device), bytes)) {
    error = "copying from the GPU: " + describe(rc);
    return false;
  }
  return true;
}

bool zero(void *device, size_t bytes, std::string &error) {
  current();
  CUresult rc =
      driver().cuMemsetD8(reinterpret_cast<CUdeviceptr>(device), 0, bytes);
  if (rc == 0)
    rc = driver().cuStreamSynchronize(nullptr);
  if (rc) {
    error = "clearing GPU memory: " + describe(rc);
    return false;
  }
  return true;
}

bool synchronize(std::string &error) {
  current();
  if (CUresult rc = driver().cuCtxSynchronize()) {
    error = "a GPU kernel failed: " + describe(rc);
    return false;
  }
  return true;
}

double copyBandwidth(size_t bytes, int repeats, std::string &error) {
  current();
  void *from = allocate(bytes, error), *to = from ? allocate(bytes, error) : nullptr;
  double best = 0;
  for (int i = 0; to && i <= repeats; ++i) { // the first one warms up
    auto start = std::chrono::steady_clock::now();
    CUresult rc = driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(to),
                                         reinterpret_cast<CUdeviceptr>(from),
                                         bytes, nullptr);
    if (rc == 0)
      rc = driver().cuCtxSynchronize();
    if (rc) {
      error = "copying on the GPU: " + describe(rc);
      best = 0;
      break;
    }
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (i > 0)
      best = std::max(best, 2.0 * double(bytes) / seconds / 1e9);
  }
  release(from);
  release(to);
  return best;
}

bool Stream::create(std::string &error) {
  current();
  if (stream)
    return true;
  if (CUresult rc = driver().cuStreamCreate(&stream, 1 /*non-blocking*/)) {
    stream = nullptr;
    error = "cuStreamCreate: " + describe(rc);
    return false;
  }
  return true;
}

bool Stream::run(const std::function<void()> &code, std::string &error) {
  if (!create(error))
    return false;
  callStream = stream;
  code();
  callStream = nullptr;
  return true;
}

Stream::~Stream() {
  if (stream && driver().ready)
    driver().cuStreamDestroy(stream);
}

bool Graph::run(const std::function<void()> &code, std::string &error) {
  Driver &d = driver();
  current();
  if (!d.graphs) {
    error = "the CUDA driver has no graph API";
    return false;
  }
  if (!stream.create(error))
    return false;
  CUresult rc = 0;
  if ((rc = d.cuStreamBeginCapture(stream.stream, kCaptureRelaxed))) {
    error = "cuStreamBeginCapture: " + describe(rc);
    return false;
  }
  Capture capture(*this);
  capturing = &capture;
  callStream = stream.stream;
  code();
  callStream = nullptr;
  capturing = nullptr;
  CUgraph graph = nullptr;
  rc = d.cuStreamEndCapture(stream.stream, &graph);
  if (rc && capture.failure.empty())
    capture.failure = "cuStreamEndCapture: " + describe(rc);
  if (!capture.failure.empty()) {
    if (graph)
      d.cuGraphDestroy(graph);
    error = capture.failure;
    return false;
  }
  // The same nodes as the last step's graph: only parameters (the
  // position, the grids that grow with it) change.
  if (exec) {
    CUgraphExecUpdateResultInfo info{};
    if (d.cuGraphExecUpdate(exec, graph, &info) != 0) {
      d.cuGraphExecDestroy(exec);
      exec = nullptr;
    }
  }
  if (!exec) {
    if ((rc = d.cuGraphInstantiate(&exec, graph, 0))) {
      exec = nullptr;
      d.cuGraphDestroy(graph);
      error = "cuGraphInstantiate: " + describe(rc);
      return false;
    }
  }
  d.cuGraphDestroy(graph);
  if ((rc = d.cuGraphLaunch(exec, stream.stream))) {
    error = "cuGraphLaunch: " + describe(rc);
    return false;
  }
  return true;
}

Graph::~Graph() {
  if (!driver().ready)
    return;
  if (exec)
    driver().cuGraphExecDestroy(exec);
  for (auto &chunk : chunks)
    release(chunk.first);
}

} // namespace qnext::cuda

// MLIR's GPU runtime ABI, as `gpu-to-llvm` and the gpu.binary embedding
// call it (mlir/lib/ExecutionEngine/CudaRuntimeWrappers.cpp).
#define QNEXT_EXPORT extern "C" __attribute__((visibility("default")))

// Each does nothing (returns null) while a failure is pending: the runtime
// reports it when the code returns.

QNEXT_EXPORT CUmodule mgpuModuleLoad(void *data, size_t /*size*/) {
  CUmodule module = nullptr;
  if (!usable())
    return nullptr;
  check(driver().cuModuleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

QNEXT_EXPORT CUmodule mgpuModuleLoadJIT(void *data, int /*optLevel*/) {
  return mgpuModuleLoad(data, 0);
}

/// The kernels already looked up, by module and name: the host code asks
/// for a kernel before each launch, with the same name (a constant).
static std::map<std::pair<CUmodule, const char *>, CUfunction> &kernels() {
  static std::map<std::pair<CUmodule, const char *>, CUfunction> found;
  return found;
}
static std::mutex kernelsMutex;

QNEXT_EXPORT void mgpuModuleUnload(CUmodule module) {
  {
    std::lock_guard<std::mutex> lock(kernelsMutex);
    auto &found = kernels();
    found.erase(found.lower_bound({module, nullptr}),
                found.upper_bound({module, reinterpret_cast<const char *>(UINTPTR_MAX)}));
  }
  if (driver().ready)
    driver().cuModuleUnload(module);
}

QNEXT_EXPORT CUfunction mgpuModuleGetFunction(CUmodule module, const char *name) {
  std::lock_guard<std::mutex> lock(kernelsMutex);
  if (!usable())
    return nullptr;
  CUfunction &function = kernels()[{module, name}];
  if (!function)
    check(driver().cuModuleGetFunction(&function, module, name), "cuModuleGetFunction");
  return function;
}

QNEXT_EXPORT void mgpuLaunchKernel(CUfunction function, intptr_t gridX,
                                   intptr_t gridY, intptr_t gridZ,
                                   intptr_t blockX, intptr_t blockY,
                                   intptr_t blockZ, int32_t smem,
                                   CUstream stream, void **params, void **extra,
                                   size_t /*paramsCount*/) {
  if (!usable())
    return;
  check(driver().cuLaunchKernel(function, unsigned(gridX), unsigned(gridY),
                                unsigned(gridZ), unsigned(blockX), unsigned(blockY),
                                unsigned(blockZ), unsigned(smem), stream, params,
                                extra),
        "cuLaunchKernel");
}

// During a call on a Stream (or a Graph's capture), every stream of the code
// is that one: creating one returns it, and destroying or waiting for it
// does nothing (the caller waits once the code returns).

QNEXT_EXPORT CUstream mgpuStreamCreate() {
  if (callStream)
    return callStream;
  CUstream stream = nullptr;
  if (!usable())
    return nullptr;
  check(driver().cuStreamCreate(&stream, 1 /*non-blocking*/), "cuStreamCreate");
  return stream;
}

QNEXT_EXPORT void mgpuStreamDestroy(CUstream stream) {
  if (!stream || stream == callStream)
    return;
  check(driver().cuStreamDestroy(stream), "cuStreamDestroy");
}

QNEXT_EXPORT void mgpuStreamSynchronize(CUstream stream) {
  if (stream == callStream || !usable())
    return;
  check(driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
}

QNEXT_EXPORT void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  if (!usable())
    return;
  check(driver().cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

QNEXT_EXPORT CUevent mgpuEventCreate() {
  CUevent event = nullptr;
  if (!usable())
    return nullptr;
  check(driver().cuEventCreate(&event, 2 /*disable timing*/), "cuEventCreate");
  return event;
}

QNEXT_EXPORT void mgpuEventDestroy(CUevent event) {
  if (!event)
    return;
  check(driver().cuEventDestroy(event), "cuEventDestroy");
}

QNEXT_EXPORT void mgpuEventSynchronize(CUevent event) {
  if (capturing) {
    capturing->fail("the code waits for an event");
    return;
  }
  if (!usable())
    return;
  check(driver().cuEventSynchronize(event), "cuEventSynchronize");
}

QNEXT_EXPORT void mgpuEventRecord(CUevent event, CUstream stream) {
  if (!usable())
    return;
  check(driver().cuEventRecord(event, stream), "cuEventRecord");
}

QNEXT_EXPORT void *mgpuMemAlloc(uint64_t bytes, CUstream stream,
                                bool isHostShared) {
  if (isHostShared) {
    failed("the code asks for host-shared (managed) GPU memory, which qnext "
           "does not use");
    return nullptr;
  }
  // Captured: from the graph's arena, not the pool. Stream-ordered
  // allocations would become the graph's allocation nodes, whose addresses
  // belong to the graph captured: the next step's graph could not update
  // the executable one.
  if (capturing) {
    if (stream != callStream) {
      capturing->fail("the code allocates outside its stream");
      return nullptr;
    }
    return capturing->allocate(bytes);
  }
  if (!usable())
    return nullptr;
  if (stream && driver().pools) {
    CUdeviceptr p = 0;
    if (!check(driver().cuMemAllocAsync(&p, bytes ? bytes : 1, stream),
               "cuMemAllocAsync"))
      return nullptr;
    return reinterpret_cast<void *>(p);
  }
  std::string error;
  void *p = qnext::cuda::allocate(bytes, error);
  if (!p)
    failed(error);
  return p;
}

QNEXT_EXPORT void mgpuMemFree(void *ptr, CUstream stream) {
  // The arena is reset by the next capture.
  if (capturing) {
    if (!capturing->handedOut(ptr, 1))
      capturing->fail("the code frees memory it did not allocate");
    return;
  }
  // In stream order, after the kernels that read it; without a pool,
  // cuMemFree waits for the device. Freed also after a failure: a null
  // stream (one not created) is the default stream.
  if (!ptr)
    return;
  if (stream && driver().pools)
    check(driver().cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(ptr), stream),
          "cuMemFreeAsync");
  else
    qnext::cuda::release(ptr);
}

QNEXT_EXPORT void mgpuMemcpy(void *dst, void *src, size_t bytes, CUstream stream) {
  // A graph holds device-to-device copies. A host constant copied into a
  // buffer of this capture is copied now: the buffer is new (the arena is
  // not reused within a step) and at the same address in every step;
  // upload() has it done before the graph is launched.
  if (capturing && !isDevice(src)) {
    std::string why;
    if (!capturing->handedOut(dst, bytes))
      capturing->fail("the code copies between the host and a buffer it did "
                      "not allocate");
    else if (!qnext::cuda::upload(dst, src, bytes, why))
      capturing->fail(why);
    return;
  }
  if (capturing && !isDevice(dst)) {
    capturing->fail("the code copies to the host");
    return;
  }
  if (!usable())
    return;
  if (check(driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                                   reinterpret_cast<CUdeviceptr>(src), bytes, stream),
            "cuMemcpyAsync") &&
      stream && stream == callStream && !isDevice(dst))
    // The host may read it next, and the code will not wait for the stream.
    check(driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
}

QNEXT_EXPORT void mgpuMemset32(void *dst, unsigned value, size_t count,
                               CUstream stream) {
  if (!usable())
    return;
  check(driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                                  stream),
        "cuMemsetD32Async");
}

QNEXT_EXPORT void mgpuMemset16(void *dst, unsigned short value, size_t count,
                               CUstream stream) {
  if (!usable())
    return;
  check(driver().cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                                  stream),
        "cuMemsetD16Async");
}
