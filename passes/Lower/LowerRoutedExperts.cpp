//===- LowerRoutedExperts.cpp - qnext.expert_swiglu -> scf + linalg -------===//
//
// The routed experts read only the selected experts' slices of the stacked
// weights: one token loops over its top-k experts; several tokens with few
// (token, slot) pairs an expert (a batched decode step) sort the pairs by
// expert into rows for three gathers of rows, one kernel each; more (a
// prompt) group the tokens by expert (each chosen expert's weights read
// once per call); a decode step in a qnext-fuse-moe group, or any call with
// gather-experts (the GPU's form), is three gather contractions that read
// the expert index in their bodies, with no control flow on the routing.
//
//===----------------------------------------------------------------------===//

#include "LoweringUtils.h"
#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::qnext;
using namespace mlir::qnext::lowering;

namespace {

/// A decode step's routed experts in a qnext-fuse-moe group: lowered in the
/// gather form, which qnext-vectorize-contractions makes one kernel for all
/// the selected experts' gate and up, and one for their down and combine.
bool isGroupedStep(ExpertSwiGLUOp op) {
  return hasFusion(op, FusionKind::MoE) &&
         cast<RankedTensorType>(op.getInput().getType()).getDimSize(0) == 1;
}

/// silu(g) * u elementwise, the SwiGLU between an expert's projections;
/// the three carry `op`'s fusion tag (the kernel fuses them when tagged).
Value swiglu(Emitter &e, Value g, Value u, ExpertSwiGLUOp op) {
  unsigned rank = cast<RankedTensorType>(g.getType()).getRank();
  AffineMap id = AffineMap::getMultiDimIdentityMap(rank, e.b.getContext());
  Value h = e.generic({g, u}, e.empty(e.sizesOf(g), e.f32()), {id, id, id},
                      SmallVector<IteratorType>(rank, kPar),
                      [&](OpBuilder &bb, Location l, ValueRange a) {
                        return Emitter::mul(bb, l, Emitter::silu(bb, l, a[0]), a[1]);
                      });
  carryMark(fusionMark(op), {g, u, h});
  return h;
}

/// y[t] = sum_i w[t, i] * down_e(silu(gate_e x[t]) * up_e x[t]), e = idx[t, i]:
/// only the selected experts' weights are read. One token (a decode step):
/// its top-k experts in turn.
struct LowerExpertSwiGLU : OpRewritePattern<ExpertSwiGLUOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpertSwiGLUOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    if (cast<RankedTensorType>(op.getInput().getType()).getDimSize(0) != 1)
      return rw.notifyMatchFailure(op, "several tokens: grouped by expert");
    if (isGroupedStep(op))
      return rw.notifyMatchFailure(op, "qnext-fuse-moe: one grouped kernel");
    Emitter e{rw, op.getLoc()};
    Value x = op.getInput();
    Value out0 = e.filled(e.sizesOf(x), e.f32(), 0.0);
    auto perToken = scf::ForOp::create(
        rw, e.loc, e.idx(0), e.dimValue(x, 0), e.idx(1), ValueRange{out0},
        [&](OpBuilder &b, Location l, Value t, ValueRange outer) {
          Emitter s{b, l};
          Value xt = s.row(x, t);
          auto perExpert = scf::ForOp::create(
              b, l, s.idx(0), s.dimValue(op.getWeights(), 1), s.idx(1),
              ValueRange{outer[0]},
              [&](OpBuilder &b2, Location l2, Value i, ValueRange in) {
                Emitter s2{b2, l2};
                Value id = tensor::ExtractOp::create(b2, l2, op.getIndices(),
                                                     ValueRange{t, i});
                Value ex = arith::IndexCastOp::create(b2, l2, b2.getIndexType(), id);
                Value w = tensor::ExtractOp::create(b2, l2, op.getWeights(),
                                                    ValueRange{t, i});
                Value g = s2.matmulTransposed(xt, s2.row(op.getGate(), ex));
                Value u = s2.matmulTransposed(xt, s2.row(op.getUp(), ex));
                Value h = swiglu(s2, g, u, op);
                Value down = s2.matmulTransposed(h, s2.row(op.getDown(), ex));
                Value acc = s2.row(in[0], t);
                AffineMap id1 = s2.map(1, {s2.d(0)});
                Value sum = s2.generic({down}, acc, {id1, id1}, {kPar},
                                       [&](OpBuilder &bb, Location ll, ValueRange a) {
                                         return Emitter::add(bb, ll, a[1],
                                                             Emitter::mul(bb, ll, w, a[0]));
                                       });
                scf::YieldOp::create(b2, l2, s2.insertRow(sum, in[0], t));
              });
          scf::YieldOp::create(b, l, perExpert.getResult(0));
        });
    rw.replaceOp(op, perToken.getResult(0));
    return success();
  }
};


