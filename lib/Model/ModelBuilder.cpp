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
#include "mlir/Dialect/SCF/IR/SCF.h"
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

/// The states of every entry point: each layer's, then (with the MTP head)
/// the MTP layer's K and V caches.
std::vector<StateSlot> stateSlots(MLIRContext &ctx, const ModelConfig &c,
                                  bool mtp) {
  Type f32 = Float32Type::get(&ctx);
  std::vector<StateSlot> slots;
  const DeltaNetGeometry &g = c.deltaNet;
  const AttentionGeometry &a = c.attention;
  auto cache = RankedTensorType::get(
      {a.numKVHeads, ShapedType::kDynamic, a.headDim}, f32);
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
      slots.push_back({p + "k_cache", cache});
      slots.push_back({p + "v_cache", cache});
    }
  }
  if (mtp) {
    slots.push_back({"mtp.k_cache", cache});
    slots.push_back({"mtp.v_cache", cache});
  }
  return slots;
}

/// The number of states the MTP head adds at the end of the list.
constexpr size_t kMTPStates = 2;

/// The entry points buildEntry makes.
enum class EntryKind {
  Prefill,     ///< T tokens of one sequence, logits of rows [from, T)
  Decode,      ///< one token of one sequence
  Taps,        ///< prefill that also returns every layer's hidden state
  DecodeBatch, ///< one token each of B sequences, in their slots
  PrefillBatch, ///< runs of tokens of N sequences, in their slots
  MTP,         ///< the MTP head over T rows of one sequence
};

/// What one decoder layer reads besides its weights.
struct LayerInputs {
  Value positions, past, rowSlots; ///< past or rowSlots is null
  Value ends; ///< with rowSlots: the sequences' ends (PrefillBatch)
  Value state0, state1;            ///< the layer's two states
  RankedTensorType hidden;
  FloatAttr eps;
};

