//===- CPUObject.h - LLVM dialect -> a shared object for the host -*- C++ -*-===//

#ifndef QNEXT_TARGET_CPUOBJECT_H
#define QNEXT_TARGET_CPUOBJECT_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace mlir::qnext {

struct CPUTargetOptions {
  /// CPU to generate code for: "host" (the default) or an LLVM CPU name
  /// such as "x86-64-v3" or "sapphirerapids".
  std::string cpu = "host";
};

/// What the object was built for (recorded in the artifact manifest).
struct CPUTargetInfo {
  std::string triple;
  std::string cpu;
  std::string features; ///< "+avx512f,+fma,..." (enabled features only)
};

/// Translates a module in the LLVM dialect to LLVM IR, adds for every
/// `_mlir_ciface_<name>` a packed entry point `void qnext_<name>(void **args)`
/// (args[i] points at argument i), and optimizes at O2 for the target (O3 doubled the time for no measured gain yet).
llvm::Expected<std::string> translateToLLVMIR(ModuleOp module,
                                              const CPUTargetOptions &options,
                                              CPUTargetInfo *info = nullptr);

/// The same, compiled to an ELF object and linked into a shared object
/// (bytes). Linking uses the system C compiler driver (`cc -shared`).
llvm::Expected<std::vector<char>>
emitSharedObject(ModuleOp module, const CPUTargetOptions &options,
                 CPUTargetInfo *info = nullptr);

} // namespace mlir::qnext

#endif // QNEXT_TARGET_CPUOBJECT_H
