//===- SafeTensorsTest.cpp - reader validation, inventory, synth round trip ===//

#include "qnext/Model/SafeTensors.h"
#include "qnext/Model/Synth.h"
#include "qnext/Model/WeightLayout.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

using namespace qnext;
using json = nlohmann::json;

namespace {

/// A safetensors image: 8-byte length, header text, data.
std::string image(const std::string &header, const std::string &data) {
  std::string out(8, '\0');
  llvm::support::endian::write64le(out.data(), header.size());
  return out + header + data;
}

std::string parseError(const std::string &img) {
  auto infos = parseSafeTensors("m.safetensors", img);
  if (infos)
    return "";
  return llvm::toString(infos.takeError());
}

TEST(SafeTensors, ValidFile) {
  std::string data(24, '\0');
  data[16] = 7;
  auto infos = parseSafeTensors(
      "m.safetensors",
      image(R"({"__metadata__":{"format":"pt"},)"
            R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},)"
            R"("b":{"dtype":"BF16","shape":[4],"data_offsets":[16,24]}})",
            data));
  ASSERT_TRUE(static_cast<bool>(infos)) << llvm::toString(infos.takeError());
  ASSERT_EQ(infos->size(), 2u);
  const TensorInfo &b = (*infos)[1];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.dtype, DType::BF16);
  EXPECT_EQ(b.shape, (std::vector<int64_t>{4}));
  EXPECT_EQ(b.begin, 16u);
  EXPECT_EQ(b.numBytes(), 8u);
}

TEST(SafeTensors, BadHeaders) {
  const std::string f32x4 = R"({"dtype":"F32","shape":[4],"data_offsets":[0,16]})";
  const std::string data16(16, '\0');
  struct Case {
    const char *what;
    std::string image;
    const char *message;
  } cases[] = {
      {"truncated", std::string(5, '\0'),
       "m.safetensors: truncated: 5 bytes, shorter than the 8-byte header "
       "length"},
      {"header past EOF", image("{}", "").substr(0, 9),
       "m.safetensors: header length 2 runs past the end of the file (9 "
       "bytes)"},
      {"huge header", [] {
         std::string s(16, '\0');
         llvm::support::endian::write64le(s.data(), 1ull << 40);
         return s;
       }(),
       "m.safetensors: header length 1099511627776 exceeds the 100 MiB limit"},
      {"bad JSON", image("{\"a\": ", ""), "m.safetensors: header is not valid JSON"},
      {"not an object", image("[1]", ""), "m.safetensors: header must be a JSON object"},
      {"unknown dtype",
       image(R"({"a":{"dtype":"F12","shape":[4],"data_offsets":[0,16]}})", data16),
       "m.safetensors: tensor 'a': unknown dtype 'F12'"},
      {"no dtype", image(R"({"a":{"shape":[4],"data_offsets":[0,16]}})", data16),
       "m.safetensors: tensor 'a': dtype missing or not a string"},
      {"negative dim",
       image(R"({"a":{"dtype":"F32","shape":[-4],"data_offsets":[0,16]}})", data16),
       "m.safetensors: tensor 'a': shape holds -4, not a non-negative integer"},
      {"offsets past EOF",
       image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", "12345678"),
       "m.safetensors: tensor 'a': data_offsets [0,16] run past the end of the "
       "data (8 bytes)"},
      {"offsets reversed",
       image(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", data16),
       "m.safetensors: tensor 'a': data_offsets [8,0] end before they begin"},
      {"offsets malformed",
       image(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0]}})", data16),
       "m.safetensors: tensor 'a': data_offsets must be two non-negative "
       "integers"},
      {"size mismatch",
       image(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", data16),
       "m.safetensors: tensor 'a': data_offsets [0,16] hold 16 bytes but shape "
       "[3] of F32 needs 12"},
      {"overflowing shape",
       image(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", data16),
       "m.safetensors: tensor 'a': shape [4294967296,4294967296] is too large"},
      {"overlap",
       image("{\"a\":" + f32x4 +
                 R"(,"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
             data16),
       "m.safetensors: tensors 'a' and 'b' overlap in the data"},
      {"entry not an object", image(R"({"a":3})", ""),
       "m.safetensors: tensor 'a': entry must be an object"},
      {"bad metadata", image(R"({"__metadata__":3})", ""),
       "m.safetensors: __metadata__ must be an object"},
  };
  for (const Case &c : cases)
    EXPECT_EQ(parseError(c.image), c.message) << c.what;
}

