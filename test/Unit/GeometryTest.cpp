//===- GeometryTest.cpp - shape logic, row permutations, RoPE tables ------===//

#include "qnext/Support/Geometry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

using namespace qnext;

namespace {

/// Qwen3-Next-80B-A3B's DeltaNet: Nk 16, Nv 32, Dk = Dv = 128 (spec 0.2).
DeltaNetGeometry geometry80B() { return {16, 32, 128, 128}; }

TEST(DeltaNetGeometry, DerivedSizesOf80B) {
  DeltaNetGeometry g = geometry80B();
  EXPECT_EQ(g.validate(), "");
  EXPECT_EQ(g.valueHeadsPerKeyHead(), 2);
  EXPECT_EQ(g.keyDim(), 2048);
  EXPECT_EQ(g.valueDim(), 4096);
  EXPECT_EQ(g.convDim(), 8192);
  EXPECT_EQ(g.qkvzRows(), 12288);
  EXPECT_EQ(g.qkvzGroupStride(), 768);
}

TEST(DeltaNetGeometry, ValidateNamesTheField) {
  EXPECT_EQ((DeltaNetGeometry{16, 30, 128, 128}.validate()),
            "num_value_heads (30) must be a multiple of num_key_heads (16)");
  EXPECT_EQ((DeltaNetGeometry{0, 32, 128, 128}.validate()),
            "num_key_heads (0) must be positive");
  EXPECT_EQ((DeltaNetGeometry{16, 32, -1, 128}.validate()),
            "key_head_dim (-1) must be positive");
  EXPECT_EQ((DeltaNetGeometry{16, 32, 128, 0}.validate()),
            "value_head_dim (0) must be positive");
}

TEST(DeltaNetGeometry, QkvzPermutationIsAPermutation) {
  for (DeltaNetGeometry g : {geometry80B(), DeltaNetGeometry{2, 4, 32, 32},
                             DeltaNetGeometry{3, 3, 8, 16},
                             DeltaNetGeometry{1, 4, 4, 2}}) {
    std::vector<int64_t> rows = g.qkvzRowPermutation();
    ASSERT_EQ(static_cast<int64_t>(rows.size()), g.qkvzRows());
    std::sort(rows.begin(), rows.end());
    std::vector<int64_t> iota(rows.size());
    std::iota(iota.begin(), iota.end(), 0);
    EXPECT_EQ(rows, iota);
  }
}

// Spec 4.2's worked example for group g of the 80B layout: q at [768g,
// 768g+128), k at [768g+128, 768g+256), v head 2g at [768g+256, 768g+384),
// v head 2g+1 at [768g+384, 768g+512), z heads 2g and 2g+1 after them.
TEST(DeltaNetGeometry, QkvzPermutationMatchesSpecExample) {
  DeltaNetGeometry g = geometry80B();
  std::vector<int64_t> rows = g.qkvzRowPermutation();
  const int64_t keyDim = g.keyDim(), convDim = g.convDim();
  for (int64_t grp : {0, 5, 15}) {
    for (int64_t d : {0, 77, 127}) {
      EXPECT_EQ(rows[grp * 128 + d], 768 * grp + d) << "q";
      EXPECT_EQ(rows[keyDim + grp * 128 + d], 768 * grp + 128 + d) << "k";
      EXPECT_EQ(rows[2 * keyDim + (2 * grp) * 128 + d], 768 * grp + 256 + d);
      EXPECT_EQ(rows[2 * keyDim + (2 * grp + 1) * 128 + d],
                768 * grp + 384 + d);
      EXPECT_EQ(rows[convDim + (2 * grp) * 128 + d], 768 * grp + 512 + d);
      EXPECT_EQ(rows[convDim + (2 * grp + 1) * 128 + d], 768 * grp + 640 + d);
    }
  }
}

// Spec 4.2: b[2g] = Q[4g], b[2g+1] = Q[4g+1], a[2g] = Q[4g+2], a[2g+1] = Q[4g+3].
TEST(DeltaNetGeometry, BaPermutationMatchesSpecExample) {
  DeltaNetGeometry g = geometry80B();
  std::vector<int64_t> rows = g.baRowPermutation();
  ASSERT_EQ(rows.size(), 64u);
  for (int64_t grp = 0; grp < 16; ++grp) {
    EXPECT_EQ(rows[2 * grp], 4 * grp);
    EXPECT_EQ(rows[2 * grp + 1], 4 * grp + 1);
    EXPECT_EQ(rows[32 + 2 * grp], 4 * grp + 2);
    EXPECT_EQ(rows[32 + 2 * grp + 1], 4 * grp + 3);
  }
}

TEST(DeltaNetGeometry, PermutationsWithOneValueHeadPerKeyHead) {
  // R = 1: groups are [q | k | v | z] of one head each.
  DeltaNetGeometry g{2, 2, 2, 3};
  EXPECT_EQ(g.qkvzRowPermutation(),
            (std::vector<int64_t>{0, 1, 10, 11,           // q0, q1
                                  2, 3, 12, 13,           // k0, k1
                                  4, 5, 6, 14, 15, 16,    // v0, v1
                                  7, 8, 9, 17, 18, 19})); // z0, z1
  EXPECT_EQ(g.baRowPermutation(), (std::vector<int64_t>{0, 2, 1, 3}));
}

TEST(AttentionGeometry, Validate) {
  EXPECT_EQ((AttentionGeometry{16, 2, 256, 64}.validate()), "");
  EXPECT_EQ((AttentionGeometry{16, 3, 256, 64}.validate()),
            "num_heads (16) must be a multiple of num_kv_heads (3)");
  EXPECT_EQ((AttentionGeometry{16, 2, 256, 512}.validate()),
            "rotary_dim (512) must not exceed head_dim (256)");
  EXPECT_EQ((AttentionGeometry{16, 2, 256, 63}.validate()),
            "rotary_dim (63) must be positive and even");
  EXPECT_EQ((AttentionGeometry{16, 0, 256, 64}.validate()),
            "num_kv_heads (0) must be positive");
}

TEST(YarnParams, Validate) {
  EXPECT_EQ((YarnParams{4.0, 262144, 32.0, 1.0}.validate()), "");
  EXPECT_EQ((YarnParams{0.5, 262144, 32.0, 1.0}.validate()),
            "factor (0.5) must be a finite number >= 1");
  EXPECT_EQ((YarnParams{4.0, 0, 32.0, 1.0}.validate()),
            "original_max_position_embeddings (0) must be positive");
  EXPECT_EQ((YarnParams{4.0, 262144, 1.0, 32.0}.validate()),
            "beta_fast (1) must be greater than beta_slow (32) and both "
            "positive");
}

// Spec 5.3: theta 1e7, 64 rotated dims: inv_freq[0] = 1, inv_freq[31] ~ 1.655e-7.
TEST(Rope, DefaultFrequencies) {
  RopeFrequencies f = computeRopeFrequencies(64, 1e7, std::nullopt);
  ASSERT_EQ(f.invFreq.size(), 32u);
  EXPECT_FLOAT_EQ(f.invFreq[0], 1.0f);
  EXPECT_NEAR(f.invFreq[31] / 1.655e-7f, 1.0f, 1e-3f);
  EXPECT_FLOAT_EQ(f.attentionFactor, 1.0f);
  for (size_t i = 1; i < f.invFreq.size(); ++i)
    EXPECT_LT(f.invFreq[i], f.invFreq[i - 1]);
}

// Spec 5.4's worked values for f = 4, L0 = 262144, base = 1e7, dim = 64:
// low = 14, high = 22: i <= 14 unchanged, i >= 22 divided by 4, linear blend
// between; attention factor 1.1386294.
TEST(Rope, YarnWorkedExample) {
  YarnParams yarn{4.0, 262144, 32.0, 1.0};
  RopeFrequencies plain = computeRopeFrequencies(64, 1e7, std::nullopt);
  RopeFrequencies f = computeRopeFrequencies(64, 1e7, yarn);
  ASSERT_EQ(f.invFreq.size(), 32u);
  EXPECT_NEAR(f.attentionFactor, 1.1386294f, 1e-6f);
  for (int i = 0; i <= 14; ++i)
    EXPECT_FLOAT_EQ(f.invFreq[i], plain.invFreq[i]) << i;
  for (int i = 22; i < 32; ++i)
    EXPECT_FLOAT_EQ(f.invFreq[i], plain.invFreq[i] / 4.0f) << i;
  // Halfway through the ramp (i = 18): half interpolated, half extrapolated.
  EXPECT_FLOAT_EQ(f.invFreq[18], plain.invFreq[18] * (0.5f + 0.5f / 4.0f));
}

} // namespace