/// for t < tokens, i < topK, in that order: body(t, i, indices[t, i] (the
/// expert id), carried...) returns the next carried values.
SmallVector<Value> forEachPair(
    OpBuilder &b, Location l, Value tokens, Value topK, Value indices, ValueRange init,
    function_ref<SmallVector<Value>(OpBuilder &, Location, Value, Value, Value, ValueRange)>
        body) {
  Emitter s{b, l};
  return scf::ForOp::create(
             b, l, s.idx(0), tokens, s.idx(1), init,
             [&](OpBuilder &b1, Location l1, Value t, ValueRange in1) {
               Emitter s1{b1, l1};
               auto inner = scf::ForOp::create(
                   b1, l1, s1.idx(0), topK, s1.idx(1), in1,
                   [&](OpBuilder &b2, Location l2, Value i, ValueRange in2) {
                     Value id =
                         tensor::ExtractOp::create(b2, l2, indices, ValueRange{t, i});
                     scf::YieldOp::create(b2, l2, body(b2, l2, t, i, id, in2));
                   });
               scf::YieldOp::create(b1, l1, inner.getResults());
             })
      .getResults();
}

/// Rows a chosen expert gets on average (T * k / E) up to which several
/// tokens take the sorted form (a batched decode step, a short prompt);
/// above it, the form grouped by expert (a prompt).
constexpr int64_t kSortedRowsPerExpert = 4;

