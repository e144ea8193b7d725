//===- InitAll.h - registration shared by every qnext tool ------*- C++ -*-===//
//
// Every tool (qnext-opt, qnext-compile, ...) registers dialects and passes
// through these two functions, so they all accept the same IR and pipelines.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_INITALL_H
#define QNEXT_INITALL_H

#include "qnext/Dialect/QNext/QNextDialect.h"
#include "qnext/Passes/Passes.h"
#include "qnext/Target/CPUPipeline.h"
#include "qnext/Target/CUDAPipeline.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"

namespace mlir::qnext {

/// Upstream dialects, their extensions (bufferization and convert-to-llvm need
/// them), the LLVM IR translations including the GPU ones (gpu-module-to-binary
/// needs them), and the qnext dialect.
inline void registerAllDialects(DialectRegistry &registry) {
  mlir::registerAllDialects(registry);
  mlir::registerAllExtensions(registry);
  mlir::registerAllToLLVMIRTranslations(registry);
  mlir::registerAllGPUToLLVMIRTranslations(registry);
  registry.insert<QNextDialect>();
}

/// Upstream passes, every qnext pass and the qnext pipelines.
inline void registerAllPasses() {
  mlir::registerAllPasses();
  registerQNextPasses();
  registerCPUPipeline();
  registerCUDAPipeline();
}

} // namespace mlir::qnext

#endif // QNEXT_INITALL_H
