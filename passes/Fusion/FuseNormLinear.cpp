//===- FuseNormLinear.cpp - an RMSNorm in its projection's prologue -------===//
//
// The contract is in passes/Passes.td. The pass only marks; the lowering
// carries the mark onto the norm's elementwise generic, and
// qnext-vectorize-contractions computes that generic inside the kernel of
// the projection that reads it.
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
    auto mark = StringAttr::get(&getContext(), "norm-linear");
    getOperation()->walk([&](Operation *op) {
      if (!isa<RMSNormOp, GatedRMSNormOp>(op) || op->hasAttr("qnext.fused") ||
          !feedsOneProjection(op->getResult(0)))
        return;
      op->setAttr("qnext.fused", mark);
      ++(isa<RMSNormOp>(op) ? numNorms : numGatedNorms);
    });
  }
};
} // namespace
