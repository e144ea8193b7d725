//===- FuseMoE.cpp - a decode step's routed experts as grouped kernels -----===//
//
// The contract is in passes/Fusion/FusionPasses.td. Each qnext.expert_swiglu
// becomes a qnext.fused <moe> group of its own: qnext-lower-to-linalg lowers a
// decode step's experts in such a group in the gather form, and
// qnext-vectorize-contractions makes that form two kernels for all the selected
// experts.
//
//===----------------------------------------------------------------------===//

#include "FusionGroup.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSEMOE
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

struct FuseMoEPass : mlir::qnext::impl::FuseMoEBase<FuseMoEPass> {
  using FuseMoEBase::FuseMoEBase;

  void runOnOperation() override {
    SmallVector<Operation *> experts;
    getOperation()->walk([&](ExpertSwiGLUOp op) {
      if (!isGrouped(op))
        experts.push_back(op);
    });
    for (Operation *op : experts)
      if (groupOps(FusionKind::MoE, {op}))
        ++numFused;
  }
};

} // namespace