//===----------------------------------------------------------------------===//
// Checkpoint folders
//===----------------------------------------------------------------------===//

class CheckpointTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qnext-test", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string path(llvm::StringRef file) const {
    llvm::SmallString<256> p(dir);
    llvm::sys::path::append(p, file);
    return std::string(p);
  }
  void write(llvm::StringRef file, llvm::StringRef contents) {
    std::error_code ec;
    llvm::raw_fd_ostream os(path(file), ec);
    ASSERT_FALSE(ec);
    os << contents;
  }
  std::string read(llvm::StringRef file) {
    auto buffer = llvm::MemoryBuffer::getFile(path(file));
    return buffer ? (*buffer)->getBuffer().str() : "";
  }
  /// Rewrites the header of a safetensors file, keeping its data.
  void editHeader(llvm::StringRef file, const std::function<void(json &)> &edit) {
    std::string img = read(file);
    uint64_t n = llvm::support::endian::read64le(img.data());
    json header = json::parse(img.substr(8, n));
    edit(header);
    write(file, image(header.dump(), img.substr(8 + n)));
  }
  std::string openError() {
    auto c = Checkpoint::open(dir);
    return c ? "" : llvm::toString(c.takeError());
  }
  /// Synthesizes the tiny preset here.
  void synth(SynthOptions options = {}) {
    llvm::Error e = writeSynthCheckpoint(dir, options);
    ASSERT_FALSE(static_cast<bool>(e)) << llvm::toString(std::move(e));
  }
  ModelConfig tinyConfig(const std::vector<std::string> &overrides = {}) {
    SynthOptions options;
    options.overrides = overrides;
    auto text = synthConfig(options);
    EXPECT_TRUE(static_cast<bool>(text));
    auto config = parseModelConfig(*text, "config.json");
    EXPECT_TRUE(static_cast<bool>(config));
    return *config;
  }
  std::string inventoryError(const ModelConfig &config) {
    auto checkpoint = Checkpoint::open(dir);
    if (!checkpoint)
      return "open: " + llvm::toString(checkpoint.takeError());
    WeightLayout layout(config, nullptr);
    auto report = layout.checkInventory(**checkpoint);
    return report ? "" : llvm::toString(report.takeError());
  }

  llvm::SmallString<128> dir;
};

TEST_F(CheckpointTest, MissingFile) {
  EXPECT_EQ(openError(), path("model.safetensors") +
                             ": No such file or directory");
}

TEST_F(CheckpointTest, ShardedIndexMustTellTheTruth) {
  SynthOptions options;
  options.shards = 3;
  synth(options);
  EXPECT_EQ(openError(), "");
  std::string index = read("model.safetensors.index.json");

  json j = json::parse(index);
  j["weight_map"]["lm_head.weight"] = "model-00001-of-00003.safetensors";
  write("model.safetensors.index.json", j.dump());
  EXPECT_EQ(openError(), "model.safetensors.index.json: tensor "
                         "'lm_head.weight' is mapped to "
                         "model-00001-of-00003.safetensors, which does not "
                         "hold it");

  j = json::parse(index);
  j["weight_map"]["lm_head.weight"] = "../../etc/passwd";
  write("model.safetensors.index.json", j.dump());
  EXPECT_EQ(openError(), "model.safetensors.index.json: "
                         "weight_map['lm_head.weight'] names "
                         "'../../etc/passwd', not a file in the folder");

  j = json::parse(index);
  j["weight_map"]["extra.weight"] = "model-00009-of-00009.safetensors";
  write("model.safetensors.index.json", j.dump());
  EXPECT_EQ(openError(), path("model-00009-of-00009.safetensors") +
                             ": No such file or directory");

  write("model.safetensors.index.json", "{\"weight_map\": 3}");
  EXPECT_EQ(openError(), "model.safetensors.index.json: weight_map missing or "
                         "not an object");

  // A tensor stored twice.
  write("model.safetensors.index.json", index);
  editHeader("model-00002-of-00003.safetensors", [](json &h) {
    auto first = h.begin();
    if (first.key() == "__metadata__")
      ++first;
    h["model.embed_tokens.weight"] = first.value();
    h.erase(first);
  });
  std::string error = openError();
  EXPECT_NE(error.find("tensor 'model.embed_tokens.weight' is also in "
                       "model-0000"),
            std::string::npos)
      << error;
}

