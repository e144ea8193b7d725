//===- FuseMoE.cpp - a decode step's routed experts as grouped kernels -----===//
//
// The contract is in passes/Passes.td. Like qnext-fuse-swiglu, this pass
// only marks: qnext-lower-to-linalg lowers a marked decode step's experts in
// the gather form, and qnext-vectorize-contractions makes that form two
// kernels for all the selected experts.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

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
    auto mark = StringAttr::get(&getContext(), "moe");
    getOperation()->walk([&](ExpertSwiGLUOp op) {
      if (op->hasAttr("qnext.fused"))
        return;
      op->setAttr("qnext.fused", mark);
      ++numFused;
    });
  }
};

} // namespace
