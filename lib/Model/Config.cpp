//===- Config.cpp - config.json of Qwen3-Next / Qwen3.5 models ------------===//
//
// nlohmann-json runs without exceptions here (LLVM's -fno-exceptions), so
// every access is checked before it is made: a wrong type is an error, never
// an abort.
//
//===----------------------------------------------------------------------===//

#include "qnext/Model/Config.h"
#include "qnext/FileChecks.h"
#include "qnext/Messages.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

#include <cmath>

using json = nlohmann::json;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace qnext {

namespace {

/// Reads typed fields from one JSON object, remembering the first error.
/// Field names in messages carry the object's path ("text_config.hidden_size").
class FieldReader {
public:
  FieldReader(const json &object, std::string file, std::string path = "",
              std::vector<std::string> *defaulted = nullptr)
      : object(object), file(std::move(file)), path(std::move(path)),
        defaulted(defaulted) {}

  bool has(const char *name) const {
    return object.contains(name) && !object[name].is_null();
  }
  const json *get(const char *name) const {
    return has(name) ? &object[name] : nullptr;
  }

  int64_t integer(const char *name, std::optional<int64_t> fallback = {}) {
    const json *v = get(name);
    if (!v) {
      if (!fallback)
        fail(std::string("missing field '") + qualified(name) + "'");
      else
        noteDefault(name, std::to_string(*fallback));
      return fallback.value_or(0);
    }
    if (!v->is_number_integer()) {
      fail(qualified(name) + " must be an integer, got " + quoteJSON(*v));
      return 0;
    }
    return v->get<int64_t>();
  }

  /// An integer that must be > 0 (or >= 0 when `allowZero`).
  int64_t positive(const char *name, std::optional<int64_t> fallback = {},
                   bool allowZero = false) {
    int64_t value = integer(name, fallback);
    if (!failed() && (value < 0 || (!allowZero && value == 0)))
      fail(qualified(name) + " (" + std::to_string(value) + ") must be " +
           (allowZero ? "non-negative" : "positive"));
    return value;
  }

  double number(const char *name, std::optional<double> fallback = {}) {
    const json *v = get(name);
    if (!v) {
      if (!fallback)
        fail(std::string("missing field '") + qualified(name) + "'");
      else
        noteDefault(name, json(*fallback).dump());
      return fallback.value_or(0.0);
    }
    if (!v->is_number()) {
      fail(qualified(name) + " must be a number, got " + quoteJSON(*v));
      return 0.0;
    }
    double value = v->get<double>();
    if (!std::isfinite(value))
      fail(qualified(name) + " must be finite");
    return value;
  }

  bool boolean(const char *name, bool fallback) {
    const json *v = get(name);
    if (!v)
      return fallback;
    if (!v->is_boolean()) {
      fail(qualified(name) + " must be true or false, got " + quoteJSON(*v));
      return fallback;
    }
    return v->get<bool>();
  }

  std::string string(const char *name, std::optional<std::string> fallback) {
    const json *v = get(name);
    if (!v) {
      if (!fallback)
        fail(std::string("missing field '") + qualified(name) + "'");
      return fallback.value_or("");
    }
    if (!v->is_string()) {
      fail(qualified(name) + " must be a string, got " + quoteJSON(*v));
      return "";
    }
    return v->get<std::string>();
  }

  /// An optional object field (nullptr when absent or null).
  const json *object_(const char *name) {
    const json *v = get(name);
    if (v && !v->is_object()) {
      fail(qualified(name) + " must be an object, got " + quoteJSON(*v));
      return nullptr;
    }
    return v;
  }

  std::string qualified(const std::string &name) const { return path + name; }

  /// Remembers that `name` was absent and `value` (a class default) used.
  void noteDefault(const char *name, const std::string &value) {
    if (defaulted)
      defaulted->push_back(qualified(name) + " = " + value);
  }

  void fail(const std::string &message) {
    if (error.empty())
      error = message;
  }
  bool failed() const { return !error.empty(); }

  Error takeError() const {
    if (error.empty())
      return Error::success();
    return llvm::createStringError(file + ": " + error);
  }

  const json &object;
  std::string file;
  std::string path;
  std::vector<std::string> *defaulted;
  std::string error;
};

/// The defaults of transformers' configuration classes: the `__init__`
/// arguments of Qwen3NextConfig (configuration_qwen3_next.py),
/// Qwen3_5TextConfig (configuration_qwen3_5.py) and Qwen3_5MoeTextConfig
/// (configuration_qwen3_5_moe.py). A field config.json leaves out takes the
/// value transformers would give it; ConfigTest.cpp lists each one with its
/// source. RoPE: rope_theta is PreTrainedConfig's default_theta (10000) in
/// every class, partial_rotary_factor 0.25 (Qwen3NextConfig's argument,
/// Qwen3.5's `kwargs.setdefault`).
struct ClassDefaults {
  const char *className;
  int64_t vocabSize, hiddenSize, intermediateSize, numLayers;
  int64_t numHeads, numKVHeads, headDim, maxPositions;
  int64_t convKernel, keyHeadDim, valueHeadDim, numKeyHeads, numValueHeads;
  int64_t numExperts, numExpertsPerTok, moeIntermediateSize,
      sharedExpertIntermediateSize;
};

constexpr ClassDefaults kQwen3NextDefaults = {
    "Qwen3NextConfig", 151936, 2048, 5632, 48, 16, 2, 256, 32768,
    4, 128, 128, 16, 32, 512, 10, 512, 512};
constexpr ClassDefaults kQwen35Defaults = {
    "Qwen3_5TextConfig", 248320, 4096, 12288, 32, 16, 4, 256, 32768,
    4, 128, 128, 16, 32, 0, 0, 0, 0};
constexpr ClassDefaults kQwen35MoEDefaults = {
    "Qwen3_5MoeTextConfig", 248320, 2048, 0, 40, 16, 2, 256, 32768,
    4, 128, 128, 16, 32, 256, 8, 512, 512};
constexpr double kDefaultRopeTheta = 10000.0;
constexpr double kDefaultPartialRotaryFactor = 0.25;
constexpr int64_t kDefaultFullAttentionInterval = 4;
constexpr int64_t kDefaultDecoderSparseStep = 1;
// Bounds on what a config may ask for, so that a hostile one cannot make the
// tensor inventory billions of names long. Released models have at most 64
// layers and (48 MoE layers + the MTP head's) x 512 experts
// (Qwen3-Next-80B-A3B); these leave room for sixteen and five times that.
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxExpertSets = int64_t(1) << 17;

const ClassDefaults &defaultsOf(ModelFamily family) {
  switch (family) {
  case ModelFamily::Qwen3Next:
    return kQwen3NextDefaults;
  case ModelFamily::Qwen35:
    return kQwen35Defaults;
  case ModelFamily::Qwen35MoE:
    return kQwen35MoEDefaults;
  }
  return kQwen3NextDefaults;
}

std::string truncated(const json &v) { return quoteJSON(v, 60); }

/// RoPE: v4 spelling (rope_theta, partial_rotary_factor, rope_scaling) or v5
/// (rope_parameters holding all three), spec 1.4 and 5.4.
void readRope(FieldReader &in, ModelConfig &c) {
  const json *params = in.object_("rope_parameters");
  const json *scaling = in.object_("rope_scaling");
  if (in.failed())
    return;
  // transformers v5 fills rope_parameters from the top-level fields it
  // lacks (setdefault); both spelled and different is refused, not guessed.
  auto read = [&](const char *name, double fallback) {
    std::optional<double> top, inner;
    if (in.has(name))
      top = in.number(name);
    if (params) {
      FieldReader p(*params, in.file, in.path + "rope_parameters.");
      if (p.has(name))
        inner = p.number(name);
      if (p.failed())
        in.fail(p.error);
    }
    if (top && inner && *top != *inner)
      in.fail(in.qualified("rope_parameters.") + name + " (" +
              json(*inner).dump() + ") and " + in.qualified(name) + " (" +
              json(*top).dump() + ") differ");
    if (!top && !inner)
      in.noteDefault(name, json(fallback).dump());
    return inner ? *inner : top.value_or(fallback);
  };
  c.ropeTheta = read("rope_theta", kDefaultRopeTheta);
  c.partialRotaryFactor =
      read("partial_rotary_factor", kDefaultPartialRotaryFactor);
  if (in.failed())
    return;
  if (c.ropeTheta <= 0)
    return in.fail(in.qualified("rope_theta") + " must be positive");
  if (!(c.partialRotaryFactor > 0 && c.partialRotaryFactor <= 1))
    return in.fail(in.qualified("partial_rotary_factor") + " (" +
                   std::to_string(c.partialRotaryFactor) +
                   ") must be in (0, 1]");

  // The scaling parameters: rope_scaling, else rope_parameters itself.
  const json *s = scaling ? scaling : params;
  if (!s)
    return;
  FieldReader r(*s, in.file,
                in.path + (scaling ? "rope_scaling." : "rope_parameters."));
  std::string type = r.has("rope_type") ? r.string("rope_type", "")
                                        : r.string("type", "default");
  if (type == "default" || type.empty())
    return;
  if (type != "yarn")
    return in.fail(r.qualified("rope_type") + " '" + type +
                   "' is not supported (expected default or yarn)");
  YarnParams yarn;
  yarn.factor = r.number("factor");
  yarn.originalMaxPositionEmbeddings =
      r.integer("original_max_position_embeddings", c.maxPositionEmbeddings);
  yarn.betaFast = r.number("beta_fast", 32.0);
  yarn.betaSlow = r.number("beta_slow", 1.0);
  if (r.failed())
    return in.fail(r.error);
  if (r.has("mscale") || r.has("mscale_all_dim") || r.has("attention_factor"))
    return in.fail(r.qualified("mscale") +
                   ": YaRN with mscale / attention_factor is not supported");
  if (std::string e = yarn.validate(); !e.empty())
    return in.fail(r.path + e);
  c.yarn = yarn;
}

void readLayerPattern(FieldReader &in, ModelConfig &c) {
  c.layerTypes.assign(c.numLayers, LayerKind::LinearAttention);
  if (const json *types = in.get("layer_types")) {
    if (!types->is_array() ||
        static_cast<int64_t>(types->size()) != c.numLayers)
      return in.fail(in.qualified("layer_types") + " must be a list of " +
                     std::to_string(c.numLayers) +
                     " entries (num_hidden_layers), got " + truncated(*types));
    for (int64_t i = 0; i < c.numLayers; ++i) {
      const json &t = (*types)[i];
      if (t == "linear_attention")
        c.layerTypes[i] = LayerKind::LinearAttention;
      else if (t == "full_attention")
        c.layerTypes[i] = LayerKind::FullAttention;
      else
        return in.fail(in.qualified("layer_types") + "[" + std::to_string(i) +
                       "] must be \"linear_attention\" or \"full_attention\", "
                       "got " + quoteJSON(t));
    }
    return;
  }
  int64_t interval =
      in.positive("full_attention_interval", kDefaultFullAttentionInterval);
  for (int64_t i = 0; i < c.numLayers && !in.failed(); ++i)
    if ((i + 1) % interval == 0)
      c.layerTypes[i] = LayerKind::FullAttention;
}

void readMlpPattern(FieldReader &in, ModelConfig &c) {
  c.moeLayers.assign(c.numLayers, c.family != ModelFamily::Qwen35);
  if (c.family != ModelFamily::Qwen3Next)
    return;
  // Spec 1.3: is_moe(i) = i not in mlp_only_layers, num_experts > 0 and
  // (i + 1) % decoder_sparse_step == 0.
  int64_t step = in.positive("decoder_sparse_step", kDefaultDecoderSparseStep);
  std::vector<bool> dense(c.numLayers, false);
  if (const json *only = in.get("mlp_only_layers")) {
    if (!only->is_array())
      return in.fail(in.qualified("mlp_only_layers") +
                     " must be a list of layer indices, got " +
                     truncated(*only));
    for (const json &v : *only) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
          v.get<int64_t>() >= c.numLayers)
        return in.fail(in.qualified("mlp_only_layers") + " holds " + quoteJSON(v) +
                       ", not a layer index in [0, " +
                       std::to_string(c.numLayers) + ")");
      dense[v.get<int64_t>()] = true;
    }
  }
  for (int64_t i = 0; i < c.numLayers && !in.failed(); ++i)
    c.moeLayers[i] = !dense[i] && c.numExperts > 0 && (i + 1) % step == 0;
}

