//===- Geometry.cpp - shape logic of Qwen3-Next layers --------------------===//

#include "qnext/Support/Geometry.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace qnext {

namespace {
/// "name (value) must be ..." helper: formats one failed rule.
std::string rule(const char *name, int64_t value, const std::string &what) {
  std::ostringstream os;
  os << name << " (" << value << ") " << what;
  return os.str();
}
} // namespace

std::string DeltaNetGeometry::validate(const DeltaNetFieldNames &n) const {
  if (numKeyHeads <= 0)
    return rule(n.numKeyHeads, numKeyHeads, "must be positive");
  if (numValueHeads <= 0)
    return rule(n.numValueHeads, numValueHeads, "must be positive");
  if (keyHeadDim <= 0)
    return rule(n.keyHeadDim, keyHeadDim, "must be positive");
  if (valueHeadDim <= 0)
    return rule(n.valueHeadDim, valueHeadDim, "must be positive");
  if (numValueHeads % numKeyHeads != 0)
    return rule(n.numValueHeads, numValueHeads,
                std::string("must be a multiple of ") + n.numKeyHeads + " (" +
                    std::to_string(numKeyHeads) + ")");
  return {};
}

std::vector<int64_t> DeltaNetGeometry::qkvzRowPermutation() const {
  const int64_t r = valueHeadsPerKeyHead(), stride = qkvzGroupStride();
  std::vector<int64_t> rows;
  rows.reserve(qkvzRows());
  // Within group g: q (Dk rows), k (Dk), R v heads (Dv each), R z heads.
  auto append = [&](int64_t start, int64_t count) {
    for (int64_t i = 0; i < count; ++i)
      rows.push_back(start + i);
  };
  for (int64_t g = 0; g < numKeyHeads; ++g)
    append(g * stride, keyHeadDim);
  for (int64_t g = 0; g < numKeyHeads; ++g)
    append(g * stride + keyHeadDim, keyHeadDim);
  for (int64_t h = 0; h < numValueHeads; ++h)
    append((h / r) * stride + 2 * keyHeadDim + (h % r) * valueHeadDim,
           valueHeadDim);
  for (int64_t h = 0; h < numValueHeads; ++h)
    append((h / r) * stride + 2 * keyHeadDim + (r + h % r) * valueHeadDim,
           valueHeadDim);
  return rows;
}

std::vector<int64_t> DeltaNetGeometry::baRowPermutation() const {
  const int64_t r = valueHeadsPerKeyHead();
  std::vector<int64_t> rows;
  rows.reserve(2 * numValueHeads);
  for (int64_t h = 0; h < numValueHeads; ++h) // b
    rows.push_back((h / r) * 2 * r + h % r);
  for (int64_t h = 0; h < numValueHeads; ++h) // a
    rows.push_back((h / r) * 2 * r + r + h % r);
  return rows;
}

std::string AttentionGeometry::validate(const AttentionFieldNames &n) const {
  if (numHeads <= 0)
    return rule(n.numHeads, numHeads, "must be positive");
  if (numKVHeads <= 0)
    return rule(n.numKVHeads, numKVHeads, "must be positive");
  if (headDim <= 0)
    return rule(n.headDim, headDim, "must be positive");
  if (numHeads % numKVHeads != 0)
    return rule(n.numHeads, numHeads,
                std::string("must be a multiple of ") + n.numKVHeads + " (" +
                    std::to_string(numKVHeads) + ")");
  if (rotaryDim <= 0 || rotaryDim % 2 != 0)
    return rule(n.rotaryDim, rotaryDim, "must be positive and even");
  if (rotaryDim > headDim)
    return rule(n.rotaryDim, rotaryDim,
                std::string("must not exceed ") + n.headDim + " (" +
                    std::to_string(headDim) + ")");
  return {};
}

std::string YarnParams::validate() const {
  std::ostringstream os;
  if (!(factor >= 1.0) || !std::isfinite(factor))
    os << "factor (" << factor << ") must be a finite number >= 1";
  else if (originalMaxPositionEmbeddings <= 0)
    os << rule("original_max_position_embeddings",
               originalMaxPositionEmbeddings, "must be positive");
  else if (!(betaSlow > 0.0) || !(betaFast > betaSlow) ||
           !std::isfinite(betaFast))
    os << "beta_fast (" << betaFast << ") must be greater than beta_slow ("
       << betaSlow << ") and both positive";
  return os.str();
}

RopeFrequencies computeRopeFrequencies(int64_t rotaryDim, double theta,
                                       const std::optional<YarnParams> &yarn) {
  RopeFrequencies out;
  const int64_t half = rotaryDim / 2;
  const double dim = static_cast<double>(rotaryDim);
  out.invFreq.resize(half);
  if (!yarn) {
    for (int64_t i = 0; i < half; ++i)
      out.invFreq[i] = static_cast<float>(1.0 / std::pow(theta, 2.0 * i / dim));
    return out;
  }
  const double f = yarn->factor;
  const double l0 = static_cast<double>(yarn->originalMaxPositionEmbeddings);
  // The dimension whose wavelength makes `rotations` turns over l0 tokens.
  auto correctionDim = [&](double rotations) {
    return dim * std::log(l0 / (rotations * 2.0 * M_PI)) /
           (2.0 * std::log(theta));
  };
  double low = std::max(std::floor(correctionDim(yarn->betaFast)), 0.0);
  double high = std::min(std::ceil(correctionDim(yarn->betaSlow)), dim - 1);
  if (low == high)
    high += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    double extrapolated = 1.0 / std::pow(theta, 2.0 * i / dim);
    double interpolated = extrapolated / f;
    double ramp = std::clamp((i - low) / (high - low), 0.0, 1.0);
    out.invFreq[i] =
        static_cast<float>(interpolated * ramp + extrapolated * (1.0 - ramp));
  }
  out.attentionFactor =
      f > 1.0 ? static_cast<float>(0.1 * std::log(f) + 1.0) : 1.0f;
  return out;
}

} // namespace qnext
