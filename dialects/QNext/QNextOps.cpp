//===- QNextOps.cpp - qnext operation verifiers: weights, layers, groups --===//
//
// The verifiers of the weight ops, the layer ops and qnext.fused; the
// primitive ops' are in PrimitiveOps.cpp. The rules they share are in
// ShapeRules.h.
//
//===----------------------------------------------------------------------===//

#include "ShapeRules.h"

#include "mlir/IR/Builders.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qnext;
using namespace mlir::qnext::rules;

//===----------------------------------------------------------------------===//
// Parameters and weight layout
//===----------------------------------------------------------------------===//

LogicalResult ParamOp::verify() {
  StringRef name = getName();
  if (name.empty())
    return emitOpError("name must not be empty");
  size_t placeholders = name.count("{e}");
  if (placeholders > 1)
    return emitOpError("name may hold the expert placeholder '{e}' at most "
                       "once, got '")
           << name << "'";
  if (placeholders == 1 && getType().getRank() < 2)
    return emitOpError("a stacked parameter ('{e}' in its name) must have "
                       "rank >= 2 with the experts first, got ")
           << getType();
  if (QuantizeAttr quantize = getQuantizeAttr()) {
    auto type = getType();
    bool values = quantize.getPart() == QuantPart::Values;
    if (quantize.getFormat() == QuantFormat::Int4 && values &&
        type.getRank() >= 2 && type.getShape().back() % 16 != 0)
      return emitOpError("int4 values are bytes of two columns in tiles of "
                         "32, so a multiple of 16 per row, got ")
             << type;
    if (getBlockRows() || type.getRank() < 2 ||
        (values ? !type.getElementType().isSignlessInteger(8)
                : !type.getElementType().isF32()))
      return emitOpError("a quantized weight's ")
             << stringifyQuantPart(quantize.getPart()) << " are "
             << (values ? "an i8" : "an f32")
             << " tensor of rank >= 2 without block_rows, got " << type;
  }
  if (std::optional<int64_t> rows = getBlockRows()) {
    if (*rows <= 0)
      return emitOpError("block_rows must be positive, got ") << *rows;
    if (!getType().getElementType().isF32() || getType().getRank() < 2)
      return emitOpError("block scales (block_rows) are an f32 tensor of rank "
                         ">= 2, got ")
             << getType();
  }
  return success();
}

LogicalResult ByteDotOp::verify() {
  int64_t lanes = getAcc().getType().getNumElements();
  int64_t bytes = getLhs().getType().getNumElements();
  if (lanes != 8 && lanes != 16)
    return emitOpError("accumulates 8 or 16 i32 lanes (vpdpbusd's 256 or 512 "
                       "bits), got ")
           << lanes;
  if (bytes != 4 * lanes)
    return emitOpError("multiplies 4 bytes per i32 lane: ")
           << 4 * lanes << " bytes for " << lanes << " lanes, got " << bytes;
  return success();
}

LogicalResult DequantizeOp::verify() {
  auto values = cast<RankedTensorType>(getValues().getType());
  auto scales = cast<RankedTensorType>(getScales().getType());
  auto result = cast<RankedTensorType>(getResult().getType());
  int64_t group = getGroup();
  if (group <= 0)
    return emitOpError("group must be positive, got ") << group;
  if (values.getRank() < 2)
    return emitOpError("values must be a matrix or a stack of them, got ")
           << values;
  // Values straight from a parameter qnext quantizes say how they are
  // stored: the dequantize must read them so.
  if (auto param = getValues().getDefiningOp<ParamOp>())
    if (QuantizeAttr q = param.getQuantizeAttr())
      if ((q.getFormat() == QuantFormat::Int4) != getInt4() || q.getGroup() != group)
        return emitOpError("reads its values as ")
               << (getInt4() ? "int4" : "int8") << " in groups of " << group
               << ", but their parameter is " << q;
  SmallVector<int64_t> columns(values.getShape());
  if (getInt4()) {
    // Two values a byte, in tiles of 32 columns.
    columns.back() *= 2;
    if (!values.getElementType().isSignlessInteger(8))
      return emitOpError("int4 values are i8 bytes of two, got ") << values;
    if (group % 32 != 0)
      return emitOpError("an int4 group is a multiple of 32 (the tile of its "
                         "layout), got ")
             << group;
  }
  if (result.getShape() != ArrayRef<int64_t>(columns)) {
    InFlightDiagnostic d = emitOpError("result shape ")
                           << result << " differs from the values' " << values;
    if (getInt4())
      d << " (two columns a byte: " << columns.back() << " columns)";
    return d;
  }
  if (getInt4() && columns.back() % 32 != 0)
    return emitOpError("int4 columns come in tiles of 32, got ") << columns.back();
  SmallVector<int64_t> expected(columns);
  expected.back() = llvm::divideCeil(expected.back(), group);
  if (scales.getShape() != ArrayRef<int64_t>(expected))
    return emitOpError("scales must have one row per weight row and one "
                       "column per group of ")
           << group << " columns (" << RankedTensorType::get(expected, scales.getElementType())
           << "), got " << scales;
  return success();
}