TEST_F(CheckpointTest, Inventory) {
  SynthOptions options;
  options.mtp = true;
  synth(options);
  ModelConfig config = tinyConfig();
  EXPECT_EQ(inventoryError(config), "");

  auto checkpoint = Checkpoint::open(dir);
  ASSERT_TRUE(static_cast<bool>(checkpoint));
  WeightLayout layout(config, nullptr);
  auto report = layout.checkInventory(**checkpoint);
  ASSERT_TRUE(static_cast<bool>(report));
  EXPECT_EQ(report->mtpTensors, layout.mtpTensors().size());
  EXPECT_TRUE(report->unexpected.empty());
  EXPECT_FALSE(report->tiedLMHeadIgnored);

  // The config implies a ninth layer the checkpoint lacks.
  EXPECT_EQ(inventoryError(tinyConfig({"num_hidden_layers=9"})),
            "checkpoint: missing tensor "
            "'model.layers.8.input_layernorm.weight' (expected shape [128])");
  EXPECT_EQ(inventoryError(tinyConfig({"moe_intermediate_size=32"})),
            "model.safetensors: tensor "
            "'model.layers.0.mlp.experts.0.gate_proj.weight' has shape [64, "
            "128], expected [32, 128]");

  // Fewer layers: the eighth layer's tensors are unexpected, with a warning.
  ModelConfig seven = tinyConfig({"num_hidden_layers=7"});
  WeightLayout sevenLayout(seven, nullptr);
  report = sevenLayout.checkInventory(**checkpoint);
  ASSERT_TRUE(static_cast<bool>(report));
  ASSERT_FALSE(report->unexpected.empty());
  EXPECT_EQ(report->unexpected[0].rfind("'model.layers.7.", 0), 0u)
      << report->unexpected[0];
  for (const std::string &name : report->unexpected)
    EXPECT_NE(name.find("model.layers.7."), std::string::npos) << name;

  // Tied embeddings make lm_head.weight optional and ignored.
  ModelConfig tied = tinyConfig({"tie_word_embeddings=true"});
  WeightLayout tiedLayout(tied, nullptr);
  report = tiedLayout.checkInventory(**checkpoint);
  ASSERT_TRUE(static_cast<bool>(report));
  EXPECT_TRUE(report->unexpected.empty());
  EXPECT_TRUE(report->tiedLMHeadIgnored);
}

TEST_F(CheckpointTest, ExpertsShareADType) {
  // One expert's projection in F16 beside BF16 experts: they are stacked
  // into one tensor, so the inventory refuses it, naming both.
  synth();
  editHeader("model.safetensors", [](json &h) {
    h["model.layers.0.mlp.experts.3.gate_proj.weight"]["dtype"] = "F16";
  });
  EXPECT_EQ(inventoryError(tinyConfig()),
            "model.safetensors: tensor 'model.layers.0.mlp.experts.3.gate_proj.weight' "
            "has dtype F16, 'model.layers.0.mlp.experts.0.gate_proj.weight' has BF16: "
            "a layer's experts must share one dtype");
}

