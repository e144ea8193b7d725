//===- LowerSequentialOps.cpp - token-serial qnext ops -> scf + linalg ----===//
//
// The ops whose tokens depend on each other or on data: a scf.for over the
// tokens carries the state (or the outputs) as iter_args, and linalg.generic
// does the per-token algebra over heads.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

#include <limits>

using namespace mlir;
using namespace mlir::qnext;
using namespace mlir::qnext::lowering;

namespace {

/// The gated delta rule as its recurrence (spec 4.8), per token over all
/// heads at once (value head h reads key head h / R):
///   S = exp(g) S;  u = beta (v - S^T k);  S = S + k u^T;  o = S^T q.
struct LowerGatedDeltaRule : OpRewritePattern<GatedDeltaRuleOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatedDeltaRuleOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, {op.getQuery(), op.getValue()})))
      return failure();
    Emitter e{rw, op.getLoc()};
    auto stateType = cast<RankedTensorType>(op.getState().getType());
    const int64_t nv = stateType.getShape()[0], dv = stateType.getShape()[2];
    const int64_t nk = cast<RankedTensorType>(op.getQuery().getType()).getShape()[1];
    const int64_t r = nv / nk;
    Value tokens = e.dimValue(op.getValue(), 0);
    Value out0 = e.empty(e.sizesOf(op.getValue()), e.f32());

    auto loop = scf::ForOp::create(
        rw, e.loc, e.idx(0), tokens, e.idx(1),
        ValueRange{op.getState(), out0},
        [&](OpBuilder &b, Location l, Value t, ValueRange carried) {
          Emitter s{b, l};
          Value q = s.row(op.getQuery(), t), k = s.row(op.getKey(), t);
          Value v = s.row(op.getValue(), t), g = s.row(op.getG(), t);
          Value beta = s.row(op.getBeta(), t);
          // (h, i, j): value head, key dim, value dim.
          AffineMap hij = s.map(3, {s.d(0), s.d(1), s.d(2)});
          AffineMap keyOf = s.map(3, {s.d(0).floorDiv(r), s.d(1)});
          AffineMap perHead = s.map(3, {s.d(0)});
          // The state is updated in place: the decay and the write take the
          // carried state as their output.
          AffineMap h1 = s.map(1, {s.d(0)});
          Value decay = s.generic( // exp(g), once per head
              {g}, s.empty({s.ofr(nv)}, s.f32()), {h1, h1}, {kPar},
              [&](OpBuilder &bb, Location ll, ValueRange a) {
                return math::ExpOp::create(bb, ll, a[0]).getResult();
              });
          Value decayed = s.generic(
              {decay}, carried[0], {perHead, hij}, {kPar, kPar, kPar},
              [&](OpBuilder &bb, Location ll, ValueRange a) {
                return Emitter::mul(bb, ll, a[1], a[0]);
              });
          // S^T k: (h, i, j) reducing i, so that the innermost loop walks the
          // contiguous j of S and of the result (vectorizable as is).
          AffineMap hij_s = hij;
          AffineMap hij_k = keyOf;
          AffineMap hij_out = s.map(3, {s.d(0), s.d(2)});
          Value predicted = s.generic(
              {decayed, k}, s.filled({s.ofr(nv), s.ofr(dv)}, s.f32(), 0.0),
              {hij_s, hij_k, hij_out}, {kPar, kRed, kPar},
              [&](OpBuilder &bb, Location ll, ValueRange a) {
                return Emitter::add(bb, ll, a[2], Emitter::mul(bb, ll, a[0], a[1]));
              });
          AffineMap hj = s.map(2, {s.d(0), s.d(1)});
          Value u = s.generic(
              {v, predicted, beta}, s.empty({s.ofr(nv), s.ofr(dv)}, s.f32()),
              {hj, hj, s.map(2, {s.d(0)}), hj}, {kPar, kPar},
              [&](OpBuilder &bb, Location ll, ValueRange a) {
                return Emitter::mul(bb, ll, a[2], Emitter::sub(bb, ll, a[0], a[1]));
              });
          Value written = s.generic(
              {k, u}, decayed, {keyOf, s.map(3, {s.d(0), s.d(2)}), hij},
              {kPar, kPar, kPar}, [&](OpBuilder &bb, Location ll, ValueRange a) {
                return Emitter::add(bb, ll, a[2], Emitter::mul(bb, ll, a[0], a[1]));
              });
          Value o = s.generic(
              {written, q}, s.filled({s.ofr(nv), s.ofr(dv)}, s.f32(), 0.0),
              {hij_s, hij_k, hij_out}, {kPar, kRed, kPar},
              [&](OpBuilder &bb, Location ll, ValueRange a) {
                return Emitter::add(bb, ll, a[2], Emitter::mul(bb, ll, a[0], a[1]));
              });
          scf::YieldOp::create(b, l, ValueRange{written, s.insertRow(o, carried[1], t)});
        });
    rw.replaceOp(op, {loop.getResult(1), loop.getResult(0)});
    return success();
  }
};

