//===- Session.cpp - a model's code loaded, a session's calls checked ----===//
//
// The members of qnext_model and qnext_session (Session.h) that do the
// work: loading the code, and running a call on a slot's caches and states.
//
//===----------------------------------------------------------------------===//

#include "Session.h"

#include "CodeCheck.h"

using namespace qnext::runtime;

bool qnext_model::loadCode(char **error) {
  std::string why, record;
  const std::string &arch = artifact.gpuArch;
  // Read, not run, first: dlopen runs a library's initialisers.
  std::vector<std::string> entries = {"qnext_prefill", "qnext_decode"};
  if (artifact.hasTaps)
    entries.push_back("qnext_taps");
  if (artifact.hasDecodeBatch)
    entries.push_back("qnext_decode_batch");
  if (artifact.hasPrefillBatch)
    entries.push_back("qnext_prefill_batch");
  if (artifact.mtpHidden)
    entries.push_back("qnext_mtp");
  const qnext::artifact::Section &c = artifact.code();
  if (!checkCode(artifact.bytes(c), c.size, entries, record, why))
    return fail(error, why);
  if (std::string expected = qnext::artifact::abiRecord(artifact.abi()); record != expected)
    return fail(error, "the manifest does not describe its code: " +
                           firstDifference(record, expected));
  if (artifact.onDevice) {
    if (!qnext::cuda::initialize(why))
      return fail(error, "a CUDA artifact (" + arch + "): " + why);
    const qnext::artifact::Section &w = artifact.weights();
    deviceWeights = qnext::cuda::allocate(w.size, why);
    if (!deviceWeights || !qnext::cuda::upload(deviceWeights, artifact.bytes(w), w.size, why))
      return fail(error, "uploading the weights: " + why);
  }
  if (!code.load(artifact.bytes(c), c.size, why))
    return fail(error, why);
  if (std::string failure = artifact.onDevice ? qnext::cuda::takeFailure() : "";
      !failure.empty()) {
    std::string capability = qnext::cuda::computeCapability();
    return fail(error, "a CUDA artifact (" + arch + ") on a GPU of compute capability " +
                           (capability.empty() ? "unknown" : capability) +
                           ": loading its kernels: " + failure);
  }
  prefill = reinterpret_cast<Entry>(code.symbol("qnext_prefill"));
  decode = reinterpret_cast<Entry>(code.symbol("qnext_decode"));
  if (!prefill || !decode)
    return fail(error, "the code has no qnext_prefill / qnext_decode entry");
  if (artifact.hasTaps) {
    taps = reinterpret_cast<Entry>(code.symbol("qnext_taps"));
    if (!taps)
      return fail(error, "the code has no qnext_taps entry");
    tapRows = artifact.tapRows;
    hiddenSize = artifact.tapHidden;
  }
  if (artifact.hasDecodeBatch) {
    decodeBatch = reinterpret_cast<Entry>(code.symbol("qnext_decode_batch"));
    if (!decodeBatch)
      return fail(error, "the code has no qnext_decode_batch entry");
  }
  if (artifact.hasPrefillBatch) {
    prefillBatch = reinterpret_cast<Entry>(code.symbol("qnext_prefill_batch"));
    if (!prefillBatch)
      return fail(error, "the code has no qnext_prefill_batch entry");
  }
  if (artifact.mtpHidden) {
    mtp = reinterpret_cast<Entry>(code.symbol("qnext_mtp"));
    if (!mtp)
      return fail(error, "the code has no qnext_mtp entry");
  }
  setThreads = reinterpret_cast<void (*)(int32_t)>(code.symbol("qnext_set_num_threads"));
  maxThreads = reinterpret_cast<int32_t (*)()>(code.symbol("qnext_max_threads"));
  profile.attach(code);
  return true;
}

