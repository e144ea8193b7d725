//===- CPUPipeline.h - qnext -> LLVM dialect for the host CPU ---*- C++ -*-===//

#ifndef QNEXT_TARGET_CPUPIPELINE_H
#define QNEXT_TARGET_CPUPIPELINE_H

#include "qnext/Target/FrontEnd.h"

#include "mlir/Pass/PassManager.h"

namespace mlir::qnext {

/// Phases of the CPU pipeline that qnext-compile can stop after.
enum class CPUPhase {
  Primitive,   ///< after qnext-decompose-layers
  Fused,       ///< after the chosen fusion passes (Fusions.h)
  Linalg,      ///< after qnext-lower-to-linalg (tensors)
  Kernels,     ///< projections and heads as parallel vector kernels (tensors)
  LLVMDialect, ///< fully lowered to the LLVM dialect
};

struct CPUPipelineOptions {
  /// f32 lanes of the projection kernels: 8 for AVX2, 16 for AVX-512
  /// (preferredVectorWidth in CPUObject.h picks it for a target CPU).
  int64_t vectorWidth = 8;
  /// Run the projection kernels' row blocks on all cores (OpenMP worksharing
  /// loops; the object then links libomp). Off: the same loops in order, as
  /// the JIT-compiled unit tests use them.
  bool threads = true;
  /// With threads, the schedule of the worksharing loops
  /// (qnext-omp-schedule): static, dynamic, guided or runtime.
  std::string ompSchedule = "guided";
  /// Each distinct layer compiled once, as a private function that its
  /// layers call (qnext-outline-layers). Off: every layer inline in its
  /// entry point, as the fusion and kernel tests read them.
  bool outlineLayers = true;
  /// Routed experts as gather contractions (qnext-lower-to-linalg
  /// gather-experts: the CUDA pipeline's form), to check that form's
  /// numerics on the CPU.
  bool gatherExperts = false;
  /// The fusions to run (names from Fusions.h, each optionally followed by
  /// its pass options in braces); none by default.
  std::vector<std::string> fusions;
  /// What the kernels multiply weights by: "f32" inputs (weight-exact),
  /// "int8" (one token's kernels of int8/int4 weights: inputs quantized on
  /// the fly, bytes multiplied: see vnni) or "bf16" (kernels of bf16
  /// weights: inputs rounded to bf16, pairs multiplied with vdpbf16ps);
  /// qnext-vectorize-contractions' activations option.
  std::string activations = "f32";
  /// With activations "bf16": the kernels of several tokens multiply on
  /// AMX tiles (qnext-vectorize-contractions' amx option); the target CPU
  /// must have AMX-BF16.
  bool amx = false;
  /// With activations "bf16": each input as the sum of this many bf16
  /// values (qnext-vectorize-contractions' bf16-terms): 2, the rounding and
  /// its remainder, each multiplied (about 2^-17 relative error, the
  /// lower-precision contract met), or 1 (rounded once: 2^-9, half the
  /// products).
  int64_t bf16Terms = 2;
  /// With activations "int8": bytes multiplied with vpdpbusd (the target
  /// CPU must have AVX512-VNNI, or AVX-VNNI for 8 lanes); false:
  /// vpmaddubsw + vpmaddwd, which AVX2 and AVX512-BW have
  /// (qnext-vectorize-contractions' and qnext-lower-byte-dots' vnni).
  bool vnni = true;
  /// Bracket every kernel and layer call with the runtime's profiling hook
  /// (qnext-outline-kernels profile): `qnext-bench --profile` needs it.
  bool profileKernels = false;
};

/// Appends the passes of the phases from `from` to `until` to `pm`, a
/// module pass manager. A mistake in `options` (an unknown fusion) goes to
/// `onError` (default: a line on stderr) and fails.
LogicalResult buildCPUPipeline(OpPassManager &pm,
                               CPUPhase until = CPUPhase::LLVMDialect,
                               const CPUPipelineOptions &options = {},
                               CPUPhase from = CPUPhase::Primitive,
                               PipelineErrorHandler onError = nullptr);

/// Steps 7-8: structured ops on buffers -> loops (OpenMP with
/// options.threads) -> the LLVM dialect. The CUDA pipeline's emulation of a
/// GPU on the host ends with them too.
void addLoopsToLLVM(OpPassManager &pm, const CPUPipelineOptions &options);

/// qnext-opt's --qnext-cpu-pipeline.
void registerCPUPipeline();

} // namespace mlir::qnext

#endif // QNEXT_TARGET_CPUPIPELINE_H
