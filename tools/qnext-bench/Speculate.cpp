//===- Speculate.cpp - qnext-bench --speculate ----------------------------===//
//
// Random weights accept few drafts, so the pieces are measured and the
// speed-up at a given acceptance rate is computed from them: with drafts
// accepted independently with probability a, a step of k drafts keeps j of
// them with probability a^j (1 - a) (j < k) or a^k, and gives j + 1 tokens
// for the head's drafts, the verify call and, when j < k, the rollback of
// j kept drafts. Plain decoding gives one token per decode step.
//
//===----------------------------------------------------------------------===//

#include "Speculate.h"
#include "Weights.h"

#include "RuntimeTool.h"
#include "qnext/FileChecks.h"
#include "qnext/Generate.h"
#include "qnext/Sampler.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <random>

namespace {

using Clock = std::chrono::steady_clock;
using qnext::tool::fail;
using qnext::tool::format;

double seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

using qnext::tool::takeError;

using Session = std::unique_ptr<qnext_session, void (*)(qnext_session *)>;

/// A session holding `prompt`, the head keeping its rows; `next` its
/// greedy next token.
bool start(qnext_model *model, const std::vector<int32_t> &prompt, int64_t capacity,
           Session &session, int32_t &next, std::string &error) {
  char *message = nullptr;
  session.reset(qnext_session_create(model, capacity, &message));
  const int64_t vocab = qnext_model_vocab_size(model);
  std::vector<float> row(static_cast<size_t>(vocab));
  if (!session || qnext_session_enable_mtp(session.get(), &message) ||
      qnext_session_prefill_last(session.get(), prompt.data(), int64_t(prompt.size()),
                                 row.data(), &message)) {
    error = takeError(message);
    return false;
  }
  next = int32_t(std::max_element(row.begin(), row.end()) - row.begin());
  return true;
}

/// What one draft count measured (seconds, medians).
struct Pieces {
  int64_t k = 0;
  double draft = 0, verify = 0;
  /// Keeping j = 0 .. k - 1 drafts: the states restored, and what the next
  /// verify call takes more for running the kept tokens again first.
  std::vector<double> rollback;
};

bool measure(qnext_model *model, const std::vector<int32_t> &prompt, int64_t capacity,
             int64_t k, int64_t repeat, Pieces &out, std::string &error) {
  Session session(nullptr, qnext_session_destroy);
  int32_t next = 0;
  if (!start(model, prompt, capacity, session, next, error))
    return false;
  const int64_t vocab = qnext_model_vocab_size(model);
  std::vector<int32_t> step(static_cast<size_t>(k + 1));
  std::vector<float> rows(static_cast<size_t>((k + 1) * vocab));
  // By the tokens the step before kept (1 .. k + 1): the head's drafts,
  // the verify call, and the accept call that ended that step.
  std::vector<std::vector<double>> drafts(size_t(k + 2)), verifies(size_t(k + 2)),
      accepts(size_t(k + 2));
  char *message = nullptr;
  int64_t before = k + 1;
  // One step: the head's drafts, the verify call, `kept` tokens kept.
  auto once = [&](int64_t kept, bool timed) {
    step[0] = next;
    auto t0 = Clock::now();
    if (qnext_slot_draft(session.get(), 0, next, k, step.data() + 1, &message))
      return false;
    const double draft = seconds(t0);
    t0 = Clock::now();
    if (qnext_slot_verify(session.get(), 0, step.data(), k + 1, rows.data(), &message))
      return false;
    const double verify = seconds(t0);
    t0 = Clock::now();
    if (qnext_slot_accept(session.get(), 0, kept, &message))
      return false;
    const double accept = seconds(t0);
    if (timed) {
      drafts[size_t(before)].push_back(draft);
      verifies[size_t(before)].push_back(verify);
      accepts[size_t(kept)].push_back(accept);
    }
    before = kept;
    const float *row = rows.data() + (kept - 1) * vocab;
    next = int32_t(std::max_element(row, row + vocab) - row);
    return true;
  };
  for (int64_t r = -1; r < repeat; ++r) // run -1 warms up, untimed
    for (int64_t kept = k + 1; kept >= 1; --kept)
      if (!once(kept, r >= 0)) {
        error = takeError(message);
        return false;
      }
  out.k = k;
  out.draft = median(drafts[size_t(k + 1)]);
  out.verify = median(verifies[size_t(k + 1)]);
  for (int64_t kept = 1; kept <= k; ++kept)
    out.rollback.push_back(median(accepts[size_t(kept)]) +
                           median(verifies[size_t(kept)]) - out.verify +
                           median(drafts[size_t(kept)]) - out.draft);
  return true;
}

/// The decode step alone, over `steps` steps of each of `repeat` runs.
bool decodeStep(qnext_model *model, const std::vector<int32_t> &prompt, int64_t capacity,
                int64_t steps, int64_t repeat, double &step, std::string &error) {
  std::vector<double> runs;
  const int64_t vocab = qnext_model_vocab_size(model);
  std::vector<float> row(static_cast<size_t>(vocab));
  for (int64_t r = -1; r < repeat; ++r) {
    char *message = nullptr;
    Session session(qnext_session_create(model, capacity, &message), qnext_session_destroy);
    if (!session ||
        qnext_session_prefill_last(session.get(), prompt.data(), int64_t(prompt.size()),
                                   row.data(), &message)) {
      error = takeError(message);
      return false;
    }
    auto t0 = Clock::now();
    for (int64_t i = 0; i < steps; ++i) {
      const int32_t next = int32_t(std::max_element(row.begin(), row.end()) - row.begin());
      if (qnext_session_decode(session.get(), next, row.data(), &message)) {
        error = takeError(message);
        return false;
      }
    }
    if (r >= 0)
      runs.push_back(seconds(t0) / double(steps));
  }
  step = median(runs);
  return true;
}

/// Tokens per second after the first, generating `steps` tokens plainly, or
/// speculatively with up to k drafts of `drafts` (all accepted).
bool endToEnd(qnext_model *model, const std::vector<int32_t> &prompt, int64_t capacity,
              int64_t steps, int64_t k, const std::vector<int32_t> *drafts,
              std::vector<int32_t> &generated, double &tokS, std::string &error) {
  char *message = nullptr;
  Session session(qnext_session_create(model, capacity, &message), qnext_session_destroy);
  if (!session) {
    error = takeError(message);
    return false;
  }
  qnext::GenerationOptions options;
  options.maxNew = steps;
  options.speculate = k;
  options.forcedDrafts = drafts;
  options.headAnyway = true;
  generated.clear();
  options.onToken = [&](int32_t id, bool) { generated.push_back(id); };
  qnext::Sampler sampler{qnext::SamplingParams()};
  std::vector<int32_t> context;
  qnext::GenerationStats stats;
  if (!qnext::generate(session.get(), prompt, options, sampler, context, stats, error))
    return false;
  tokS = double(stats.generated - 1) / stats.decodeSeconds;
  return true;
}

} // namespace