/// Several tokens (prefill): grouped by expert, so each selected expert's
/// weights are read once per call, not once per token. For every expert e:
/// gather the rows x[t] routed to it (with their weights), run gate/up, the
/// SwiGLU and down on that [n_e, H] block (multi-token projections), and add
/// w * result back into y[t]. An expert no token chose costs one scan of the
/// indices.
Value groupedByExpert(PatternRewriter &rw, Location loc, ExpertSwiGLUOp op) {
  Emitter e{rw, loc};
  Value x = op.getInput(), indices = op.getIndices(), weights = op.getWeights();
  const int64_t numExperts =
      cast<RankedTensorType>(op.getGate().getType()).getDimSize(0);
  const int64_t hidden = cast<RankedTensorType>(x.getType()).getDimSize(1);
  Value tokens = e.dimValue(x, 0), topK = e.dimValue(indices, 1);
  Value out0 = e.filled(e.sizesOf(x), e.f32(), 0.0);

  // for t < T, i < k with indices[t, i] == ex: body(t, i, carried...).
  auto forSelected = [&](OpBuilder &b, Location l, Value ex, ValueRange init,
                         function_ref<SmallVector<Value>(OpBuilder &, Location, Value,
                                                         Value, ValueRange)>
                             body) {
    return forEachPair(
        b, l, tokens, topK, indices, init,
        [&](OpBuilder &b2, Location l2, Value t, Value i, Value id, ValueRange in2) {
          Value eid = arith::IndexCastOp::create(b2, l2, b2.getIndexType(), id);
          Value hit = arith::CmpIOp::create(b2, l2, arith::CmpIPredicate::eq, eid, ex);
          auto ifOp = scf::IfOp::create(
              b2, l2, hit,
              [&](OpBuilder &b3, Location l3) {
                scf::YieldOp::create(b3, l3, body(b3, l3, t, i, in2));
              },
              [&](OpBuilder &b3, Location l3) { scf::YieldOp::create(b3, l3, in2); });
          return SmallVector<Value>(ifOp.getResults());
        });
  };

  auto perExpert = scf::ForOp::create(
      rw, loc, e.idx(0), e.idx(numExperts), e.idx(1), ValueRange{out0},
      [&](OpBuilder &b, Location l, Value ex, ValueRange outer) {
        Emitter s{b, l};
        Value count =
            forSelected(b, l, ex, ValueRange{s.idx(0)},
                        [](OpBuilder &bb, Location ll, Value, Value, ValueRange c) {
                          Value one = arith::ConstantIndexOp::create(bb, ll, 1);
                          return SmallVector<Value>{
                              arith::AddIOp::create(bb, ll, c[0], one)};
                        })[0];
        Value any = arith::CmpIOp::create(b, l, arith::CmpIPredicate::ugt, count,
                                          s.idx(0));
        auto ifAny = scf::IfOp::create(
            b, l, any,
            [&](OpBuilder &b1, Location l1) {
              Emitter s1{b1, l1};
              // Gather: rows[j] = x[t_j], token[j] = t_j, weight[j] = w[t_j, i_j].
              Value rows0 = s1.empty({count, s1.ofr(hidden)}, s1.f32());
              Value tok0 = s1.empty({count}, b1.getIndexType());
              Value w0 = s1.empty({count}, s1.f32());
              SmallVector<Value> gathered = forSelected(
                  b1, l1, ex, ValueRange{rows0, tok0, w0, s1.idx(0)},
                  [&](OpBuilder &bb, Location ll, Value t, Value i, ValueRange c) {
                    Emitter sb{bb, ll};
                    Value pos = c[3];
                    Value rows = sb.insertRow(sb.row(x, t), c[0], pos);
                    Value tok = tensor::InsertOp::create(bb, ll, t, c[1], pos);
                    Value w = tensor::ExtractOp::create(bb, ll, weights,
                                                        ValueRange{t, i});
                    Value ws = tensor::InsertOp::create(bb, ll, w, c[2], pos);
                    Value next = arith::AddIOp::create(bb, ll, pos, sb.idx(1));
                    return SmallVector<Value>{rows, tok, ws, next};
                  });
              Value rows = gathered[0], tok = gathered[1], ws = gathered[2];
              Value g = s1.matmulTransposed(rows, s1.row(op.getGate(), ex));
              Value u = s1.matmulTransposed(rows, s1.row(op.getUp(), ex));
              Value h = swiglu(s1, g, u, op);
              Value down = s1.matmulTransposed(h, s1.row(op.getDown(), ex));
              // Scatter: y[token[j]] += weight[j] * down[j].
              auto scatter = scf::ForOp::create(
                  b1, l1, s1.idx(0), count, s1.idx(1), ValueRange{outer[0]},
                  [&](OpBuilder &b2, Location l2, Value j, ValueRange in) {
                    Emitter s2{b2, l2};
                    Value t = tensor::ExtractOp::create(b2, l2, tok, ValueRange{j});
                    Value w = tensor::ExtractOp::create(b2, l2, ws, ValueRange{j});
                    AffineMap id1 = s2.map(1, {s2.d(0)});
                    Value sum = s2.generic(
                        {s2.row(down, j)}, s2.row(in[0], t), {id1, id1}, {kPar},
                        [&](OpBuilder &bb, Location ll, ValueRange a) {
                          return Emitter::add(bb, ll, a[1],
                                              Emitter::mul(bb, ll, w, a[0]));
                        });
                    scf::YieldOp::create(b2, l2, s2.insertRow(sum, in[0], t));
                  });
              scf::YieldOp::create(b1, l1, scatter.getResults());
            },
            [&](OpBuilder &b1, Location l1) {
              scf::YieldOp::create(b1, l1, outer[0]);
            });
        scf::YieldOp::create(b, l, ifAny.getResults());
      });
  return perExpert.getResult(0);
}

