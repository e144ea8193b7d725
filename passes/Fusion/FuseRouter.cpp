//===- FuseRouter.cpp - the router as one kernel per token ----------------===//
//
// The contract is in passes/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

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
    getOperation()->walk([&](RouterOp router) {
      if (router->hasAttr("qnext.fused"))
        return;
      router->setAttr("qnext.fused", StringAttr::get(&getContext(), "router"));
      ++numFused;
    });
  }
};
} // namespace