LogicalResult SplitQKVZOp::verify() {
  auto geo = deltaNetGeometry(getNumKeyHeads(), getNumValueHeads(),
                              getKeyHeadDim(), getValueHeadDim());
  if (failed(checkGeometry(*this, geo.validate())))
    return failure();
  int64_t h = dim(getWeight(), 1);
  Type elt = elementType(getWeight());
  return ShapeRules(*this)
      .shape("weight", getWeight(), {{geo.qkvzRows(), "2*key_dim+2*value_dim"},
                                     {kAny, "hidden"}})
      .shape("qkv", getQkv(), {{geo.convDim(), "2*key_dim+value_dim"},
                               {h, "hidden"}})
      .shape("z", getZ(), {{geo.valueDim(), "value_dim"}, {h, "hidden"}})
      .elementType("qkv", getQkv(), elt, "the weight's")
      .elementType("z", getZ(), elt, "the weight's")
      .verify();
}

LogicalResult SplitBAOp::verify() {
  auto geo = deltaNetGeometry(getNumKeyHeads(), getNumValueHeads(), 1, 1);
  if (failed(checkGeometry(*this, geo.validate())))
    return failure();
  int64_t nv = getNumValueHeads(), h = dim(getWeight(), 1);
  Type elt = elementType(getWeight());
  return ShapeRules(*this)
      .shape("weight", getWeight(), {{2 * nv, "2*num_value_heads"},
                                     {kAny, "hidden"}})
      .shape("b", getB(), {{nv, "num_value_heads"}, {h, "hidden"}})
      .shape("a", getA(), {{nv, "num_value_heads"}, {h, "hidden"}})
      .elementType("b", getB(), elt, "the weight's")
      .elementType("a", getA(), elt, "the weight's")
      .verify();
}

LogicalResult ConcatWeightsOp::verify() {
  if (getParts().size() < 2)
    return emitOpError() << "needs at least two parts, got "
                         << getParts().size();
  auto resultType = cast<RankedTensorType>(getResult().getType());
  int64_t rank = resultType.getRank(), dim = getDim();
  if (dim < 0 || dim >= rank)
    return emitOpError() << "dim " << dim << " is out of range for rank "
                         << rank;
  int64_t sum = 0;
  for (auto [i, part] : llvm::enumerate(getParts())) {
    auto type = cast<RankedTensorType>(part.getType());
    if (type.getElementType() != resultType.getElementType())
      return emitOpError() << "part " << i << " has element type "
                           << type.getElementType() << ", the result "
                           << resultType.getElementType();
    if (type.getRank() != rank)
      return emitOpError() << "part " << i << " has rank " << type.getRank()
                           << ", the result " << rank;
    for (int64_t d = 0; d < rank; ++d)
      if (d != dim && type.getDimSize(d) != resultType.getDimSize(d))
        return emitOpError() << "part " << i << " has size "
                             << type.getDimSize(d) << " in dim " << d
                             << ", the result " << resultType.getDimSize(d);
    sum += type.getDimSize(dim);
  }
  if (sum != resultType.getDimSize(dim))
    return emitOpError() << "result has size " << resultType.getDimSize(dim)
                         << " in dim " << dim << ", the parts add up to "
                         << sum;
  return success();
}

