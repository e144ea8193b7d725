//===- FuseSwiGLU.cpp - gate, up and silu * mul as one kernel -------------===//
//
// The contract is in passes/Fusion/FusionPasses.td. The gate and up projections
// and their silu * mul (or one qnext.expert_swiglu) become a qnext.fused
// <swiglu> group; the lowering (qnext-lower-to-linalg, then
// qnext-vectorize-contractions) emits the group as one kernel.
//
//===----------------------------------------------------------------------===//

#include "FusionGroup.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSESWIGLU
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

/// The projection behind `v` when silu_mul is its only reader and no other
/// fusion has claimed it.
LinearOp soleProjection(Value v) {
  auto linear = v.getDefiningOp<LinearOp>();
  if (!linear || !linear->hasOneUse() || isGrouped(linear))
    return {};
  return linear;
}

struct FuseSwiGLUPass : mlir::qnext::impl::FuseSwiGLUBase<FuseSwiGLUPass> {
  using FuseSwiGLUBase::FuseSwiGLUBase;

  void runOnOperation() override {
    SmallVector<SmallVector<Operation *>> groups;
    SmallVector<Operation *> experts;
    getOperation()->walk([&](Operation *op) {
      if (isGrouped(op))
        return;
      if (isa<ExpertSwiGLUOp>(op)) {
        experts.push_back(op);
        return;
      }
      auto siluMul = dyn_cast<SiluMulOp>(op);
      if (!siluMul)
        return;
      LinearOp gate = soleProjection(siluMul.getGate());
      LinearOp up = soleProjection(siluMul.getUp());
      if (!gate || !up || gate == up || gate.getInput() != up.getInput() ||
          gate.getWeight().getType() != up.getWeight().getType())
        return;
      groups.push_back({gate, up, op});
    });
    for (Operation *op : experts)
      if (groupOps(FusionKind::SwiGLU, {op}))
        ++numExperts;
    for (ArrayRef<Operation *> members : groups)
      if (groupOps(FusionKind::SwiGLU, members))
        ++numFused;
  }
};

} // namespace
