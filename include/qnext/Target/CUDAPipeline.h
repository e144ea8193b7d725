//===- CUDAPipeline.h - qnext -> NVVM kernels + host launches ---*- C++ -*-===//

#ifndef QNEXT_TARGET_CUDAPIPELINE_H
#define QNEXT_TARGET_CUDAPIPELINE_H

#include "qnext/Target/FrontEnd.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::qnext {

/// Phases of the CUDA pipeline that qnext-compile can stop after.
enum class CUDAPhase {
  Primitive,   ///< after qnext-decompose-layers
  Fused,       ///< after the chosen fusion passes (Fusions.h)
  Linalg,      ///< after qnext-lower-to-linalg (tensors)
  GPU,         ///< kernels outlined into one gpu.module, host launches
  LLVMDialect, ///< host code in the LLVM dialect, kernels in a gpu.binary
};

struct CUDAPipelineOptions {
  /// GPU architecture: sm_80, sm_90, sm_90a, ...
  std::string chip = "sm_90a";
  /// The CUDA toolkit (ptxas, fatbinary, libdevice).
  std::string toolkit = "/usr/local/cuda";
  /// What gpu-module-to-binary produces: "isa" (PTX text), "bin" (cubin),
  /// "fatbin".
  std::string format = "fatbin";
  /// Threads per block of the mapped parallel loops.
  int64_t blockSize = 128;
  /// The fusions to run (names from Fusions.h); none by default.
  std::vector<std::string> fusions;
  /// For testing without a GPU: the kernels become loops on the host
  /// (qnext-gpu-emulate-on-host) after the GPU phase's mapping, and the rest
  /// is the CPU pipeline's tail; the result runs on the CPU runtime. The GPU
  /// phase then shows the emulated host code, and there is no PTX.
  bool emulate = false;
};

/// Appends the CUDA pipeline up to `until` to `pm` (a pass manager on
/// builtin.module). Parsed by pass name: the registry must hold qnext's and
/// MLIR's passes (mlir::qnext::registerAllPasses).
/// Appends the passes of the phases from `from` to `until` to `pm`, a
/// module pass manager; steps 1 and 3 are the CPU pipeline's (FrontEnd.h).
/// A mistake in `options` goes to `onError` (default: a line on stderr).
LogicalResult buildCUDAPipeline(OpPassManager &pm,
                                CUDAPhase until = CUDAPhase::LLVMDialect,
                                const CUDAPipelineOptions &options = {},
                                CUDAPhase from = CUDAPhase::Primitive,
                                PipelineErrorHandler onError = nullptr);

/// The kernels' PTX (or cubin / fatbin bytes) of a module the pipeline ran
/// on to the end: the object of its one gpu.binary.
llvm::Expected<std::string> kernelBinary(ModuleOp module);

/// Registers the pipeline as `qnext-cuda-pipeline` for qnext-opt.
void registerCUDAPipeline();

} // namespace mlir::qnext

#endif // QNEXT_TARGET_CUDAPIPELINE_H
