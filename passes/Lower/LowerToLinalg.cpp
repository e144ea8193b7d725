//===- LowerToLinalg.cpp - qnext primitive ops -> linalg/tensor/scf -------===//
//
// One pattern per primitive op; the contract is in passes/Lower/LowerPasses.td.
// Math is fp32: weights are widened from their stored dtype inside the loop
// bodies (arith.extf, exact), activations must already be f32.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "WeightNames.h"
#include "qnext/Passes/Passes.h"
#include "qnext/Support/Geometry.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/DialectConversion.h"

#include <cmath>
#include <limits>

namespace mlir::qnext {
#define GEN_PASS_DEF_LOWERTOLINALG
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;
using namespace mlir::qnext::lowering;

namespace {

//===----------------------------------------------------------------------===//
// Dense and elementwise ops
//===----------------------------------------------------------------------===//

/// y[t, n] = sum_k x[t, k] * W[n, k].
struct LowerLinear : OpRewritePattern<LinearOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(LinearOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, {op.getInput(), op.getResult()})))
      return failure();
    Emitter e{rw, op.getLoc()};
    rw.replaceOp(op, carryMark(fusionMark(op),
                               e.matmulTransposed(op.getInput(), op.getWeight())));
    return success();
  }
};

/// y = x * rsqrt(mean(x^2) + eps) * (offset + w).
struct LowerRMSNorm : OpRewritePattern<RMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RMSNormOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value x = op.getInput();
    double n = double(cast<RankedTensorType>(x.getType()).getShape().back());
    Value offset = e.f32c(op.getWeightOffset().convertToFloat());
    rw.replaceOp(op, carryMark(fusionMark(op), e.normalize(
        x, {}, {op.getWeight()}, 1.0 / n, op.getEpsilon().convertToFloat(),
        [&](OpBuilder &bb, Location l, Value v, Value inv, ValueRange in) {
          Value scale = Emitter::add(bb, l, offset, e.ext(bb, l, in[0]));
          return Emitter::mul(bb, l, Emitter::mul(bb, l, v, inv), scale);
        })));
    return success();
  }
};

/// sum = a + b; y = rms_norm(sum): the sum of squares of a + b, then one
/// pass writing both results (the arithmetic of add + rms_norm, unchanged).
struct LowerAddRMSNorm : OpRewritePattern<AddRMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddRMSNormOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getLhs())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value a = op.getLhs(), b = op.getRhs();
    auto type = cast<RankedTensorType>(a.getType());
    unsigned rank = type.getRank();
    SmallVector<OpFoldResult> rows = e.sizesOf(a);
    rows.pop_back();
    SmallVector<AffineExpr> lead;
    for (unsigned i = 0; i + 1 < rank; ++i)
      lead.push_back(e.d(i));
    AffineMap id = rw.getMultiDimIdentityMap(rank);
    AffineMap perRow = e.map(rank, lead);
    SmallVector<IteratorType> reduce(rank - 1, kPar);
    reduce.push_back(kRed);
    Value ss = e.generic({a, b}, e.filled(rows, e.f32(), 0.0), {id, id, perRow},
                         reduce, [&](OpBuilder &bb, Location l, ValueRange v) {
                           Value x = Emitter::add(bb, l, v[0], v[1]);
                           return Emitter::add(bb, l, v[2], Emitter::mul(bb, l, x, x));
                         });
    double n = double(type.getShape().back());
    Value scale = e.f32c(1.0 / n), epsilon = e.f32c(op.getEpsilon().convertToFloat());
    Value offset = e.f32c(op.getWeightOffset().convertToFloat());
    Value sumInit = e.empty(e.sizesOf(a), e.f32());
    Value normInit = e.empty(e.sizesOf(a), e.f32());
    auto generic = linalg::GenericOp::create(
        rw, op.getLoc(), TypeRange{type, type}, ValueRange{a, b, ss, op.getWeight()},
        ValueRange{sumInit, normInit},
        ArrayRef<AffineMap>{id, id, perRow, e.map(rank, {e.d(rank - 1)}), id, id},
        SmallVector<IteratorType>(rank, kPar),
        [&](OpBuilder &bb, Location l, ValueRange v) {
          Value x = Emitter::add(bb, l, v[0], v[1]);
          Value ms = Emitter::add(bb, l, Emitter::mul(bb, l, v[2], scale), epsilon);
          Value inv = math::RsqrtOp::create(bb, l, ms);
          Value w = Emitter::add(bb, l, offset, e.ext(bb, l, v[3]));
          Value y = Emitter::mul(bb, l, Emitter::mul(bb, l, x, inv), w);
          linalg::YieldOp::create(bb, l, ValueRange{x, y});
        });
    rw.replaceOp(op, generic.getResults());
    return success();
  }
};

