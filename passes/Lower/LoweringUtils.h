//===- LoweringUtils.h - shared by the qnext -> linalg lowerings -*- C++ -*-===//
//
// Internal to passes/Lower: the Emitter that builds tensors, linalg.generic
// ops with scalar bodies, and the fp32 scalar math the lowerings share.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_LOWER_LOWERINGUTILS_H
#define QNEXT_PASSES_LOWER_LOWERINGUTILS_H

#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnext::lowering {

using utils::IteratorType;
constexpr IteratorType kPar = IteratorType::parallel;
constexpr IteratorType kRed = IteratorType::reduction;

/// Emits the IR of one lowering: tensor construction, linalg.generic with a
/// scalar body, and the scalar math the bodies share.
struct Emitter {
  OpBuilder &b;
  Location loc;

  Type f32() { return b.getF32Type(); }
  Value f32c(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(float(v)));
  }
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  OpFoldResult ofr(int64_t v) { return b.getIndexAttr(v); }
  OpFoldResult dimOf(Value t, int64_t d) {
    return tensor::getMixedSize(b, loc, t, d);
  }
  Value dimValue(Value t, int64_t d) {
    return getValueOrCreateConstantIndexOp(b, loc, dimOf(t, d));
  }

  Value empty(ArrayRef<OpFoldResult> sizes, Type elt) {
    return tensor::EmptyOp::create(b, loc, sizes, elt);
  }
  Value filled(ArrayRef<OpFoldResult> sizes, Type elt, double value) {
    Value v = arith::ConstantOp::create(b, loc, b.getFloatAttr(elt, value));
    return linalg::FillOp::create(b, loc, v, empty(sizes, elt)).getResult(0);
  }
  SmallVector<OpFoldResult> sizesOf(Value t) {
    return tensor::getMixedSizes(b, loc, t);
  }

  /// A scalar widened to f32 (weights may be bf16/f16).
  Value ext(OpBuilder &bb, Location l, Value v) {
    return v.getType() == bb.getF32Type()
               ? v
               : arith::ExtFOp::create(bb, l, bb.getF32Type(), v).getResult();
  }

  /// linalg.generic with one result; `body` maps the block arguments (inputs
  /// then the output's current value) to the value to yield.
  Value generic(ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
                ArrayRef<IteratorType> iterators,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    auto op = linalg::GenericOp::create(
        b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
        iterators, [&](OpBuilder &bb, Location l, ValueRange args) {
          linalg::YieldOp::create(bb, l, body(bb, l, args));
        });
    return op.getResult(0);
  }

  AffineMap map(unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, b.getContext());
  }
  AffineExpr d(unsigned i) { return b.getAffineDimExpr(i); }

  // Scalar math (fp32).
  static Value sigmoid(OpBuilder &bb, Location l, Value x) {
    Type t = x.getType();
    Value one = arith::ConstantOp::create(bb, l, bb.getFloatAttr(t, 1.0));
    Value e = math::ExpOp::create(bb, l, arith::NegFOp::create(bb, l, x));
    return arith::DivFOp::create(bb, l, one, arith::AddFOp::create(bb, l, one, e));
  }
  static Value silu(OpBuilder &bb, Location l, Value x) {
    return arith::MulFOp::create(bb, l, x, sigmoid(bb, l, x));
  }
  static Value add(OpBuilder &bb, Location l, Value a, Value c) {
    return arith::AddFOp::create(bb, l, a, c);
  }
  static Value mul(OpBuilder &bb, Location l, Value a, Value c) {
    return arith::MulFOp::create(bb, l, a, c);
  }
  static Value sub(OpBuilder &bb, Location l, Value a, Value c) {
    return arith::SubFOp::create(bb, l, a, c);
  }

  /// Sum of squares over the last axis: [..., D] -> [...].
  Value sumOfSquares(Value x) {
    auto type = cast<RankedTensorType>(x.getType());
    unsigned rank = type.getRank();
    SmallVector<OpFoldResult> sizes = sizesOf(x);
    sizes.pop_back();
    SmallVector<AffineExpr> outDims;
    for (unsigned i = 0; i + 1 < rank; ++i)
      outDims.push_back(d(i));
    SmallVector<IteratorType> iters(rank - 1, kPar);
    iters.push_back(kRed);
    return generic(x, filled(sizes, f32(), 0.0),
                   {b.getMultiDimIdentityMap(rank), map(rank, outDims)}, iters,
                   [&](OpBuilder &bb, Location l, ValueRange a) {
                     return add(bb, l, a[1], mul(bb, l, a[0], a[0]));
                   });
  }

  /// Normalisation over the last axis: with inv = rsqrt(sum(x^2) * sumScale
  /// + eps), y = body(x, inv, perElement..., perFeature...), where
  /// `perElement` tensors have x's shape and `perFeature` ones are [D].
  Value normalize(
      Value x, ValueRange perElement, ValueRange perFeature, double sumScale,
      double eps,
      function_ref<Value(OpBuilder &, Location, Value, Value, ValueRange)> body) {
    unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
    Value ss = sumOfSquares(x);
    Value scale = f32c(sumScale), epsilon = f32c(eps);
    SmallVector<AffineExpr> lead;
    for (unsigned i = 0; i + 1 < rank; ++i)
      lead.push_back(d(i));
    AffineMap id = b.getMultiDimIdentityMap(rank);
    SmallVector<Value> inputs = {x, ss};
    SmallVector<AffineMap> maps = {id, map(rank, lead)};
    for (Value v : perElement) {
      inputs.push_back(v);
      maps.push_back(id);
    }
    for (Value v : perFeature) {
      inputs.push_back(v);
      maps.push_back(map(rank, {d(rank - 1)}));
    }
    maps.push_back(id);
    return generic(inputs, empty(sizesOf(x), f32()), maps,
                   SmallVector<IteratorType>(rank, kPar),
                   [&](OpBuilder &bb, Location l, ValueRange a) {
                     Value ms = add(bb, l, mul(bb, l, a[1], scale), epsilon);
                     Value inv = math::RsqrtOp::create(bb, l, ms);
                     return body(bb, l, a[0], inv,
                                 a.drop_front(2).drop_back());
                   });
  }

  /// y = x * W^T for x [.., K] (one or two dims) and W [N, K].
  Value matmulTransposed(Value x, Value w) {
    auto xt = cast<RankedTensorType>(x.getType());
    if (xt.getRank() == 1) { // [K] -> [N]
      return generic({w, x}, filled({dimOf(w, 0)}, f32(), 0.0),
                     {map(2, {d(0), d(1)}), map(2, {d(1)}), map(2, {d(0)})},
                     {kPar, kRed}, [&](OpBuilder &bb, Location l, ValueRange a) {
                       return add(bb, l, a[2], mul(bb, l, ext(bb, l, a[0]), a[1]));
                     });
    }
    return generic({x, w}, filled({dimOf(x, 0), dimOf(w, 0)}, f32(), 0.0),
                   {map(3, {d(0), d(2)}), map(3, {d(1), d(2)}),
                    map(3, {d(0), d(1)})},
                   {kPar, kPar, kRed},
                   [&](OpBuilder &bb, Location l, ValueRange a) {
                     return add(bb, l, a[2], mul(bb, l, a[0], ext(bb, l, a[1])));
                   });
  }

  /// t[i, ...] with the leading dimension dropped.
  Value row(Value t, Value i) {
    auto type = cast<RankedTensorType>(t.getType());
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> offsets(rank, ofr(0)), sizes = sizesOf(t),
        strides(rank, ofr(1));
    offsets[0] = i;
    sizes[0] = ofr(1);
    auto resultType = RankedTensorType::get(type.getShape().drop_front(),
                                            type.getElementType());
    return tensor::ExtractSliceOp::create(b, loc, resultType, t, offsets, sizes,
                                          strides);
  }
  /// dest with its window [offsets, offsets + sizes) replaced by `src`, whose
  /// first two dims are the window's swapped (dest[a, b, c] = src[b, a, c]).
  /// The window is the generic's destination, so bufferization writes dest
  /// in place.
  Value insertSwapped(Value src, Value dest, ArrayRef<OpFoldResult> offsets,
                      ArrayRef<OpFoldResult> sizes) {
    SmallVector<OpFoldResult> strides(3, ofr(1));
    Value window =
        tensor::ExtractSliceOp::create(b, loc, dest, offsets, sizes, strides);
    Value written = generic({src}, window,
                            {map(3, {d(1), d(0), d(2)}), map(3, {d(0), d(1), d(2)})},
                            {kPar, kPar, kPar},
                            [](OpBuilder &, Location, ValueRange a) { return a[0]; });
    return tensor::InsertSliceOp::create(b, loc, written, dest, offsets, sizes,
                                         strides);
  }

  /// dest with row i replaced by `value` (rank one less than dest).
  Value insertRow(Value value, Value dest, Value i) {
    auto type = cast<RankedTensorType>(dest.getType());
    int64_t rank = type.getRank();
    SmallVector<OpFoldResult> offsets(rank, ofr(0)), sizes = sizesOf(dest),
        strides(rank, ofr(1));
    offsets[0] = i;
    sizes[0] = ofr(1);
    return tensor::InsertSliceOp::create(b, loc, value, dest, offsets, sizes,
                                         strides);
  }
};

