//===- SamplerTest.cpp - greedy and sampling, with fixed seeds ------------===//

#include "qnext/Sampler.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

using namespace qnext;

namespace {

std::vector<float> randomLogits(int64_t n, uint64_t seed) {
  SamplingParams p;
  p.seed = seed;
  Sampler rng(p);
  std::vector<float> logits(static_cast<size_t>(n));
  for (float &l : logits)
    l = float(8 * rng.uniform() - 4);
  return logits;
}

std::vector<int32_t> topIds(const std::vector<float> &logits, size_t k) {
  std::vector<int32_t> ids(logits.size());
  for (size_t i = 0; i < ids.size(); ++i)
    ids[i] = int32_t(i);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  });
  ids.resize(k);
  return ids;
}

TEST(Sampler, TemperatureZeroIsGreedy) {
  SamplingParams p; // temperature 0
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    std::vector<float> logits = randomLogits(1000, seed);
    int32_t best = topIds(logits, 1)[0];
    Sampler s(p);
    EXPECT_EQ(s.sample(logits.data(), 1000, {}, 0), best);
  }
}

TEST(Sampler, TopKNeverLeavesTheTopK) {
  SamplingParams p;
  p.temperature = 5; // flat: every one of the k gets picked
  p.topK = 5;
  p.seed = 42;
  Sampler s(p);
  std::vector<float> logits = randomLogits(1000, 7);
  std::vector<int32_t> top = topIds(logits, 5);
  std::set<int32_t> seen;
  for (int i = 0; i < 2000; ++i) {
    std::vector<float> row = logits;
    int32_t id = s.sample(row.data(), 1000, {}, 0);
    ASSERT_NE(std::find(top.begin(), top.end(), id), top.end()) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 5u);
}

TEST(Sampler, TopPKeepsTheSmallestSetWithThatMass) {
  SamplingParams p;
  p.temperature = 1;
  p.topP = 0.9;
  Sampler s(p);
  std::vector<float> logits = randomLogits(500, 3);
  // The full distribution, most likely first.
  std::vector<int32_t> order = topIds(logits, 500);
  double z = 0;
  float top = logits[order[0]];
  for (float l : logits)
    z += std::exp(double(l) - top);
  std::vector<float> row = logits;
  auto c = s.candidates(row.data(), 500, {}, 0);
  double kept = 0;
  for (size_t i = 0; i < c.size(); ++i) {
    EXPECT_EQ(c[i].first, order[i]);
    kept += std::exp(double(logits[order[i]]) - top) / z;
  }
  double lastP = std::exp(double(logits[order[c.size() - 1]]) - top) / z;
  EXPECT_GE(kept, 0.9 - 1e-9);
  EXPECT_LT(kept - lastP, 0.9);
  double sum = 0;
  for (auto &[id, prob] : c)
    sum += prob;
  EXPECT_NEAR(sum, 1.0, 1e-9);
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  SamplingParams p;
  p.temperature = 1;
  p.minP = 0.2;
  Sampler s(p);
  std::vector<float> logits = {0.f, std::log(0.5f), std::log(0.19f), std::log(0.25f)};
  auto c = s.candidates(logits.data(), 4, {}, 0);
  ASSERT_EQ(c.size(), 3u); // 0.19 < 0.2 * 1
  EXPECT_EQ(c[0].first, 0);
  EXPECT_EQ(c[1].first, 1);
  EXPECT_EQ(c[2].first, 3);
}

TEST(Sampler, FrequenciesFollowTheDistribution) {
  SamplingParams p;
  p.temperature = 1;
  p.seed = 9;
  Sampler s(p);
  std::vector<float> logits = {std::log(0.7f), std::log(0.2f), std::log(0.1f)};
  std::map<int32_t, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    std::vector<float> row = logits;
    ++counts[s.sample(row.data(), 3, {}, 0)];
  }
  EXPECT_NEAR(counts[0] / double(n), 0.7, 0.02);
  EXPECT_NEAR(counts[1] / double(n), 0.2, 0.02);
  EXPECT_NEAR(counts[2] / double(n), 0.1, 0.02);
}

