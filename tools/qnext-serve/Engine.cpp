//===- Engine.cpp - continuous batching on a session's slots --------------===//

#include "Engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <exception>

namespace qnext::serve {

Job::Events Job::wait() {
  std::unique_lock<std::mutex> lock(mutex);
  changed.wait(lock, [&] { return ended || !pendingText.empty(); });
  Events events;
  events.text.swap(pendingText);
  events.finished = ended;
  events.finishReason = reason;
  events.error = failure;
  return events;
}

void Job::emit(const std::string &piece) {
  if (piece.empty())
    return;
  std::lock_guard<std::mutex> lock(mutex);
  pendingText += piece;
  changed.notify_all();
}

void Job::end(const std::string &why, const std::string &error) {
  std::lock_guard<std::mutex> lock(mutex);
  if (ended)
    return;
  ended = true;
  reason = why;
  failure = error;
  changed.notify_all();
}

Engine::Engine(qnext_model *model, const Tokenizer &tokenizer, EngineOptions options)
    : model(model), tokenizer(tokenizer), options(std::move(options)),
      cache(this->options.cacheBytes) {}

Engine::~Engine() {
  stop();
  if (session)
    qnext_session_destroy(session);
}

bool Engine::start(std::string &error) {
  vocab = qnext_model_vocab_size(model);
  batched = qnext_model_has_decode_batch(model) != 0;
  if (options.sampledVocab <= 0 || options.sampledVocab > vocab)
    options.sampledVocab = vocab;
  char *message = nullptr;
  session = qnext_session_create_slots(model, options.maxContext, options.slots, &message);
  if (!session) {
    error = message ? message : "cannot create the session";
    qnext_free_error(message);
    return false;
  }
  logits.resize(size_t(options.slots * vocab));
  if (options.speculate && qnext_session_enable_mtp(session, &message)) {
    error = message ? message : "cannot keep the MTP head's rows";
    qnext_free_error(message);
    return false;
  }
  // A first step before the first request, so that it does not pay for
  // reading the mapped weights in from the file (and starting threads).
  if (!warmUp(error))
    return false;
  totals.slots = options.slots;
  totals.cacheBudget = options.cacheBytes;
  thread = std::thread([this] { run(); });
  return true;
}

bool Engine::warmUp(std::string &error) {
  // One token of prefill and, where the code has the batched entry, a
  // batched step of two rows (else a decode step).
  const bool batch = options.slots >= 2 && batched;
  char *message = nullptr;
  std::vector<int64_t> slots;
  bool ok = true;
  for (int64_t i = 0; ok && i < (batch ? 2 : 1); ++i) {
    slots.push_back(qnext_slot_acquire(session, &message));
    ok = slots.back() >= 0;
  }
  const int32_t id = 0;
  std::vector<int32_t> ids(slots.size(), id);
  for (size_t i = 0; ok && i < slots.size(); ++i)
    ok = qnext_slot_prefill_last(session, slots[i], &id, 1, nullptr, &message) == 0;
  if (ok)
    ok = batch ? qnext_session_decode_batch(session, slots.data(), ids.data(), 2,
                                            logits.data(), &message) == 0
               : qnext_slot_decode(session, slots[0], id, logits.data(), &message) == 0;
  for (int64_t slot : slots)
    if (slot >= 0)
      qnext_slot_release(session, slot, nullptr);
  if (!ok) {
    error = std::string("warming up: ") + (message ? message : "the first step failed");
    qnext_free_error(message);
  }
  return ok;
}

Engine::Refusal Engine::submit(const std::shared_ptr<Job> &job) {
  if (job->prompt.empty() || job->maxTokens < 1) {
    job->end("error", "a request needs a prompt of at least one token");
    return Refusal::None;
  }
  std::lock_guard<std::mutex> lock(mutex);
  if (stopping || draining)
    return Refusal::Stopping;
  const int64_t free = options.slots - totals.busySlots;
  if (int64_t(queue.size()) >= options.queue + std::max<int64_t>(free, 0))
    return Refusal::Full;
  queue.push_back(job);
  ++totals.requests;
  totals.promptTokens += int64_t(job->prompt.size());
  wake.notify_one();
  return Refusal::None;
}

Engine::Refusal Engine::admits() {
  std::lock_guard<std::mutex> lock(mutex);
  if (stopping || draining)
    return Refusal::Stopping;
  const int64_t free = options.slots - totals.busySlots;
  return int64_t(queue.size()) >= options.queue + std::max<int64_t>(free, 0) ? Refusal::Full
                                                                              : Refusal::None;
}

void Engine::drain(double graceSeconds, const std::function<bool()> &cutShort) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration<double>(std::max(graceSeconds, 0.0));
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(mutex);
      draining = true;
      if (stopping || (queue.empty() && totals.busySlots == 0))
        break;
    }
    if (std::chrono::steady_clock::now() >= until || cutShort())
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stop();
}

std::string Engine::failed() {
  std::lock_guard<std::mutex> lock(mutex);
  return failure;
}

