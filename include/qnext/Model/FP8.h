//===- FP8.h - the fine-grained FP8 weights Qwen's repositories ship -*- C++ -*-===//
//
// `F8_E4M3` (e4m3fn: bias 7, no infinities, NaN only as 0x7f / 0xff) weights
// of shape [out, in], each with a companion `<name>_scale_inv` of shape
// [ceil(out / B0), ceil(in / B1)] (B = quantization_config's
// weight_block_size, [128, 128] in every Qwen repository) holding, despite
// its name, the multiplier of its block: W[i, j] = e4m3(Wq[i, j]) *
// scale[i / B0, j / B1]. Edge blocks may be partial. The scale's dtype is the
// file's (F32, BF16 or F16). See ../shared/golden/README.md (fp8-tiny).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_MODEL_FP8_H
#define QNEXT_MODEL_FP8_H

#include "qnext/Model/SafeTensors.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qnext {

/// The value of one e4m3fn byte (NaN for 0x7f and 0xff).
float decodeE4M3(uint8_t byte);

/// The companion that scales FP8 tensor `name` ("X.weight" ->
/// "X.weight_scale_inv").
std::string fp8ScaleName(llvm::StringRef name);

/// The shape `[ceil(rows / block[0]), ceil(cols / block[1])]`.
std::vector<int64_t> fp8ScaleShape(llvm::ArrayRef<int64_t> shape,
                                   std::array<int64_t, 2> block);

/// Widens one scale value stored as `dtype` (F32, BF16 or F16) to f32.
float readScale(const uint8_t *bytes, DType dtype);

/// Writes the f32 values of a [rows, cols] FP8 tensor `q` scaled by `scale`
/// (its blocks' multipliers, `scaleDType`, of fp8ScaleShape; the caller
/// checks both sizes) into `out`, computed in f32: the
/// product of an e4m3 value and a BF16 or F16 scale is exact, with an F32
/// scale it is correctly rounded.
void dequantizeFP8(llvm::ArrayRef<uint8_t> q, int64_t rows, int64_t cols,
                   llvm::ArrayRef<uint8_t> scale, DType scaleDType,
                   std::array<int64_t, 2> block, float *out);

/// Rows [begin, end) of the same, into `out` ((end - begin) x cols): what a
/// reader that streams a tensor by rows takes.
void dequantizeFP8Rows(llvm::ArrayRef<uint8_t> q, int64_t rows, int64_t cols,
                       llvm::ArrayRef<uint8_t> scale, DType scaleDType,
                       std::array<int64_t, 2> block, int64_t begin, int64_t end,
                       float *out);

/// The e4m3fn byte nearest to `value` (ties to an even mantissa; beyond
/// +-448, saturated to +-448; NaN is not a value this is asked for).
uint8_t encodeE4M3(float value);

/// Quantizes a row-major [rows, cols] matrix of finite f32 values as Qwen's
/// FP8 repositories do: per block, scale = max|x| / 448 (rounded up to
/// `scaleDType` and kept in its normal range), then each value encoded as
/// the e4m3 nearest to x / scale. Writes rows * cols bytes to `q` and the
/// blocks' scales, row-major, stored as `scaleDType`, to `scale`.
void quantizeFP8(llvm::ArrayRef<float> values, int64_t rows, int64_t cols,
                 std::array<int64_t, 2> block, DType scaleDType,
                 std::vector<uint8_t> &q, std::vector<uint8_t> &scale);

} // namespace qnext

#endif // QNEXT_MODEL_FP8_H
