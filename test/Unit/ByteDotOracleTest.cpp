//===- ByteDotOracleTest.cpp - activations=int8 kernels vs their arithmetic ===//
//
// qnext-compile --activations=int8: a one-token kernel of int8 or int4
// weights quantizes its input per group of the weights' columns (scale =
// max |x| / 127, q = x * (127 / max) rounded to nearest even, in f32) and
// multiplies bytes (vpdpbusd, or vpmaddubsw + vpmaddwd). Each case is
// compiled by the CPU pipeline, JIT-run, and held against that arithmetic
// in C++ (integer sums exact, scales in double): the same tolerance as the
// op oracles, so a wrong byte order, offset, sign or group shows. Runs
// where the host has the case's instructions at its vector width; skips,
// saying why, elsewhere.
//
//===----------------------------------------------------------------------===//

#include "OpOracle.h"

#include "qnext/Target/CPUObject.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace qnext::oracle;

namespace {

double silu(double x) { return x / (1.0 + std::exp(-x)); }

/// Weights [..., N, K] quantized: values q (int8: -127..127; int4: -7..7)
/// and one f32 scale per group of a row.
struct QuantWeight {
  std::vector<int64_t> shape; ///< [..., N, K]
  int64_t group;
  bool int4;
  std::vector<int> q;
  std::vector<float> scales;

  int64_t rows() const {
    int64_t r = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i)
      r *= shape[i];
    return r;
  }
  int64_t cols() const { return shape.back(); }
  int64_t groups() const { return (cols() + group - 1) / group; }

  /// The stored bytes: int8 as they are; int4 two a byte in tiles of 32
  /// columns, byte j of a tile holding column j (low nibble) and j + 16.
  Buffer values() const {
    std::vector<int64_t> bytes;
    for (int64_t r = 0; r < rows(); ++r) {
      const int *row = &q[r * cols()];
      if (!int4) {
        bytes.insert(bytes.end(), row, row + cols());
        continue;
      }
      for (int64_t t = 0; t < cols(); t += 32)
        for (int j = 0; j < 16; ++j)
          bytes.push_back(int8_t(uint8_t((row[t + j] & 15) | (row[t + j + 16] & 15) << 4)));
    }
    std::vector<int64_t> s = shape;
    if (int4)
      s.back() /= 2;
    return ints("i8", s, bytes);
  }
  Buffer scaleBuffer() const {
    Buffer b;
    b.elt = "f32";
    b.shape = shape;
    b.shape.back() = groups();
    b.values = scales;
    return b;
  }
  /// `%name = qnext.dequantize %values, %scales ...`.
  std::string dequantize(const std::string &name, const std::string &v,
                         const std::string &s) const {
    Buffer f = scaleBuffer();
    f.shape.back() = cols();
    return "%" + name + " = qnext.dequantize " + v + ", " + s + " {group = " +
           std::to_string(group) + " : i64" + (int4 ? ", int4" : "") + "} : " +
           values().tensorType() + ", " + scaleBuffer().tensorType() + " -> " +
           f.tensorType() + "\n";
  }
};

QuantWeight randomWeight(std::vector<int64_t> shape, int64_t group, bool int4,
                         std::mt19937 &rng) {
  QuantWeight w{std::move(shape), group, int4, {}, {}};
  int limit = int4 ? 7 : 127;
  std::uniform_int_distribution<int> q(-limit, limit);
  std::uniform_real_distribution<float> s(0.5f / limit, 2.0f / limit);
  w.q.resize(w.rows() * w.cols());
  for (int &v : w.q)
    v = q(rng);
  w.scales.resize(w.rows() * w.groups());
  for (float &v : w.scales)
    v = s(rng);
  return w;
}

/// Row `r` (of the flattened leading dimensions) of `w` times `x`, as the
/// kernel computes it: x quantized per group in f32, the integer sum of
/// each group exact, times the weight's scale times x's (an f32 product).
double byteDot(const QuantWeight &w, int64_t r, const float *x) {
  double y = 0;
  for (int64_t g0 = 0; g0 < w.cols(); g0 += w.group) {
    int64_t g1 = std::min(w.cols(), g0 + w.group);
    float max = 0;
    for (int64_t k = g0; k < g1; ++k)
      max = std::max(max, std::fabs(x[k]));
    float inv = max > 1e-30f ? 127.0f / max : 0.0f, scale = max / 127.0f;
    int64_t sum = 0;
    for (int64_t k = g0; k < g1; ++k)
      sum += int64_t(w.q[r * w.cols() + k]) * int64_t(std::nearbyint(x[k] * inv));
    y += double(w.scales[r * w.groups() + g0 / w.group] * scale) * double(sum);
  }
  return y;
}

