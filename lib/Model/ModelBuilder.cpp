//===- ModelBuilder.cpp - config -> qnext module --------------------------===//
//
// The decoder of spec 7.1, one layer op per mixer and per MLP, with the
// residual adds in between.
//
//===----------------------------------------------------------------------===//

#include "qnext/Model/ModelBuilder.h"
#include "qnext/Dialect/QNext/LayerStamp.h"
#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"

#include "llvm/Support/SaveAndRestore.h"

using namespace mlir;

namespace qnext {

namespace {

/// One state tensor carried between calls.
struct StateSlot {
  std::string name;
  RankedTensorType type;
};

std::vector<StateSlot> stateSlots(MLIRContext &ctx, const ModelConfig &c) {
  Type f32 = Float32Type::get(&ctx);
  std::vector<StateSlot> slots;
  const DeltaNetGeometry &g = c.deltaNet;
  const AttentionGeometry &a = c.attention;
  for (int64_t i = 0; i < c.numLayers; ++i) {
    std::string p = "layers." + std::to_string(i) + ".";
    if (c.isLinearAttention(i)) {
      slots.push_back({p + "conv_state", RankedTensorType::get(
                                             {c.convKernel - 1, g.convDim()},
                                             f32)});
      slots.push_back({p + "recurrent_state",
                       RankedTensorType::get({g.numValueHeads, g.keyHeadDim,
                                              g.valueHeadDim},
                                             f32)});
    } else {
      auto cache = RankedTensorType::get(
          {a.numKVHeads, ShapedType::kDynamic, a.headDim}, f32);
      slots.push_back({p + "k_cache", cache});
      slots.push_back({p + "v_cache", cache});
    }
  }
  return slots;
}

/// The entry points buildEntry makes.
enum class EntryKind {
  Prefill,     ///< T tokens of one sequence, logits of rows [from, T)
  Decode,      ///< one token of one sequence
  Taps,        ///< prefill that also returns every layer's hidden state
  DecodeBatch, ///< one token each of B sequences, in their slots
};

/// Builds one entry point. Taps also returns the hidden state after each
/// layer's token mixer and after its MLP/MoE (residual adds included):
/// [2L, T, H].
void buildEntry(OpBuilder &b, Location loc, StringRef name, EntryKind kind,
                const ModelConfig &c, const WeightLayout &layout) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  const bool taps = kind == EntryKind::Taps;
  const bool batch = kind == EntryKind::DecodeBatch;
  // Prefill takes logits_from: logits are computed for rows [from, T) only
  // (T - 1 when the caller wants the last one: lm_head is ~1/3 of the work).
  const bool prefill = kind == EntryKind::Prefill || taps;
  const int64_t tokens = kind == EntryKind::Decode ? 1 : ShapedType::kDynamic;
  auto ids = RankedTensorType::get({tokens}, b.getI32Type());
  auto hidden = RankedTensorType::get({tokens, c.hiddenSize}, f32);
  auto logits = RankedTensorType::get({tokens, c.vocabSize}, f32);
  std::vector<StateSlot> slots = stateSlots(*ctx, c);
  // A batch's states are every sequence slot's: [S, ...shape].
  if (batch)
    for (StateSlot &s : slots) {
      SmallVector<int64_t> shape = {ShapedType::kDynamic};
      llvm::append_range(shape, s.type.getShape());
      s.type = RankedTensorType::get(shape, f32);
    }

  // ids, positions, then past (and logits_from) or the batch's slots.
  const unsigned firstState = prefill ? 4 : 3;
  SmallVector<Type> inputs = {ids, ids, batch ? Type(ids) : b.getIndexType()};
  if (prefill)
    inputs.push_back(b.getIndexType());
  SmallVector<Type> results = {logits};
  for (const StateSlot &s : slots) {
    inputs.push_back(s.type);
    results.push_back(s.type);
  }
  auto tapsType =
      RankedTensorType::get({2 * c.numLayers, tokens, c.hiddenSize}, f32);
  if (taps)
    results.push_back(tapsType);
  auto func = func::FuncOp::create(b, loc, name, b.getFunctionType(inputs, results));
  func.setArgAttr(0, mlir::qnext::kNameAttrName, b.getStringAttr("ids"));
  func.setArgAttr(1, mlir::qnext::kNameAttrName, b.getStringAttr("positions"));
  func.setArgAttr(2, mlir::qnext::kNameAttrName,
                  b.getStringAttr(batch ? "slots" : "past"));
  if (prefill)
    func.setArgAttr(3, mlir::qnext::kNameAttrName, b.getStringAttr("logits_from"));
  func.setResultAttr(0, mlir::qnext::kNameAttrName, b.getStringAttr("logits"));
  for (size_t i = 0; i < slots.size(); ++i) {
    func.setArgAttr(firstState + i, mlir::qnext::kStateAttrName,
                    b.getStringAttr(slots[i].name));
    func.setResultAttr(1 + i, mlir::qnext::kStateAttrName,
                       b.getStringAttr(slots[i].name));
  }
  if (taps)
    func.setResultAttr(1 + slots.size(), mlir::qnext::kNameAttrName,
                       b.getStringAttr("taps"));