/// A DeltaNet decode step (qnext-fuse-deltanet-step) as one scf.forall over
/// the key heads. Iteration j builds the ops the step fused on its own
/// slices: the conv of its q, k and v channels (their conv state updated in
/// place), the L2 norms of q_j and k_j, and the gates, delta rule and gated
/// norm of value heads [jR, (j+1)R); those ops lower in turn where they are.
/// The states are the loop's shared outputs, read from them, so they stay
/// in place when bufferized.
struct LowerDeltaNetStep : OpRewritePattern<DeltaNetStepOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(DeltaNetStepOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, {op.getQkv(), op.getZ()})))
      return failure();
    Emitter e{rw, op.getLoc()};
    ArrayRef<int64_t> stateShape =
        cast<RankedTensorType>(op.getState().getType()).getShape();
    const int64_t nv = stateShape[0], dk = stateShape[1], dv = stateShape[2];
    const int64_t nk = op.getNumKeyHeads(), r = nv / nk;
    const int64_t taps =
        cast<RankedTensorType>(op.getConvWeight().getType()).getDimSize(1);
    auto forall = scf::ForallOp::create(
        rw, e.loc, ArrayRef<OpFoldResult>{e.ofr(nk)},
        ValueRange{e.empty({e.ofr(1), e.ofr(nv), e.ofr(dv)}, e.f32()),
                   op.getConvState(), op.getState()},
        std::nullopt);
    OpBuilder::InsertionGuard guard(rw);
    rw.setInsertionPoint(forall.getTerminator());
    Location loc = e.loc;
    Emitter s{rw, loc};
    Value j = forall.getInductionVar(0);
    Value y = forall.getRegionIterArgs()[0];
    Value convState = forall.getRegionIterArgs()[1];
    Value state = forall.getRegionIterArgs()[2];
    // j * n + base as an index.
    auto at = [&](int64_t n, int64_t base) -> OpFoldResult {
      Value v = arith::MulIOp::create(rw, loc, j, s.idx(n));
      return arith::AddIOp::create(rw, loc, v, s.idx(base)).getResult();
    };
    auto slice = [&](Value from, ArrayRef<OpFoldResult> offsets,
                     ArrayRef<int64_t> sizes) -> Value {
      SmallVector<OpFoldResult> sz, strides(sizes.size(), s.ofr(1));
      for (int64_t n : sizes)
        sz.push_back(s.ofr(n));
      return tensor::ExtractSliceOp::create(rw, loc, from, offsets, sz, strides);
    };
    SmallVector<std::tuple<Value, SmallVector<OpFoldResult>, Value>> inserts;

    // The conv of `width` channels from channel j * width + base, SiLU
    // applied; its new state goes back into the conv state.
    auto conv = [&](int64_t width, int64_t base) {
      OpFoldResult c = at(width, base);
      auto conv = CausalConv1dOp::create(
          rw, loc, slice(op.getQkv(), {s.ofr(0), c}, {1, width}),
          slice(op.getConvWeight(), {c, s.ofr(0)}, {width, taps}),
          slice(convState, {s.ofr(0), c}, {taps - 1, width}), /*silu=*/true);
      inserts.push_back({conv.getNewState(), {s.ofr(0), c}, convState});
      return conv.getResult();
    };
    auto heads = [&](Value x, int64_t n, int64_t d) -> Value {
      auto type = RankedTensorType::get({1, n, d}, s.f32());
      return tensor::ExpandShapeOp::create(rw, loc, type, x, {{0}, {1, 2}});
    };
    Value q = heads(conv(dk, 0), 1, dk);
    Value k = heads(conv(dk, nk * dk), 1, dk);
    Value v = heads(conv(r * dv, 2 * nk * dk), r, dv);
    q = L2NormOp::create(rw, loc, q, op.getL2EpsilonAttr(), op.getQueryScaleAttr());
    k = L2NormOp::create(rw, loc, k, op.getL2EpsilonAttr(),
                         rw.getF32FloatAttr(1.0f));

    OpFoldResult h0 = at(r, 0);
    auto gateType = RankedTensorType::get({1, r}, s.f32());
    auto gates = GdnGatesOp::create(
        rw, loc, gateType, gateType, slice(op.getA(), {s.ofr(0), h0}, {1, r}),
        slice(op.getB(), {s.ofr(0), h0}, {1, r}),
        slice(op.getALog(), {h0}, {r}), slice(op.getDtBias(), {h0}, {r}));
    SmallVector<OpFoldResult> stateAt = {h0, s.ofr(0), s.ofr(0)};
    auto rule = GatedDeltaRuleOp::create(rw, loc, q, k, v, gates.getG(),
                                         gates.getBeta(),
                                         slice(state, stateAt, {r, dk, dv}));
    SmallVector<OpFoldResult> headsAt = {s.ofr(0), h0, s.ofr(0)};
    Value out = GatedRMSNormOp::create(rw, loc, rule.getResult(),
                                       slice(op.getZ(), headsAt, {1, r, dv}),
                                       op.getNormWeight(), op.getEpsilonAttr());
    inserts.push_back({rule.getNewState(), stateAt, state});
    inserts.push_back({out, headsAt, y});

    rw.setInsertionPointToStart(forall.getTerminator().getBody());
    for (auto &[tile, offsets, into] : inserts) {
      auto type = cast<RankedTensorType>(tile.getType());
      SmallVector<OpFoldResult> sizes, strides(type.getRank(), s.ofr(1));
      for (int64_t n : type.getShape())
        sizes.push_back(s.ofr(n));
      tensor::ParallelInsertSliceOp::create(rw, loc, tile, into, offsets, sizes,
                                            strides);
    }
    rw.replaceOp(op, forall.getResults());
    return success();
  }
};

