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
#include <string>

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
/// Waits for all work; reports an error a kernel raised.
bool synchronize(std::string &error);

} // namespace qnext::cuda

#endif // QNEXT_RUNTIME_CUDA_H