/// y = x * rsqrt(mean(x^2) + eps) * w * silu(gate).
struct LowerGatedRMSNorm : OpRewritePattern<GatedRMSNormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatedRMSNormOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value x = op.getInput();
    double n = double(cast<RankedTensorType>(x.getType()).getShape().back());
    rw.replaceOp(op, carryMark(fusionMark(op), e.normalize(
        x, {op.getGate()}, {op.getWeight()}, 1.0 / n,
        op.getEpsilon().convertToFloat(),
        [&](OpBuilder &bb, Location l, Value v, Value inv, ValueRange in) {
          Value y = Emitter::mul(bb, l, Emitter::mul(bb, l, v, inv),
                                 e.ext(bb, l, in[1]));
          return Emitter::mul(bb, l, y, Emitter::silu(bb, l, in[0]));
        })));
    return success();
  }
};

/// y = x * rsqrt(sum(x^2) + eps) * scale.
struct LowerL2Norm : OpRewritePattern<L2NormOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(L2NormOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value scale = e.f32c(op.getScale().convertToFloat());
    rw.replaceOp(op, e.normalize(
        op.getInput(), {}, {}, 1.0, op.getEpsilon().convertToFloat(),
        [&](OpBuilder &bb, Location l, Value v, Value inv, ValueRange) {
          return Emitter::mul(bb, l, Emitter::mul(bb, l, v, inv), scale);
        }));
    return success();
  }
};

/// silu(gate) * up.
struct LowerSiluMul : OpRewritePattern<SiluMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SiluMulOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getGate())))
      return failure();
    Emitter e{rw, op.getLoc()};
    unsigned rank = cast<RankedTensorType>(op.getGate().getType()).getRank();
    AffineMap id = rw.getMultiDimIdentityMap(rank);
    rw.replaceOp(op, carryMark(fusionMark(op),
                               e.generic({op.getGate(), op.getUp()},
                                         e.empty(e.sizesOf(op.getGate()), e.f32()),
                                         {id, id, id},
                                         SmallVector<IteratorType>(rank, kPar),
                                         [&](OpBuilder &bb, Location l, ValueRange a) {
                                           return Emitter::mul(
                                               bb, l, Emitter::silu(bb, l, a[0]), a[1]);
                                         })));
    return success();
  }
};

/// x * sigmoid(gate), the gate broadcast along a last axis of size 1.
struct LowerSigmoidGate : OpRewritePattern<SigmoidGateOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(SigmoidGateOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    Emitter e{rw, op.getLoc()};
    auto xt = cast<RankedTensorType>(op.getInput().getType());
    auto gt = cast<RankedTensorType>(op.getGate().getType());
    unsigned rank = xt.getRank();
    AffineMap id = rw.getMultiDimIdentityMap(rank);
    AffineMap gateMap = id;
    if (gt.getShape().back() == 1 && xt.getShape().back() != 1) {
      SmallVector<AffineExpr> exprs;
      for (unsigned i = 0; i + 1 < rank; ++i)
        exprs.push_back(e.d(i));
      exprs.push_back(rw.getAffineConstantExpr(0));
      gateMap = e.map(rank, exprs);
    }
    rw.replaceOp(op, carryMark(fusionMark(op),
                               e.generic({op.getInput(), op.getGate()},
                                         e.empty(e.sizesOf(op.getInput()), e.f32()),
                                         {id, gateMap, id},
                                         SmallVector<IteratorType>(rank, kPar),
                                         [&](OpBuilder &bb, Location l, ValueRange a) {
                                           return Emitter::mul(
                                               bb, l, a[0], Emitter::sigmoid(bb, l, a[1]));
                                         })));
    return success();
  }
};

