//===- Quantize.h - int8 weights made from any checkpoint -------*- C++ -*-===//
//
// `qnext-compile --weights=int8[:GROUP]`: the decoder layers' projections
// stored as int8 with one f32 scale per GROUP consecutive columns of a row
// (symmetric: scale = max|w| / 127, q = round(w / scale)), made while the
// weights are packed, from F32, BF16, F16 or FP8 tensors. What stays as
// stored, and why: the embeddings and lm_head (the logits' accuracy rests on
// them, and decode reads one embedding row), the norms, the router and the
// shared-expert gate (tiny, and they decide which experts run), DeltaNet's
// in_proj_ba / in_proj_b / in_proj_a, conv1d, A_log and dt_bias (tiny, and
// they set the decay and write strength of the recurrent state).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_QUANTIZE_H
#define QNEXT_MODEL_QUANTIZE_H

#include "qnext/Model/SafeTensors.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <vector>

namespace qnext {

/// How qnext-compile stores the projections' weights.
struct WeightFormat {
  enum Kind { Stored, Int8 } kind = Stored;
  int64_t group = 128; ///< columns per scale
  bool quantizes() const { return kind != Stored; }
  std::string str() const;
};

/// "stored", "int8", "int8:GROUP" (GROUP a positive multiple of 16, so that
/// every kernel's vectors tile a group); an error names the value.
llvm::Expected<WeightFormat> parseWeightFormat(llvm::StringRef spec);

/// Whether --weights quantizes checkpoint tensor `name` (a projection of a
/// decoder layer; see the file comment for what is left as stored).
bool isQuantizedProjection(llvm::StringRef name);

/// Symmetric int8 of a row-major [rows, cols] matrix, per row in groups of
/// `group` columns (the last may be partial): scale = max|x| / 127 in f32
/// (0 for a group of zeros), q = x / scale rounded to nearest, ties away
/// from zero. Writes rows * cols values and rows * ceil(cols / group)
/// scales. The values must be finite.
void quantizeInt8(llvm::ArrayRef<float> values, int64_t rows, int64_t cols,
                  int64_t group, int8_t *q, float *scales);

/// The f32 values the kernels compute with: q * scale, in f32.
void dequantizeInt8(const int8_t *q, const float *scales, int64_t rows,
                    int64_t cols, int64_t group, float *out);

/// The values of checkpoint tensor `info` ([..., rows, cols]) as f32: F32,
/// BF16 and F16 widened, FP8 dequantized with its block scale (`fp8Block`).
llvm::Error readAsF32(const Checkpoint &checkpoint, const TensorInfo &info,
                      std::array<int64_t, 2> fp8Block, std::vector<float> &out);

/// A tensor quantized to int8 by rows (its last dimension is the columns).
struct Int8Tensor {
  std::vector<int8_t> values;
  std::vector<float> scales; ///< rows x ceil(cols / group)
  int64_t rows = 0, cols = 0;
};

/// Checkpoint tensor `info` read as f32 (readAsF32, into `scratch`) and
/// quantized (quantizeInt8) into `out`: what the packer writes and the
/// exporter dequantizes. A value that is not finite is an error naming the
/// file, the tensor and the index.
llvm::Error quantizeTensor(const Checkpoint &checkpoint, const TensorInfo &info,
                           std::array<int64_t, 2> fp8Block, int64_t group,
                           std::vector<float> &scratch, Int8Tensor &out);

} // namespace qnext

#endif // QNEXT_MODEL_QUANTIZE_H
