//===- VectorizeContractions.cpp - x * W^T as vector kernels --------------===//
//
// The contract is in passes/Lower/LowerPasses.td. The pass finds each kernel's
// work (KernelMatch.cpp) and emits it (KernelEmitter.cpp), fused pairs first,
// then the MoE's combines, then every other contraction.
//
//===----------------------------------------------------------------------===//

#include "ContractionKernels.h"

#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_VECTORIZECONTRACTIONS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using mlir::qnext::kFusionAttrName;

using namespace mlir::qnext::kernels;

namespace {

struct VectorizeContractionsPass
    : mlir::qnext::impl::VectorizeContractionsBase<VectorizeContractionsPass> {
  using VectorizeContractionsBase::VectorizeContractionsBase;

  void runOnOperation() override {
    if (vectorWidth < 1 || rows < 1 || tokenRows < 1 || tokenBlockRows < 1 ||
        prologueTasks < 1 || tokenTile < 0) {
      getOperation()->emitError("qnext-vectorize-contractions: vector-width, "
                                "rows, token-rows, token-block-rows and "
                                "prologue-tasks must be positive, token-tile "
                                "not negative");
      return signalPassFailure();
    }
    if (activations != "f32" && activations != "int8" && activations != "bf16") {
      getOperation()->emitError("qnext-vectorize-contractions: activations must be "
                                "'f32', 'int8' or 'bf16', not '")
          << activations << "'";
      return signalPassFailure();
    }
    // Both modes' instructions come in 256 and 512 bits.
    if (activations != "f32" && vectorWidth != 8 && vectorWidth != 16) {
      getOperation()->emitError("qnext-vectorize-contractions: activations=")
          << activations
          << (activations == "int8" ? " multiplies bytes (vpdpbusd, vpmaddubsw)"
                                    : " multiplies bf16 pairs with vdpbf16ps")
          << ", 256 or 512 bits: vector-width 8 or 16, not " << int64_t(vectorWidth);
      return signalPassFailure();
    }
    if (bf16Terms != 1 && bf16Terms != 2) {
      getOperation()->emitError("qnext-vectorize-contractions: bf16-terms must be "
                                "1 or 2, not ")
          << int64_t(bf16Terms);
      return signalPassFailure();
    }
    if (amx && (activations != "bf16" || vectorWidth != 16)) {
      getOperation()->emitError("qnext-vectorize-contractions: amx multiplies "
                                "bf16 tiles: it needs activations=bf16 and "
                                "vector-width 16");
      return signalPassFailure();
    }
    kernelActivations = activations == "int8"   ? Activations::Int8
                        : activations == "bf16" ? Activations::BF16
                                                : Activations::F32;
    // A quantized weight's slices read its values and scales.
    {
      RewritePatternSet patterns(&getContext());
      populateSliceDequantizePatterns(patterns);
      // Only the slices move: no folding, CSE or region simplification.
      GreedyRewriteConfig config;
      config.enableFolding(false).enableConstantCSE(false).setRegionSimplificationLevel(
          GreedySimplifyRegionLevel::Disabled);
      if (failed(applyPatternsGreedily(getOperation(), std::move(patterns), config)))
        return signalPassFailure();
    }
    // Fused pairs first (their contractions are not kernels of their own),
    // then every other contraction. Each is matched again right before it
    // is emitted: an earlier kernel may have replaced what it reads.
    SmallVector<linalg::GenericOp> epilogues, contractions;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (matchEpilogue(op))
        epilogues.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : epilogues)
      if (std::optional<Kernel> k = matchEpilogue(op);
          k && fitsVectors(k->c, vectorWidth))
        emit(rewriter, *k);
    // The routed experts' weighted combines, each with its gather.
    SmallVector<linalg::GenericOp> combines;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (matchCombine(op))
        combines.push_back(op);
    });
    for (linalg::GenericOp op : combines)
      if (std::optional<Kernel> k = matchCombine(op);
          k && fitsVectors(k->c, vectorWidth)) {
        matchSharedExpert(*k, vectorWidth);
        emit(rewriter, *k);
      }
    getOperation()->walk([&](linalg::GenericOp op) {
      if (std::optional<Contraction> c = match(op)) {
        if (fitsVectors(*c, vectorWidth))
          contractions.push_back(op);
        else
          ++numSkipped;
      }
    });
    for (linalg::GenericOp op : contractions)
      if (std::optional<Contraction> c = match(op)) {
        std::optional<Kernel> k = matchPrologue(*c, vectorWidth);
        emit(rewriter, k ? *k : Kernel{*c, std::nullopt, {}, {}, {}});
      }
    // The groups' tags are consumed: what was not fused (a shape the
    // kernels do not take) is lowered as it would be unfused.
    getOperation()->walk([](Operation *op) { op->removeAttr(kFusionAttrName); });
    // A quantized weight is decoded by the kernels that read it, never
    // materialised: one that something else still reads is an error.
    WalkResult unread = getOperation()->walk([&](mlir::qnext::DequantizeOp dq) {
      if (dq->use_empty()) {
        dq->erase();
        return WalkResult::advance();
      }
      InFlightDiagnostic diag = dq.emitError()
          << "qnext-vectorize-contractions: this quantized weight is read by an "
             "op no kernel decodes (a kernel takes K and the group in whole "
             "vectors of "
          << int64_t(vectorWidth)
          << (dq.getInt4() ? ", and int4's half tiles of 16 bytes too" : "") << ")";
      diag.attachNote((*dq->getUsers().begin())->getLoc()) << "read here";
      return WalkResult::interrupt();
    });
    if (unread.wasInterrupted())
      signalPassFailure();
  }

  Activations kernelActivations = Activations::F32;

  void emit(IRRewriter &rewriter, Kernel k) {
    // The epilogue (or the combine) sits after the contractions: emit there.
    Operation *last = k.epilogue    ? k.epilogue.getOperation()
                      : k.sharedAdd ? k.sharedAdd.getOperation()
                      : k.combine   ? k.combine.getOperation()
                                    : k.c.op.getOperation();
    rewriter.setInsertionPoint(last);
    // The combine's zero fill, erased with it (read before it is replaced).
    linalg::FillOp combineFill =
        k.combine ? k.combine.getDpsInits()[0].getDefiningOp<linalg::FillOp>()
                  : linalg::FillOp();
    // A combine's kernel is named for all it computes: the routed experts'
    // down projections and, when it adds it, the shared expert's (a
    // profile's row; the add itself has only the layer's location).
    Location kernelLoc = last->getLoc();
    if (k.combine) {
      SmallVector<Location> parts = {k.c.op->getLoc()};
      if (k.sharedAdd)
        parts.append({k.sharedDown->op->getLoc(), k.sharedGate->getLoc()});
      kernelLoc = FusedLoc::get(rewriter.getContext(), parts);
    }
    Value result =
        emitKernel(rewriter, kernelLoc, k,
                   {vectorWidth, rows, tokenRows, tokenBlockRows, prologueTasks,
                    tokenTile, kernelActivations, amx, bf16Terms, vnni});
    rewriter.replaceOp(last, result);
    if (k.sharedAdd) {
      // The add is replaced; the gate, the shared down projection (below)
      // and the combine go with it.
      rewriter.eraseOp(k.sharedGate);
      rewriter.eraseOp(k.combine);
      rewriter.eraseOp(k.sharedDown->op);
      if (auto fill = k.sharedDown->init.getDefiningOp<linalg::FillOp>();
          fill && fill->use_empty())
        rewriter.eraseOp(fill);
      ++numSharedExperts;
    }
    if (k.combine) {
      if (combineFill && combineFill->use_empty())
        rewriter.eraseOp(combineFill);
      ++numCombines;
    }
    SmallVector<Contraction> done = {k.c};
    if (k.second) {
      done.push_back(*k.second);
      ++numEpilogues;
    }
    for (Contraction &c : done) {
      if (k.epilogue || k.combine)
        rewriter.eraseOp(c.op);
      if (auto fill = c.init.getDefiningOp<linalg::FillOp>(); fill && fill->use_empty())
        rewriter.eraseOp(fill);
    }
    if (k.prologue) {
      if (k.collapse)
        rewriter.eraseOp(k.collapse);
      rewriter.eraseOp(k.prologue);
      ++numPrologues;
    }
    if (k.c.selector)
      ++numGathers;
    else
      ++(k.c.multiToken ? numMatmuls : numMatvecs);
  }
};


} // namespace