void Engine::stop() {
  std::lock_guard<std::mutex> joining(stopMutex); // one joiner at a time
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (stopping && !thread.joinable())
      return;
    stopping = true;
    wake.notify_one();
  }
  if (thread.joinable())
    thread.join();
}

Engine::Counters Engine::counters() {
  std::lock_guard<std::mutex> lock(mutex);
  Counters c = totals;
  c.waiting = int64_t(queue.size());
  return c;
}

void Engine::run() {
  // Nothing the engine throws (out of memory) may take the process down
  // with requests waiting: they end with the error.
  try {
    loop();
  } catch (const std::exception &e) {
    std::lock_guard<std::mutex> lock(mutex);
    stopping = true;
    failure = std::string("the engine failed: ") + e.what();
    for (const std::shared_ptr<Job> &job : queue)
      job->end("error", std::string("the server failed: ") + e.what());
    queue.clear();
    for (const std::shared_ptr<Job> &job : active)
      job->end("error", std::string("the server failed: ") + e.what());
    active.clear();
  }
}

void Engine::loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      wake.wait(lock, [&] { return stopping || !queue.empty() || !active.empty(); });
      if (stopping) {
        for (const std::shared_ptr<Job> &job : queue)
          job->end("cancelled", "the server is stopping");
        queue.clear();
        break;
      }
      // Requests join at the step's start, while slots are free.
      while (!queue.empty() && int64_t(active.size()) < options.slots) {
        std::shared_ptr<Job> job = queue.front();
        queue.pop_front();
        active.push_back(job); // (ended by run() should anything below throw)
        char *message = nullptr;
        job->slot = qnext_slot_acquire(session, &message);
        if (job->slot < 0) {
          active.pop_back();
          job->end("error", message ? message : "no free slot");
          qnext_free_error(message);
          continue;
        }
        job->sampler = std::make_unique<Sampler>(job->params);
        job->decoder = std::make_unique<StreamDecoder>(tokenizer);
        if (job->thinkingBudget >= 0 && options.thinkOpen >= 0) {
          job->budget = std::make_unique<ThinkingBudget>(
              job->thinkingBudget, options.thinkOpen, options.thinkClose, options.stopThinking);
          job->budget->observePrompt(job->prompt);
        }
        for (int32_t id : job->prompt)
          if (id == options.thinkOpen || id == options.thinkClose)
            job->thinking = id == options.thinkOpen;
        joining.push_back(job.get());
      }
      totals.busySlots = int64_t(active.size());
    }
    for (Job *job : joining)
      resume(*job);
    joining.clear();
    step();
  }
  for (const std::shared_ptr<Job> &job : active)
    finish(*job, "cancelled", "the server is stopping");
  active.clear();
}

void Engine::step() {
  // Clients gone: their slots are freed now.
  for (const std::shared_ptr<Job> &job : active)
    if (job->cancelled)
      finish(*job, "cancelled");
  // One chunk of one joining request's prompt (the first to have joined),
  // so that a long prompt does not hold the running streams up for long.
  for (const std::shared_ptr<Job> &job : active) {
    if (job->slot < 0 || job->prefilled == job->prompt.size())
      continue;
    int64_t n = std::min<int64_t>(options.prefillChunk,
                                  int64_t(job->prompt.size() - job->prefilled));
    // Chunks end on the snapshots' boundaries.
    if (options.cacheEvery > 0)
      n = std::min<int64_t>(n, options.cacheEvery - int64_t(job->prefilled) % options.cacheEvery);
    if (int64_t(job->prefilled) < job->turnEnd)
      n = std::min<int64_t>(n, job->turnEnd - int64_t(job->prefilled));
    const bool last = job->prefilled + size_t(n) == job->prompt.size();
    char *message = nullptr;
    if (qnext_slot_prefill_last(session, job->slot, job->prompt.data() + job->prefilled, n,
                                last ? logits.data() : nullptr, &message)) {
      finish(*job, "error", message ? message : "prefill failed");
      qnext_free_error(message);
      break;
    }
    job->context.insert(job->context.end(), job->prompt.begin() + long(job->prefilled),
                        job->prompt.begin() + long(job->prefilled) + n);
    job->prefilled += size_t(n);
    // Speculating: the MTP head's cache follows the prompt (its rows whose
    // next token is known), so that its drafts see all of it.
    if (options.speculate &&
        qnext_slot_mtp(session, job->slot, last ? -1 : job->prompt[job->prefilled], nullptr,
                       0, &message)) {
      finish(*job, "error", message ? message : "the MTP head failed");
      qnext_free_error(message);
      break;
    }
    if (last) {
      // (A chat has its snapshot where its last turn ends, a few tokens
      // back: one more here would double what each chat keeps.)
      if (job->turnEnd == 0)
        save(*job, logits.data());
      choose(*job, logits.data());
    } else if ((options.cacheEvery > 0 && int64_t(job->prefilled) % options.cacheEvery == 0) ||
               int64_t(job->prefilled) == job->turnEnd) {
      save(*job);
    }
    break;
  }
  // One decode step of every request with a token to process.
  std::vector<int64_t> &slots = stepSlots;
  std::vector<int32_t> &ids = stepIds;
  std::vector<Job *> &rows = stepRows;
  slots.clear();
  ids.clear();
  rows.clear();
  for (const std::shared_ptr<Job> &job : active)
    if (job->slot >= 0 && job->next >= 0) {
      slots.push_back(job->slot);
      ids.push_back(job->next);
      rows.push_back(job.get());
    }
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
    rows[r]->context.push_back(rows[r]->next);
    rows[r]->next = -1;
    choose(*rows[r], logits.data());
  }
  while (batched && !rows.empty()) {
    char *message = nullptr;
    if (qnext_session_decode_batch(session, slots.data(), ids.data(), int64_t(rows.size()),
                                   logits.data(), &message) == 0) {
      for (size_t r = 0; r < rows.size(); ++r) {
        rows[r]->context.push_back(rows[r]->next);
        rows[r]->next = -1;
        choose(*rows[r], logits.data() + r * size_t(vocab));
      }
      break;
    }
    std::string why = message ? message : "decode failed";
    qnext_free_error(message);
    // A refused row ("row K: ...", nothing ran) fails its own request; the
    // others run without it. Any other failure fails them all.
    size_t row = 0;
    int used = 0;
    if (why.rfind("row ", 0) == 0 && std::sscanf(why.c_str(), "row %zu:%n", &row, &used) == 1 &&
        used > 0 && row < rows.size()) {
      finish(*rows[row], "error", why.substr(why.find(": ") + 2));
      rows.erase(rows.begin() + long(row));
      slots.erase(slots.begin() + long(row));
      ids.erase(ids.begin() + long(row));
      continue;
    }
    for (Job *job : rows)
      finish(*job, "error", why);
    break;
  }
  // The finished leave.
  std::lock_guard<std::mutex> lock(mutex);
  active.erase(std::remove_if(active.begin(), active.end(),
                              [](const std::shared_ptr<Job> &j) { return j->slot < 0; }),
               active.end());
  totals.busySlots = int64_t(active.size());
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

