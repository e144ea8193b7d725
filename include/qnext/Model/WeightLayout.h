//===- WeightLayout.h - the checkpoint's tensors and their layout -*- C++ -*-===//
//
// The one place that knows how a checkpoint's tensors become the weight
// operands of the layer ops (spec sections 2 and 9.2):
//  * which tensors a config implies, under their Hugging Face names and
//    shapes (the inventory a checkpoint is checked against, and what
//    qnext-synth writes);
//  * the layout transformations, emitted as IR on `qnext.param` values:
//    Qwen3-Next's interleaved in_proj_qkvz / in_proj_ba go through
//    qnext.split_qkvz / qnext.split_ba, per-expert tensors are stacked
//    (`experts.{e}.` params), fused gate_up_proj tensors are sliced.
// Routed experts ship in two layouts, in both families: per expert
// (`mlp.experts.E.{gate,up,down}_proj.weight`: Qwen3-Next's files, every FP8
// repository, MTP layers, re-saved derivatives) and fused
// (`mlp.experts.gate_up_proj` [E, 2I, H], `mlp.experts.down_proj` [E, H, I]:
// Qwen3.5's BF16 files, transformers v5's save format). Which one a layer
// uses is the checkpoint's choice, read from its tensor names.
// Zero-centred norms keep their stored weights; the ops carry the +1.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_WEIGHTLAYOUT_H
#define QNEXT_MODEL_WEIGHTLAYOUT_H

#include "qnext/Model/Config.h"
#include "qnext/Model/Quantize.h"
#include "qnext/Model/SafeTensors.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringSet.h"
#include "mlir/IR/Value.h"

#include <functional>
#include <string>
#include <vector>

namespace qnext {

class Checkpoint;

/// One tensor the config implies.
struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};

/// What checkInventory found besides the expected tensors.
struct InventoryReport {
  /// Tensors the model does not read: "'NAME' in FILE", in checkpoint order
  /// (the compiler warns once for all of them).
  std::vector<std::string> unexpected;
  bool tiedLMHeadIgnored = false; ///< lm_head.weight with tied embeddings
  size_t mtpTensors = 0;          ///< mtp.* tensors, kept aside
  size_t visionTensors = 0;       ///< model.visual.* (Qwen3.5), ignored
  size_t fp8Tensors = 0;          ///< F8_E4M3 weights, each with its scale
  std::vector<DType> dtypes;      ///< of the tensors read, each once
};

class WeightLayout {
public:
  /// `elementType(name)` gives the stored dtype of a checkpoint tensor (from
  /// the checkpoint, or from config.json's dtype when there is none).
  WeightLayout(const ModelConfig &config,
               std::function<mlir::Type(llvm::StringRef)> elementType);

  /// Reads each MoE layer's expert layout from the checkpoint's tensor
  /// names; a layer holding both layouts is an error naming two of its
  /// tensors. A layer holding neither keeps the official layout (its
  /// missing tensors are reported by checkInventory).
  llvm::Error detectExpertLayouts(const Checkpoint &checkpoint);
  /// Every MoE layer in `layout` (qnext-synth --expert-layout).
  void setExpertLayouts(ExpertLayout layout);
  /// How the projections are stored (qnext-compile --weights): quantized
  /// ones become a qnext.dequantize of their values and scales.
  void setWeightFormat(WeightFormat f) { format = f; }
  ExpertLayout expertLayout(int64_t layer) const { return expertLayouts[layer]; }
  /// Whether the forward reads the MTP head (qnext-compile --mtp): its
  /// tensors join checkpointTensors(), and its decoder layer is layer
  /// mtpLayer() of the accessors below.
  void setMTP(bool on) { withMTP = on; }
  bool hasMTP() const { return withMTP; }
  /// The layer index the accessors take for `mtp.layers.0.`.
  int64_t mtpLayer() const { return config.numLayers; }
  /// The MTP layer's MLP: MoE but in the dense Qwen3.5 family (spec 2.6).
  bool mtpIsMoE() const { return config.family != ModelFamily::Qwen35; }

  /// Every tensor the forward pass reads, in checkpoint order of layers
  /// (then the MTP head's, when it is read).
  std::vector<ExpectedTensor> checkpointTensors() const;
  /// The multi-token-prediction tensors a checkpoint may carry (mtp.*): kept
  /// aside by checkInventory, written by qnext-synth --mtp.
  std::vector<ExpectedTensor> mtpTensors() const;

