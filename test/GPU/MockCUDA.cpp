//===- MockCUDA.cpp - a CUDA driver with no GPU, for the runtime's tests --===//
//
// Built as build/test/mock-cuda/libcuda.so.1. A test puts that folder first
// on LD_LIBRARY_PATH, and the runtime's dlopen("libcuda.so.1") opens this
// instead of a driver, so the CUDA path of the runtime (uploads, states,
// module loading, launches, stream capture, graphs) runs on any machine.
//
// Memory is host memory, and copies and memsets outside a capture are made.
// Kernels are not run: each launch is checked (the kernel is in the loaded
// image, the grid and block are within the hardware's limits) and counted.
// Stream capture and graphs follow the driver's documented rules where the
// runtime depends on them:
//  - synchronizing a capturing stream, or the context while one captures,
//    fails (CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED) and invalidates the
//    capture, which then ends with CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
//  - a copy between host and device memory on a capturing stream does too;
//  - cuGraphExecUpdate refuses a graph with other nodes, or other kernels
//    in them, than the executable graph's (CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE).
//
// QNEXT_MOCK_CUDA_LOG=FILE appends one line per event worth checking:
//   module: fatbin, N bytes
//   synchronize: K kernels launched directly, A stream-ordered allocations,
//                S streams created, W waits for a stream (since the last)
//   capture: K kernels, C copies, M memsets, A allocation nodes; H copies
//            from the host made meanwhile (not in the graph)
//   instantiate: K kernels | update: K kernels, G grids changed
//   update refused: ... | launch graph: K kernels
//   exit: N allocations live
// qnextMockCounts() reads the counts behind the synchronize line, for a test
// that opened the mock itself.
// QNEXT_MOCK_CUDA_FAIL makes one thing fail as a driver would: `capture`
// (cuStreamBeginCapture), `module` (cuModuleLoadData: no kernel image for
// this GPU), `alloc` (cuMemAllocAsync: out of memory). The device is one of
// compute capability 9.0.
//
//===----------------------------------------------------------------------===//

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace {

using CUresult = int;
using CUdeviceptr = uint64_t;

constexpr CUresult kSuccess = 0;
constexpr CUresult kInvalidValue = 1;
constexpr CUresult kOutOfMemory = 2;
constexpr CUresult kNoBinaryForGPU = 209;
constexpr CUresult kInvalidImage = 200;
constexpr CUresult kNotFound = 500;
constexpr CUresult kCaptureUnsupported = 900;
constexpr CUresult kCaptureInvalidated = 901;
constexpr CUresult kUpdateFailure = 910;

struct Function {
  std::string name;
};

struct Module {
  std::string image;
  std::deque<Function> functions;
};

/// A node of a captured graph: a kernel (with its grid) or a copy, memset
/// or allocation.
struct Node {
  enum Kind { Kernel, Copy, Memset, Allocation } kind;
  const Function *function = nullptr;
  unsigned grid[3] = {0, 0, 0};
};

struct Graph {
  std::vector<Node> nodes;
  size_t count(Node::Kind kind) const {
    size_t n = 0;
    for (const Node &node : nodes)
      n += node.kind == kind;
    return n;
  }
};

struct Stream {
  bool capturing = false;
  bool invalidated = false;
  Graph graph;
};

struct Event {
  Stream *recordedOn = nullptr;
};

struct State {
  std::mutex mutex;
  std::map<uintptr_t, size_t> allocations; ///< base -> bytes
  std::deque<Module> modules;
  size_t directLaunches = 0, streamAllocations = 0, streamsCreated = 0,
         streamWaits = 0;
  size_t hostCopiesWhileCapturing = 0;
  int capturing = 0; ///< streams capturing now
  FILE *log = nullptr;
  std::mutex logMutex; ///< say() is called with `mutex` held or not

  ~State() {
    say("exit: %zu allocations live", allocations.size());
    if (log)
      std::fclose(log);
  }

  void say(const char *format, ...) {
    std::lock_guard<std::mutex> lock(logMutex);
    if (!log) {
      const char *path = std::getenv("QNEXT_MOCK_CUDA_LOG");
      if (!path || !(log = std::fopen(path, "a")))
        return;
    }
    va_list args;
    va_start(args, format);
    std::vfprintf(log, format, args);
    va_end(args);
    std::fputc('\n', log);
    std::fflush(log);
  }

  /// Whether [p, p + bytes) lies in one live allocation.
  bool device(CUdeviceptr p, size_t bytes = 1) const {
    auto it = allocations.upper_bound(uintptr_t(p));
    if (it == allocations.begin())
      return false;
    --it;
    return p >= it->first && p + bytes <= it->first + it->second;
  }

  CUdeviceptr allocate(size_t bytes) {
    void *p = std::calloc(1, bytes ? bytes : 1);
    allocations[uintptr_t(p)] = bytes;
    return CUdeviceptr(uintptr_t(p));
  }

  CUresult release(CUdeviceptr p) {
    auto it = allocations.find(uintptr_t(p));
    if (it == allocations.end())
      return kInvalidValue;
    std::free(reinterpret_cast<void *>(uintptr_t(p)));
    allocations.erase(it);
    return kSuccess;
  }
};

State &state() {
  static State s;
  return s;
}

/// Whether QNEXT_MOCK_CUDA_FAIL names `what`.
bool failing(const char *what) {
  const char *fail = std::getenv("QNEXT_MOCK_CUDA_FAIL");
  return fail && std::strcmp(fail, what) == 0;
}

/// An operation a capture cannot hold: the capture is invalidated.
CUresult unsupported(Stream *stream) {
  if (stream && stream->capturing)
    stream->invalidated = true;
  return kCaptureUnsupported;
}

/// The size of a loaded image: a fatbin (its header has it), an ELF cubin
/// (its section headers end it) or PTX text. 0 when it is none of them.
size_t imageSize(const void *data) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  uint32_t magic;
  std::memcpy(&magic, bytes, 4);
  if (magic == 0xBA55ED50u) { // fatbin: magic, version, header size, fat size
    uint16_t header;
    uint64_t fat;
    std::memcpy(&header, bytes + 6, 2);
    std::memcpy(&fat, bytes + 8, 8);
    return header + fat;
  }
  if (std::memcmp(bytes, "\x7f" "ELF", 4) == 0) {
    uint64_t sectionHeaders;
    uint16_t entrySize, entries;
    std::memcpy(&sectionHeaders, bytes + 0x28, 8);
    std::memcpy(&entrySize, bytes + 0x3a, 2);
    std::memcpy(&entries, bytes + 0x3c, 2);
    return sectionHeaders + size_t(entrySize) * entries;
  }
  const char *text = static_cast<const char *>(data);
  if (std::strstr(text, ".version") && std::strstr(text, ".entry"))
    return std::strlen(text);
  return 0;
}