/// g = -exp(a_log) * softplus(a + dt_bias), beta = sigmoid(b).
struct LowerGdnGates : OpRewritePattern<GdnGatesOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GdnGatesOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, {op.getA(), op.getB()})))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value a = op.getA();
    Value twenty = e.f32c(20.0);
    AffineMap id = e.map(2, {e.d(0), e.d(1)}), head = e.map(2, {e.d(1)});
    Value g = e.generic(
        {a, op.getALog(), op.getDtBias()}, e.empty(e.sizesOf(a), e.f32()),
        {id, head, head, id}, {kPar, kPar},
        [&](OpBuilder &bb, Location l, ValueRange v) {
          Value x = Emitter::add(bb, l, v[0], e.ext(bb, l, v[2]));
          // softplus with PyTorch's threshold: x above 20 is returned as is.
          Value soft = math::Log1pOp::create(bb, l, math::ExpOp::create(bb, l, x));
          Value big = arith::CmpFOp::create(bb, l, arith::CmpFPredicate::OGT, x,
                                            twenty);
          Value sp = arith::SelectOp::create(bb, l, big, x, soft);
          Value decay = math::ExpOp::create(bb, l, e.ext(bb, l, v[1]));
          return arith::NegFOp::create(bb, l, Emitter::mul(bb, l, decay, sp))
              .getResult();
        });
    Value beta = e.generic({op.getB()}, e.empty(e.sizesOf(a), e.f32()),
                           {id, id}, {kPar, kPar},
                           [&](OpBuilder &bb, Location l, ValueRange v) {
                             return Emitter::sigmoid(bb, l, v[0]);
                           });
    rw.replaceOp(op, {g, beta});
    return success();
  }
};

/// y[t, :] = table[ids[t], :], widened to f32.
struct LowerEmbedding : OpRewritePattern<EmbeddingOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(EmbeddingOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getResult())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value table = op.getTable();
    rw.replaceOp(op, e.generic(
        {op.getIds()}, e.empty({e.dimOf(op.getIds(), 0), e.dimOf(table, 1)}, e.f32()),
        {e.map(2, {e.d(0)}), e.map(2, {e.d(0), e.d(1)})}, {kPar, kPar},
        [&](OpBuilder &bb, Location l, ValueRange a) {
          Value row = arith::IndexCastOp::create(bb, l, bb.getIndexType(), a[0]);
          Value col = linalg::IndexOp::create(bb, l, 1);
          Value v = tensor::ExtractOp::create(bb, l, table, ValueRange{row, col});
          return e.ext(bb, l, v);
        }));
    return success();
  }
};

