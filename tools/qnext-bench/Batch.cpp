//===- Batch.cpp - qnext-bench --batch ------------------------------------===//

#include "Batch.h"
#include "Profile.h"
#include "Weights.h"

#include "RuntimeTool.h"
#include "qnext/FileChecks.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <random>

namespace {

using Clock = std::chrono::steady_clock;

/// Frees the session's slots when a run ends, however it ends.
struct Slots {
  qnext_session *session;
  std::vector<int64_t> held;
  ~Slots() {
    for (int64_t slot : held)
      qnext_slot_release(session, slot, nullptr);
  }
};

using qnext::tool::takeError;

/// One run: `batch` sequences prefilled (timed: `prefillSeconds`), in one
/// batched prefill where the code has it, then `steps` timed batched decode
/// steps (`seconds`). With `profiled`, the kernel profile counts the steps
/// alone.
bool runOnce(qnext_session *session, int64_t batch, const std::vector<int32_t> &tokens,
             int64_t promptLen, int64_t steps, double &seconds, std::string &error,
             bool profiled = false, double *prefillSeconds = nullptr) {
  qnext_model *model = qnext_session_model(session);
  const int64_t vocab = qnext_model_vocab_size(model);
  Slots slots{session, {}};
  std::vector<int32_t> next(static_cast<size_t>(batch));
  std::vector<float> logits(size_t(batch * vocab));
  char *message = nullptr;
  // Each sequence its own prompt: the tokens from its own offset.
  std::vector<int32_t> prompts;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t slot = qnext_slot_acquire(session, &message);
    if (slot < 0) {
      error = takeError(message);
      return false;
    }
    slots.held.push_back(slot);
    const int64_t offset = (b * 7) % int64_t(tokens.size() - promptLen + 1);
    prompts.insert(prompts.end(), tokens.begin() + offset,
                   tokens.begin() + offset + promptLen);
  }
  const auto prefillStart = Clock::now();
  if (batch > 1 && qnext_model_has_prefill_batch(model)) {
    const std::vector<int64_t> counts(static_cast<size_t>(batch), promptLen);
    if (qnext_session_prefill_batch(session, slots.held.data(), counts.data(), prompts.data(),
                                    batch, logits.data(), &message)) {
      error = takeError(message);
      return false;
    }
  } else {
    for (int64_t b = 0; b < batch; ++b)
      if (qnext_slot_prefill_last(session, slots.held[size_t(b)],
                                  prompts.data() + b * promptLen, promptLen,
                                  logits.data() + b * vocab, &message)) {
        error = takeError(message);
        return false;
      }
  }
  if (prefillSeconds)
    *prefillSeconds = std::chrono::duration<double>(Clock::now() - prefillStart).count();
  for (int64_t b = 0; b < batch; ++b) {
    const float *row = logits.data() + b * vocab;
    next[size_t(b)] = int32_t(std::max_element(row, row + vocab) - row);
  }
  if (profiled) {
    qnext_profile_reset(model);
    qnext_profile_enable(model, 1, nullptr);
  }
  auto start = Clock::now();
  for (int64_t step = 0; step < steps; ++step) {
    if (qnext_session_decode_batch(session, slots.held.data(), next.data(), batch,
                                   logits.data(), &message)) {
      error = takeError(message);
      return false;
    }
    for (int64_t b = 0; b < batch; ++b) {
      const float *row = logits.data() + b * vocab;
      next[size_t(b)] = int32_t(std::max_element(row, row + vocab) - row);
    }
  }
  seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (profiled)
    qnext_profile_enable(model, 0, nullptr);
  return true;
}

/// qnext-bench --profile --batch: for each batch size, one untimed run,
/// then the kernel profile of a run's steps.
int profileBatches(qnext_model *model, qnext_session *session,
                   const nlohmann::ordered_json &manifest, int64_t threads,
                   const std::vector<int64_t> &batches, const std::vector<int32_t> &tokens,
                   int64_t promptLen, int64_t steps) {
  char *error = nullptr;
  if (qnext_profile_enable(model, 1, &error))
    return qnext::tool::fail(takeError(error));
  qnext_profile_enable(model, 0, nullptr);
  if (manifest["target"].value("kind", "") != "cuda")
    qnext_model_set_threads(model, int(threads));
  const double share = expertShare(manifest);
  for (int64_t batch : batches) {
    double seconds = 0;
    std::string why;
    if (!runOnce(session, batch, tokens, promptLen, steps, seconds, why) ||
        !runOnce(session, batch, tokens, promptLen, steps, seconds, why, /*profiled=*/true))
      return qnext::tool::fail(why);
    // One row runs the decode entry.
    printProfile(model, batch == 1 ? "decode" : "decode_batch", seconds, steps, share,
                 batch == 1);
    std::cout << qnext::tool::format("(batch %lld)\n", (long long)batch);
  }
  std::cout << kProfileNote;
  return 0;
}

} // namespace