/// Decoder layer `i` of `layout` (the MTP layer when i is its mtpLayer())
/// on the residual stream `h`: its mixer and MLP or MoE, each with its
/// residual add. Appends the layer's two new states to `newStates`; calls
/// `afterMixer` with the stream between the two halves.
Value buildLayer(OpBuilder &b, Location l, const ModelConfig &c,
                 const WeightLayout &layout, int64_t i, Value h,
                 const LayerInputs &in, SmallVectorImpl<Value> &newStates,
                 llvm::function_ref<void(Value)> afterMixer = nullptr) {
  MLIRContext *ctx = b.getContext();
  const bool isMTP = i == layout.mtpLayer();
  const bool linear = !isMTP && c.isLinearAttention(i);
  const bool moe = isMTP ? layout.mtpIsMoE() : bool(c.moeLayers[i]);
  FloatAttr one = b.getF32FloatAttr(1.0f);
  RankedTensorType hidden = in.hidden;
  Value x = mlir::qnext::RMSNormOp::create(
      b, l, h, layout.layerNorm(b, l, i, "input_layernorm"), in.eps, one);
  Value mixed;
  if (linear) {
    const DeltaNetGeometry &g = c.deltaNet;
    WeightLayout::DeltaNet w = layout.deltaNet(b, l, i);
    SmallVector<Value> operands = {x,     in.state0, in.state1, w.qkv,
                                   w.z,   w.b,       w.a,       w.conv,
                                   w.dtBias, w.aLog, w.norm,    w.outProj};
    if (in.rowSlots)
      operands.push_back(in.rowSlots);
    if (in.ends)
      operands.push_back(in.ends);
    auto op = mlir::qnext::GatedDeltaNetOp::create(
        b, l, TypeRange{hidden, in.state0.getType(), in.state1.getType()},
        operands,
        {b.getNamedAttr("num_key_heads", b.getI64IntegerAttr(g.numKeyHeads)),
         b.getNamedAttr("num_value_heads", b.getI64IntegerAttr(g.numValueHeads)),
         b.getNamedAttr("key_head_dim", b.getI64IntegerAttr(g.keyHeadDim)),
         b.getNamedAttr("value_head_dim", b.getI64IntegerAttr(g.valueHeadDim)),
         b.getNamedAttr("epsilon", in.eps)});
    mixed = op.getResult();
    newStates.push_back(op.getNewConvState());
    newStates.push_back(op.getNewRecurrentState());
  } else {
    const AttentionGeometry &g = c.attention;
    WeightLayout::Attention w = layout.attention(b, l, i);
    mlir::qnext::YarnAttr yarn;
    if (c.yarn)
      yarn = mlir::qnext::YarnAttr::get(
          ctx, llvm::APFloat(c.yarn->factor), c.yarn->originalMaxPositionEmbeddings,
          llvm::APFloat(c.yarn->betaFast), llvm::APFloat(c.yarn->betaSlow));
    auto op = mlir::qnext::GatedAttentionOp::create(
        b, l, hidden, in.state0.getType(), in.state1.getType(), x, in.positions,
        in.state0, in.state1, in.past, in.rowSlots, in.ends, w.q, w.k, w.v, w.o, w.qNorm,
        w.kNorm, b.getI64IntegerAttr(g.numHeads), b.getI64IntegerAttr(g.numKVHeads),
        b.getI64IntegerAttr(g.headDim), b.getI64IntegerAttr(g.rotaryDim),
        b.getF64FloatAttr(c.ropeTheta), yarn, in.eps);
    mixed = op.getResult();
    newStates.push_back(op.getNewKCache());
    newStates.push_back(op.getNewVCache());
  }
  h = arith::AddFOp::create(b, l, h, mixed);
  if (afterMixer)
    afterMixer(h);

  Value m = mlir::qnext::RMSNormOp::create(
      b, l, h, layout.layerNorm(b, l, i, "post_attention_layernorm"), in.eps, one);
  Value mlpOut;
  if (moe) {
    WeightLayout::MoE w = layout.moe(b, l, i);
    mlpOut = mlir::qnext::MoEOp::create(
        b, l, hidden, m, w.router, w.gate, w.up, w.down, w.sharedGate, w.sharedUp,
        w.sharedDown, w.sharedExpertGate, static_cast<uint64_t>(c.numExpertsPerTok),
        c.normTopkProb);
  } else {
    WeightLayout::MLP w = layout.mlp(b, l, i);
    mlpOut = mlir::qnext::MLPOp::create(b, l, hidden, m, w.gate, w.up, w.down);
  }
  return arith::AddFOp::create(b, l, h, mlpOut);
}

/// Rows [from, T) of `h` ([T, H]).
Value rowsFrom(OpBuilder &b, Location loc, Value h, Value from) {
  auto type = cast<RankedTensorType>(h.getType());
  const int64_t width = type.getDimSize(1);
  Value rows = arith::SubIOp::create(b, loc, tensor::DimOp::create(b, loc, h, 0), from);
  return tensor::ExtractSliceOp::create(
      b, loc, RankedTensorType::get({ShapedType::kDynamic, width}, type.getElementType()),
      h, ValueRange{from}, ValueRange{rows}, ValueRange{},
      b.getDenseI64ArrayAttr({ShapedType::kDynamic, 0}),
      b.getDenseI64ArrayAttr({ShapedType::kDynamic, width}), b.getDenseI64ArrayAttr({1, 1}));
}