/// xx = [state; x]; y[t, c] = sum_i w[c, i] * xx[t + i, c] (then silu);
/// the new state is the last K-1 rows of xx.
struct LowerCausalConv1d : OpRewritePattern<CausalConv1dOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CausalConv1dOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value x = op.getInput(), state = op.getState(), w = op.getWeight();
    int64_t kernel = cast<RankedTensorType>(w.getType()).getShape()[1];
    OpFoldResult c = e.dimOf(x, 1), t = e.dimOf(x, 0);
    Value tv = e.dimValue(x, 0);
    Value rows = arith::AddIOp::create(rw, e.loc, tv, e.idx(kernel - 1));
    Value prefix = e.idx(kernel - 1);
    // xx[r, c] = r < K-1 ? state[r, c] : x[r - (K-1), c], built by a generic
    // (an insert_slice of the state argument would need a strided copy).
    AffineMap id2 = e.map(2, {e.d(0), e.d(1)});
    Value xx = e.generic(
        {}, e.empty({rows, c}, e.f32()), {id2}, {kPar, kPar},
        [&](OpBuilder &bb, Location l, ValueRange) {
          Value r = linalg::IndexOp::create(bb, l, 0);
          Value ch = linalg::IndexOp::create(bb, l, 1);
          Value inState = arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ult,
                                                r, prefix);
          auto branch = scf::IfOp::create(
              bb, l, inState,
              [&](OpBuilder &b2, Location l2) {
                scf::YieldOp::create(b2, l2, tensor::ExtractOp::create(
                                                 b2, l2, state, ValueRange{r, ch})
                                                 .getResult());
              },
              [&](OpBuilder &b2, Location l2) {
                Value row = arith::SubIOp::create(b2, l2, r, prefix);
                scf::YieldOp::create(b2, l2, tensor::ExtractOp::create(
                                                 b2, l2, x, ValueRange{row, ch})
                                                 .getResult());
              });
          return branch.getResult(0);
        });
    Value y = e.generic({xx, w}, e.filled({t, c}, e.f32(), 0.0),
                        {e.map(3, {e.d(0) + e.d(2), e.d(1)}),
                         e.map(3, {e.d(1), e.d(2)}), e.map(3, {e.d(0), e.d(1)})},
                        {kPar, kPar, kRed},
                        [&](OpBuilder &bb, Location l, ValueRange a) {
                          return Emitter::add(
                              bb, l, a[2], Emitter::mul(bb, l, a[0], e.ext(bb, l, a[1])));
                        });
    if (op.getSilu()) {
      AffineMap id = e.map(2, {e.d(0), e.d(1)});
      y = e.generic({y}, e.empty({t, c}, e.f32()), {id, id}, {kPar, kPar},
                    [&](OpBuilder &bb, Location l, ValueRange a) {
                      return Emitter::silu(bb, l, a[0]);
                    });
    }
    // The last K-1 rows of xx.
    Value newState = e.generic(
        {}, e.empty({e.ofr(kernel - 1), c}, e.f32()), {id2}, {kPar, kPar},
        [&](OpBuilder &bb, Location l, ValueRange) {
          Value r = arith::AddIOp::create(bb, l, linalg::IndexOp::create(bb, l, 0),
                                          tv);
          Value ch = linalg::IndexOp::create(bb, l, 1);
          return tensor::ExtractOp::create(bb, l, xx, ValueRange{r, ch})
              .getResult();
        });
    rw.replaceOp(op, {y, newState});
    return success();
  }
};

/// NeoX partial rotation of dims [0, r) by position * inv_freq (fp32 table
/// from computeRopeFrequencies, YaRN included), times the attention factor.
/// RoPE's constants for one op: the inverse frequencies (a constant
/// table, YaRN included), the attention factor and the index bounds.
struct RopeTable {
  Value table, attentionFactor, rotary, half, zero;

  template <typename OpT>
  static RopeTable build(Emitter &e, OpT op) {
    const int64_t r = op.getRotaryDim(), half = r / 2;
    std::optional<::qnext::YarnParams> yarn;
    if (auto y = op.getYarnAttr())
      yarn = ::qnext::YarnParams{y.getFactor().convertToDouble(),
                                 y.getOriginalMaxPositionEmbeddings(),
                                 y.getBetaFast().convertToDouble(),
                                 y.getBetaSlow().convertToDouble()};
    ::qnext::RopeFrequencies freqs = ::qnext::computeRopeFrequencies(
        r, op.getTheta().convertToDouble(), yarn);
    auto tableType = RankedTensorType::get({half}, e.f32());
    RopeTable t;
    t.table = arith::ConstantOp::create(
        e.b, e.loc,
        DenseElementsAttr::get(tableType, ArrayRef<float>(freqs.invFreq)));
    t.attentionFactor = e.f32c(freqs.attentionFactor);
    t.rotary = e.idx(r);
    t.half = e.idx(half);
    t.zero = e.idx(0);
    return t;
  }

