//===- QNextOps.cpp - qnext operation verifiers ---------------------------===//
//
// Every verifier states the op's shape contract as a list of rules over named
// dimensions; the first rule that fails is reported as
//   'qnext.linear' op weight has shape [64, 96], expected [out, in=128]
//
//===----------------------------------------------------------------------===//

#include "qnext/Dialect/QNext/QNextOps.h"
#include "qnext/Support/Geometry.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/OpImplementation.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qnext;

namespace {

constexpr int64_t kAny = ShapedType::kDynamic;

/// One expected dimension: its size (kAny: any size) and its name.
struct Dim {
  int64_t size;
  const char *name;
};

/// Size of dimension `i` of a ranked tensor, or kAny when it has no such
/// dimension (the rank rule on that value reports the problem).
int64_t dim(Value value, unsigned i) {
  auto type = cast<RankedTensorType>(value.getType());
  return i < type.getRank() ? type.getDimSize(i) : kAny;
}
int64_t lastDim(Value value) {
  auto type = cast<RankedTensorType>(value.getType());
  return type.getRank() ? type.getDimSize(type.getRank() - 1) : kAny;
}
Type elementType(Value value) {
  return cast<RankedTensorType>(value.getType()).getElementType();
}

/// Checks shape rules in order and reports the first that fails.
class ShapeRules {
public:
  explicit ShapeRules(Operation *op) : op(op) {}

  /// `value` has exactly the dims `expected` (a dynamic size on either side
  /// matches any size).
  ShapeRules &shape(StringRef what, Value value, ArrayRef<Dim> expected) {
    if (failed)
      return *this;
    ArrayRef<int64_t> actual =
        cast<RankedTensorType>(value.getType()).getShape();
    bool ok = actual.size() == expected.size();
    for (size_t i = 0; ok && i < actual.size(); ++i)
      ok = expected[i].size == kAny || ShapedType::isDynamic(actual[i]) ||
           expected[i].size == actual[i];
    if (ok)
      return *this;
    InFlightDiagnostic diag = op->emitOpError()
                              << what << " has shape [";
    llvm::interleaveComma(actual, diag, [&](int64_t d) {
      if (ShapedType::isDynamic(d))
        diag << "?";
      else
        diag << d;
    });
    diag << "], expected [";
    llvm::interleaveComma(expected, diag, [&](const Dim &d) {
      diag << d.name;
      if (d.size != kAny)
        diag << "=" << d.size;
    });
    diag << "]";
    failed = true;
    return *this;
  }

  /// `value` has at least `rank` dimensions.
  ShapeRules &minRank(StringRef what, Value value, int64_t rank) {
    if (!failed && cast<RankedTensorType>(value.getType()).getRank() < rank) {
      op->emitOpError() << what << " must have rank >= " << rank;
      failed = true;
    }
    return *this;
  }

  /// `value` has element type `expected`, described as `whose`.
  ShapeRules &elementType(StringRef what, Value value, Type expected,
                          StringRef whose) {
    if (!failed && ::elementType(value) != expected) {
      op->emitOpError() << what << " has element type " << ::elementType(value)
                        << ", expected " << expected << " (" << whose << ")";
      failed = true;
    }
    return *this;
  }

  /// `value` has the type of `other`, described as `whose`.
  ShapeRules &sameType(StringRef what, Value value, Value other,
                       StringRef whose) {
    if (!failed && value.getType() != other.getType()) {
      op->emitOpError() << what << " has type " << value.getType()
                        << ", expected " << other.getType() << " (" << whose
                        << ")";
      failed = true;
    }
    return *this;
  }

  /// A general rule with its own message.
  ShapeRules &check(bool ok, const Twine &message) {
    if (!failed && !ok) {
      op->emitOpError() << message;
      failed = true;
    }
    return *this;
  }

  LogicalResult verify() const { return failure(failed); }

private:
  Operation *op;
  bool failed = false;
};

bool isPositiveFinite(const APFloat &value) {
  return value.isFiniteNonZero() && !value.isNegative();
}

LogicalResult checkGeometry(Operation *op, const std::string &error) {
  if (!error.empty())
    return op->emitOpError() << error;
  return success();
}

::qnext::DeltaNetGeometry deltaNetGeometry(int64_t nk, int64_t nv, int64_t dk,
                                           int64_t dv) {
  return {nk, nv, dk, dv};
}

} // namespace

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

LogicalResult GatedDeltaNetOp::verify() {
  auto geo = deltaNetGeometry(getNumKeyHeads(), getNumValueHeads(),
                              getKeyHeadDim(), getValueHeadDim());
  if (failed(checkGeometry(*this, geo.validate())))
    return failure();
  const int64_t h = dim(getInput(), 1);
  const int64_t nv = geo.numValueHeads, kernel = dim(getConvWeight(), 2);
  const int64_t stateRows = ShapedType::isDynamic(kernel) ? kAny : kernel - 1;
  return ShapeRules(*this)
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "hidden"}})
      .shape("conv_weight", getConvWeight(),
             {{geo.convDim(), "conv_dim"}, {1, "1"}, {kAny, "kernel"}})
      .check(kernel >= 2, "conv_weight must have a kernel of at least 2 taps")
      .shape("conv_state", getConvState(),
             {{stateRows, "kernel-1"}, {geo.convDim(), "conv_dim"}})
      .elementType("conv_state", getConvState(), elementType(getInput()),
                   "the input's")
      .shape("recurrent_state", getRecurrentState(),
             {{nv, "num_value_heads"},
              {geo.keyHeadDim, "key_head_dim"},
              {geo.valueHeadDim, "value_head_dim"}})
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
  const int64_t capacity = dim(getKCache(), 1);
  return ShapeRules(*this)
      .check(isPositiveFinite(getRopeTheta()), "rope_theta must be positive")
      .check(isPositiveFinite(getEpsilon()), "epsilon must be positive")
      .shape("input", getInput(), {{kAny, "tokens"}, {kAny, "hidden"}})
      .shape("positions", getPositions(), {{t, "tokens"}})
      .shape("k_cache", getKCache(),
             {{nkv, "num_kv_heads"}, {kAny, "capacity"}, {d, "head_dim"}})
      .shape("v_cache", getVCache(),
             {{nkv, "num_kv_heads"}, {capacity, "capacity"}, {d, "head_dim"}})
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
