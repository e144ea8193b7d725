//===- FuseNormRope.cpp - QK-norm + RoPE -> one op ------------------------===//
//
// The contract is in passes/Fusion/FusionPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "LocalRewrite.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSENORMROPE
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {
/// rope(rms_norm(x)) -> norm_rope(x) where the normalised heads feed nothing
/// else (they would have to be written anyway).
struct NormRopePattern : OpRewritePattern<RopeOp> {
  NormRopePattern(MLIRContext *context, int64_t &fused)
      : OpRewritePattern(context), fused(fused) {}

  LogicalResult matchAndRewrite(RopeOp rope, PatternRewriter &rewriter) const override {
    auto norm = rope.getInput().getDefiningOp<RMSNormOp>();
    if (!norm || !norm->hasOneUse() || FusedOp::groupOf(norm))
      return rewriter.notifyMatchFailure(rope, "not the sole reader of an RMSNorm");
    auto op = NormRopeOp::create(
        rewriter, rewriter.getFusedLoc({norm.getLoc(), rope.getLoc()}), rope.getType(),
        norm.getInput(), norm.getWeight(), rope.getPositions(), norm.getEpsilonAttr(),
        norm.getWeightOffsetAttr(), rope.getRotaryDimAttr(), rope.getThetaAttr(),
        rope.getYarnAttr());
    setLayerOf(op, {norm, rope});
    rewriter.replaceOp(rope, op.getResult());
    rewriter.eraseOp(norm);
    ++fused;
    return success();
  }

  int64_t &fused;
};

struct FuseNormRopePass : mlir::qnext::impl::FuseNormRopeBase<FuseNormRopePass> {
  using FuseNormRopeBase::FuseNormRopeBase;

  void runOnOperation() override {
    int64_t fused = 0;
    RewritePatternSet patterns(&getContext());
    patterns.add<NormRopePattern>(&getContext(), fused);
    if (failed(applyLocalRewrites(getOperation(), std::move(patterns))))
      return signalPassFailure();
    numFused += fused;
  }
};
} // namespace
