//===- Quantize.h - int8 and int4 weights made from any checkpoint -*- C++ -*-===//
//
// `qnext-compile --weights=int8[:GROUP]` and `--weights=int4[:GROUP]`: the
// decoder layers' projections stored as int8 or int4 with one f32 scale per
// GROUP consecutive columns of a row (symmetric: scale = max|w| / 127, or
// / 7 for int4; q = round(w / scale)), made while the weights are packed,
// from F32, BF16, F16 or FP8 tensors. int4 values go two a byte, in tiles
// of 32 columns (byte j of a tile: column j in the low nibble, j + 16 in the
// high one; qnext.dequantize {int4}). lm_head (untied) is quantized too, in
// int8 by default whatever the format: decode reads all of it for every
// token (a third of the bench preset's bytes in BF16), and the logits rest
// on it, so it keeps 8 bits under int4 (as llama.cpp's Q4_0 keeps its output
// at 6); `--lm-head=int4` trades that for its bytes, `--lm-head=stored`
// keeps it as in the checkpoint. What
// stays as stored, and why: the embeddings (decode reads one row; tied to
// lm_head, they stay as stored there too), the norms, the router and the
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
  enum Kind { Stored, Int8, Int4 } kind = Stored;
  int64_t group = 128; ///< columns per scale
  /// lm_head's (untied) kind when `kind` quantizes (--lm-head), in the same
  /// group.
  Kind head = Int8;
  bool quantizes() const { return kind != Stored; }
  int bits() const { return kind == Int4 ? 4 : 8; }
  std::string str() const;
};

/// int4 values lie in tiles of this many columns (16 bytes).
constexpr int64_t kInt4Tile = 32;

/// "stored", "int8", "int8:GROUP" (GROUP a positive multiple of 16, so that
/// every kernel's vectors tile a group), "int4", "int4:GROUP" (a multiple of
/// 32, int4's tile; 128 by default as for int8); an error names the value.
/// `lmHead` (--lm-head) is lm_head's format: empty (int8 when `spec`
/// quantizes), "int8", "int4" (the group a multiple of 32) or "stored"; it
/// needs a quantizing `spec`.
llvm::Expected<WeightFormat> parseWeightFormat(llvm::StringRef spec,
                                               llvm::StringRef lmHead = {});

/// Whether checkpoint tensor `name` is a projection of a decoder layer (what
/// --weights quantizes in its format, and what Qwen's FP8 repositories
/// store in FP8).
bool isQuantizedProjection(llvm::StringRef name);

/// Whether tensor `name` of `cols` columns can be stored as --weights=`spec`
/// says (`chosen`, parsed from it): int4 needs whole tiles of kInt4Tile
/// columns; an error naming the tensor otherwise.
llvm::Error checkColumns(llvm::StringRef spec, const WeightFormat &chosen,
                         llvm::StringRef name, int64_t cols);

/// How --weights=`chosen` stores checkpoint tensor `name`: `chosen` for a
/// decoder layer's projection, chosen's `head` (int8 unless --lm-head says
/// otherwise) with chosen's group for lm_head.weight, as stored otherwise
/// (see the file comment).
WeightFormat formatOf(const WeightFormat &chosen, llvm::StringRef name);

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

/// Symmetric int4 of a row-major [rows, cols] matrix (cols a multiple of
/// kInt4Tile), per row in groups of `group` columns: scale = max|x| / 7,
/// q = x / scale rounded to nearest (ties away from zero), -7 to 7. Writes
/// rows * cols / 2 bytes in the tile layout (see the file comment) and
/// rows * ceil(cols / group) scales. The values must be finite.
void quantizeInt4(llvm::ArrayRef<float> values, int64_t rows, int64_t cols,
                  int64_t group, int8_t *packed, float *scales);

/// int4 column `c` of a row of packed bytes, -8 to 7.
int8_t int4At(const int8_t *row, int64_t c);

/// The f32 values the kernels compute with: q * scale, in f32.
void dequantizeInt4(const int8_t *packed, const float *scales, int64_t rows,
                    int64_t cols, int64_t group, float *out);

/// The values of checkpoint tensor `info` ([..., rows, cols]) as f32: F32,
/// BF16 and F16 widened, FP8 dequantized with its block scale (`fp8Block`).
llvm::Error readAsF32(const Checkpoint &checkpoint, const TensorInfo &info,
                      std::array<int64_t, 2> fp8Block, std::vector<float> &out);

/// Rows [begin, end) of the same, seen as [rows, cols] (cols its last
/// dimension), into `out`.
llvm::Error readRowsAsF32(const Checkpoint &checkpoint, const TensorInfo &info,
                          std::array<int64_t, 2> fp8Block, int64_t begin, int64_t end,
                          std::vector<float> &out);

/// A tensor quantized by rows (its last dimension is the columns).
struct QuantizedTensor {
  std::vector<int8_t> values; ///< int8: rows x cols; int4: rows x cols / 2 bytes
  std::vector<float> scales;  ///< rows x ceil(cols / group)
  int64_t rows = 0, cols = 0;
};

/// Checkpoint tensor `info` quantized to `format` (quantizeInt8,
/// quantizeInt4) into `out`: what the packer writes and the exporter
/// dequantizes. Read as f32 (readRowsAsF32, into `scratch`) a block of rows
/// at a time, about `chunkElements` values (rows are quantized
/// independently), so that the f32 copy of an 80B model's fused expert
/// tensor never exists; the result does not depend on the chunk. A value
/// that is not finite, or int4 columns that are not whole tiles, is an
/// error naming the file and the tensor.
constexpr int64_t kQuantizeChunk = int64_t(1) << 20;
llvm::Error quantizeTensor(const Checkpoint &checkpoint, const TensorInfo &info,
                           std::array<int64_t, 2> fp8Block, const WeightFormat &format,
                           std::vector<float> &scratch, QuantizedTensor &out,
                           int64_t chunkElements = kQuantizeChunk);

/// `q` as the f32 values the kernels compute with (rows x cols, in `out`).
void dequantizeTensor(const QuantizedTensor &q, const WeightFormat &format,
                      float *out);

} // namespace qnext

#endif // QNEXT_MODEL_QUANTIZE_H