/// The last row of each of a batch's sequences: rows ends[i] - 1 of `h`
/// ([T, H]), as [N, H].
Value lastRows(OpBuilder &b, Location loc, Value h, Value ends) {
  auto type = cast<RankedTensorType>(h.getType());
  Value n = tensor::DimOp::create(b, loc, ends, 0);
  Value rows = tensor::EmptyOp::create(b, loc, type, ValueRange{n});
  auto loop = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{n},
                                    ValueRange{rows}, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(loop.getTerminator());
  Value i = loop.getInductionVar(0);
  Value end = arith::IndexCastOp::create(b, loc, b.getIndexType(),
                                         tensor::ExtractOp::create(b, loc, ends, i));
  Value last = arith::SubIOp::create(b, loc, end, arith::ConstantIndexOp::create(b, loc, 1));
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(type.getDimSize(1))};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  Value row = tensor::ExtractSliceOp::create(
      b, loc, h, SmallVector<OpFoldResult>{last, b.getIndexAttr(0)}, sizes, strides);
  b.setInsertionPointToStart(loop.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, row, loop.getRegionIterArgs().front(),
                                        SmallVector<OpFoldResult>{i, b.getIndexAttr(0)},
                                        sizes, strides);
  return loop.getResult(0);
}

/// Builds one entry point. Taps also returns the hidden state after each
/// layer's token mixer and after its MLP/MoE (residual adds included):
/// [2L, T, H]. With the MTP head (`mtp`), every entry takes its caches as
/// the last two states; prefill, decode and decode_batch also return the
/// hidden state after the final norm of every row ("hidden", [T, H]: what
/// the head reads), and the MTP entry runs the head, returning its own
/// rows after mtp.norm the same way (what a further draft reads).
void buildEntry(OpBuilder &b, Location loc, StringRef name, EntryKind kind,
                const ModelConfig &c, const WeightLayout &layout, bool mtp) {
  MLIRContext *ctx = b.getContext();
  Type f32 = b.getF32Type();
  const bool taps = kind == EntryKind::Taps;
  const bool sequences = kind == EntryKind::PrefillBatch;
  const bool batch = kind == EntryKind::DecodeBatch || sequences;
  const bool isMTP = kind == EntryKind::MTP;
  // Prefill takes logits_from: logits are computed for rows [from, T) only
  // (T - 1 when the caller wants the last one: lm_head is ~1/3 of the work).
  const bool prefill = kind == EntryKind::Prefill || taps || isMTP;
  const bool returnsHidden = mtp && !taps;
  const int64_t tokens = kind == EntryKind::Decode ? 1 : ShapedType::kDynamic;
  auto ids = RankedTensorType::get({tokens}, b.getI32Type());
  auto hidden = RankedTensorType::get({tokens, c.hiddenSize}, f32);
  auto logits = RankedTensorType::get({tokens, c.vocabSize}, f32);
  std::vector<StateSlot> slots = stateSlots(*ctx, c, mtp);
  // A batch's states are every sequence slot's: [S, ...shape].
  if (batch)
    for (StateSlot &s : slots) {
      SmallVector<int64_t> shape = {ShapedType::kDynamic};
      llvm::append_range(shape, s.type.getShape());
      s.type = RankedTensorType::get(shape, f32);
    }
  // The states this entry writes: the MTP head's own, or all but those.
  size_t firstWritten = 0, numWritten = slots.size();
  if (mtp) {
    firstWritten = isMTP ? slots.size() - kMTPStates : 0;
    numWritten = isMTP ? kMTPStates : slots.size() - kMTPStates;
  }

  // ids, positions, then past (and logits_from) or the batch's slots (and
  // its sequences' ends); the MTP entry's main-model hidden rows; the states.
  SmallVector<Type> inputs = {ids, ids, batch ? Type(ids) : b.getIndexType()};
  if (prefill)
    inputs.push_back(b.getIndexType());
  if (sequences)
    inputs.push_back(ids);
  if (isMTP)
    inputs.push_back(hidden);
  const unsigned firstState = inputs.size();
  SmallVector<Type> results = {logits};
  for (const StateSlot &s : slots)
    inputs.push_back(s.type);
  for (size_t i = firstWritten; i < firstWritten + numWritten; ++i)
    results.push_back(slots[i].type);
  auto tapsType =
      RankedTensorType::get({2 * c.numLayers, tokens, c.hiddenSize}, f32);
  if (taps)
    results.push_back(tapsType);
  if (returnsHidden)
    results.push_back(hidden);
  auto func = func::FuncOp::create(b, loc, name, b.getFunctionType(inputs, results));
  func.setArgAttr(0, mlir::qnext::kNameAttrName,
                  b.getStringAttr(isMTP ? "next_ids" : "ids"));
  func.setArgAttr(1, mlir::qnext::kNameAttrName, b.getStringAttr("positions"));
  func.setArgAttr(2, mlir::qnext::kNameAttrName,
                  b.getStringAttr(batch ? "slots" : "past"));
  if (prefill)
    func.setArgAttr(3, mlir::qnext::kNameAttrName, b.getStringAttr("logits_from"));
  if (sequences)
    func.setArgAttr(3, mlir::qnext::kNameAttrName, b.getStringAttr("ends"));
  if (isMTP)
    func.setArgAttr(4, mlir::qnext::kNameAttrName, b.getStringAttr("hidden"));
  func.setResultAttr(0, mlir::qnext::kNameAttrName, b.getStringAttr("logits"));
  for (size_t i = 0; i < slots.size(); ++i)
    func.setArgAttr(firstState + i, mlir::qnext::kStateAttrName,
                    b.getStringAttr(slots[i].name));
  for (size_t i = 0; i < numWritten; ++i)
    func.setResultAttr(1 + i, mlir::qnext::kStateAttrName,
                       b.getStringAttr(slots[firstWritten + i].name));
  if (taps || returnsHidden)
    func.setResultAttr(1 + numWritten, mlir::qnext::kNameAttrName,
                       b.getStringAttr(taps ? "taps" : "hidden"));

  OpBuilder::InsertionGuard guard(b);
  Block *body = func.addEntryBlock();
  b.setInsertionPointToStart(body);
  Value tokenIds = body->getArgument(0), positions = body->getArgument(1);
  // A sequence's tokens follow `past` cached ones; a batch's rows are in
  // `rowSlots`, each at its own position.
  LayerInputs in;
  in.positions = positions;
  in.past = batch ? Value() : body->getArgument(2);
  in.rowSlots = batch ? body->getArgument(2) : Value();
  in.ends = sequences ? body->getArgument(3) : Value();
  in.hidden = hidden;
  in.eps = b.getF32FloatAttr(static_cast<float>(c.rmsNormEps));
  FloatAttr one = b.getF32FloatAttr(1.0f);
  SmallVector<Value> newStates;
  Value from = prefill ? body->getArgument(3) : Value();

  Value h = mlir::qnext::EmbeddingOp::create(b, loc, hidden, tokenIds,
                                             layout.embedding(b, loc));
  // Every op of layer i (weights included) gets `qnext.layer`; the taps'
  // copies belong to no layer.
  mlir::qnext::LayerStamp stamp;
  b.setListener(&stamp);
  if (isMTP) {
    // Spec 2.6 / golden README "MTP head": row t joins the embedding of
    // token t+1 and the main model's final hidden state of row t through
    // fc, then one full-attention decoder layer with its own KV cache.
    // (Its decoder layer alone is a layer: the same ops as a main
    // full-attention layer's, so that it is compiled once with them.)
    Location l = NameLoc::get(b.getStringAttr("mtp"), loc);
    Value e = mlir::qnext::RMSNormOp::create(
        b, l, h, layout.mtp(b, l, "pre_fc_norm_embedding"), in.eps, one);
    Value hn = mlir::qnext::RMSNormOp::create(
        b, l, body->getArgument(4), layout.mtp(b, l, "pre_fc_norm_hidden"), in.eps, one);
    // [T, 2H]: the embedding half first.
    SmallVector<Value> dynamic;
    if (ShapedType::isDynamic(tokens))
      dynamic.push_back(tensor::DimOp::create(b, l, h, 0));
    auto joinedType = RankedTensorType::get({tokens, 2 * c.hiddenSize}, f32);
    Value joined = tensor::EmptyOp::create(b, l, joinedType, dynamic);
    Value halves[] = {e, hn};
    for (auto [half, part] : llvm::enumerate(halves)) {
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0),
                                           b.getIndexAttr(half * c.hiddenSize)};
      SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, l, h, 0),
                                         b.getIndexAttr(c.hiddenSize)};
      SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
      joined = tensor::InsertSliceOp::create(b, l, part, joined, offsets, sizes, strides);
    }
    Value u = mlir::qnext::LinearOp::create(b, l, hidden, joined, layout.mtp(b, l, "fc"));
    in.state0 = body->getArgument(firstState + slots.size() - 2);
    in.state1 = body->getArgument(firstState + slots.size() - 1);
    stamp.layer = mlir::qnext::LayerAttr::get(ctx, layout.mtpLayer(),
                                              mlir::qnext::LayerKind::FullAttention);
    h = buildLayer(b, NameLoc::get(b.getStringAttr("mtp.layers.0"), loc), c, layout,
                   layout.mtpLayer(), u, in, newStates);
    stamp.layer = nullptr;
    b.setListener(nullptr);
    // Its rows after mtp.norm: the hidden state a further draft reads.
    Value normed = mlir::qnext::RMSNormOp::create(b, loc, h, layout.mtp(b, loc, "norm"),
                                                  in.eps, one);
    Value out = mlir::qnext::LMHeadOp::create(b, loc, logits, rowsFrom(b, loc, h, from),
                                              layout.mtp(b, loc, "norm"),
                                              layout.lmHead(b, loc), in.eps);
    SmallVector<Value> returned = {out};
    returned.append(newStates.begin(), newStates.end());
    returned.push_back(normed);
    func::ReturnOp::create(b, loc, returned);
    return;
  }

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
    in.state0 = body->getArgument(firstState + newStates.size());
    in.state1 = body->getArgument(firstState + 1 + newStates.size());
    h = buildLayer(b, l, c, layout, i, h, in, newStates, [&](Value mixed) {
      h = mixed;
      tap(2 * i);
    });
    tap(2 * i + 1);
  }
  stamp.layer = nullptr;
  b.setListener(nullptr);
  // What the MTP head reads: every row after the final norm.
  Value normed;
  if (returnsHidden)
    normed = mlir::qnext::RMSNormOp::create(b, loc, h, layout.finalNorm(b, loc), in.eps,
                                            one);
  if (prefill)
    h = rowsFrom(b, loc, h, from);
  if (sequences)
    h = lastRows(b, loc, h, in.ends);
  Value out = mlir::qnext::LMHeadOp::create(b, loc, logits, h,
                                      layout.finalNorm(b, loc),
                                      layout.lmHead(b, loc), in.eps);
  SmallVector<Value> returned = {out};
  returned.append(newStates.begin(), newStates.end());
  if (taps)
    returned.push_back(tapped);
  if (returnsHidden)
    returned.push_back(normed);
  func::ReturnOp::create(b, loc, returned);
}

} // namespace

OwningOpRef<ModuleOp> buildModel(MLIRContext &context, const ModelConfig &c,
                                 const WeightLayout &layout,
                                 ModelEntries entries) {
  context.loadDialect<func::FuncDialect, arith::ArithDialect,
                      bufferization::BufferizationDialect, scf::SCFDialect,
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
  const bool mtp = layout.hasMTP();
  buildEntry(b, loc, "prefill", EntryKind::Prefill, c, layout, mtp);
  buildEntry(b, loc, "decode", EntryKind::Decode, c, layout, mtp);
  if (entries.taps)
    buildEntry(b, loc, "taps", EntryKind::Taps, c, layout, mtp);
  if (entries.decodeBatch)
    buildEntry(b, loc, "decode_batch", EntryKind::DecodeBatch, c, layout, mtp);
  if (entries.prefillBatch)
    buildEntry(b, loc, "prefill_batch", EntryKind::PrefillBatch, c, layout, mtp);
  if (mtp)
    buildEntry(b, loc, "mtp", EntryKind::MTP, c, layout, mtp);
  return module;
}

} // namespace qnext
