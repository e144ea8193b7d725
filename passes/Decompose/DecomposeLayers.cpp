//===- DecomposeLayers.cpp - qnext layer ops -> primitive ops -------------===//
//
// One rewrite pattern per layer op; the contract is in
// passes/Decompose/DecomposePasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Dialect/QNext/LayerStamp.h"
#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::qnext {
#define GEN_PASS_DEF_DECOMPOSELAYERS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

RankedTensorType tensorType(Value value) {
  return cast<RankedTensorType>(value.getType());
}

/// y = x * W^T: [T, in] x [out, in] -> [T, out], in x's element type.
Value linear(OpBuilder &b, Location loc, Value x, Value w) {
  auto type = RankedTensorType::get(
      {tensorType(x).getDimSize(0), tensorType(w).getDimSize(0)},
      tensorType(x).getElementType());
  return LinearOp::create(b, loc, type, x, w);
}

/// [T, n*d] -> [T, n, d].
Value splitHeads(OpBuilder &b, Location loc, Value x, int64_t n, int64_t d) {
  auto type = RankedTensorType::get({tensorType(x).getDimSize(0), n, d},
                                    tensorType(x).getElementType());
  return tensor::ExpandShapeOp::create(b, loc, type, x, {{0}, {1, 2}});
}

/// [T, n, d] -> [T, n*d].
Value mergeHeads(OpBuilder &b, Location loc, Value x) {
  return tensor::CollapseShapeOp::create(b, loc, x, {{0}, {1, 2}});
}

/// x[:, ..., offset : offset + size] along the last axis (all tokens).
Value sliceLastAxis(OpBuilder &b, Location loc, Value x, int64_t offset,
                    int64_t size) {
  RankedTensorType type = tensorType(x);
  int64_t rank = type.getRank();
  SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes = tensor::getMixedSizes(b, loc, x);
  SmallVector<OpFoldResult> strides(rank, b.getIndexAttr(1));
  offsets.back() = b.getIndexAttr(offset);
  sizes.back() = b.getIndexAttr(size);
  return tensor::ExtractSliceOp::create(b, loc, x, offsets, sizes, strides);
}

/// silu(x * gate^T) * (x * up^T), projected by down: the SwiGLU MLP.
Value swiglu(OpBuilder &b, Location loc, Value x, Value gate, Value up,
             Value down) {
  Value g = linear(b, loc, x, gate);
  Value u = linear(b, loc, x, up);
  Value h = SiluMulOp::create(b, loc, g, u);
  return linear(b, loc, h, down);
}

/// The offsets, sizes and strides of entry `index` of a tensor's leading
/// dimension: a row of a batch's [T, ...] values, or a slot's part of a
/// [S, ...] state.
struct Leading {
  SmallVector<OpFoldResult> offsets, sizes, strides;
  Leading(OpBuilder &b, Location loc, Value x, OpFoldResult index) {
    int64_t rank = tensorType(x).getRank();
    offsets.assign(rank, b.getIndexAttr(0));
    sizes = tensor::getMixedSizes(b, loc, x);
    strides.assign(rank, b.getIndexAttr(1));
    offsets[0] = index;
    sizes[0] = b.getIndexAttr(1);
  }
};

/// One row's or sequence's step of a batch: its rows of the inputs
/// ([1, ...] or [len, ...] each) and its slot's part of each state ([...],
/// without the slot dimension); returns its output rows and its new states.
using RowStep = function_ref<SmallVector<Value>(
    OpBuilder &b, Location loc, ValueRange inputs, ValueRange states)>;

/// Part i of a batch: its slot and its rows [start, start + length).
struct Part {
  Value slot;
  OpFoldResult start, length;
};
using PartOf = function_ref<Part(OpBuilder &b, Location loc, Value i)>;

