//===- Generate.h - the one generation loop -------------------*- C++ -*-===//
//
// Every caller that runs a model over a prompt and then generates tokens
// goes through generate(): qnext-run (ids in and ids out, or text and chat),
// qnext-bench's timed prefill and decode, and the server to come. It
// prefills the prompt (in one call or in chunks), then chooses each next
// token (forced by a thinking budget, or sampled), reports it, stops at a
// stop token or after maxNew tokens, and runs every chosen token but the
// last through the model. Timing, the logits of every row when asked for,
// and the point between prefill and decode are reported to the caller; the
// loop itself holds no policy of any one tool.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_GENERATE_H
#define QNEXT_RUNTIME_GENERATE_H

#include "qnext/Runtime.h"
#include "qnext/Sampler.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace qnext {

class ThinkingBudget;

struct GenerationOptions {
  /// Tokens to choose (the last is reported, not run through the model).
  /// 0: prefill only.
  int64_t maxNew = 16;
  /// Process the prompt in calls of at most this many tokens (0: one call).
  int64_t prefillChunk = 0;
  /// Choose among the first N logits of each row (0: the model's
  /// vocabulary; less where the embedding has padding rows no token has).
  int64_t sampledVocab = 0;
  /// A sampled (not forced) token in this list ends the generation; it is
  /// reported, and counted.
  std::vector<int32_t> stopIds;
  /// Forces the stop-thinking text after its budget (may be null).
  ThinkingBudget *budget = nullptr;
  /// Each token as it is chosen, with whether the budget forced it.
  std::function<void(int32_t id, bool forced)> onToken;
  /// When set, every row of logits the model computes, in order: the
  /// prompt's rows (the prompt is then computed for all its tokens, not
  /// only its last) and each decoded token's row, before sampling.
  std::function<void(const float *row, int64_t rowSize)> onLogits;
  /// Called once between prefill and the first decode step (e.g. to measure
  /// the memory then).
  std::function<void()> onPrefilled;
  /// When set (an artifact with the MTP head), the head's rows as soon as
  /// each can run: row t (main hidden state t, token t + 1) after the
  /// prompt chunk or the choice that gives token t + 1.
  std::function<void(const float *rows, int64_t n, int64_t rowSize)> onMTPLogits;
  /// Speculative decoding with the MTP head: up to this many greedy drafts
  /// a step, verified in one call (0: plain decode steps); each draft kept
  /// with the probability the sampler gives it (Sampler::verifyDraft), so
  /// the output is distributed as plain decoding's, and with greedy
  /// sampling it is plain decoding's. Takes no budget and no onLogits /
  /// onMTPLogits.
  int64_t speculate = 0;
  /// Speculative decoding's drafts from this list instead of the head: the
  /// ids it holds after as many as were chosen (a plain greedy run's give
  /// every draft accepted; changed ids, rejections where they are). For
  /// tests and the benchmark of 100 % acceptance; the artifact needs no head.
  const std::vector<int32_t> *forcedDrafts = nullptr;
  /// With forcedDrafts: the head still drafts each step (its drafts unused),
  /// so that a benchmark of full acceptance pays for it.
  bool headAnyway = false;
};

struct GenerationStats {
  int64_t promptTokens = 0, generated = 0, forced = 0;
  /// Tokens run through decode (generated - 1 when generated > 0).
  int64_t decoded = 0;
  double prefillSeconds = 0, decodeSeconds = 0;
  bool stopped = false; ///< a stop token ended it
  /// Speculative decoding: verify calls, drafts verified, drafts accepted.
  int64_t steps = 0, drafted = 0, accepted = 0;
  int32_t last = -1;    ///< the last token chosen, not yet processed
};

/// One generation on `session`, continuing whatever it holds. `context`
/// (every token processed, for the sampler's penalties) gets the prompt and
/// every chosen token but the last, which is `stats.last` (a follow-up
/// prompt starts with it). On a runtime error returns false with `error`
/// set; the session is then at an unspecified position.
bool generate(qnext_session *session, const std::vector<int32_t> &prompt,
              const GenerationOptions &options, Sampler &sampler,
              std::vector<int32_t> &context, GenerationStats &stats,
              std::string &error);

} // namespace qnext

#endif // QNEXT_RUNTIME_GENERATE_H
