//===- Sampler.cpp - choosing the next token ------------------------------===//

#include "qnext/Sampler.h"
#include "qnext/Messages.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <unordered_set>

using json = nlohmann::json;

namespace qnext {

std::string SamplingParams::check() const {
  if (!(temperature >= 0) || !std::isfinite(temperature))
    return "temperature must be a finite number >= 0";
  if (topK < 0)
    return "top-k must be >= 0";
  if (!(topP > 0 && topP <= 1))
    return "top-p must be in (0, 1]";
  if (!(minP >= 0 && minP <= 1))
    return "min-p must be in [0, 1]";
  if (!(repetitionPenalty > 0) || !std::isfinite(repetitionPenalty))
    return "repetition penalty must be a finite number > 0";
  if (!std::isfinite(presencePenalty))
    return "presence penalty must be finite";
  if (!std::isfinite(frequencyPenalty))
    return "frequency penalty must be finite";
  return "";
}

std::string SamplingParams::describe() const {
  std::ostringstream s;
  if (temperature == 0)
    s << "greedy";
  else
    s << "temperature " << temperature << ", top-k " << topK << ", top-p "
      << topP << ", min-p " << minP << ", seed " << seed;
  if (repetitionPenalty != 1)
    s << ", repetition penalty " << repetitionPenalty;
  if (presencePenalty != 0)
    s << ", presence penalty " << presencePenalty;
  if (frequencyPenalty != 0)
    s << ", frequency penalty " << frequencyPenalty;
  return s.str();
}

bool readGenerationConfig(std::string_view text, const std::string &origin,
                          SamplingParams &params, std::vector<int32_t> &eos,
                          std::string &error) {
  json root = json::parse(text.begin(), text.end(), nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    error = origin + ": not a JSON object";
    return false;
  }
  auto number = [&](const char *key, double &out, bool integer = false) {
    auto it = root.find(key);
    if (it == root.end() || it->is_null())
      return true;
    if (!it->is_number() || (integer && !it->is_number_integer())) {
      error = origin + ": " + key + " is not " + (integer ? "an integer" : "a number");
      return false;
    }
    out = it->get<double>();
    return true;
  };
  double topK = double(params.topK);
  if (!number("temperature", params.temperature) || !number("top_p", params.topP) ||
      !number("min_p", params.minP) || !number("top_k", topK, true) ||
      !number("repetition_penalty", params.repetitionPenalty))
    return false;
  params.topK = int64_t(topK);
  if (auto it = root.find("do_sample"); it != root.end()) {
    if (!it->is_boolean()) {
      error = origin + ": do_sample is not true or false";
      return false;
    }
    if (!it->get<bool>())
      params.temperature = 0;
  }
  if (auto it = root.find("eos_token_id"); it != root.end() && !it->is_null()) {
    // Read in place, never copied: a value nested deep would be copied
    // recursively.
    eos.clear();
    auto take = [&](const json &id) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
          id.get<int64_t>() > INT32_MAX) {
        error = origin + ": eos_token_id holds " + quoteJSON(id) + ", not a token id";
        return false;
      }
      eos.push_back(id.get<int32_t>());
      return true;
    };
    if (!it->is_array()) {
      if (!take(*it))
        return false;
    } else {
      for (const json &id : *it)
        if (!take(id))
          return false;
    }
  }
  if (std::string problem = params.check(); !problem.empty()) {
    error = origin + ": " + problem;
    return false;
  }
  return true;
}

