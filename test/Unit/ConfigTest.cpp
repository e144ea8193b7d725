//===- ConfigTest.cpp - config.json parsing and validation ----------------===//

#include "qnext/Model/Config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace qnext;
using json = nlohmann::json;

namespace {

/// The golden tiny Qwen3-Next config (../shared/golden/*/config.json).
json tinyConfig() {
  return json::parse(R"({
    "architectures": ["Qwen3NextForCausalLM"], "model_type": "qwen3_next",
    "hidden_size": 128, "num_hidden_layers": 8, "vocab_size": 512,
    "max_position_embeddings": 4096, "rms_norm_eps": 1e-06, "hidden_act": "silu",
    "full_attention_interval": 4, "linear_num_key_heads": 2,
    "linear_num_value_heads": 4, "linear_key_head_dim": 32,
    "linear_value_head_dim": 32, "linear_conv_kernel_dim": 4,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64,
    "partial_rotary_factor": 0.25, "rope_theta": 10000.0, "rope_scaling": null,
    "num_experts": 8, "num_experts_per_tok": 2, "moe_intermediate_size": 64,
    "shared_expert_intermediate_size": 96, "intermediate_size": 256,
    "decoder_sparse_step": 1, "mlp_only_layers": [], "norm_topk_prob": true,
    "tie_word_embeddings": false, "torch_dtype": "bfloat16"})");
}

llvm::Expected<ModelConfig> parse(const json &j) {
  return parseModelConfig(j.dump(), "config.json");
}

/// The error message of parsing `j` ("" when it parses).
std::string errorOf(const json &j) {
  auto c = parse(j);
  if (c)
    return "";
  return llvm::toString(c.takeError());
}

TEST(Config, GoldenTiny) {
  auto c = parse(tinyConfig());
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->family, ModelFamily::Qwen3Next);
  EXPECT_EQ(c->hiddenSize, 128);
  EXPECT_EQ(c->attention.rotaryDim, 16);
  EXPECT_EQ(c->deltaNet.convDim(), 256);
  EXPECT_EQ(c->dtype, "bfloat16");
  EXPECT_EQ(c->tensorPrefix(), "model.");
  EXPECT_EQ(c->layerPattern(), "LLLFLLLF");
  EXPECT_EQ(c->mlpPattern(), "MMMMMMMM");
  EXPECT_FALSE(c->yarn.has_value());
}

TEST(Config, LayerTypesAndSparseStep) {
  json j = tinyConfig();
  j["layer_types"] = {"full_attention", "linear_attention", "linear_attention",
                      "linear_attention", "full_attention", "linear_attention",
                      "linear_attention", "linear_attention"};
  j["decoder_sparse_step"] = 2;
  j["mlp_only_layers"] = {3};
  auto c = parse(j);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_FALSE(c->isLinearAttention(0));
  EXPECT_FALSE(c->isLinearAttention(4));
  EXPECT_TRUE(c->isLinearAttention(3));
  // MoE where (i + 1) % 2 == 0 and i is not in mlp_only_layers.
  EXPECT_EQ(c->moeLayers, (std::vector<bool>{false, true, false, false, false,
                                             true, false, true}));
}

TEST(Config, RopeSpellings) {
  json v4 = tinyConfig();
  v4["rope_scaling"] = {{"rope_type", "yarn"},
                        {"factor", 4.0},
                        {"original_max_position_embeddings", 262144}};
  auto c = parse(v4);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  ASSERT_TRUE(c->yarn.has_value());
  EXPECT_EQ(c->yarn->factor, 4.0);
  EXPECT_EQ(c->yarn->originalMaxPositionEmbeddings, 262144);
  EXPECT_EQ(c->yarn->betaFast, 32.0);

  // v5: everything in rope_parameters (and the old "type" key in scaling).
  json v5 = tinyConfig();
  v5.erase("rope_theta");
  v5.erase("partial_rotary_factor");
  v5.erase("rope_scaling");
  v5["rope_parameters"] = {{"rope_type", "yarn"},
                           {"rope_theta", 1e7},
                           {"partial_rotary_factor", 0.5},
                           {"factor", 2.0}};
  c = parse(v5);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->ropeTheta, 1e7);
  EXPECT_EQ(c->attention.rotaryDim, 32);
  ASSERT_TRUE(c->yarn.has_value());
  EXPECT_EQ(c->yarn->originalMaxPositionEmbeddings, 4096);

  json old = tinyConfig();
  old["rope_scaling"] = {{"type", "default"}};
  EXPECT_EQ(errorOf(old), "");
}

