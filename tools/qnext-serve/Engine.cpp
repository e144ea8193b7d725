//===- Engine.cpp - continuous batching on a session's slots --------------===//
//
// The engine's life: requests submitted and queued, the thread and its
// loop, requests joining (from the prefix cache), saved and finished. A
// step's work is in Step.cpp.
//
//===----------------------------------------------------------------------===//

#include "Engine.h"

#include <algorithm>
#include <chrono>
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
  batchedPrefill = qnext_model_has_prefill_batch(model) != 0;
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
