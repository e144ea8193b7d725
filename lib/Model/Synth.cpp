//===- Synth.cpp - deterministic random-weight test checkpoints -----------===//

#include "qnext/Model/Synth.h"
#include "qnext/Model/Config.h"
#include "qnext/Model/FP8.h"
#include "qnext/Model/WeightLayout.h"
#include "qnext/Support/AtomicFile.h"

#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Support/xxhash.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>

using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
using ordered_json = nlohmann::ordered_json;

namespace qnext {

//===----------------------------------------------------------------------===//
// Presets
//===----------------------------------------------------------------------===//

static const SynthPreset kPresets[] = {
    {"tiny", "Qwen3-Next, the golden data's sizes: hidden 128, 8 layers "
             "(LLLF x2), 8 experts top-2, vocab 512"},
    {"bench", "Qwen3-Next, 80B widths cut to 8 layers: hidden 2048, DeltaNet "
              "16/32 x 128, attention 16/2 x 256, 64 experts top-10, vocab "
              "151936 (4.7 GiB in bf16)"},
    {"tiny-qwen35", "Qwen3.5 dense (multimodal wrapper, text_config, "
                    "rope_parameters): hidden 128, 4 layers, MLP 256"},
    {"tiny-qwen35-moe", "Qwen3.5-MoE (wrapper, experts fused as in the BF16 "
                        "repositories): hidden 128, 4 layers, 8 experts top-2"},
    {"qwen35-0.8b", "Qwen3.5-0.8B's geometry: hidden 1024, 24 layers (LLLF x6), "
                    "DeltaNet 16/16 x 128, attention 8/2 x 256, MLP 3584, vocab "
                    "248320, tied embeddings (1.7 GiB in bf16)"},
};

llvm::ArrayRef<SynthPreset> synthPresets() { return kPresets; }

namespace {

/// The text-model fields shared by the tiny presets.
ordered_json tinyText() {
  ordered_json t;
  t["hidden_size"] = 128;
  t["num_hidden_layers"] = 8;
  t["vocab_size"] = 512;
  t["max_position_embeddings"] = 4096;
  t["rms_norm_eps"] = 1e-6;
  t["hidden_act"] = "silu";
  t["initializer_range"] = 0.05;
  t["full_attention_interval"] = 4;
  t["linear_num_key_heads"] = 2;
  t["linear_num_value_heads"] = 4;
  t["linear_key_head_dim"] = 32;
  t["linear_value_head_dim"] = 32;
  t["linear_conv_kernel_dim"] = 4;
  t["num_attention_heads"] = 4;
  t["num_key_value_heads"] = 2;
  t["head_dim"] = 64;
  t["num_experts"] = 8;
  t["num_experts_per_tok"] = 2;
  t["moe_intermediate_size"] = 64;
  t["shared_expert_intermediate_size"] = 96;
  t["intermediate_size"] = 256;
  t["tie_word_embeddings"] = false;
  return t;
}

Expected<ordered_json> presetConfig(StringRef preset, StringRef dtype) {
  ordered_json c;
  if (preset == "tiny" || preset == "bench") {
    c["architectures"] = {"Qwen3NextForCausalLM"};
    c["model_type"] = "qwen3_next";
    ordered_json text = tinyText();
    for (auto &[key, value] : text.items())
      c[key] = value;
    c["decoder_sparse_step"] = 1;
    c["mlp_only_layers"] = ordered_json::array();
    c["norm_topk_prob"] = true;
    c["partial_rotary_factor"] = 0.25;
    c["rope_theta"] = 10000.0;
    c["rope_scaling"] = nullptr;
    if (preset == "bench") {
      c["hidden_size"] = 2048;
      c["vocab_size"] = 151936;
      c["max_position_embeddings"] = 262144;
      c["initializer_range"] = 0.02;
      c["linear_num_key_heads"] = 16;
      c["linear_num_value_heads"] = 32;
      c["linear_key_head_dim"] = 128;
      c["linear_value_head_dim"] = 128;
      c["num_attention_heads"] = 16;
      c["num_key_value_heads"] = 2;
      c["head_dim"] = 256;
      c["num_experts"] = 64;
      c["num_experts_per_tok"] = 10;
      c["moe_intermediate_size"] = 512;
      c["shared_expert_intermediate_size"] = 512;
      c["intermediate_size"] = 5120;
      c["rope_theta"] = 10000000.0;
    }
    c["torch_dtype"] = dtype;
    return c;
  }
  if (preset == "tiny-qwen35" || preset == "tiny-qwen35-moe" ||
      preset == "qwen35-0.8b") {
    bool moe = preset == "tiny-qwen35-moe";
    bool small = preset == "qwen35-0.8b";
    ordered_json t;
    t["model_type"] = moe ? "qwen3_5_moe_text" : "qwen3_5_text";
    ordered_json text = tinyText();
    for (auto &[key, value] : text.items())
      t[key] = value;
    t["num_hidden_layers"] = 4;
    if (small) {
      t["hidden_size"] = 1024;
      t["num_hidden_layers"] = 24;
      t["vocab_size"] = 248320;
      t["max_position_embeddings"] = 262144;
      t["initializer_range"] = 0.02;
      t["linear_num_key_heads"] = 16;
      t["linear_num_value_heads"] = 16;
      t["linear_key_head_dim"] = 128;
      t["linear_value_head_dim"] = 128;
      t["num_attention_heads"] = 8;
      t["num_key_value_heads"] = 2;
      t["head_dim"] = 256;
      t["intermediate_size"] = 3584;
      // Tied, in both places, as Qwen3.5-0.8B's config.json says it.
      t["tie_word_embeddings"] = true;
    }
    if (!moe)
      for (const char *key : {"num_experts", "num_experts_per_tok",
                              "moe_intermediate_size",
                              "shared_expert_intermediate_size"})
        t.erase(key);
    t["layer_types"] = ordered_json::array();
    for (int64_t i = 0; i < t["num_hidden_layers"].get<int64_t>(); ++i)
      t["layer_types"].push_back((i + 1) % 4 ? "linear_attention"
                                             : "full_attention");
    t["attn_output_gate"] = true;
    t["mtp_num_hidden_layers"] = 1;
    t["rope_parameters"] = {{"rope_type", "default"},
                            {"rope_theta", 10000000.0},
                            {"partial_rotary_factor", 0.25},
                            {"mrope_section", small ? ordered_json{11, 11, 10}
                                                    : ordered_json{3, 3, 2}},
                            {"mrope_interleaved", true}};
    t["dtype"] = dtype;
    c["architectures"] = {moe ? "Qwen3_5MoeForConditionalGeneration"
                              : "Qwen3_5ForConditionalGeneration"};
    c["model_type"] = moe ? "qwen3_5_moe" : "qwen3_5";
    c["text_config"] = t;
    c["tie_word_embeddings"] = small;
    return c;
  }
  std::string names;
  for (const SynthPreset &p : kPresets)
    names += std::string(names.empty() ? "" : ", ") + p.name;
  return llvm::createStringError("unknown preset '" + preset.str() +
                                 "' (expected " + names + ")");
}

} // namespace

Expected<std::string> synthConfig(const SynthOptions &options) {
  if (options.dtype != DType::BF16 && options.dtype != DType::F32 &&
      options.dtype != DType::F8_E4M3)
    return llvm::createStringError("--dtype must be bf16, f32 or fp8");
  auto config = presetConfig(
      options.preset, options.dtype == DType::F32 ? "float32" : "bfloat16");
  if (!config)
    return config.takeError();
  // FP8 as Qwen's repositories write it: beside text_config for Qwen3.5.
  if (options.dtype == DType::F8_E4M3)
    (*config)["quantization_config"] = {
        {"activation_scheme", "dynamic"},
        {"fmt", "e4m3"},
        {"quant_method", "fp8"},
        {"weight_block_size", {128, 128}},
        {"modules_to_not_convert", {"lm_head"}}};
  ordered_json &fields =
      config->contains("text_config") ? (*config)["text_config"] : *config;
  for (const std::string &override : options.overrides) {
    size_t eq = override.find('=');
    if (eq == std::string::npos || eq == 0)
      return llvm::createStringError("--set '" + override +
                                     "' must read field=value");
    std::string key = override.substr(0, eq), text = override.substr(eq + 1);
    ordered_json value = ordered_json::parse(text, nullptr, false);
    fields[key] = value.is_discarded() ? ordered_json(text) : value;
  }
  std::string text = config->dump(2) + "\n";
  // What we write must be a config we accept.
  auto parsed = parseModelConfig(text, "config.json");
  if (!parsed)
    return parsed.takeError();
  return text;
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

SynthGenerator::SynthGenerator(StringRef name, uint64_t seed,
                               double initializerRange, int64_t convKernel,
                               uint64_t repeat)
    : state(llvm::xxh3_64bits(name) ^ (seed * 0x9E3779B97F4A7C15ull)),
      start(state), repeat(name.ends_with("mlp.gate.weight") ? 0 : repeat) {
  if (name.ends_with("linear_attn.norm.weight"))
    role = Role::GatedNorm;
  else if (name.ends_with("norm.weight"))
    role = Role::ZeroCentredNorm; // layernorms, model.norm, q/k_norm, mtp
  else if (name.ends_with("A_log"))
    role = Role::ALog;
  else if (name.ends_with("dt_bias"))
    role = Role::DtBias;
  else if (name.ends_with("conv1d.weight"))
    role = Role::Conv;
  else
    role = Role::Dense;
  // Uniform on [-a, a] has standard deviation a / sqrt(3).
  scale = role == Role::Conv ? 1.0 / std::sqrt(double(convKernel))
                             : initializerRange * std::sqrt(3.0);
}

double SynthGenerator::uniform() {
  // splitmix64: a fixed, portable stream (std:: distributions are not).
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return double(z >> 11) * 0x1.0p-53;
}

float SynthGenerator::next() {
  if (repeat && drawn++ == repeat) {
    state = start;
    drawn = 1;
  }
  double u = uniform();
  switch (role) {
  case Role::ZeroCentredNorm: // stored w, scale 1 + w: perturbed from 0
    return float(0.4 * u - 0.2);
  case Role::GatedNorm: // plain scale: perturbed from 1
    return float(0.8 + 0.4 * u);
  case Role::ALog: // A = U(1, 16), stored as log(A)
    return float(std::log(1.0 + 15.0 * u));
  case Role::DtBias: { // dt log-uniform in [1e-3, 0.1]; softplus^-1(dt)
    double dt = std::exp(std::log(1e-3) + u * (std::log(0.1) - std::log(1e-3)));
    return float(dt + std::log(-std::expm1(-dt)));
  }
  case Role::Conv:
  case Role::Dense:
    return float((2.0 * u - 1.0) * scale);
  }
  return 0.0f;
}

void encodeFloats(llvm::ArrayRef<float> values, DType dtype,
                  std::vector<uint8_t> &out) {
  size_t at = out.size();
  if (dtype == DType::F32) {
    out.resize(at + 4 * values.size());
    for (float v : values) {
      llvm::support::endian::write32le(&out[at], llvm::bit_cast<uint32_t>(v));
      at += 4;
    }
    return;
  }
  // BF16: the top half of the f32, rounded to nearest even (no NaNs here).
  out.resize(at + 2 * values.size());
  for (float v : values) {
    uint32_t bits = llvm::bit_cast<uint32_t>(v);
    bits += 0x7FFF + ((bits >> 16) & 1);
    llvm::support::endian::write16le(&out[at], uint16_t(bits >> 16));
    at += 2;
  }
}

//===----------------------------------------------------------------------===//
// Files
//===----------------------------------------------------------------------===//

namespace {

struct PlannedTensor {
  ExpectedTensor tensor;
  DType dtype;
  uint64_t bytes;
  bool isScale = false; ///< the block scales of the FP8 tensor before it
};

/// The tensors an FP8 repository stores in F8_E4M3: the decoder layers'
/// projection matrices (not DeltaNet's small in_proj_ba / in_proj_a / b).
bool isFP8Projection(StringRef name) {
  if (!name.contains(".layers.") || !name.consume_back(".weight"))
    return false;
  StringRef last = name.rsplit('.').second;
  return last.ends_with("_proj") ||
         llvm::is_contained({"in_proj_qkvz", "in_proj_qkv", "in_proj_z"}, last);
}

/// The value streams a tensor's elements come from, in order: one per
/// tensor, except that fused experts take each expert's per-expert streams,
/// so a seed gives the same weights in either expert layout.
std::vector<std::pair<std::string, uint64_t>>
valueStreams(const ExpectedTensor &t) {
  uint64_t count = 1;
  for (int64_t d : t.shape)
    count *= d;
  StringRef name = t.name;
  bool gateUp = name.consume_back("experts.gate_up_proj");
  if (!gateUp && !name.consume_back("experts.down_proj"))
    return {{t.name, count}};
  std::vector<std::pair<std::string, uint64_t>> streams;
  const int64_t experts = t.shape[0];
  for (int64_t e = 0; e < experts; ++e) {
    std::string p = name.str() + "experts." + std::to_string(e) + ".";
    if (gateUp) {
      streams.push_back({p + "gate_proj.weight", count / experts / 2});
      streams.push_back({p + "up_proj.weight", count / experts / 2});
    } else {
      streams.push_back({p + "down_proj.weight", count / experts});
    }
  }
  return streams;
}

} // namespace

Error writeSynthCheckpoint(StringRef directory, const SynthOptions &options,
                           llvm::function_ref<void(uint64_t, uint64_t)> progress) {
  Expected<std::string> configText = synthConfig(options);
  if (!configText)
    return configText.takeError();
  Expected<ModelConfig> config = parseModelConfig(*configText, "config.json");
  if (!config)
    return config.takeError();
  if (options.expertLayout && !llvm::is_contained(config->moeLayers, true))
    return llvm::createStringError("--expert-layout: preset '" + options.preset +
                                   "' has no routed experts");
  const bool fp8 = options.dtype == DType::F8_E4M3;
  if (fp8 && options.expertLayout == ExpertLayout::Fused)
    return llvm::createStringError(
        "--dtype fp8 stores the experts per expert, as every FP8 repository "
        "does (not with --expert-layout=fused)");
  // Made as any new folder is: the umask decides its mode.
  if (std::error_code ec = llvm::sys::fs::create_directories(
          directory, /*IgnoreExisting=*/true, llvm::sys::fs::all_all))
    return llvm::createStringError(directory.str() + ": " + ec.message());
  auto pathOf = [&](StringRef file) {
    llvm::SmallString<256> p(directory);
    llvm::sys::path::append(p, file);
    return std::string(p);
  };

  if (!options.configOnly) {
    WeightLayout layout(*config, nullptr);
    if (options.expertLayout || fp8)
      layout.setExpertLayouts(options.expertLayout.value_or(ExpertLayout::PerExpert));
    std::vector<ExpectedTensor> tensors = layout.checkpointTensors();
    if (options.mtp)
      for (ExpectedTensor &t : layout.mtpTensors())
        tensors.push_back(std::move(t));
    const bool qwen35 = config->family != ModelFamily::Qwen3Next;
    std::vector<PlannedTensor> plan;
    uint64_t total = 0;
    // FP8 checkpoints: the decoder layers' projections in F8_E4M3, each
    // followed by its block scales (F32 in Qwen3-Next's repositories, BF16
    // in Qwen3.5's); everything else BF16.
    const DType scaleDType = qwen35 ? DType::BF16 : DType::F32;
    for (ExpectedTensor &t : tensors) {
      // Qwen3.5 files keep A_log and the gated norm in F32 (spec 2.7).
      StringRef name = t.name;
      DType dtype = qwen35 && (name.ends_with("A_log") ||
                               name.ends_with("linear_attn.norm.weight"))
                        ? DType::F32
                        : fp8 ? DType::BF16 : options.dtype;
      const bool quantized = fp8 && isFP8Projection(name) && t.shape.size() == 2;
      if (quantized)
        dtype = DType::F8_E4M3;
      uint64_t n = 1;
      for (int64_t d : t.shape)
        n *= d;
      std::vector<int64_t> scaleShape =
          quantized ? fp8ScaleShape(t.shape, config->fp8Block) : std::vector<int64_t>();
      std::string scaleName = fp8ScaleName(t.name);
      plan.push_back({std::move(t), dtype, n * dtypeSize(dtype)});
      total += plan.back().bytes;
      if (quantized) {
        plan.push_back({{scaleName, scaleShape},
                        scaleDType,
                        uint64_t(scaleShape[0] * scaleShape[1]) * dtypeSize(scaleDType),
                        /*isScale=*/true});
        total += plan.back().bytes;
      }
    }
    const unsigned shards = std::max(1u, options.shards);
    if (shards > plan.size())
      return llvm::createStringError(
          "--shards " + std::to_string(shards) + " exceeds the " +
          std::to_string(plan.size()) + " tensors of the model");

    // Consecutive tensors, about total/shards bytes per file.
    std::vector<std::vector<const PlannedTensor *>> files(shards);
    uint64_t acc = 0;
    for (size_t i = 0; i < plan.size(); ++i) {
      size_t file = std::min<uint64_t>(shards - 1, acc * shards / total);
      // Leave at least one tensor for each later file.
      size_t left = plan.size() - i;
      if (left < shards)
        file = std::max<size_t>(file, shards - left);
      files[file].push_back(&plan[i]);
      acc += plan[i].bytes;
    }
    const double range = [&] {
      ordered_json j = ordered_json::parse(*configText);
      const ordered_json &f = j.contains("text_config") ? j["text_config"] : j;
      return f.value("initializer_range", 0.02);
    }();

    ordered_json weightMap = ordered_json::object();
    uint64_t done = 0;
    std::vector<uint8_t> pendingScale;
    for (unsigned s = 0; s < shards; ++s) {
      std::string fileName = "model.safetensors";
      if (shards > 1) {
        char buffer[64];
        // Each family's repositories name their shards their own way.
        std::snprintf(buffer, sizeof buffer,
                      qwen35 ? "model.safetensors-%05u-of-%05u.safetensors"
                             : "model-%05u-of-%05u.safetensors",
                      s + 1, shards);
        fileName = buffer;
      }
      std::vector<TensorEntry> entries;
      for (const PlannedTensor *t : files[s]) {
        entries.push_back({t->tensor.name, t->dtype, t->tensor.shape, t->bytes});
        weightMap[t->tensor.name] = fileName;
      }
      const std::string preamble = safetensorsPreamble(entries);

      Error e = writeAtomically(pathOf(fileName), [&](llvm::raw_ostream &os) {
        os << preamble;
        std::vector<float> values;
        std::vector<uint8_t> bytes;
        constexpr uint64_t kChunk = 1 << 16;
        for (const PlannedTensor *t : files[s]) {
          auto emit = [&](const std::vector<uint8_t> &b) {
            os.write(reinterpret_cast<const char *>(b.data()), b.size());
            done += b.size();
            if (progress)
              progress(done, total);
          };
          if (t->isScale) { // the scales of the FP8 tensor just written
            emit(pendingScale);
            continue;
          }
          if (t->dtype == DType::F8_E4M3) { // drawn whole, then quantized
            SynthGenerator gen(t->tensor.name, options.seed, range,
                               config->convKernel, options.repeat);
            values.resize(t->bytes);
            for (float &v : values)
              v = gen.next();
            quantizeFP8(values, t->tensor.shape[0], t->tensor.shape[1],
                        config->fp8Block, scaleDType, bytes, pendingScale);
            emit(bytes);
            continue;
          }
          for (auto [name, count] : valueStreams(t->tensor)) {
            SynthGenerator gen(name, options.seed, range, config->convKernel,
                               options.repeat);
            for (uint64_t i = 0; i < count; i += kChunk) {
              values.resize(std::min(kChunk, count - i));
              for (float &v : values)
                v = gen.next();
              bytes.clear();
              encodeFloats(values, t->dtype, bytes);
              emit(bytes);
            }
          }
        }
        return Error::success();
      });
      if (e)
        return e;
    }
    if (shards > 1) {
      ordered_json index;
      index["metadata"] = {{"total_size", total}};
      index["weight_map"] = weightMap;
      Error e = writeAtomically(pathOf("model.safetensors.index.json"),
                                [&](llvm::raw_ostream &os) {
                                  os << index.dump(2) << "\n";
                                  return Error::success();
                                });
      if (e)
        return e;
    }
  }
  // The tokenizer files: copied, or the small generated tokenizer.
  if (!options.configOnly && !options.tokenizerFrom.empty()) {
    for (const char *file :
         {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
      llvm::SmallString<256> from(options.tokenizerFrom);
      llvm::sys::path::append(from, file);
      if (!llvm::sys::fs::exists(from)) {
        if (llvm::StringRef(file) == "generation_config.json")
          continue; // optional
        return llvm::createStringError("--tokenizer " + options.tokenizerFrom +
                                       ": no " + file);
      }
      auto buffer = llvm::MemoryBuffer::getFile(from, /*IsText=*/false,
                                                /*RequiresNullTerminator=*/false);
      if (!buffer)
        return llvm::createStringError(std::string(from) + ": " +
                                       buffer.getError().message());
      if (Error e = writeAtomically(pathOf(file), [&](llvm::raw_ostream &os) {
            os << (*buffer)->getBuffer();
            return Error::success();
          }))
        return e;
    }
  } else if (!options.configOnly && config->vocabSize >= 272) {
    SynthTokenizerFiles files = synthTokenizerFiles(config->vocabSize);
    for (const auto &item :
         {std::pair<const char *, const std::string *>{"tokenizer.json", &files.tokenizer},
          {"tokenizer_config.json", &files.tokenizerConfig},
          {"generation_config.json", &files.generationConfig}})
      if (Error e = writeAtomically(pathOf(item.first), [&](llvm::raw_ostream &os) {
            os << *item.second;
            return Error::success();
          }))
        return e;
  }
  // config.json last: a folder with a config.json has all its weights.
  return writeAtomically(pathOf("config.json"), [&](llvm::raw_ostream &os) {
    os << *configText;
    return Error::success();
  });
}

} // namespace qnext