/// y[p, n] = sum_k x[p, k] * stacked[sel[p], n, k]: a gather of rows
/// (qnext-vectorize-contractions reads a run of rows of one expert with one
/// pass over its weights).
Value rowGather(Emitter &e, Value x, Value sel, Value stacked) {
  return e.generic(
      {x, sel}, e.filled({e.dimOf(x, 0), e.dimOf(stacked, 1)}, e.f32(), 0.0),
      {e.map(3, {e.d(0), e.d(2)}), e.map(3, {e.d(0)}), e.map(3, {e.d(0), e.d(1)})},
      {kPar, kPar, kRed}, [&](OpBuilder &bb, Location l, ValueRange a) {
        Value ex = arith::IndexCastOp::create(bb, l, bb.getIndexType(), a[1]);
        Value n = linalg::IndexOp::create(bb, l, 1);
        Value k = linalg::IndexOp::create(bb, l, 2);
        Value w = tensor::ExtractOp::create(bb, l, stacked, ValueRange{ex, n, k});
        return Emitter::add(bb, l, a[2], Emitter::mul(bb, l, a[0], e.ext(bb, l, w)));
      });
}

/// Several tokens with few rows per expert (a batched decode step): the
/// (token, slot) pairs become rows sorted by expert (stably: by token, then
/// slot), each a copy of its token's input; gate/up and down are gathers of
/// these rows, one kernel each for all the experts, a chosen expert's
/// weights read once per call; the combine sums each token's slots in slot
/// order (as one token's form does), y[t] = sum_i w[t, i] * d[pos[t, i]].
Value sortedByExpert(PatternRewriter &rw, Location loc, ExpertSwiGLUOp op) {
  Emitter e{rw, loc};
  Value x = op.getInput(), indices = op.getIndices(), weights = op.getWeights();
  const int64_t numExperts =
      cast<RankedTensorType>(op.getGate().getType()).getDimSize(0);
  const int64_t hidden = cast<RankedTensorType>(x.getType()).getDimSize(1);
  Type index = rw.getIndexType();
  Value tokens = e.dimValue(x, 0), topK = e.dimValue(indices, 1);
  Value pairs = arith::MulIOp::create(rw, loc, tokens, topK);

  auto asIndex = [&](OpBuilder &bb, Location l, Value id) -> Value {
    return arith::IndexCastOp::create(bb, l, bb.getIndexType(), id);
  };
  // Rows per expert, then where each expert's rows start.
  auto countsType = RankedTensorType::get({numExperts}, index);
  Value zeros = arith::ConstantOp::create(
      rw, loc, DenseElementsAttr::get(countsType, rw.getIndexAttr(0)));
  Value counts = forEachPair(
      rw, loc, tokens, topK, indices, ValueRange{zeros},
      [&](OpBuilder &bb, Location l, Value, Value, Value id, ValueRange c) {
        Value ex = asIndex(bb, l, id);
        Value n = tensor::ExtractOp::create(bb, l, c[0], ValueRange{ex});
        Value one = arith::ConstantIndexOp::create(bb, l, 1);
        return SmallVector<Value>{tensor::InsertOp::create(
            bb, l, arith::AddIOp::create(bb, l, n, one), c[0], ValueRange{ex})};
      })[0];
  Value starts = scf::ForOp::create(
                     rw, loc, e.idx(0), e.idx(numExperts), e.idx(1),
                     ValueRange{tensor::EmptyOp::create(rw, loc, countsType.getShape(),
                                                        index),
                                e.idx(0)},
                     [&](OpBuilder &bb, Location l, Value ex, ValueRange in) {
                       Value at = tensor::InsertOp::create(bb, l, in[1], in[0],
                                                           ValueRange{ex});
                       Value n = tensor::ExtractOp::create(bb, l, counts,
                                                           ValueRange{ex});
                       scf::YieldOp::create(
                           bb, l, ValueRange{at, arith::AddIOp::create(bb, l, in[1], n)});
                     })
                     .getResult(0);
  // Row p: its expert sel[p] and token tok[p]; pair (t, i) is row pos[t, i].
  SmallVector<Value> placed = forEachPair(
      rw, loc, tokens, topK, indices,
      ValueRange{starts, e.empty({pairs}, getElementTypeOrSelf(indices.getType())),
                 e.empty({pairs}, index), e.empty(e.sizesOf(indices), index)},
      [&](OpBuilder &bb, Location l, Value t, Value i, Value id, ValueRange c) {
        Value ex = asIndex(bb, l, id);
        Value p = tensor::ExtractOp::create(bb, l, c[0], ValueRange{ex});
        Value next = arith::AddIOp::create(bb, l, p,
                                           arith::ConstantIndexOp::create(bb, l, 1));
        return SmallVector<Value>{
            tensor::InsertOp::create(bb, l, next, c[0], ValueRange{ex}),
            tensor::InsertOp::create(bb, l, id, c[1], ValueRange{p}),
            tensor::InsertOp::create(bb, l, t, c[2], ValueRange{p}),
            tensor::InsertOp::create(bb, l, p, c[3], ValueRange{t, i})};
      });
  Value sel = placed[1], tok = placed[2], pos = placed[3];
  Value rows = scf::ForOp::create(
                   rw, loc, e.idx(0), pairs, e.idx(1),
                   ValueRange{e.empty({pairs, e.ofr(hidden)}, e.f32())},
                   [&](OpBuilder &bb, Location l, Value p, ValueRange in) {
                     Emitter s{bb, l};
                     Value t = tensor::ExtractOp::create(bb, l, tok, ValueRange{p});
                     scf::YieldOp::create(bb, l, s.insertRow(s.row(x, t), in[0], p));
                   })
                   .getResult(0);
  Value g = rowGather(e, rows, sel, op.getGate());
  Value u = rowGather(e, rows, sel, op.getUp());
  Value h = swiglu(e, g, u, op);
  Value d = rowGather(e, h, sel, op.getDown());
  // y[t, n] = sum_i w[t, i] * d[pos[t, i], n], (t, i, n) with n innermost.
  return e.generic({weights, pos}, e.filled(e.sizesOf(x), e.f32(), 0.0),
                   {e.map(3, {e.d(0), e.d(1)}), e.map(3, {e.d(0), e.d(1)}),
                    e.map(3, {e.d(0), e.d(2)})},
                   {kPar, kRed, kPar}, [&](OpBuilder &bb, Location l, ValueRange a) {
                     Value n = linalg::IndexOp::create(bb, l, 2);
                     Value dv = tensor::ExtractOp::create(bb, l, d, ValueRange{a[1], n});
                     return Emitter::add(bb, l, a[2], Emitter::mul(bb, l, a[0], dv));
                   });
}

