//===- PrimitiveOps.cpp - qnext operation verifiers: primitive ops --------===//
//
// The verifiers of the ops the layer ops decompose into and of the fused
// ops that replace some of them (qnext.deltanet_step, qnext.norm_rope).
//
//===----------------------------------------------------------------------===//

#include "ShapeRules.h"

#include "mlir/IR/Builders.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qnext;
using namespace mlir::qnext::rules;

//===----------------------------------------------------------------------===//
// Primitive ops
//===----------------------------------------------------------------------===//

LogicalResult LinearOp::verify() {
  const int64_t t = dim(getInput(), 0), in = dim(getInput(), 1);
  return ShapeRules(*this)
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "in"}})
      .shape("weight", getWeight(), {{kAny, "out"}, {in, "in"}})
      .shape("result", getResult(),
             {{t, "tokens"}, {dim(getWeight(), 0), "out"}})
      .elementType("result", getResult(), elementType(getInput()),
                   "the input's")
      .verify();
}

LogicalResult GatedRMSNormOp::verify() {
  return ShapeRules(*this)
      .minRank("input", getInput(), 1)
      .shape("weight", getWeight(), {{lastDim(getInput()), "normalized_dim"}})
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .verify();
}

LogicalResult L2NormOp::verify() {
  return ShapeRules(*this)
      .minRank("input", getInput(), 1)
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .check(isPositiveFinite(getScale()), "scale must be positive")
      .verify();
}

LogicalResult CausalConv1dOp::verify() {
  const int64_t c = dim(getInput(), 1);
  const int64_t kernel = dim(getWeight(), 1);
  const int64_t stateRows = ShapedType::isDynamic(kernel) ? kAny : kernel - 1;
  return ShapeRules(*this)
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "channels"}})
      .shape("weight", getWeight(), {{c, "channels"}, {kAny, "kernel"}})
      .check(kernel >= 2, "weight must have a kernel of at least 2 taps")
      .shape("state", getState(), {{stateRows, "kernel-1"}, {c, "channels"}})
      .elementType("state", getState(), elementType(getInput()), "the input's")
      .verify();
}

LogicalResult GdnGatesOp::verify() {
  const int64_t t = dim(getA(), 0), nv = dim(getA(), 1);
  return ShapeRules(*this)
      .shape("a", getA(), {{kAny, "tokens"}, {kAny, "num_value_heads"}})
      .shape("b", getB(), {{t, "tokens"}, {nv, "num_value_heads"}})
      .shape("a_log", getALog(), {{nv, "num_value_heads"}})
      .shape("dt_bias", getDtBias(), {{nv, "num_value_heads"}})
      .shape("g", getG(), {{t, "tokens"}, {nv, "num_value_heads"}})
      .shape("beta", getBeta(), {{t, "tokens"}, {nv, "num_value_heads"}})
      .verify();
}

LogicalResult GatedDeltaRuleOp::verify() {
  const int64_t t = dim(getQuery(), 0), nk = dim(getQuery(), 1);
  const int64_t dk = dim(getQuery(), 2);
  const int64_t nv = dim(getValue(), 1), dv = dim(getValue(), 2);
  ShapeRules rules(*this);
  rules.shape("query", getQuery(), {{kAny, "tokens"}, {kAny, "num_key_heads"},
                                    {kAny, "key_head_dim"}})
      .shape("key", getKey(), {{t, "tokens"}, {nk, "num_key_heads"},
                               {dk, "key_head_dim"}})
      .shape("value", getValue(), {{t, "tokens"}, {kAny, "num_value_heads"},
                                   {kAny, "value_head_dim"}});
  if (!ShapedType::isDynamic(nk) && !ShapedType::isDynamic(nv))
    rules.check(nk > 0 && nv % nk == 0,
                "num_value_heads (" + Twine(nv) +
                    ") must be a multiple of num_key_heads (" + Twine(nk) +
                    ")");
  return rules.shape("g", getG(), {{t, "tokens"}, {nv, "num_value_heads"}})
      .shape("beta", getBeta(), {{t, "tokens"}, {nv, "num_value_heads"}})
      .shape("state", getState(), {{nv, "num_value_heads"},
                                   {dk, "key_head_dim"},
                                   {dv, "value_head_dim"}})
      .sameType("result", getResult(), getValue(), "the value's")
      .sameType("new_state", getNewState(), getState(), "the state's")
      .verify();
}

