//===- FuseAddNorm.cpp - residual add + the next RMSNorm -> one op --------===//
//
// The contract is in passes/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSEADDNORM
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {
struct FuseAddNormPass : mlir::qnext::impl::FuseAddNormBase<FuseAddNormPass> {
  using FuseAddNormBase::FuseAddNormBase;

  void runOnOperation() override {
    SmallVector<RMSNormOp> norms;
    getOperation()->walk([&](RMSNormOp norm) { norms.push_back(norm); });
    for (RMSNormOp norm : norms) {
      // A norm another fusion grouped (norm-linear) stays as it is.
      if (FusedOp::groupOf(norm))
        continue;
      auto add = norm.getInput().getDefiningOp<arith::AddFOp>();
      // The same block, a tensor sum, and only one norm of it (a second
      // would need the sum normalised twice).
      if (!add || add->getBlock() != norm->getBlock() ||
          !isa<RankedTensorType>(add.getType()) ||
          llvm::count_if(add->getUsers(),
                         [](Operation *u) { return isa<RMSNormOp>(u); }) != 1)
        continue;
      // The fused op goes where the norm is (its weight may be defined
      // after the add), so every other reader of the sum must come later.
      bool afterNorm = llvm::all_of(add->getUsers(), [&](Operation *u) {
        return u == norm.getOperation() ||
               (u->getBlock() == norm->getBlock() && norm->isBeforeInBlock(u));
      });
      if (!afterNorm)
        continue;
      OpBuilder b(norm);
      auto fused = AddRMSNormOp::create(
          b, b.getFusedLoc({add.getLoc(), norm.getLoc()}),
          TypeRange{add.getType(), norm.getType()}, add.getLhs(), add.getRhs(),
          norm.getWeight(), norm.getEpsilonAttr(), norm.getWeightOffsetAttr());
      norm.getResult().replaceAllUsesWith(fused.getResult());
      norm->erase();
      add.getResult().replaceAllUsesWith(fused.getSum());
      add->erase();
      ++numFused;
    }
  }
};
} // namespace