//===----------------------------------------------------------------------===//
// Layer ops
//===----------------------------------------------------------------------===//

LogicalResult EmbeddingOp::verify() {
  int64_t t = dim(getIds(), 0), h = dim(getTable(), 1);
  return ShapeRules(*this)
      .shape("ids", getIds(), {{kAny, "tokens"}})
      .shape("table", getTable(), {{kAny, "vocab"}, {kAny, "hidden"}})
      .shape("result", getResult(), {{t, "tokens"}, {h, "hidden"}})
      .verify();
}

LogicalResult RMSNormOp::verify() {
  return ShapeRules(*this)
      .minRank("input", getInput(), 1)
      .shape("weight", getWeight(), {{lastDim(getInput()), "normalized_dim"}})
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .verify();
}

LogicalResult AddRMSNormOp::verify() {
  return ShapeRules(*this)
      .minRank("lhs", getLhs(), 1)
      .shape("weight", getWeight(), {{lastDim(getLhs()), "normalized_dim"}})
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .verify();
}

/// A batch's operands: the rows form's `slots` has a row per token; the
/// sequences form's `slots` and `ends` have one entry per sequence each.
static void addBatchRules(ShapeRules &rules, Value slots, Value ends,
                          int64_t tokens) {
  if (!slots)
    return;
  if (!ends) {
    rules.shape("slots", slots, {{tokens, "tokens"}});
    return;
  }
  rules.shape("slots", slots, {{kAny, "sequences"}});
  rules.shape("ends", ends, {{dim(slots, 0), "sequences"}});
}

LogicalResult GatedDeltaNetOp::verify() {
  auto geo = deltaNetGeometry(getNumKeyHeads(), getNumValueHeads(),
                              getKeyHeadDim(), getValueHeadDim());
  if (failed(checkGeometry(*this, geo.validate())))
    return failure();
  const int64_t t = dim(getInput(), 0), h = dim(getInput(), 1);
  const int64_t nv = geo.numValueHeads, kernel = dim(getConvWeight(), 2);
  const int64_t stateRows = ShapedType::isDynamic(kernel) ? kAny : kernel - 1;
  // The rows form's states have a leading slot dimension.
  SmallVector<Dim> convState, recurrentState;
  if (getSlots()) {
    convState = {{kAny, "slots"}};
    recurrentState = {{dim(getConvState(), 0), "slots"}};
  }
  convState.append({{stateRows, "kernel-1"}, {geo.convDim(), "conv_dim"}});
  recurrentState.append({{nv, "num_value_heads"},
                         {geo.keyHeadDim, "key_head_dim"},
                         {geo.valueHeadDim, "value_head_dim"}});
  ShapeRules rules(*this);
  rules.check(getBatch().size() <= 2,
              "takes at most two batch operands (slots, then ends)");
  addBatchRules(rules, getSlots(), getEnds(), t);
  return rules
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "hidden"}})
      .shape("conv_weight", getConvWeight(),
             {{geo.convDim(), "conv_dim"}, {1, "1"}, {kAny, "kernel"}})
      .check(kernel >= 2, "conv_weight must have a kernel of at least 2 taps")
      .shape("conv_state", getConvState(), convState)
      .elementType("conv_state", getConvState(), elementType(getInput()),
                   "the input's")
      .shape("recurrent_state", getRecurrentState(), recurrentState)
      .shape("w_qkv", getWQkv(), {{geo.convDim(), "conv_dim"}, {h, "hidden"}})
      .shape("w_z", getWZ(), {{geo.valueDim(), "value_dim"}, {h, "hidden"}})
      .shape("w_b", getWB(), {{nv, "num_value_heads"}, {h, "hidden"}})
      .shape("w_a", getWA(), {{nv, "num_value_heads"}, {h, "hidden"}})
      .shape("dt_bias", getDtBias(), {{nv, "num_value_heads"}})
      .shape("a_log", getALog(), {{nv, "num_value_heads"}})
      .shape("norm_weight", getNormWeight(),
             {{geo.valueHeadDim, "value_head_dim"}})
      .shape("out_proj", getOutProj(),
             {{h, "hidden"}, {geo.valueDim(), "value_dim"}})
      .sameType("result", getResult(), getInput(), "the input's")
      .sameType("new_conv_state", getNewConvState(), getConvState(),
                "conv_state's")
      .sameType("new_recurrent_state", getNewRecurrentState(),
                getRecurrentState(), "recurrent_state's")
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .verify();
}