int speculateMain(qnext_model *model, const std::string &artifact, int64_t threads,
                  const std::vector<int64_t> &drafts, int64_t promptLen, int64_t steps,
                  int64_t repeat, const std::string &jsonOut) {
  if (!qnext_model_has_mtp(model))
    return fail("--speculate: " + artifact +
                " has no MTP head (its checkpoint had no mtp.* tensors, or it was "
                "compiled with --mtp=off)");
  const int64_t most = *std::max_element(drafts.begin(), drafts.end());
  // Every step of every run on one session: at most k + 1 tokens each.
  const int64_t capacity =
      promptLen + (repeat + 1) * (most + 2) * (most + 1) + steps + most + 1;
  if (capacity > qnext_model_max_position_embeddings(model))
    return fail("--speculate: the prompt and the runs need " + std::to_string(capacity) +
                " positions, beyond the model's");
  const int used = qnext_model_set_threads(model, int(threads));
  const int64_t vocab = qnext_model_vocab_size(model);
  std::mt19937 rng(1234);
  std::vector<int32_t> prompt(static_cast<size_t>(promptLen));
  const int64_t drawn = vocab > 4096 ? vocab - 512 : vocab;
  for (int32_t &t : prompt)
    t = int32_t(rng() % uint32_t(drawn));

  std::string why;
  double step = 0;
  if (!decodeStep(model, prompt, capacity, steps, repeat, step, why))
    return fail(why);
  std::cerr << format("qnext-bench: decode step %.2f ms\n", step * 1e3);
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::cout << format("Decode step: %.2f ms (%d threads, after a %lld-token prompt)\n\n",
                      step * 1e3, used, (long long)promptLen)
            << "| k | head drafts ms | verify ms (k + 1 tokens) | verify / decode step | "
               "weight bytes / decode step's | rollback ms (keeping 0 .. k-1 drafts) | "
               "speed-up at 50 % | 70 % | 90 % |\n"
            << "| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |\n";
  // What a verify call must read more than a decode step: the distinct
  // experts of k + 1 rows (chosen uniformly at random: real routing repeats
  // experts more).
  const nlohmann::ordered_json manifest =
      nlohmann::ordered_json::parse(qnext_model_manifest(model));
  const double stepBytes = activeWeights(manifest, 1).bytes;
  for (int64_t k : drafts) {
    Pieces p;
    if (!measure(model, prompt, capacity, k, repeat, p, why))
      return fail(why);
    std::string rollbacks;
    for (double r : p.rollback)
      rollbacks += (rollbacks.empty() ? "" : ", ") + format("%.2f", r * 1e3);
    nlohmann::ordered_json speedups = nlohmann::ordered_json::object();
    std::string cells;
    for (double a : {0.5, 0.7, 0.9}) {
      double tokens = 0, cost = p.draft + p.verify;
      for (int64_t j = 0; j <= k; ++j) {
        const double pj = j < k ? std::pow(a, double(j)) * (1 - a) : std::pow(a, double(k));
        tokens += pj * double(j + 1);
        if (j < k)
          cost += pj * p.rollback[size_t(j)];
      }
      const double speedup = tokens * step / cost;
      speedups[format("%.0f", a * 100)] = speedup;
      cells += format(" %.2fx |", speedup);
    }
    const double bytesRatio = activeWeights(manifest, k + 1).bytes / stepBytes;
    std::cout << format("| %lld | %.2f | %.2f | %.2fx | %.2fx | %s |", (long long)k,
                        p.draft * 1e3, p.verify * 1e3, p.verify / step, bytesRatio,
                        rollbacks.c_str())
              << cells << "\n";
    rows.push_back({{"k", k},
                    {"draft_ms", p.draft * 1e3},
                    {"verify_ms", p.verify * 1e3},
                    {"verify_over_decode", p.verify / step},
                    {"verify_bytes_over_decode", bytesRatio},
                    {"rollback_ms", p.rollback},
                    {"speedup_at_acceptance", speedups}});
  }

  // End to end, every draft accepted: the plain run's tokens as drafts.
  std::vector<int32_t> plain, speculative;
  double plainTokS = 0;
  if (!endToEnd(model, prompt, capacity, steps, 0, nullptr, plain, plainTokS, why))
    return fail(why);
  std::cout << format("\nEnd to end, %lld tokens, every draft accepted (the drafts of the "
                      "plain run; the head drafts each step all the same):\n"
                      "| k | plain tokens/s | speculative tokens/s | speed-up | same tokens |\n"
                      "| ---: | ---: | ---: | ---: | --- |\n",
                      (long long)steps);
  nlohmann::ordered_json e2e = nlohmann::ordered_json::array();
  for (int64_t k : drafts) {
    std::vector<double> plainRuns, specRuns;
    bool same = true;
    for (int64_t r = 0; r < repeat; ++r) {
      double a = 0, b = 0;
      if (!endToEnd(model, prompt, capacity, steps, 0, nullptr, plain, a, why) ||
          !endToEnd(model, prompt, capacity, steps, k, &plain, speculative, b, why))
        return fail(why);
      same = same && plain == speculative;
      plainRuns.push_back(a);
      specRuns.push_back(b);
    }
    const double a = median(plainRuns), b = median(specRuns);
    std::cout << format("| %lld | %.2f | %.2f | %.2fx | %s |\n", (long long)k, a, b, b / a,
                        same ? "yes" : "NO");
    e2e.push_back({{"k", k},
                   {"plain_tok_s", a},
                   {"speculative_tok_s", b},
                   {"speedup", b / a},
                   {"same_tokens", same}});
    if (!same)
      return fail("--speculate: speculative decoding chose other tokens than plain "
                  "decoding (a bug)");
  }
  std::cout << format("\nMedians of %lld runs. Head drafts and verify: after a step that "
                      "kept every draft (the head over the k + 1 rows it kept, then k - 1 "
                      "rows more). Rollback of a step that kept j drafts: its accept call "
                      "(the recurrent states restored) and what the next step's drafts and "
                      "verify call take more than after a full step (the kept tokens run "
                      "again in that call, the head over fewer rows). Speed-up at a: drafts "
                      "accepted independently with probability a; tokens per step over "
                      "(drafts + verify + expected rollback), against one decode step a "
                      "token. Weight bytes: what a verify call reads over what a decode "
                      "step reads, the routed experts counted as the distinct experts of "
                      "k + 1 rows choosing uniformly at random (the bound a verify call "
                      "meets when it is limited by memory bandwidth, as decode is).\n",
                      (long long)repeat);
  if (!jsonOut.empty()) {
    nlohmann::ordered_json out = {{"artifact", artifact},
                                  {"threads", used},
                                  {"prompt", promptLen},
                                  {"decode_step_ms", step * 1e3},
                                  {"drafts", rows},
                                  {"end_to_end", e2e}};
    if (std::string why2; !qnext::writeReplacing(jsonOut, out.dump(2) + "\n", why2))
      return fail(why2);
  }
  return 0;
}
