//===- LowerDeltaRuleChunked.cpp - the chunked gated delta rule -----------===//
//
// qnext.gated_delta_rule for multi-token calls, as the chunked algorithm of
// spec 4.9 (chunks of C = 64 tokens, the last one shorter): inside a chunk
// the tokens interact through small [C, C] matrices (the WY form, with
// (I + A)^-1 by forward substitution); between chunks the fp32 state is
// carried by a scf.for. Single-token calls keep the recurrence
// (LowerSequentialOps.cpp). Notation: h value head, g = h / R its key head,
// r and s positions in the chunk, d key dim, j value dim; gamma = cumulative
// log decay inside the chunk.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::qnext;
using namespace mlir::qnext::lowering;

namespace {

constexpr int64_t kChunk = 64;

struct LowerGatedDeltaRuleChunked : OpRewritePattern<GatedDeltaRuleOp> {
  LowerGatedDeltaRuleChunked(MLIRContext *ctx)
      : OpRewritePattern(ctx, /*benefit=*/2) {}

  LogicalResult matchAndRewrite(GatedDeltaRuleOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, {op.getQuery(), op.getValue()})))
      return failure();
    if (cast<RankedTensorType>(op.getValue().getType()).getShape()[0] == 1)
      return rw.notifyMatchFailure(op, "one token: the recurrence");
    Emitter e{rw, op.getLoc()};
    auto stateType = cast<RankedTensorType>(op.getState().getType());
    const int64_t nv = stateType.getShape()[0], dk = stateType.getShape()[1],
                  dv = stateType.getShape()[2];
    const int64_t nk =
        cast<RankedTensorType>(op.getQuery().getType()).getShape()[1];
    const int64_t rr = nv / nk;
    Value tokens = e.dimValue(op.getValue(), 0);
    Value out0 = e.empty(e.sizesOf(op.getValue()), e.f32());

    auto loop = scf::ForOp::create(
        rw, e.loc, e.idx(0), tokens, e.idx(kChunk),
        ValueRange{op.getState(), out0},
        [&](OpBuilder &b, Location l, Value start, ValueRange carried) {
          Emitter s{b, l};
          Value state = carried[0];
          Value len = arith::MinUIOp::create(
              b, l, s.idx(kChunk), arith::SubIOp::create(b, l, tokens, start));
          OpFoldResult L = len;
          auto chunk = [&](Value t, int64_t rank) {
            SmallVector<OpFoldResult> offsets(rank, s.ofr(0)), sizes = s.sizesOf(t),
                strides(rank, s.ofr(1));
            offsets[0] = start;
            sizes[0] = L;
            return tensor::ExtractSliceOp::create(b, l, t, offsets, sizes, strides)
                .getResult();
          };
          Value q = chunk(op.getQuery(), 3), k = chunk(op.getKey(), 3);
          Value v = chunk(op.getValue(), 3), g = chunk(op.getG(), 2);
          Value beta = chunk(op.getBeta(), 2);
          auto d = [&](unsigned i) { return s.d(i); };
          auto key = [&](AffineExpr pos, AffineExpr dim) {
            return SmallVector<AffineExpr>{pos, d(0).floorDiv(rr), dim};
          };
          auto madd = [](OpBuilder &bb, Location ll, Value acc, Value x, Value y) {
            return Emitter::add(bb, ll, acc, Emitter::mul(bb, ll, x, y));
          };
          auto lessEq = [](OpBuilder &bb, Location ll, unsigned a, unsigned c,
                           bool strict) {
            Value x = linalg::IndexOp::create(bb, ll, a);
            Value y = linalg::IndexOp::create(bb, ll, c);
            return arith::CmpIOp::create(
                bb, ll, strict ? arith::CmpIPredicate::ult : arith::CmpIPredicate::ule,
                y, x);
          };
          Value zero = s.f32c(0.0);
          // out[h, r, j] (+)= sum_s body(...): maps over (h, r, j, s), run
          // as loops (h, r, s, j), so the innermost loop walks the
          // contiguous j of the output and the right operand (vectorizable
          // without reassociating the sum).
          auto contract = [&](ValueRange inputs, Value init, ArrayRef<AffineMap> maps,
                              function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
            AffineMap swap = s.map(4, {d(0), d(1), d(3), d(2)});
            SmallVector<AffineMap> permuted;
            for (AffineMap m : maps)
              permuted.push_back(m.compose(swap));
            return s.generic(inputs, init, permuted, {kPar, kPar, kRed, kPar}, body);
          };
          auto expOf = [&](Value t) { // elementwise exp of a [nv, L] tensor
            AffineMap id = s.map(2, {d(0), d(1)});
            return s.generic({t}, s.empty(s.sizesOf(t), s.f32()), {id, id}, {kPar, kPar},
                             [](OpBuilder &bb, Location ll, ValueRange x) {
                               return math::ExpOp::create(bb, ll, x[0]).getResult();
                             });
          };

          // gamma[h, r] = sum_{i <= r} g[i, h]
          Value gamma = s.generic(
              {g}, s.filled({s.ofr(nv), L}, s.f32(), 0.0),
              {s.map(3, {d(2), d(0)}), s.map(3, {d(0), d(1)})}, {kPar, kPar, kRed},
              [&](OpBuilder &bb, Location ll, ValueRange a) {
                Value in = lessEq(bb, ll, 1, 2, false); // i <= r
                return arith::SelectOp::create(
                           bb, ll, in, Emitter::add(bb, ll, a[1], a[0]), a[1])
                    .getResult();
              });
          // KK[g, r, s] = k_r . k_s ;  QK[g, r, s] = q_r . k_s, per key head
          // g (its R value heads share them). The keys transposed, kT[g, d,
          // s] = k[s, g, d], let the loops run (g, r, d, s): the innermost
          // walks the contiguous s of kT and of the result (vectorizable
          // without reassociating the sum over d).
          Value kT = s.generic(
              {k}, s.empty({s.ofr(nk), s.ofr(dk), L}, s.f32()),
              {s.map(3, {d(2), d(0), d(1)}), s.map(3, {d(0), d(1), d(2)})},
              {kPar, kPar, kPar},
              [](OpBuilder &, Location, ValueRange a) { return a[0]; });
          auto dots = [&](Value left) {
            return s.generic({left, kT}, s.filled({s.ofr(nk), L, L}, s.f32(), 0.0),
                             {s.map(4, {d(1), d(0), d(2)}), s.map(4, {d(0), d(2), d(3)}),
                              s.map(4, {d(0), d(1), d(3)})},
                             {kPar, kPar, kRed, kPar},
                             [&](OpBuilder &bb, Location ll, ValueRange a) {
                               return madd(bb, ll, a[2], a[0], a[1]);
                             });
          };
          Value kk = dots(k), qk = dots(q);
          // The decays, once per chunk (not inside the reductions).
          Value eg = expOf(gamma); // eg[h, r] = exp(gamma_r)
          AffineMap hrs = s.map(3, {d(0), d(1), d(2)});
          AffineMap grs = s.map(3, {d(0).floorDiv(rr), d(1), d(2)}); // KK, QK
          AffineMap gr = s.map(3, {d(0), d(1)}), gs = s.map(3, {d(0), d(2)});
          // A[h, r, s] = s < r ? beta_r KK exp(gamma_r - gamma_s) : 0
          Value a = s.generic(
              {kk, gamma, gamma, beta}, s.empty({s.ofr(nv), L, L}, s.f32()),
              {grs, gr, gs, s.map(3, {d(1), d(0)}), hrs}, {kPar, kPar, kPar},
              [&](OpBuilder &bb, Location ll, ValueRange x) {
                Value decay = math::ExpOp::create(bb, ll, Emitter::sub(bb, ll, x[1], x[2]));
                Value v2 = Emitter::mul(bb, ll, Emitter::mul(bb, ll, x[3], x[0]), decay);
                return arith::SelectOp::create(bb, ll, lessEq(bb, ll, 1, 2, true), v2,
                                               zero)
                    .getResult();
              });
          // T = (I + A)^-1 by forward substitution, one row at a time:
          // T[r, :] = e_r - sum_{s < r} A[r, s] T[s, :].
          Value t0 = s.filled({s.ofr(nv), L, L}, s.f32(), 0.0);
          auto rows = scf::ForOp::create(
              b, l, s.idx(0), len, s.idx(1), ValueRange{t0},
              [&](OpBuilder &b2, Location l2, Value r, ValueRange in) {
                Emitter s2{b2, l2};
                SmallVector<OpFoldResult> off = {s2.ofr(0), r, s2.ofr(0)};
                SmallVector<OpFoldResult> sz = {s2.ofr(nv), s2.ofr(1), L};
                SmallVector<OpFoldResult> st(3, s2.ofr(1));
                auto rowType = RankedTensorType::get({nv, ShapedType::kDynamic}, s2.f32());
                Value ar = tensor::ExtractSliceOp::create(b2, l2, rowType, a, off, sz, st);
                Value unit = s2.generic(
                    {}, s2.empty({s2.ofr(nv), L}, s2.f32()), {s2.map(2, {s2.d(0), s2.d(1)})},
                    {kPar, kPar}, [&](OpBuilder &bb, Location ll, ValueRange) {
                      Value j = linalg::IndexOp::create(bb, ll, 1);
                      Value on = arith::CmpIOp::create(bb, ll, arith::CmpIPredicate::eq, j, r);
                      return arith::SelectOp::create(
                                 bb, ll, on, arith::ConstantOp::create(bb, ll, bb.getF32FloatAttr(1.0f)),
                                 arith::ConstantOp::create(bb, ll, bb.getF32FloatAttr(0.0f)))
                          .getResult();
                    });
                // Loops (h, s, j) reducing s < r: the innermost walks the
                // contiguous j of T's rows and of the result.
                Value row = s2.generic(
                    {ar, in[0]}, unit,
                    {s2.map(3, {s2.d(0), s2.d(1)}), s2.map(3, {s2.d(0), s2.d(1), s2.d(2)}),
                     s2.map(3, {s2.d(0), s2.d(2)})},
                    {kPar, kRed, kPar}, [&](OpBuilder &bb, Location ll, ValueRange x) {
                      Value sIdx = linalg::IndexOp::create(bb, ll, 1);
                      Value before = arith::CmpIOp::create(bb, ll, arith::CmpIPredicate::ult, sIdx, r);
                      return arith::SelectOp::create(
                                 bb, ll, before,
                                 Emitter::sub(bb, ll, x[2], Emitter::mul(bb, ll, x[0], x[1])), x[2])
                          .getResult();
                    });
                Value next = tensor::InsertSliceOp::create(b2, l2, row, in[0], off, sz, st);
                scf::YieldOp::create(b2, l2, next);
              });
          Value tm = rows.getResult(0);
          // U0[h, r, j] = sum_s T[h, r, s] beta_s v[s, h, j]
          Value u0 = contract(
              {tm, beta, v}, s.filled({s.ofr(nv), L, s.ofr(dv)}, s.f32(), 0.0),
              {s.map(4, {d(0), d(1), d(3)}), s.map(4, {d(3), d(0)}),
               s.map(4, {d(3), d(0), d(2)}), s.map(4, {d(0), d(1), d(2)})},
              [&](OpBuilder &bb, Location ll, ValueRange x) {
                return madd(bb, ll, x[3], Emitter::mul(bb, ll, x[0], x[1]), x[2]);
              });
          // W[h, r, d] = sum_s T[h, r, s] beta_s exp(gamma_s) k[s, h/R, d]
          Value w = contract(
              {tm, beta, eg, k}, s.filled({s.ofr(nv), L, s.ofr(dk)}, s.f32(), 0.0),
              {s.map(4, {d(0), d(1), d(3)}), s.map(4, {d(3), d(0)}),
               s.map(4, {d(0), d(3)}), s.map(4, key(d(3), d(2))),
               s.map(4, {d(0), d(1), d(2)})},
              [&](OpBuilder &bb, Location ll, ValueRange x) {
                Value c = Emitter::mul(bb, ll, Emitter::mul(bb, ll, x[0], x[1]), x[2]);
                return madd(bb, ll, x[4], c, x[3]);
              });
          // Vnew[h, r, j] = U0 - sum_d W[h, r, d] S[h, d, j]
          Value vnew = contract(
              {w, state}, u0,
              {s.map(4, {d(0), d(1), d(3)}), s.map(4, {d(0), d(3), d(2)}),
               s.map(4, {d(0), d(1), d(2)})},
              [&](OpBuilder &bb, Location ll, ValueRange x) {
                return Emitter::sub(bb, ll, x[2], Emitter::mul(bb, ll, x[0], x[1]));
              });
          // O[h, r, j] = exp(gamma_r) q_r^T S + sum_{s <= r} QK exp(gamma_r - gamma_s) Vnew_s
          Value inter = contract(
              {q, state, eg}, s.filled({s.ofr(nv), L, s.ofr(dv)}, s.f32(), 0.0),
              {s.map(4, key(d(1), d(3))), s.map(4, {d(0), d(3), d(2)}),
               s.map(4, {d(0), d(1)}), s.map(4, {d(0), d(1), d(2)})},
              [&](OpBuilder &bb, Location ll, ValueRange x) {
                return madd(bb, ll, x[3], Emitter::mul(bb, ll, x[0], x[2]), x[1]);
              });
          // P[h, r, s] = s <= r ? QK exp(gamma_r - gamma_s) : 0
          Value p = s.generic(
              {qk, gamma, gamma}, s.empty({s.ofr(nv), L, L}, s.f32()),
              {grs, gr, gs, hrs}, {kPar, kPar, kPar},
              [&](OpBuilder &bb, Location ll, ValueRange x) {
                Value decay = math::ExpOp::create(bb, ll, Emitter::sub(bb, ll, x[1], x[2]));
                return arith::SelectOp::create(bb, ll, lessEq(bb, ll, 1, 2, false),
                                               Emitter::mul(bb, ll, x[0], decay), zero)
                    .getResult();
              });
          Value o = contract(
              {p, vnew}, inter,
              {s.map(4, {d(0), d(1), d(3)}), s.map(4, {d(0), d(3), d(2)}),
               s.map(4, {d(0), d(1), d(2)})},
              [&](OpBuilder &bb, Location ll, ValueRange x) {
                return madd(bb, ll, x[2], x[0], x[1]);
              });
          // S = exp(gamma_last) S + sum_s exp(gamma_last - gamma_s) k_s Vnew_s^T,
          // updated in place.
          Value lastIdx = arith::SubIOp::create(b, l, len, s.idx(1));
          Value glast = tensor::ExtractSliceOp::create(
              b, l, RankedTensorType::get({nv}, s.f32()), gamma,
              ArrayRef<OpFoldResult>{s.ofr(0), lastIdx},
              ArrayRef<OpFoldResult>{s.ofr(nv), s.ofr(1)},
              ArrayRef<OpFoldResult>{s.ofr(1), s.ofr(1)});
          // dl[h, s] = exp(gamma_last - gamma_s)
          Value dl = s.generic(
              {gamma, glast}, s.empty({s.ofr(nv), L}, s.f32()),
              {s.map(2, {d(0), d(1)}), s.map(2, {d(0)}), s.map(2, {d(0), d(1)})},
              {kPar, kPar}, [&](OpBuilder &bb, Location ll, ValueRange x) {
                return math::ExpOp::create(bb, ll, Emitter::sub(bb, ll, x[1], x[0]))
                    .getResult();
              });
          Value decayed = s.generic(
              {glast}, state, {s.map(3, {d(0)}), s.map(3, {d(0), d(1), d(2)})},
              {kPar, kPar, kPar}, [&](OpBuilder &bb, Location ll, ValueRange x) {
                return Emitter::mul(bb, ll, x[1], math::ExpOp::create(bb, ll, x[0]));
              });
          Value newState = contract(
              {k, vnew, dl}, decayed,
              {s.map(4, key(d(3), d(1))), s.map(4, {d(0), d(3), d(2)}),
               s.map(4, {d(0), d(3)}), s.map(4, {d(0), d(1), d(2)})},
              [&](OpBuilder &bb, Location ll, ValueRange x) {
                return madd(bb, ll, x[3], Emitter::mul(bb, ll, x[0], x[2]), x[1]);
              });
          // O[start + r, h, j] = o[h, r, j], written in place.
          Value out = s.insertSwapped(o, carried[1], {start, s.ofr(0), s.ofr(0)},
                                      {L, s.ofr(nv), s.ofr(dv)});
          scf::YieldOp::create(b, l, ValueRange{newState, out});
        });
    rw.replaceOp(op, {loop.getResult(1), loop.getResult(0)});
    return success();
  }
};

} // namespace

void mlir::qnext::lowering::populateChunkedDeltaRulePatterns(
    RewritePatternSet &patterns) {
  patterns.add<LowerGatedDeltaRuleChunked>(patterns.getContext());
}