/// Writes k, v into the caches at [past, past + T), then per token t:
/// o = softmax(q K[0, past + t]^T * scale) V, KV head h / G for query head h.
struct LowerAttention : OpRewritePattern<AttentionOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AttentionOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, {op.getQuery(), op.getKCache(), op.getVCache()})))
      return failure();
    Emitter e{rw, op.getLoc()};
    auto qType = cast<RankedTensorType>(op.getQuery().getType());
    const int64_t nq = qType.getShape()[1], d = qType.getShape()[2];
    const int64_t nkv = cast<RankedTensorType>(op.getKey().getType()).getShape()[1];
    const int64_t dv = cast<RankedTensorType>(op.getValue().getType()).getShape()[2];
    const int64_t group = nq / nkv;
    double scale = op.getScale() ? op.getScale()->convertToDouble()
                                 : 1.0 / std::sqrt(double(d));
    Value past = op.getPast();
    OpFoldResult tokens = e.dimOf(op.getQuery(), 0);

    // cache[h, past + t, :] = src[t, h, :], written in place.
    auto store = [&](Value src, Value cache, int64_t width) {
      return e.insertSwapped(src, cache, {e.ofr(0), past, e.ofr(0)},
                             {e.ofr(nkv), tokens, e.ofr(width)});
    };
    Value kCache = store(op.getKey(), op.getKCache(), d);
    Value vCache = store(op.getValue(), op.getVCache(), dv);
    Value scaleV = e.f32c(scale);
    Value minusInf = e.f32c(-std::numeric_limits<double>::infinity());
    Value out0 = e.empty({tokens, e.ofr(nq), e.ofr(dv)}, e.f32());

    auto loop = scf::ForOp::create(
        rw, e.loc, e.idx(0), e.dimValue(op.getQuery(), 0), e.idx(1),
        ValueRange{out0},
        [&](OpBuilder &b, Location l, Value t, ValueRange carried) {
          Emitter s{b, l};
          Value q = s.row(op.getQuery(), t);
          Value len = arith::AddIOp::create(
              b, l, arith::AddIOp::create(b, l, past, t), s.idx(1));
          auto window = [&](Value cache, int64_t width) {
            return tensor::ExtractSliceOp::create(
                b, l, cache, ArrayRef<OpFoldResult>{s.ofr(0), s.ofr(0), s.ofr(0)},
                ArrayRef<OpFoldResult>{s.ofr(nkv), len, s.ofr(width)},
                ArrayRef<OpFoldResult>{s.ofr(1), s.ofr(1), s.ofr(1)}).getResult();
          };
          Value keys = window(kCache, d), values = window(vCache, dv);
          // scores[h, s] = q[h, :] . K[h / G, s, :]: per KV head g, the
          // x * W^T contraction of its G query heads [G, D] with its cached
          // keys [len, D] (the form qnext-vectorize-contractions turns into
          // a vector kernel).
          Value scores = s.empty({s.ofr(nq), len}, s.f32());
          for (int64_t g = 0; g < nkv; ++g) {
            Value qg = tensor::ExtractSliceOp::create(
                b, l, RankedTensorType::get({group, d}, s.f32()), q,
                ArrayRef<OpFoldResult>{s.ofr(g * group), s.ofr(0)},
                ArrayRef<OpFoldResult>{s.ofr(group), s.ofr(d)},
                ArrayRef<OpFoldResult>{s.ofr(1), s.ofr(1)});
            Value kg = tensor::ExtractSliceOp::create(
                b, l, RankedTensorType::get({ShapedType::kDynamic, d}, s.f32()), keys,
                ArrayRef<OpFoldResult>{s.ofr(g), s.ofr(0), s.ofr(0)},
                ArrayRef<OpFoldResult>{s.ofr(1), len, s.ofr(d)},
                ArrayRef<OpFoldResult>{s.ofr(1), s.ofr(1), s.ofr(1)});
            scores = tensor::InsertSliceOp::create(
                b, l, s.matmulTransposed(qg, kg), scores,
                ArrayRef<OpFoldResult>{s.ofr(g * group), s.ofr(0)},
                ArrayRef<OpFoldResult>{s.ofr(group), len},
                ArrayRef<OpFoldResult>{s.ofr(1), s.ofr(1)});
          }
          AffineMap hs = s.map(2, {s.d(0), s.d(1)}), h = s.map(2, {s.d(0)});
          Value maxInit = linalg::FillOp::create(
                              b, l, minusInf, s.empty({s.ofr(nq)}, s.f32()))
                              .getResult(0);
          Value maxes = s.generic({scores}, maxInit, {hs, h}, {kPar, kRed},
                                  [&](OpBuilder &bb, Location ll, ValueRange a) {
                                    return arith::MaximumFOp::create(bb, ll, a[0], a[1])
                                        .getResult();
                                  });
          Value probs = s.generic(
              {scores, maxes}, s.empty({s.ofr(nq), len}, s.f32()), {hs, h, hs},
              {kPar, kPar}, [&](OpBuilder &bb, Location ll, ValueRange a) {
                return math::ExpOp::create(
                    bb, ll,
                    Emitter::mul(bb, ll, Emitter::sub(bb, ll, a[0], a[1]), scaleV))
                    .getResult();
              });
          Value sums = s.generic({probs}, s.filled({s.ofr(nq)}, s.f32(), 0.0),
                                 {hs, h}, {kPar, kRed},
                                 [&](OpBuilder &bb, Location ll, ValueRange a) {
                                   return Emitter::add(bb, ll, a[0], a[1]);
                                 });
          // o[h, j] = sum_s p[h, s] V[h / G, s, j] / sum[h], as loops
          // (h, s, j): the innermost walks the contiguous j of V and o.
          Value weighted = s.generic(
              {probs, values}, s.filled({s.ofr(nq), s.ofr(dv)}, s.f32(), 0.0),
              {s.map(3, {s.d(0), s.d(1)}),
               s.map(3, {s.d(0).floorDiv(group), s.d(1), s.d(2)}),
               s.map(3, {s.d(0), s.d(2)})},
              {kPar, kRed, kPar}, [&](OpBuilder &bb, Location ll, ValueRange a) {
                return Emitter::add(bb, ll, a[2], Emitter::mul(bb, ll, a[0], a[1]));
              });
          Value o = s.generic({weighted, sums}, s.empty({s.ofr(nq), s.ofr(dv)}, s.f32()),
                              {hs, h, hs}, {kPar, kPar},
                              [&](OpBuilder &bb, Location ll, ValueRange a) {
                                return arith::DivFOp::create(bb, ll, a[0], a[1])
                                    .getResult();
                              });
          scf::YieldOp::create(b, l, s.insertRow(o, carried[0], t));
        });
    rw.replaceOp(op, {loop.getResult(0), kCache, vCache});
    return success();
  }
};

