//===- Compile.h - checkpoint -> .qnx, the compiler driver ------*- C++ -*-===//
//
// What qnext-compile does, as a library (in the manner of mlir-opt's
// MlirOptMain): the tool parses its command line into a CompileOptions and
// calls compile(). Reads a checkpoint folder exactly as it ships
// (config.json + safetensors, sharded or not) or a bare config.json,
// validates it, builds the model's IR without reading weight data, lowers it
// for the CPU or a GPU, and writes the phase it stops at: the .qnx artifact
// by default. Phases, in order (compileTo stops after one and writes it;
// dumpPhasesTo writes each one it passes):
//   qnext         layer ops (the model as a user reads it)
//   primitive     after qnext-decompose-layers
//   fused         after the chosen fusion passes (fusion, fuse, noFuse)
//   linalg        after qnext-lower-to-linalg (upstream dialects, tensors)
//   kernels       CPU: projections and heads as parallel vector kernels
//   gpu           CUDA: kernels outlined, host launches
//   llvm-dialect  the whole pipeline: the LLVM dialect
//   ptx           CUDA: the kernels' PTX
//   llvm-ir       translated and optimized for the host CPU
//   object        the code section: a shared object
//   artifact      the .qnx model artifact (default)
//
// The implementation, one job a file: lib/Driver/Compile.cpp (the checks of
// the options and the phase sequence), LoadModel.cpp (config + checkpoint ->
// the qnext module), Outputs.cpp (-o, the phase dumps, the artifact).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_DRIVER_COMPILE_H
#define QNEXT_DRIVER_COMPILE_H

#include "mlir/Support/LogicalResult.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mlir {
class PassManager;
} // namespace mlir

namespace qnext {

/// The phases compile() can stop after, in pipeline order.
enum class CompilePhase {
  QNext,       ///< the model as qnext layer ops
  Primitive,   ///< after qnext-decompose-layers: primitive ops
  Fused,       ///< after the chosen fusion passes
  Linalg,      ///< after qnext-lower-to-linalg (tensors, weights still params)
  Kernels,     ///< CPU: projections and heads as parallel vector kernels
  GPU,         ///< CUDA: kernels outlined into one gpu.module, host launches
  LLVMDialect, ///< the whole pipeline: the LLVM dialect
  PTX,         ///< CUDA: the kernels' PTX
  LLVMIR,      ///< LLVM IR, optimized (O2) for the target CPU
  Object,      ///< the code section: a shared object
  Artifact,    ///< the .qnx model artifact (needs weights)
};

/// Which fusion passes run, before fuse / noFuse (qnext/Target/Fusions.h).
enum class FusionLevel { None, Default, All };

/// What code is generated for.
enum class CompileTarget {
  CPU,  ///< x86-64 CPU
  CUDA, ///< NVIDIA GPU kernels (gpuArch), host code for x86-64
};

/// Everything qnext-compile's command line says; the defaults are the tool's.
struct CompileOptions {
  /// A checkpoint folder, or a config.json (structure only, no weights).
  std::string input;
  /// The output file; "-" is stdout (not for binary outputs).
  std::string output = "-";
  /// Stop after this phase and write it to `output`.
  CompilePhase compileTo = CompilePhase::Artifact;
  /// When set, the IR after each phase passed is written to this folder, one
  /// numbered file per phase (00-qnext.mlir, 01-primitive.mlir, ...).
  std::string dumpPhasesTo;

  /// The fusions that run: those of `fusion`, plus `fuse`, minus `noFuse`
  /// (names from Fusions.h).
  FusionLevel fusion = FusionLevel::Default;
  std::vector<std::string> fuse;
  std::vector<std::string> noFuse;
  /// Print (stderr), per entry point, the kernels and activation bytes per
  /// token without fusion and with the chosen fusions.
  bool fusionReport = false;
  /// Test only, when >= 0: qnext-fuse-projections breaks its Nth fused group
  /// of each function (qnext-run --bisect-against's test).
  int64_t fusionTestMisslice = -1;

  /// CPU: each distinct layer compiled once, as a function its layers call;
  /// false: every layer inline in its entry point.
  bool outlineLayers = true;
  /// CPU: the OpenMP schedule of the kernels' row blocks: static, dynamic,
  /// guided or runtime.
  std::string ompSchedule = "guided";
  /// CPU: bracket every kernel and layer call with the runtime's profiling
  /// hook, for `qnext-bench --profile`.
  bool profileKernels = false;
  /// Also export a `taps` entry point (prefill returning every layer's
  /// hidden states, for qnext-run --bisect-against); CPU only.
  bool taps = false;
  /// Compile the MTP head (entry point `mtp`) when the checkpoint carries
  /// one (`--mtp=auto`); false: `--mtp=off`. CPU only for now.
  bool mtp = true;
  /// Also export `decode_batch`, one decode step of many sequences at once
  /// (qnext_session_decode_batch); CPU only for now (exportsDecodeBatch).
  bool decodeBatch = true;
  /// Also export `prefill_batch`, runs of tokens of many sequences in one
  /// call (qnext_session_prefill_batch); CPU only for now.
  bool prefillBatch = true;
  /// Run the projection kernels on all cores (OpenMP); false: one thread.
  bool parallel = true;

