//===- DecomposeLayers.cpp - qnext layer ops -> primitive ops -------------===//
//
// One rewrite pattern per layer op; the contract is in passes/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Dialect/QNext/LayerStamp.h"
#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
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
    const int64_t nk = op.getNumKeyHeads(), nv = op.getNumValueHeads();
    const int64_t dk = op.getKeyHeadDim(), dv = op.getValueHeadDim();
    Value x = op.getInput();

    Value qkv = linear(b, loc, x, op.getWQkv());
    Value z = linear(b, loc, x, op.getWZ());
    Value beta = linear(b, loc, x, op.getWB());
    Value a = linear(b, loc, x, op.getWA());

    // [conv_dim, 1, K] -> [conv_dim, K].
    Value taps = tensor::CollapseShapeOp::create(b, loc, op.getConvWeight(),
                                                 {{0}, {1, 2}});
    auto conv = CausalConv1dOp::create(b, loc, qkv, taps, op.getConvState(),
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
                                         gates.getBeta(),
                                         op.getRecurrentState());

    Value y = GatedRMSNormOp::create(b, loc, rule.getResult(),
                                     splitHeads(b, loc, z, nv, dv),
                                     op.getNormWeight(), op.getEpsilonAttr());
    Value out = linear(b, loc, mergeHeads(b, loc, y), op.getOutProj());
    return {out, conv.getNewState(), rule.getNewState()};
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

    FloatAttr eps = op.getEpsilonAttr();
    FloatAttr offset = b.getF32FloatAttr(1.0f);
    q = RMSNormOp::create(b, loc, q, op.getQNorm(), eps, offset);
    k = RMSNormOp::create(b, loc, k, op.getKNorm(), eps, offset);
    q = RopeOp::create(b, loc, q, op.getPositions(), op.getRotaryDimAttr(),
                       op.getRopeThetaAttr(), op.getYarnAttr());
    k = RopeOp::create(b, loc, k, op.getPositions(), op.getRotaryDimAttr(),
                       op.getRopeThetaAttr(), op.getYarnAttr());

    auto attn = AttentionOp::create(
        b, loc, TypeRange{tensorType(q), op.getKCache().getType(),
                          op.getVCache().getType()},
        q, k, v, op.getKCache(), op.getVCache(), op.getPast(),
        /*scale=*/FloatAttr());
    Value o = SigmoidGateOp::create(b, loc, attn.getResult(), gate);
    Value out = linear(b, loc, mergeHeads(b, loc, o), op.getOProj());
    return {out, attn.getNewKCache(), attn.getNewVCache()};
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