/// Passes over the last axis of a [T, E] tensor or one row [E]: a reduction
/// to one value per row, and an elementwise op with that value.
struct LastAxis {
  Emitter &e;
  SmallVector<OpFoldResult> sizes, rows;
  AffineMap all, row;
  SmallVector<IteratorType> reduce, par;

  LastAxis(Emitter &e, Value x) : e(e), sizes(e.sizesOf(x)), rows(sizes) {
    unsigned rank = cast<RankedTensorType>(x.getType()).getRank();
    rows.pop_back();
    SmallVector<AffineExpr> lead;
    for (unsigned i = 0; i + 1 < rank; ++i)
      lead.push_back(e.d(i));
    all = e.b.getMultiDimIdentityMap(rank);
    row = e.map(rank, lead);
    reduce.assign(rank - 1, kPar);
    reduce.push_back(kRed);
    par.assign(rank, kPar);
  }
  /// body(element, accumulator) folded over each row from `init`.
  Value reduceRows(Value x, double init,
                   function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    return e.generic({x}, e.filled(rows, e.f32(), init), {all, row}, reduce, body);
  }
  /// body(element, its row's value) for every element.
  Value withRow(Value x, Value perRow,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    return e.generic({x, perRow}, e.empty(sizes, e.f32()), {all, row, all}, par,
                     body);
  }
};

