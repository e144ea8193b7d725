//===- Generate.cpp - the one generation loop -----------------------------===//

#include "qnext/Generate.h"
#include "qnext/Chat.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace qnext {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
} // namespace

bool generate(qnext_session *session, const std::vector<int32_t> &prompt,
              const GenerationOptions &options, Sampler &sampler,
              std::vector<int32_t> &context, GenerationStats &stats,
              std::string &error) {
  stats = GenerationStats();
  stats.promptTokens = int64_t(prompt.size());
  const int64_t rowSize = qnext_model_vocab_size(qnext_session_model(session));
  const int64_t vocab = options.sampledVocab > 0
                            ? std::min(options.sampledVocab, rowSize)
                            : rowSize;
  const bool everyRow = bool(options.onLogits);
  const bool mtpRows = bool(options.onMTPLogits);
  const int64_t speculate = std::max<int64_t>(options.speculate, 0);
  char *message = nullptr;
  auto failed = [&] {
    error = message ? message : "unknown error";
    qnext_free_error(message);
    return false;
  };
  if (speculate && (options.budget || everyRow || mtpRows)) {
    error = "generate: speculative decoding takes no thinking budget and no logits of "
            "every row";
    return false;
  }
  const bool headDrafts = speculate && (!options.forcedDrafts || options.headAnyway);
  if ((mtpRows || headDrafts) && qnext_session_enable_mtp(session, &message))
    return failed();
  // The head's rows that can run now, `next` being the token after the
  // last processed one: reported, or (drafting) run for the head's cache.
  std::vector<float> mtpLogits;
  auto headRows = [&](int32_t next) {
    if (!mtpRows && !headDrafts)
      return true;
    const int64_t n = qnext_slot_mtp_pending(session, 0) - (next < 0 ? 1 : 0);
    if (n <= 0)
      return true;
    if (!mtpRows)
      return qnext_slot_mtp(session, 0, next, nullptr, 0, &message) == 0;
    mtpLogits.resize(size_t(std::max<int64_t>(n, 1) * rowSize));
    if (qnext_slot_mtp(session, 0, next, mtpLogits.data(), 1, &message))
      return false;
    options.onMTPLogits(mtpLogits.data(), n, rowSize);
    return true;
  };

  // Prefill: the last row only, unless every row is asked for.
  const int64_t p = int64_t(prompt.size());
  if (p == 0) {
    error = "generate: the prompt has no tokens";
    return false;
  }
  // (The head reads at most QNEXT_MTP_WAITING_ROWS rows a call.)
  int64_t chunk = options.prefillChunk > 0 ? options.prefillChunk : p;
  if (mtpRows || headDrafts)
    chunk = std::min<int64_t>(chunk, QNEXT_MTP_WAITING_ROWS);
  std::vector<float> logits(size_t(everyRow ? std::min(chunk, p) : 1) * rowSize);
  auto start = Clock::now();
  for (int64_t at = 0; at < p; at += chunk) {
    const int64_t n = std::min(chunk, p - at);
    const int rc = everyRow ? qnext_session_prefill(session, prompt.data() + at, n,
                                                    logits.data(), &message)
                            : qnext_session_prefill_last(session, prompt.data() + at,
                                                         n, logits.data(), &message);
    if (rc)
      return failed();
    if (everyRow)
      for (int64_t r = 0; r < n; ++r)
        options.onLogits(logits.data() + r * rowSize, rowSize);
    // The head's rows as far as the tokens are known: the prompt's.
    if (!headRows(at + n < p ? prompt[size_t(at + n)] : -1))
      return failed();
  }
  stats.prefillSeconds = since(start);
  // The prompt's last row is where the first token is chosen from.
  if (everyRow) {
    const int64_t lastInChunk = (p - 1) % chunk;
    std::copy_n(logits.data() + lastInChunk * rowSize, rowSize, logits.data());
  }
  logits.resize(size_t(rowSize));
  context.insert(context.end(), prompt.begin(), prompt.end());
  if (options.budget)
    options.budget->observePrompt(prompt);
  if (options.onPrefilled)
    options.onPrefilled();

  const size_t generatedFrom = context.size();
  // Reports a chosen token; false when the generation ends with it.
  auto chosen = [&](int32_t next, bool forced) {
    if (options.budget)
      options.budget->accept(next);
    ++stats.generated;
    stats.forced += forced;
    stats.last = next;
    if (options.onToken)
      options.onToken(next, forced);
    if (!forced && std::find(options.stopIds.begin(), options.stopIds.end(), next) !=
                       options.stopIds.end()) {
      stats.stopped = true;
      return false;
    }
    return stats.generated < options.maxNew;
  };
  start = Clock::now();
  if (speculate && options.maxNew > 0) {
    // Drafts from the head, verified by the main model in one call; each
    // row keeps its draft with the probability the sampler gives it (greedy:
    // when it is the row's choice), so the tokens are distributed as plain
    // decoding's (greedy: they are plain decoding's).
    int32_t next = sampler.sample(logits.data(), vocab, context, generatedFrom);
    bool more = chosen(next, false);
    std::vector<int32_t> step(size_t(speculate + 1));
    std::vector<float> rows(size_t((speculate + 1) * rowSize));
    while (more) {
      // No more drafts than tokens left to choose after this step's last.
      const int64_t k = std::min(speculate, options.maxNew - stats.generated - 1);
      if (k == 0) { // one token left: a decode step
        if (qnext_session_decode(session, next, logits.data(), &message))
          return failed();
        ++stats.decoded;
        context.push_back(next);
        next = sampler.sample(logits.data(), vocab, context, generatedFrom);
        more = chosen(next, false);
        continue;
      }
      step[0] = next;
      if (headDrafts && qnext_slot_draft(session, 0, next, k, step.data() + 1, &message))
        return failed();
      if (options.forcedDrafts) {
        const std::vector<int32_t> &list = *options.forcedDrafts;
        for (int64_t i = 0; i < k; ++i) {
          const size_t at = size_t(stats.generated + i);
          step[size_t(i + 1)] = at < list.size() ? list[at] : 0;
        }
      }
      if (qnext_slot_verify(session, 0, step.data(), k + 1, rows.data(), &message))
        return failed();
      ++stats.steps;
      stats.drafted += k;
      context.push_back(next);
      // Row i chooses the token after step[i]: draft i + 1 is kept while it
      // is that token; the first that is not, or the row after the last
      // draft, gives the step's own token.
      int64_t kept = 1; // tokens of the step the session keeps
      for (int64_t i = 0; i <= k; ++i) {
        float *row = rows.data() + i * rowSize;
        bool isDraft = false;
        next = i < k ? sampler.verifyDraft(row, vocab, context, generatedFrom,
                                           step[size_t(i + 1)], isDraft)
                     : sampler.sample(row, vocab, context, generatedFrom);
        more = chosen(next, false);
        if (!more || !isDraft)
          break;
        ++stats.accepted;
        ++kept;
        context.push_back(next);
      }
      stats.decoded += kept;
      if (qnext_slot_accept(session, 0, kept, &message))
        return failed();
    }
    stats.decodeSeconds = since(start);
    return true;
  }
  while (stats.generated < options.maxNew) {
    std::optional<int32_t> forced =
        options.budget ? options.budget->forcedNext() : std::nullopt;
    const int32_t next =
        forced ? *forced : sampler.sample(logits.data(), vocab, context, generatedFrom);
    if (mtpRows && !headRows(next))
      return failed();
    if (!chosen(next, forced.has_value()))
      break; // the last token's own logits are not needed
    if (qnext_session_decode(session, next, logits.data(), &message))
      return failed();
    ++stats.decoded;
    context.push_back(next);
    if (everyRow)
      options.onLogits(logits.data(), rowSize);
  }
  stats.decodeSeconds = since(start);
  return true;
}

} // namespace qnext