/// Activations must be f32 on the CPU (the golden contract).
inline LogicalResult requireF32(PatternRewriter &rewriter, Operation *op,
                         ValueRange values) {
  for (Value v : values)
    if (cast<RankedTensorType>(v.getType()).getElementType() !=
        rewriter.getF32Type())
      return rewriter.notifyMatchFailure(op, "activations must be f32");
  return success();
}

/// The kind of the qnext.fused group `op` was lowered from, when `op` is one
/// its kernel is built around (`qnext.fusion`), or null.
inline FusionKindAttr fusionMark(Operation *op) {
  return op->getAttrOfType<FusionKindAttr>(kFusionAttrName);
}

/// Whether `op` carries the tag of a group of `kind`.
inline bool hasFusion(Operation *op, FusionKind kind) {
  FusionKindAttr mark = fusionMark(op);
  return mark && mark.getValue() == kind;
}

/// Carries `mark` (when set) onto the ops defining `values`: the structured
/// ops qnext-vectorize-contractions builds the group's kernel from. Returns
/// the first value.
inline Value carryMark(FusionKindAttr mark, ValueRange values) {
  if (mark)
    for (Value v : values)
      v.getDefiningOp()->setAttr(kFusionAttrName, mark);
  return values.front();
}

/// Patterns of LowerSequentialOps.cpp: the gated delta rule, attention over
/// the KV cache, the router, and (LowerRoutedExperts.cpp) the routed experts.
/// With `gatherExperts`, routed experts become gather contractions.
void populateSequentialOpPatterns(RewritePatternSet &patterns,
                                  bool gatherExperts = false);

/// Patterns of LowerRoutedExperts.cpp: qnext.expert_swiglu (called by
/// populateSequentialOpPatterns).
void populateRoutedExpertPatterns(RewritePatternSet &patterns, bool gatherExperts);

/// The chunked gated delta rule (LowerDeltaRuleChunked.cpp), preferred over
/// the recurrence for calls of more than one token.
void populateChunkedDeltaRulePatterns(RewritePatternSet &patterns);

} // namespace mlir::qnext::lowering

#endif // QNEXT_PASSES_LOWER_LOWERINGUTILS_H