LogicalResult GatedAttentionOp::verify() {
  ::qnext::AttentionGeometry geo{
      static_cast<int64_t>(getNumHeads()), static_cast<int64_t>(getNumKvHeads()),
      static_cast<int64_t>(getHeadDim()), static_cast<int64_t>(getRotaryDim())};
  if (failed(checkGeometry(*this, geo.validate())))
    return failure();
  const int64_t t = dim(getInput(), 0), h = dim(getInput(), 1);
  const int64_t nq = geo.numHeads, nkv = geo.numKVHeads, d = geo.headDim;
  // The rows form (slots) has no past, and caches with a leading slot
  // dimension.
  const bool rows = bool(getSlots());
  const unsigned first = rows ? 1 : 0;
  const int64_t capacity = dim(getKCache(), first + 1);
  SmallVector<Dim> kCache, vCache;
  if (rows) {
    kCache = {{kAny, "slots"}};
    vCache = {{dim(getKCache(), 0), "slots"}};
  }
  kCache.append({{nkv, "num_kv_heads"}, {kAny, "capacity"}, {d, "head_dim"}});
  vCache.append(
      {{nkv, "num_kv_heads"}, {capacity, "capacity"}, {d, "head_dim"}});
  ShapeRules rules(*this);
  rules.check(rows != bool(getPast()),
              "takes either past (a sequence's tokens) or slots (a batch's "
              "rows), not both or neither");
  rules.check(!getEnds() || rows, "takes ends only with slots");
  addBatchRules(rules, getSlots(), getEnds(), t);
  return rules
      .check(isPositiveFinite(getRopeTheta()), "rope_theta must be positive")
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "hidden"}})
      .shape("positions", getPositions(), {{t, "tokens"}})
      .shape("k_cache", getKCache(), kCache)
      .shape("v_cache", getVCache(), vCache)
      .shape("q_proj", getQProj(),
             {{2 * nq * d, "2*num_heads*head_dim"}, {h, "hidden"}})
      .shape("k_proj", getKProj(),
             {{nkv * d, "num_kv_heads*head_dim"}, {h, "hidden"}})
      .shape("v_proj", getVProj(),
             {{nkv * d, "num_kv_heads*head_dim"}, {h, "hidden"}})
      .shape("o_proj", getOProj(),
             {{h, "hidden"}, {nq * d, "num_heads*head_dim"}})
      .shape("q_norm", getQNorm(), {{d, "head_dim"}})
      .shape("k_norm", getKNorm(), {{d, "head_dim"}})
      .sameType("result", getResult(), getInput(), "the input's")
      .sameType("new_k_cache", getNewKCache(), getKCache(), "k_cache's")
      .sameType("new_v_cache", getNewVCache(), getVCache(), "v_cache's")
      .verify();
}

