//===- FuseRouter.cpp - the router as one kernel per token ----------------===//
//
// The contract is in passes/Fusion/FusionPasses.td.
//
//===----------------------------------------------------------------------===//

#include "FusionGroup.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSEROUTER
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {
struct FuseRouterPass : mlir::qnext::impl::FuseRouterBase<FuseRouterPass> {
  using FuseRouterBase::FuseRouterBase;

  void runOnOperation() override {
    SmallVector<Operation *> routers;
    getOperation()->walk([&](RouterOp router) {
      if (!isGrouped(router))
        routers.push_back(router);
    });
    for (Operation *router : routers)
      if (groupOps(FusionKind::Router, {router}))
        ++numFused;
  }
};
} // namespace