bool benchBatch(qnext_session *session, int64_t batch, const std::vector<int32_t> &tokens,
                int64_t promptLen, int64_t steps, int64_t repeat, BatchFigures &figures,
                std::string &error) {
  std::vector<double> runs, prefills;
  for (int64_t i = -1; i < repeat; ++i) { // run -1 warms up, untimed
    double seconds = 0, prefillSeconds = 0;
    if (!runOnce(session, batch, tokens, promptLen, steps, seconds, error, false,
                 &prefillSeconds))
      return false;
    if (i >= 0) {
      runs.push_back(double(batch * steps) / seconds);
      prefills.push_back(double(batch * promptLen) / prefillSeconds);
    }
  }
  auto median = [](std::vector<double> &v) {
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  };
  figures.batch = batch;
  figures.aggregateTokS = median(runs);
  figures.spread = (runs.back() - runs.front()) / figures.aggregateTokS;
  figures.prefillTokS = median(prefills);
  return true;
}

int batchMain(qnext_model *model, const std::string &artifact,
              const nlohmann::ordered_json &manifest,
              const std::vector<int64_t> &threads, const std::vector<int64_t> &batches,
              int64_t promptLen, int64_t steps, int64_t repeat, const std::string &jsonOut,
              bool profile) {
  using qnext::tool::fail;
  using qnext::tool::format;
  if (!qnext_model_has_decode_batch(model) &&
      std::any_of(batches.begin(), batches.end(), [](int64_t b) { return b > 1; }))
    return fail("--batch: the artifact has no batched decode entry point (CPU artifacts "
                "have one unless compiled with --decode-batch=false; CUDA artifacts do "
                "not yet)");
  const int64_t positions = qnext_model_max_position_embeddings(model);
  const int64_t capacity = promptLen + steps;
  if (capacity > positions)
    return fail("--batch-prompt plus --decode-tokens must fit the model's " +
                std::to_string(positions) + " positions");
  const int64_t most = *std::max_element(batches.begin(), batches.end());
  char *error = nullptr;
  std::unique_ptr<qnext_session, void (*)(qnext_session *)> session(
      qnext_session_create_slots(model, capacity, most, &error), qnext_session_destroy);
  if (!session)
    return fail(takeError(error));
  // Deterministic token ids, away from the special tokens at the top of a
  // real vocabulary (all of a small one); each sequence reads them from its
  // own offset.
  const int64_t vocab = qnext_model_vocab_size(model);
  std::mt19937 rng(1234);
  std::vector<int32_t> tokens(size_t(promptLen + 7 * most));
  const int64_t drawn = vocab > 4096 ? vocab - 512 : vocab;
  for (int32_t &t : tokens)
    t = int32_t(rng() % uint32_t(drawn));

  if (profile)
    return profileBatches(model, session.get(), manifest, threads.front(), batches, tokens,
                          promptLen, steps);

  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  std::cout << "| threads | batch | aggregate tokens/s (median) | spread | per sequence "
               "tokens/s | weight GB/s (est.) | prefill tokens/s (median) |\n"
            << "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (int64_t t : threads) {
    const bool gpu = manifest["target"].value("kind", "") == "cuda";
    const int used = gpu ? 1 : qnext_model_set_threads(model, int(t));
    for (int64_t batch : batches) {
      BatchFigures figures;
      std::string why;
      if (!benchBatch(session.get(), batch, tokens, promptLen, steps, repeat, figures, why))
        return fail(why);
      const double perStep = activeWeights(manifest, batch).bytes;
      const double gbs = figures.aggregateTokS / double(batch) * perStep / 1e9;
      rows.push_back({{"threads", used},
                      {"batch", batch},
                      {"aggregate_tok_s", figures.aggregateTokS},
                      {"per_sequence_tok_s", figures.aggregateTokS / double(batch)},
                      {"spread", figures.spread},
                      {"weight_bytes_per_step", perStep},
                      {"weight_gb_s", gbs},
                      {"prefill_tok_s", figures.prefillTokS},
                      {"prefill_batched", batch > 1 && qnext_model_has_prefill_batch(model)}});
      std::cout << format("| %d | %lld | %.2f | %.0f%% | %.2f | %.1f | %.2f |\n", used,
                          (long long)batch, figures.aggregateTokS, 100 * figures.spread,
                          figures.aggregateTokS / double(batch), gbs, figures.prefillTokS);
      std::cerr << format("qnext-bench: batch %lld: %.2f tok/s aggregate\n", (long long)batch,
                          figures.aggregateTokS);
    }
  }
  std::cout << format("\nEach sequence: a %lld-token prompt, then %lld batched decode steps "
                      "(timed, greedy choice included); %lld runs per figure.\n"
                      "Prefill: the batch's prompts, in one batched prefill call where the "
                      "artifact has it (%s), else one after the other; all their tokens "
                      "over the time.\n"
                      "Weight GB/s: the bytes a step reads over its time, the routed "
                      "experts counted as the distinct experts of rows choosing "
                      "uniformly at random (real routing repeats experts more: an upper "
                      "estimate).\n",
                      (long long)promptLen, (long long)steps, (long long)repeat,
                      qnext_model_has_prefill_batch(model) ? "it has" : "it has not");
  if (!jsonOut.empty()) {
    nlohmann::ordered_json out = {{"artifact", artifact},
                                  {"batch_prompt", promptLen},
                                  {"decode_steps", steps},
                                  {"batches", rows}};
    if (std::string why; !qnext::writeReplacing(jsonOut, out.dump(2) + "\n", why))
      return fail(why);
  }
  return 0;
}