/// Both kernel families (8 and 16 f32 lanes) with activations=int8, each
/// with vpdpbusd and with vpmaddubsw + vpmaddwd (int8 weights' signs moved
/// onto the input there).
class ByteDotOracle : public ::testing::TestWithParam<std::tuple<int64_t, bool>> {
protected:
  void SetUp() override {
    auto [lanes, withVNNI] = GetParam();
    mlir::qnext::ByteDot host = mlir::qnext::byteDotOf({}, lanes);
    if (withVNNI && host != mlir::qnext::ByteDot::VNNI)
      GTEST_SKIP() << "this CPU has no vpdpbusd for " << lanes * 32
                   << "-bit vectors (AVX512-VNNI, or AVX-VNNI for 256 bits)";
    if (host == mlir::qnext::ByteDot::None)
      GTEST_SKIP() << "this CPU has no vpmaddubsw for " << lanes * 32 << "-bit vectors ("
                   << (lanes == 16 ? "AVX512-BW" : "AVX2") << ")";
    vectorWidth = lanes;
    vnni = withVNNI;
    activations = "int8";
  }
  void TearDown() override {
    activations = "f32";
    vnni = true;
  }
};
INSTANTIATE_TEST_SUITE_P(
    Lanes, ByteDotOracle, ::testing::Combine(::testing::Values(8, 16), ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<int64_t, bool>> &info) {
      return "f32x" + std::to_string(std::get<0>(info.param)) +
             (std::get<1>(info.param) ? "_vpdpbusd" : "_vpmaddubsw");
    });

// A decode step's projection ([1, K] x [N, K]): N rows left over after the
// row blocks, groups of 128 and 256, a partial last group (384 = 256 + 128),
// inputs with an outlier per group, an all-zero group (scale 0) and a group
// of 1e-35 (quantized to zeros); rows of 1024 columns of either format.
TEST_P(ByteDotOracle, DecodeLinear) {
  std::mt19937 rng(7);
  for (auto [k, n, group, int4] :
       {std::tuple{256, 19, 128, false}, std::tuple{384, 8, 256, false},
        std::tuple{256, 19, 128, true}, std::tuple{384, 5, 256, true},
        std::tuple{1024, 33, 128, true}, std::tuple{1024, 9, 128, false}}) {
    SCOPED_TRACE("K " + std::to_string(k) + ", N " + std::to_string(n) + ", group " +
                 std::to_string(group) + (int4 ? ", int4" : ", int8"));
    QuantWeight w = randomWeight({n, k}, group, int4, rng);
    Buffer x = f32({1, k}, rng);
    for (int64_t g0 = 0; g0 < k; g0 += group)
      x.values[g0 + 3] = 9.5f; // an outlier: the group's other values lose bits
    if (k > group)
      std::fill(x.values.begin() + group, x.values.begin() + std::min<int64_t>(k, 2 * group),
                0.0f);
    if (k >= 3 * group) // so small that 127 / max is not finite: zeros too
      std::fill(x.values.begin() + 2 * group, x.values.begin() + 3 * group, 1e-35f);
    Buffer y = out("f32", {1, n});
    auto res = run(w.dequantize("w", "%a1", "%a2") + "%r0 = qnext.linear %a0, %w : " +
                       x.tensorType() + ", tensor<" + std::to_string(n) + "x" +
                       std::to_string(k) + "xf32> -> " + y.tensorType(),
                   {x, w.values(), w.scaleBuffer()}, {y});
    ASSERT_EQ(res.size(), 1u);
    std::vector<double> want(n);
    for (int j = 0; j < n; ++j)
      want[j] = byteDot(w, j, x.values.data());
    EXPECT_TRUE(close(res[0], want));
  }
}

// Several tokens' projection ([T, K] x [N, K]: a prompt, a batched decode
// step): the token tile's rows quantized once, blocks of several tokens
// and the 1 to 3 tokens left over, two token tiles (T above 64), int4 rows
// of 2048 columns (the bench preset's hidden size). Every
// row is held to the one-token arithmetic: a token's logits do not depend
// on the tokens beside it.
TEST_P(ByteDotOracle, PromptLinear) {
  std::mt19937 rng(9);
  for (auto [t, k, n, group, int4] :
       {std::tuple{11, 256, 19, 128, false}, std::tuple{7, 384, 8, 256, true},
        std::tuple{70, 256, 16, 128, true}, std::tuple{2, 1024, 33, 128, false},
        std::tuple{11, 2048, 12, 128, true}}) {
    SCOPED_TRACE("T " + std::to_string(t) + ", K " + std::to_string(k) + ", N " +
                 std::to_string(n) + ", group " + std::to_string(group) +
                 (int4 ? ", int4" : ", int8"));
    QuantWeight w = randomWeight({n, k}, group, int4, rng);
    Buffer x = f32({t, k}, rng);
    for (int64_t i = 0; i < t; ++i)
      x.values[i * k + 5 + i % 7] = 9.5f - float(i % 3); // an outlier a row
    // One row of zeros (scale 0).
    std::fill(x.values.begin() + (t / 2) * k, x.values.begin() + (t / 2 + 1) * k, 0.0f);
    Buffer y = out("f32", {t, n});
    auto res = run(w.dequantize("w", "%a1", "%a2") + "%r0 = qnext.linear %a0, %w : " +
                       x.tensorType() + ", tensor<" + std::to_string(n) + "x" +
                       std::to_string(k) + "xf32> -> " + y.tensorType(),
                   {x, w.values(), w.scaleBuffer()}, {y});
    ASSERT_EQ(res.size(), 1u);
    std::vector<double> want(t * n);
    for (int64_t i = 0; i < t; ++i)
      for (int64_t j = 0; j < n; ++j)
        want[i * n + j] = byteDot(w, j, &x.values[i * k]);
    EXPECT_TRUE(close(res[0], want));
  }
}

