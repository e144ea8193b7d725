//===- VectorizeContractions.cpp - x * W^T as vector kernels --------------===//
//
// The contract is in passes/Passes.td. A projection is the bulk of every
// token's work and, for one token, pure weight streaming: the kernel keeps
// the accumulators in registers, reads each weight vector once per block of
// tokens and widens it with integer ops, so the loop runs at the speed the
// memory delivers weights.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_VECTORIZECONTRACTIONS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {

/// y = x * W^T as matched: `x` is [K] (one token) or [T, K], `w` is [N, K].
struct Contraction {
  linalg::GenericOp op;
  Value x, w, init;
  bool multiToken;
  int64_t n, k; ///< n is ShapedType::kDynamic for a dynamic row count
};

/// `v` with any float extension stripped.
Value stripExt(Value v) {
  if (auto ext = v.getDefiningOp<arith::ExtFOp>())
    return ext.getIn();
  return v;
}

/// The projection contractions of qnext-lower-to-linalg:
///   y[n]    += ext(W[n, k]) * x[k]      (d0, d1) (d1) -> (d0)
///   y[t, n] += x[t, k] * ext(W[n, k])   (d0, d2) (d1, d2) -> (d0, d1)
/// with f32 activations and an f32/f16/bf16 weight.
std::optional<Contraction> match(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1 ||
      !op.hasPureTensorSemantics())
    return std::nullopt;
  MLIRContext *ctx = op.getContext();
  auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
  auto map = [&](unsigned dims, ArrayRef<AffineExpr> results) {
    return AffineMap::get(dims, 0, results, ctx);
  };
  SmallVector<AffineMap> maps = op.getIndexingMapsArray();
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  using utils::IteratorType;
  Contraction c{op, {}, {}, op.getDpsInits()[0], false, 0, 0};
  unsigned xArg, wArg;
  if (iters == SmallVector<IteratorType>{IteratorType::parallel,
                                         IteratorType::reduction} &&
      maps == SmallVector<AffineMap>{map(2, {d(0), d(1)}), map(2, {d(1)}),
                                     map(2, {d(0)})}) {
    wArg = 0, xArg = 1;
  } else if (iters == SmallVector<IteratorType>{IteratorType::parallel,
                                                IteratorType::parallel,
                                                IteratorType::reduction} &&
             maps == SmallVector<AffineMap>{map(3, {d(0), d(2)}),
                                            map(3, {d(1), d(2)}),
                                            map(3, {d(0), d(1)})}) {
    xArg = 0, wArg = 1, c.multiToken = true;
  } else {
    return std::nullopt;
  }
  c.x = op.getDpsInputs()[xArg];
  c.w = op.getDpsInputs()[wArg];

  // Body: yield out + x * ext(w) (either operand order).
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto addOp = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  if (!addOp)
    return std::nullopt;
  Value out = body.getArgument(2), product;
  if (addOp.getLhs() == out)
    product = addOp.getRhs();
  else if (addOp.getRhs() == out)
    product = addOp.getLhs();
  else
    return std::nullopt;
  auto mulOp = product.getDefiningOp<arith::MulFOp>();
  if (!mulOp)
    return std::nullopt;
  Value a = mulOp.getLhs(), b = mulOp.getRhs();
  Value xv = body.getArgument(xArg), wv = body.getArgument(wArg);
  bool ordered = a == xv && stripExt(b) == wv;
  bool swapped = b == xv && stripExt(a) == wv;
  if (!ordered && !swapped)
    return std::nullopt;

  auto xType = cast<RankedTensorType>(c.x.getType());
  auto wType = cast<RankedTensorType>(c.w.getType());
  auto yType = cast<RankedTensorType>(c.init.getType());
  Type wElt = wType.getElementType();
  if (!xType.getElementType().isF32() || !yType.getElementType().isF32() ||
      !(wElt.isF32() || wElt.isBF16() || wElt.isF16()) ||
      wType.isDynamicDim(1))
    return std::nullopt;
  c.n = wType.getDimSize(0);
  c.k = wType.getDimSize(1);
  return c;
}

/// The largest of preferred, preferred-1, ..., 1 that divides n.
int64_t blockFor(int64_t n, int64_t preferred) {
  for (int64_t r = std::max<int64_t>(preferred, 1); r > 1; --r)
    if (n % r == 0)
      return r;
  return 1;
}

class KernelEmitter {
public:
  KernelEmitter(OpBuilder &b, Location loc, const Contraction &c, int64_t vl)
      : b(b), loc(loc), c(c), vl(vl) {}