/// Runs `step` for each of a batch's `count` parts as one scf.forall (the
/// parts' slots are distinct and their rows disjoint): returns the output
/// rows gathered ([rows, ...] of `outputType`) and the updated states.
SmallVector<Value> forEachPart(OpBuilder &b, Location loc, Value count, Value rows,
                               PartOf partOf, ValueRange inputs,
                               RankedTensorType outputType, ValueRange states,
                               RowStep step) {
  SmallVector<Value> outs = {
      tensor::EmptyOp::create(b, loc, outputType, ValueRange{rows})};
  llvm::append_range(outs, states);
  auto loop = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{count},
                                    outs, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(loop.getTerminator());
  Part part = partOf(b, loc, loop.getInductionVar(0));
  // The part's rows of x.
  auto rowsOf = [&](Value x) {
    Leading at(b, loc, x, part.start);
    at.sizes[0] = part.length;
    return at;
  };
  SmallVector<Value> partInputs, slotStates;
  for (Value input : inputs) {
    Leading at = rowsOf(input);
    partInputs.push_back(tensor::ExtractSliceOp::create(b, loc, input, at.offsets,
                                                        at.sizes, at.strides));
  }
  SmallVector<Leading> parts;
  for (BlockArgument state : loop.getRegionIterArgs().drop_front()) {
    parts.emplace_back(b, loc, state, part.slot);
    auto type = RankedTensorType::get(tensorType(state).getShape().drop_front(),
                                      tensorType(state).getElementType());
    slotStates.push_back(tensor::ExtractSliceOp::create(
        b, loc, type, state, parts.back().offsets, parts.back().sizes,
        parts.back().strides));
  }
  SmallVector<Value> results = step(b, loc, partInputs, slotStates);

  b.setInsertionPointToStart(loop.getTerminator().getBody());
  Value output = loop.getRegionIterArgs().front();
  Leading outputRows = rowsOf(output);
  tensor::ParallelInsertSliceOp::create(b, loc, results.front(), output,
                                        outputRows.offsets, outputRows.sizes,
                                        outputRows.strides);
  for (auto [at, result, state] :
       llvm::zip_equal(parts, ArrayRef(results).drop_front(),
                       loop.getRegionIterArgs().drop_front()))
    tensor::ParallelInsertSliceOp::create(b, loc, result, state, at.offsets,
                                          at.sizes, at.strides);
  return SmallVector<Value>(loop.getResults());
}

/// `tensor[at]` as an index.
Value indexAt(OpBuilder &b, Location loc, Value tensor, Value at) {
  return arith::IndexCastOp::create(
      b, loc, b.getIndexType(), tensor::ExtractOp::create(b, loc, tensor, ValueRange{at}));
}

/// The rows form: row r is one token of slot slots[r].
SmallVector<Value> forEachRow(OpBuilder &b, Location loc, Value slots,
                              ValueRange inputs, RankedTensorType outputType,
                              ValueRange states, RowStep step) {
  Value rows = tensor::DimOp::create(b, loc, slots, 0);
  return forEachPart(
      b, loc, rows, rows,
      [&](OpBuilder &pb, Location l, Value r) {
        return Part{indexAt(pb, l, slots, r), r, pb.getIndexAttr(1)};
      },
      inputs, outputType, states, step);
}

/// The sequences form: sequence i is rows [ends[i-1], ends[i]) of slot
/// slots[i]; `step` gets its rows ([len, ...]).
SmallVector<Value> forEachSequence(OpBuilder &b, Location loc, Value slots, Value ends,
                                   ValueRange inputs, RankedTensorType outputType,
                                   ValueRange states, RowStep step) {
  Value count = tensor::DimOp::create(b, loc, slots, 0);
  Value rows = tensor::DimOp::create(b, loc, inputs.front(), 0);
  return forEachPart(
      b, loc, count, rows,
      [&](OpBuilder &pb, Location l, Value i) {
        Value zero = arith::ConstantIndexOp::create(pb, l, 0);
        Value one = arith::ConstantIndexOp::create(pb, l, 1);
        // ends[i - 1], or 0 for the first: read at max(i, 1) - 1 and chosen.
        Value first = arith::CmpIOp::create(pb, l, arith::CmpIPredicate::eq, i, zero);
        Value before = indexAt(
            pb, l, ends,
            arith::SubIOp::create(pb, l, arith::MaxUIOp::create(pb, l, i, one), one));
        Value start = arith::SelectOp::create(pb, l, first, zero, before);
        Value length = arith::SubIOp::create(pb, l, indexAt(pb, l, ends, i), start);
        return Part{indexAt(pb, l, slots, i), start, length};
      },
      inputs, outputType, states, step);
}

/// Base class: counts decompositions in the pass statistic.
template <typename OpTy>
struct DecomposePattern : OpRewritePattern<OpTy> {
  DecomposePattern(MLIRContext *ctx, Pass::Statistic &counter)
      : OpRewritePattern<OpTy>(ctx), counter(counter) {}