/// x / sum(x) over the last axis (the softmax's last step, the top-k
/// renormalisation).
Value normalizeLastAxis(Emitter &e, Value x) {
  LastAxis axis(e, x);
  Value sums = axis.reduceRows(x, 0.0, [](OpBuilder &bb, Location l, ValueRange a) {
    return Emitter::add(bb, l, a[0], a[1]);
  });
  return axis.withRow(x, sums, [](OpBuilder &bb, Location l, ValueRange a) {
    return arith::DivFOp::create(bb, l, a[0], a[1]).getResult();
  });
}

/// Softmax over the last axis of `x` ([T, E] or one row [E]): the max, the
/// exponentials of the differences, their sum, the quotients. The same ops
/// in the same order whatever the rank, so both router forms agree bit for
/// bit.
Value softmaxLastAxis(Emitter &e, Value x) {
  LastAxis axis(e, x);
  Value maxes = axis.reduceRows(
      x, -std::numeric_limits<double>::infinity(),
      [](OpBuilder &bb, Location l, ValueRange a) {
        return arith::MaximumFOp::create(bb, l, a[0], a[1]).getResult();
      });
  Value exps = axis.withRow(x, maxes, [](OpBuilder &bb, Location l, ValueRange a) {
    return math::ExpOp::create(bb, l, Emitter::sub(bb, l, a[0], a[1])).getResult();
  });
  return normalizeLastAxis(e, exps);
}

