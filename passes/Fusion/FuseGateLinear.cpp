//===- FuseGateLinear.cpp - the output gate in o_proj's prologue ----------===//
//
// The contract is in passes/Passes.td. Like qnext-fuse-norm-linear, the pass
// only marks; qnext-vectorize-contractions computes the marked gate inside
// the kernel of the projection that reads it.
//
//===----------------------------------------------------------------------===//

#include "ProjectionInput.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSEGATELINEAR
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {
struct FuseGateLinearPass
    : mlir::qnext::impl::FuseGateLinearBase<FuseGateLinearPass> {
  using FuseGateLinearBase::FuseGateLinearBase;

  void runOnOperation() override {
    auto mark = StringAttr::get(&getContext(), "gate-linear");
    getOperation()->walk([&](SigmoidGateOp gate) {
      // An elementwise gate only: the shared expert's one-per-token gate
      // scales a projection's output, not its input.
      if (gate->hasAttr("qnext.fused") ||
          gate.getGate().getType() != gate.getInput().getType() ||
          !feedsOneProjection(gate.getResult()))
        return;
      gate->setAttr("qnext.fused", mark);
      ++numFused;
    });
  }
};
} // namespace
