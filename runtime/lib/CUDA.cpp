//===- CUDA.cpp - the runtime's CUDA API: memory, streams, graphs ---------===//
//
// What the runtime asks of the GPU (CUDA.h): the driver started, device
// memory, copies, the stream each call's kernels run on, and the decode
// step captured as a CUDA graph and updated in place. The driver is
// CUDADriver.cpp; the generated code's own calls, MGPU.cpp.
//
//===----------------------------------------------------------------------===//

#include "CUDADriver.h"

#include <chrono>
#include <mutex>
#include <cstdio>
#include <utility>

using namespace qnext::cuda::detail;

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

bool copy(void *to, const void *from, size_t bytes, std::string &error) {
  current();
  CUresult rc = driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(to),
                                       reinterpret_cast<CUdeviceptr>(from), bytes, nullptr);
  if (rc == 0)
    rc = driver().cuStreamSynchronize(nullptr);
  if (rc) {
    error = "copying GPU memory: " + describe(rc);
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
