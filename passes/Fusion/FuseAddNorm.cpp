//===- FuseAddNorm.cpp - residual add + the next RMSNorm -> one op --------===//
//
// The contract is in passes/Fusion/FusionPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "LocalRewrite.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSEADDNORM
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {
/// rms_norm(add(a, b)) -> add_rms_norm(a, b), its sum replacing the add:
/// the same block, a tensor sum, and only one norm of it (a second would
/// need the sum normalised twice).
struct AddNormPattern : OpRewritePattern<RMSNormOp> {
  AddNormPattern(MLIRContext *context, int64_t &fused)
      : OpRewritePattern(context), fused(fused) {}

  LogicalResult matchAndRewrite(RMSNormOp norm, PatternRewriter &rewriter) const override {
    // A norm another fusion grouped (norm-linear) stays as it is.
    if (FusedOp::groupOf(norm))
      return rewriter.notifyMatchFailure(norm, "in a fusion group");
    auto add = norm.getInput().getDefiningOp<arith::AddFOp>();
    if (!add || add->getBlock() != norm->getBlock() ||
        !isa<RankedTensorType>(add.getType()) ||
        llvm::count_if(add->getUsers(), [](Operation *u) { return isa<RMSNormOp>(u); }) != 1)
      return rewriter.notifyMatchFailure(norm, "not the one norm of a tensor add");
    // The fused op goes where the norm is (its weight may be defined after
    // the add), so every other reader of the sum must come later.
    bool afterNorm = llvm::all_of(add->getUsers(), [&](Operation *u) {
      return u == norm.getOperation() ||
             (u->getBlock() == norm->getBlock() && norm->isBeforeInBlock(u));
    });
    if (!afterNorm)
      return rewriter.notifyMatchFailure(norm, "the sum is read before the norm");
    auto op = AddRMSNormOp::create(
        rewriter, rewriter.getFusedLoc({add.getLoc(), norm.getLoc()}),
        TypeRange{add.getType(), norm.getType()}, add.getLhs(), add.getRhs(),
        norm.getWeight(), norm.getEpsilonAttr(), norm.getWeightOffsetAttr());
    // The add may end one layer and the norm begin the next: the fused op
    // then belongs to neither.
    setLayerOf(op, {add, norm});
    rewriter.replaceOp(norm, op.getResult());
    rewriter.replaceOp(add, op.getSum());
    ++fused;
    return success();
  }

  int64_t &fused;
};

struct FuseAddNormPass : mlir::qnext::impl::FuseAddNormBase<FuseAddNormPass> {
  using FuseAddNormBase::FuseAddNormBase;

  void runOnOperation() override {
    int64_t fused = 0;
    RewritePatternSet patterns(&getContext());
    patterns.add<AddNormPattern>(&getContext(), fused);
    if (failed(applyLocalRewrites(getOperation(), std::move(patterns))))
      return signalPassFailure();
    numFused += fused;
  }
};
} // namespace
