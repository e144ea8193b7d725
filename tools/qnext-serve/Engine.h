//===- Engine.h - continuous batching on a session's slots ------*- C++ -*-===//
//
// One thread owns the session (a session is used by one thread at a time)
// and runs steps: requests waiting for a slot join at a step's start; a
// step with requests joining runs the next prompt chunk of each (up to a
// token budget) and one decode step of every request that has a token to
// process, all in one call (qnext_session_prefill_batch); a step without
// runs one batched decode step (qnext_session_decode_batch); requests leave when they finish or their client
// goes away, and their slot is free for the next. The HTTP handlers submit
// requests and read each one's events (text, then its end) as they come.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TOOLS_QNEXT_SERVE_ENGINE_H
#define QNEXT_TOOLS_QNEXT_SERVE_ENGINE_H

#include "PrefixCache.h"

#include "qnext/Chat.h"
#include "qnext/Runtime.h"
#include "qnext/Sampler.h"
#include "qnext/Tokenizer.h"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace qnext::serve {

/// The index K of a batched call's refusal of one of its `count` parts
/// ("`what` K: reason", as qnext_session_decode_batch and _prefill_batch
/// name a refused row or sequence; nothing ran), with the reason; -1 for
/// any other failure.
long refusedPart(const std::string &why, const char *what, size_t count, std::string &reason);

/// One request: what the handler asks for, and what the engine reports.
class Job {
public:
  // Set by the handler before submitting.
  std::vector<int32_t> prompt;
  SamplingParams params;
  int64_t maxTokens = 16;
  std::vector<std::string> stops; ///< stop strings (not in the text returned)
  std::vector<std::pair<int32_t, float>> logitBias; ///< added before sampling
  int64_t thinkingBudget = -1; ///< tokens a think block may take (-1: no limit)
  int64_t turnEnd = 0;         ///< a snapshot when the prefill gets here (0: none)
  bool ignoreEos = false;      ///< the stop ids do not end the job

  /// What happened since the last call: new text (may be empty) and, once
  /// the job has ended, `finished` set with the reason ("stop", "length")
  /// or an error. Blocks until there is something new.
  struct Events {
    std::string text;
    bool finished = false;
    std::string finishReason, error;
  };
  Events wait();
  /// The client is gone: the engine frees the slot at its next step.
  void cancel() { cancelled = true; }
  int64_t completionTokens() const { return generatedCount.load(); }
  /// Prompt tokens not prefilled: resumed from the prefix cache.
  int64_t cachedTokens() const { return resumed.load(); }
  /// Tokens generated inside a think block.
  int64_t reasoningTokens() const { return reasoningCount.load(); }
  /// Every token sampled (read once the job has ended).
  const std::vector<int32_t> &sampled() const { return sampledIds; }

private:
  friend class Engine;
  void emit(const std::string &text);
  void end(const std::string &reason, const std::string &error = "");

  std::mutex mutex;
  std::condition_variable changed;
  std::string pendingText;
  bool ended = false;
  std::string reason, failure;
  std::atomic<bool> cancelled{false};
  std::atomic<int64_t> generatedCount{0};
  std::atomic<int64_t> resumed{0};
  std::atomic<int64_t> reasoningCount{0};
  std::vector<int32_t> sampledIds;

  // The engine's own (its thread only).
  int64_t slot = -1;
  size_t prefilled = 0;        ///< prompt tokens processed
  int32_t next = -1;           ///< chosen, not yet processed
  std::vector<int32_t> context; ///< every token processed, for the penalties
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StreamDecoder> decoder;
  std::unique_ptr<ThinkingBudget> budget;
  bool thinking = false; ///< inside a think block
  std::string text;            ///< generated so far (stop strings cut)
  size_t sent = 0;             ///< bytes of `text` emitted
};

struct EngineOptions {
  int64_t slots = 4;
  int64_t maxContext = 4096;
  int64_t prefillChunk = 256; ///< prompt tokens a step prefills at most
  /// With the batched prefill: the prompt tokens of all the joining
  /// requests one step prefills at most (each request's chunk at most
  /// prefillChunk; a first chunk always runs).
  int64_t batchTokens = 512;
  int64_t queue = 64;         ///< requests waiting for a slot at most
  int64_t sampledVocab = 0;   ///< choose among the first N logits (0: all)
  std::vector<int32_t> stopIds;
  int64_t cacheBytes = 0;  ///< the prefix cache's budget (0: no cache)
  int64_t cacheEvery = 0;  ///< a snapshot every N prompt tokens too (0: at ends only)
  /// <think> and </think> (-1: the tokenizer has none), and the tokens a
  /// thinking budget forces when it runs out (kStopThinkingText).
  int32_t thinkOpen = -1, thinkClose = -1;
  std::vector<int32_t> stopThinking;
  /// Speculative decoding with the MTP head: up to this many drafts when
  /// one request decodes alone (0: off; batched steps serve several).
  int64_t speculate = 0;
};

