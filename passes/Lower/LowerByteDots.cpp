//===- LowerByteDots.cpp - qnext.byte_dot -> vpdpbusd ---------------------===//
//
// The contract is in passes/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_LOWERBYTEDOTS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {
struct LowerByteDotsPass
    : mlir::qnext::impl::LowerByteDotsBase<LowerByteDotsPass> {
  void runOnOperation() override {
    getOperation()->walk([](mlir::qnext::ByteDotOp op) {
      OpBuilder b(op);
      StringRef name = op.getAcc().getType().getNumElements() == 16
                           ? "llvm.x86.avx512.vpdpbusd.512"
                           : "llvm.x86.avx512.vpdpbusd.256";
      Value call = LLVM::CallIntrinsicOp::create(
                       b, op.getLoc(), op.getType(), b.getStringAttr(name),
                       ValueRange{op.getAcc(), op.getLhs(), op.getRhs()})
                       .getResult(0);
      op.replaceAllUsesWith(call);
      op.erase();
    });
  }
};
} // namespace