  OpBuilder::InsertionGuard guard(b);
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value tokenIds = body->getArgument(0), positions = body->getArgument(1);
  // A sequence's tokens follow `past` cached ones; a batch's rows are in
  // `rowSlots`, each at its own position.
  Value past = batch ? Value() : body->getArgument(2);
  Value rowSlots = batch ? body->getArgument(2) : Value();
  SmallVector<Value> newStates;
  const double eps = c.rmsNormEps;
  FloatAttr epsAttr = b.getF32FloatAttr(static_cast<float>(eps));
  FloatAttr one = b.getF32FloatAttr(1.0f);

  Value h = mlir::qnext::EmbeddingOp::create(b, loc, hidden, tokenIds,
                                       layout.embedding(b, loc));
  // Every op of layer i (weights included) gets `qnext.layer`; the taps'
  // copies belong to no layer.
  mlir::qnext::LayerStamp stamp;
  b.setListener(&stamp);
  Value tapped;
  auto tap = [&](int64_t index) {
    if (!taps)
      return;
    llvm::SaveAndRestore<mlir::qnext::LayerAttr> noLayer(stamp.layer, nullptr);
    if (!tapped) {
      SmallVector<Value> dynamic;
      if (ShapedType::isDynamic(tokens))
        dynamic.push_back(tensor::DimOp::create(b, loc, h, 0));
      tapped = tensor::EmptyOp::create(b, loc, tapsType, dynamic);
    }
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(index), b.getIndexAttr(0),
                                         b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1),
                                       tensor::getMixedSize(b, loc, h, 0),
                                       b.getIndexAttr(c.hiddenSize)};
    SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
    // A copy of h, so the taps buffer never aliases the residual stream
    // that later ops update in place (one copy per tap, in this debugging
    // entry only).
    Value copy = bufferization::AllocTensorOp::create(
        b, loc, cast<RankedTensorType>(h.getType()), ValueRange{}, h);
    tapped = tensor::InsertSliceOp::create(b, loc, copy, tapped, offsets, sizes,
                                           strides);
  };
  for (int64_t i = 0; i < c.numLayers; ++i) {
    Location l = NameLoc::get(b.getStringAttr("layers." + std::to_string(i)),
                              loc);
    stamp.layer = mlir::qnext::LayerAttr::get(
        ctx, i,
        c.isLinearAttention(i) ? mlir::qnext::LayerKind::LinearAttention
                               : mlir::qnext::LayerKind::FullAttention);
    Value x = mlir::qnext::RMSNormOp::create(
        b, l, h, layout.layerNorm(b, l, i, "input_layernorm"), epsAttr, one);
    Value mixed;
    Value state0 = body->getArgument(firstState + newStates.size());
    Value state1 = body->getArgument(firstState + 1 + newStates.size());
    if (c.isLinearAttention(i)) {
      const DeltaNetGeometry &g = c.deltaNet;
      WeightLayout::DeltaNet w = layout.deltaNet(b, l, i);
      SmallVector<Value> operands = {x,     state0, state1,   w.qkv,
                                     w.z,   w.b,    w.a,      w.conv,
                                     w.dtBias, w.aLog, w.norm, w.outProj};
      if (batch)
        operands.push_back(rowSlots);
      auto op = mlir::qnext::GatedDeltaNetOp::create(
          b, l, TypeRange{hidden, state0.getType(), state1.getType()}, operands,
          {b.getNamedAttr("num_key_heads", b.getI64IntegerAttr(g.numKeyHeads)),
           b.getNamedAttr("num_value_heads",
                          b.getI64IntegerAttr(g.numValueHeads)),
           b.getNamedAttr("key_head_dim", b.getI64IntegerAttr(g.keyHeadDim)),
           b.getNamedAttr("value_head_dim",
                          b.getI64IntegerAttr(g.valueHeadDim)),
           b.getNamedAttr("epsilon", epsAttr)});
      mixed = op.getResult();
      newStates.push_back(op.getNewConvState());
      newStates.push_back(op.getNewRecurrentState());
    } else {
      const AttentionGeometry &g = c.attention;
      WeightLayout::Attention w = layout.attention(b, l, i);
      mlir::qnext::YarnAttr yarn;
      if (c.yarn)
        yarn = mlir::qnext::YarnAttr::get(
            ctx, llvm::APFloat(c.yarn->factor),
            c.yarn->originalMaxPositionEmbeddings,
            llvm::APFloat(c.yarn->betaFast), llvm::APFloat(c.yarn->betaSlow));
      auto op = mlir::qnext::GatedAttentionOp::create(
          b, l, hidden, state0.getType(), state1.getType(), x, positions,
          state0, state1, past, rowSlots, w.q, w.k, w.v, w.o, w.qNorm,
          w.kNorm, b.getI64IntegerAttr(g.numHeads),
          b.getI64IntegerAttr(g.numKVHeads), b.getI64IntegerAttr(g.headDim),
          b.getI64IntegerAttr(g.rotaryDim), b.getF64FloatAttr(c.ropeTheta),
          yarn, epsAttr);
      mixed = op.getResult();
      newStates.push_back(op.getNewKCache());
      newStates.push_back(op.getNewVCache());
    }
    h = arith::AddFOp::create(b, l, h, mixed);
    tap(2 * i);

    Value m = mlir::qnext::RMSNormOp::create(
        b, l, h, layout.layerNorm(b, l, i, "post_attention_layernorm"),
        epsAttr, one);
    Value mlpOut;
    if (c.moeLayers[i]) {
      WeightLayout::MoE w = layout.moe(b, l, i);
      mlpOut = mlir::qnext::MoEOp::create(
          b, l, hidden, m, w.router, w.gate, w.up, w.down, w.sharedGate,
          w.sharedUp, w.sharedDown, w.sharedExpertGate,
          static_cast<uint64_t>(c.numExpertsPerTok), c.normTopkProb);
    } else {
      WeightLayout::MLP w = layout.mlp(b, l, i);
      mlpOut = mlir::qnext::MLPOp::create(b, l, hidden, m, w.gate, w.up, w.down);
    }
    h = arith::AddFOp::create(b, l, h, mlpOut);
    tap(2 * i + 1);
  }
  stamp.layer = nullptr;
  b.setListener(nullptr);
  if (prefill) {
    Value from = body->getArgument(3);
    Value rows = arith::SubIOp::create(
        b, loc, tensor::DimOp::create(b, loc, h, 0), from);
    h = tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({ShapedType::kDynamic, c.hiddenSize}, f32), h,
        ValueRange{from}, ValueRange{rows}, ValueRange{},
        b.getDenseI64ArrayAttr({ShapedType::kDynamic, 0}),
        b.getDenseI64ArrayAttr({ShapedType::kDynamic, c.hiddenSize}),
        b.getDenseI64ArrayAttr({1, 1}));
  }
  Value out = mlir::qnext::LMHeadOp::create(b, loc, logits, h,
                                      layout.finalNorm(b, loc),
                                      layout.lmHead(b, loc), epsAttr);
  SmallVector<Value> returned = {out};
  returned.append(newStates.begin(), newStates.end());
  if (taps)
    returned.push_back(tapped);
  func::ReturnOp::create(b, loc, returned);
}

} // namespace