  /// Rewrites the contraction; returns its replacement value.
  Value emit(int64_t rows, int64_t tokenRows, int64_t tokenBlockRows) {
    // A zero fill as the init contributes nothing: write into its
    // destination instead of adding it.
    Value dest = c.init;
    bool addInit = true;
    if (auto fill = c.init.getDefiningOp<linalg::FillOp>()) {
      if (auto cst = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>())
        if (auto f = dyn_cast<FloatAttr>(cst.getValue()); f && f.getValue().isZero()) {
          dest = fill.getOutputs()[0];
          addInit = false;
        }
    }
    // [1, K] (a decode step) is one token too: no token loop, the
    // one-token row block.
    bool oneRow = c.multiToken &&
                  cast<RankedTensorType>(c.x.getType()).getDimSize(0) == 1;
    // A dynamic row count (e.g. attention over the cached positions) takes
    // one row per block.
    int64_t tn = ShapedType::isDynamic(c.n)
                     ? 1
                     : blockFor(c.n, c.multiToken && !oneRow ? tokenBlockRows : rows);
    OpFoldResult blocks = ShapedType::isDynamic(c.n)
                              ? tensor::getMixedSize(b, loc, c.w, 0)
                              : OpFoldResult(b.getIndexAttr(c.n / tn));
    auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{blocks},
                                        ValueRange{dest}, std::nullopt);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forall.getTerminator());
    Value n0 = arith::MulIOp::create(b, loc, forall.getInductionVar(0), index(tn));
    Value shared = forall.getRegionIterArgs()[0];

    SmallVector<OpFoldResult> offsets, sizes, strides;
    if (c.multiToken) {
      offsets = {b.getIndexAttr(0), n0};
      sizes = {tensor::getMixedSize(b, loc, c.x, 0), b.getIndexAttr(tn)};
      strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
    } else {
      offsets = {n0};
      sizes = {b.getIndexAttr(tn)};
      strides = {b.getIndexAttr(1)};
    }
    Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes, strides);
    if (!c.multiToken) {
      tile = block(tile, addInit, Value(), 1, n0, tn);
    } else if (oneRow) {
      tile = block(tile, addInit, index(0), 1, n0, tn);
    } else {
      // Blocks of tokenRows tokens, then the remaining tokens one by one.
      Value t = getValueOrCreateConstantIndexOp(b, loc, sizes[0]);
      int64_t tm = std::max<int64_t>(tokenRows, 1);
      Value full = arith::MulIOp::create(
          b, loc, arith::DivUIOp::create(b, loc, t, index(tm)), index(tm));
      tile = tokenLoop(tile, addInit, index(0), full, tm, n0, tn);
      tile = tokenLoop(tile, addInit, full, t, 1, n0, tn);
    }
    b.setInsertionPointToStart(forall.getTerminator().getBody());
    tensor::ParallelInsertSliceOp::create(b, loc, tile, shared, offsets, sizes,
                                          strides);
    return forall.getResult(0);
  }

