//===- CPUPipeline.cpp - qnext -> LLVM dialect for the host CPU -----------===//
//
// The CPU pipeline as numbered steps; each says why it sits where it does.
// The steps are upstream textual pass pipelines (the forms measured in
// ../shared/toolchain.md) plus qnext's own passes.
//
//===----------------------------------------------------------------------===//

#include "qnext/Target/CPUPipeline.h"

#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/StringExtras.h"

using namespace mlir;

namespace {
struct Step {
  qnext::CPUPhase phase; ///< the phase this step belongs to
  const char *pipeline;
};

const Step kSteps[] = {
    // 1. Layer ops -> primitive ops: every later step sees one op per kernel.
    {qnext::CPUPhase::Primitive, "qnext-decompose-layers"},
    // 2. Primitive ops -> linalg/tensor/scf/arith/math on tensors, fp32 math
    //    with weights widened inside the loop bodies.
    {qnext::CPUPhase::Linalg, "qnext-lower-to-linalg"},
    // 3. The residual adds (arith on tensors) become linalg too; then fold
    //    the reshapes, slices and constants the lowering left, before
    //    bufferization decides what can be done in place.
    {qnext::CPUPhase::Linalg,
     "func.func(convert-elementwise-to-linalg),canonicalize,cse"},
    // 4. Weights and the entry ABI, still on tensors: every parameter becomes
    //    a read-only view of the packed weights buffer (the plan goes into
    //    the module for the packer), and public functions take buffers the
    //    caller owns, writing states back in place and logits into an
    //    out-parameter.
    {qnext::CPUPhase::LLVMDialect, "qnext-bind-params,qnext-cpu-entry-abi"},
    // 5. Tensors -> buffers. Empty-tensor elimination first, so results are
    //    written straight into the caller's buffers
    //    (bufferization.materialize_in_destination) without copies; identity
    //    layouts at function boundaries give plain C descriptors.
    {qnext::CPUPhase::LLVMDialect,
     "eliminate-empty-tensors,"
     "one-shot-bufferize{bufferize-function-boundaries "
     "function-boundary-type-conversion=identity-layout-map},"
     "buffer-deallocation-pipeline,convert-bufferization-to-memref,"
     // Copies become loops (a memref.copy between strided views would call
     // the memrefCopy runtime helper, which the artifact must not need).
     "qnext-copy-to-linalg"},
    // 6. Structured ops -> loops. expand-strided-metadata produces
    //    affine.apply, so it must precede lower-affine.
    {qnext::CPUPhase::LLVMDialect,
     "convert-linalg-to-loops,expand-strided-metadata,lower-affine,"
     "convert-scf-to-cf"},
    // 7. -> LLVM dialect: math first (exp, sin, cos, rsqrt, log1p become
    //    intrinsics), then memrefs, then everything else; the casts left
    //    between the conversions are reconciled last.
    {qnext::CPUPhase::LLVMDialect,
     "convert-math-to-llvm,finalize-memref-to-llvm,convert-to-llvm,"
     "reconcile-unrealized-casts"},
};
} // namespace

LogicalResult mlir::qnext::buildCPUPipeline(OpPassManager &pm,
                                            CPUPhase until) {
  SmallVector<StringRef> steps;
  for (const Step &step : kSteps)
    if (step.phase <= until)
      steps.push_back(step.pipeline);
  // A module pass manager: the steps, without a builtin.module(...) wrapper
  // (with one, parsePassPipeline would nest it and run nothing).
  return parsePassPipeline(llvm::join(steps, ","), pm, llvm::errs());
}

void mlir::qnext::registerCPUPipeline() {
  PassPipelineRegistration<>(
      "qnext-cpu-pipeline",
      "The qnext CPU pipeline: layer ops down to the LLVM dialect",
      [](OpPassManager &pm) { (void)buildCPUPipeline(pm); });
}
