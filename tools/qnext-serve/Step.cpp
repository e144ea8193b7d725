//===- Step.cpp - one step of the engine's batch ---------------------------===//
//
// What a step runs (Engine.h): the joining requests' prompt chunks and the
// running requests' decode steps, batched where the code allows, or a
// speculative step of a request decoding alone; then the token each
// request chooses, which may end it.
//
//===----------------------------------------------------------------------===//

#include "Engine.h"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace qnext::serve {

long refusedPart(const std::string &why, const char *what, size_t count, std::string &reason) {
  const std::string prefix = std::string(what) + " ";
  size_t index = 0;
  int used = 0;
  if (why.rfind(prefix, 0) != 0 ||
      std::sscanf(why.c_str() + prefix.size(), "%zu:%n", &index, &used) != 1 || used <= 0 ||
      index >= count)
    return -1;
  reason = why.substr(why.find(": ") + 2);
  return long(index);
}

void Engine::step() {
  // Clients gone: their slots are freed now.
  for (const std::shared_ptr<Job> &job : active)
    if (job->cancelled)
      finish(*job, "cancelled");
  // The joining requests' prompt chunks and the running requests' decode
  // steps in one call, where the code has the batched prefill (and no MTP
  // head follows the prompts); else one chunk of one joining request's
  // prompt (the first to have joined), so that a long prompt does not hold
  // the running streams up for long, then the decode step.
  if (batchedPrefill && !options.speculate) {
    if (stepTogether())
      return leave();
  } else {
    for (const std::shared_ptr<Job> &job : active) {
      if (job->slot < 0 || job->prefilled == job->prompt.size())
        continue;
      const int64_t n = chunkOf(*job);
      const bool last = job->prefilled + size_t(n) == job->prompt.size();
      char *message = nullptr;
      if (qnext_slot_prefill_last(session, job->slot, job->prompt.data() + job->prefilled, n,
                                  last ? logits.data() : nullptr, &message)) {
        finish(*job, "error", message ? message : "prefill failed");
        qnext_free_error(message);
        break;
      }
      prefilled(*job, n, logits.data());
      break;
    }
  }
  // One decode step of every request with a token to process.
  std::vector<int64_t> &slots = stepSlots;
  std::vector<int32_t> &ids = stepIds;
  std::vector<Job *> &rows = stepRows;
  decodeRows();
  // One request decoding alone: a speculative step, when it can.
  if (options.speculate && rows.size() == 1 && speculate(*rows[0]))
    rows.clear();
  // Code without the batched entry (CUDA, or compiled without it) runs the
  // rows one decode step each.
  for (size_t r = 0; !batched && r < rows.size(); ++r) {
    char *message = nullptr;
    if (qnext_slot_decode(session, slots[r], ids[r], logits.data(), &message)) {
      finish(*rows[r], "error", message ? message : "decode failed");
      qnext_free_error(message);
      continue;
    }
    decoded(*rows[r], logits.data());
  }
  while (batched && !rows.empty()) {
    char *message = nullptr;
    if (qnext_session_decode_batch(session, slots.data(), ids.data(), int64_t(rows.size()),
                                   logits.data(), &message) == 0) {
      for (size_t r = 0; r < rows.size(); ++r)
        decoded(*rows[r], logits.data() + r * size_t(vocab));
      break;
    }
    std::string why = message ? message : "decode failed";
    qnext_free_error(message);
    // A refused row ("row K: ...", nothing ran) fails its own request; the
    // others run without it. Any other failure fails them all.
    std::string reason;
    if (const long row = refusedPart(why, "row", rows.size(), reason); row >= 0) {
      finish(*rows[size_t(row)], "error", reason);
      rows.erase(rows.begin() + row);
      slots.erase(slots.begin() + row);
      ids.erase(ids.begin() + row);
      continue;
    }
    for (Job *job : rows)
      finish(*job, "error", why);
    break;
  }
  leave();
}

void Engine::leave() {
  std::lock_guard<std::mutex> lock(mutex);
  active.erase(std::remove_if(active.begin(), active.end(),
                              [](const std::shared_ptr<Job> &j) { return j->slot < 0; }),
               active.end());
  totals.busySlots = int64_t(active.size());
}

void Engine::decodeRows() {
  stepSlots.clear();
  stepIds.clear();
  stepRows.clear();
  for (const std::shared_ptr<Job> &job : active)
    if (job->slot >= 0 && job->next >= 0) {
      stepSlots.push_back(job->slot);
      stepIds.push_back(job->next);
      stepRows.push_back(job.get());
    }
}

