//===- FrontEnd.cpp - the steps every target's pipeline shares ------------===//

#include "qnext/Target/FrontEnd.h"
#include "qnext/Target/Fusions.h"

#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Transforms/Passes.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"

#include "llvm/Support/raw_ostream.h"

using namespace mlir;

LogicalResult mlir::qnext::printPipelineError(const llvm::Twine &message) {
  llvm::errs() << "error: " << message << "\n";
  return failure();
}

void mlir::qnext::addDecomposition(OpPassManager &pm) {
  pm.addPass(createDecomposeLayers());
}

LogicalResult mlir::qnext::addFusionPasses(OpPassManager &pm,
                                           llvm::ArrayRef<std::string> names,
                                           PipelineErrorHandler onError) {
  // Every name must be a fusion: none is dropped in silence.
  for (const std::string &name : names) {
    llvm::StringRef bare = llvm::StringRef(name).take_until([](char c) { return c == '{'; });
    if (!findFusion(bare))
      return onError("no such fusion '" + bare + "' (" + fusionNames() + ")");
  }
  if (names.empty())
    return success();
  OpPassManager &functions = pm.nest<func::FuncOp>();
  for (const Fusion &fusion : allFusions())
    for (const std::string &name : names) {
      llvm::StringRef ref(name);
      if (ref.take_until([](char c) { return c == '{'; }) != fusion.name)
        continue;
      std::unique_ptr<Pass> pass = fusion.create();
      // "name{options}": the pass's own options, as qnext-opt spells them.
      llvm::StringRef options = ref.drop_front(fusion.name.size());
      if (!options.empty()) {
        if (!options.consume_front("{") || !options.consume_back("}"))
          return onError("fusion '" + name + "': options go in braces, " +
                         fusion.name + "{option=value ...}");
        if (failed(pass->initializeOptions(options, onError)))
          return onError("fusion '" + name + "': the options do not parse");
      }
      functions.addPass(std::move(pass));
      break;
    }
  return success();
}

void mlir::qnext::addLowerToControlFlow(OpPassManager &pm) {
  pm.addPass(memref::createExpandStridedMetadataPass());
  pm.addPass(createLowerAffinePass());
  pm.addPass(createSCFToControlFlowPass());
}

void mlir::qnext::addBufferization(OpPassManager &pm, bool dropEquivalentResults) {
  pm.addPass(createBindParams());
  pm.addPass(createEntryABI());
  pm.addPass(bufferization::createEmptyTensorEliminationPass());
  bufferization::OneShotBufferizePassOptions oneShot;
  oneShot.bufferizeFunctionBoundaries = true;
  oneShot.functionBoundaryTypeConversion =
      bufferization::LayoutMapOption::IdentityLayoutMap;
  pm.addPass(bufferization::createOneShotBufferizePass(oneShot));
  // The constants' globals in an order that does not vary between runs.
  pm.addPass(createSortGlobals());
  if (dropEquivalentResults) {
    // A layer function updates its states and caches in place: it no
    // longer returns them (or the deallocation pipeline would return a copy
    // of each), and the copy back into the caller's buffer, now from that
    // buffer to itself, folds away.
    pm.addPass(bufferization::createDropEquivalentBufferResultsPass());
    pm.addPass(createCanonicalizerPass());
  }
  bufferization::BufferDeallocationPipelineOptions deallocation;
  bufferization::buildBufferDeallocationPipeline(pm, deallocation);
  pm.addPass(createConvertBufferizationToMemRefPass());
  // Copies become loops (a memref.copy between strided views would call the
  // memrefCopy runtime helper, which the artifact must not need).
  pm.addPass(createCopyToLinalg());
}
