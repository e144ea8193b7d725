//===- WeightLayout.cpp - the checkpoint's tensors and their layout -------===//

#include "qnext/Model/WeightLayout.h"
#include "qnext/Dialect/QNext/QNextOps.h"
#include "qnext/Model/FP8.h"
#include "qnext/Model/Quantize.h"
#include "qnext/Messages.h"
#include "qnext/Model/SafeTensors.h"

#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringSet.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <map>

using namespace mlir;
using llvm::StringRef;

namespace qnext {

WeightLayout::WeightLayout(const ModelConfig &config,
                           std::function<Type(StringRef)> elementType)
    : config(config), elementType(std::move(elementType)),
      expertLayouts(config.numLayers, officialExpertLayout(config.family)),
      expertsSeen(config.numLayers, false) {
  // Spec 9.2: the MTP layer's experts are per expert in every family.
  expertLayouts.push_back(ExpertLayout::PerExpert);
  expertsSeen.push_back(true);
}

void WeightLayout::setExpertLayouts(ExpertLayout layout) {
  expertLayouts.assign(config.numLayers, layout);
  expertLayouts.push_back(ExpertLayout::PerExpert);
}

llvm::Error WeightLayout::detectExpertLayouts(const Checkpoint &checkpoint) {
  // The first tensor of each layout seen in each layer.
  std::vector<const TensorInfo *> fused(config.numLayers),
      perExpert(config.numLayers);
  const std::string prefix = config.tensorPrefix() + "layers.";
  for (const TensorInfo *info : checkpoint.tensors()) {
    StringRef rest = info->name;
    int64_t layer;
    if (!rest.consume_front(prefix) || rest.consumeInteger(10, layer) ||
        layer < 0 || layer >= config.numLayers ||
        !rest.consume_front(".mlp.experts."))
      continue;
    // Per expert: "E.gate_proj.weight", ...; fused: exactly the two stacks.
    // Any other name is no layout (checkInventory lists it as unread).
    const TensorInfo **slot = nullptr;
    if (!rest.empty() && std::isdigit(static_cast<unsigned char>(rest[0])))
      slot = &perExpert[layer];
    else if (rest == "gate_up_proj" || rest == "down_proj")
      slot = &fused[layer];
    if (slot && !*slot)
      *slot = info;
  }
  for (int64_t i = 0; i < config.numLayers; ++i) {
    if (fused[i] && perExpert[i])
      return llvm::createStringError(
          "checkpoint: layer " + std::to_string(i) +
          " mixes fused and per-expert expert tensors: '" +
          excerpt(fused[i]->name) + "' in " +
          checkpoint.fileName(*fused[i]).str() + " and '" +
          excerpt(perExpert[i]->name) + "' in " +
          checkpoint.fileName(*perExpert[i]).str() +
          " (a layer's experts are stored one way)");
    if (fused[i])
      expertLayouts[i] = ExpertLayout::Fused;
    else if (perExpert[i])
      expertLayouts[i] = ExpertLayout::PerExpert;
    expertsSeen[i] = fused[i] || perExpert[i];
  }
  return llvm::Error::success();
}

std::string WeightLayout::layerPrefix(int64_t layer) const {
  if (layer == mtpLayer())
    return "mtp.layers.0.";
  return config.tensorPrefix() + "layers." + std::to_string(layer) + ".";
}

//===----------------------------------------------------------------------===//
// The inventory (spec 2.1-2.5, 9.2)
//===----------------------------------------------------------------------===//

namespace {
/// The tensors of one decoder layer under `p` ("model.layers.3." or
/// "mtp.layers.0.").
void appendLayer(std::vector<ExpectedTensor> &out, const ModelConfig &c,
                 const std::string &p, bool linearAttention, bool moe,
                 ExpertLayout experts) {
  const int64_t h = c.hiddenSize;
  const DeltaNetGeometry &g = c.deltaNet;
  const AttentionGeometry &at = c.attention;
  const bool qwen35 = c.family != ModelFamily::Qwen3Next;
  auto add = [&](std::string name, std::vector<int64_t> shape) {
    out.push_back({std::move(name), std::move(shape)});
  };
  add(p + "input_layernorm.weight", {h});
  add(p + "post_attention_layernorm.weight", {h});
  if (linearAttention) {
    std::string la = p + "linear_attn.";
    if (qwen35) {
      add(la + "in_proj_qkv.weight", {g.convDim(), h});
      add(la + "in_proj_z.weight", {g.valueDim(), h});
      add(la + "in_proj_b.weight", {g.numValueHeads, h});
      add(la + "in_proj_a.weight", {g.numValueHeads, h});
    } else {
      add(la + "in_proj_qkvz.weight", {g.qkvzRows(), h});
      add(la + "in_proj_ba.weight", {2 * g.numValueHeads, h});
    }
    add(la + "conv1d.weight", {g.convDim(), 1, c.convKernel});
    add(la + "dt_bias", {g.numValueHeads});
    add(la + "A_log", {g.numValueHeads});
    add(la + "norm.weight", {g.valueHeadDim});
    add(la + "out_proj.weight", {h, g.valueDim()});
  } else {
    std::string sa = p + "self_attn.";
    add(sa + "q_proj.weight", {2 * at.numHeads * at.headDim, h});
    add(sa + "k_proj.weight", {at.numKVHeads * at.headDim, h});
    add(sa + "v_proj.weight", {at.numKVHeads * at.headDim, h});
    add(sa + "o_proj.weight", {h, at.numHeads * at.headDim});
    add(sa + "q_norm.weight", {at.headDim});
    add(sa + "k_norm.weight", {at.headDim});
  }
  std::string mlp = p + "mlp.";
  if (!moe) {
    add(mlp + "gate_proj.weight", {c.intermediateSize, h});
    add(mlp + "up_proj.weight", {c.intermediateSize, h});
    add(mlp + "down_proj.weight", {h, c.intermediateSize});
    return;
  }
  const int64_t e = c.numExperts, ie = c.moeIntermediateSize;
  const int64_t is = c.sharedExpertIntermediateSize;
  add(mlp + "gate.weight", {e, h});
  if (experts == ExpertLayout::Fused) {
    add(mlp + "experts.gate_up_proj", {e, 2 * ie, h});
    add(mlp + "experts.down_proj", {e, h, ie});
  } else {
    for (int64_t x = 0; x < e; ++x) {
      std::string ex = mlp + "experts." + std::to_string(x) + ".";
      add(ex + "gate_proj.weight", {ie, h});
      add(ex + "up_proj.weight", {ie, h});
      add(ex + "down_proj.weight", {h, ie});
    }
  }
  add(mlp + "shared_expert.gate_proj.weight", {is, h});
  add(mlp + "shared_expert.up_proj.weight", {is, h});
  add(mlp + "shared_expert.down_proj.weight", {h, is});
  add(mlp + "shared_expert_gate.weight", {1, h});
}
} // namespace

std::vector<ExpectedTensor> WeightLayout::checkpointTensors() const {
  const ModelConfig &c = config;
  const int64_t h = c.hiddenSize;
  std::vector<ExpectedTensor> out;
  out.push_back({c.tensorPrefix() + "embed_tokens.weight", {c.vocabSize, h}});
  for (int64_t i = 0; i < c.numLayers; ++i)
    appendLayer(out, c, layerPrefix(i), c.isLinearAttention(i),
                c.moeLayers[i], expertLayouts[i]);
  out.push_back({c.tensorPrefix() + "norm.weight", {h}});
  if (!c.tieWordEmbeddings)
    out.push_back({"lm_head.weight", {c.vocabSize, h}});
  if (withMTP)
    llvm::append_range(out, mtpTensors());
  return out;
}

std::vector<ExpectedTensor> WeightLayout::mtpTensors() const {
  // Spec 2.6: one full-attention layer with the model's MLP kind, plus the
  // norms and the fc that join the embedding and the hidden state.
  const ModelConfig &c = config;
  const int64_t h = c.hiddenSize;
  std::vector<ExpectedTensor> out;
  out.push_back({"mtp.pre_fc_norm_embedding.weight", {h}});
  out.push_back({"mtp.pre_fc_norm_hidden.weight", {h}});
  out.push_back({"mtp.fc.weight", {h, 2 * h}});
  // Spec 9.2: the MTP layer's experts are per expert in every family.
  appendLayer(out, c, "mtp.layers.0.", /*linearAttention=*/false,
              mtpIsMoE(), ExpertLayout::PerExpert);
  out.push_back({"mtp.norm.weight", {h}});
  return out;
}

llvm::Error WeightLayout::checkFP8(const Checkpoint &checkpoint,
                                   const ExpectedTensor &want,
                                   const std::string &where,
                                   llvm::StringSet<> &expected) const {
  if (want.shape.size() != 2)
    return llvm::createStringError(
        where + " is F8_E4M3, but only projection matrices are stored in FP8");
  std::string scaleName = fp8ScaleName(want.name);
  const TensorInfo *scale = checkpoint.find(scaleName);
  if (!scale)
    return llvm::createStringError(where + " is F8_E4M3 without its block scale '" +
                                   scaleName + "'");
  expected.insert(scaleName);
  std::vector<int64_t> shape = fp8ScaleShape(want.shape, config.fp8Block);
  std::string scaleWhere =
      checkpoint.fileName(*scale).str() + ": tensor '" + scaleName + "'";
  if (scale->shape != shape)
    return llvm::createStringError(
        scaleWhere + " has shape " + formatShape(scale->shape) + ", expected " +
        formatShape(shape) + " (one scale per " + std::to_string(config.fp8Block[0]) +
        "x" + std::to_string(config.fp8Block[1]) + " block of " +
        formatShape(want.shape) + ")");
  if (!isSupportedWeightDType(scale->dtype))
    return llvm::createStringError(scaleWhere + " has dtype " +
                                   dtypeName(scale->dtype).str() +
                                   ", expected F32, BF16 or F16");
  return llvm::Error::success();
}

namespace {
/// Whether config field `field` decides the name or shape of `tensor`.
bool decidesTensor(StringRef field, StringRef tensor) {
  if (field == "hidden_size")
    return true; // every tensor but a few 1-D ones has a hidden dimension
  if (field == "vocab_size")
    return tensor.ends_with("embed_tokens.weight") || tensor == "lm_head.weight";
  if (!tensor.contains(".layers."))
    return false;
  // Which layers exist and what kind each is.
  if (llvm::is_contained({"num_hidden_layers", "full_attention_interval",
                          "decoder_sparse_step"},
                         field))
    return true;
  if (tensor.contains(".linear_attn."))
    return field.starts_with("linear_");
  if (tensor.contains(".self_attn."))
    return llvm::is_contained(
        {"num_attention_heads", "num_key_value_heads", "head_dim"}, field);
  if (tensor.contains(".mlp.experts.") || tensor.contains(".mlp.gate.") ||
      tensor.contains(".mlp.shared_expert"))
    return llvm::is_contained({"num_experts", "moe_intermediate_size",
                               "shared_expert_intermediate_size"},
                              field);
  if (tensor.contains(".mlp."))
    return field == "intermediate_size";
  return false;
}
} // namespace

std::string WeightLayout::defaultsUsed(StringRef tensor) const {
  // The defaulted fields that decide this tensor ("text_config.X = V").
  std::string fields;
  for (StringRef entry : config.defaulted) {
    StringRef field = entry.split(' ').first;
    field = field.contains('.') ? field.rsplit('.').second : field;
    if (decidesTensor(field, tensor))
      fields += (fields.empty() ? "" : ", ") + entry.str();
  }
  if (fields.empty())
    return "";
  return " (config.json leaves fields out, so " +
         configClassName(config.family).str() + "'s defaults were used: " +
         fields + ")";
}

llvm::Expected<InventoryReport>
WeightLayout::checkInventory(const Checkpoint &checkpoint) const {
  InventoryReport report;
  llvm::StringSet<> expected;
  std::map<std::string, std::pair<DType, std::string>> expertDTypes;
  for (const ExpectedTensor &want : checkpointTensors()) {
    expected.insert(want.name);
    const TensorInfo *info = checkpoint.find(want.name);
    if (!info) {
      std::string message = "checkpoint: missing tensor '" + want.name +
                            "' (expected shape " + formatShape(want.shape) + ")";
      if (want.name == "lm_head.weight" && !config.tieNote.empty())
        message += "; " + config.tieNote;
      // A layer without expert tensors of either layout: say so.
      StringRef name = want.name;
      int64_t layer;
      StringRef rest = name;
      bool inLayer = rest.consume_front(config.tensorPrefix() + "layers.") &&
                     !rest.consumeInteger(10, layer) && layer >= 0 &&
                     layer < config.numLayers;
      if (inLayer && !expertsSeen[layer]) {
        if (name.consume_back("experts.gate_up_proj"))
          message += "; the layer holds no per-expert tensors either ('" +
                     name.str() + "experts.0.gate_proj.weight', ...)";
        else if (name.consume_back("experts.0.gate_proj.weight"))
          message += "; the layer holds no fused experts either ('" + name.str() +
                     "experts.gate_up_proj', '" + name.str() + "experts.down_proj')";
      }
      return llvm::createStringError(message + defaultsUsed(want.name));
    }
    std::string where = checkpoint.fileName(*info).str() + ": tensor '" +
                        want.name + "'";
    if (info->shape != want.shape)
      return llvm::createStringError(where + " has shape " +
                                     formatShape(info->shape) + ", expected " +
                                     formatShape(want.shape) +
                                     defaultsUsed(want.name));
    if (info->dtype == DType::F8_E5M2)
      return llvm::createStringError(
          where + " has dtype F8_E5M2: qnext reads FP8 weights as F8_E4M3 with "
                  "block scales (the format of Qwen's FP8 repositories)");
    if (info->dtype == DType::F8_E4M3) {
      if (llvm::Error e = checkFP8(checkpoint, want, where, expected))
        return std::move(e);
      ++report.fp8Tensors;
    } else if (!isSupportedWeightDType(info->dtype))
      return llvm::createStringError(where + " has dtype " +
                                     dtypeName(info->dtype).str() +
                                     ", expected F32, BF16 or F16");
    if (!llvm::is_contained(report.dtypes, info->dtype))
      report.dtypes.push_back(info->dtype);
    // A layer's experts of one projection are stacked into one tensor of
    // one dtype: expert 0's.
    size_t at = want.name.find(".experts.");
    if (at != std::string::npos) {
      size_t digits = at + strlen(".experts.");
      size_t end = want.name.find('.', digits);
      if (end != std::string::npos && end > digits &&
          std::all_of(want.name.begin() + digits, want.name.begin() + end, ::isdigit)) {
        std::string group = want.name.substr(0, digits) + "{e}" + want.name.substr(end);
        auto [first, added] = expertDTypes.try_emplace(group, info->dtype, want.name);
        if (!added && first->second.first != info->dtype)
          return llvm::createStringError(
              where + " has dtype " + dtypeName(info->dtype).str() + ", '" +
              first->second.second + "' has " + dtypeName(first->second.first).str() +
              ": a layer's experts must share one dtype");
      }
    }
  }
  for (const TensorInfo *info : checkpoint.tensors()) {
    StringRef name = info->name;
    if (expected.contains(name))
      continue;
    if (name.starts_with("mtp."))
      ++report.mtpTensors;
    else if (name.starts_with("model.visual."))
      ++report.visionTensors;
    else if (name == "lm_head.weight" && config.tieWordEmbeddings)
      report.tiedLMHeadIgnored = true;
    else
      report.unexpected.push_back("'" + excerpt(info->name) + "' in " +
                                  checkpoint.fileName(*info).str());
  }
  return report;
}

//===----------------------------------------------------------------------===//
// The IR side
//===----------------------------------------------------------------------===//

Value WeightLayout::param(OpBuilder &b, Location loc, const std::string &name,
                          llvm::ArrayRef<int64_t> shape) const {
  // A stacked per-expert parameter takes the dtype of expert 0.
  std::string probe = name;
  if (size_t at = probe.find("{e}"); at != std::string::npos)
    probe.replace(at, 3, "0");
  auto type = RankedTensorType::get(shape, elementType(probe));
  if (WeightFormat format = formatOf(this->format, name);
      format.quantizes() && shape.size() >= 2) {
    // Quantized while packing (--weights): the values and the scales of
    // one tensor, read through qnext.dequantize.
    bool int4 = format.kind == WeightFormat::Int4;
    auto part = [&](mlir::qnext::QuantPart which, Type elt,
                    ArrayRef<int64_t> partShape) -> Value {
      return mlir::qnext::ParamOp::create(
          b, loc, RankedTensorType::get(partShape, elt), b.getStringAttr(name),
          /*block_rows=*/nullptr,
          mlir::qnext::QuantizeAttr::get(b.getContext(),
                                         int4 ? mlir::qnext::QuantFormat::Int4
                                              : mlir::qnext::QuantFormat::Int8,
                                         format.group, which));
    };
    SmallVector<int64_t> valueShape(shape), scaleShape(shape);
    if (int4)
      valueShape.back() /= 2; // two a byte
    scaleShape.back() = llvm::divideCeil(shape.back(), format.group);
    // (Values first, then scales: the order the plan lists them in.)
    Value values = part(mlir::qnext::QuantPart::Values, b.getI8Type(), valueShape);
    Value scales = part(mlir::qnext::QuantPart::Scales, b.getF32Type(), scaleShape);
    return decode(b, loc, values, scales, format.group, int4);
  }
  Value values = mlir::qnext::ParamOp::create(b, loc, type, b.getStringAttr(name),
                                              /*block_rows=*/nullptr,
                                              /*quantize=*/nullptr);
  if (!isa<Float8E4M3FNType>(type.getElementType()))
    return values;
  // FP8: the values and their block scales, read through qnext.dequantize.
  Value scales = fp8Scales(b, loc, name, shape);
  return decode(b, loc, values, scales, config.fp8Block[1], /*int4=*/false);
}

Value WeightLayout::fp8Scales(OpBuilder &b, Location loc, const std::string &name,
                              llvm::ArrayRef<int64_t> shape) const {
  SmallVector<int64_t> scaleShape(shape);
  scaleShape.back() = llvm::divideCeil(shape.back(), config.fp8Block[1]);
  return mlir::qnext::ParamOp::create(
      b, loc, RankedTensorType::get(scaleShape, b.getF32Type()),
      b.getStringAttr(fp8ScaleName(name)), b.getI64IntegerAttr(config.fp8Block[0]),
      /*quantize=*/nullptr);
}

Value WeightLayout::decode(OpBuilder &b, Location loc, Value values, Value scales,
                           int64_t group, bool int4) const {
  SmallVector<int64_t> shape(cast<RankedTensorType>(values.getType()).getShape());
  if (int4)
    shape.back() *= 2; // two a byte
  return mlir::qnext::DequantizeOp::create(
      b, loc, RankedTensorType::get(shape, b.getF32Type()), values, scales,
      b.getI64IntegerAttr(group), int4 ? b.getUnitAttr() : nullptr);
}

SmallVector<Value> WeightLayout::rowTransform(
    OpBuilder &b, Location loc, Value weight,
    llvm::function_ref<SmallVector<Value>(Value)> transform) const {
  auto dq = weight.getDefiningOp<mlir::qnext::DequantizeOp>();
  if (!dq)
    return transform(weight);
  // A weight row and its row of scales move together.
  SmallVector<Value> values = transform(dq.getValues());
  SmallVector<Value> scales = transform(dq.getScales());
  SmallVector<Value> decoded;
  for (auto [v, s] : llvm::zip(values, scales))
    decoded.push_back(decode(b, loc, v, s, dq.getGroup(), dq.getInt4()));
  dq->erase();
  return decoded;
}

WeightLayout::DeltaNet WeightLayout::deltaNet(OpBuilder &b, Location loc,
                                              int64_t layer) const {
  const DeltaNetGeometry &g = config.deltaNet;
  const int64_t h = config.hiddenSize, nv = g.numValueHeads;
  std::string la = layerPrefix(layer) + "linear_attn.";
  DeltaNet w;
  if (config.family == ModelFamily::Qwen3Next) {
    // Spec 4.2: rows interleaved per key-head group; reorder once.
    // (An FP8 weight's values and scales alike: the columns are h or the
    // scales' blocks.)
    SmallVector<Value> qkvz = rowTransform(
        b, loc, param(b, loc, la + "in_proj_qkvz.weight", {g.qkvzRows(), h}),
        [&](Value v) -> SmallVector<Value> {
          auto type = cast<RankedTensorType>(v.getType());
          Type elt = type.getElementType();
          int64_t cols = type.getDimSize(1);
          auto split = mlir::qnext::SplitQKVZOp::create(
              b, loc, RankedTensorType::get({g.convDim(), cols}, elt),
              RankedTensorType::get({g.valueDim(), cols}, elt), v, g.numKeyHeads,
              g.numValueHeads, g.keyHeadDim, g.valueHeadDim);
          return {split.getQkv(), split.getZ()};
        });
    SmallVector<Value> ba = rowTransform(
        b, loc, param(b, loc, la + "in_proj_ba.weight", {2 * nv, h}),
        [&](Value v) -> SmallVector<Value> {
          auto type = cast<RankedTensorType>(v.getType());
          auto half = RankedTensorType::get({nv, type.getDimSize(1)},
                                            type.getElementType());
          auto split = mlir::qnext::SplitBAOp::create(b, loc, half, half, v,
                                                      g.numKeyHeads, nv);
          return {split.getB(), split.getA()};
        });
    w.qkv = qkvz[0];
    w.z = qkvz[1];
    w.b = ba[0];
    w.a = ba[1];
  } else {
    // Qwen3.5 ships the un-interleaved layout.
    w.qkv = param(b, loc, la + "in_proj_qkv.weight", {g.convDim(), h});
    w.z = param(b, loc, la + "in_proj_z.weight", {g.valueDim(), h});
    w.b = param(b, loc, la + "in_proj_b.weight", {nv, h});
    w.a = param(b, loc, la + "in_proj_a.weight", {nv, h});
  }
  w.conv = param(b, loc, la + "conv1d.weight", {g.convDim(), 1,
                                                config.convKernel});
  w.dtBias = param(b, loc, la + "dt_bias", {nv});
  w.aLog = param(b, loc, la + "A_log", {nv});
  w.norm = param(b, loc, la + "norm.weight", {g.valueHeadDim});
  w.outProj = param(b, loc, la + "out_proj.weight", {h, g.valueDim()});
  return w;
}

WeightLayout::Attention WeightLayout::attention(OpBuilder &b, Location loc,
                                                int64_t layer) const {
  const AttentionGeometry &g = config.attention;
  const int64_t h = config.hiddenSize, d = g.headDim;
  std::string sa = layerPrefix(layer) + "self_attn.";
  return {param(b, loc, sa + "q_proj.weight", {2 * g.numHeads * d, h}),
          param(b, loc, sa + "k_proj.weight", {g.numKVHeads * d, h}),
          param(b, loc, sa + "v_proj.weight", {g.numKVHeads * d, h}),
          param(b, loc, sa + "o_proj.weight", {h, g.numHeads * d}),
          param(b, loc, sa + "q_norm.weight", {d}),
          param(b, loc, sa + "k_norm.weight", {d})};
}

WeightLayout::MoE WeightLayout::moe(OpBuilder &b, Location loc,
                                    int64_t layer) const {
  const int64_t h = config.hiddenSize, e = config.numExperts;
  const int64_t ie = config.moeIntermediateSize;
  const int64_t is = config.sharedExpertIntermediateSize;
  std::string mlp = layerPrefix(layer) + "mlp.";
  MoE w;
  w.router = param(b, loc, mlp + "gate.weight", {e, h});
  if (expertLayouts[layer] == ExpertLayout::PerExpert) {
    // Per-expert tensors, stacked along a leading expert axis.
    w.gate = param(b, loc, mlp + "experts.{e}.gate_proj.weight", {e, ie, h});
    w.up = param(b, loc, mlp + "experts.{e}.up_proj.weight", {e, ie, h});
    w.down = param(b, loc, mlp + "experts.{e}.down_proj.weight", {e, h, ie});
  } else {
    // Fused: [E, 2*Ie, H], gate rows then up rows of each expert.
    Value gateUp = param(b, loc, mlp + "experts.gate_up_proj", {e, 2 * ie, h});
    auto slice = [&](int64_t offset) -> Value {
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                           b.getIndexAttr(offset),
                                           b.getIndexAttr(0)};
      SmallVector<OpFoldResult> sizes = {b.getIndexAttr(e), b.getIndexAttr(ie),
                                         b.getIndexAttr(h)};
      SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
      return tensor::ExtractSliceOp::create(b, loc, gateUp, offsets, sizes,
                                            strides);
    };
    w.gate = slice(0);
    w.up = slice(ie);
    w.down = param(b, loc, mlp + "experts.down_proj", {e, h, ie});
  }
  w.sharedGate = param(b, loc, mlp + "shared_expert.gate_proj.weight", {is, h});
  w.sharedUp = param(b, loc, mlp + "shared_expert.up_proj.weight", {is, h});
  w.sharedDown = param(b, loc, mlp + "shared_expert.down_proj.weight", {h, is});
  w.sharedExpertGate = param(b, loc, mlp + "shared_expert_gate.weight", {1, h});
  return w;
}