TEST(Config, Qwen35Wrapper) {
  json text = tinyConfig();
  text["model_type"] = "qwen3_5_moe_text";
  text.erase("rope_theta");
  text.erase("partial_rotary_factor");
  text["rope_parameters"] = {{"rope_type", "default"},
                             {"rope_theta", 1e7},
                             {"partial_rotary_factor", 0.25},
                             {"mrope_section", {3, 3, 2}},
                             {"mrope_interleaved", true}};
  json j = {{"model_type", "qwen3_5_moe"}, {"text_config", text}};
  auto c = parse(j);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->family, ModelFamily::Qwen35MoE);
  EXPECT_TRUE(c->multimodalWrapper);
  EXPECT_EQ(c->tensorPrefix(), "model.language_model.");
  EXPECT_TRUE(c->normTopkProb);

  text["model_type"] = "qwen3_5_text";
  j = {{"model_type", "qwen3_5"}, {"text_config", text}};
  c = parse(j);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->family, ModelFamily::Qwen35);
  for (bool moe : c->moeLayers)
    EXPECT_FALSE(moe);

  // Errors name the field with its path.
  text["linear_num_value_heads"] = 3;
  j["text_config"] = text;
  EXPECT_EQ(errorOf(j), "config.json: text_config.linear_num_value_heads (3) "
                        "must be a multiple of linear_num_key_heads (2)");
}

/// Each malformed config gets one line naming the file and the field.
struct BadCase {
  const char *what;
  std::function<void(json &)> edit;
  const char *message;
};