const char *imageKind(const void *data) {
  const auto *bytes = static_cast<const unsigned char *>(data);
  if (bytes[0] == 0x50 && bytes[1] == 0xED && bytes[2] == 0x55 && bytes[3] == 0xBA)
    return "fatbin";
  return bytes[0] == 0x7f ? "cubin" : "ptx";
}

} // namespace

#define MOCK_EXPORT extern "C" __attribute__((visibility("default")))

MOCK_EXPORT CUresult cuInit(unsigned) { return kSuccess; }
MOCK_EXPORT CUresult cuDeviceGetCount(int *count) {
  *count = 1;
  return kSuccess;
}
MOCK_EXPORT CUresult cuDeviceGet(int *device, int ordinal) {
  *device = ordinal;
  return ordinal == 0 ? kSuccess : kInvalidValue;
}
MOCK_EXPORT CUresult cuDevicePrimaryCtxRetain(void **context, int) {
  static int primary;
  *context = &primary;
  return kSuccess;
}
MOCK_EXPORT CUresult cuCtxSetCurrent(void *) { return kSuccess; }

MOCK_EXPORT CUresult cuCtxSynchronize() {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.capturing)
    return kCaptureUnsupported;
  s.say("synchronize: %zu kernels launched directly, %zu stream-ordered "
        "allocations, %zu streams created, %zu waits for a stream",
        s.directLaunches, s.streamAllocations, s.streamsCreated, s.streamWaits);
  s.directLaunches = s.streamAllocations = s.streamsCreated = s.streamWaits = 0;
  return kSuccess;
}

