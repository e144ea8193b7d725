//===- FP8Test.cpp - e4m3 values and block scales -------------------------===//

#include "qnext/Model/FP8.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/Endian.h"

#include <gtest/gtest.h>

#include <cmath>

using namespace qnext;

namespace {

// Every byte against the format's definition, built another way: a normal
// value's f32 bits (exponent rebiased from 7 to 127, mantissa moved up), a
// subnormal's integer count of 2^-9.
TEST(FP8, EveryE4M3Byte) {
  for (int byte = 0; byte < 256; ++byte) {
    const uint32_t sign = uint32_t(byte >> 7), e = (byte >> 3) & 0xF, m = byte & 7;
    float got = decodeE4M3(uint8_t(byte));
    if (e == 15 && m == 7) {
      EXPECT_TRUE(std::isnan(got)) << byte;
      continue;
    }
    float want = e == 0 ? float(m) / 512.0f
                        : llvm::bit_cast<float>(((e + 120) << 23) | (m << 20));
    if (sign)
      want = -want;
    EXPECT_EQ(llvm::bit_cast<uint32_t>(got), llvm::bit_cast<uint32_t>(want)) << byte;
  }
  EXPECT_EQ(decodeE4M3(0x7E), 448.0f); // the largest value
  EXPECT_EQ(decodeE4M3(0x38), 1.0f);
  EXPECT_EQ(decodeE4M3(0x08), 0.015625f); // 2^-6, the smallest normal
  EXPECT_EQ(decodeE4M3(0x01), 0.001953125f); // 2^-9, the smallest subnormal
  EXPECT_TRUE(std::signbit(decodeE4M3(0x80)));
  EXPECT_TRUE(std::isnan(decodeE4M3(0xFF)));
}

TEST(FP8, ScaleNamesAndShapes) {
  EXPECT_EQ(fp8ScaleName("model.layers.0.mlp.down_proj.weight"),
            "model.layers.0.mlp.down_proj.weight_scale_inv");
  EXPECT_EQ(fp8ScaleShape({384, 128}, {128, 128}), (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(fp8ScaleShape({64, 129}, {128, 128}), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(fp8ScaleShape({256, 256}, {64, 32}), (std::vector<int64_t>{4, 8}));
}

TEST(FP8, ScaleDTypes) {
  uint8_t bytes[4];
  llvm::support::endian::write32le(bytes, llvm::bit_cast<uint32_t>(0.1f));
  EXPECT_EQ(readScale(bytes, DType::F32), 0.1f);
  llvm::support::endian::write16le(bytes, 0x3E80); // bf16 0.25
  EXPECT_EQ(readScale(bytes, DType::BF16), 0.25f);
  llvm::support::endian::write16le(bytes, 0xB800); // f16 -0.5
  EXPECT_EQ(readScale(bytes, DType::F16), -0.5f);
  llvm::support::endian::write16le(bytes, 0x0001); // f16 2^-24, subnormal
  EXPECT_EQ(readScale(bytes, DType::F16), std::ldexp(1.0f, -24));
}

// A [130, 260] weight in 128x128 blocks: partial blocks at both edges, each
// of the six blocks with its own BF16 scale; every element is e4m3 * scale,
// exactly.
TEST(FP8, DequantizePartialBlocks) {
  const int64_t rows = 130, cols = 260;
  std::vector<uint8_t> q(rows * cols);
  for (size_t i = 0; i < q.size(); ++i) {
    q[i] = uint8_t((i * 37 + 11) % 256);
    if ((q[i] & 0x7F) == 0x7F) // not the NaNs
      q[i] ^= 1;
  }
  const uint16_t bf16Scales[6] = {0x3F80, 0x4000, 0x3E80, 0xBF00, 0x4120, 0x3C00};
  std::vector<uint8_t> scale(12);
  for (int i = 0; i < 6; ++i)
    llvm::support::endian::write16le(&scale[2 * i], bf16Scales[i]);
  std::vector<float> out(rows * cols);
  dequantizeFP8(q, rows, cols, scale, DType::BF16, {128, 128}, out.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      float s = llvm::bit_cast<float>(uint32_t(bf16Scales[(r / 128) * 3 + c / 128]) << 16);
      ASSERT_EQ(out[r * cols + c], decodeE4M3(q[r * cols + c]) * s)
          << "row " << r << " column " << c;
    }
  EXPECT_EQ(out[129 * cols + 259], decodeE4M3(q[129 * cols + 259]) * 0.0078125f);
}

// Encoding: every value decodes back to its byte; halfway values go to the
// even mantissa; beyond 448 saturates.
TEST(FP8, EncodeNearestEven) {
  for (int byte = 0; byte < 256; ++byte)
    if ((byte & 0x7F) != 0x7F)
      EXPECT_EQ(encodeE4M3(decodeE4M3(uint8_t(byte))), byte) << byte;
  EXPECT_EQ(encodeE4M3(1.0625f), 0x38);  // between 1.0 (0x38) and 1.125
  EXPECT_EQ(encodeE4M3(1.1875f), 0x3A);  // between 1.125 (0x39) and 1.25
  EXPECT_EQ(encodeE4M3(1.07f), 0x39);
  EXPECT_EQ(encodeE4M3(1000.0f), 0x7E);
  EXPECT_EQ(encodeE4M3(-1000.0f), 0xFE);
  EXPECT_EQ(encodeE4M3(0.0009765625f), 0x00); // 2^-10: halfway to 2^-9, even
  EXPECT_EQ(encodeE4M3(0.0146484375f), 0x08); // between 0x07 and 0x08 (2^-6)
  EXPECT_EQ(encodeE4M3(464.0f), 0x7E);        // halfway to 480, which is NaN
  EXPECT_EQ(encodeE4M3(-0.0f), 0x80);
}

// Quantized per block and dequantized, each value is within half a step of
// e4m3 (1/16 of itself, or half the smallest subnormal step of its block).
TEST(FP8, QuantizeThenDequantize) {
  const int64_t rows = 130, cols = 260;
  std::vector<float> values(rows * cols);
  for (size_t i = 0; i < values.size(); ++i)
    values[i] = std::sin(float(i) * 0.37f) * (1.0f + float(i % 7)) *
                (i % 1000 == 0 ? 0.0f : 0.01f);
  // Magnitudes of 1e-2, and 1e-7: below F16's normal range, where a scale
  // rounded to F16 would be 0 unless kept at its smallest normal.
  std::vector<float> tiny(values);
  for (float &v : tiny)
    v *= 1e-5f;
  for (auto [scaleDType, input] :
       {std::pair{DType::F32, &values}, std::pair{DType::BF16, &values},
        std::pair{DType::F16, &values}, std::pair{DType::F16, &tiny}}) {
    const std::vector<float> &values = *input;
    std::vector<uint8_t> q, scale;
    quantizeFP8(values, rows, cols, {128, 128}, scaleDType, q, scale);
    ASSERT_EQ(q.size(), size_t(rows * cols));
    ASSERT_EQ(scale.size(), size_t(6 * dtypeSize(scaleDType)));
    std::vector<float> back(rows * cols);
    dequantizeFP8(q, rows, cols, scale, scaleDType, {128, 128}, back.data());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        float s = readScale(scale.data() + ((r / 128) * 3 + c / 128) *
                                               dtypeSize(scaleDType),
                            scaleDType);
        float v = values[r * cols + c], got = back[r * cols + c];
        ASSERT_LE(double(std::fabs(v)) / s, 448.0) << "the scale was rounded up";
        ASSERT_LE(std::fabs(got - v), std::max(std::fabs(v) / 16, s * 0.001f))
            << "row " << r << " column " << c;
      }
  }
}

} // namespace