int64_t Engine::chunkOf(const Job &job) const {
  int64_t n = std::min<int64_t>(options.prefillChunk,
                                int64_t(job.prompt.size() - job.prefilled));
  // Chunks end on the snapshots' boundaries.
  if (options.cacheEvery > 0)
    n = std::min<int64_t>(n, options.cacheEvery - int64_t(job.prefilled) % options.cacheEvery);
  if (int64_t(job.prefilled) < job.turnEnd)
    n = std::min<int64_t>(n, job.turnEnd - int64_t(job.prefilled));
  return n;
}

void Engine::prefilled(Job &job, int64_t n, float *row) {
  const bool last = job.prefilled + size_t(n) == job.prompt.size();
  job.context.insert(job.context.end(), job.prompt.begin() + long(job.prefilled),
                     job.prompt.begin() + long(job.prefilled) + n);
  job.prefilled += size_t(n);
  // Speculating: the MTP head's cache follows the prompt (its rows whose
  // next token is known), so that its drafts see all of it.
  char *message = nullptr;
  if (options.speculate &&
      qnext_slot_mtp(session, job.slot, last ? -1 : job.prompt[job.prefilled], nullptr, 0,
                     &message)) {
    finish(job, "error", message ? message : "the MTP head failed");
    qnext_free_error(message);
    return;
  }
  if (last) {
    // (A chat has its snapshot where its last turn ends, a few tokens
    // back: one more here would double what each chat keeps.)
    if (job.turnEnd == 0)
      save(job, row);
    choose(job, row);
  } else if ((options.cacheEvery > 0 && int64_t(job.prefilled) % options.cacheEvery == 0) ||
             int64_t(job.prefilled) == job.turnEnd) {
    save(job);
  }
}

bool Engine::stepTogether() {
  // The call's parts: each joining request's next chunk, in the order they
  // joined, while the step's prompt tokens stay within the budget (the
  // first always runs); then the chosen token of each running request (a
  // joining request has none yet: next < 0).
  std::vector<Job *> &parts = stepRows;
  std::vector<int64_t> &counts = stepCounts;
  parts.clear();
  counts.clear();
  int64_t tokens = 0;
  for (const std::shared_ptr<Job> &job : active) {
    if (job->slot < 0 || job->prefilled == job->prompt.size())
      continue;
    const int64_t n = chunkOf(*job);
    if (!parts.empty() && tokens + n > options.batchTokens)
      break;
    parts.push_back(job.get());
    counts.push_back(n);
    tokens += n;
  }
  if (parts.empty())
    return false; // decode steps alone: the batched decode entry
  for (const std::shared_ptr<Job> &job : active)
    if (job->slot >= 0 && job->next >= 0) {
      parts.push_back(job.get());
      counts.push_back(1);
    }
  while (!parts.empty()) {
    stepSlots.clear();
    stepIds.clear();
    for (size_t i = 0; i < parts.size(); ++i) {
      const Job &job = *parts[i];
      stepSlots.push_back(job.slot);
      if (job.next >= 0)
        stepIds.push_back(job.next);
      else
        stepIds.insert(stepIds.end(), job.prompt.begin() + long(job.prefilled),
                       job.prompt.begin() + long(job.prefilled) + counts[i]);
    }
    char *message = nullptr;
    if (qnext_session_prefill_batch(session, stepSlots.data(), counts.data(), stepIds.data(),
                                    int64_t(parts.size()), logits.data(), &message) == 0) {
      for (size_t i = 0; i < parts.size(); ++i) {
        float *row = logits.data() + i * size_t(vocab);
        if (parts[i]->next >= 0)
          decoded(*parts[i], row);
        else
          prefilled(*parts[i], counts[i], row);
      }
      return true;
    }
    std::string why = message ? message : "prefill failed";
    qnext_free_error(message);
    // A refused sequence ("sequence K: ...", nothing ran) fails its own
    // request; the others run without it. Any other failure fails them all.
    std::string reason;
    if (const long part = refusedPart(why, "sequence", parts.size(), reason); part >= 0) {
      finish(*parts[size_t(part)], "error", reason);
      parts.erase(parts.begin() + part);
      counts.erase(counts.begin() + part);
      continue;
    }
    for (Job *job : parts)
      finish(*job, "error", why);
  }
  return true;
}

void Engine::decoded(Job &job, float *row) {
  job.context.push_back(job.next);
  job.next = -1;
  choose(job, row);
}

void Engine::choose(Job &job, float *row) {
  int32_t id;
  if (std::optional<int32_t> forced = job.budget ? job.budget->forcedNext() : std::nullopt) {
    id = *forced; // the thinking budget ran out: its closing text
  } else {
    for (const auto &[token, bias] : job.logitBias)
      row[token] += bias;
    id = job.sampler->sample(row, options.sampledVocab, job.context, job.prompt.size());
  }
  take(job, id);
}