int qnext_session::run(Entry entry, int64_t slot, const int32_t *ids, int64_t n,
                       int64_t rows, float *logits, char **error, float *taps) {
  if (!check(slot, error))
    return 1;
  Slot &s = slots[size_t(slot)];
  const int64_t vocab = model->artifact.vocab;
  if (n <= 0) {
    setError(error, "no tokens to process");
    return 1;
  }
  if (n > capacity - s.position) {
    setError(error, "context full: " + std::to_string(s.position) + " + " +
                        std::to_string(n) + " tokens exceed the session's " +
                        std::to_string(capacity) + " (--max-context)");
    return 1;
  }
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= vocab) {
      setError(error, "token id " + std::to_string(ids[i]) + " (index " +
                          std::to_string(i) + ") is outside the vocabulary [0, " +
                          std::to_string(vocab) + ")");
      return 1;
    }
  // Tokens kept from a verify call whose states are not computed yet run
  // first, in this call (the taps want every row: those run alone).
  if (taps && !s.replay.empty() && flush(slot, error))
    return 1;
  std::vector<int32_t> merged;
  const int64_t replayed = int64_t(s.replay.size());
  if (replayed) {
    merged = s.replay;
    merged.insert(merged.end(), ids, ids + n);
    ids = merged.data();
    if (entry == model->decode)
      entry = model->prefill;
  }
  const int64_t total = replayed + n, from = s.position - replayed;
  std::vector<int32_t> positions(static_cast<size_t>(total));
  for (int64_t i = 0; i < total; ++i)
    positions[size_t(i)] = int32_t(from + i);
  Call call;
  call.entry = entry;
  call.slot = slot;
  call.isPrefill = entry == model->prefill || entry == model->taps;
  call.isDecode = entry == model->decode;
  call.ids = ids;
  call.positions = positions.data();
  call.n = total;
  call.rows = rows;
  call.past = from;
  call.logits = logits;
  call.taps = taps;
  call.tapRows = model->tapRows;
  call.hiddenSize = model->hiddenSize;
  const int64_t width = model->artifact.mtpHidden;
  call.mtpHidden = taps ? 0 : width;
  // The rows the MTP head will read, written where they wait (those of
  // replayed tokens wait already: theirs are dropped after the call).
  const size_t waiting = s.pending.size();
  const bool keepRows = trackMTP && !taps;
  if (keepRows) {
    s.pending.resize(waiting + size_t(total * width));
    call.hiddenOut = s.pending.data() + waiting;
  }
  std::string why;
  if (!executor->run(call, why)) {
    if (keepRows)
      s.pending.resize(waiting);
    setError(error, why);
    return 1;
  }
  if (trackMTP && taps) { // rows the head cannot have: it starts after them
    forgetMTP(s, s.position + n);
  } else if (keepRows) {
    s.pending.erase(s.pending.begin() + long(waiting),
                    s.pending.begin() + long(waiting + size_t(replayed * width)));
    s.pendingIds.insert(s.pendingIds.end(), ids + replayed, ids + total);
    trimMTP(s, width);
  }
  s.replay.clear();
  s.position += n;
  // A verify call's undo is for the call right after it (the verify holds
  // it again after this).
  s.checkpoint.held = false;
  return 0;
}

int qnext_session::flush(int64_t slot, char **error) {
  Slot &s = slots[size_t(slot)];
  if (s.replay.empty())
    return 0;
  std::vector<int32_t> tokens = std::move(s.replay);
  s.replay.clear();
  s.position -= int64_t(tokens.size());
  // Their hidden rows wait already: the MTP head's progress stays.
  std::vector<float> pending = s.pending;
  std::vector<int32_t> pendingIds = s.pendingIds;
  const int64_t mtpPosition = s.mtpPosition;
  if (run(model->prefill, slot, tokens.data(), int64_t(tokens.size()), 1, nullptr, error)) {
    // Nothing ran: the kept tokens wait still.
    s.position += int64_t(tokens.size());
    s.replay = std::move(tokens);
    s.pending = std::move(pending);
    s.pendingIds = std::move(pendingIds);
    s.mtpPosition = mtpPosition;
    return 1;
  }
  s.pending = std::move(pending);
  s.pendingIds = std::move(pendingIds);
  s.mtpPosition = mtpPosition;
  return 0;
}

