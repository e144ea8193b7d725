//===- FP8.cpp - the fine-grained FP8 weights Qwen's repositories ship ----===//

#include "qnext/Model/FP8.h"

#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>

namespace qnext {

float decodeE4M3(uint8_t byte) {
  const int exponent = (byte >> 3) & 0xF, mantissa = byte & 0x7;
  if (exponent == 0xF && mantissa == 0x7)
    return std::numeric_limits<float>::quiet_NaN();
  // Subnormal: 2^-6 * m/8; normal: 2^(e-7) * (1 + m/8). Both exact in f32.
  float magnitude = exponent == 0
                        ? std::ldexp(float(mantissa), -9)
                        : std::ldexp(float(8 + mantissa), exponent - 10);
  return byte & 0x80 ? -magnitude : magnitude;
}

std::string fp8ScaleName(llvm::StringRef name) {
  return name.str() + "_scale_inv";
}

std::vector<int64_t> fp8ScaleShape(llvm::ArrayRef<int64_t> shape,
                                   std::array<int64_t, 2> block) {
  // Rounded up without overflow, whatever the sizes.
  return {shape[0] / block[0] + (shape[0] % block[0] != 0),
          shape[1] / block[1] + (shape[1] % block[1] != 0)};
}

float readScale(const uint8_t *bytes, DType dtype) {
  using namespace llvm::support::endian;
  switch (dtype) {
  case DType::F32:
    return llvm::bit_cast<float>(read32le(bytes));
  case DType::BF16:
    return llvm::bit_cast<float>(uint32_t(read16le(bytes)) << 16);
  case DType::F16: {
    const uint16_t h = read16le(bytes);
    const int exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    float magnitude =
        exponent == 0x1F  ? (mantissa ? std::numeric_limits<float>::quiet_NaN()
                                      : std::numeric_limits<float>::infinity())
        : exponent == 0 ? std::ldexp(float(mantissa), -24)
                        : std::ldexp(float(1024 + mantissa), exponent - 25);
    return h & 0x8000 ? -magnitude : magnitude;
  }
  default:
    return std::numeric_limits<float>::quiet_NaN();
  }
}

void dequantizeFP8(llvm::ArrayRef<uint8_t> q, int64_t rows, int64_t cols,
                   llvm::ArrayRef<uint8_t> scale, DType scaleDType,
                   std::array<int64_t, 2> block, float *out) {
  dequantizeFP8Rows(q, rows, cols, scale, scaleDType, block, 0, rows, out);
}

void dequantizeFP8Rows(llvm::ArrayRef<uint8_t> q, int64_t rows, int64_t cols,
                       llvm::ArrayRef<uint8_t> scale, DType scaleDType,
                       std::array<int64_t, 2> block, int64_t begin, int64_t end,
                       float *out) {
  const int64_t scaleCols = fp8ScaleShape({rows, cols}, block)[1];
  const int64_t scaleSize = dtypeSize(scaleDType);
  assert(q.size() == size_t(rows * cols) &&
         scale.size() == size_t(fp8ScaleShape({rows, cols}, block)[0] * scaleCols *
                                scaleSize) &&
         "callers check the shapes");
  float table[256];
  for (int i = 0; i < 256; ++i)
    table[i] = decodeE4M3(uint8_t(i));
  std::vector<float> rowScales(scaleCols);
  assert(0 <= begin && begin <= end && end <= rows && "rows within the tensor");
  for (int64_t r = begin; r < end; ++r) {
    if (r == begin || r % block[0] == 0) // the next row of blocks
      for (int64_t j = 0; j < scaleCols; ++j)
        rowScales[j] = readScale(
            scale.data() + ((r / block[0]) * scaleCols + j) * scaleSize, scaleDType);
    for (int64_t c = 0; c < cols; ++c)
      out[(r - begin) * cols + c] = table[q[r * cols + c]] * rowScales[c / block[1]];
  }
}

uint8_t encodeE4M3(float value) {
  // The 127 finite non-negative values, increasing with their code.
  static const std::array<float, 127> magnitudes = [] {
    std::array<float, 127> m;
    for (int i = 0; i < 127; ++i)
      m[i] = decodeE4M3(uint8_t(i));
    return m;
  }();
  const uint8_t sign = std::signbit(value) ? 0x80 : 0;
  const float a = std::fabs(value);
  auto above = std::lower_bound(magnitudes.begin(), magnitudes.end(), a);
  if (above == magnitudes.end())
    return sign | 0x7E;
  int code = int(above - magnitudes.begin());
  if (code > 0) {
    const float up = magnitudes[code] - a, down = a - magnitudes[code - 1];
    if (down < up || (down == up && (code - 1) % 2 == 0))
      --code;
  }
  return sign | uint8_t(code);
}

namespace {
/// The scale of a block whose largest magnitude is `amax`, stored as
/// `dtype` (appended to `out`, little-endian) and returned as read back:
/// amax / 448 rounded up, so that no value of the block exceeds 448 once
/// scaled, and kept within the dtype's normal range (a block too large for
/// it saturates at 448; a block of zeros takes 1).
float storeScale(float amax, DType dtype, std::vector<uint8_t> &out) {
  using namespace llvm::support::endian;
  const llvm::fltSemantics &semantics =
      dtype == DType::BF16  ? llvm::APFloat::BFloat()
      : dtype == DType::F16 ? llvm::APFloat::IEEEhalf()
                            : llvm::APFloat::IEEEsingle();
  // In double, amax / 448 is within 2^-53 of exact; rounded up from there.
  llvm::APFloat scale(amax > 0 ? double(amax) / 448.0 : 1.0);
  bool lost;
  scale.convert(semantics, llvm::APFloat::rmTowardPositive, &lost);
  llvm::APFloat smallest = llvm::APFloat::getSmallestNormalized(semantics);
  llvm::APFloat largest = llvm::APFloat::getLargest(semantics);
  if (scale.compare(smallest) == llvm::APFloat::cmpLessThan)
    scale = smallest;
  if (scale.isInfinity() || scale.compare(largest) == llvm::APFloat::cmpGreaterThan)
    scale = largest;
  const uint64_t bits = scale.bitcastToAPInt().getZExtValue();
  size_t at = out.size();
  out.resize(at + dtypeSize(dtype));
  if (dtype == DType::F32)
    write32le(&out[at], uint32_t(bits));
  else
    write16le(&out[at], uint16_t(bits));
  return readScale(&out[at], dtype);
}
} // namespace

void quantizeFP8(llvm::ArrayRef<float> values, int64_t rows, int64_t cols,
                 std::array<int64_t, 2> block, DType scaleDType,
                 std::vector<uint8_t> &q, std::vector<uint8_t> &scale) {
  const std::vector<int64_t> blocks = fp8ScaleShape({rows, cols}, block);
  q.assign(rows * cols, 0);
  scale.clear();
  for (int64_t br = 0; br < blocks[0]; ++br)
    for (int64_t bc = 0; bc < blocks[1]; ++bc) {
      const int64_t r0 = br * block[0], r1 = std::min(rows, r0 + block[0]);
      const int64_t c0 = bc * block[1], c1 = std::min(cols, c0 + block[1]);
      float amax = 0;
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c)
          amax = std::max(amax, std::fabs(values[r * cols + c]));
      const float s = storeScale(amax, scaleDType, scale);
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t c = c0; c < c1; ++c)
          q[r * cols + c] = encodeE4M3(values[r * cols + c] / s);
    }
}

} // namespace qnext
