//===- FuseDeltaNetStep.cpp - a DeltaNet decode step as one op -------------===//
//
// The contract is in passes/Fusion/FusionPasses.td. The chain is matched from
// its end, the gated_rms_norm, back to the conv; every link must be read by the
// next link alone, so the fused op replaces all of them.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSEDELTANETSTEP
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

/// `heads` is `expand_shape(extract_slice(conv[0, offset][1, n*d]))` to
/// [1, n, d] (the head split qnext-decompose-layers makes), read by nothing
/// else: returns the sliced value and the slice's offset.
struct HeadSplit {
  Value source;
  int64_t offset = 0;
  SmallVector<Operation *, 2> ops; ///< the expand, then the slice
};
std::optional<HeadSplit> matchHeadSplit(Value heads) {
  auto expand = heads.getDefiningOp<tensor::ExpandShapeOp>();
  if (!expand || !heads.hasOneUse() || expand.getResultType().getRank() != 3)
    return std::nullopt;
  auto slice = expand.getSrc().getDefiningOp<tensor::ExtractSliceOp>();
  if (!slice || !slice->hasOneUse() || !slice.hasUnitStride() ||
      slice.getSourceType().getRank() != 2 ||
      slice.getType().getRank() != 2 ||
      slice.getStaticOffsets()[0] != 0 ||
      ShapedType::isDynamic(slice.getStaticOffsets()[1]))
    return std::nullopt;
  return HeadSplit{slice.getSource(), slice.getStaticOffsets()[1],
                   {expand.getOperation(), slice.getOperation()}};
}

/// The l2_norm of a head split, read by nothing else.
L2NormOp matchNormedHeads(Value v) {
  auto norm = v.getDefiningOp<L2NormOp>();
  return norm && v.hasOneUse() ? norm : L2NormOp();
}

/// True when every user of `v` lies after `point` in its block, or inside
/// an op that does (a batch's scf.forall.in_parallel writing a state back).
bool usedOnlyAfter(Value v, Operation *point) {
  return llvm::all_of(v.getUsers(), [&](Operation *u) {
    Operation *ancestor = point->getBlock()->findAncestorOpInBlock(*u);
    return ancestor && point->isBeforeInBlock(ancestor);
  });
}

struct FuseDeltaNetStepPass
    : mlir::qnext::impl::FuseDeltaNetStepBase<FuseDeltaNetStepPass> {
  using FuseDeltaNetStepBase::FuseDeltaNetStepBase;

  void runOnOperation() override {
    SmallVector<GatedRMSNormOp> norms;
    getOperation()->walk([&](GatedRMSNormOp norm) { norms.push_back(norm); });
    for (GatedRMSNormOp norm : norms)
      if (succeeded(fuse(norm)))
        ++numFused;
  }

  LogicalResult fuse(GatedRMSNormOp norm) {
    if (FusedOp::groupOf(norm))
      return failure();
    // The delta rule of one token, read by this norm alone.
    auto rule = norm.getInput().getDefiningOp<GatedDeltaRuleOp>();
    if (!rule || !rule.getResult().hasOneUse())
      return failure();
    auto valueType = cast<RankedTensorType>(rule.getValue().getType());
    auto stateType = cast<RankedTensorType>(rule.getState().getType());
    if (valueType.getDimSize(0) != 1 || !stateType.hasStaticShape())
      return failure();
    const int64_t nv = stateType.getDimSize(0), dk = stateType.getDimSize(1),
                  dv = stateType.getDimSize(2);

    // Its gates, read by it alone.
    auto gates = rule.getG().getDefiningOp<GdnGatesOp>();
    if (!gates || rule.getBeta() != gates.getBeta() ||
        !gates.getG().hasOneUse() || !gates.getBeta().hasOneUse())
      return failure();

    // q and k normalised as the decomposition does (the key unscaled, one
    // epsilon), v as is; all three split from one SiLU conv.
    L2NormOp qNorm = matchNormedHeads(rule.getQuery());
    L2NormOp kNorm = matchNormedHeads(rule.getKey());
    if (!qNorm || !kNorm || !kNorm.getScale().isExactlyValue(1.0) ||
        qNorm.getEpsilon() != kNorm.getEpsilon())
      return failure();
    std::optional<HeadSplit> q = matchHeadSplit(qNorm.getInput());
    std::optional<HeadSplit> k = matchHeadSplit(kNorm.getInput());
    std::optional<HeadSplit> v = matchHeadSplit(rule.getValue());
    if (!q || !k || !v)
      return failure();
    auto conv = q->source.getDefiningOp<CausalConv1dOp>();
    const int64_t nk =
        cast<RankedTensorType>(rule.getQuery().getType()).getDimSize(1);
    if (!conv || !conv.getSilu() || k->source != q->source ||
        v->source != q->source || q->offset != 0 || k->offset != nk * dk ||
        v->offset != 2 * nk * dk ||
        cast<RankedTensorType>(conv.getResult().getType()).getDimSize(1) !=
            2 * nk * dk + nv * dv ||
        !llvm::hasNItems(conv.getResult().getUses(), 3))
      return failure();

    // The fused op takes the norm's place: the states it returns must be
    // read after it.
    if (!usedOnlyAfter(conv.getNewState(), norm) ||
        !usedOnlyAfter(rule.getNewState(), norm))
      return failure();

    OpBuilder b(norm);
    SmallVector<Location> locs = {conv.getLoc(), rule.getLoc(), norm.getLoc()};
    auto step = DeltaNetStepOp::create(
        b, b.getFusedLoc(locs),
        TypeRange{norm.getType(), conv.getNewState().getType(),
                  rule.getNewState().getType()},
        conv.getInput(), conv.getWeight(), conv.getState(), gates.getA(),
        gates.getB(), gates.getALog(), gates.getDtBias(), rule.getState(),
        norm.getGate(), norm.getWeight(), b.getI64IntegerAttr(nk),
        qNorm.getScaleAttr(), qNorm.getEpsilonAttr(), norm.getEpsilonAttr());
    setLayerOf(step, {conv, rule, norm});
    norm.getResult().replaceAllUsesWith(step.getResult());
    conv.getNewState().replaceAllUsesWith(step.getNewConvState());
    rule.getNewState().replaceAllUsesWith(step.getNewState());

    // The chain, from its end.
    SmallVector<Operation *> chain = {norm, rule, gates, qNorm, kNorm};
    for (const HeadSplit *split : {&*q, &*k, &*v})
      chain.append(split->ops.begin(), split->ops.end());
    chain.push_back(conv);
    for (Operation *op : chain)
      op->erase();
    return success();
  }
};

} // namespace