LogicalResult DeltaNetStepOp::verify() {
  auto stateType = cast<RankedTensorType>(getState().getType());
  const int64_t nk = getNumKeyHeads();
  const int64_t nv = dim(getState(), 0), dk = dim(getState(), 1),
                dv = dim(getState(), 2);
  ShapeRules rules(*this);
  rules.check(stateType.getRank() == 3 && stateType.hasStaticShape(),
              "state must be a static [num_value_heads, key_head_dim, "
              "value_head_dim] tensor")
      .check(nk > 0 && nv % nk == 0,
             "num_value_heads (" + Twine(nv) +
                 ") must be a multiple of num_key_heads (" + Twine(nk) + ")")
      .check(dim(getQkv(), 0) == 1,
             "qkv must hold one token (a static leading 1): it is a decode "
             "step");
  if (failed(rules.verify()))
    return failure();
  const int64_t channels = 2 * nk * dk + nv * dv;
  const int64_t kernel = dim(getConvWeight(), 1);
  const int64_t stateRows = ShapedType::isDynamic(kernel) ? kAny : kernel - 1;
  return rules
      .shape("qkv", getQkv(), {{1, "tokens"}, {channels, "2*Nk*Dk+Nv*Dv"}})
      .elementType("qkv", getQkv(), elementType(getConvState()),
                   "the conv state's")
      .shape("conv_weight", getConvWeight(),
             {{channels, "channels"}, {kAny, "kernel"}})
      .check(kernel >= 2, "conv_weight must have a kernel of at least 2 taps")
      .shape("conv_state", getConvState(),
             {{stateRows, "kernel-1"}, {channels, "channels"}})
      .shape("a", getA(), {{1, "tokens"}, {nv, "num_value_heads"}})
      .shape("b", getB(), {{1, "tokens"}, {nv, "num_value_heads"}})
      .shape("a_log", getALog(), {{nv, "num_value_heads"}})
      .shape("dt_bias", getDtBias(), {{nv, "num_value_heads"}})
      .shape("z", getZ(), {{1, "tokens"}, {nv, "num_value_heads"},
                           {dv, "value_head_dim"}})
      .shape("norm_weight", getNormWeight(), {{dv, "value_head_dim"}})
      .sameType("result", getResult(), getZ(), "z's")
      .verify();
}

/// The rules qnext.rope and qnext.norm_rope share: input [T, N, D],
/// positions [T], an even rotary_dim within D, a positive theta.
template <typename OpT>
ShapeRules &ropeRules(ShapeRules &rules, OpT op) {
  const int64_t t = dim(op.getInput(), 0), d = dim(op.getInput(), 2);
  const int64_t rotary = op.getRotaryDim();
  rules.shape("input", op.getInput(), {{kAny, "tokens"}, {kAny, "heads"},
                                       {kAny, "head_dim"}})
      .shape("positions", op.getPositions(), {{t, "tokens"}})
      .check(rotary > 0 && rotary % 2 == 0,
             "rotary_dim (" + Twine(rotary) + ") must be positive and even");
  if (!ShapedType::isDynamic(d))
    rules.check(rotary <= d, "rotary_dim (" + Twine(rotary) +
                                 ") must not exceed head_dim (" + Twine(d) +
                                 ")");
  return rules.check(isPositiveFinite(op.getTheta()), "theta must be positive");
}

LogicalResult NormRopeOp::verify() {
  ShapeRules rules(*this);
  return ropeRules(rules, *this)
      .shape("weight", getWeight(), {{dim(getInput(), 2), "head_dim"}})
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .verify();
}

LogicalResult RopeOp::verify() {
  ShapeRules rules(*this);
  return ropeRules(rules, *this).verify();
}

