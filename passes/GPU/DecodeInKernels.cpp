//===- DecodeInKernels.cpp - quantized weights decoded where read ---------===//
//
// The contract is in passes/GPU/GPUPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Affine/Utils.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_DECODEINKERNELS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

Value indexConstant(OpBuilder &b, Location loc, int64_t v) {
  return arith::ConstantIndexOp::create(b, loc, v);
}

Value intConstant(OpBuilder &b, Location loc, Type type, int64_t v) {
  return arith::ConstantOp::create(b, loc, b.getIntegerAttr(type, v));
}

/// The f32 element of `dq`'s result at `at` (its leading dimensions, row,
/// column), decoded from its values and scales as the CPU kernels do
/// (passes/Lower/DecodeWeights.cpp).
Value decodeAt(OpBuilder &b, Location loc, DequantizeOp dq, ArrayRef<Value> at) {
  Value k = at.back();
  SmallVector<Value> valueAt(at.begin(), at.end()), scaleAt(at.begin(), at.end());
  Type i32 = b.getI32Type(), f32 = b.getF32Type();
  Value decoded;
  bool fp8 = false;
  if (dq.getInt4()) {
    // Column k of a tile of 32: byte (k / 32) * 16 + k % 16, the low nibble
    // when k % 32 < 16. Sign-extended to i32, shifted up so that the nibble
    // is the top four bits, then down arithmetically.
    Value tile = arith::DivUIOp::create(b, loc, k, indexConstant(b, loc, 32));
    Value inTile = arith::RemUIOp::create(b, loc, k, indexConstant(b, loc, 32));
    valueAt.back() = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, tile, indexConstant(b, loc, 16)),
        arith::RemUIOp::create(b, loc, k, indexConstant(b, loc, 16)));
    Value q = tensor::ExtractOp::create(b, loc, dq.getValues(), valueAt);
    Value wide = arith::ExtSIOp::create(b, loc, i32, q);
    Value low = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, inTile,
                                      indexConstant(b, loc, 16));
    Value up = arith::SelectOp::create(b, loc, low, intConstant(b, loc, i32, 28),
                                       intConstant(b, loc, i32, 24));
    Value nibble = arith::ShRSIOp::create(b, loc, arith::ShLIOp::create(b, loc, wide, up),
                                          intConstant(b, loc, i32, 28));
    decoded = arith::SIToFPOp::create(b, loc, f32, nibble);
  } else if (Value q = tensor::ExtractOp::create(b, loc, dq.getValues(), valueAt);
             q.getType().isSignlessInteger(8)) {
    decoded = arith::SIToFPOp::create(b, loc, f32, arith::ExtSIOp::create(b, loc, i32, q));
  } else {
    // e4m3fn: sign-extended to 16 bits and shifted left by 7, an f16 of the
    // value times 2^-8 (the mask clears the sign's copy in the exponent's
    // top bit); the scale carries the 2^8.
    Type i16 = b.getI16Type();
    Value bits = arith::ExtSIOp::create(
        b, loc, i16, arith::BitcastOp::create(b, loc, b.getI8Type(), q));
    bits = arith::ShLIOp::create(b, loc, bits, intConstant(b, loc, i16, 7));
    bits = arith::AndIOp::create(b, loc, bits, intConstant(b, loc, i16, int16_t(0xBF80u)));
    Value half = arith::BitcastOp::create(b, loc, b.getF16Type(), bits);
    decoded = arith::ExtFOp::create(b, loc, f32, half);
    fp8 = true;
  }
  // The scale of the element's group of columns.
  scaleAt.back() = arith::DivUIOp::create(b, loc, k, indexConstant(b, loc, dq.getGroup()));
  Value scale = tensor::ExtractOp::create(b, loc, dq.getScales(), scaleAt);
  if (fp8)
    scale = arith::MulFOp::create(b, loc, scale,
                                  arith::ConstantOp::create(b, loc, b.getF32FloatAttr(256.0f)));
  return arith::MulFOp::create(b, loc, decoded, scale);
}

/// The coordinates in `view`'s source of the element at `at` of its
/// result: an expand_shape's groups of indices linearized over their static
/// sizes; an extract_slice's offset plus index times stride (a dropped
/// dimension at its offset).
SmallVector<Value> sourceIndices(OpBuilder &b, Location loc, Operation *view,
                                 ArrayRef<Value> at) {
  SmallVector<Value> source;
  if (auto expand = dyn_cast<tensor::ExpandShapeOp>(view)) {
    ArrayRef<int64_t> sizes = expand.getResultType().getShape();
    for (ReassociationIndices group : expand.getReassociationIndices()) {
      Value linear = at[group.front()];
      for (int64_t d : ArrayRef<int64_t>(group).drop_front()) {
        linear = arith::MulIOp::create(b, loc, linear, indexConstant(b, loc, sizes[d]));
        linear = arith::AddIOp::create(b, loc, linear, at[d]);
      }
      source.push_back(linear);
    }
    return source;
  }
  auto slice = cast<tensor::ExtractSliceOp>(view);
  llvm::SmallBitVector dropped = slice.getDroppedDims();
  auto value = [&](OpFoldResult r) {
    return getValueOrCreateConstantIndexOp(b, loc, r);
  };
  SmallVector<OpFoldResult> offsets = slice.getMixedOffsets();
  SmallVector<OpFoldResult> strides = slice.getMixedStrides();
  size_t next = 0;
  for (size_t d = 0; d < offsets.size(); ++d) {
    if (dropped.test(d)) {
      source.push_back(value(offsets[d]));
      continue;
    }
    Value i = arith::MulIOp::create(b, loc, at[next++], value(strides[d]));
    source.push_back(arith::AddIOp::create(b, loc, i, value(offsets[d])));
  }
  return source;
}