TEST_F(CheckpointTest, UnsupportedDTypes) {
  synth();
  editHeader("model.safetensors", [](json &h) {
    json &t = h["model.norm.weight"];
    t["dtype"] = "F8_E4M3";
    t["data_offsets"][1] = t["data_offsets"][0].get<uint64_t>() + 128;
  });
  EXPECT_EQ(inventoryError(tinyConfig()),
            "model.safetensors: tensor 'model.norm.weight' is F8_E4M3, but only "
            "projection matrices are stored in FP8");
  editHeader("model.safetensors", [](json &h) {
    h["model.norm.weight"]["dtype"] = "F8_E5M2";
  });
  EXPECT_EQ(inventoryError(tinyConfig()),
            "model.safetensors: tensor 'model.norm.weight' has dtype F8_E5M2: qnext "
            "reads FP8 weights as F8_E4M3 with block scales (the format of Qwen's "
            "FP8 repositories)");
  editHeader("model.safetensors", [](json &h) {
    h["model.norm.weight"]["dtype"] = "I8";
  });
  EXPECT_EQ(inventoryError(tinyConfig()),
            "model.safetensors: tensor 'model.norm.weight' has dtype I8, "
            "expected F32, BF16 or F16");
}

// An FP8 projection needs its block scale, of the shape its blocks give and
// a float dtype; with it, the weight is counted as FP8.
TEST_F(CheckpointTest, FP8Scales) {
  synth();
  const std::string w = "model.layers.0.linear_attn.out_proj.weight";
  uint64_t begin = 0;
  editHeader("model.safetensors", [&](json &h) {
    json &t = h[w];
    t["dtype"] = "F8_E4M3"; // [128, 128]: half the bytes of its BF16
    begin = t["data_offsets"][0].get<uint64_t>();
    t["data_offsets"][1] = begin + 128 * 128;
  });
  EXPECT_EQ(inventoryError(tinyConfig()),
            "model.safetensors: tensor '" + w + "' is F8_E4M3 without its block "
            "scale '" + w + "_scale_inv'");
  editHeader("model.safetensors", [&](json &h) {
    h[w + "_scale_inv"] = {{"dtype", "F32"},
                           {"shape", {2, 2}},
                           {"data_offsets", {begin + 16384, begin + 16400}}};
  });
  EXPECT_EQ(inventoryError(tinyConfig()),
            "model.safetensors: tensor '" + w + "_scale_inv' has shape [2, 2], "
            "expected [1, 1] (one scale per 128x128 block of [128, 128])");
  editHeader("model.safetensors", [&](json &h) {
    h[w + "_scale_inv"] = {{"dtype", "I32"},
                           {"shape", {1, 1}},
                           {"data_offsets", {begin + 16384, begin + 16388}}};
  });
  EXPECT_EQ(inventoryError(tinyConfig()),
            "model.safetensors: tensor '" + w + "_scale_inv' has dtype I32, "
            "expected F32, BF16 or F16");
  editHeader("model.safetensors", [&](json &h) {
    h[w + "_scale_inv"]["dtype"] = "F32";
  });
  auto checkpoint = Checkpoint::open(dir);
  ASSERT_TRUE(static_cast<bool>(checkpoint)) << llvm::toString(checkpoint.takeError());
  ModelConfig config = tinyConfig(); // WeightLayout keeps a reference
  WeightLayout layout(config, nullptr);
  auto report = layout.checkInventory(**checkpoint);
  ASSERT_TRUE(static_cast<bool>(report)) << llvm::toString(report.takeError());
  EXPECT_EQ(report->fp8Tensors, 1u);
  EXPECT_TRUE(report->unexpected.empty()); // the scale is read, not extra
}

/// qnext-synth -> reader gives back exactly the generated bytes.
TEST_F(CheckpointTest, SynthRoundTrip) {
  for (DType dtype : {DType::BF16, DType::F32}) {
    for (unsigned shards : {1u, 4u}) {
      llvm::sys::fs::remove_directories(dir);
      SynthOptions options;
      options.dtype = dtype;
      options.shards = shards;
      options.seed = 7;
      synth(options);
      auto checkpoint = Checkpoint::open(dir);
      ASSERT_TRUE(static_cast<bool>(checkpoint))
          << llvm::toString(checkpoint.takeError());
      ASSERT_EQ((*checkpoint)->numFiles(), shards);
      ModelConfig config = tinyConfig();
      WeightLayout layout(config, nullptr);
      for (const ExpectedTensor &t : layout.checkpointTensors()) {
        const TensorInfo *info = (*checkpoint)->find(t.name);
        ASSERT_NE(info, nullptr) << t.name;
        EXPECT_EQ(info->dtype, dtype);
        SynthGenerator gen(t.name, /*seed=*/7, /*initializerRange=*/0.05,
                           config.convKernel);
        std::vector<float> values(info->numElements());
        for (float &v : values)
          v = gen.next();
        std::vector<uint8_t> expected;
        encodeFloats(values, dtype, expected);
        llvm::ArrayRef<uint8_t> actual = (*checkpoint)->bytes(*info);
        ASSERT_EQ(actual.size(), expected.size()) << t.name;
        EXPECT_TRUE(std::equal(actual.begin(), actual.end(), expected.begin()))
            << t.name;
      }
    }
  }
}

