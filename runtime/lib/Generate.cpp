//===- Generate.cpp - the one generation loop -----------------------------===//

#include "qnext/Generate.h"
#include "qnext/Chat.h"

#include <algorithm>
#include <chrono>
#include <optional>

namespace qnext {

bool generate(qnext_session *session, const std::vector<int32_t> &prompt,
              const GenerationOptions &options, Sampler &sampler,
              std::vector<int32_t> &context, GenerationStats &stats,
              std::string &error) {
  using Clock = std::chrono::steady_clock;
  auto since = [](Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
  };
  stats = GenerationStats();
  stats.promptTokens = int64_t(prompt.size());
  const int64_t rowSize = qnext_model_vocab_size(qnext_session_model(session));
  const int64_t vocab = options.sampledVocab > 0
                            ? std::min(options.sampledVocab, rowSize)
                            : rowSize;
  const bool everyRow = bool(options.onLogits);
  char *message = nullptr;
  auto failed = [&] {
    error = message ? message : "unknown error";
    qnext_free_error(message);
    return false;
  };

  // Prefill: the last row only, unless every row is asked for.
  const int64_t p = int64_t(prompt.size());
  if (p == 0) {
    error = "generate: the prompt has no tokens";
    return false;
  }
  const int64_t chunk = options.prefillChunk > 0 ? options.prefillChunk : p;
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
  start = Clock::now();
  while (stats.generated < options.maxNew) {
    std::optional<int32_t> forced =
        options.budget ? options.budget->forcedNext() : std::nullopt;
    const int32_t next =
        forced ? *forced : sampler.sample(logits.data(), vocab, context, generatedFrom);
    if (options.budget)
      options.budget->accept(next);
    ++stats.generated;
    stats.forced += forced.has_value();
    stats.last = next;
    if (options.onToken)
      options.onToken(next, forced.has_value());
    if (!forced && std::find(options.stopIds.begin(), options.stopIds.end(), next) !=
                       options.stopIds.end()) {
      stats.stopped = true;
      break;
    }
    if (stats.generated == options.maxNew)
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