  /// The rotated value of element (t, n, j) inside a generic over [T, N, D]:
  /// `self` is its (input) value, `partnerAt(p)` the value of element
  /// (t, n, p), `position` the token's position.
  Value rotate(OpBuilder &bb, Location l, Value self, Value position,
               function_ref<Value(Value)> partnerAt) const {
    Value j = linalg::IndexOp::create(bb, l, 2);
    auto lt = [&](Value p, Value q) {
      return arith::CmpIOp::create(bb, l, arith::CmpIPredicate::ult, p, q);
    };
    Value inRot = lt(j, rotary);
    Value jr = arith::SelectOp::create(bb, l, inRot, j, zero);
    Value first = lt(jr, half);
    Value i = arith::SelectOp::create(bb, l, first, jr,
                                      arith::SubIOp::create(bb, l, jr, half));
    Value partnerIdx = arith::SelectOp::create(
        bb, l, first, arith::AddIOp::create(bb, l, jr, half), i);
    Value freq = tensor::ExtractOp::create(bb, l, table, ValueRange{i});
    Value pos = arith::SIToFPOp::create(bb, l, bb.getF32Type(), position);
    Value phi = Emitter::mul(bb, l, pos, freq);
    Value cosv = Emitter::mul(bb, l, math::CosOp::create(bb, l, phi), attentionFactor);
    Value sinv = Emitter::mul(bb, l, math::SinOp::create(bb, l, phi), attentionFactor);
    Value partner = partnerAt(partnerIdx);
    Value xc = Emitter::mul(bb, l, self, cosv);
    Value ps = Emitter::mul(bb, l, partner, sinv);
    Value rotated = arith::SelectOp::create(
        bb, l, first, Emitter::sub(bb, l, xc, ps), Emitter::add(bb, l, xc, ps));
    return arith::SelectOp::create(bb, l, inRot, rotated, self).getResult();
  }
};

struct LowerRope : OpRewritePattern<RopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RopeOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value x = op.getInput();
    RopeTable rope = RopeTable::build(e, op);
    AffineMap id = rw.getMultiDimIdentityMap(3);
    rw.replaceOp(op, e.generic(
        {x, op.getPositions()}, e.empty(e.sizesOf(x), e.f32()),
        {id, e.map(3, {e.d(0)}), id}, {kPar, kPar, kPar},
        [&](OpBuilder &bb, Location l, ValueRange a) {
          Value t = linalg::IndexOp::create(bb, l, 0);
          Value n = linalg::IndexOp::create(bb, l, 1);
          return rope.rotate(bb, l, a[0], a[1], [&](Value p) -> Value {
            return tensor::ExtractOp::create(bb, l, x, ValueRange{t, n, p});
          });
        }));
    return success();
  }
};

/// rope(rms_norm(x)): the norm's sum of squares per head, then one generic
/// that normalises an element and its rotation partner (the same
/// expression as qnext.rms_norm's) and rotates them.
struct LowerNormRope : OpRewritePattern<NormRopeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(NormRopeOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value x = op.getInput(), w = op.getWeight();
    auto type = cast<RankedTensorType>(x.getType());
    Value ss = e.sumOfSquares(x);
    Value scale = e.f32c(1.0 / double(type.getShape().back()));
    Value epsilon = e.f32c(op.getEpsilon().convertToFloat());
    Value offset = e.f32c(op.getWeightOffset().convertToFloat());
    RopeTable rope = RopeTable::build(e, op);
    AffineMap id = rw.getMultiDimIdentityMap(3);
    rw.replaceOp(op, e.generic(
        {x, ss, op.getPositions(), w}, e.empty(e.sizesOf(x), e.f32()),
        {id, e.map(3, {e.d(0), e.d(1)}), e.map(3, {e.d(0)}), e.map(3, {e.d(2)}), id},
        {kPar, kPar, kPar}, [&](OpBuilder &bb, Location l, ValueRange a) {
          Value t = linalg::IndexOp::create(bb, l, 0);
          Value n = linalg::IndexOp::create(bb, l, 1);
          Value ms = Emitter::add(bb, l, Emitter::mul(bb, l, a[1], scale), epsilon);
          Value inv = math::RsqrtOp::create(bb, l, ms);
          auto norm = [&](Value v, Value weight) {
            Value s = Emitter::add(bb, l, offset, e.ext(bb, l, weight));
            return Emitter::mul(bb, l, Emitter::mul(bb, l, v, inv), s);
          };
          return rope.rotate(bb, l, norm(a[0], a[3]), a[2], [&](Value p) {
            return norm(tensor::ExtractOp::create(bb, l, x, ValueRange{t, n, p}),
                        tensor::ExtractOp::create(bb, l, w, ValueRange{p}));
          });
        }));
    return success();
  }
};

