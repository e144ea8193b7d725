//===- CopyToLinalg.cpp - memref.copy -> linalg.copy ----------------------===//
//
// The contract is in passes/Lower/LowerPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/IR/Builders.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_COPYTOLINALG
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {
struct CopyToLinalgPass
    : mlir::qnext::impl::CopyToLinalgBase<CopyToLinalgPass> {
  using CopyToLinalgBase::CopyToLinalgBase;

  void runOnOperation() override {
    SmallVector<memref::CopyOp> copies;
    getOperation()->walk([&](memref::CopyOp copy) { copies.push_back(copy); });
    for (memref::CopyOp copy : copies) {
      OpBuilder b(copy);
      // dst[i...] = src[i...]
      linalg::CopyOp::create(b, copy.getLoc(), copy.getSource(),
                             copy.getTarget());
      copy->erase();
    }
  }
};
} // namespace