  LogicalResult matchAndRewrite(OpTy op,
                                PatternRewriter &rewriter) const final {
    SmallVector<Value> replacements = decompose(op, rewriter);
    rewriter.replaceOp(op, replacements);
    ++counter;
    return success();
  }

  virtual SmallVector<Value> decompose(OpTy op, PatternRewriter &b) const = 0;

private:
  Pass::Statistic &counter;
};

//===----------------------------------------------------------------------===//
// Patterns
//===----------------------------------------------------------------------===//

/// gated_deltanet(x) = out_proj(gated_rms_norm(delta_rule(l2(q)/sqrt(Dk),
///   l2(k), v, gates(a, b)), z)) with q|k|v = silu(conv(x * w_qkv^T)).
struct DecomposeGatedDeltaNet : DecomposePattern<GatedDeltaNetOp> {
  using DecomposePattern::DecomposePattern;
  SmallVector<Value> decompose(GatedDeltaNetOp op,
                               PatternRewriter &b) const override {
    Location loc = op.getLoc();
    const int64_t nv = op.getNumValueHeads(), dv = op.getValueHeadDim();
    Value x = op.getInput();

    Value qkv = linear(b, loc, x, op.getWQkv());
    Value z = linear(b, loc, x, op.getWZ());
    Value beta = linear(b, loc, x, op.getWB());
    Value a = linear(b, loc, x, op.getWA());

    SmallVector<Value> mixed; // y [T, Nv, Dv], then the new states
    SmallVector<Value, 2> states = {op.getConvState(), op.getRecurrentState()};
    auto yType = RankedTensorType::get({ShapedType::kDynamic, nv, dv},
                                       tensorType(x).getElementType());
    auto step = [&](OpBuilder &rb, Location l, ValueRange in, ValueRange slotStates) {
      return core(op, rb, l, in[0], in[1], in[2], in[3], slotStates);
    };
    if (Value ends = op.getEnds()) {
      mixed = forEachSequence(b, loc, op.getSlots(), ends, {qkv, z, beta, a}, yType,
                              states, step);
    } else if (Value slots = op.getSlots()) {
      mixed = forEachRow(b, loc, slots, {qkv, z, beta, a}, yType, states, step);
    } else {
      mixed = core(op, b, loc, qkv, z, beta, a, states);
    }
    Value out = linear(b, loc, mergeHeads(b, loc, mixed[0]), op.getOutProj());
    return {out, mixed[1], mixed[2]};
  }

  /// From the projections of T tokens of one sequence to the gated-normed
  /// heads [T, Nv, Dv], and the new conv and recurrent states.
  static SmallVector<Value> core(GatedDeltaNetOp op, OpBuilder &b,
                                 Location loc, Value qkv, Value z, Value beta,
                                 Value a, ValueRange states) {
    const int64_t nk = op.getNumKeyHeads(), nv = op.getNumValueHeads();
    const int64_t dk = op.getKeyHeadDim(), dv = op.getValueHeadDim();
    // [conv_dim, 1, K] -> [conv_dim, K].
    Value taps = tensor::CollapseShapeOp::create(b, loc, op.getConvWeight(),
                                                 {{0}, {1, 2}});
    auto conv = CausalConv1dOp::create(b, loc, qkv, taps, states[0],
                                       /*silu=*/true);

    Value q = splitHeads(b, loc, sliceLastAxis(b, loc, conv.getResult(), 0,
                                               nk * dk), nk, dk);
    Value k = splitHeads(b, loc, sliceLastAxis(b, loc, conv.getResult(),
                                               nk * dk, nk * dk), nk, dk);
    Value v = splitHeads(b, loc, sliceLastAxis(b, loc, conv.getResult(),
                                               2 * nk * dk, nv * dv), nv, dv);
    q = L2NormOp::create(b, loc, q, b.getF32FloatAttr(1e-6f),
                         b.getF32FloatAttr(1.0f / std::sqrt(float(dk))));
    k = L2NormOp::create(b, loc, k, b.getF32FloatAttr(1e-6f),
                         b.getF32FloatAttr(1.0f));

    auto gateType = RankedTensorType::get(tensorType(a).getShape(),
                                          b.getF32Type());
    auto gates = GdnGatesOp::create(b, loc, gateType, gateType, a, beta,
                                    op.getALog(), op.getDtBias());
    auto rule = GatedDeltaRuleOp::create(b, loc, q, k, v, gates.getG(),
                                         gates.getBeta(), states[1]);

    Value y = GatedRMSNormOp::create(b, loc, rule.getResult(),
                                     splitHeads(b, loc, z, nv, dv),
                                     op.getNormWeight(), op.getEpsilonAttr());
    return {y, conv.getNewState(), rule.getNewState()};
  }
};

