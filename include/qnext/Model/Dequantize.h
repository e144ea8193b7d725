//===- Dequantize.h - a quantized checkpoint with its weights widened -*- C++ -*-===//
//
// `qnext-compile --export-dequantized DIR`: the checkpoint with every FP8
// weight dequantized exactly to F32 (its block scale applied, the scale
// tensor dropped), with --weights=int8 every weight that option quantizes
// written as quantized and dequantized, and every other tensor copied as
// stored, config.json without its quantization_config. Compiled with the float path, it is the
// reference a quantized artifact is held to (the golden contract).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_DEQUANTIZE_H
#define QNEXT_MODEL_DEQUANTIZE_H

#include "qnext/Model/Quantize.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace qnext {

struct DequantizeSummary {
  size_t dequantized = 0; ///< FP8 tensors written as F32
  size_t quantized = 0;   ///< tensors quantized (--weights) and written as F32
  /// How many of those in each format ("int4:128", ...), in order of first
  /// appearance (lm_head takes int8 under int4 unless --lm-head says otherwise).
  std::vector<std::pair<std::string, size_t>> quantizedBy;
  size_t copied = 0;      ///< tensors written as stored
  uint64_t bytes = 0;     ///< of model.safetensors
};

/// Reads the checkpoint folder `from` (its config.json and tensors, checked
/// as qnext-compile checks them) and writes `to`/config.json,
/// `to`/model.safetensors and the tokenizer files that are there. `to` must
/// not hold a config.json yet. Each file is written under a temporary name
/// and renamed; config.json last. A NaN in a weight is an error unless
/// `allowNonfinite`. `progress(done, total)` is called as bytes are written.
/// With a quantizing `format`, the tensors qnext-compile --weights would
/// quantize are written as the artifact computes with them (quantized, then
/// dequantized to F32); a NaN in one of those is always an error.
llvm::Expected<DequantizeSummary> writeDequantizedCheckpoint(
    const std::string &from, const std::string &to, bool allowNonfinite,
    WeightFormat format = {},
    llvm::function_ref<void(uint64_t, uint64_t)> progress = {});

} // namespace qnext

#endif // QNEXT_MODEL_DEQUANTIZE_H