class Engine {
public:
  Engine(qnext_model *model, const Tokenizer &tokenizer, EngineOptions options);
  ~Engine();

  /// Creates the session and starts the thread; false with `error` set.
  bool start(std::string &error);
  /// Why a job is not taken.
  enum class Refusal { None, Full, Stopping };
  /// Queues `job` (a prompt of at least one token): a free slot takes it at
  /// the next step, else it waits, at most `queue` jobs beyond the free
  /// slots (Full: the caller answers 429); Stopping: the engine no longer
  /// takes jobs (503).
  Refusal submit(const std::shared_ptr<Job> &job);
  /// What a job submitted now would get (readiness).
  Refusal admits();
  /// Why the engine's thread ended on an error ("" while it runs).
  std::string failed();
  /// Stops taking requests, ends those in flight ("cancelled") and joins.
  void stop();
  /// Stops taking requests, lets those running or waiting finish for up to
  /// `graceSeconds` (or until `cutShort()`, asked every 10 ms, says so),
  /// then stop()s.
  void drain(double graceSeconds, const std::function<bool()> &cutShort);

  /// For /metrics and /health.
  struct Counters {
    int64_t requests = 0, promptTokens = 0, completionTokens = 0;
    int64_t waiting = 0, busySlots = 0, slots = 0;
    /// The prefix cache: requests that looked, those that resumed, the
    /// prompt tokens they did not prefill, snapshots kept and their bytes.
    int64_t cacheLookups = 0, cacheHits = 0, cachedTokens = 0;
    int64_t cacheEntries = 0, cacheBytes = 0, cacheBudget = 0;
    /// Speculative decoding: steps, drafts verified, drafts kept.
    int64_t speculativeSteps = 0, draftsProposed = 0, draftsAccepted = 0;
  };
  Counters counters();

private:
  bool warmUp(std::string &error);
  void run();
  void loop();
  void step();
  /// The step's end: the finished leave.
  void leave();
  /// stepSlots, stepIds and stepRows: the requests with a token to process.
  void decodeRows();
  /// After `job`'s chosen token ran: the next one chosen from `row` (its
  /// logits).
  void decoded(Job &job, float *row);
  /// The tokens of `job`'s prompt its next chunk prefills.
  int64_t chunkOf(const Job &job) const;
  /// After `n` more tokens of `job`'s prompt ran: snapshots, and the first
  /// token chosen from `row` (the last token's logits) once the prompt is in.
  void prefilled(Job &job, int64_t n, float *row);
  /// With the batched prefill: the joining requests' chunks and the decode
  /// steps of the others in one call; false when no request is joining
  /// (nothing ran).
  bool stepTogether();
  /// The token chosen from `logits` for `job`: emitted, and either kept for
  /// the next step or the job's end.
  void choose(Job &job, float *logits);
  /// choose()'s second half: `id` emitted, and either kept or the end
  /// (`position`: the slot's as a decode step would have left it; -1: the
  /// slot's now).
  void take(Job &job, int32_t id, int64_t position = -1);
  /// Whether `id` ends `job`'s reply (a stop id it does not ignore).
  bool stops(const Job &job, int32_t id) const;
  /// A speculative step of `job`, decoding alone: the head's drafts
  /// verified in one call; false when the job cannot speculate (a budget,
  /// a logit bias, one token left) and nothing ran.
  bool speculate(Job &job);
  void finish(Job &job, const std::string &reason, const std::string &error = "");
  /// A joining job resumes from the longest cached prefix of its prompt.
  void resume(Job &job);
  /// Keeps a snapshot of the job's sequence so far (with the logits of its
  /// last token when given).
  void save(Job &job, const float *lastLogits = nullptr);

  qnext_model *model;
  const Tokenizer &tokenizer;
  EngineOptions options;
  int64_t vocab = 0;
  bool batched = false; ///< the code has the batched decode entry
  bool batchedPrefill = false; ///< ... and the batched prefill entry
  qnext_session *session = nullptr;
  std::thread thread;

  std::mutex mutex; ///< guards the queue, `stopping` and the counters
  std::condition_variable wake;
  std::deque<std::shared_ptr<Job>> queue;
  bool stopping = false, draining = false;
  std::string failure; ///< why the engine's thread ended early
  std::mutex stopMutex;
  Counters totals;

  std::vector<std::shared_ptr<Job>> active; ///< the engine thread's
  PrefixCache cache;                        ///< the engine thread's
  std::vector<Job *> joining;               ///< joined this step: to resume
  std::vector<float> logits;
  /// A step's rows: its decode rows, or a batched prefill's parts (kept
  /// between steps: no allocation a step).
  std::vector<int64_t> stepSlots;
  std::vector<int32_t> stepIds;
  std::vector<Job *> stepRows;
  std::vector<int64_t> stepCounts; ///< a batched prefill's tokens per row
  /// A speculative step's rows of logits (speculate()).
  std::vector<float> speculateRows;
};

} // namespace qnext::serve

#endif // QNEXT_TOOLS_QNEXT_SERVE_ENGINE_H