void readModel(FieldReader &in, ModelConfig &c) {
  const ClassDefaults &d = defaultsOf(c.family);
  c.hiddenSize = in.positive("hidden_size", d.hiddenSize);
  c.numLayers = in.positive("num_hidden_layers", d.numLayers);
  if (!in.failed() && c.numLayers > kMaxLayers)
    return in.fail(in.qualified("num_hidden_layers") + " (" +
                   std::to_string(c.numLayers) + ") exceeds " +
                   std::to_string(kMaxLayers) + ", the most qnext compiles");
  c.vocabSize = in.positive("vocab_size", d.vocabSize);
  c.maxPositionEmbeddings = in.positive("max_position_embeddings", d.maxPositions);
  c.rmsNormEps = in.number("rms_norm_eps", 1e-6);
  if (!in.failed() && !(c.rmsNormEps > 0))
    in.fail(in.qualified("rms_norm_eps") + " must be positive");
  std::string act = in.string("hidden_act", "silu");
  if (!in.failed() && act != "silu")
    in.fail(in.qualified("hidden_act") + " '" + act +
            "' is not supported (expected silu)");
  if (in.failed())
    return;

  c.deltaNet.numKeyHeads = in.positive("linear_num_key_heads", d.numKeyHeads);
  c.deltaNet.numValueHeads =
      in.positive("linear_num_value_heads", d.numValueHeads);
  c.deltaNet.keyHeadDim = in.positive("linear_key_head_dim", d.keyHeadDim);
  c.deltaNet.valueHeadDim = in.positive("linear_value_head_dim", d.valueHeadDim);
  c.convKernel = in.positive("linear_conv_kernel_dim", d.convKernel);
  if (in.failed())
    return;
  if (std::string e = c.deltaNet.validate(
          {"linear_num_key_heads", "linear_num_value_heads",
           "linear_key_head_dim", "linear_value_head_dim"});
      !e.empty())
    return in.fail(in.path + e);
  if (c.convKernel < 2)
    return in.fail(in.qualified("linear_conv_kernel_dim") + " (" +
                   std::to_string(c.convKernel) + ") must be at least 2");

  c.attention.numHeads = in.positive("num_attention_heads", d.numHeads);
  c.attention.numKVHeads = in.positive("num_key_value_heads", d.numKVHeads);
  // Absent head_dim means the class default, 256 (not hidden / heads).
  c.attention.headDim = in.positive("head_dim", d.headDim);
  if (in.failed())
    return;
  readRope(in, c);
  if (in.failed())
    return;
  c.attention.rotaryDim = static_cast<int64_t>(
      static_cast<double>(c.attention.headDim) * c.partialRotaryFactor);
  if (std::string e = c.attention.validate(
          {"num_attention_heads", "num_key_value_heads", "head_dim",
           "rotary dim (head_dim * partial_rotary_factor)"});
      !e.empty())
    return in.fail(in.path + e);
  if (c.family != ModelFamily::Qwen3Next &&
      !in.boolean("attn_output_gate", true))
    return in.fail(in.qualified("attn_output_gate") +
                   " false is not supported (every qnext attention is gated)");

  if (c.family != ModelFamily::Qwen35) {
    c.numExperts = in.positive("num_experts", d.numExperts, /*allowZero=*/true);
    c.numExpertsPerTok = in.positive("num_experts_per_tok", d.numExpertsPerTok);
    c.moeIntermediateSize =
        in.positive("moe_intermediate_size", d.moeIntermediateSize);
    c.sharedExpertIntermediateSize = in.positive(
        "shared_expert_intermediate_size", d.sharedExpertIntermediateSize);
    c.normTopkProb = c.family == ModelFamily::Qwen35MoE
                         ? true
                         : in.boolean("norm_topk_prob", true);
    if (in.failed())
      return;
    if (c.numExpertsPerTok > c.numExperts)
      return in.fail(in.qualified("num_experts_per_tok") + " (" +
                     std::to_string(c.numExpertsPerTok) +
                     ") must not exceed num_experts (" +
                     std::to_string(c.numExperts) + ")");
  }
  readLayerPattern(in, c);
  readMlpPattern(in, c);
  if (in.failed())
    return;
  // The MTP head's layer has the routed experts too wherever num_experts
  // is read (WeightLayout::mtpIsMoE), even if every decoder layer is dense.
  int64_t moeLayers = llvm::count(c.moeLayers, true);
  if (c.numExperts > kMaxExpertSets / (moeLayers + 1))
    return in.fail(
        in.qualified("num_experts") + " (" + std::to_string(c.numExperts) + ") in " +
        std::to_string(moeLayers) + " MoE layers and the MTP head's exceeds " +
        std::to_string(kMaxExpertSets) + " expert weight sets, the most qnext compiles");
  bool anyDense = moeLayers < c.numLayers;
  // Without a dense layer the width is unused (Qwen3_5MoeTextConfig has no
  // such field): its default is not one worth naming in a shape error.
  if (!anyDense && !in.has("intermediate_size"))
    c.intermediateSize = d.intermediateSize;
  else
    c.intermediateSize = in.positive("intermediate_size", d.intermediateSize,
                                     /*allowZero=*/!anyDense);
  c.tieWordEmbeddings = in.boolean("tie_word_embeddings", false);
}

} // namespace

