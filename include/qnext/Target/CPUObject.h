//===- CPUObject.h - LLVM dialect -> a shared object for the host -*- C++ -*-===//

#ifndef QNEXT_TARGET_CPUOBJECT_H
#define QNEXT_TARGET_CPUOBJECT_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

namespace llvm {
class MCSubtargetInfo;
}

#include <string>
#include <vector>

namespace mlir::qnext {

class CodeCache;

struct CPUTargetOptions {
  /// CPU to generate code for: "host" (the default) or an LLVM CPU name
  /// such as "x86-64-v3" or "sapphirerapids".
  std::string cpu = "host";
  /// Instruction sets added to that CPU's, in LLVM's spelling ("+avx512bf16,
  /// +amx-tile"): a fat artifact's "x86-64-v4+amx" (CPUVariants.h). Empty
  /// for "host", which has what this machine has.
  std::string features;
  /// Exported as the constant string `qnext_abi` when not empty: what the
  /// code assumes of its caller's buffers (qnext::artifact::abiRecord).
  std::string abiRecord;
  /// Move every constant-sized alloca of a later block to its function's
  /// entry block before optimizing: for a CUDA artifact's host code, where
  /// the translation of `gpu.launch_func` allocates each launch's argument
  /// array at the launch, and a prompt's launches sit in loops over tokens
  /// and chunks (each iteration grew the stack until a 512-token prompt of
  /// the bench preset overflowed 8 MiB). Sound there because those arrays
  /// are read by the launch (the driver copies the arguments) and dead after.
  bool hoistStaticAllocas = false;
};

/// What the object was built for (recorded in the artifact manifest).
struct CPUTargetInfo {
  std::string triple;
  std::string cpu;
  /// Every instruction set the code may use, "+avx512f,+fma,...": the CPU's
  /// own and those it implies (instructionSetFeatures).
  std::string features;
  /// Shared libraries the code needs besides libc/libm ("libomp.so.5" when
  /// it runs parallel loops).
  std::vector<std::string> libraries;
};

/// --cpu=host's features for LLVM ("+avx2,-avx512f,..."): every feature LLVM
/// detects on this CPU, each on or off (a VM that hides a feature its CPU
/// model has must not get code using it), with the ones the runtime checks
/// decided by the runtime's own CPUID reading (qnext/CPUFeatures.h): an
/// artifact compiled for the host always passes the host's check. Features
/// named in QNEXT_HIDE_CPU_FEATURES are off, as in the runtime's check.
std::string hostFeatures();

/// Success for "host" and the CPU names LLVM knows for the host's target;
/// otherwise an error naming the nearest known name.
llvm::Error checkCPUName(llvm::StringRef cpu);

/// The instruction-set features `sti` enables, as "+name,..." in LLVM's
/// spelling: what the runtime checks against CPUID before it loads the code
/// (qnext/CPUFeatures.h). Tuning features and code-generation preferences
/// are left out; an enabled feature that is neither, and that the runtime
/// cannot check, is an error.
llvm::Expected<std::string>
instructionSetFeatures(const llvm::MCSubtargetInfo &sti);

/// What code for `options` would be built for: the triple, the CPU's name
/// and every instruction set it may use (as a manifest records them).
llvm::Expected<CPUTargetInfo> describeTarget(const CPUTargetOptions &options);

/// f32 lanes for the projection kernels on that CPU: 16 with AVX-512, else 8.
int64_t preferredVectorWidth(const CPUTargetOptions &options);

/// How a CPU multiplies bytes at some vector width (--activations=int8).
enum class ByteDot {
  None,
  /// vpmaddubsw + vpmaddwd (16 lanes: AVX512-BW; 8: AVX2).
  Pairs,
  /// vpdpbusd (16 lanes: AVX512-VNNI; 8: AVX-VNNI or AVX512-VNNI with VL).
  VNNI,
};
/// How that CPU multiplies bytes at `vectorWidth` f32 lanes: vpdpbusd where
/// it has it, else vpmaddubsw + vpmaddwd, else not at all.
ByteDot byteDotOf(const CPUTargetOptions &options, int64_t vectorWidth);
/// Whether the target CPU has vdpbf16ps for `vectorWidth` f32 lanes
/// (AVX512-BF16; with AVX512-VL for 8), which --activations=bf16 multiplies
/// bf16 pairs with.
bool hasBF16Dot(const CPUTargetOptions &options, int64_t vectorWidth);
/// Whether the target CPU has AMX tiles with bf16 products (AMX-TILE and
/// AMX-BF16: tdpbf16ps), which --activations=bf16 runs the kernels of
/// several tokens on (--amx).
bool hasAMXBF16(const CPUTargetOptions &options);

/// Translates a module in the LLVM dialect to LLVM IR, adds for every
/// `_mlir_ciface_<name>` a packed entry point `void qnext_<name>(void **args)`
/// (args[i] points at argument i) and the thread controls
/// `void qnext_set_num_threads(int32_t)` / `int32_t qnext_max_threads()`,
/// and optimizes at O2 for the target (O3 doubled the time for no measured gain yet).
llvm::Expected<std::string> translateToLLVMIR(ModuleOp module,
                                              const CPUTargetOptions &options,
                                              CPUTargetInfo *info = nullptr);

/// The same, compiled to an ELF object and linked into a shared object
/// (bytes). Linking uses the system C compiler driver (`cc -shared`).
llvm::Expected<std::vector<char>>
emitSharedObject(ModuleOp module, const CPUTargetOptions &options,
                 CPUTargetInfo *info = nullptr);

/// emitSharedObject for several modules (a fat artifact's variants, each
/// with its options and info): translated one after another, then optimized
/// and compiled on up to one thread a core. The objects in `modules`' order.
/// With a `cache` (CodeCache.h), a module whose code it holds is taken from
/// there (counted in `fromCache`) and the others are stored in it; a cache
/// that cannot be read or written is a `warn`ing (needed with a cache),
/// never an error.
llvm::Expected<std::vector<std::vector<char>>>
emitSharedObjects(llvm::ArrayRef<ModuleOp> modules,
                  llvm::ArrayRef<CPUTargetOptions> options,
                  llvm::MutableArrayRef<CPUTargetInfo> infos,
                  const CodeCache *cache = nullptr,
                  llvm::function_ref<void(const llvm::Twine &)> warn = {},
                  size_t *fromCache = nullptr);

} // namespace mlir::qnext

#endif // QNEXT_TARGET_CPUOBJECT_H