TEST(Config, BadInputs) {
  const BadCase cases[] = {
      {"heads do not divide",
       [](json &j) {
         j["linear_num_value_heads"] = 30;
         j["linear_num_key_heads"] = 16;
       },
       "config.json: linear_num_value_heads (30) must be a multiple of "
       "linear_num_key_heads (16)"},
      {"mistyped field", [](json &j) { j["hidden_size"] = "128"; },
       "config.json: hidden_size must be an integer, got \"128\""},
      {"negative", [](json &j) { j["num_hidden_layers"] = -1; },
       "config.json: num_hidden_layers (-1) must be positive"},
      {"too many layers", [](json &j) { j["num_hidden_layers"] = 8512; },
       "config.json: num_hidden_layers (8512) exceeds 1024, the most qnext "
       "compiles"},
      {"too many experts", [](json &j) { j["num_experts"] = 20000; },
       "config.json: num_experts (20000) in 8 MoE layers and the MTP head's exceeds "
       "131072 expert weight sets, the most qnext compiles"},
      {"too many experts, every decoder layer dense",
       [](json &j) {
         j["num_experts"] = 100000000;
         j["mlp_only_layers"] = {0, 1, 2, 3, 4, 5, 6, 7};
       },
       "config.json: num_experts (100000000) in 0 MoE layers and the MTP head's "
       "exceeds 131072 expert weight sets, the most qnext compiles"},
      {"attention heads", [](json &j) { j["num_key_value_heads"] = 3; },
       "config.json: num_attention_heads (4) must be a multiple of "
       "num_key_value_heads (3)"},
      {"rotary > head_dim", [](json &j) { j["partial_rotary_factor"] = 1.5; },
       "config.json: partial_rotary_factor (1.500000) must be in (0, 1]"},
      {"rotary odd", [](json &j) { j["head_dim"] = 68; },
       "config.json: rotary dim (head_dim * partial_rotary_factor) (17) must "
       "be positive and even"},
      {"top-k > experts", [](json &j) { j["num_experts_per_tok"] = 9; },
       "config.json: num_experts_per_tok (9) must not exceed num_experts (8)"},
      {"unknown model_type", [](json &j) { j["model_type"] = "llama"; },
       "config.json: model_type 'llama' is not supported (expected "
       "qwen3_next, qwen3_5_text, qwen3_5_moe_text, or qwen3_5 / qwen3_5_moe "
       "with a text_config)"},
      {"rope_type",
       [](json &j) {
         j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
       },
       "config.json: rope_scaling.rope_type 'dynamic' is not supported "
       "(expected default or yarn)"},
      {"yarn factor",
       [](json &j) {
         j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 0.5}};
       },
       "config.json: rope_scaling.factor (0.5) must be a finite number >= 1"},
      {"rope_theta", [](json &j) { j["rope_theta"] = 0; },
       "config.json: rope_theta must be positive"},
      {"layer_types length", [](json &j) { j["layer_types"] = {"full_attention"}; },
       "config.json: layer_types must be a list of 8 entries "
       "(num_hidden_layers), got [\"full_attention\"]"},
      {"layer_types value",
       [](json &j) {
         j["layer_types"] = json::array();
         for (int i = 0; i < 8; ++i)
           j["layer_types"].push_back(i ? "linear_attention" : "mamba");
       },
       "config.json: layer_types[0] must be \"linear_attention\" or "
       "\"full_attention\", got \"mamba\""},
      {"mlp_only_layers", [](json &j) { j["mlp_only_layers"] = {9}; },
       "config.json: mlp_only_layers holds 9, not a layer index in [0, 8)"},
      {"conv kernel", [](json &j) { j["linear_conv_kernel_dim"] = 1; },
       "config.json: linear_conv_kernel_dim (1) must be at least 2"},
      {"activation", [](json &j) { j["hidden_act"] = "gelu"; },
       "config.json: hidden_act 'gelu' is not supported (expected silu)"},
      {"bool", [](json &j) { j["tie_word_embeddings"] = 1; },
       "config.json: tie_word_embeddings must be true or false, got 1"},
      {"wrapper without text_config",
       [](json &j) {
         j = {{"model_type", "qwen3_5"}};
       },
       "config.json: model_type 'qwen3_5' needs a text_config object"},
      {"not an object",
       [](json &j) {
         j = json::array({1, 2});
       },
       "config.json: must hold a JSON object, got [1,2]"},
  };
  for (const BadCase &bad : cases) {
    json j = tinyConfig();
    bad.edit(j);
    EXPECT_EQ(errorOf(j), bad.message) << bad.what;
  }
  auto c = parseModelConfig("{\"model_type\": ", "config.json");
  ASSERT_FALSE(static_cast<bool>(c));
  EXPECT_EQ(llvm::toString(c.takeError()), "config.json: not valid JSON");
}

TEST(Config, MissingFile) {
  auto c = loadModelConfig("/nonexistent/config.json");
  ASSERT_FALSE(static_cast<bool>(c));
  EXPECT_EQ(llvm::toString(c.takeError()),
            "/nonexistent/config.json: No such file or directory");
}

/// A field config.json leaves out, the value transformers' configuration
/// class gives it, and where that default is written.
struct DefaultCase {
  const char *field;
  double value;
  const char *source;
};

/// Reads one parsed field by its config.json name.
double fieldOf(const ModelConfig &c, const std::string &field) {
  if (field == "vocab_size") return double(c.vocabSize);
  if (field == "hidden_size") return double(c.hiddenSize);
  if (field == "intermediate_size") return double(c.intermediateSize);
  if (field == "num_hidden_layers") return double(c.numLayers);
  if (field == "num_attention_heads") return double(c.attention.numHeads);
  if (field == "num_key_value_heads") return double(c.attention.numKVHeads);
  if (field == "head_dim") return double(c.attention.headDim);
  if (field == "max_position_embeddings") return double(c.maxPositionEmbeddings);
  if (field == "rms_norm_eps") return c.rmsNormEps;
  if (field == "tie_word_embeddings") return c.tieWordEmbeddings;
  if (field == "rope_theta") return c.ropeTheta;
  if (field == "partial_rotary_factor") return c.partialRotaryFactor;
  if (field == "linear_conv_kernel_dim") return double(c.convKernel);
  if (field == "linear_key_head_dim") return double(c.deltaNet.keyHeadDim);
  if (field == "linear_value_head_dim") return double(c.deltaNet.valueHeadDim);
  if (field == "linear_num_key_heads") return double(c.deltaNet.numKeyHeads);
  if (field == "linear_num_value_heads") return double(c.deltaNet.numValueHeads);
  if (field == "num_experts") return double(c.numExperts);
  if (field == "num_experts_per_tok") return double(c.numExpertsPerTok);
  if (field == "moe_intermediate_size") return double(c.moeIntermediateSize);
  if (field == "shared_expert_intermediate_size")
    return double(c.sharedExpertIntermediateSize);
  if (field == "norm_topk_prob") return c.normTopkProb;
  if (field == "full_attention_interval") // the first full-attention layer + 1
    return double(c.layerPattern().find('F') + 1);
  if (field == "decoder_sparse_step") // the first MoE layer + 1
    return double(c.mlpPattern().find('M') + 1);
  ADD_FAILURE() << "no reader for " << field;
  return NAN;
}

