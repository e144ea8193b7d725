//===- QuantizeTest.cpp - int8/int4 weights and the kernels' decodings ---===//

#include "qnext/Model/FP8.h"
#include "qnext/Model/Quantize.h"

#include "llvm/ADT/bit.h"
#include "llvm/Support/Error.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <tuple>

using namespace qnext;

namespace {

TEST(WeightFormat, Parse) {
  auto stored = parseWeightFormat("stored");
  ASSERT_TRUE(bool(stored));
  EXPECT_FALSE(stored->quantizes());
  auto int8 = parseWeightFormat("int8");
  ASSERT_TRUE(bool(int8));
  EXPECT_EQ(int8->kind, WeightFormat::Int8);
  EXPECT_EQ(int8->group, 128);
  EXPECT_EQ(int8->str(), "int8:128");
  auto g32 = parseWeightFormat("int8:32");
  ASSERT_TRUE(bool(g32));
  EXPECT_EQ(g32->group, 32);
  auto int4 = parseWeightFormat("int4");
  ASSERT_TRUE(bool(int4));
  EXPECT_EQ(int4->kind, WeightFormat::Int4);
  EXPECT_EQ(int4->group, 128);
  EXPECT_EQ(int4->bits(), 4);
  EXPECT_EQ(int4->str(), "int4:128");
  auto g64 = parseWeightFormat("int4:64");
  ASSERT_TRUE(bool(g64));
  EXPECT_EQ(g64->group, 64);
  for (const char *bad : {"int2", "int8:", "int8:0", "int8:12", "int8:-16", "int8:1e3",
                          "int8:99999999999", "stored:16", "", "INT8", "int4:16",
                          "int4:48", "int4:", "int4:0"}) {
    auto f = parseWeightFormat(bad);
    EXPECT_FALSE(bool(f)) << bad;
    if (!f)
      EXPECT_NE(llvm::toString(f.takeError()).find(std::string("--weights=") + bad),
                std::string::npos);
  }
}

// --lm-head: lm_head's format beside the projections', in their group.
TEST(WeightFormat, ParseLMHead) {
  auto byDefault = parseWeightFormat("int4", "");
  ASSERT_TRUE(bool(byDefault));
  EXPECT_EQ(byDefault->head, WeightFormat::Int8);
  for (auto [spec, head, kind] :
       {std::tuple{"int4", "int8", WeightFormat::Int8},
        std::tuple{"int4:64", "int4", WeightFormat::Int4},
        std::tuple{"int8", "int4", WeightFormat::Int4},
        std::tuple{"int8:32", "stored", WeightFormat::Stored}}) {
    auto f = parseWeightFormat(spec, head);
    ASSERT_TRUE(bool(f)) << spec << " " << head;
    EXPECT_EQ(f->head, kind) << spec << " " << head;
  }
  // Each refusal names the flag that is wrong.
  for (auto [spec, head, says] :
       {std::tuple{"stored", "int8", "--lm-head=int8: lm_head is quantized with the "
                                    "projections: give --weights=int8 or --weights=int4"},
        std::tuple{"int4", "int2", "--lm-head=int2: expected int8, int4 or stored"},
        std::tuple{"int4", "INT4", "--lm-head=INT4: expected"},
        std::tuple{"int8:16", "int4", "--lm-head=int4: the group must be a multiple of "
                                      "32 (int4's tile of columns), got 16 "
                                      "(--weights=int8:16)"},
        std::tuple{"int4:16", "int4", "--weights=int4:16: the group"}}) {
    auto f = parseWeightFormat(spec, head);
    ASSERT_FALSE(bool(f)) << spec << " " << head;
    std::string message = llvm::toString(f.takeError());
    EXPECT_EQ(message.rfind(says, 0), 0u) << message;
  }
}

TEST(WeightFormat, WhatIsQuantized) {
  for (const char *name :
       {"model.layers.0.linear_attn.in_proj_qkvz.weight",
        "model.layers.0.linear_attn.out_proj.weight",
        "model.language_model.layers.1.linear_attn.in_proj_qkv.weight",
        "model.language_model.layers.1.linear_attn.in_proj_z.weight",
        "model.layers.3.self_attn.q_proj.weight", "model.layers.3.self_attn.o_proj.weight",
        "model.layers.0.mlp.experts.{e}.gate_proj.weight",
        "model.layers.0.mlp.experts.7.down_proj.weight",
        "model.layers.0.mlp.shared_expert.up_proj.weight",
        "model.language_model.layers.0.mlp.experts.gate_up_proj",
        "model.language_model.layers.0.mlp.experts.down_proj", "model.layers.2.mlp.up_proj.weight"})
    EXPECT_TRUE(isQuantizedProjection(name)) << name;
  for (const char *name :
       {"model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
        "model.layers.0.input_layernorm.weight", "model.layers.0.mlp.gate.weight",
        "model.layers.0.mlp.shared_expert_gate.weight",
        "model.layers.0.linear_attn.in_proj_ba.weight",
        "model.language_model.layers.0.linear_attn.in_proj_b.weight",
        "model.layers.0.linear_attn.conv1d.weight", "model.layers.0.linear_attn.A_log",
        "model.layers.3.self_attn.q_norm.weight", "mtp.layers.0.self_attn.q_proj.weight"})
    EXPECT_FALSE(isQuantizedProjection(name)) << name;
}

// What each tensor becomes under --weights: the projections take the
// format, lm_head int8 with its group, everything else as stored.
TEST(WeightFormat, FormatOfEachTensor) {
  WeightFormat int4{WeightFormat::Int4, 64}, stored;
  EXPECT_EQ(formatOf(int4, "model.layers.0.self_attn.o_proj.weight").str(), "int4:64");
  EXPECT_EQ(formatOf(int4, "lm_head.weight").str(), "int8:64");
  EXPECT_FALSE(formatOf(int4, "model.embed_tokens.weight").quantizes());
  EXPECT_FALSE(formatOf(int4, "model.layers.0.mlp.gate.weight").quantizes());
  EXPECT_FALSE(formatOf(stored, "lm_head.weight").quantizes());
  EXPECT_FALSE(formatOf(stored, "model.layers.0.self_attn.o_proj.weight").quantizes());
  // --lm-head changes lm_head alone.
  WeightFormat head4 = int4, headStored = int4;
  head4.head = WeightFormat::Int4;
  headStored.head = WeightFormat::Stored;
  EXPECT_EQ(formatOf(head4, "lm_head.weight").str(), "int4:64");
  EXPECT_FALSE(formatOf(headStored, "lm_head.weight").quantizes());
  EXPECT_EQ(formatOf(headStored, "model.layers.0.self_attn.o_proj.weight").str(), "int4:64");
  EXPECT_FALSE(formatOf(head4, "model.embed_tokens.weight").quantizes());
}

// An int4 lm_head needs whole tiles too; the refusal names --lm-head.
TEST(WeightFormat, LMHeadColumns) {
  WeightFormat head4{WeightFormat::Int8, 128};
  head4.head = WeightFormat::Int4;
  EXPECT_FALSE(bool(checkColumns("int8", head4, "model.layers.0.mlp.up_proj.weight", 80)));
  llvm::Error e = checkColumns("int8", head4, "lm_head.weight", 80);
  ASSERT_TRUE(bool(e));
  EXPECT_EQ(llvm::toString(std::move(e)),
            "--lm-head=int4: 'lm_head.weight' has 80 columns, int4 stores whole tiles "
            "of 32 (--lm-head=int8 takes any)");
}

// One row of 5 columns in groups of 2 (the last partial), and a row of
// zeros: scale = max|x| / 127, q = round(x / scale); a group of zeros has
// scale 0. Dequantizing gives q * scale, within half
// a scale of x.
TEST(Int8, QuantizeRows) {
  const std::vector<float> x = {1.0f, -0.6f, 0.25f, 0.1f, -3.0f,
                                0.0f, 0.0f,  0.0f,  2.0f,   0.0f};
  int8_t q[10];
  float s[6];
  quantizeInt8(x, 2, 5, 2, q, s);
  EXPECT_EQ(s[0], 1.0f / 127.0f);
  EXPECT_EQ(s[1], 0.25f / 127.0f);
  EXPECT_EQ(s[2], 3.0f / 127.0f);
  EXPECT_EQ(s[3], 0.0f);
  EXPECT_EQ(s[4], 2.0f / 127.0f);
  EXPECT_EQ(s[5], 0.0f);
  const int8_t want[10] = {127, -76, 127, 51, -127, 0, 0, 0, 127, 0};
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(q[i], want[i]) << i;
  float back[10];
  dequantizeInt8(q, s, 2, 5, 2, back);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(back[i], float(q[i]) * s[(i / 5) * 3 + (i % 5) / 2]) << i;
    EXPECT_LE(std::fabs(back[i] - x[i]), 0.5f * s[(i / 5) * 3 + (i % 5) / 2] * 1.0001f) << i;
  }
}

