//===- FuseNormLinear.cpp - an RMSNorm in its projection's prologue -------===//
//
// The contract is in passes/Fusion/FusionPasses.td. The norm and the projection
// that reads it become a qnext.fused <norm_linear> group; the lowering tags the
// norm's elementwise generic with the kind, and qnext-vectorize-contractions
// computes that generic inside the kernel of the projection.
//
//===----------------------------------------------------------------------===//

#include "ProjectionInput.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSENORMLINEAR
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {
struct FuseNormLinearPass
    : mlir::qnext::impl::FuseNormLinearBase<FuseNormLinearPass> {
  using FuseNormLinearBase::FuseNormLinearBase;

  void runOnOperation() override {
    SmallVector<SmallVector<Operation *>> groups;
    getOperation()->walk([&](Operation *op) {
      if (!isa<RMSNormOp, GatedRMSNormOp>(op) || isGrouped(op))
        return;
      SmallVector<Operation *> path = projectionReading(op->getResult(0));
      if (path.empty())
        return;
      path.insert(path.begin(), op);
      groups.push_back(path);
    });
    for (ArrayRef<Operation *> members : groups)
      if (groupOps(FusionKind::NormLinear, members))
        ++(isa<RMSNormOp>(members.front()) ? numNorms : numGatedNorms);
  }
};
} // namespace