MOCK_EXPORT CUresult cuGetErrorName(CUresult rc, const char **name) {
  switch (rc) {
  case kSuccess: *name = "CUDA_SUCCESS"; break;
  case kInvalidValue: *name = "CUDA_ERROR_INVALID_VALUE"; break;
  case kOutOfMemory: *name = "CUDA_ERROR_OUT_OF_MEMORY"; break;
  case kNoBinaryForGPU: *name = "CUDA_ERROR_NO_BINARY_FOR_GPU"; break;
  case kInvalidImage: *name = "CUDA_ERROR_INVALID_IMAGE"; break;
  case kNotFound: *name = "CUDA_ERROR_NOT_FOUND"; break;
  case kCaptureUnsupported: *name = "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED"; break;
  case kCaptureInvalidated: *name = "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED"; break;
  case kUpdateFailure: *name = "CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE"; break;
  default: *name = nullptr; return kInvalidValue;
  }
  return kSuccess;
}

// Memory.

MOCK_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr *p, size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  *p = s.allocate(bytes);
  return kSuccess;
}

MOCK_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.release(p);
}

MOCK_EXPORT CUresult cuMemAllocAsync(CUdeviceptr *p, size_t bytes, Stream *stream) {
  if (failing("alloc"))
    return kOutOfMemory;
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  *p = s.allocate(bytes);
  if (stream && stream->capturing)
    stream->graph.nodes.push_back({Node::Allocation});
  else
    ++s.streamAllocations;
  return kSuccess;
}

MOCK_EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, Stream *) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  return s.release(p);
}

MOCK_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void *src, size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.device(dst, bytes))
    return kInvalidValue;
  s.hostCopiesWhileCapturing += s.capturing > 0;
  std::memcpy(reinterpret_cast<void *>(uintptr_t(dst)), src, bytes);
  return kSuccess;
}

MOCK_EXPORT CUresult cuMemcpyDtoH_v2(void *dst, CUdeviceptr src, size_t bytes) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.device(src, bytes))
    return kInvalidValue;
  std::memcpy(dst, reinterpret_cast<const void *>(uintptr_t(src)), bytes);
  return kSuccess;
}

MOCK_EXPORT CUresult cuMemcpyAsync(CUdeviceptr dst, CUdeviceptr src, size_t bytes,
                                   Stream *stream) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  bool deviceToDevice = s.device(dst, bytes) && s.device(src, bytes);
  if (stream && stream->capturing) {
    if (!deviceToDevice)
      return unsupported(stream);
    stream->graph.nodes.push_back({Node::Copy});
    return kSuccess;
  }
  std::memmove(reinterpret_cast<void *>(uintptr_t(dst)),
               reinterpret_cast<const void *>(uintptr_t(src)), bytes);
  return kSuccess;
}

MOCK_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr dst, unsigned char value, size_t n) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.device(dst, n))
    return kInvalidValue;
  std::memset(reinterpret_cast<void *>(uintptr_t(dst)), value, n);
  return kSuccess;
}

template <typename T>
static CUresult fill(CUdeviceptr dst, T value, size_t n, Stream *stream) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (!s.device(dst, n * sizeof(T)))
    return kInvalidValue;
  if (stream && stream->capturing) {
    stream->graph.nodes.push_back({Node::Memset});
    return kSuccess;
  }
  T *p = reinterpret_cast<T *>(uintptr_t(dst));
  for (size_t i = 0; i < n; ++i)
    p[i] = value;
  return kSuccess;
}

MOCK_EXPORT CUresult cuMemsetD32Async(CUdeviceptr dst, unsigned value, size_t n,
                                      Stream *stream) {
  return fill<uint32_t>(dst, value, n, stream);
}