// One token's routed experts (qnext.expert_swiglu), as the CPU lowers them
// and as gather contractions (the CUDA pipeline's form): gate and up read
// the token's quantized row, down the quantized silu(gate) * up of each
// slot.
//
// Several tokens (ExpertSwiGLUTokens): a prompt's experts, sorted by expert
// into row gathers while each chosen expert has few rows (5 tokens), else
// grouped into one contraction per expert (12 tokens); each token's rows
// held to the same arithmetic.
void expertSwiGLU(int64_t tokens, bool gather, bool int4) {
  SCOPED_TRACE(std::to_string(tokens) + " token(s), " +
               std::string(gather ? "gather" : "per expert") +
               (int4 ? ", int4" : ", int8"));
  std::mt19937 rng(int4 ? 11 : 12);
  const int64_t h = 256, inter = 128, e = 4, k = 2;
  Buffer x = f32({tokens, h}, rng), w = f32({tokens, k}, rng, 0, 1);
  std::vector<int64_t> ids;
  for (int64_t t = 0; t < tokens; ++t) // two different experts a token
    ids.insert(ids.end(), {(2 + t) % e, (2 + t + 1 + t % 3) % e});
  Buffer idx = ints("i32", {tokens, k}, ids);
  QuantWeight gate = randomWeight({e, inter, h}, 128, int4, rng);
  QuantWeight up = randomWeight({e, inter, h}, 128, int4, rng);
  QuantWeight down = randomWeight({e, h, inter}, 128, int4, rng);
  std::string body = gate.dequantize("g", "%a3", "%a4") +
                     up.dequantize("u", "%a5", "%a6") +
                     down.dequantize("d", "%a7", "%a8");
  auto f32Type = [](std::vector<int64_t> s) {
    std::string t = "tensor<";
    for (int64_t d : s)
      t += std::to_string(d) + "x";
    return t + "f32>";
  };
  body += "%r0 = qnext.expert_swiglu %a0, %a1, %a2, %g, %u, %d : (" + x.tensorType() +
          ", " + w.tensorType() + ", " + idx.tensorType() + ", " +
          f32Type({e, inter, h}) + ", " + f32Type({e, inter, h}) + ", " +
          f32Type({e, h, inter}) + ") -> " + x.tensorType();
  auto res = run(body,
                 {x, w, idx, gate.values(), gate.scaleBuffer(), up.values(),
                  up.scaleBuffer(), down.values(), down.scaleBuffer()},
                 {out("f32", {tokens, h})}, gather);
  ASSERT_EQ(res.size(), 1u);
  std::vector<double> want(tokens * h, 0);
  for (int64_t t = 0; t < tokens; ++t)
    for (int j = 0; j < k; ++j) {
      int64_t ex = idx.intAt({t, j});
      const float *xt = &x.values[t * h];
      std::vector<float> act(inter);
      for (int64_t n = 0; n < inter; ++n)
        act[n] = float(silu(byteDot(gate, ex * inter + n, xt)) *
                       byteDot(up, ex * inter + n, xt));
      for (int64_t m = 0; m < h; ++m)
        want[t * h + m] += w.at({t, j}) * byteDot(down, ex * h + m, act.data());
    }
  // The f32 activations between the projections are rounded where the
  // kernels round them, so an input may land on the other side of a
  // rounding boundary: a looser bound than one projection's.
  Diff d = compare(res[0], want);
  EXPECT_LE(d.worst, 2e-3) << "at flat index " << d.at;
}

TEST_P(ByteDotOracle, ExpertSwiGLUOneToken) {
  for (bool gather : {false, true})
    for (bool int4 : {false, true})
      expertSwiGLU(1, gather, int4);
}

TEST_P(ByteDotOracle, ExpertSwiGLUTokens) {
  for (int64_t tokens : {5, 12})
    for (bool int4 : {false, true})
      expertSwiGLU(tokens, /*gather=*/false, int4);
}

} // namespace