/// Softmax, top-k by repeated argmax (ties to the lower expert), and the
/// optional renormalisation. From a `qnext.fused <router>` group
/// (qnext-fuse-router): all of it inside the loop over tokens, one kernel;
/// otherwise the softmax and the renormalisation are passes over all tokens
/// around that loop.
struct LowerRouter : OpRewritePattern<RouterOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(RouterOp op, PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getLogits())))
      return failure();
    Emitter e{rw, op.getLoc()};
    Value logits = op.getLogits();
    const int64_t k = op.getTopK();
    const bool fused = hasFusion(op, FusionKind::Router);
    Type indexElt = cast<RankedTensorType>(op.getIndices().getType()).getElementType();
    OpFoldResult tokens = e.dimOf(logits, 0);
    Value probs = fused ? logits : softmaxLastAxis(e, logits);

    Value weights0 = e.empty({tokens, e.ofr(k)}, e.f32());
    Value indices0 = e.empty({tokens, e.ofr(k)}, indexElt);
    auto perToken = scf::ForOp::create(
        rw, e.loc, e.idx(0), e.dimValue(logits, 0), e.idx(1),
        ValueRange{weights0, indices0},
        [&](OpBuilder &b, Location l, Value tok, ValueRange outer) {
          Emitter s{b, l};
          Value row = s.row(probs, tok);
          if (fused)
            row = softmaxLastAxis(s, row);
          auto pick = scf::ForOp::create(
              b, l, s.idx(0), s.idx(k), s.idx(1),
              ValueRange{row, outer[0], outer[1]},
              [&](OpBuilder &b2, Location l2, Value i, ValueRange in) {
                Emitter s2{b2, l2};
                // argmax over experts; probabilities are >= 0, taken ones -1.
                Value bestInit = s2.filled({}, s2.f32(), -2.0);
                Value idxInit = linalg::FillOp::create(
                                    b2, l2, s2.idx(0),
                                    tensor::EmptyOp::create(b2, l2, ArrayRef<int64_t>{},
                                                            b2.getIndexType()).getResult())
                                    .getResult(0);
                AffineMap all = s2.map(1, {s2.d(0)}), none = s2.map(1, {});
                auto argmax = linalg::GenericOp::create(
                    b2, l2, TypeRange{bestInit.getType(), idxInit.getType()},
                    ValueRange{in[0]}, ValueRange{bestInit, idxInit},
                    ArrayRef<AffineMap>{all, none, none}, ArrayRef<IteratorType>{kRed},
                    [&](OpBuilder &bb, Location ll, ValueRange a) {
                      Value eIdx = linalg::IndexOp::create(bb, ll, 0);
                      Value gt = arith::CmpFOp::create(bb, ll, arith::CmpFPredicate::OGT,
                                                       a[0], a[1]);
                      Value eq = arith::CmpFOp::create(bb, ll, arith::CmpFPredicate::OEQ,
                                                       a[0], a[1]);
                      Value lower = arith::CmpIOp::create(
                          bb, ll, arith::CmpIPredicate::ult, eIdx, a[2]);
                      Value take = arith::OrIOp::create(
                          bb, ll, gt, arith::AndIOp::create(bb, ll, eq, lower));
                      linalg::YieldOp::create(
                          bb, ll,
                          ValueRange{arith::SelectOp::create(bb, ll, take, a[0], a[1]),
                                     arith::SelectOp::create(bb, ll, take, eIdx, a[2])});
                    });
                Value best = tensor::ExtractOp::create(b2, l2, argmax.getResult(0),
                                                       ValueRange{});
                Value bestIdx = tensor::ExtractOp::create(b2, l2, argmax.getResult(1),
                                                          ValueRange{});
                Value taken = tensor::InsertOp::create(b2, l2, s2.f32c(-1.0), in[0],
                                                       ValueRange{bestIdx});
                Value w = tensor::InsertOp::create(b2, l2, best, in[1],
                                                   ValueRange{tok, i});
                Value asInt = arith::IndexCastOp::create(b2, l2, indexElt, bestIdx);
                Value ids = tensor::InsertOp::create(b2, l2, asInt, in[2],
                                                     ValueRange{tok, i});
                scf::YieldOp::create(b2, l2, ValueRange{taken, w, ids});
              });
          Value weights = pick.getResult(1);
          if (fused && op.getNormalize()) {
            // This token's k weights, renormalised in place.
            SmallVector<OpFoldResult> offsets = {tok, s.ofr(0)},
                                      sizes = {s.ofr(1), s.ofr(k)},
                                      strides = {s.ofr(1), s.ofr(1)};
            Value mine = normalizeLastAxis(s, s.row(weights, tok));
            weights = tensor::InsertSliceOp::create(b, l, mine, weights, offsets,
                                                    sizes, strides);
          }
          scf::YieldOp::create(b, l, ValueRange{weights, pick.getResult(2)});
        });
    Value weights = perToken.getResult(0);
    if (!fused && op.getNormalize())
      weights = normalizeLastAxis(e, weights);
    rw.replaceOp(op, {weights, perToken.getResult(1)});
    return success();
  }
};

} // namespace

void mlir::qnext::lowering::populateSequentialOpPatterns(
    RewritePatternSet &patterns, bool gatherExperts) {
  patterns.add<LowerGatedDeltaRule, LowerDeltaNetStep, LowerAttention,
               LowerRouter>(patterns.getContext());
  populateRoutedExpertPatterns(patterns, gatherExperts);
}
