//===- BF16DotOracleTest.cpp - activations=bf16 kernels vs their arithmetic ===//
//
// qnext-compile --activations=bf16: a kernel of bf16 weights rounds its
// input to bf16 (to nearest even) and multiplies pairs, with vdpbf16ps
// (x86vector.avx512.dot) or, for several tokens with --amx, on AMX tiles
// (tdpbf16ps, AMXTiles.cpp). Each case is compiled by the CPU pipeline,
// JIT-run, and held against that arithmetic in C++: the input rounded to
// bf16, the products and sums in double. The products of two bf16 values
// are exact in f32, so what is left is f32 summation: the op oracles'
// tolerance, under which a wrong pair order, a transposed tile or a token
// lost at a tile's edge shows. Runs where the host has the instructions
// (AMX also needs the kernel's permission for the tile state); skips,
// saying why, elsewhere.
//
//===----------------------------------------------------------------------===//

#include "OpOracle.h"

#include "qnext/CPUFeatures.h"
#include "qnext/Target/CPUObject.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

using namespace qnext::oracle;

namespace {

/// f32 -> bf16 -> f32, to nearest even (arith.truncf's rounding).
double roundBF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u = (u + 0x7fff + ((u >> 16) & 1)) & 0xffff0000u;
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

/// An input as the kernels multiply it with `terms` bf16 values: rounded
/// (1), or that and what the rounding left, rounded (2; in f32, as the
/// kernel subtracts).
double inputBF16(float f, int terms) {
  double hi = roundBF16(f);
  return terms == 1 ? hi : hi + roundBF16(f - float(hi));
}

/// activations=bf16 at 16 lanes, with vdpbf16ps blocks ("dot") or AMX tiles
/// for the kernels of several tokens ("amx"), an input as 1 or 2 bf16 terms.
class BF16DotOracle : public ::testing::TestWithParam<std::tuple<bool, int>> {
protected:
  void SetUp() override {
    if (!mlir::qnext::hasBF16Dot({}, 16))
      GTEST_SKIP() << "this CPU has no vdpbf16ps (AVX512-BF16)";
    if (std::get<0>(GetParam())) {
      if (!mlir::qnext::hasAMXBF16({}))
        GTEST_SKIP() << "this CPU has no AMX-BF16 tiles (amx_tile and amx_bf16 in "
                        "/proc/cpuinfo)";
      std::string why;
      if (!qnext::cpu::requestAMXPermission(&why))
        GTEST_SKIP() << why;
    }
    vectorWidth = 16;
    activations = "bf16";
    amx = std::get<0>(GetParam());
    bf16Terms = terms();
  }
  void TearDown() override {
    activations = "f32";
    amx = false;
    bf16Terms = 1;
  }
  int terms() const { return std::get<1>(GetParam()); }
};
INSTANTIATE_TEST_SUITE_P(
    Products, BF16DotOracle,
    ::testing::Combine(::testing::Values(false, true), ::testing::Values(1, 2)),
    [](const ::testing::TestParamInfo<std::tuple<bool, int>> &info) {
      return std::string(std::get<0>(info.param) ? "amx" : "dot") + "_terms" +
             std::to_string(std::get<1>(info.param));
    });

// A prompt's projection ([T, K] x [N, K]): token counts inside one token
// tile, across tiles (the vdpbf16ps blocks' tiles of 64, the AMX kernels'
// of 256: 300 and 513 tokens), and not whole blocks of 32 (the AMX kernel's
// last block of a tile holds padding); K from one tile row (32) to 64 of them.
TEST_P(BF16DotOracle, PromptLinear) {
  std::mt19937 rng(21);
  for (auto [t, k, n] : {std::tuple{2, 32, 32}, std::tuple{17, 64, 96},
                         std::tuple{45, 2048, 64}, std::tuple{64, 96, 32},
                         std::tuple{130, 256, 64}, std::tuple{300, 64, 32},
                         std::tuple{513, 32, 64}}) {
    SCOPED_TRACE("T " + std::to_string(t) + ", K " + std::to_string(k) + ", N " +
                 std::to_string(n));
    const float g = 1 / std::sqrt(float(k));
    Buffer x = dynamic(f32({t, k}, rng)), w = bf16({n, k}, rng, -g, g);
    Buffer y = dynamic(out("f32", {t, n}));
    auto res = run("%r0 = qnext.linear %a0, %a1 : " + x.tensorType() + ", " +
                       w.tensorType() + " -> " + y.tensorType(),
                   {x, w}, {y});
    ASSERT_EQ(res.size(), 1u);
    std::vector<double> want(t * n);
    for (int i = 0; i < t; ++i)
      for (int j = 0; j < n; ++j) {
        double s = 0;
        for (int c = 0; c < k; ++c)
          s += inputBF16(x.at({i, c}), terms()) * w.at({j, c});
        want[i * n + j] = s;
      }
    EXPECT_TRUE(close(res[0], want));
  }
}

// A prompt's routed experts, grouped by expert (80 (token, slot) pairs >
// 4 x 4 experts): each expert's gate and up read its tokens' rows, down the
// f32 silu(gate) * up, each rounded to bf16 where a kernel reads it.
TEST_P(BF16DotOracle, PromptExperts) {
  std::mt19937 rng(22);
  const int t = 40, k = 2, e = 4, h = 64, inter = 32;
  std::vector<int64_t> ids;
  for (int i = 0; i < t; ++i) {
    ids.push_back(i % e);
    ids.push_back((i / 3 + 1 + i % e) % e);
  }
  Buffer x = dynamic(f32({t, h}, rng)), w = dynamic(f32({t, k}, rng, 0, 1));
  Buffer idx = dynamic(ints("i32", {t, k}, ids));
  const float gh = 1 / std::sqrt(float(h)), gi = 1 / std::sqrt(float(inter));
  Buffer gate = bf16({e, inter, h}, rng, -gh, gh), up = bf16({e, inter, h}, rng, -gh, gh);
  Buffer down = bf16({e, h, inter}, rng, -gi, gi);
  auto res = run("%r0 = qnext.expert_swiglu %a0, %a1, %a2, %a3, %a4, %a5 : (" +
                     x.tensorType() + ", " + w.tensorType() + ", " + idx.tensorType() +
                     ", " + gate.tensorType() + ", " + up.tensorType() + ", " +
                     down.tensorType() + ") -> " + x.tensorType(),
                 {x, w, idx, gate, up, down}, {dynamic(out("f32", {t, h}))});
  ASSERT_EQ(res.size(), 1u);
  // Each projection's input as bf16 terms (silu(gate) * up first to f32).
  EXPECT_TRUE(close(res[0], expertSwiGLU(x, w, idx, gate, up, down, [&](double v) {
                      return inputBF16(float(v), terms());
                    })));
}

} // namespace