OwningOpRef<ModuleOp> buildModel(MLIRContext &context, const ModelConfig &c,
                                 const WeightLayout &layout,
                                 ModelEntries entries) {
  context.loadDialect<func::FuncDialect, arith::ArithDialect,
                      bufferization::BufferizationDialect,
                      mlir::qnext::QNextDialect>();
  Location loc = UnknownLoc::get(&context);
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b, loc);
  // A summary of the model for readers and tools; the layer ops are the truth.
  (*module)->setAttr("qnext.model_type", b.getStringAttr(c.modelType));
  (*module)->setAttr("qnext.layer_types", b.getStringAttr(c.layerPattern()));
  (*module)->setAttr("qnext.mlp_types", b.getStringAttr(c.mlpPattern()));
  (*module)->setAttr("qnext.tie_word_embeddings",
                     b.getBoolAttr(c.tieWordEmbeddings));
  b.setInsertionPointToEnd(module->getBody());
  buildEntry(b, loc, "prefill", EntryKind::Prefill, c, layout);
  buildEntry(b, loc, "decode", EntryKind::Decode, c, layout);
  if (entries.taps)
    buildEntry(b, loc, "taps", EntryKind::Taps, c, layout);
  if (entries.decodeBatch)
    buildEntry(b, loc, "decode_batch", EntryKind::DecodeBatch, c, layout);
  return module;
}

} // namespace qnext