bool Engine::speculate(Job &job) {
  // (A sequence resumed from the prefix cache has no hidden row for the
  // head yet: its first step is a decode step.) No more drafts than tokens
  // the job may still choose after the step's last, nor than the context
  // holds before a decode step would end the job ("length").
  const int64_t position = qnext_slot_position(session, job.slot);
  const int64_t k = std::min({options.speculate, job.maxTokens - job.generatedCount - 1,
                              options.maxContext - position - 2});
  if (k < 1 || job.budget || !job.logitBias.empty() ||
      qnext_slot_mtp_pending(session, job.slot) < 1)
    return false;
  std::vector<int32_t> step(size_t(k + 1));
  step[0] = job.next;
  char *message = nullptr;
  std::vector<float> &rows = speculateRows; // kept between steps
  rows.resize(size_t((k + 1) * vocab));
  if (qnext_slot_draft(session, job.slot, job.next, k, step.data() + 1, &message) ||
      qnext_slot_verify(session, job.slot, step.data(), k + 1, rows.data(), &message)) {
    finish(job, "error", message ? message : "speculative step failed");
    qnext_free_error(message);
    return true;
  }
  // Each row keeps its draft with the sampler's probability of it: the
  // tokens are distributed as decode steps' (greedy: they are theirs).
  job.context.push_back(job.next);
  std::vector<int32_t> chosen;
  for (int64_t i = 0; i <= k; ++i) {
    float *row = rows.data() + i * vocab;
    bool kept = false;
    const int32_t id = i < k ? job.sampler->verifyDraft(row, options.sampledVocab, job.context,
                                                        job.prompt.size(), step[size_t(i + 1)],
                                                        kept)
                             : job.sampler->sample(row, options.sampledVocab, job.context,
                                                   job.prompt.size());
    chosen.push_back(id);
    // A stop id ends the reply: the slot keeps no token after it.
    if (!kept || stops(job, id))
      break;
    job.context.push_back(id);
  }
  // (The context holds what the slot keeps: job.next and the kept drafts.)
  if (qnext_slot_accept(session, job.slot, int64_t(chosen.size()), &message)) {
    finish(job, "error", message ? message : "speculative step failed");
    qnext_free_error(message);
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++totals.speculativeSteps;
    totals.draftsAccepted += int64_t(chosen.size()) - 1;
    totals.draftsProposed += k;
  }
  job.next = -1;
  // Each token as a decode step would have taken it: token i after the
  // step's first i + 1 tokens (the context's fullness counted there).
  for (size_t i = 0; i < chosen.size(); ++i) {
    take(job, chosen[i], position + int64_t(i) + 1);
    if (job.slot < 0) // finished: the tokens after it are not the reply's
      break;
  }
  return true;
}

bool Engine::stops(const Job &job, int32_t id) const {
  return !job.ignoreEos &&
         std::find(options.stopIds.begin(), options.stopIds.end(), id) != options.stopIds.end();
}

void Engine::take(Job &job, int32_t id, int64_t position) {
  if (job.budget)
    job.budget->accept(id);
  if (id == options.thinkClose)
    job.thinking = false;
  else if (job.thinking)
    ++job.reasoningCount;
  if (id == options.thinkOpen)
    job.thinking = true;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++totals.completionTokens;
  }
  ++job.generatedCount;
  job.sampledIds.push_back(id);
  if (stops(job, id)) {
    job.text += job.decoder->finish();
    finish(job, "stop");
    return;
  }
  job.text += job.decoder->push(id);
  // A stop string ends the text where it starts; the text that could still
  // become one is held back.
  size_t holdBack = 0;
  for (const std::string &stop : job.stops) {
    if (size_t at = job.text.find(stop, job.sent > stop.size() ? job.sent - stop.size() : 0);
        at != std::string::npos) {
      job.text.resize(at);
      finish(job, "stop");
      return;
    }
    for (size_t k = std::min(stop.size() - 1, job.text.size()); k > holdBack; --k)
      if (job.text.compare(job.text.size() - k, k, stop, 0, k) == 0) {
        holdBack = k;
        break;
      }
  }
  const size_t ready = job.text.size() - holdBack;
  if (ready > job.sent) {
    job.emit(job.text.substr(job.sent, ready - job.sent));
    job.sent = ready;
  }
  if (position < 0)
    position = qnext_slot_position(session, job.slot);
  const bool full = position + 1 >= options.maxContext;
  if (job.generatedCount >= job.maxTokens || full) {
    job.text += job.decoder->finish(); // bytes held for a character never completed
    finish(job, "length");
    return;
  }
  job.next = id;
}

} // namespace qnext::serve