/// Several tokens: the sorted form while a chosen expert gets few rows
/// (T * k <= kSortedRowsPerExpert * E, decided at run time), else grouped
/// by expert.
struct LowerExpertSwiGLUGrouped : OpRewritePattern<ExpertSwiGLUOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ExpertSwiGLUOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    if (cast<RankedTensorType>(op.getInput().getType()).getDimSize(0) == 1)
      return rw.notifyMatchFailure(op, "one token: its experts in turn");
    Location loc = op.getLoc();
    Emitter e{rw, loc};
    const int64_t numExperts =
        cast<RankedTensorType>(op.getGate().getType()).getDimSize(0);
    Value pairs = arith::MulIOp::create(rw, loc, e.dimValue(op.getInput(), 0),
                                        e.dimValue(op.getIndices(), 1));
    Value few = arith::CmpIOp::create(rw, loc, arith::CmpIPredicate::ule, pairs,
                                      e.idx(kSortedRowsPerExpert * numExperts));
    auto choice = scf::IfOp::create(
        rw, loc, few,
        [&](OpBuilder &, Location) {
          scf::YieldOp::create(rw, loc, sortedByExpert(rw, loc, op));
        },
        [&](OpBuilder &, Location) {
          scf::YieldOp::create(rw, loc, groupedByExpert(rw, loc, op));
        });
    rw.replaceOp(op, choice.getResult(0));
    return success();
  }
};
/// Every token's experts as gather contractions, with no control flow that
/// depends on the routing (the GPU target's form):
///   g[t,i,f] = sum_h x[t,h] * gate[idx[t,i], f, h]   (u likewise with up)
///   d[t,i,o] = sum_f silu(g) * u [t,i,f] * down[idx[t,i], o, f]
///   y[t,o]   = sum_i w[t,i] * d[t,i,o]
/// The stacked weights are read in the bodies at the routed expert
/// (tensor.extract of linalg.index positions).
struct LowerExpertSwiGLUGather : OpRewritePattern<ExpertSwiGLUOp> {
  /// `always`: every expert op (the GPU's form); otherwise only a decode
  /// step that qnext-fuse-moe marked.
  LowerExpertSwiGLUGather(MLIRContext *ctx, bool always)
      : OpRewritePattern(ctx), always(always) {}
  bool always;
  LogicalResult matchAndRewrite(ExpertSwiGLUOp op,
                                PatternRewriter &rw) const override {
    if (failed(requireF32(rw, op, op.getInput())))
      return failure();
    if (!always && !isGroupedStep(op))
      return rw.notifyMatchFailure(op, "not a grouped decode step");
    Emitter e{rw, op.getLoc()};
    Value x = op.getInput(), indices = op.getIndices(), weights = op.getWeights();
    Value gate = op.getGate(), up = op.getUp(), down = op.getDown();
    OpFoldResult tokens = e.dimOf(x, 0), topK = e.dimOf(indices, 1);
    OpFoldResult inter = e.dimOf(gate, 1), hidden = e.dimOf(down, 1);
    // out[t,i,n] = sum_k in[t,(i),k] * stacked[idx[t,i], n, k]
    auto gather = [&](Value in, bool perSlot, Value stacked, OpFoldResult rows,
                      function_ref<Value(OpBuilder &, Location, Value)> pre) {
      SmallVector<AffineMap> maps = {
          perSlot ? e.map(4, {e.d(0), e.d(1), e.d(3)}) : e.map(4, {e.d(0), e.d(3)}),
          e.map(4, {e.d(0), e.d(1)}), e.map(4, {e.d(0), e.d(1), e.d(2)})};
      return e.generic(
          {in, indices}, e.filled({tokens, topK, rows}, e.f32(), 0.0), maps,
          {kPar, kPar, kPar, kRed}, [&](OpBuilder &bb, Location l, ValueRange a) {
            Value ex = arith::IndexCastOp::create(bb, l, bb.getIndexType(), a[1]);
            Value n = linalg::IndexOp::create(bb, l, 2);
            Value k = linalg::IndexOp::create(bb, l, 3);
            Value w = tensor::ExtractOp::create(bb, l, stacked, ValueRange{ex, n, k});
            return Emitter::add(bb, l, a[2],
                                Emitter::mul(bb, l, pre(bb, l, a[0]), e.ext(bb, l, w)));
          });
    };
    auto same = [](OpBuilder &, Location, Value v) { return v; };
    // Each part named for the weights it reads, as its kernels are (a
    // profile's rows): "experts.gate_proj+experts.up_proj", then
    // "experts.down_proj" for the down projection and the combine.
    Location whole = op.getLoc();
    auto part = [&](bool downPart) -> Location {
      auto name = dyn_cast<NameLoc>(whole);
      if (!name)
        return whole;
      SmallVector<StringRef> parts;
      name.getName().strref().split(parts, '+');
      if (parts.size() < 2)
        return whole;
      std::string text =
          downPart ? parts.back().str() : llvm::join(ArrayRef(parts).drop_back(), "+");
      return NameLoc::get(rw.getStringAttr(text), name.getChildLoc());
    };
    e.loc = part(/*downPart=*/false);
    Value g = gather(x, false, gate, inter, same);
    Value u = gather(x, false, up, inter, same);
    Value h = swiglu(e, g, u, op);
    e.loc = part(/*downPart=*/true);
    Value d = gather(h, true, down, hidden, same);
    Value y = e.generic({d, weights}, e.filled({tokens, hidden}, e.f32(), 0.0),
                        {e.map(3, {e.d(0), e.d(2), e.d(1)}), e.map(3, {e.d(0), e.d(2)}),
                         e.map(3, {e.d(0), e.d(1)})},
                        {kPar, kPar, kRed},
                        [&](OpBuilder &bb, Location l, ValueRange a) {
                          return Emitter::add(bb, l, a[2], Emitter::mul(bb, l, a[1], a[0]));
                        });
    rw.replaceOp(op, y);
    return success();
  }
};
} // namespace

void mlir::qnext::lowering::populateRoutedExpertPatterns(RewritePatternSet &patterns,
                                                         bool gatherExperts) {
  patterns.add<LowerExpertSwiGLUGather>(patterns.getContext(), gatherExperts);
  if (!gatherExperts)
    patterns.add<LowerExpertSwiGLU, LowerExpertSwiGLUGrouped>(patterns.getContext());
}
