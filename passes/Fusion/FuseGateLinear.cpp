//===- FuseGateLinear.cpp - the output gate in o_proj's prologue ----------===//
//
// The contract is in passes/Fusion/FusionPasses.td. Like
// qnext-fuse-norm-linear, the pass only marks; qnext-vectorize-contractions
// computes the marked gate inside the kernel of the projection that reads it.
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
    SmallVector<SmallVector<Operation *>> groups;
    getOperation()->walk([&](SigmoidGateOp gate) {
      // An elementwise gate only: the shared expert's one-per-token gate
      // scales a projection's output, not its input.
      if (isGrouped(gate) || gate.getGate().getType() != gate.getInput().getType())
        return;
      SmallVector<Operation *> path = projectionReading(gate.getResult());
      if (path.empty())
        return;
      path.insert(path.begin(), gate);
      groups.push_back(path);
    });
    for (ArrayRef<Operation *> members : groups)
      if (groupOps(FusionKind::GateLinear, members))
        ++numFused;
  }
};
} // namespace