MOCK_EXPORT CUresult cuMemsetD16Async(CUdeviceptr dst, unsigned short value, size_t n,
                                      Stream *stream) {
  return fill<uint16_t>(dst, value, n, stream);
}

MOCK_EXPORT CUresult cuPointerGetAttribute(void *data, int attribute, CUdeviceptr p) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (attribute != 2 /*CU_POINTER_ATTRIBUTE_MEMORY_TYPE*/ || !s.device(p))
    return kInvalidValue;
  *static_cast<unsigned *>(data) = 2; // CU_MEMORYTYPE_DEVICE
  return kSuccess;
}

MOCK_EXPORT CUresult cuDeviceGetAttribute(int *value, int attribute, int) {
  switch (attribute) {
  case 75: *value = 9; break;  // COMPUTE_CAPABILITY_MAJOR
  case 76: *value = 0; break;  // COMPUTE_CAPABILITY_MINOR
  case 115: *value = 1; break; // MEMORY_POOLS_SUPPORTED
  default: *value = 0;
  }
  return kSuccess;
}
MOCK_EXPORT CUresult cuDeviceGetDefaultMemPool(void **pool, int) {
  static int defaultPool;
  *pool = &defaultPool;
  return kSuccess;
}
MOCK_EXPORT CUresult cuMemPoolSetAttribute(void *, int, void *) { return kSuccess; }

// Modules and kernels.

MOCK_EXPORT CUresult cuModuleLoadData(Module **module, const void *image) {
  size_t bytes = imageSize(image);
  if (!bytes)
    return kInvalidImage;
  if (failing("module"))
    return kNoBinaryForGPU;
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.modules.push_back({std::string(static_cast<const char *>(image), bytes), {}});
  *module = &s.modules.back();
  s.say("module: %s, %zu bytes", imageKind(image), bytes);
  return kSuccess;
}

MOCK_EXPORT CUresult cuModuleUnload(Module *) { return kSuccess; }

/// A kernel is found when its name, NUL-terminated (a cubin's string
/// table) or followed by '(' (PTX), is in the image.
MOCK_EXPORT CUresult cuModuleGetFunction(Function **function, Module *module,
                                         const char *name) {
  std::string cubinName = std::string(name) + '\0', ptxName = std::string(name) + '(';
  if (module->image.find(cubinName) == std::string::npos &&
      module->image.find(ptxName) == std::string::npos)
    return kNotFound;
  module->functions.push_back({name});
  *function = &module->functions.back();
  return kSuccess;
}

MOCK_EXPORT CUresult cuLaunchKernel(Function *function, unsigned gridX, unsigned gridY,
                                    unsigned gridZ, unsigned blockX, unsigned blockY,
                                    unsigned blockZ, unsigned sharedBytes,
                                    Stream *stream, void **params, void **extra) {
  // The limits of every GPU since sm_30.
  uint64_t threads = uint64_t(blockX) * blockY * blockZ;
  if (!function || gridX == 0 || gridX > 0x7fffffffu || gridY == 0 ||
      gridY > 65535 || gridZ == 0 || gridZ > 65535 || threads == 0 ||
      threads > 1024 || blockZ > 64 || sharedBytes > 48 * 1024 || extra)
    return kInvalidValue;
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (stream && stream->capturing)
    stream->graph.nodes.push_back({Node::Kernel, function, {gridX, gridY, gridZ}});
  else
    ++s.directLaunches;
  return kSuccess;
}

// Streams and events.

MOCK_EXPORT CUresult cuStreamCreate(Stream **stream, unsigned) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  ++s.streamsCreated;
  *stream = new Stream;
  return kSuccess;
}

MOCK_EXPORT CUresult cuStreamDestroy_v2(Stream *stream) {
  if (stream && stream->capturing)
    return kCaptureUnsupported;
  delete stream;
  return kSuccess;
}

MOCK_EXPORT CUresult cuStreamSynchronize(Stream *stream) {
  if (stream && stream->capturing)
    return unsupported(stream);
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  s.streamWaits += stream != nullptr; // not the default stream
  return kSuccess;
}