TEST(Synth, Deterministic) {
  SynthGenerator a("model.layers.0.mlp.gate.weight", 3, 0.02, 4);
  SynthGenerator b("model.layers.0.mlp.gate.weight", 3, 0.02, 4);
  SynthGenerator c("model.layers.0.mlp.gate.weight", 4, 0.02, 4);
  int same = 0;
  for (int i = 0; i < 100; ++i) {
    float x = a.next(), y = b.next(), z = c.next();
    EXPECT_EQ(x, y);
    same += x == z;
    EXPECT_LE(std::abs(x), 0.02f * 1.7321f);
  }
  EXPECT_LT(same, 5);
}

/// --repeat N: every tensor's stream restarts every N values, the router's
/// excepted; without it nothing repeats.
TEST(Synth, Repeat) {
  auto draw = [](const char *name, uint64_t repeat) {
    SynthGenerator gen(name, 1, 0.02, 4, repeat);
    std::vector<float> v(3 * 16 + 5);
    for (float &x : v)
      x = gen.next();
    return v;
  };
  std::vector<float> plain = draw("model.layers.0.mlp.experts.3.up_proj.weight", 0);
  std::vector<float> rep = draw("model.layers.0.mlp.experts.3.up_proj.weight", 16);
  std::vector<float> router = draw("model.layers.0.mlp.gate.weight", 16);
  for (size_t i = 0; i < 16; ++i) // the first period is the plain stream
    EXPECT_EQ(rep[i], plain[i]) << i;
  int plainRepeats = 0, routerRepeats = 0;
  for (size_t i = 16; i < rep.size(); ++i) {
    EXPECT_EQ(rep[i], rep[i % 16]) << i;
    plainRepeats += plain[i] == plain[i % 16];
    routerRepeats += router[i] == router[i % 16];
  }
  EXPECT_EQ(plainRepeats, 0);
  EXPECT_EQ(routerRepeats, 0);
}

TEST(Synth, BF16RoundsToNearestEven) {
  std::vector<uint8_t> out;
  // 1 + 2^-8 is halfway between bf16 1.0 and 1 + 2^-7: ties go to even (1.0);
  // 1 + 3*2^-8 ties to 1 + 2^-6.
  encodeFloats({1.0f + 0x1.0p-8f, 1.0f + 3 * 0x1.0p-8f, -2.0f}, DType::BF16,
               out);
  ASSERT_EQ(out.size(), 6u);
  EXPECT_EQ(llvm::support::endian::read16le(&out[0]), 0x3F80);
  EXPECT_EQ(llvm::support::endian::read16le(&out[2]), 0x3F82);
  EXPECT_EQ(llvm::support::endian::read16le(&out[4]), 0xC000);
}

TEST(Synth, ConfigErrors) {
  SynthOptions options;
  options.preset = "huge";
  auto text = synthConfig(options);
  ASSERT_FALSE(static_cast<bool>(text));
  EXPECT_EQ(llvm::toString(text.takeError()),
            "unknown preset 'huge' (expected tiny, bench, tiny-qwen35, "
            "tiny-qwen35-moe, qwen35-0.8b)");
  options.preset = "tiny";
  options.overrides = {"num_experts_per_tok=20"};
  text = synthConfig(options);
  ASSERT_FALSE(static_cast<bool>(text));
  EXPECT_EQ(llvm::toString(text.takeError()),
            "config.json: num_experts_per_tok (20) must not exceed num_experts "
            "(8)");
  options.overrides = {"novalue"};
  text = synthConfig(options);
  ASSERT_FALSE(static_cast<bool>(text));
  EXPECT_EQ(llvm::toString(text.takeError()),
            "--set 'novalue' must read field=value");
}