/// `dq`'s coordinates of the element at `at` of the last of `views` (each
/// a view of the one before, the first of `dq`'s result).
SmallVector<Value> dequantizeIndices(OpBuilder &b, Location loc,
                                     ArrayRef<Operation *> views, ArrayRef<Value> at) {
  SmallVector<Value> coords(at.begin(), at.end());
  for (Operation *view : llvm::reverse(views))
    coords = sourceIndices(b, loc, view, coords);
  return coords;
}

struct DecodeInKernelsPass
    : mlir::qnext::impl::DecodeInKernelsBase<DecodeInKernelsPass> {
  using DecodeInKernelsBase::DecodeInKernelsBase;

  /// Drops input `use` of `generic` (`dq`'s result seen through `views`)
  /// and decodes its element at the top of the body.
  void decodeOperand(linalg::GenericOp generic, OpOperand &use, DequantizeOp dq,
                     ArrayRef<Operation *> views) {
    unsigned operand = use.getOperandNumber();
    AffineMap map = generic.getMatchingIndexingMap(&use);
    Block &body = generic.getRegion().front();
    Location loc = generic.getLoc();
    OpBuilder b = OpBuilder::atBlockBegin(&body);
    SmallVector<Value> loops;
    for (unsigned d = 0; d < generic.getNumLoops(); ++d)
      loops.push_back(linalg::IndexOp::create(b, loc, d));
    SmallVector<Value> at;
    for (AffineExpr e : map.getResults())
      at.push_back(affine::expandAffineExpr(b, loc, e, loops, {}));
    Value element = decodeAt(b, loc, dq, dequantizeIndices(b, loc, views, at));
    body.getArgument(operand).replaceAllUsesWith(element);
    body.eraseArgument(operand);
    SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
    maps.erase(maps.begin() + operand);
    generic.getInputsMutable().erase(operand);
    generic.setIndexingMapsAttr(b.getAffineMapArrayAttr(maps));
    ++decodedReads;
  }

  void decodeExtract(tensor::ExtractOp extract, DequantizeOp dq,
                     ArrayRef<Operation *> views) {
    OpBuilder b(extract);
    SmallVector<Value> at(extract.getIndices().begin(), extract.getIndices().end());
    Location loc = extract.getLoc();
    extract.replaceAllUsesWith(decodeAt(b, loc, dq, dequantizeIndices(b, loc, views, at)));
    extract.erase();
    ++decodedReads;
  }

  /// Rewrites every read of `value`: `dq`'s result seen through `views`.
  LogicalResult decodeReads(Value value, DequantizeOp dq,
                            SmallVector<Operation *> &views) {
    // Each step removes the use it takes (or fails): erasing a generic's
    // input shifts its later operands, so no iterator is kept across steps.
    while (!value.use_empty()) {
      OpOperand &use = *value.use_begin();
      Operation *user = use.getOwner();
      if (auto extract = dyn_cast<tensor::ExtractOp>(user)) {
        decodeExtract(extract, dq, views);
        continue;
      }
      if (auto generic = dyn_cast<linalg::GenericOp>(user);
          generic && generic.isDpsInput(&use)) {
        decodeOperand(generic, use, dq, views);
        continue;
      }
      if (isa<tensor::ExpandShapeOp, tensor::ExtractSliceOp>(user)) {
        views.push_back(user);
        if (failed(decodeReads(user->getResult(0), dq, views)))
          return failure();
        views.pop_back();
        user->erase();
        continue;
      }
      return user->emitOpError()
             << "reads a quantized weight (qnext.dequantize) in a way no GPU "
                "kernel decodes: only linalg.generic inputs and tensor.extract "
                "do (through tensor.expand_shape and tensor.extract_slice)";
    }
    return success();
  }

  void runOnOperation() override {
    SmallVector<DequantizeOp> dequantizes;
    getOperation()->walk([&](DequantizeOp dq) { dequantizes.push_back(dq); });
    for (DequantizeOp dq : dequantizes) {
      SmallVector<Operation *> views;
      if (failed(decodeReads(dq.getResult(), dq, views)))
        return signalPassFailure();
      dq.erase();
    }
  }
};

} // namespace
