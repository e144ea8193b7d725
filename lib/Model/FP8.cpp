//===- FP8.cpp - the fine-grained FP8 weights Qwen's repositories ship ----===//

#include "qnext/Model/FP8.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"

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
  return {(shape[0] + block[0] - 1) / block[0],
          (shape[1] + block[1] - 1) / block[1]};
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
  float table[256];
  for (int i = 0; i < 256; ++i)
    table[i] = decodeE4M3(uint8_t(i));
  const int64_t scaleCols = (cols + block[1] - 1) / block[1];
  const int64_t scaleSize = dtypeSize(scaleDType);
  std::vector<float> rowScales(scaleCols);
  for (int64_t r = 0; r < rows; ++r) {
    if (r % block[0] == 0) // the next row of blocks
      for (int64_t j = 0; j < scaleCols; ++j)
        rowScales[j] = readScale(
            scale.data() + ((r / block[0]) * scaleCols + j) * scaleSize, scaleDType);
    for (int64_t c = 0; c < cols; ++c)
      out[r * cols + c] = table[q[r * cols + c]] * rowScales[c / block[1]];
  }
}

} // namespace qnext
