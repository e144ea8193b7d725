//===- FuseSwiGLU.cpp - gate, up and silu * mul as one kernel -------------===//
//
// The contract is in passes/Passes.td. Like qnext-fuse-router, this pass
// only marks: the ops keep their meaning, and the marks tell the lowering
// (qnext-lower-to-linalg, then qnext-vectorize-contractions) to emit the two
// projections and their silu * mul as one kernel.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSESWIGLU
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

constexpr llvm::StringLiteral kFused = "qnext.fused";

/// The projection behind `v` when silu_mul is its only reader and no other
/// fusion has claimed it.
LinearOp soleProjection(Value v) {
  auto linear = v.getDefiningOp<LinearOp>();
  if (!linear || !linear->hasOneUse() || linear->hasAttr(kFused))
    return {};
  return linear;
}

struct FuseSwiGLUPass : mlir::qnext::impl::FuseSwiGLUBase<FuseSwiGLUPass> {
  using FuseSwiGLUBase::FuseSwiGLUBase;

  void runOnOperation() override {
    auto mark = StringAttr::get(&getContext(), "swiglu");
    getOperation()->walk([&](Operation *op) {
      if (op->hasAttr(kFused))
        return;
      if (isa<ExpertSwiGLUOp>(op)) {
        op->setAttr(kFused, mark);
        ++numExperts;
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
      for (Operation *member : {gate.getOperation(), up.getOperation(), op})
        member->setAttr(kFused, mark);
      ++numFused;
    });
  }
};

} // namespace
