//===- LowerByteDots.cpp - qnext.byte_dot -> x86 byte multiply-adds -------===//
//
// The contract is in passes/Lower/LowerPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_LOWERBYTEDOTS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {
/// Builds one byte dot's replacement at its position.
class ByteDotLowering {
public:
  explicit ByteDotLowering(mlir::qnext::ByteDotOp op)
      : b(op), loc(op.getLoc()), acc(op.getAcc().getType()),
        wide(acc.getNumElements() == 16) {}

  /// vpdpbusd: the op itself.
  Value vnni(mlir::qnext::ByteDotOp op) {
    return call(wide ? "llvm.x86.avx512.vpdpbusd.512" : "llvm.x86.avx512.vpdpbusd.256",
                acc, {op.getAcc(), op.getLhs(), op.getRhs()});
  }

  /// vpmaddubsw + vpmaddwd by ones, then the accumulator: exact for a
  /// narrow op (lhs below 128, so a pair's sum is within +-2 * 127 * 128
  /// and vpmaddubsw does not saturate).
  Value pairs(mlir::qnext::ByteDotOp op) {
    Value sum = madd(maddubs(op.getLhs(), op.getRhs()));
    return LLVM::AddOp::create(b, loc, op.getAcc(), sum);
  }

private:
  Value call(StringRef name, Type type, ValueRange operands) {
    return LLVM::CallIntrinsicOp::create(b, loc, type, b.getStringAttr(name), operands)
        .getResult(0);
  }
  Value splat(VectorType type, int64_t value) {
    return LLVM::ConstantOp::create(
        b, loc, type,
        DenseElementsAttr::get(type, b.getIntegerAttr(type.getElementType(), value)));
  }
  /// Bytes: unsigned lhs times signed rhs, adjacent pairs summed into i16.
  Value maddubs(Value u, Value s) {
    auto halves = VectorType::get({2 * acc.getNumElements()}, b.getI16Type());
    return call(wide ? "llvm.x86.avx512.pmaddubs.w.512" : "llvm.x86.avx2.pmadd.ub.sw",
                halves, {u, s});
  }
  /// i16 pairs, adjacent ones summed into i32 (multiplied by ones).
  Value madd(Value halves) {
    return call(wide ? "llvm.x86.avx512.pmaddw.d.512" : "llvm.x86.avx2.pmadd.wd", acc,
                {halves, splat(cast<VectorType>(halves.getType()), 1)});
  }

  OpBuilder b;
  Location loc;
  VectorType acc;
  bool wide;
};

struct LowerByteDotsPass
    : mlir::qnext::impl::LowerByteDotsBase<LowerByteDotsPass> {
  using LowerByteDotsBase::LowerByteDotsBase;

  void runOnOperation() override {
    WalkResult walk = getOperation()->walk([&](mlir::qnext::ByteDotOp op) {
      if (!vnni && !op.getNarrow()) {
        op.emitOpError("has unsigned bytes that may reach 128: without vpdpbusd "
                       "(vnni=false) only a narrow byte dot has a lowering "
                       "(vpmaddubsw saturates)");
        return WalkResult::interrupt();
      }
      ByteDotLowering lowering(op);
      op.replaceAllUsesWith(vnni ? lowering.vnni(op) : lowering.pairs(op));
      op.erase();
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      signalPassFailure();
  }
};
} // namespace
