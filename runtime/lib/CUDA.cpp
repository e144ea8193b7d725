//===- CUDA.cpp - the CUDA driver through dlopen, and the mgpu* ABI -------===//

#include "CUDA.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>

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
constexpr int kMemoryPoolsSupported = 115; // CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED
constexpr int kReleaseThreshold = 4;       // CU_MEMPOOL_ATTR_RELEASE_THRESHOLD

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
  CUcontext context = nullptr;
  /// The kernels' buffers come from the device's memory pool, in stream
  /// order (cuMemAllocAsync / cuMemFreeAsync), and the pool keeps what is
  /// freed for the next call: no cuMemAlloc per buffer, and no cuMemFree,
  /// which waits for the whole device, between kernels.
  bool pools = false;
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
  CUdevice device;
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
  return true;
}

/// For the mgpu* functions, which cannot report errors: the first failure
/// is printed and the process stops, as MLIR's own wrappers do.
void check(CUresult rc, const char *what) {
  if (rc == 0)
    return;
  std::fprintf(stderr, "qnext runtime: %s failed: %s\n", what, describe(rc).c_str());
  std::abort();
}

/// The calling thread must have the context current.
void current() {
  static thread_local bool set = false;
  if (!set) {
    std::string error;
    if (!qnext::cuda::initialize(error)) {
      std::fprintf(stderr, "qnext runtime: %s\n", error.c_str());
      std::abort();
    }
    check(driver().cuCtxSetCurrent(driver().context), "cuCtxSetCurrent");
    set = true;
  }
}

} // namespace

namespace qnext::cuda {

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

bool upload(void *device, const void *host, size_t bytes, std::string &error) {
  current();
  if (CUresult rc = driver().cuMemcpyHtoD(reinterpret_cast<CUdeviceptr>(device),
                                          host, bytes)) {
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
  if (CUresult rc = driver().cuMemsetD8(reinterpret_cast<CUdeviceptr>(device), 0,
                                        bytes)) {
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

} // namespace qnext::cuda

// MLIR's GPU runtime ABI, as `gpu-to-llvm` and the gpu.binary embedding
// call it (mlir/lib/ExecutionEngine/CudaRuntimeWrappers.cpp).
#define QNEXT_EXPORT extern "C" __attribute__((visibility("default")))

QNEXT_EXPORT CUmodule mgpuModuleLoad(void *data, size_t /*size*/) {
  current();
  CUmodule module = nullptr;
  check(driver().cuModuleLoadData(&module, data), "cuModuleLoadData");
  return module;
}

QNEXT_EXPORT CUmodule mgpuModuleLoadJIT(void *data, int /*optLevel*/) {
  return mgpuModuleLoad(data, 0);
}

QNEXT_EXPORT void mgpuModuleUnload(CUmodule module) {
  if (driver().ready)
    driver().cuModuleUnload(module);
}

QNEXT_EXPORT CUfunction mgpuModuleGetFunction(CUmodule module, const char *name) {
  current();
  CUfunction function = nullptr;
  check(driver().cuModuleGetFunction(&function, module, name), "cuModuleGetFunction");
  return function;
}

QNEXT_EXPORT void mgpuLaunchKernel(CUfunction function, intptr_t gridX,
                                   intptr_t gridY, intptr_t gridZ,
                                   intptr_t blockX, intptr_t blockY,
                                   intptr_t blockZ, int32_t smem,
                                   CUstream stream, void **params, void **extra,
                                   size_t /*paramsCount*/) {
  current();
  check(driver().cuLaunchKernel(function, unsigned(gridX), unsigned(gridY),
                                unsigned(gridZ), unsigned(blockX), unsigned(blockY),
                                unsigned(blockZ), unsigned(smem), stream, params,
                                extra),
        "cuLaunchKernel");
}

QNEXT_EXPORT CUstream mgpuStreamCreate() {
  current();
  CUstream stream = nullptr;
  check(driver().cuStreamCreate(&stream, 1 /*non-blocking*/), "cuStreamCreate");
  return stream;
}

QNEXT_EXPORT void mgpuStreamDestroy(CUstream stream) {
  check(driver().cuStreamDestroy(stream), "cuStreamDestroy");
}

QNEXT_EXPORT void mgpuStreamSynchronize(CUstream stream) {
  check(driver().cuStreamSynchronize(stream), "cuStreamSynchronize");
}

QNEXT_EXPORT void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  check(driver().cuStreamWaitEvent(stream, event, 0), "cuStreamWaitEvent");
}

QNEXT_EXPORT CUevent mgpuEventCreate() {
  current();
  CUevent event = nullptr;
  check(driver().cuEventCreate(&event, 2 /*disable timing*/), "cuEventCreate");
  return event;
}

QNEXT_EXPORT void mgpuEventDestroy(CUevent event) {
  check(driver().cuEventDestroy(event), "cuEventDestroy");
}

QNEXT_EXPORT void mgpuEventSynchronize(CUevent event) {
  check(driver().cuEventSynchronize(event), "cuEventSynchronize");
}

QNEXT_EXPORT void mgpuEventRecord(CUevent event, CUstream stream) {
  check(driver().cuEventRecord(event, stream), "cuEventRecord");
}

QNEXT_EXPORT void *mgpuMemAlloc(uint64_t bytes, CUstream stream,
                                bool isHostShared) {
  if (isHostShared) {
    std::fprintf(stderr, "qnext runtime: host-shared (managed) GPU memory is "
                         "not used by qnext\n");
    std::abort();
  }
  if (stream && driver().pools) {
    CUdeviceptr p = 0;
    check(driver().cuMemAllocAsync(&p, bytes ? bytes : 1, stream), "cuMemAllocAsync");
    return reinterpret_cast<void *>(p);
  }
  std::string error;
  void *p = qnext::cuda::allocate(bytes, error);
  if (!p) {
    std::fprintf(stderr, "qnext runtime: %s\n", error.c_str());
    std::abort();
  }
  return p;
}

QNEXT_EXPORT void mgpuMemFree(void *ptr, CUstream stream) {
  // In stream order, after the kernels that read it; without a pool,
  // cuMemFree waits for the device.
  if (stream && driver().pools)
    check(driver().cuMemFreeAsync(reinterpret_cast<CUdeviceptr>(ptr), stream),
          "cuMemFreeAsync");
  else
    qnext::cuda::release(ptr);
}

QNEXT_EXPORT void mgpuMemcpy(void *dst, void *src, size_t bytes, CUstream stream) {
  check(driver().cuMemcpyAsync(reinterpret_cast<CUdeviceptr>(dst),
                               reinterpret_cast<CUdeviceptr>(src), bytes, stream),
        "cuMemcpyAsync");
}

QNEXT_EXPORT void mgpuMemset32(void *dst, unsigned value, size_t count,
                               CUstream stream) {
  check(driver().cuMemsetD32Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                                  stream),
        "cuMemsetD32Async");
}

QNEXT_EXPORT void mgpuMemset16(void *dst, unsigned short value, size_t count,
                               CUstream stream) {
  check(driver().cuMemsetD16Async(reinterpret_cast<CUdeviceptr>(dst), value, count,
                                  stream),
        "cuMemsetD16Async");
}
