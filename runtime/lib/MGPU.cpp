//===- MGPU.cpp - MLIR's mgpu* GPU runtime ABI over the CUDA driver -------===//
//
// The host code of a CUDA artifact calls these (gpu-to-llvm's lowering);
// an executable that links the runtime exports them to the code it loads.
// During a call on a Stream (or a Graph's capture) every stream the code
// creates is that call's stream, and buffers come from the capture's arena.
//
//===----------------------------------------------------------------------===//

#include "CUDADriver.h"

#include <map>
#include <mutex>
#include <utility>

using namespace qnext::cuda::detail;

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