llvm::StringRef stringifyFamily(ModelFamily family) {
  switch (family) {
  case ModelFamily::Qwen3Next:
    return "qwen3_next";
  case ModelFamily::Qwen35:
    return "qwen3_5_text";
  case ModelFamily::Qwen35MoE:
    return "qwen3_5_moe_text";
  }
  return "";
}

ExpertLayout officialExpertLayout(ModelFamily family) {
  return family == ModelFamily::Qwen3Next ? ExpertLayout::PerExpert
                                          : ExpertLayout::Fused;
}

llvm::StringRef stringifyExpertLayout(ExpertLayout layout) {
  return layout == ExpertLayout::Fused ? "fused" : "per-expert";
}

llvm::StringRef configClassName(ModelFamily family) {
  return defaultsOf(family).className;
}

Expected<ModelConfig> parseModelConfig(StringRef text, StringRef fileName) {
  std::string file = fileName.str();
  json root = json::parse(text.begin(), text.end(), nullptr,
                          /*allow_exceptions=*/false);
  if (root.is_discarded())
    return llvm::createStringError(file + ": not valid JSON");
  if (!root.is_object())
    return llvm::createStringError(file + ": must hold a JSON object, got " +
                                   truncated(root));

  ModelConfig c;
  FieldReader top(root, file);
  std::string type = top.string("model_type", std::nullopt);
  if (top.failed())
    return top.takeError();

  // Qwen3.5 checkpoints are multimodal: the text model's fields are under
  // text_config (spec 9).
  const json *object = &root;
  std::string path;
  if (type == "qwen3_5" || type == "qwen3_5_moe") {
    const json *text = top.object_("text_config");
    if (top.failed())
      return top.takeError();
    if (!text)
      return llvm::createStringError(file + ": model_type '" + excerpt(type) +
                                     "' needs a text_config object");
    object = text;
    path = "text_config.";
    c.multimodalWrapper = true;
    FieldReader inner(*text, file, path);
    type = inner.string("model_type",
                        type == "qwen3_5" ? "qwen3_5_text" : "qwen3_5_moe_text");
    if (inner.failed())
      return inner.takeError();
  }
  if (type == "qwen3_next")
    c.family = ModelFamily::Qwen3Next;
  else if (type == "qwen3_5_text")
    c.family = ModelFamily::Qwen35;
  else if (type == "qwen3_5_moe_text")
    c.family = ModelFamily::Qwen35MoE;
  else
    return llvm::createStringError(
        file + ": " + path + "model_type '" + excerpt(type) +
        "' is not supported (expected qwen3_next, qwen3_5_text, "
        "qwen3_5_moe_text, or qwen3_5 / qwen3_5_moe with a text_config)");
  c.modelType = type;

  FieldReader in(*object, file, path, &c.defaulted);
  readModel(in, c);
  // A wrapper's lm_head is tied by its own (top-level) flag, as transformers
  // ties Qwen3_5*ForConditionalGeneration; text_config's flag is not read.
  if (c.multimodalWrapper && !in.failed()) {
    bool inner = c.tieWordEmbeddings;
    c.tieWordEmbeddings = top.boolean("tie_word_embeddings", false);
    if (top.failed())
      return top.takeError();
    if (in.has("tie_word_embeddings") && inner != c.tieWordEmbeddings)
      c.tieNote = std::string("text_config.tie_word_embeddings is ") +
                  (inner ? "true" : "false") +
                  ", the top-level tie_word_embeddings, which transformers "
                  "follows for this wrapper, is " +
                  (c.tieWordEmbeddings ? "true" : "false");
  }
  // torch_dtype (v4) or dtype (v5), in the text config or at the top.
  for (const json *o : {object, static_cast<const json *>(&root)})
    for (const char *key : {"torch_dtype", "dtype"})
      if (c.dtype.empty() && o->contains(key) && !(*o)[key].is_null()) {
        const std::string where = file + ": " + (o == object ? path : "") + key;
        if (!(*o)[key].is_string())
          return llvm::createStringError(where + " must be a string, got " +
                                         truncated((*o)[key]));
        c.dtype = (*o)[key].get<std::string>();
        if (!llvm::is_contained({"float32", "bfloat16", "float16", "auto"}, c.dtype))
          return llvm::createStringError(where + " '" + excerpt(c.dtype) +
                                         "' is not a dtype qnext compiles (float32, "
                                         "bfloat16, float16, auto)");
      }
  // quantization_config: what the weights are said to be; the compiler
  // holds it against the tensors (LoadModel.cpp).
  for (const json *o : {object, static_cast<const json *>(&root)})
    if (c.quantMethod.empty() && o->contains("quantization_config") &&
        !(*o)["quantization_config"].is_null()) {
      const json &q = (*o)["quantization_config"];
      if (!q.is_object())
        return llvm::createStringError(file + ": quantization_config must be an object, got " +
                                       truncated(q));
      c.quantMethod = q.contains("quant_method") && q["quant_method"].is_string()
                          ? excerpt(q["quant_method"].get<std::string>(), 40)
                          : "unnamed";
      if (c.quantMethod != "fp8")
        continue;
      // The fine-grained FP8 format: e4m3 values, a scale per block.
      FieldReader fq(q, file, (o == object ? path : "") + "quantization_config.");
      std::string fmt = fq.string("fmt", "e4m3");
      if (!fq.failed() && fmt != "e4m3")
        fq.fail(fq.qualified("fmt") + " '" + excerpt(fmt) +
                "' is not supported (expected e4m3)");
      if (const json *b = fq.get("weight_block_size")) {
        // Qwen's repositories use 128; larger than a matrix side is absurd.
        auto side = [&](const json &v) {
          return v.is_number_integer() && v.get<int64_t>() > 0 &&
                 v.get<int64_t>() <= (int64_t(1) << 20);
        };
        if (!b->is_array() || b->size() != 2 || !side((*b)[0]) || !side((*b)[1]))
          fq.fail(fq.qualified("weight_block_size") +
                  " must be two integers in [1, 1048576], got " + truncated(*b));
        else
          c.fp8Block = {(*b)[0].get<int64_t>(), (*b)[1].get<int64_t>()};
      }
      if (const json *m = fq.get("modules_to_not_convert"); m && !m->is_null()) {
        if (!m->is_array() || !llvm::all_of(*m, [](const json &v) {
              return v.is_string() && v.get<std::string>().size() <= 4096;
            }))
          fq.fail(fq.qualified("modules_to_not_convert") +
                  " must be a list of module names, got " + truncated(*m));
        else
          for (const json &v : *m)
            c.fp8NotConverted.push_back(v.get<std::string>());
      }
      if (fq.failed())
        return fq.takeError();
    }
  if (in.failed())
    return in.takeError();
  return c;
}

Expected<ModelConfig> loadModelConfig(StringRef path) {
  if (std::string error; !checkRegularFile(path.str(), error))
    return llvm::createStringError(error);
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(path.str() + ": " +
                                   buffer.getError().message());
  return parseModelConfig((*buffer)->getBuffer(), path);
}

} // namespace qnext