namespace {
uint64_t splitmix64(uint64_t &x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

/// Applies the penalties to `logits` in place.
void penalise(float *logits, int64_t vocab, const SamplingParams &p,
              const std::vector<int32_t> &context, size_t generatedFrom) {
  if (p.repetitionPenalty != 1) {
    std::unordered_set<int32_t> seen(context.begin(), context.end());
    for (int32_t id : seen)
      if (id >= 0 && id < vocab)
        logits[id] = logits[id] > 0 ? float(logits[id] / p.repetitionPenalty)
                                    : float(logits[id] * p.repetitionPenalty);
  }
  if (p.presencePenalty != 0 && generatedFrom < context.size()) {
    std::unordered_set<int32_t> seen(context.begin() + generatedFrom, context.end());
    for (int32_t id : seen)
      if (id >= 0 && id < vocab)
        logits[id] = float(logits[id] - p.presencePenalty);
  }
  if (p.frequencyPenalty != 0)
    for (size_t i = generatedFrom; i < context.size(); ++i)
      if (context[i] >= 0 && context[i] < vocab)
        logits[context[i]] = float(logits[context[i]] - p.frequencyPenalty);
}

int32_t argmax(const float *logits, int64_t vocab) {
  return int32_t(std::max_element(logits, logits + vocab) - logits);
}
} // namespace

Sampler::Sampler(const SamplingParams &params) : params(params) {
  uint64_t x = params.seed;
  for (uint64_t &s : state)
    s = splitmix64(x);
}

double Sampler::uniform() { // xoshiro256**
  uint64_t result = rotl(state[1] * 5, 7) * 9, t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return double(result >> 11) * 0x1.0p-53;
}

std::vector<std::pair<int32_t, double>>
Sampler::candidates(float *logits, int64_t vocab, const std::vector<int32_t> &context,
                    size_t generatedFrom) const {
  penalise(logits, vocab, params, context, generatedFrom);
  if (params.temperature == 0)
    return {{argmax(logits, vocab), 1.0}};
  // Most likely first; equal logits by id, so the order is deterministic.
  std::vector<int32_t> ids(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i)
    ids[size_t(i)] = int32_t(i);
  auto before = [&](int32_t a, int32_t b) {
    return logits[a] != logits[b] ? logits[a] > logits[b] : a < b;
  };
  size_t keep = size_t(vocab);
  if (params.topK > 0 && params.topK < vocab) {
    keep = size_t(params.topK);
    std::nth_element(ids.begin(), ids.begin() + keep, ids.end(), before);
    ids.resize(keep);
  }
  std::sort(ids.begin(), ids.end(), before);
  // Softmax of logits / temperature over what is left.
  std::vector<std::pair<int32_t, double>> out;
  out.reserve(ids.size());
  const double top = logits[ids[0]] / params.temperature;
  double sum = 0;
  for (int32_t id : ids) {
    double p = std::exp(logits[id] / params.temperature - top);
    out.emplace_back(id, p);
    sum += p;
  }
  for (auto &c : out)
    c.second /= sum;
  if (params.topP < 1) { // the smallest prefix holding top-p of the mass
    double mass = 0;
    size_t n = 0;
    while (n < out.size() && mass < params.topP)
      mass += out[n++].second;
    out.resize(std::max<size_t>(n, 1));
  }
  if (params.minP > 0) { // relative to the most likely token
    double floor = params.minP * out[0].second;
    size_t n = 1;
    while (n < out.size() && out[n].second >= floor)
      ++n;
    out.resize(n);
  }
  sum = 0;
  for (auto &c : out)
    sum += c.second;
  for (auto &c : out)
    c.second /= sum;
  return out;
}

int32_t Sampler::sample(float *logits, int64_t vocab, const std::vector<int32_t> &context,
                        size_t generatedFrom) {
  std::vector<std::pair<int32_t, double>> c =
      candidates(logits, vocab, context, generatedFrom);
  if (c.size() == 1)
    return c[0].first;
  double u = uniform(), mass = 0;
  for (const auto &[id, p] : c) {
    mass += p;
    if (u < mass)
      return id;
  }
  return c.back().first; // rounding left u above the total
}

int32_t Sampler::verifyDraft(float *logits, int64_t vocab, const std::vector<int32_t> &context,
                             size_t generatedFrom, int32_t draft, bool &kept) {
  std::vector<std::pair<int32_t, double>> c =
      candidates(logits, vocab, context, generatedFrom);
  double pDraft = 0;
  for (const auto &[id, p] : c)
    if (id == draft)
      pDraft = p;
  // Kept with probability min(1, p / q), q being 1 at the draft.
  kept = c.size() == 1 ? c[0].first == draft : uniform() < pDraft;
  if (kept)
    return draft;
  if (c.size() == 1)
    return c[0].first;
  // Rejected: the residual max(0, p - q), the draft's mass taken out.
  double u = uniform() * (1 - pDraft), mass = 0;
  int32_t last = -1;
  for (const auto &[id, p] : c) {
    if (id == draft)
      continue;
    mass += p;
    last = id;
    if (u < mass)
      return id;
  }
  return last; // rounding left u above the total
}

} // namespace qnext