private:
  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }

  Value tokenLoop(Value tile, bool addInit, Value lo, Value hi, int64_t tm,
                  Value n0, int64_t tn) {
    auto loop = scf::ForOp::create(
        b, loc, lo, hi, index(tm), ValueRange{tile},
        [&](OpBuilder &, Location, Value t0, ValueRange iter) {
          Value next = block(iter[0], addInit, t0, tm, n0, tn);
          scf::YieldOp::create(b, loc, next);
        });
    return loop.getResult(0);
  }

  /// A vector<vl> of weights widened exactly to f32 (bf16 is the high half
  /// of an f32: zero-extend and shift).
  Value widen(Value v) {
    auto vt = cast<VectorType>(v.getType());
    Type elt = vt.getElementType();
    auto f32v = VectorType::get(vt.getShape(), b.getF32Type());
    if (elt.isF32())
      return v;
    if (!elt.isBF16())
      return arith::ExtFOp::create(b, loc, f32v, v);
    auto i16v = VectorType::get(vt.getShape(), b.getI16Type());
    auto i32v = VectorType::get(vt.getShape(), b.getI32Type());
    Value bits = arith::BitcastOp::create(b, loc, i16v, v);
    Value wide = arith::ExtUIOp::create(b, loc, i32v, bits);
    Value sixteen = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(i32v, b.getI32IntegerAttr(16).getValue()));
    Value shifted = arith::ShLIOp::create(b, loc, wide, sixteen);
    return arith::BitcastOp::create(b, loc, f32v, shifted);
  }

  Value read(Value source, ValueRange indices, Type elt) {
    auto type = VectorType::get({vl}, elt);
    Value pad = arith::ConstantOp::create(b, loc, b.getZeroAttr(elt));
    return vector::TransferReadOp::create(b, loc, type, source, indices, pad,
                                          ArrayRef<bool>{true});
  }

  /// Tokens [t0, t0 + tm) x weight rows [n0, n0 + tn) into `tile` (the
  /// [T, tn] or [tn] window of the result at column n0). t0 is null for one
  /// token.
  Value block(Value tile, bool addInit, Value t0, int64_t tm, Value n0,
              int64_t tn) {
    Type f32 = b.getF32Type();
    auto accType = VectorType::get({vl}, f32);
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.0).getValue()));
    SmallVector<Value> tokens, rowsOfW;
    for (int64_t j = 0; j < tm; ++j)
      tokens.push_back(!t0 || j == 0
                           ? t0
                           : arith::AddIOp::create(b, loc, t0, index(j)).getResult());
    for (int64_t r = 0; r < tn; ++r)
      rowsOfW.push_back(r == 0 ? n0
                               : arith::AddIOp::create(b, loc, n0, index(r)).getResult());
    Type wElt = cast<RankedTensorType>(c.w.getType()).getElementType();

    SmallVector<Value> zeros(tm * tn, zero);
    auto kLoop = scf::ForOp::create(
        b, loc, index(0), index(c.k), index(vl), zeros,
        [&](OpBuilder &, Location, Value k, ValueRange acc) {
          SmallVector<Value> xs, next(acc.begin(), acc.end());
          for (int64_t j = 0; j < tm; ++j)
            xs.push_back(t0 ? read(c.x, {tokens[j], k}, f32) : read(c.x, {k}, f32));
          for (int64_t r = 0; r < tn; ++r) {
            Value w = widen(read(c.w, {rowsOfW[r], k}, wElt));
            for (int64_t j = 0; j < tm; ++j)
              next[j * tn + r] =
                  vector::FMAOp::create(b, loc, w, xs[j], next[j * tn + r]);
          }
          scf::YieldOp::create(b, loc, next);
        });

    auto rowType = VectorType::get({tn}, f32);
    for (int64_t j = 0; j < tm; ++j) {
      SmallVector<Value> sums;
      for (int64_t r = 0; r < tn; ++r)
        sums.push_back(vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD, kLoop.getResult(j * tn + r),
            arith::FastMathFlags::reassoc));
      Value row = vector::FromElementsOp::create(b, loc, rowType, sums);
      SmallVector<Value> outIdx = t0 ? SmallVector<Value>{tokens[j], index(0)}
                                     : SmallVector<Value>{index(0)};
      if (addInit) {
        // The window still holds the init's values (it is a slice of them).
        Value pad = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
        Value prior = vector::TransferReadOp::create(b, loc, rowType, tile, outIdx,
                                                     pad, ArrayRef<bool>{true});
        row = arith::AddFOp::create(b, loc, row, prior);
      }
      tile = vector::TransferWriteOp::create(b, loc, row, tile, outIdx,
                                             ArrayRef<bool>{true})
                 .getResult();
    }
    return tile;
  }

  OpBuilder &b;
  Location loc;
  const Contraction &c;
  int64_t vl;
};

struct VectorizeContractionsPass
    : mlir::qnext::impl::VectorizeContractionsBase<VectorizeContractionsPass> {
  using VectorizeContractionsBase::VectorizeContractionsBase;

  void runOnOperation() override {
    if (vectorWidth < 1 || rows < 1 || tokenRows < 1 || tokenBlockRows < 1) {
      getOperation()->emitError("qnext-vectorize-contractions: vector-width, "
                                "rows, token-rows and token-block-rows must "
                                "be positive");
      return signalPassFailure();
    }
    SmallVector<Contraction> found;
    getOperation()->walk([&](linalg::GenericOp op) {
      if (std::optional<Contraction> c = match(op)) {
        if (c->k % vectorWidth == 0)
          found.push_back(*c);
        else
          ++numSkipped;
      }
    });
    IRRewriter rewriter(&getContext());
    for (Contraction &c : found) {
      rewriter.setInsertionPoint(c.op);
      KernelEmitter emitter(rewriter, c.op.getLoc(), c, vectorWidth);
      Value result = emitter.emit(rows, tokenRows, tokenBlockRows);
      rewriter.replaceOp(c.op, result);
      if (auto fill = c.init.getDefiningOp<linalg::FillOp>(); fill && fill->use_empty())
        rewriter.eraseOp(fill);
      ++(c.multiToken ? numMatmuls : numMatvecs);
    }
  }
};

} // namespace