/// gated_attention(x) = o_proj(attention(rope(norm(q)), rope(norm(k)), v)
///   * sigmoid(gate)) with [q | gate] per head from q_proj.
struct DecomposeGatedAttention : DecomposePattern<GatedAttentionOp> {
  using DecomposePattern::DecomposePattern;
  SmallVector<Value> decompose(GatedAttentionOp op,
                               PatternRewriter &b) const override {
    Location loc = op.getLoc();
    const int64_t nq = op.getNumHeads(), nkv = op.getNumKvHeads();
    const int64_t d = op.getHeadDim();
    Value x = op.getInput();

    Value qg = splitHeads(b, loc, linear(b, loc, x, op.getQProj()), nq, 2 * d);
    Value q = sliceLastAxis(b, loc, qg, 0, d);
    Value gate = sliceLastAxis(b, loc, qg, d, d);
    Value k = splitHeads(b, loc, linear(b, loc, x, op.getKProj()), nkv, d);
    Value v = splitHeads(b, loc, linear(b, loc, x, op.getVProj()), nkv, d);

    SmallVector<Value> mixed; // o [T, Nq, D], then the new caches
    SmallVector<Value, 2> caches = {op.getKCache(), op.getVCache()};
    // A row's or run's past is its first position: the tokens its slot
    // holds.
    auto oType = RankedTensorType::get({ShapedType::kDynamic, nq, d},
                                       tensorType(x).getElementType());
    auto step = [&](OpBuilder &rb, Location l, ValueRange in, ValueRange slotCaches) {
      Value past = arith::IndexCastOp::create(
          rb, l, rb.getIndexType(),
          tensor::ExtractOp::create(rb, l, in[4],
                                    ValueRange{arith::ConstantIndexOp::create(rb, l, 0)}));
      return core(op, rb, l, in[0], in[1], in[2], in[3], in[4], past, slotCaches);
    };
    SmallVector<Value> inputs = {q, gate, k, v, op.getPositions()};
    if (Value ends = op.getEnds()) {
      mixed = forEachSequence(b, loc, op.getSlots(), ends, inputs, oType, caches, step);
    } else if (Value slots = op.getSlots()) {
      mixed = forEachRow(b, loc, slots, inputs, oType, caches, step);
    } else {
      mixed = core(op, b, loc, q, gate, k, v, op.getPositions(), op.getPast(),
                   caches);
    }
    Value out = linear(b, loc, mergeHeads(b, loc, mixed[0]), op.getOProj());
    return {out, mixed[1], mixed[2]};
  }

  /// From the projected heads of T tokens of one sequence, after `past`
  /// cached ones, to the gated attention output [T, Nq, D], and the new
  /// caches.
  static SmallVector<Value> core(GatedAttentionOp op, OpBuilder &b,
                                 Location loc, Value q, Value gate, Value k,
                                 Value v, Value positions, Value past,
                                 ValueRange caches) {
    FloatAttr eps = op.getEpsilonAttr();
    FloatAttr offset = b.getF32FloatAttr(1.0f);
    q = RMSNormOp::create(b, loc, q, op.getQNorm(), eps, offset);
    k = RMSNormOp::create(b, loc, k, op.getKNorm(), eps, offset);
    q = RopeOp::create(b, loc, q, positions, op.getRotaryDimAttr(),
                       op.getRopeThetaAttr(), op.getYarnAttr());
    k = RopeOp::create(b, loc, k, positions, op.getRotaryDimAttr(),
                       op.getRopeThetaAttr(), op.getYarnAttr());

    auto attn = AttentionOp::create(
        b, loc, TypeRange{tensorType(q), caches[0].getType(),
                          caches[1].getType()},
        q, k, v, caches[0], caches[1], past, /*scale=*/FloatAttr());
    Value o = SigmoidGateOp::create(b, loc, attn.getResult(), gate);
    return {o, attn.getNewKCache(), attn.getNewVCache()};
  }
};