void expectDefaults(const json &config, const std::vector<DefaultCase> &cases) {
  auto c = parse(config);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  for (const DefaultCase &d : cases)
    EXPECT_EQ(fieldOf(*c, d.field), d.value) << d.field << " (" << d.source << ")";
  // Each default used is named for the compiler's messages ("F = V").
  for (const DefaultCase &d : cases) {
    std::string field = d.field;
    if (llvm::is_contained({"tie_word_embeddings", "norm_topk_prob",
                            "intermediate_size"},
                           field))
      continue; // flags, and a width no layer uses, are not named
    EXPECT_TRUE(llvm::any_of(c->defaulted, [&](const std::string &entry) {
      llvm::StringRef name = llvm::StringRef(entry).split(' ').first;
      return name == field || name.ends_with("." + field);
    })) << field << " is not among the named defaults";
  }
}

// Sources: transformers src/transformers/models/qwen3_next/
// configuration_qwen3_next.py, Qwen3NextConfig.__init__ arguments; rope_theta
// and partial_rotary_factor there too (v4 spelling); v5 keeps them through
// RotaryEmbeddingConfigMixin (default_theta 10000.0).
TEST(Config, Qwen3NextClassDefaults) {
  const char *init = "Qwen3NextConfig.__init__";
  expectDefaults({{"model_type", "qwen3_next"}},
                 {{"vocab_size", 151936, init},
                  {"hidden_size", 2048, init},
                  {"intermediate_size", 5632, init},
                  {"num_hidden_layers", 48, init},
                  {"num_attention_heads", 16, init},
                  {"num_key_value_heads", 2, init},
                  {"head_dim", 256, init},
                  {"max_position_embeddings", 32768, init},
                  {"rms_norm_eps", 1e-6, init},
                  {"tie_word_embeddings", false, init},
                  {"rope_theta", 10000.0, init},
                  {"partial_rotary_factor", 0.25, init},
                  {"linear_conv_kernel_dim", 4, init},
                  {"linear_key_head_dim", 128, init},
                  {"linear_value_head_dim", 128, init},
                  {"linear_num_key_heads", 16, init},
                  {"linear_num_value_heads", 32, init},
                  {"decoder_sparse_step", 1, init},
                  {"moe_intermediate_size", 512, init},
                  {"shared_expert_intermediate_size", 512, init},
                  {"num_experts_per_tok", 10, init},
                  {"num_experts", 512, init},
                  {"norm_topk_prob", true, init},
                  {"full_attention_interval", 4,
                   "__init__: kwargs.get(\"full_attention_interval\", 4)"}});
}