  CompileTarget target = CompileTarget::CPU;
  /// Whether the module (and so the artifact) has `decode_batch`.
  bool exportsDecodeBatch() const {
    return decodeBatch && target == CompileTarget::CPU;
  }
  /// Whether the module (and so the artifact) has `prefill_batch`.
  bool exportsPrefillBatch() const {
    return prefillBatch && target == CompileTarget::CPU;
  }
  /// CUDA: the GPU architecture, sm_<number>[suffix].
  std::string gpuArch = "sm_90a";
  /// CUDA: the toolkit folder (ptxas, fatbinary, libdevice); empty:
  /// $CUDA_HOME, else /usr/local/cuda.
  std::string cudaToolkit;
  /// CUDA, for testing without a GPU: the kernels as loops on the host; the
  /// artifact runs on the CPU. No PTX.
  bool emulateGPU = false;
  /// The CPU to compile for: "host" or an LLVM CPU name (x86-64-v3, znver4,
  /// ...), optionally with instruction sets added (x86-64-v4+amx); or a
  /// comma-separated list of those, or "portable", for a fat artifact with
  /// code for each (CPUVariants.h). Unset: "host", except for the host code
  /// of --target=cuda, which is then compiled for baseline x86-64.
  std::optional<std::string> cpu;

  /// Compile weights that hold NaN or infinity (otherwise an error naming
  /// the tensor and the first such index).
  bool allowNonfinite = false;
  /// How the projections' weights are stored: "stored" (as in the
  /// checkpoint), "int8[:GROUP]" or "int4[:GROUP]" (quantized while
  /// packing, lm_head as `lmHead` says; include/qnext/Model/Quantize.h).
  std::string weights = "stored";
  /// lm_head's format when `weights` quantizes: "" (int8), "int8", "int4"
  /// or "stored" (parseWeightFormat).
  std::string lmHead;
  /// What the projections multiply weights by: "f32" (weight-exact),
  /// "int8" (one token's inputs of int8/int4 weights quantized per group on
  /// the fly and multiplied as bytes: AVX512-VNNI or AVX-VNNI) or "bf16"
  /// (inputs of bf16 weights rounded to bf16, pairs multiplied with
  /// vdpbf16ps: AVX512-BF16); CPUPipeline.h.
  std::string activations = "f32";
  /// With several CPUs (a fat artifact), a variant whose CPU lacks the
  /// instructions of int8 or bf16 keeps f32 (a note says so).
  /// With activations "bf16": whether the kernels of several tokens (a
  /// prompt's tiles, a batched step) multiply on AMX tiles: "auto" (when
  /// the target CPU has AMX-BF16), "on" (an error without it; with several
  /// CPUs, when none has it) or "off".
  std::string amx = "auto";
  /// With activations "bf16": each input as the sum of this many bf16
  /// values, 2 (the rounding and its remainder) or 1 (rounded once).
  int64_t bf16Terms = 2;
  /// Instead of compiling: write the checkpoint to this folder with its FP8
  /// weights (and, with `weights`, the weights it quantizes, as the
  /// artifact computes with them) dequantized to F32
  /// (include/qnext/Model/Dequantize.h).
  std::string exportDequantized;
  /// No progress line (shown on a terminal only) and no summary line
  /// ("wrote model.qnx: ...") on success; warnings and errors still print.
  bool quiet = false;

  /// Called on each pass manager before it runs; failure stops the compile
  /// ("bad pass-manager options"). qnext-compile applies MLIR's --mlir-*
  /// pass-manager flags here (mlir::applyPassManagerCLOptions).
  std::function<mlir::LogicalResult(mlir::PassManager &)> configurePassManager;
  /// The name that starts the error, warning and progress lines on stderr.
  std::string toolName = "qnext-compile";
  /// LLVM's own options given on the command line (their names, e.g.
  /// "unroll-threshold"): they can change the generated code without
  /// changing the module, so QNEXT_CODE_CACHE is not used (CodeCache.h).
  std::vector<std::string> llvmOptions;
};

/// Compiles `options.input` as `options` say. Each problem is reported on
/// stderr as it is found, one line "TOOL: error: ..." (MLIR's diagnostics,
/// when a pass fails, come before it), and fails, leaving `options.output`
/// as it was. Warnings ("TOOL: warning: ...") and the fusion
/// report go to stderr too. The MLIR context's and the IR printer's
/// command-line options, when the tool registered them, apply as usual.
mlir::LogicalResult compile(const CompileOptions &options);

} // namespace qnext

#endif // QNEXT_DRIVER_COMPILE_H