// The real small Qwen3.5 geometry, in the wrapper's official spelling: the
// embeddings tied at the top level (which transformers reads) and in
// text_config, as Qwen3.5-0.8B's config.json has them.
TEST(Synth, Qwen35SmallPreset) {
  SynthOptions options;
  options.preset = "qwen35-0.8b";
  auto text = synthConfig(options);
  ASSERT_TRUE(static_cast<bool>(text)) << llvm::toString(text.takeError());
  auto c = parseModelConfig(*text, "config.json");
  ASSERT_TRUE(static_cast<bool>(c)) << llvm::toString(c.takeError());
  EXPECT_EQ(c->family, ModelFamily::Qwen35);
  EXPECT_EQ(c->hiddenSize, 1024);
  EXPECT_EQ(c->numLayers, 24);
  EXPECT_EQ(c->layerPattern(), "LLLFLLLFLLLFLLLFLLLFLLLF");
  EXPECT_EQ(c->attention.numHeads, 8);
  EXPECT_EQ(c->attention.rotaryDim, 64);
  EXPECT_EQ(c->intermediateSize, 3584);
  EXPECT_EQ(c->vocabSize, 248320);
  EXPECT_TRUE(c->tieWordEmbeddings);
  auto j = nlohmann::json::parse(*text);
  EXPECT_EQ(j["tie_word_embeddings"], true);
  EXPECT_EQ(j["text_config"]["tie_word_embeddings"], true);
}

// --expert-layout: the same weights under the other names; a dense preset
// has no experts to lay out.
TEST(Synth, ExpertLayouts) {
  llvm::SmallString<128> root;
  ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("qnext-synth-layout", root));
  auto write = [&](const char *preset, std::optional<ExpertLayout> layout,
                   const std::string &name) -> std::unique_ptr<Checkpoint> {
    SynthOptions options;
    options.preset = preset;
    options.expertLayout = layout;
    std::string dir = std::string(root) + "/" + name;
    llvm::Error e = writeSynthCheckpoint(dir, options);
    EXPECT_FALSE(bool(e)) << llvm::toString(std::move(e));
    auto c = Checkpoint::open(dir);
    EXPECT_TRUE(bool(c)) << llvm::toString(c.takeError());
    return c ? std::move(*c) : nullptr;
  };
  const std::string p = "model.language_model.layers.0.mlp.experts.";
  auto fused = write("tiny-qwen35-moe", std::nullopt, "fused");
  auto split = write("tiny-qwen35-moe", ExpertLayout::PerExpert, "split");
  ASSERT_TRUE(fused && split);
  ASSERT_NE(fused->find(p + "gate_up_proj"), nullptr);
  EXPECT_EQ(fused->find(p + "0.gate_proj.weight"), nullptr);
  EXPECT_EQ(split->find(p + "gate_up_proj"), nullptr);
  ASSERT_NE(split->find(p + "7.down_proj.weight"), nullptr);
  EXPECT_EQ(split->find(p + "7.down_proj.weight")->shape,
            (std::vector<int64_t>{128, 64}));

  auto next = write("tiny", ExpertLayout::Fused, "next");
  ASSERT_TRUE(next);
  const TensorInfo *gateUp = next->find("model.layers.0.mlp.experts.gate_up_proj");
  ASSERT_NE(gateUp, nullptr);
  EXPECT_EQ(gateUp->shape, (std::vector<int64_t>{8, 128, 128}));

  SynthOptions dense;
  dense.preset = "tiny-qwen35";
  dense.expertLayout = ExpertLayout::Fused;
  llvm::Error e = writeSynthCheckpoint(std::string(root) + "/dense", dense);
  EXPECT_EQ(llvm::toString(std::move(e)),
            "--expert-layout: preset 'tiny-qwen35' has no routed experts");
  llvm::sys::fs::remove_directories(root);
}

} // namespace