LogicalResult MoEOp::verify() {
  const int64_t h = dim(getInput(), 1);
  const int64_t e = dim(getRouter(), 0), i = dim(getExpertsGate(), 1);
  const int64_t is = dim(getSharedGate(), 0);
  const int64_t k = getTopK();
  return ShapeRules(*this)
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "hidden"}})
      .shape("router", getRouter(), {{kAny, "num_experts"}, {h, "hidden"}})
      .check(k >= 1 && k <= e, "top_k (" + Twine(k) +
                                   ") must be in [1, num_experts (" +
                                   Twine(e) + ")]")
      .shape("experts_gate", getExpertsGate(),
             {{e, "num_experts"}, {kAny, "moe_intermediate"}, {h, "hidden"}})
      .shape("experts_up", getExpertsUp(),
             {{e, "num_experts"}, {i, "moe_intermediate"}, {h, "hidden"}})
      .shape("experts_down", getExpertsDown(),
             {{e, "num_experts"}, {h, "hidden"}, {i, "moe_intermediate"}})
      .shape("shared_gate", getSharedGate(),
             {{kAny, "shared_intermediate"}, {h, "hidden"}})
      .shape("shared_up", getSharedUp(),
             {{is, "shared_intermediate"}, {h, "hidden"}})
      .shape("shared_down", getSharedDown(),
             {{h, "hidden"}, {is, "shared_intermediate"}})
      .shape("shared_expert_gate", getSharedExpertGate(),
             {{1, "1"}, {h, "hidden"}})
      .sameType("result", getResult(), getInput(), "the input's")
      .verify();
}

LogicalResult MLPOp::verify() {
  const int64_t h = dim(getInput(), 1);
  const int64_t i = dim(getGate(), 0);
  return ShapeRules(*this)
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "hidden"}})
      .shape("gate", getGate(), {{kAny, "intermediate"}, {h, "hidden"}})
      .shape("up", getUp(), {{i, "intermediate"}, {h, "hidden"}})
      .shape("down", getDown(), {{h, "hidden"}, {i, "intermediate"}})
      .verify();
}

LogicalResult LMHeadOp::verify() {
  const int64_t t = dim(getInput(), 0), h = dim(getInput(), 1);
  return ShapeRules(*this)
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "hidden"}})
      .shape("norm", getNorm(), {{h, "hidden"}})
      .shape("weight", getWeight(), {{kAny, "vocab"}, {h, "hidden"}})
      .shape("result", getResult(),
             {{t, "tokens"}, {dim(getWeight(), 0), "vocab"}})
      .elementType("result", getResult(), elementType(getInput()),
                   "the input's")
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .verify();
}

#define GET_OP_CLASSES
#include "dialects/QNext/QNextOps.cpp.inc"

//===----------------------------------------------------------------------===//
// Fusion groups
//===----------------------------------------------------------------------===//

/// A group holds the op its kind is lowered around, its yield gives the
/// group's results, and groups do not nest.
LogicalResult FusedOp::verify() {
  Block &body = getBody().front();
  auto yield = cast<YieldOp>(body.getTerminator());
  if (yield.getValues().getTypes() != getResultTypes())
    return emitOpError("yields ")
           << yield.getValues().size() << " value(s) of types "
           << yield.getValues().getTypes() << " for results of types "
           << getResultTypes();
  if (getOperation()->getParentOfType<FusedOp>())
    return emitOpError("is nested in another qnext.fused group");
  auto holds = [&](auto... tag) {
    return llvm::any_of(body, [](Operation &op) {
      return (isa<decltype(tag)>(op) || ...);
    });
  };
  bool anchored = false;
  StringRef wanted;
  switch (getKind()) {
  case FusionKind::SwiGLU:
    anchored = holds(SiluMulOp(), ExpertSwiGLUOp());
    wanted = "a qnext.silu_mul or qnext.expert_swiglu";
    break;
  case FusionKind::MoE:
    anchored = holds(ExpertSwiGLUOp());
    wanted = "a qnext.expert_swiglu";
    break;
  case FusionKind::NormLinear:
    anchored = holds(RMSNormOp(), GatedRMSNormOp()) && holds(LinearOp());
    wanted = "a qnext.rms_norm or qnext.gated_rms_norm and a qnext.linear";
    break;
  case FusionKind::GateLinear:
    anchored = holds(SigmoidGateOp()) && holds(LinearOp());
    wanted = "a qnext.sigmoid_gate and a qnext.linear";
    break;
  case FusionKind::Router:
    anchored = holds(RouterOp());
    wanted = "a qnext.router";
    break;
  }
  if (!anchored)
    return emitOpError("of kind ")
           << stringifyFusionKind(getKind()) << " holds no " << wanted;
  return success();
}