  /// Compares `checkpoint` with checkpointTensors(): a missing tensor, a
  /// wrong shape, an unusable dtype or experts of one projection in
  /// different dtypes is an error naming it; extra tensors are listed;
  /// mtp.* tensors are counted and kept aside.
  llvm::Expected<InventoryReport> checkInventory(const Checkpoint &) const;

  // The weight operands of each layer op, as IR.
  struct DeltaNet {
    mlir::Value qkv, z, b, a, conv, dtBias, aLog, norm, outProj;
  };
  struct Attention {
    mlir::Value q, k, v, o, qNorm, kNorm;
  };
  struct MoE {
    mlir::Value router, gate, up, down, sharedGate, sharedUp, sharedDown,
        sharedExpertGate;
  };
  struct MLP {
    mlir::Value gate, up, down;
  };
  DeltaNet deltaNet(mlir::OpBuilder &b, mlir::Location loc, int64_t layer) const;
  Attention attention(mlir::OpBuilder &b, mlir::Location loc,
                      int64_t layer) const;
  MoE moe(mlir::OpBuilder &b, mlir::Location loc, int64_t layer) const;
  MLP mlp(mlir::OpBuilder &b, mlir::Location loc, int64_t layer) const;
  /// `which` is "input_layernorm" or "post_attention_layernorm".
  mlir::Value layerNorm(mlir::OpBuilder &b, mlir::Location loc, int64_t layer,
                        llvm::StringRef which) const;
  mlir::Value embedding(mlir::OpBuilder &b, mlir::Location loc) const;
  /// The MTP head's own tensors: `which` is "pre_fc_norm_embedding",
  /// "pre_fc_norm_hidden" or "norm" (an RMSNorm weight [H]), or "fc"
  /// ([H, 2H]: the normed embedding's columns, then the hidden state's).
  mlir::Value mtp(mlir::OpBuilder &b, mlir::Location loc,
                  llvm::StringRef which) const;
  mlir::Value finalNorm(mlir::OpBuilder &b, mlir::Location loc) const;
  /// lm_head.weight, or the embedding table when the embeddings are tied.
  mlir::Value lmHead(mlir::OpBuilder &b, mlir::Location loc) const;

  /// An F8_E4M3 weight `want` (at `where`): a matrix with its block scale
  /// of the right shape and a float dtype; the scale joins `expected`.
  llvm::Error checkFP8(const Checkpoint &checkpoint, const ExpectedTensor &want,
                       const std::string &where, llvm::StringSet<> &expected) const;

private:
  /// The weight operand of checkpoint tensor `name`: a qnext.param, or for
  /// an F8_E4M3 tensor a qnext.dequantize of its values and block scales.
  mlir::Value param(mlir::OpBuilder &b, mlir::Location loc,
                    const std::string &name,
                    llvm::ArrayRef<int64_t> shape) const;
  /// The block scales of FP8 tensor `name` of `shape`: one row per weight
  /// row, one column per block of columns (qnext.param with block_rows).
  mlir::Value fp8Scales(mlir::OpBuilder &b, mlir::Location loc,
                        const std::string &name,
                        llvm::ArrayRef<int64_t> shape) const;
  mlir::Value decode(mlir::OpBuilder &b, mlir::Location loc, mlir::Value values,
                     mlir::Value scales, int64_t group, bool int4) const;
  /// `transform` (a layout op on rows) applied to `weight`, or to a
  /// dequantized weight's values and scales alike and decoded again.
  llvm::SmallVector<mlir::Value>
  rowTransform(mlir::OpBuilder &b, mlir::Location loc, mlir::Value weight,
               llvm::function_ref<llvm::SmallVector<mlir::Value>(mlir::Value)>
                   transform) const;
  std::string layerPrefix(int64_t layer) const;
  /// " (config.json leaves fields out, ...: F = V, ...)" naming the
  /// defaulted fields that decide `tensor`'s name or shape, else "".
  std::string defaultsUsed(llvm::StringRef tensor) const;

  const ModelConfig &config;
  std::function<mlir::Type(llvm::StringRef)> elementType;
  WeightFormat format; ///< qnext-compile --weights
  /// One per layer, and the MTP layer's (per expert) last.
  std::vector<ExpertLayout> expertLayouts;
  std::vector<bool> expertsSeen; ///< per layer: detection found any expert tensor
  bool withMTP = false;
};

} // namespace qnext

#endif // QNEXT_MODEL_WEIGHTLAYOUT_H