//===----------------------------------------------------------------------===//
// Fusion groups
//===----------------------------------------------------------------------===//

/// A qnext.fused group's ops take its place, the ones its kernel is built
/// around tagged with its kind (the patterns above carry the tag onto the
/// structured ops they emit).
void dissolveGroup(FusedOp group) {
  auto kind = FusionKindAttr::get(group.getContext(), group.getKind());
  Block &body = group.getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  for (Operation &op : body.without_terminator()) {
    bool tagged = false;
    switch (group.getKind()) {
    case FusionKind::SwiGLU:
      tagged = true; // the projections and their silu * mul, or the experts
      break;
    case FusionKind::MoE:
      tagged = isa<ExpertSwiGLUOp>(op);
      break;
    case FusionKind::Router:
      tagged = isa<RouterOp>(op);
      break;
    case FusionKind::NormLinear: // the projection's prologue
      tagged = isa<RMSNormOp, GatedRMSNormOp>(op);
      break;
    case FusionKind::GateLinear:
      tagged = isa<SigmoidGateOp>(op);
      break;
    }
    if (tagged)
      op.setAttr(kFusionAttrName, kind);
  }
  group.replaceAllUsesWith(yield.getValues());
  yield->erase();
  group->getBlock()->getOperations().splice(Block::iterator(group),
                                            body.getOperations());
  group->erase();
}

/// Names each primitive op's location by what it computes: the weights it
/// reads ("in_proj_qkvz", "experts.gate_proj+experts.up_proj"), else its own
/// name ("gated_delta_rule"). The ops it is lowered to keep that location,
/// and qnext-outline-kernels names the kernels they become by it.
void nameByWhatTheyCompute(Operation *root) {
  root->walk([](Operation *op) {
    if (!isa<QNextDialect>(op->getDialect()) ||
        isa<FusedOp, YieldOp, ParamOp, SplitQKVZOp, SplitBAOp,
            ConcatWeightsOp>(op))
      return;
    SmallVector<std::string> weights;
    for (Value operand : op->getOperands())
      if (std::string name = weightNameOf(operand);
          !name.empty() && !llvm::is_contained(weights, name))
        weights.push_back(name);
    std::string what = weights.empty() ? op->getName().stripDialect().str()
                                       : llvm::join(weights, "+");
    op->setLoc(NameLoc::get(StringAttr::get(op->getContext(), what),
                            op->getLoc()));
  });
}

struct LowerToLinalgPass
    : mlir::qnext::impl::LowerToLinalgBase<LowerToLinalgPass> {
  using LowerToLinalgBase::LowerToLinalgBase;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    nameByWhatTheyCompute(getOperation());
    SmallVector<FusedOp> groups;
    getOperation()->walk([&](FusedOp group) { groups.push_back(group); });
    for (FusedOp group : groups)
      dissolveGroup(group);
    RewritePatternSet patterns(ctx);
    patterns.add<LowerLinear, LowerRMSNorm, LowerAddRMSNorm, LowerNormRope,
                 LowerGatedRMSNorm, LowerL2Norm,
                 LowerSiluMul, LowerSigmoidGate, LowerGdnGates, LowerEmbedding,
                 LowerCausalConv1d, LowerRope>(ctx);
    populateSequentialOpPatterns(patterns, gatherExperts);
    populateChunkedDeltaRulePatterns(patterns);
    ConversionTarget target(*ctx);
    target.addLegalDialect<arith::ArithDialect, linalg::LinalgDialect,
                           math::MathDialect, scf::SCFDialect,
                           tensor::TensorDialect>();
    // Layer ops must be decomposed first; params and the weight-layout ops
    // stay (they are resolved when weights are packed), and so does
    // dequantize (the contraction kernels decode its values).
    target.addIllegalDialect<QNextDialect>();
    target.addLegalOp<ParamOp, SplitQKVZOp, SplitBAOp, ConcatWeightsOp,
                      DequantizeOp>();
    if (failed(applyPartialConversion(getOperation(), target,
                                      std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