/// moe(x) = sum_topk w_i E_i(x) + sigmoid(x * sg^T) * swiglu_shared(x).
struct DecomposeMoE : DecomposePattern<MoEOp> {
  using DecomposePattern::DecomposePattern;
  SmallVector<Value> decompose(MoEOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value x = op.getInput();
    const int64_t t = tensorType(x).getDimSize(0), k = op.getTopK();

    Value logits = linear(b, loc, x, op.getRouter());
    auto route = RouterOp::create(
        b, loc, RankedTensorType::get({t, k}, b.getF32Type()),
        RankedTensorType::get({t, k}, b.getI32Type()), logits,
        op.getTopKAttr(), op.getNormTopkProbAttr());
    Value routed = ExpertSwiGLUOp::create(
        b, loc, x.getType(), x, route.getWeights(), route.getIndices(),
        op.getExpertsGate(), op.getExpertsUp(), op.getExpertsDown());

    Value shared = swiglu(b, loc, x, op.getSharedGate(), op.getSharedUp(),
                          op.getSharedDown());
    Value gateLogit = linear(b, loc, x, op.getSharedExpertGate()); // [T, 1]
    shared = SigmoidGateOp::create(b, loc, shared, gateLogit);
    return {arith::AddFOp::create(b, loc, routed, shared)};
  }
};

/// mlp(x) = down(silu(gate(x)) * up(x)).
struct DecomposeMLP : DecomposePattern<MLPOp> {
  using DecomposePattern::DecomposePattern;
  SmallVector<Value> decompose(MLPOp op, PatternRewriter &b) const override {
    return {swiglu(b, op.getLoc(), op.getInput(), op.getGate(), op.getUp(),
                   op.getDown())};
  }
};

/// lm_head(h) = rms_norm(h, norm) * W^T.
struct DecomposeLMHead : DecomposePattern<LMHeadOp> {
  using DecomposePattern::DecomposePattern;
  SmallVector<Value> decompose(LMHeadOp op, PatternRewriter &b) const override {
    Location loc = op.getLoc();
    Value h = RMSNormOp::create(b, loc, op.getInput(), op.getNorm(),
                                op.getEpsilonAttr(), b.getF32FloatAttr(1.0f));
    return {linear(b, loc, h, op.getWeight())};
  }
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

struct DecomposeLayersPass
    : mlir::qnext::impl::DecomposeLayersBase<DecomposeLayersPass> {
  using DecomposeLayersBase::DecomposeLayersBase;

  LogicalResult initialize(MLIRContext *ctx) override {
    static constexpr llvm::StringLiteral kKinds[] = {
        "gated_deltanet", "gated_attention", "moe", "mlp", "lm_head"};
    for (const std::string &name : ops)
      if (!llvm::is_contained(kKinds, name))
        return emitError(UnknownLoc::get(ctx))
               << "qnext-decompose-layers: unknown op kind '" << name
               << "' in ops= (expected gated_deltanet, gated_attention, moe, "
                  "mlp or lm_head)";
    return success();
  }

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    auto wanted = [&](StringRef kind) {
      return ops.empty() || llvm::is_contained(ops, kind);
    };
    RewritePatternSet patterns(ctx);
    if (wanted("gated_deltanet"))
      patterns.add<DecomposeGatedDeltaNet>(ctx, numDecomposed);
    if (wanted("gated_attention"))
      patterns.add<DecomposeGatedAttention>(ctx, numDecomposed);
    if (wanted("moe"))
      patterns.add<DecomposeMoE>(ctx, numDecomposed);
    if (wanted("mlp"))
      patterns.add<DecomposeMLP>(ctx, numDecomposed);
    if (wanted("lm_head"))
      patterns.add<DecomposeLMHead>(ctx, numDecomposed);
    // Each pattern fires once per op and creates no layer ops, so a single
    // top-down sweep without folding reaches the fixed point.
    // The ops a decomposition creates belong to the layer of the op it
    // decomposes.
    LayerStamp stamp;
    GreedyRewriteConfig config;
    config.enableFolding(false).setListener(&stamp);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns),
                                     config)))
      signalPassFailure();
  }
};

} // namespace
