//===- OpOracleTest.cpp - each lowered qnext op vs a scalar reference -----===//
//
// Every primitive op, compiled by the CPU pipeline and JIT-run, against a
// plain C++ reference computed in double at several shapes (static and
// dynamic token counts). Tolerance: |got - want| <= 2e-5 * (1 + |want|).
//
//===----------------------------------------------------------------------===//

#include "OpOracle.h"

#include "qnext/Support/Geometry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

using namespace qnext::oracle;

namespace {

#define EXPECT_CLOSE(actual, expected) EXPECT_TRUE(close(actual, expected))

/// Each test runs once per kernel family: 8 lanes (AVX2) and 16 (AVX-512).
class OpOracle : public ::testing::TestWithParam<int64_t> {
protected:
  void SetUp() override { qnext::oracle::vectorWidth = GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Lanes, OpOracle, ::testing::Values(8, 16),
                         [](const ::testing::TestParamInfo<int64_t> &info) {
                           return "f32x" + std::to_string(info.param);
                         });

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double silu(double x) { return x * sigmoid(x); }

std::string linearBody(const Buffer &x, const Buffer &w, const Buffer &y) {
  return "%r0 = qnext.linear %a0, %a1 : " + x.tensorType() + ", " +
         w.tensorType() + " -> " + y.tensorType();
}

TEST_P(OpOracle, Linear) {
  std::mt19937 rng(1);
  // Decode (one token) and prompts, with weight rows, token rows and K left
  // over after both families' blocks (8/4 rows, 6/4 tokens, 16/8 lanes).
  for (auto [t, k, n, bf] : {std::tuple{1, 8, 5, true}, std::tuple{7, 33, 19, false},
                             std::tuple{4, 64, 128, true}, std::tuple{1, 40, 19, true},
                             std::tuple{13, 48, 37, true}, std::tuple{1, 72, 24, false}}) {
    Buffer x = f32({t, k}, rng), w = bf ? bf16({n, k}, rng) : f32({n, k}, rng);
    for (bool dyn : {false, true}) {
      Buffer xi = dyn ? dynamic(x) : x;
      Buffer y = out("f32", {t, n});
      if (dyn)
        y = dynamic(y);
      auto res = run(linearBody(xi, w, y), {xi, w}, {y});
      ASSERT_EQ(res.size(), 1u);
      std::vector<double> want(t * n);
      for (int i = 0; i < t; ++i)
        for (int j = 0; j < n; ++j) {
          double s = 0;
          for (int c = 0; c < k; ++c)
            s += double(x.at({i, c})) * w.at({j, c});
          want[i * n + j] = s;
        }
      EXPECT_CLOSE(res[0], want);
    }
  }
}

TEST_P(OpOracle, RMSNorms) {
  std::mt19937 rng(2);
  for (float offset : {1.0f, 0.0f}) {
    Buffer x = f32({3, 4, 16}, rng, -3, 3), w = bf16({16}, rng);
    char attrs[128];
    std::snprintf(attrs, sizeof attrs,
                  "{epsilon = 1.0e-05 : f32, weight_offset = %.1f : f32}", offset);
    auto res = run("%r0 = qnext.rms_norm %a0, %a1 " + std::string(attrs) + " : " +
                       x.tensorType() + ", " + w.tensorType(),
                   {x, w}, {out("f32", {3, 4, 16})});
    ASSERT_EQ(res.size(), 1u);
    std::vector<double> want(x.size());
    for (int r = 0; r < 12; ++r) {
      double ss = 0;
      for (int d = 0; d < 16; ++d)
        ss += double(x.values[r * 16 + d]) * x.values[r * 16 + d];
      double inv = 1.0 / std::sqrt(ss / 16 + 1e-5);
      for (int d = 0; d < 16; ++d)
        want[r * 16 + d] = x.values[r * 16 + d] * inv * (offset + w.values[d]);
    }
    EXPECT_CLOSE(res[0], want);
  }

  Buffer o = f32({5, 2, 8}, rng, -2, 2), z = f32({5, 2, 8}, rng, -4, 4);
  Buffer w = f32({8}, rng, 0.5, 1.5);
  auto res = run("%r0 = qnext.gated_rms_norm %a0, %a1, %a2 : " + o.tensorType() +
                     ", " + w.tensorType(),
                 {o, z, w}, {out("f32", {5, 2, 8})});
  ASSERT_EQ(res.size(), 1u);
  std::vector<double> want(o.size());
  for (int r = 0; r < 10; ++r) {
    double ss = 0;
    for (int d = 0; d < 8; ++d)
      ss += double(o.values[r * 8 + d]) * o.values[r * 8 + d];
    double inv = 1.0 / std::sqrt(ss / 8 + 1e-6);
    for (int d = 0; d < 8; ++d)
      want[r * 8 + d] =
          o.values[r * 8 + d] * inv * w.values[d] * silu(z.values[r * 8 + d]);
  }
  EXPECT_CLOSE(res[0], want);

  Buffer q = f32({3, 2, 8}, rng);
  res = run("%r0 = qnext.l2_norm %a0 {scale = 0.353553385 : f32} : " +
                q.tensorType(),
            {q}, {out("f32", {3, 2, 8})});
  ASSERT_EQ(res.size(), 1u);
  want.assign(q.size(), 0);
  for (int r = 0; r < 6; ++r) {
    double ss = 0;
    for (int d = 0; d < 8; ++d)
      ss += double(q.values[r * 8 + d]) * q.values[r * 8 + d];
    for (int d = 0; d < 8; ++d)
      want[r * 8 + d] = q.values[r * 8 + d] / std::sqrt(ss + 1e-6) * 0.353553385;
  }
  EXPECT_CLOSE(res[0], want);
}

TEST_P(OpOracle, Elementwise) {
  std::mt19937 rng(3);
  Buffer g = f32({4, 6}, rng, -30, 30), u = f32({4, 6}, rng);
  auto res = run("%r0 = qnext.silu_mul %a0, %a1 : " + g.tensorType(), {g, u},
                 {out("f32", {4, 6})});
  ASSERT_EQ(res.size(), 1u);
  std::vector<double> want(24);
  for (int i = 0; i < 24; ++i)
    want[i] = silu(g.values[i]) * u.values[i];
  EXPECT_CLOSE(res[0], want);

  Buffer x = f32({3, 8}, rng), one = f32({3, 1}, rng, -5, 5);
  res = run("%r0 = qnext.sigmoid_gate %a0, %a1 : " + x.tensorType() + ", " +
                one.tensorType(),
            {x, one}, {out("f32", {3, 8})});
  ASSERT_EQ(res.size(), 1u);
  want.assign(24, 0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 8; ++j)
      want[i * 8 + j] = x.at({i, j}) * sigmoid(one.at({i, 0}));
  EXPECT_CLOSE(res[0], want);

  Buffer full = f32({3, 8}, rng, -5, 5);
  res = run("%r0 = qnext.sigmoid_gate %a0, %a1 : " + x.tensorType() + ", " +
                full.tensorType(),
            {x, full}, {out("f32", {3, 8})});
  ASSERT_EQ(res.size(), 1u);
  for (int i = 0; i < 24; ++i)
    want[i] = x.values[i] * sigmoid(full.values[i]);
  EXPECT_CLOSE(res[0], want);
}

TEST_P(OpOracle, GdnGates) {
  std::mt19937 rng(4);
  // a spans the softplus threshold (20).
  Buffer a = f32({5, 4}, rng, -25, 25), b = f32({5, 4}, rng, -6, 6);
  Buffer alog = bf16({4}, rng, 0, 2.7f), dt = bf16({4}, rng, -6, -2);
  auto res = run("%r0, %r1 = qnext.gdn_gates %a0, %a1, %a2, %a3 : " +
                     a.tensorType() + ", " + b.tensorType() + ", " +
                     alog.tensorType() + ", " + dt.tensorType() + " -> " +
                     a.tensorType() + ", " + a.tensorType(),
                 {a, b, alog, dt}, {out("f32", {5, 4}), out("f32", {5, 4})});
  ASSERT_EQ(res.size(), 2u);
  std::vector<double> g(20), beta(20);
  for (int t = 0; t < 5; ++t)
    for (int h = 0; h < 4; ++h) {
      double x = double(a.at({t, h})) + dt.values[h];
      double sp = x > 20 ? x : std::log1p(std::exp(x));
      g[t * 4 + h] = -std::exp(double(alog.values[h])) * sp;
      beta[t * 4 + h] = sigmoid(b.at({t, h}));
    }
  EXPECT_CLOSE(res[0], g);
  EXPECT_CLOSE(res[1], beta);
}

TEST_P(OpOracle, Embedding) {
  std::mt19937 rng(5);
  Buffer table = bf16({10, 6}, rng);
  Buffer ids = dynamic(ints("i32", {4}, {3, 0, 9, 3}));
  Buffer y = dynamic(out("f32", {4, 6}));
  auto res = run("%r0 = qnext.embedding %a0, %a1 : " + ids.tensorType() + ", " +
                     table.tensorType() + " -> " + y.tensorType(),
                 {ids, table}, {y});
  ASSERT_EQ(res.size(), 1u);
  std::vector<double> want;
  for (int64_t id : ids.ints)
    for (int h = 0; h < 6; ++h)
      want.push_back(table.at({id, h}));
  EXPECT_CLOSE(res[0], want);
}

TEST_P(OpOracle, CausalConv1d) {
  std::mt19937 rng(6);
  const int c = 6, k = 4;
  for (int t : {1, 2, 5}) {
    for (bool siluOn : {true, false}) {
      Buffer x = dynamic(f32({t, c}, rng)), w = bf16({c, k}, rng),
             s = f32({k - 1, c}, rng);
      auto res = run("%r0, %r1 = qnext.causal_conv1d %a0, %a1, %a2 " +
                         std::string(siluOn ? "{silu} " : "") + ": " +
                         x.tensorType() + ", " + w.tensorType() + ", " +
                         s.tensorType(),
                     {x, w, s}, {dynamic(out("f32", {t, c})), out("f32", {k - 1, c})});
      ASSERT_EQ(res.size(), 2u);
      // xx = [state; x]
      std::vector<double> xx;
      for (float v : s.values)
        xx.push_back(v);
      for (float v : x.values)
        xx.push_back(v);
      std::vector<double> y(t * c), ns;
      for (int i = 0; i < t; ++i)
        for (int ch = 0; ch < c; ++ch) {
          double acc = 0;
          for (int tap = 0; tap < k; ++tap)
            acc += double(w.at({ch, tap})) * xx[(i + tap) * c + ch];
          y[i * c + ch] = siluOn ? silu(acc) : acc;
        }
      for (int r = t; r < t + k - 1; ++r)
        for (int ch = 0; ch < c; ++ch)
          ns.push_back(xx[r * c + ch]);
      EXPECT_CLOSE(res[0], y);
      EXPECT_CLOSE(res[1], ns);
    }
  }
}

TEST_P(OpOracle, Rope) {
  std::mt19937 rng(7);
  const int t = 4, n = 3, d = 16, r = 8;
  Buffer x = dynamic(f32({t, n, d}, rng));
  Buffer pos = dynamic(ints("i32", {t}, {0, 5, 1000, 4095}));
  for (bool withYarn : {false, true}) {
    std::optional<qnext::YarnParams> yarn;
    std::string attrs = "{rotary_dim = 8 : i64, theta = 1.0e+04 : f64}";
    if (withYarn) {
      yarn = qnext::YarnParams{4.0, 1024, 32.0, 1.0};
      attrs = "{rotary_dim = 8 : i64, theta = 1.0e+04 : f64, yarn = "
              "#qnext.yarn<factor = 4.0, original_max_position_embeddings = "
              "1024, beta_fast = 32.0, beta_slow = 1.0>}";
    }
    auto res = run("%r0 = qnext.rope %a0, %a1 " + attrs + " : " + x.tensorType() +
                       ", " + pos.tensorType(),
                   {x, pos}, {dynamic(out("f32", {t, n, d}))});
    ASSERT_EQ(res.size(), 1u);
    qnext::RopeFrequencies f = qnext::computeRopeFrequencies(r, 1e4, yarn);
    std::vector<double> want(x.size());
    for (int i = 0; i < t; ++i)
      for (int h = 0; h < n; ++h)
        for (int j = 0; j < d; ++j) {
          double v = x.at({i, h, j});
          if (j < r) {
            int fi = j % (r / 2);
            double phi = double(float(pos.ints[i]) * f.invFreq[fi]);
            double cs = std::cos(phi) * f.attentionFactor,
                   sn = std::sin(phi) * f.attentionFactor;
            double partner = x.at({i, h, j < r / 2 ? j + r / 2 : j - r / 2});
            v = j < r / 2 ? v * cs - partner * sn : v * cs + partner * sn;
          }
          want[(i * n + h) * d + j] = v;
        }
    Diff diff = compare(res[0], want);
    // cos/sin of large angles (position 4095) carry fp32 argument error.
    EXPECT_LE(diff.worst, 2e-4) << "worst at " << diff.at;
  }
}

/// The recurrence of spec 4.8 in double.
void deltaRuleReference(int t, int nk, int nv, int dk, int dv, const Buffer &q,
                        const Buffer &k, const Buffer &v, const Buffer &g,
                        const Buffer &beta, std::vector<double> &state,
                        std::vector<double> &o) {
  const int r = nv / nk;
  o.assign(t * nv * dv, 0);
  for (int i = 0; i < t; ++i)
    for (int h = 0; h < nv; ++h) {
      double *s = &state[h * dk * dv];
      int j = h / r;
      double decay = std::exp(double(g.at({i, h})));
      for (int x = 0; x < dk * dv; ++x)
        s[x] *= decay;
      for (int c = 0; c < dv; ++c) {
        double pred = 0;
        for (int a = 0; a < dk; ++a)
          pred += s[a * dv + c] * k.at({i, j, a});
        double u = beta.at({i, h}) * (v.at({i, h, c}) - pred);
        for (int a = 0; a < dk; ++a)
          s[a * dv + c] += k.at({i, j, a}) * u;
      }
      for (int c = 0; c < dv; ++c) {
        double acc = 0;
        for (int a = 0; a < dk; ++a)
          acc += s[a * dv + c] * q.at({i, j, a});
        o[(i * nv + h) * dv + c] = acc;
      }
    }
}

TEST_P(OpOracle, GatedDeltaRule) {
  // Dynamic token counts take the chunked algorithm (chunks of 64, the last
  // one shorter); a static single token takes the recurrence.
  std::mt19937 rng(8);
  const int nk = 2, nv = 4, dk = 8, dv = 6;
  for (auto [t, dyn] : {std::pair{1, true}, std::pair{63, true}, std::pair{64, true},
                        std::pair{65, true}, std::pair{130, true}, std::pair{1, false}}) {
    for (bool initial : {false, true}) {
      const bool isDynamic = dyn; // lambdas cannot capture bindings in C++17
      auto maybe = [isDynamic](Buffer b) { return isDynamic ? dynamic(b) : b; };
      Buffer q = maybe(f32({t, nk, dk}, rng, -0.3f, 0.3f));
      Buffer k = maybe(f32({t, nk, dk}, rng, -0.3f, 0.3f));
      Buffer v = maybe(f32({t, nv, dv}, rng));
      Buffer g = maybe(f32({t, nv}, rng, -0.5f, 0.0f));
      Buffer beta = maybe(f32({t, nv}, rng, 0.0f, 1.0f));
      Buffer s0 = initial ? f32({nv, dk, dv}, rng) : out("f32", {nv, dk, dv});
      auto res = run("%r0, %r1 = qnext.gated_delta_rule %a0, %a1, %a2, %a3, %a4, "
                     "%a5 : (" + q.tensorType() + ", " + k.tensorType() + ", " +
                         v.tensorType() + ", " + g.tensorType() + ", " +
                         beta.tensorType() + ", " + s0.tensorType() + ") -> (" +
                         v.tensorType() + ", " + s0.tensorType() + ")",
                     {q, k, v, g, beta, s0},
                     {maybe(out("f32", {t, nv, dv})), out("f32", {nv, dk, dv})});
      ASSERT_EQ(res.size(), 2u);
      std::vector<double> state(s0.values.begin(), s0.values.end()), o;
      deltaRuleReference(t, nk, nv, dk, dv, q, k, v, g, beta, state, o);
      EXPECT_CLOSE(res[0], o) << "T=" << t << " dynamic=" << dyn << " initial=" << initial;
      EXPECT_CLOSE(res[1], state) << "T=" << t << " dynamic=" << dyn << " initial=" << initial;
    }
  }
}

// The fused decode step (qnext-fuse-deltanet-step) against the chain it
// replaces, composed in double: conv + SiLU, the q | k | v split, the L2
// norms, the gates, one token of the recurrence and the gated output norm;
// both states come back updated.
TEST_P(OpOracle, DeltaNetStep) {
  std::mt19937 rng(14);
  const int nk = 2, nv = 4, dk = 8, dv = 6, taps = 4, r = nv / nk;
  const int channels = 2 * nk * dk + nv * dv;
  const double scale = 1.0 / std::sqrt(double(dk)), eps = 1e-5;
  Buffer qkv = f32({1, channels}, rng), w = bf16({channels, taps}, rng);
  Buffer cs = f32({taps - 1, channels}, rng);
  Buffer a = f32({1, nv}, rng, -3, 3), b = f32({1, nv}, rng, -3, 3);
  Buffer alog = bf16({nv}, rng, 0, 2), dt = bf16({nv}, rng, -3, 0);
  Buffer st = f32({nv, dk, dv}, rng, -0.5f, 0.5f), z = f32({1, nv, dv}, rng, -3, 3);
  Buffer nw = bf16({dv}, rng, 0.5f, 1.5f);
  std::vector<Buffer> ins = {qkv, w, cs, a, b, alog, dt, st, z, nw};
  std::string types;
  for (const Buffer &in : ins)
    types += (types.empty() ? "" : ", ") + in.tensorType();
  auto res = run("%r0, %r1, %r2 = qnext.deltanet_step %a0, %a1, %a2, %a3, %a4, "
                 "%a5, %a6, %a7, %a8, %a9 {num_key_heads = 2 : i64, query_scale = "
                 "0.353553385 : f32, epsilon = 1.0e-05 : f32} : (" + types + ") -> (" +
                     z.tensorType() + ", " + cs.tensorType() + ", " + st.tensorType() + ")",
                 ins, {out("f32", {1, nv, dv}), out("f32", {taps - 1, channels}),
                       out("f32", {nv, dk, dv})});
  ASSERT_EQ(res.size(), 3u);

  std::vector<double> c(channels), newConv;
  for (int ch = 0; ch < channels; ++ch) {
    double acc = 0;
    for (int i = 0; i < taps; ++i)
      acc += double(w.at({ch, i})) *
             (i < taps - 1 ? cs.at({i, ch}) : qkv.at({0, ch}));
    c[ch] = silu(acc);
  }
  for (int i = 1; i < taps; ++i)
    for (int ch = 0; ch < channels; ++ch)
      newConv.push_back(i < taps - 1 ? cs.at({i, ch}) : qkv.at({0, ch}));
  // q and k normalised per key head, in place in c.
  for (int part = 0; part < 2; ++part)
    for (int j = 0; j < nk; ++j) {
      double *x = &c[part * nk * dk + j * dk], ss = 0;
      for (int d = 0; d < dk; ++d)
        ss += x[d] * x[d];
      for (int d = 0; d < dk; ++d)
        x[d] = x[d] / std::sqrt(ss + 1e-6) * (part == 0 ? scale : 1.0);
    }
  std::vector<double> state(st.values.begin(), st.values.end()), y(nv * dv);
  for (int h = 0; h < nv; ++h) {
    const double *q = &c[(h / r) * dk], *k = &c[nk * dk + (h / r) * dk];
    const double *v = &c[2 * nk * dk + h * dv];
    double x = double(a.at({0, h})) + dt.values[h];
    double g = -std::exp(double(alog.values[h])) * (x > 20 ? x : std::log1p(std::exp(x)));
    double beta = sigmoid(b.at({0, h}));
    double *s = &state[h * dk * dv];
    for (int i = 0; i < dk * dv; ++i)
      s[i] *= std::exp(g);
    for (int e = 0; e < dv; ++e) {
      double pred = 0;
      for (int i = 0; i < dk; ++i)
        pred += s[i * dv + e] * k[i];
      double u = beta * (v[e] - pred);
      for (int i = 0; i < dk; ++i)
        s[i * dv + e] += k[i] * u;
    }
    std::vector<double> o(dv, 0.0);
    double ss = 0;
    for (int e = 0; e < dv; ++e) {
      for (int i = 0; i < dk; ++i)
        o[e] += s[i * dv + e] * q[i];
      ss += o[e] * o[e];
    }
    for (int e = 0; e < dv; ++e)
      y[h * dv + e] = o[e] / std::sqrt(ss / dv + eps) * nw.values[e] *
                      silu(z.at({0, h, e}));
  }
  EXPECT_CLOSE(res[0], y);
  EXPECT_CLOSE(res[1], newConv);
  EXPECT_CLOSE(res[2], state);
}

TEST_P(OpOracle, Attention) {
  std::mt19937 rng(9);
  const int nq = 4, nkv = 2, d = 8, cap = 16;
  for (auto [t, past] : {std::pair{1, 0}, std::pair{3, 0}, std::pair{1, 5},
                         std::pair{6, 4}}) {
    Buffer q = dynamic(f32({t, nq, d}, rng)), k = dynamic(f32({t, nkv, d}, rng));
    Buffer v = dynamic(f32({t, nkv, d}, rng));
    Buffer kc = f32({nkv, cap, d}, rng), vc = f32({nkv, cap, d}, rng);
    // The caches are in/out buffers updated in place, as in the runtime's
    // ABI (state arguments are writable).
    std::string body =
        "%kc = bufferization.to_tensor %o1 restrict writable : " +
        kc.memrefType() + " to " + kc.tensorType() + "\n" +
        "%vc = bufferization.to_tensor %o2 restrict writable : " +
        vc.memrefType() + " to " + vc.tensorType() + "\n" +
        "%r0, %r1, %r2 = qnext.attention %a0, %a1, %a2, %kc, %vc, %a3 : (" +
        q.tensorType() + ", " + k.tensorType() + ", " + v.tensorType() + ", " +
        kc.tensorType() + ", " + vc.tensorType() + ", index) -> (" +
        q.tensorType() + ", " + kc.tensorType() + ", " + vc.tensorType() + ")";
    auto res = run(body, {q, k, v, index(past)},
                   {dynamic(out("f32", {t, nq, d})), kc, vc});
    ASSERT_EQ(res.size(), 3u);
    // Reference caches: the new rows written at [past, past + t).
    std::vector<double> kRef(kc.values.begin(), kc.values.end()),
        vRef(vc.values.begin(), vc.values.end());
    for (int i = 0; i < t; ++i)
      for (int h = 0; h < nkv; ++h)
        for (int x = 0; x < d; ++x) {
          kRef[(h * cap + past + i) * d + x] = k.at({i, h, x});
          vRef[(h * cap + past + i) * d + x] = v.at({i, h, x});
        }
    std::vector<double> o(t * nq * d);
    for (int i = 0; i < t; ++i)
      for (int h = 0; h < nq; ++h) {
        int kvh = h / (nq / nkv), len = past + i + 1;
        std::vector<double> sc(len);
        double mx = -INFINITY;
        for (int s = 0; s < len; ++s) {
          double dot = 0;
          for (int x = 0; x < d; ++x)
            dot += q.at({i, h, x}) * kRef[(kvh * cap + s) * d + x];
          sc[s] = dot / std::sqrt(double(d));
          mx = std::max(mx, sc[s]);
        }
        double sum = 0;
        for (double &s : sc)
          sum += (s = std::exp(s - mx));
        for (int x = 0; x < d; ++x) {
          double acc = 0;
          for (int s = 0; s < len; ++s)
            acc += sc[s] * vRef[(kvh * cap + s) * d + x];
          o[(i * nq + h) * d + x] = acc / sum;
        }
      }
    EXPECT_CLOSE(res[0], o) << "T=" << t << " past=" << past;
    EXPECT_CLOSE(res[1], kRef);
    EXPECT_CLOSE(res[2], vRef);
  }
}

TEST_P(OpOracle, Router) {
  std::mt19937 rng(10);
  const int t = 5, e = 8;
  Buffer logits = f32({t, e}, rng, -3, 3);
  // A tie: expert 2 and expert 6 of token 0 are equal; the lower one wins.
  logits.values[2] = logits.values[6] = 5.0f;
  for (auto [k, normalize] : {std::pair{2, true}, std::pair{3, false}}) {
    std::string attrs = "{top_k = " + std::to_string(k) + " : i64" +
                        (normalize ? "" : ", normalize = false") + "}";
    auto res = run("%r0, %r1 = qnext.router %a0 " + attrs + " : " +
                       logits.tensorType() + " -> tensor<" + std::to_string(t) +
                       "x" + std::to_string(k) + "xf32>, tensor<" +
                       std::to_string(t) + "x" + std::to_string(k) + "xi32>",
                   {logits}, {out("f32", {t, k}), out("i32", {t, k})});
    ASSERT_EQ(res.size(), 2u);
    std::vector<double> weights;
    for (int i = 0; i < t; ++i) {
      std::vector<double> p(e);
      double mx = -INFINITY, sum = 0;
      for (int x = 0; x < e; ++x)
        mx = std::max(mx, double(logits.at({i, x})));
      for (int x = 0; x < e; ++x)
        sum += (p[x] = std::exp(logits.at({i, x}) - mx));
      std::vector<int> order(e);
      std::iota(order.begin(), order.end(), 0);
      // Descending probability; ties go to the lower expert.
      std::sort(order.begin(), order.end(), [&](int a, int b) {
        return p[a] != p[b] ? p[a] > p[b] : a < b;
      });
      double picked = 0;
      for (int j = 0; j < k; ++j)
        picked += p[order[j]] / sum;
      for (int j = 0; j < k; ++j) {
        EXPECT_EQ(res[1].intAt({i, j}), order[j]) << "token " << i;
        weights.push_back(p[order[j]] / sum / (normalize ? picked : 1.0));
      }
    }
    EXPECT_CLOSE(res[0], weights);
    EXPECT_EQ(res[1].intAt({0, 0}), 2);
    EXPECT_EQ(res[1].intAt({0, 1}), 6);
  }
}

/// Runs qnext.expert_swiglu on t tokens (a static [1, H] input for t == 1:
/// the decode lowering; dynamic otherwise: the sorted form while t * k <= 4 *
/// e, else the grouped one) and compares it with the scalar reference: k = 2
/// experts of e a token, hidden size h, expert width inter.
void checkExpertSwiGLU(int t, const std::vector<int64_t> &ids, unsigned seed,
                       bool gather = false, int h = 8, int inter = 5, int e = 4) {
  std::mt19937 rng(seed);
  const int k = 2;
  auto shape = [&](Buffer b) { return t == 1 ? b : dynamic(b); };
  Buffer x = shape(f32({t, h}, rng)), w = shape(f32({t, k}, rng, 0, 1));
  Buffer idx = shape(ints("i32", {t, k}, ids));
  // Weights scaled by 1 / sqrt(K), so that every sum stays near 1 whatever
  // K (the tolerance is relative to the result, not to its terms).
  const float gh = 1 / std::sqrt(float(h)), gi = 1 / std::sqrt(float(inter));
  Buffer gate = bf16({e, inter, h}, rng, -gh, gh), up = bf16({e, inter, h}, rng, -gh, gh);
  Buffer down = bf16({e, h, inter}, rng, -gi, gi);
  auto res = run("%r0 = qnext.expert_swiglu %a0, %a1, %a2, %a3, %a4, %a5 : (" +
                     x.tensorType() + ", " + w.tensorType() + ", " +
                     idx.tensorType() + ", " + gate.tensorType() + ", " +
                     up.tensorType() + ", " + down.tensorType() + ") -> " +
                     x.tensorType(),
                 {x, w, idx, gate, up, down}, {shape(out("f32", {t, h}))}, gather);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_CLOSE(res[0], expertSwiGLU(x, w, idx, gate, up, down));
}

// Three tokens, 6 <= 4 x 4 pairs: sorted by expert; expert 3 serves two
// tokens, token 1 picks expert 1 twice. (Rows of 8 and 5: the scalar path.)
TEST_P(OpOracle, ExpertSwiGLU) { checkExpertSwiGLU(3, {3, 0, 1, 1, 2, 3}, 11); }

// The sorted form's vector kernels: gate and up over rows of 1024 (a block
// interleaves its weight rows), down over rows of 64 (one weight row after
// the other); expert 1 is chosen by all seven tokens, a run longer than a
// register block's rows (4 or 6 tokens), so it is cut into blocks.
TEST_P(OpOracle, ExpertSwiGLUSortedKernels) {
  checkExpertSwiGLU(7, {1, 0, 1, 2, 3, 1, 1, 3, 2, 1, 1, 0, 1, 2}, 14, /*gather=*/false,
                    /*h=*/1024, /*inter=*/64);
}

// Nine tokens, 18 > 16 pairs: grouped by expert; one expert left unchosen
// (0), more tokens than a block of 4.
TEST_P(OpOracle, ExpertSwiGLUManyTokens) {
  checkExpertSwiGLU(9, {1, 2, 3, 1, 2, 3, 1, 1, 3, 2, 2, 1, 3, 3, 1, 2, 2, 3}, 12);
}

// One token (a decode step): its top-k experts in turn.
TEST_P(OpOracle, ExpertSwiGLUOneToken) { checkExpertSwiGLU(1, {2, 0}, 13); }

// The gather contractions the CUDA pipeline uses (gather-experts), on the
// same cases.
TEST_P(OpOracle, ExpertSwiGLUGather) {
  checkExpertSwiGLU(3, {3, 0, 1, 1, 2, 3}, 11, /*gather=*/true);
  checkExpertSwiGLU(9, {1, 2, 3, 1, 2, 3, 1, 1, 3, 2, 2, 1, 3, 3, 1, 2, 2, 3}, 12, true);
  checkExpertSwiGLU(1, {2, 0}, 13, true);
}

} // namespace