MOCK_EXPORT CUresult cuEventCreate(Event **event, unsigned) {
  *event = new Event;
  return kSuccess;
}
MOCK_EXPORT CUresult cuEventDestroy_v2(Event *event) {
  delete event;
  return kSuccess;
}
MOCK_EXPORT CUresult cuEventRecord(Event *event, Stream *stream) {
  event->recordedOn = stream;
  return kSuccess;
}
MOCK_EXPORT CUresult cuEventSynchronize(Event *event) {
  if (event->recordedOn && event->recordedOn->capturing)
    return unsupported(event->recordedOn);
  return kSuccess;
}
MOCK_EXPORT CUresult cuStreamWaitEvent(Stream *, Event *, unsigned) { return kSuccess; }

// Capture and graphs.

MOCK_EXPORT CUresult cuStreamBeginCapture_v2(Stream *stream, int) {
  if (failing("capture"))
    return kCaptureUnsupported;
  if (!stream || stream->capturing)
    return kInvalidValue;
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  *stream = Stream();
  stream->capturing = true;
  ++s.capturing;
  return kSuccess;
}

MOCK_EXPORT CUresult cuStreamEndCapture(Stream *stream, Graph **graph) {
  if (!stream || !stream->capturing)
    return kInvalidValue;
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  stream->capturing = false;
  --s.capturing;
  *graph = nullptr;
  if (stream->invalidated)
    return kCaptureInvalidated;
  const Graph &g = stream->graph;
  s.say("capture: %zu kernels, %zu copies, %zu memsets, %zu allocation nodes; "
        "%zu copies from the host made meanwhile",
        g.count(Node::Kernel), g.count(Node::Copy), g.count(Node::Memset),
        g.count(Node::Allocation), s.hostCopiesWhileCapturing);
  s.hostCopiesWhileCapturing = 0;
  *graph = new Graph(std::move(stream->graph));
  return kSuccess;
}

MOCK_EXPORT CUresult cuGraphInstantiateWithFlags(Graph **exec, Graph *graph,
                                                 unsigned long long) {
  *exec = new Graph(*graph);
  state().say("instantiate: %zu kernels", graph->count(Node::Kernel));
  return kSuccess;
}

struct UpdateResult {
  int result;
  void *errorNode, *errorFromNode;
};

MOCK_EXPORT CUresult cuGraphExecUpdate_v2(Graph *exec, Graph *graph,
                                          UpdateResult *info) {
  size_t grids = 0;
  bool same = exec->nodes.size() == graph->nodes.size();
  for (size_t i = 0; same && i < graph->nodes.size(); ++i) {
    const Node &a = exec->nodes[i], &b = graph->nodes[i];
    same = a.kind == b.kind && (a.kind != Node::Kernel ||
                                a.function->name == b.function->name);
    grids += same && std::memcmp(a.grid, b.grid, sizeof a.grid) != 0;
  }
  if (!same) {
    info->result = 2; // CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED
    state().say("update refused: other nodes than the executable graph's");
    return kUpdateFailure;
  }
  info->result = 0;
  exec->nodes = graph->nodes;
  state().say("update: %zu kernels, %zu grids changed", graph->count(Node::Kernel),
              grids);
  return kSuccess;
}

MOCK_EXPORT CUresult cuGraphLaunch(Graph *exec, Stream *stream) {
  if (stream && stream->capturing)
    return unsupported(stream);
  state().say("launch graph: %zu kernels", exec->count(Node::Kernel));
  return kSuccess;
}

MOCK_EXPORT CUresult cuGraphDestroy(Graph *graph) {
  delete graph;
  return kSuccess;
}

MOCK_EXPORT CUresult cuGraphExecDestroy(Graph *exec) {
  delete exec;
  return kSuccess;
}

// For tests: the counts since the last cuCtxSynchronize.
MOCK_EXPORT void qnextMockCounts(size_t *directLaunches, size_t *streamsCreated,
                                 size_t *streamWaits) {
  State &s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  *directLaunches = s.directLaunches;
  *streamsCreated = s.streamsCreated;
  *streamWaits = s.streamWaits;
}
