//===- Config.h - config.json of Qwen3-Next / Qwen3.5 models ----*- C++ -*-===//
//
// The fields the forward pass relies on, parsed from a Hugging Face
// config.json and validated (spec sections 1 and 9). Every error names the
// file and the field.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_CONFIG_H
#define QNEXT_MODEL_CONFIG_H

#include "qnext/Support/Geometry.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace qnext {

enum class ModelFamily {
  Qwen3Next,  ///< model_type qwen3_next
  Qwen35,     ///< qwen3_5_text (dense MLP in every layer)
  Qwen35MoE,  ///< qwen3_5_moe_text (MoE in every layer)
};

enum class LayerKind { LinearAttention, FullAttention };

/// How a layer's routed experts are stored: a property of the checkpoint,
/// not of config.json (WeightLayout reads it from the tensor names).
enum class ExpertLayout { Fused, PerExpert };

/// The layout a family's official BF16 files use (and qnext-synth writes by
/// default): per expert for Qwen3-Next, fused for Qwen3.5.
ExpertLayout officialExpertLayout(ModelFamily family);
llvm::StringRef stringifyExpertLayout(ExpertLayout layout); // "fused", ...

struct ModelConfig {
  ModelFamily family = ModelFamily::Qwen3Next;
  /// The model_type of the text model (qwen3_next, qwen3_5_text, ...).
  std::string modelType;
  /// True when the text fields came from `text_config` of a multimodal
  /// wrapper; its weights then live under `model.language_model.`.
  bool multimodalWrapper = false;

  int64_t hiddenSize = 0;
  int64_t numLayers = 0;
  int64_t vocabSize = 0;
  int64_t maxPositionEmbeddings = 0;
  double rmsNormEps = 1e-6;
  /// For a multimodal wrapper, its top-level flag (transformers ties by it).
  bool tieWordEmbeddings = false;
  /// Set when a wrapper's text_config says otherwise: the compiler adds it to
  /// a missing-lm_head error.
  std::string tieNote;
  /// Fields config.json leaves out, each "name = value" with the value of
  /// the transformers configuration class's default that was used; the
  /// compiler names them when a tensor's shape disagrees.
  std::vector<std::string> defaulted;
  /// torch_dtype / dtype as written ("bfloat16", "float32", "float16",
  /// "auto"), or empty.
  std::string dtype;
  /// quantization_config is there (in the text config or at the top); its
  /// quant_method ("fp8", "gptq", ...), or "unnamed" without one. The
  /// compiler compares it with the checkpoint's tensors.
  std::string quantMethod;
  /// quant_method fp8: quantization_config.weight_block_size, the rows and
  /// columns one scale of an F8_E4M3 weight covers.
  std::array<int64_t, 2> fp8Block = {128, 128};
  /// quant_method fp8: quantization_config.modules_to_not_convert, the
  /// modules left in BF16 (lm_head, norms, routers, DeltaNet's small
  /// tensors), for a config-only compile to know what is FP8.
  std::vector<std::string> fp8NotConverted;

  std::vector<LayerKind> layerTypes; ///< one per layer
  std::vector<bool> moeLayers;       ///< one per layer: MoE or dense MLP

  DeltaNetGeometry deltaNet;     ///< linear_num_*_heads, linear_*_head_dim
  int64_t convKernel = 0;        ///< linear_conv_kernel_dim
  AttentionGeometry attention;   ///< num_attention_heads, ..., rotary dim
  double partialRotaryFactor = 1.0;
  double ropeTheta = 0.0;
  std::optional<YarnParams> yarn;

  int64_t numExperts = 0;
  int64_t numExpertsPerTok = 0;
  int64_t moeIntermediateSize = 0;
  int64_t sharedExpertIntermediateSize = 0;
  int64_t intermediateSize = 0; ///< dense MLP width
  bool normTopkProb = true;

  /// Prefix of the text model's tensors: "model." or "model.language_model.".
  std::string tensorPrefix() const {
    return multimodalWrapper ? "model.language_model." : "model.";
  }
  bool isLinearAttention(int64_t layer) const {
    return layerTypes[layer] == LayerKind::LinearAttention;
  }
  /// One letter per layer: L (Gated DeltaNet) or F (full attention).
  std::string layerPattern() const {
    std::string s;
    for (int64_t i = 0; i < numLayers; ++i)
      s += isLinearAttention(i) ? 'L' : 'F';
    return s;
  }
  /// One letter per layer: M (MoE) or D (dense MLP).
  std::string mlpPattern() const {
    std::string s;
    for (bool moe : moeLayers)
      s += moe ? 'M' : 'D';
    return s;
  }
};

/// Parses config.json text; `fileName` prefixes every error message
/// ("config.json: linear_num_value_heads (30) must be a multiple of ...").
llvm::Expected<ModelConfig> parseModelConfig(llvm::StringRef json,
                                             llvm::StringRef fileName);

/// Reads and parses a config.json file.
llvm::Expected<ModelConfig> loadModelConfig(llvm::StringRef path);

llvm::StringRef stringifyFamily(ModelFamily family);

/// The transformers configuration class whose defaults apply to `family`
/// ("Qwen3NextConfig", "Qwen3_5TextConfig", "Qwen3_5MoeTextConfig").
llvm::StringRef configClassName(ModelFamily family);

} // namespace qnext

#endif // QNEXT_MODEL_CONFIG_H
