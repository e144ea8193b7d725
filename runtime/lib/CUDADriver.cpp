//===- CUDADriver.cpp - the CUDA driver through dlopen --------------------===//
//
// The runtime builds and runs its CPU path without a driver: libcuda.so.1 is
// opened, and its entry points looked up, on the first use of the GPU.
//
//===----------------------------------------------------------------------===//

#include "CUDADriver.h"

#include <dlfcn.h>

namespace qnext::cuda::detail {

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


/// The stream of the call of the generated code under way on this thread
/// (Stream::run, Graph::run), if any: every stream the code asks for.
thread_local CUstream callStream = nullptr;

/// The capture under way on this thread, if any (callStream captures).
thread_local Capture *capturing = nullptr;

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

} // namespace qnext::cuda::detail