void Engine::resume(Job &job) {
  if (options.cacheBytes <= 0)
    return;
  const PrefixCache::Entry *entry = cache.find(job.prompt);
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++totals.cacheLookups;
  }
  if (!entry)
    return;
  char *message = nullptr;
  if (qnext_slot_restore(session, job.slot, entry->snapshot.data(),
                         int64_t(entry->snapshot.size()), &message)) {
    std::string why = message ? message : "restoring a snapshot failed";
    qnext_free_error(message);
    finish(job, "error", "the prefix cache: " + why);
    return;
  }
  const int64_t resumed = int64_t(entry->tokens.size());
  job.prefilled = size_t(resumed);
  job.context = entry->tokens;
  job.resumed = resumed;
  {
    std::lock_guard<std::mutex> lock(mutex);
    ++totals.cacheHits;
    totals.cachedTokens += resumed;
  }
  // The whole prompt: its first token is chosen now (which may end the job
  // and save it: `entry` is not used after).
  if (job.prefilled == job.prompt.size()) {
    std::vector<float> row = entry->logits;
    choose(job, row.data());
  }
}

void Engine::save(Job &job, const float *lastLogits) {
  if (options.cacheBytes <= 0 || job.context.empty() ||
      cache.touch(job.context, lastLogits != nullptr))
    return;
  const int64_t bytes =
      qnext_snapshot_size(session, qnext_slot_position(session, job.slot));
  if (bytes < 0 || !cache.fits(bytes))
    return;
  PrefixCache::Entry entry;
  entry.tokens = job.context;
  entry.snapshot.resize(size_t(bytes));
  if (qnext_slot_save(session, job.slot, entry.snapshot.data(), bytes, nullptr))
    return; // (not kept: the request itself is unaffected)
  if (lastLogits)
    entry.logits.assign(lastLogits, lastLogits + vocab);
  cache.insert(std::move(entry));
  std::lock_guard<std::mutex> lock(mutex);
  totals.cacheEntries = cache.entries();
  totals.cacheBytes = cache.bytes();
}

void Engine::finish(Job &job, const std::string &reason, const std::string &error) {
  if (job.slot < 0)
    return;
  // What ran is kept for the next turn, unless it failed or the server is
  // going away.
  if (error.empty())
    save(job);
  if (job.sent < job.text.size())
    job.emit(job.text.substr(job.sent));
  job.sent = job.text.size();
  qnext_slot_release(session, job.slot, nullptr);
  job.slot = -1;
  job.next = -1;
  {
    // Free before the client hears of the end (it may send the next
    // request at once); the step's end drops the job from `active`.
    std::lock_guard<std::mutex> lock(mutex);
    totals.busySlots = std::max<int64_t>(totals.busySlots - 1, 0);
  }
  job.end(reason, error);
}

} // namespace qnext::serve
