//===- FuseNormRope.cpp - QK-norm + RoPE -> one op ------------------------===//
//
// The contract is in passes/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSENORMROPE
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {
struct FuseNormRopePass : mlir::qnext::impl::FuseNormRopeBase<FuseNormRopePass> {
  using FuseNormRopeBase::FuseNormRopeBase;

  void runOnOperation() override {
    SmallVector<RopeOp> ropes;
    getOperation()->walk([&](RopeOp rope) { ropes.push_back(rope); });
    for (RopeOp rope : ropes) {
      auto norm = rope.getInput().getDefiningOp<RMSNormOp>();
      // The normalised heads feed nothing else (they would have to be
      // written anyway).
      if (!norm || !norm->hasOneUse())
        continue;
      OpBuilder b(rope);
      auto fused = NormRopeOp::create(
          b, b.getFusedLoc({norm.getLoc(), rope.getLoc()}), rope.getType(),
          norm.getInput(), norm.getWeight(), rope.getPositions(),
          norm.getEpsilonAttr(), norm.getWeightOffsetAttr(),
          rope.getRotaryDimAttr(), rope.getThetaAttr(), rope.getYarnAttr());
      rope.getResult().replaceAllUsesWith(fused.getResult());
      rope->erase();
      norm->erase();
      ++numFused;
    }
  }
};
} // namespace