// Sources: transformers src/transformers/models/qwen3_5/
// configuration_qwen3_5.py, Qwen3_5TextConfig.__init__;
// partial_rotary_factor by its kwargs.setdefault("partial_rotary_factor",
// 0.25); rope_theta by PreTrainedConfig's default_theta (10000.0);
// tie_word_embeddings by the wrapper Qwen3_5Config.__init__ (False).
TEST(Config, Qwen35TextClassDefaults) {
  const char *init = "Qwen3_5TextConfig.__init__";
  json wrapper = {{"model_type", "qwen3_5"}, {"text_config", json::object()}};
  expectDefaults(wrapper,
                 {{"vocab_size", 248320, init},
                  {"hidden_size", 4096, init},
                  {"intermediate_size", 12288, init},
                  {"num_hidden_layers", 32, init},
                  {"num_attention_heads", 16, init},
                  {"num_key_value_heads", 4, init},
                  {"head_dim", 256, init},
                  {"max_position_embeddings", 32768, init},
                  {"rms_norm_eps", 1e-6, init},
                  {"tie_word_embeddings", false, "Qwen3_5Config.__init__"},
                  {"rope_theta", 10000.0, "PreTrainedConfig default_theta"},
                  {"partial_rotary_factor", 0.25, "kwargs.setdefault"},
                  {"linear_conv_kernel_dim", 4, init},
                  {"linear_key_head_dim", 128, init},
                  {"linear_value_head_dim", 128, init},
                  {"linear_num_key_heads", 16, init},
                  {"linear_num_value_heads", 32, init},
                  {"full_attention_interval", 4, "kwargs.get(..., 4)"}});
  // Without the wrapper too.
  expectDefaults({{"model_type", "qwen3_5_text"}},
                 {{"hidden_size", 4096, init}, {"intermediate_size", 12288, init}});
}

// Sources: transformers src/transformers/models/qwen3_5_moe/
// configuration_qwen3_5_moe.py, Qwen3_5MoeTextConfig.__init__ (no
// intermediate_size, no norm_topk_prob: the router always renormalises).
TEST(Config, Qwen35MoETextClassDefaults) {
  const char *init = "Qwen3_5MoeTextConfig.__init__";
  json wrapper = {{"model_type", "qwen3_5_moe"}, {"text_config", json::object()}};
  expectDefaults(wrapper,
                 {{"vocab_size", 248320, init},
                  {"hidden_size", 2048, init},
                  {"num_hidden_layers", 40, init},
                  {"num_attention_heads", 16, init},
                  {"num_key_value_heads", 2, init},
                  {"head_dim", 256, init},
                  {"max_position_embeddings", 32768, init},
                  {"rms_norm_eps", 1e-6, init},
                  {"tie_word_embeddings", false, "Qwen3_5MoeConfig.__init__"},
                  {"rope_theta", 10000.0, "PreTrainedConfig default_theta"},
                  {"partial_rotary_factor", 0.25, "kwargs.setdefault"},
                  {"linear_conv_kernel_dim", 4, init},
                  {"linear_key_head_dim", 128, init},
                  {"linear_value_head_dim", 128, init},
                  {"linear_num_key_heads", 16, init},
                  {"linear_num_value_heads", 32, init},
                  {"moe_intermediate_size", 512, init},
                  {"shared_expert_intermediate_size", 512, init},
                  {"num_experts_per_tok", 8, init},
                  {"num_experts", 256, init},
                  {"norm_topk_prob", true, "the MoE block renormalises"},
                  {"intermediate_size", 0, "not a field of the class"}});
}

// A wrapper's embeddings are tied by its top-level flag, as transformers
// ties Qwen3_5*ForConditionalGeneration; a text_config that says otherwise
// is remembered for the missing-lm_head message.
TEST(Config, WrapperTieFlag) {
  json j = {{"model_type", "qwen3_5"},
            {"tie_word_embeddings", true},
            {"text_config", json::object()}};
  auto c = parse(j);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_TRUE(c->tieWordEmbeddings);
  EXPECT_TRUE(c->tieNote.empty());

  j["tie_word_embeddings"] = false;
  j["text_config"]["tie_word_embeddings"] = true;
  c = parse(j);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_FALSE(c->tieWordEmbeddings);
  EXPECT_EQ(c->tieNote, "text_config.tie_word_embeddings is true, the top-level "
                        "tie_word_embeddings, which transformers follows for "
                        "this wrapper, is false");
}

// rope_parameters and the top-level spelling: either fills in for the other;
// both, and different, is an error naming both.
TEST(Config, RopeBothSpellings) {
  json j = tinyConfig();
  j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e7}};
  j.erase("rope_theta");
  j["partial_rotary_factor"] = 0.5; // not the class default
  auto c = parse(j);
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->ropeTheta, 1e7);
  EXPECT_EQ(c->partialRotaryFactor, 0.5); // from the top level
  j["rope_theta"] = 1e6;
  EXPECT_EQ(errorOf(j), "config.json: rope_parameters.rope_theta (10000000.0) "
                        "and rope_theta (1000000.0) differ");
}

} // namespace