WeightLayout::MLP WeightLayout::mlp(OpBuilder &b, Location loc,
                                    int64_t layer) const {
  const int64_t h = config.hiddenSize, i = config.intermediateSize;
  std::string mlp = layerPrefix(layer) + "mlp.";
  return {param(b, loc, mlp + "gate_proj.weight", {i, h}),
          param(b, loc, mlp + "up_proj.weight", {i, h}),
          param(b, loc, mlp + "down_proj.weight", {h, i})};
}

Value WeightLayout::layerNorm(OpBuilder &b, Location loc, int64_t layer,
                              StringRef which) const {
  return param(b, loc, layerPrefix(layer) + which.str() + ".weight",
               {config.hiddenSize});
}

Value WeightLayout::embedding(OpBuilder &b, Location loc) const {
  return param(b, loc, config.tensorPrefix() + "embed_tokens.weight",
               {config.vocabSize, config.hiddenSize});
}

Value WeightLayout::mtp(OpBuilder &b, Location loc, StringRef which) const {
  const int64_t h = config.hiddenSize;
  if (which == "fc")
    return param(b, loc, "mtp.fc.weight", {h, 2 * h});
  return param(b, loc, "mtp." + which.str() + ".weight", {h});
}

Value WeightLayout::finalNorm(OpBuilder &b, Location loc) const {
  return param(b, loc, config.tensorPrefix() + "norm.weight",
               {config.hiddenSize});
}

Value WeightLayout::lmHead(OpBuilder &b, Location loc) const {
  if (config.tieWordEmbeddings)
    return embedding(b, loc);
  return param(b, loc, "lm_head.weight", {config.vocabSize, config.hiddenSize});
}

} // namespace qnext