// int4: scale = max|x| / 7, q = round(x / scale) in -7..7, two a byte in
// tiles of 32 columns: byte j of a tile holds column j in its low nibble and
// column j + 16 in its high one (two's complement). Checked on the bytes
// themselves, then through int4At and dequantizeInt4: within half a scale.
TEST(Int4, QuantizeTiles) {
  const int64_t rows = 2, cols = 64, group = 32;
  std::vector<float> x(rows * cols);
  for (int64_t i = 0; i < rows * cols; ++i)
    x[i] = std::sin(0.37f * float(i)) * float(1 + i % 5);
  x[cols + 3] = 0.0f; // and a group of zeros in row 1's second group
  for (int64_t c = 32; c < 64; ++c)
    x[cols + c] = 0.0f;
  std::vector<int8_t> packed(rows * cols / 2);
  std::vector<float> scales(rows * 2);
  quantizeInt4(x, rows, cols, group, packed.data(), scales.data());
  EXPECT_EQ(scales[3], 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t g = 0; g < 2; ++g) {
      float amax = 0.0f;
      for (int64_t c = g * group; c < (g + 1) * group; ++c)
        amax = std::max(amax, std::fabs(x[r * cols + c]));
      EXPECT_EQ(scales[r * 2 + g], amax / 7.0f) << r << "," << g;
    }
  std::vector<float> back(rows * cols);
  dequantizeInt4(packed.data(), scales.data(), rows, cols, group, back.data());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const float s = scales[r * 2 + c / group];
      const float v = x[r * cols + c];
      const int want = s > 0.0f ? int(std::lround(v / s)) : 0;
      // The byte and nibble the layout puts column c in.
      const uint8_t byte = uint8_t(packed[r * cols / 2 + (c / 32) * 16 + c % 16]);
      const int nibble = (c % 32) < 16 ? byte & 0x0F : byte >> 4;
      EXPECT_EQ(nibble >= 8 ? nibble - 16 : nibble, want) << r << "," << c;
      EXPECT_EQ(int4At(packed.data() + r * cols / 2, c), want) << r << "," << c;
      EXPECT_GE(want, -7);
      EXPECT_LE(want, 7);
      EXPECT_EQ(back[r * cols + c], float(want) * s);
      EXPECT_LE(std::fabs(back[r * cols + c] - v), 0.5f * s * 1.0001f) << r << "," << c;
    }
}

