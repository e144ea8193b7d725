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
       [](json &j) { j["linear_num_value_heads"] = 30; j["linear_num_key_heads"] = 16; },
       "config.json: linear_num_value_heads (30) must be a multiple of "
       "linear_num_key_heads (16)"},
      {"missing field", [](json &j) { j.erase("hidden_size"); },
       "config.json: missing field 'hidden_size'"},
      {"mistyped field", [](json &j) { j["hidden_size"] = "128"; },
       "config.json: hidden_size must be an integer, got \"128\""},
      {"negative", [](json &j) { j["num_hidden_layers"] = -1; },
       "config.json: num_hidden_layers (-1) must be positive"},
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
      {"rope_type", [](json &j) { j["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}}; },
       "config.json: rope_scaling.rope_type 'dynamic' is not supported "
       "(expected default or yarn)"},
      {"yarn factor", [](json &j) { j["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 0.5}}; },
       "config.json: rope_scaling.factor (0.5) must be a finite number >= 1"},
      {"rope_theta", [](json &j) { j["rope_theta"] = 0; },
       "config.json: rope_theta must be positive"},
      {"layer_types length", [](json &j) { j["layer_types"] = {"full_attention"}; },
       "config.json: layer_types must be a list of 8 entries "
       "(num_hidden_layers), got [\"full_attention\"]"},
      {"layer_types value", [](json &j) { j["layer_types"] = json::array(); for (int i = 0; i < 8; ++i) j["layer_types"].push_back(i ? "linear_attention" : "mamba"); },
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
      {"wrapper without text_config", [](json &j) { j = {{"model_type", "qwen3_5"}}; },
       "config.json: model_type 'qwen3_5' needs a text_config object"},
      {"not an object", [](json &j) { j = json::array({1, 2}); },
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

} // namespace
