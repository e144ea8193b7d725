//===- Sampler.h - choosing the next token ----------------------*- C++ -*-===//
//
// Greedy, or sampling with temperature, top-k, top-p and min-p, after the
// repetition, presence and frequency penalties, in Hugging Face's order (penalties,
// temperature, top-k, top-p, min-p). The random numbers come from a seeded
// xoshiro256** generator, so a seed gives the same tokens on every machine.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_SAMPLER_H
#define QNEXT_RUNTIME_SAMPLER_H

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qnext {

struct SamplingParams {
  double temperature = 0;       ///< 0: greedy (the penalties still apply)
  int64_t topK = 0;             ///< 0: no limit
  double topP = 1;              ///< keep the smallest set with this much mass
  double minP = 0;              ///< drop tokens below minP * the top probability
  double repetitionPenalty = 1; ///< HF's: logit / p if positive, * p if not
  double presencePenalty = 0;   ///< subtracted once from every generated token
  double frequencyPenalty = 0;  ///< OpenAI's: subtracted once per time generated
  uint64_t seed = 0;

  /// One line saying what is wrong, or "" when the values are usable.
  std::string check() const;
  std::string describe() const;
};

/// Reads do_sample, temperature, top_k, top_p, min_p, repetition_penalty and
/// eos_token_id (an id or a list) from generation_config.json text into
/// `params` and `eos`; absent keys leave them as they are.
bool readGenerationConfig(std::string_view json, const std::string &origin,
                          SamplingParams &params, std::vector<int32_t> &eos,
                          std::string &error);

class Sampler {
public:
  explicit Sampler(const SamplingParams &params);

  /// Picks the next token from one row of logits. `context` holds every token
  /// in the session so far; those from `generatedFrom` on were generated
  /// (the presence and frequency penalties look at these only, the
  /// repetition penalty at all). `logits` is modified (penalties, filtering).
  int32_t sample(float *logits, int64_t vocab, const std::vector<int32_t> &context,
                 size_t generatedFrom);

  /// Speculative sampling with a draft chosen without chance (the MTP head's
  /// most likely token): keeps `draft` with the probability p(draft) that
  /// sample() would pick it from this row, else draws from p without it,
  /// renormalised. Either way the token returned is distributed as
  /// sample()'s; `kept` says which happened. (Greedy: kept iff the draft
  /// is sample()'s token.)
  int32_t verifyDraft(float *logits, int64_t vocab, const std::vector<int32_t> &context,
                      size_t generatedFrom, int32_t draft, bool &kept);

  /// The tokens sampling may pick from this row and their probabilities,
  /// most likely first (what sample() draws from; for tests and tools).
  std::vector<std::pair<int32_t, double>>
  candidates(float *logits, int64_t vocab, const std::vector<int32_t> &context,
             size_t generatedFrom) const;

  /// A number in [0, 1) from the generator.
  double uniform();

private:
  SamplingParams params;
  uint64_t state[4];
};

} // namespace qnext

#endif // QNEXT_RUNTIME_SAMPLER_H
