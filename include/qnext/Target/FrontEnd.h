//===- FrontEnd.h - the steps every target's pipeline shares ----*- C++ -*-===//
//
// The CPU and CUDA pipelines (CPUPipeline.h, CUDAPipeline.h) are C++
// builders that append passes to a pass manager, phase by phase. The steps
// they share are built here, once: the layer ops decomposed, the chosen
// fusions, and the weights, entry ABI and bufferization.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TARGET_FRONTEND_H
#define QNEXT_TARGET_FRONTEND_H

#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/STLFunctionalExtras.h"

#include <functional>
#include <string>
#include <vector>

namespace mlir::qnext {

/// Where a builder reports a mistake in its options (an unknown fusion, a
/// fusion's options that do not parse): one message, then the builder
/// returns failure.
using PipelineErrorHandler = llvm::function_ref<LogicalResult(const llvm::Twine &)>;

/// Prints "error: MESSAGE" to stderr and fails: the handler builders use
/// when their caller gives none.
LogicalResult printPipelineError(const llvm::Twine &message);

/// Step 1: layer ops -> primitive ops (qnext-decompose-layers), so that
/// every later step sees one op per kernel.
void addDecomposition(OpPassManager &pm);

/// Step 1b: the named fusions (Fusions.h; "name" or "name{pass options}"),
/// in the table's order, on each function. An unknown name or options that
/// do not parse go to `onError`.
LogicalResult addFusionPasses(OpPassManager &pm, llvm::ArrayRef<std::string> names,
                              PipelineErrorHandler onError);

/// Memref views (expand-strided-metadata, which produces affine.apply) and
/// affine ops lowered, then scf -> cf, on `pm`'s ops: the step before the
/// LLVM conversions, for the CPU's code and the GPU's kernels and host code.
void addLowerToControlFlow(OpPassManager &pm);

/// Weights and the entry ABI on tensors (qnext-bind-params,
/// qnext-entry-abi), then tensors -> buffers: empty tensors eliminated so
/// that results are written into the caller's buffers, one-shot
/// bufferization with identity layouts at function boundaries (plain C
/// descriptors), with `dropEquivalentResults` the layer functions' states
/// updated in place rather than returned, deallocation, and copies as loops
/// (the artifact must not need MLIR's memrefCopy helper).
void addBufferization(OpPassManager &pm, bool dropEquivalentResults);

/// Registers a named pipeline for qnext-opt (--pass-pipeline, or
/// --NAME{options}) whose builder may fail: a mistake in its options is
/// reported and fails the tool, where PassPipelineRegistration would ignore
/// the builder's result.
template <typename Options>
void registerCheckedPipeline(
    llvm::StringRef arg, llvm::StringRef description,
    std::function<LogicalResult(OpPassManager &, const Options &, PipelineErrorHandler)>
        build) {
  registerPassPipeline(
      arg, description,
      [build](OpPassManager &pm, llvm::StringRef text, PipelineErrorHandler onError) {
        Options options;
        if (failed(options.parseFromString(text)))
          return failure();
        return build(pm, options, onError);
      },
      [](llvm::function_ref<void(const ::mlir::detail::PassOptions &)> optHandler) {
        optHandler(Options());
      });
}

} // namespace mlir::qnext

#endif // QNEXT_TARGET_FRONTEND_H