int qnext_session::decodeBatch(const int64_t *rowSlots, const int32_t *ids, int64_t n,
                               float *logits, char **error) {
  if (n <= 0) {
    setError(error, "a batched decode step needs at least one row, got " +
                        std::to_string(n));
    return 1;
  }
  if (!rowSlots || !ids) {
    setError(error, "a batched decode step of " + std::to_string(n) + " rows: no " +
                        (rowSlots ? "token ids" : "slots"));
    return 1;
  }
  if (n == 1) { // the decode entry; its refusal names the row too
    char *why = nullptr;
    if (!run(model->decode, rowSlots[0], ids, 1, 1, logits, &why))
      return 0;
    setError(error, std::string("row 0: ") + (why ? why : "decode failed"));
    std::free(why);
    return 1;
  }
  if (!model->decodeBatch) {
    setError(error, model->artifact.path() +
                        ": the artifact has no batched decode entry point (CPU artifacts "
                        "compiled before it existed or with --decode-batch=false have "
                        "none, nor do CUDA artifacts yet)");
    return 1;
  }
  if (n > int64_t(slots.size())) {
    setError(error, "a batch of " + std::to_string(n) + " rows, more than the session's " +
                        std::to_string(slots.size()) + " slots");
    return 1;
  }
  const int64_t vocab = model->artifact.vocab;
  std::vector<bool> seen(slots.size(), false);
  std::vector<int32_t> slot32(static_cast<size_t>(n)), positions(static_cast<size_t>(n));
  // A refused row: its line, nothing run.
  auto refuse = [&](int64_t i, const std::string &why) {
    setError(error, "row " + std::to_string(i) + ": " + why);
    return 1;
  };
  for (int64_t i = 0; i < n; ++i) {
    if (std::string why = problemWith(rowSlots[i]); !why.empty())
      return refuse(i, why);
    if (seen[size_t(rowSlots[i])])
      return refuse(i, "slot " + std::to_string(rowSlots[i]) +
                           " appears twice in the batch (one token per sequence a step)");
    seen[size_t(rowSlots[i])] = true;
    const int64_t position = slots[size_t(rowSlots[i])].position;
    if (position >= capacity)
      return refuse(i, "context full: slot " + std::to_string(rowSlots[i]) + " holds " +
                           std::to_string(position) + " tokens, the session's " +
                           std::to_string(capacity) + " (--max-context)");
    if (ids[i] < 0 || ids[i] >= vocab)
      return refuse(i, "token id " + std::to_string(ids[i]) +
                           " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    slot32[size_t(i)] = int32_t(rowSlots[i]);
    positions[size_t(i)] = int32_t(position);
  }
  Call call;
  call.entry = model->decodeBatch;
  call.positions = positions.data();
  call.slots = slot32.data();
  call.n = n;
  call.logits = logits;
  return runBatch(call, rowSlots, nullptr, ids, n, error);
}

int qnext_session::runBatch(Call &call, const int64_t *partSlots, const int64_t *counts,
                            const int32_t *ids, int64_t n, char **error) {
  // A slot with kept tokens not yet run: those first, alone.
  for (int64_t i = 0; i < n; ++i)
    if (!slots[size_t(partSlots[i])].replay.empty() && flush(partSlots[i], error))
      return 1;
  call.isBatch = true;
  call.ids = ids;
  call.rows = n;
  const int64_t width = model->artifact.mtpHidden;
  std::vector<float> &hidden = batchHidden; // kept between steps
  hidden.resize(trackMTP ? size_t(call.n * width) : 0);
  call.mtpHidden = width;
  call.hiddenOut = trackMTP ? hidden.data() : nullptr;
  std::string why;
  if (!executor->run(call, why)) {
    setError(error, why);
    return 1;
  }
  for (int64_t i = 0, row = 0; i < n; ++i) {
    const int64_t count = counts ? counts[i] : 1;
    Slot &s = slots[size_t(partSlots[i])];
    s.position += count;
    s.checkpoint.held = false;
    if (trackMTP) {
      s.pending.insert(s.pending.end(), hidden.begin() + row * width,
                       hidden.begin() + (row + count) * width);
      s.pendingIds.insert(s.pendingIds.end(), ids + row, ids + row + count);
      trimMTP(s, width);
    }
    row += count;
  }
  return 0;
}

/// A batched prefill's tokens at most, when the session's context is less.
constexpr int64_t kMostPrefillBatchTokens = 8192;

int qnext_session::prefillBatch(const int64_t *seqSlots, const int64_t *counts,
                                const int32_t *ids, int64_t n, float *logits, char **error) {
  if (n <= 0) {
    setError(error, "a batched prefill needs at least one sequence, got " + std::to_string(n));
    return 1;
  }
  if (!seqSlots || !counts || !ids) {
    setError(error, "a batched prefill of " + std::to_string(n) + " sequences: no " +
                        (!seqSlots ? "slots" : !counts ? "token counts" : "token ids"));
    return 1;
  }
  if (n == 1) { // the prefill entry; its refusal names the sequence too
    if (counts[0] < 1) {
      setError(error, "sequence 0: no tokens (" + std::to_string(counts[0]) + ")");
      return 1;
    }
    char *why = nullptr;
    if (!run(model->prefill, seqSlots[0], ids, counts[0], 1, logits, &why))
      return 0;
    setError(error, std::string("sequence 0: ") + (why ? why : "prefill failed"));
    std::free(why);
    return 1;
  }
  if (!model->prefillBatch) {
    setError(error, model->artifact.path() +
                        ": the artifact has no batched prefill entry point (CPU artifacts "
                        "compiled before it existed or with --prefill-batch=false have "
                        "none, nor do CUDA artifacts yet)");
    return 1;
  }
  if (n > int64_t(slots.size())) {
    setError(error, "a batch of " + std::to_string(n) + " sequences, more than the session's " +
                        std::to_string(slots.size()) + " slots");
    return 1;
  }
  const int64_t vocab = model->artifact.vocab;
  std::vector<bool> seen(slots.size(), false);
  std::vector<int32_t> slot32(static_cast<size_t>(n)), ends(static_cast<size_t>(n)), positions;
  auto refuse = [&](int64_t i, const std::string &why) {
    setError(error, "sequence " + std::to_string(i) + ": " + why);
    return 1;
  };
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (std::string why = problemWith(seqSlots[i]); !why.empty())
      return refuse(i, why);
    if (seen[size_t(seqSlots[i])])
      return refuse(i, "slot " + std::to_string(seqSlots[i]) +
                           " appears twice in the batch (one run of tokens per sequence)");
    seen[size_t(seqSlots[i])] = true;
    if (counts[i] < 1)
      return refuse(i, "no tokens (" + std::to_string(counts[i]) + ")");
    const Slot &s = slots[size_t(seqSlots[i])];
    // Tokens kept from a verify call run first, alone (flush below).
    const int64_t position = s.position;
    if (counts[i] > capacity - position)
      return refuse(i, "context full: slot " + std::to_string(seqSlots[i]) + " holds " +
                           std::to_string(position) + " + " + std::to_string(counts[i]) +
                           " tokens, more than the session's " + std::to_string(capacity) +
                           " (--max-context)");
    for (int64_t t = 0; t < counts[i]; ++t)
      if (ids[total + t] < 0 || ids[total + t] >= vocab)
        return refuse(i, "token id " + std::to_string(ids[total + t]) + " (index " +
                             std::to_string(t) + ") is outside the vocabulary [0, " +
                             std::to_string(vocab) + ")");
    total += counts[i];
    if (total > kMostPrefillBatchTokens && total > capacity)
      return refuse(i, "the call's runs come to " + std::to_string(total) +
                           " tokens so far, more than a batched prefill takes (the "
                           "session's " + std::to_string(capacity) + " or " +
                           std::to_string(kMostPrefillBatchTokens) + ", the larger)");
    slot32[size_t(i)] = int32_t(seqSlots[i]);
    ends[size_t(i)] = int32_t(total);
  }
  positions.resize(size_t(total));
  for (int64_t i = 0, row = 0; i < n; ++i)
    for (int64_t t = 0; t < counts[i]; ++t)
      positions[size_t(row++)] = int32_t(slots[size_t(seqSlots[i])].position + t);
  Call call;
  call.entry = model->prefillBatch;
  call.positions = positions.data();
  call.slots = slot32.data();
  call.ends = ends.data();
  call.sequences = n;
  call.n = total;
  call.logits = logits;
  return runBatch(call, seqSlots, counts, ids, n, error);
}
