//===- Synth.h - deterministic random-weight test checkpoints ---*- C++ -*-===//
//
// What qnext-synth writes: a preset config.json (with overrides) and weights
// drawn like a real initialisation, in exact Hugging Face layout, optionally
// sharded with an index. Same preset, dtype, seed and overrides: the same
// bytes; and the same weights whichever expert layout stores them.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_SYNTH_H
#define QNEXT_MODEL_SYNTH_H

#include "qnext/Model/Config.h"
#include "qnext/Model/SafeTensors.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace qnext {

struct SynthOptions {
  std::string preset = "tiny";
  /// BF16, F32, or F8_E4M3: the decoder layers' projections in FP8 with
  /// block scales, the rest BF16, as Qwen's FP8 repositories store them.
  DType dtype = DType::BF16;
  uint64_t seed = 0;
  unsigned shards = 1;        ///< > 1 writes model.safetensors.index.json
  bool mtp = false;           ///< also write the mtp.* tensors
  /// How the routed experts are stored; unset: the family's official layout
  /// (per expert for Qwen3-Next, fused for Qwen3.5).
  std::optional<ExpertLayout> expertLayout;
  bool configOnly = false;    ///< write config.json alone
  /// Copy tokenizer.json, tokenizer_config.json and generation_config.json
  /// from this folder (e.g. Qwen's real ones for the bench preset) instead of
  /// writing the small generated tokenizer.
  std::string tokenizerFrom;
  /// "field=value" overrides of config.json (of text_config for Qwen3.5);
  /// the value is JSON, or a plain string.
  std::vector<std::string> overrides;
  /// > 0: each tensor's values repeat every `repeat` elements (the router's
  /// `mlp.gate.weight` excepted, so routing stays varied), so that a
  /// multi-GB checkpoint, and an artifact packed from it, compress to
  /// megabytes (scripts/device-prepare: 5.0 GB to 13 MB with zstd). For
  /// moving a benchmark model to a machine that cannot build one; not for
  /// numerics.
  uint64_t repeat = 0;
};

/// A preset's name and one line about it.
struct SynthPreset {
  const char *name;
  const char *description;
};
llvm::ArrayRef<SynthPreset> synthPresets();

/// tokenizer.json, tokenizer_config.json and generation_config.json of a
/// small byte-level BPE tokenizer (at most 496 tokens, then Qwen's five
/// special tokens) for a model of `vocabSize` >= 272 rows: Qwen's layout,
/// chat template and sampling defaults (lib/Model/SynthTokenizer.cpp).
struct SynthTokenizerFiles {
  std::string tokenizer, tokenizerConfig, generationConfig;
};
SynthTokenizerFiles synthTokenizerFiles(int64_t vocabSize);

/// The config.json text for `options` (preset, dtype, overrides), validated.
llvm::Expected<std::string> synthConfig(const SynthOptions &options);

/// Writes config.json and the safetensors files into `directory` (created if
/// needed). Every file is written under a temporary name and renamed into
/// place. `progress(done, total)` is called as bytes are written.
llvm::Error
writeSynthCheckpoint(llvm::StringRef directory, const SynthOptions &options,
                     llvm::function_ref<void(uint64_t, uint64_t)> progress = {});

/// The deterministic value stream of one tensor: element i of tensor `name`
/// depends only on (seed, name, i) and the tensor's role (spec-like init:
/// zero-centred norms near 0, the gated norm near 1, A_log = log U(1, 16),
/// dt_bias = softplus^-1 of a log-uniform step, conv taps U(+-1/sqrt(K)),
/// everything else of standard deviation `initializerRange`).
class SynthGenerator {
public:
  /// `repeat` > 0 restarts the stream every `repeat` values
  /// (SynthOptions::repeat).
  SynthGenerator(llvm::StringRef name, uint64_t seed, double initializerRange,
                 int64_t convKernel, uint64_t repeat = 0);
  float next();

private:
  enum class Role { ZeroCentredNorm, GatedNorm, ALog, DtBias, Conv, Dense };
  double uniform(); ///< in [0, 1)
  Role role;
  uint64_t state;
  double scale;
  uint64_t start;         ///< the state the stream restarts from
  uint64_t repeat;        ///< 0: never
  uint64_t drawn = 0;     ///< values since the last restart
};

/// Encodes floats in `dtype` (F32 as is, BF16/F16 rounded to nearest even),
/// appending to `out`.
void encodeFloats(llvm::ArrayRef<float> values, DType dtype,
                  std::vector<uint8_t> &out);

} // namespace qnext

#endif // QNEXT_MODEL_SYNTH_H