// The kernels' int4 decoding (KernelEmitter::load): a byte sign-extended to
// 32 bits, then the low nibble as (b << 28) >> 28 and the high one as b >> 4
// (arithmetic shifts), for every byte: what int4At reads.
TEST(Int4, KernelDecodingOfEveryByte) {
  for (int byte = 0; byte < 256; ++byte) {
    int8_t tile[16] = {};
    tile[5] = int8_t(uint8_t(byte));
    const int32_t wide = int32_t(int8_t(uint8_t(byte)));
    const int32_t lo = int32_t(uint32_t(wide) << 28) >> 28, hi = wide >> 4;
    EXPECT_EQ(lo, int4At(tile, 5)) << byte;
    EXPECT_EQ(hi, int4At(tile, 21)) << byte;
  }
}

// The kernels' e4m3 decoding (KernelEmitter::load): the byte sign-extended
// to 16 bits, shifted left by 7 and masked with 0xBF80 is an f16 of the
// value times 2^-8 (normal, or subnormal for e4m3's subnormals), which
// widens exactly to a normal f32; times 2^8 it is the value, for every byte
// but the two NaNs.
TEST(FP8, KernelDecodingOfEveryByte) {
  for (int byte = 0; byte < 256; ++byte) {
    if ((byte & 0x7F) == 0x7F)
      continue;
    int16_t bits = int16_t(int8_t(uint8_t(byte)));
    uint16_t masked = uint16_t((uint16_t(bits) << 7) & 0xBF80u);
    uint8_t le[2] = {uint8_t(masked & 0xFF), uint8_t(masked >> 8)};
    float widened = readScale(le, DType::F16);
    if (byte & 0x7F)
      EXPECT_TRUE(std::isnormal(widened)) << byte;
    float got = widened * 256.0f;
    float want = decodeE4M3(uint8_t(byte));
    EXPECT_EQ(llvm::bit_cast<uint32_t>(got), llvm::bit_cast<uint32_t>(want)) << byte;
  }
}

} // namespace