// Speculative sampling with a draft chosen without chance: whatever the
// draft, the token returned is distributed as sample()'s, and the draft is
// kept with its probability.
TEST(Sampler, VerifiedDraftsKeepTheDistribution) {
  SamplingParams params;
  params.temperature = 0.8;
  params.topK = 6;
  params.seed = 11;
  std::vector<float> logits = randomLogits(12, 5);
  Sampler sampler(params);
  std::vector<float> copy = logits;
  std::vector<std::pair<int32_t, double>> p = sampler.candidates(copy.data(), 12, {}, 0);
  ASSERT_EQ(p.size(), 6u);
  const int trials = 200000;
  // The most likely token, a middling one, and one outside the top 6.
  const int32_t outside = topIds(logits, 12).back();
  for (int32_t draft : {p[0].first, p[2].first, outside}) {
    std::map<int32_t, int> counts;
    int kept = 0;
    for (int i = 0; i < trials; ++i) {
      copy = logits;
      bool k = false;
      int32_t id = sampler.verifyDraft(copy.data(), 12, {}, 0, draft, k);
      ++counts[id];
      kept += k;
      if (k)
        ASSERT_EQ(id, draft);
    }
    double pDraft = 0;
    for (const auto &[id, q] : p) {
      if (id == draft)
        pDraft = q;
      const double sigma = std::sqrt(q * (1 - q) / trials);
      EXPECT_NEAR(double(counts[id]) / trials, q, 5 * sigma + 1e-9)
          << "token " << id << ", draft " << draft;
    }
    EXPECT_EQ(counts.size(), p.size()) << "a token outside the candidates, draft " << draft;
    EXPECT_NEAR(double(kept) / trials, pDraft, 5 * std::sqrt(pDraft * (1 - pDraft) / trials) + 1e-9);
  }
  // Greedy: kept exactly when the draft is the most likely token.
  Sampler greedy{SamplingParams()};
  const int32_t best = topIds(logits, 1)[0];
  for (int32_t draft : {best, outside}) {
    copy = logits;
    bool k = false;
    EXPECT_EQ(greedy.verifyDraft(copy.data(), 12, {}, 0, draft, k), best);
    EXPECT_EQ(k, draft == best);
  }
}

TEST(Sampler, SeedsReproduce) {
  SamplingParams p;
  p.temperature = 1;
  p.topK = 50;
  std::vector<float> logits = randomLogits(1000, 11);
  auto draw = [&](uint64_t seed) {
    p.seed = seed;
    Sampler s(p);
    std::vector<int32_t> out;
    for (int i = 0; i < 64; ++i) {
      std::vector<float> row = logits;
      out.push_back(s.sample(row.data(), 1000, {}, 0));
    }
    return out;
  };
  EXPECT_EQ(draw(1), draw(1));
  EXPECT_NE(draw(1), draw(2));
}

TEST(Sampler, Penalties) {
  SamplingParams p;
  p.repetitionPenalty = 2;
  p.presencePenalty = 0.5;
  Sampler s(p);
  std::vector<float> logits = {4, -4, 3, 1};
  // Token 0 in the prompt (repetition only), 2 generated (both).
  auto c = s.candidates(logits.data(), 4, {0, 2}, 1);
  EXPECT_FLOAT_EQ(logits[0], 2);    // 4 / 2
  EXPECT_FLOAT_EQ(logits[1], -4);   // untouched
  EXPECT_FLOAT_EQ(logits[2], 1);    // 3 / 2 - 0.5
  EXPECT_EQ(c[0].first, 0);         // greedy on the penalised logits
  // The frequency penalty counts each time a token was generated.
  SamplingParams f;
  f.frequencyPenalty = 0.25;
  Sampler fs(f);
  logits = {4, -4, 3, 1};
  fs.candidates(logits.data(), 4, {0, 2, 2, 3, 2}, 1);
  EXPECT_FLOAT_EQ(logits[0], 4);    // in the prompt only
  EXPECT_FLOAT_EQ(logits[2], 2.25); // 3 - 3 * 0.25
  EXPECT_FLOAT_EQ(logits[3], 0.75); // 1 - 0.25
}

TEST(Sampler, GenerationConfig) {
  SamplingParams p;
  std::vector<int32_t> eos;
  std::string error;
  ASSERT_TRUE(readGenerationConfig(
      R"({"do_sample": true, "temperature": 0.6, "top_k": 20, "top_p": 0.95,
          "eos_token_id": [151645, 151643]})",
      "g.json", p, eos, error))
      << error;
  EXPECT_DOUBLE_EQ(p.temperature, 0.6);
  EXPECT_EQ(p.topK, 20);
  EXPECT_DOUBLE_EQ(p.topP, 0.95);
  EXPECT_EQ(eos, (std::vector<int32_t>{151645, 151643}));
  ASSERT_TRUE(readGenerationConfig(R"({"do_sample": false, "eos_token_id": 7})",
                                   "g.json", p, eos, error));
  EXPECT_EQ(p.temperature, 0);
  EXPECT_EQ(eos, (std::vector<int32_t>{7}));
  EXPECT_FALSE(readGenerationConfig(R"({"top_k": 1.5})", "g.json", p, eos, error));
  EXPECT_EQ(error, "g.json: top_k is not an integer");
  EXPECT_FALSE(readGenerationConfig(R"({"top_p": 0})", "g.json", p, eos, error));
  EXPECT_EQ(error, "g.json: top-p must be in (0, 1]");
  EXPECT_FALSE(readGenerationConfig(R"({"eos_token_id": "x"})", "g.json", p, eos, error));
  EXPECT_EQ(error, "g.json: eos_token_id holds \"x\", not a token id");
}

} // namespace