LogicalResult AttentionOp::verify() {
  const int64_t t = dim(getQuery(), 0), nq = dim(getQuery(), 1);
  const int64_t d = dim(getQuery(), 2), nkv = dim(getKey(), 1);
  const int64_t dv = dim(getValue(), 2), capacity = dim(getKCache(), 1);
  ShapeRules rules(*this);
  rules.shape("query", getQuery(), {{kAny, "tokens"}, {kAny, "num_heads"},
                                    {kAny, "head_dim"}})
      .shape("key", getKey(), {{t, "tokens"}, {kAny, "num_kv_heads"},
                               {d, "head_dim"}})
      .shape("value", getValue(), {{t, "tokens"}, {nkv, "num_kv_heads"},
                                   {kAny, "value_head_dim"}});
  if (!ShapedType::isDynamic(nq) && !ShapedType::isDynamic(nkv))
    rules.check(nkv > 0 && nq % nkv == 0,
                "num_heads (" + Twine(nq) +
                    ") must be a multiple of num_kv_heads (" + Twine(nkv) +
                    ")");
  if (std::optional<APFloat> scale = getScale())
    rules.check(isPositiveFinite(*scale), "scale must be positive");
  return rules
      .shape("k_cache", getKCache(), {{nkv, "num_kv_heads"},
                                      {kAny, "capacity"},
                                      {d, "head_dim"}})
      .shape("v_cache", getVCache(), {{nkv, "num_kv_heads"},
                                      {capacity, "capacity"},
                                      {dv, "value_head_dim"}})
      .shape("result", getResult(), {{t, "tokens"}, {nq, "num_heads"},
                                     {dv, "value_head_dim"}})
      .elementType("result", getResult(), elementType(getQuery()),
                   "the query's")
      .sameType("new_k_cache", getNewKCache(), getKCache(), "k_cache's")
      .sameType("new_v_cache", getNewVCache(), getVCache(), "v_cache's")
      .verify();
}

LogicalResult SigmoidGateOp::verify() {
  auto input = cast<RankedTensorType>(getInput().getType());
  auto gate = cast<RankedTensorType>(getGate().getType());
  SmallVector<Dim> expected;
  for (int64_t i = 0; i < input.getRank(); ++i)
    expected.push_back({input.getDimSize(i), "input"});
  // The last axis may instead be 1 (one gate per row, broadcast).
  if (!expected.empty() && gate.getRank() == input.getRank() &&
      gate.getDimSize(gate.getRank() - 1) == 1)
    expected.back() = {1, "1"};
  return ShapeRules(*this)
      .shape("gate", getGate(), expected)
      .elementType("gate", getGate(), input.getElementType(), "the input's")
      .verify();
}

LogicalResult RouterOp::verify() {
  const int64_t t = dim(getLogits(), 0), e = dim(getLogits(), 1);
  const int64_t k = getTopK();
  ShapeRules rules(*this);
  rules.shape("logits", getLogits(), {{kAny, "tokens"}, {kAny, "num_experts"}});
  if (ShapedType::isDynamic(e))
    rules.check(k >= 1, "top_k (" + Twine(k) + ") must be at least 1");
  else
    rules.check(k >= 1 && k <= e, "top_k (" + Twine(k) +
                                      ") must be in [1, num_experts (" +
                                      Twine(e) + ")]");
  return rules.shape("weights", getWeights(), {{t, "tokens"}, {k, "top_k"}})
      .shape("indices", getIndices(), {{t, "tokens"}, {k, "top_k"}})
      .verify();
}

LogicalResult ExpertSwiGLUOp::verify() {
  const int64_t t = dim(getInput(), 0), h = dim(getInput(), 1);
  const int64_t k = dim(getWeights(), 1);
  const int64_t e = dim(getGate(), 0), i = dim(getGate(), 1);
  ShapeRules rules(*this);
  rules.shape("input", getInput(), {{kAny, "tokens"}, {kAny, "hidden"}})
      .shape("weights", getWeights(), {{t, "tokens"}, {kAny, "top_k"}})
      .shape("indices", getIndices(), {{t, "tokens"}, {k, "top_k"}})
      .shape("gate", getGate(),
             {{kAny, "num_experts"}, {kAny, "intermediate"}, {h, "hidden"}})
      .shape("up", getUp(),
             {{e, "num_experts"}, {i, "intermediate"}, {h, "hidden"}})
      .shape("down", getDown(),
             {{e, "num_experts"}, {h, "hidden"}, {i, "intermediate"}});
  if (!ShapedType::isDynamic(k))
    rules.check(k <= e, "top_k (" + Twine(k) +
                            ") must not exceed num_experts (" + Twine(e) + ")");
  return rules.sameType("result", getResult(), getInput(), "the input's")
      .verify();
}

