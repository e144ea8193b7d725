//===- MTP.cpp - the MTP head, drafts, verify and exact rollback ----------===//
//
// The C API of speculative decoding (Runtime.h). The MTP head's entry
// point reads the main model's hidden rows after its final norm, which
// every other call returns while the session tracks them; each slot keeps
// the rows the head has not read yet. A verify call runs the last accepted
// token and the drafts as one short prompt (the weights read once) after
// saving the slot's recurrent states (the DeltaNet conv and recurrent
// states: the attention caches need no copy, their rows past a position
// are never read); keeping fewer tokens than it ran restores them, and the
// slot's next call runs the kept tokens again before its own (one weight
// read for both), so the states are exactly those of the accepted prefix.
//
//===----------------------------------------------------------------------===//

#include "Session.h"

#include <algorithm>

using namespace qnext::runtime;

namespace {
using Slot = qnext_session::Slot;

std::string noHead(const qnext_session *session) {
  return session->model->artifact.path() +
         ": the artifact has no MTP head (its checkpoint had no mtp.* tensors, or it was "
         "compiled with --mtp=off)";
}

bool needsMTP(const qnext_session *session, char **error) {
  if (!session->model->mtp) {
    setError(error, noHead(session));
    return false;
  }
  if (!session->trackMTP) {
    setError(error, "the session does not keep the MTP head's rows "
                    "(qnext_session_enable_mtp first)");
    return false;
  }
  return true;
}

/// The head on n rows at positions [past, past + n): `nextIds[i]` with
/// hidden row i; logits of the last `rows` rows, its own hidden rows to
/// `hiddenOut` (n rows, or null).
bool runHead(qnext_session *session, int64_t slot, const int32_t *nextIds,
             const float *hidden, int64_t n, int64_t past, int64_t rows, float *logits,
             float *hiddenOut, char **error) {
  const int64_t vocab = session->model->artifact.vocab;
  if (past + n > session->capacity) {
    setError(error, "context full: the MTP head's rows " + std::to_string(past) + " + " +
                        std::to_string(n) + " exceed the session's " +
                        std::to_string(session->capacity) + " (--max-context)");
    return false;
  }
  for (int64_t i = 0; i < n; ++i)
    if (nextIds[i] < 0 || nextIds[i] >= vocab) {
      setError(error, "token id " + std::to_string(nextIds[i]) +
                          " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
      return false;
    }
  std::vector<int32_t> positions(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    positions[size_t(i)] = int32_t(past + i);
  Call call;
  call.entry = session->model->mtp;
  call.slot = slot;
  call.isPrefill = true;
  call.isMTP = true;
  call.ids = nextIds;
  call.positions = positions.data();
  call.n = n;
  call.rows = rows;
  call.past = past;
  call.logits = logits;
  call.hiddenIn = hidden;
  call.hiddenOut = hiddenOut;
  call.mtpHidden = session->model->artifact.mtpHidden;
  std::string why;
  if (!session->executor->run(call, why)) {
    setError(error, why);
    return false;
  }
  return true;
}

/// The head on `slot`'s waiting rows, `next` being the token after the last
/// processed one (< 0: not known, the last row keeps waiting): the logits
/// of every row it runs (`allRows`) or of its last, its own hidden rows to
/// `hiddenOut` (or null). The rows it runs wait no more. False with
/// `error` set when none can run (`next` < 0: none is not an error, and
/// `ran` is 0).
bool runWaiting(qnext_session *session, int64_t slot, int32_t next, bool allRows,
                float *logits, float *hiddenOut, int64_t &ran, char **error) {
  Slot &s = session->slots[size_t(slot)];
  const int64_t n = s.position - s.mtpPosition - (next < 0 ? 1 : 0);
  ran = 0;
  if (n <= 0) {
    if (next < 0)
      return true;
    setError(error, "slot " + std::to_string(slot) +
                        ": no hidden rows wait for the MTP head (run the main model first)");
    return false;
  }
  // Row i's next token is that of row i + 1, the last's `next`.
  std::vector<int32_t> nextIds(s.pendingIds.begin() + 1,
                               s.pendingIds.begin() + (next < 0 ? n + 1 : n));
  if (next >= 0)
    nextIds.push_back(next);
  if (!runHead(session, slot, nextIds.data(), s.pending.data(), n, s.mtpPosition,
               allRows ? n : 1, logits, hiddenOut, error))
    return false;
  const size_t width = size_t(session->model->artifact.mtpHidden);
  s.mtpPosition += n;
  s.pending.erase(s.pending.begin(), s.pending.begin() + n * width);
  s.pendingIds.erase(s.pendingIds.begin(), s.pendingIds.begin() + n);
  ran = n;
  return true;
}

/// The states a verify saves: those without a capacity dimension.
bool isRecurrent(const std::vector<int64_t> &shape) {
  return std::find(shape.begin(), shape.end(), -1) == shape.end();
}

uint64_t elements(const std::vector<int64_t> &shape) {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= uint64_t(d);
  return n;
}

int32_t argmax(const float *row, int64_t n) {
  return int32_t(std::max_element(row, row + n) - row);
}
} // namespace

extern "C" {

int qnext_model_has_mtp(const qnext_model *model) { return model->mtp != nullptr; }

int qnext_session_enable_mtp(qnext_session *session, char **error) {
  if (!session->model->mtp) {
    setError(error, noHead(session));
    return 1;
  }
  if (!session->trackMTP)
    for (Slot &s : session->slots) // the head starts where each slot is
      qnext_session::forgetMTP(s, s.position);
  session->trackMTP = true;
  return 0;
}

int64_t qnext_slot_mtp_pending(const qnext_session *session, int64_t slot) {
  if (!session->trackMTP || !session->problemWith(slot).empty())
    return -1;
  const Slot &s = session->slots[size_t(slot)];
  return s.position - s.mtpPosition;
}

int qnext_slot_mtp(qnext_session *session, int64_t slot, int32_t next, float *logits,
                   int allRows, char **error) {
  if (!needsMTP(session, error) || !session->check(slot, error))
    return 1;
  int64_t ran = 0;
  return runWaiting(session, slot, next, allRows != 0, logits, nullptr, ran, error) ? 0 : 1;
}

int qnext_slot_draft(qnext_session *session, int64_t slot, int32_t next, int64_t k,
                     int32_t *drafts, char **error) {
  if (!needsMTP(session, error) || !session->check(slot, error))
    return 1;
  if (k < 1 || !drafts) {
    setError(error, "drafts: k must be at least 1 (got " + std::to_string(k) + ")" +
                        (drafts ? "" : " with an output buffer"));
    return 1;
  }
  Slot &s = session->slots[size_t(slot)];
  // Its rows after the waiting ones are at positions position .. + k - 2.
  if (k - 1 > session->capacity - s.position) {
    setError(error, "context full: " + std::to_string(k) + " drafts after " +
                        std::to_string(s.position) + " tokens exceed the session's " +
                        std::to_string(session->capacity) + " (--max-context)");
    return 1;
  }
  const int64_t vocab = session->model->artifact.vocab;
  const int64_t width = session->model->artifact.mtpHidden;
  // The session's buffers: no allocation a step once they have grown.
  std::vector<float> &logits = session->headLogits, &hidden = session->headHidden;
  logits.resize(size_t(vocab));
  hidden.resize(size_t((s.position - s.mtpPosition + 1) * width));
  // The waiting rows, the last with `next`: the first draft.
  int64_t ran = 0;
  if (!runWaiting(session, slot, next, false, logits.data(), hidden.data(), ran, error))
    return 1;
  drafts[0] = argmax(logits.data(), vocab);
  // Then the head on its own last hidden row and its draft, a row at a
  // time (row in, row out: the two ends of `hidden`); these rows of its
  // cache are the drafts' (the next call's real rows replace them).
  float *row = hidden.data() + (ran - 1) * width, *out = hidden.data() + ran * width;
  for (int64_t i = 1; i < k; ++i) {
    if (!runHead(session, slot, &drafts[i - 1], row, 1, s.position + i - 1, 1,
                 logits.data(), out, error))
      return 1;
    drafts[i] = argmax(logits.data(), vocab);
    std::swap(row, out);
  }
  return 0;
}

int qnext_slot_verify(qnext_session *session, int64_t slot, const int32_t *tokens,
                      int64_t n, float *logits, char **error) {
  if (!session->check(slot, error))
    return 1;
  if (!tokens || !logits) {
    setError(error, "verify: no tokens or no logits buffer");
    return 1;
  }
  Slot &s = session->slots[size_t(slot)];
  if (n < 1 || n > session->capacity - s.position) {
    setError(error, n < 1 ? "verify: no tokens to process"
                          : "context full: " + std::to_string(s.position) + " + " +
                                std::to_string(n) + " tokens exceed the session's " +
                                std::to_string(session->capacity) + " (--max-context)");
    return 1;
  }
  Slot::Checkpoint &c = s.checkpoint;
  if (c.held) {
    setError(error, "slot " + std::to_string(slot) +
                        ": the last verify call's tokens are not accepted yet "
                        "(qnext_slot_accept first)");
    return 1;
  }
  // The call runs the tokens a rollback kept first: the states are saved
  // as of before those.
  c.replayed = int64_t(s.replay.size());
  c.computed = s.position - c.replayed;
  c.tokens = s.replay;
  c.tokens.insert(c.tokens.end(), tokens, tokens + std::max<int64_t>(n, 0));
  const std::vector<std::vector<int64_t>> &shapes = session->model->artifact.stateShapes;
  c.states.resize(shapes.size());
  std::string why;
  for (size_t i = 0; i < shapes.size(); ++i)
    if (isRecurrent(shapes[i])) {
      c.states[i].resize(elements(shapes[i]));
      if (!session->executor->read(slot, i, 0, c.states[i].size(), c.states[i].data(), why)) {
        setError(error, "slot " + std::to_string(slot) + ": saving its states: " + why);
        return 1;
      }
    }
  if (session->run(session->model->prefill, slot, tokens, n, n, logits, error))
    return 1;
  c.held = true;
  return 0;
}

int qnext_slot_accept(qnext_session *session, int64_t slot, int64_t accepted,
                      char **error) {
  if (!session->check(slot, error))
    return 1;
  Slot &s = session->slots[size_t(slot)];
  Slot::Checkpoint &c = s.checkpoint;
  if (!c.held) {
    setError(error, "slot " + std::to_string(slot) + ": no verify call to accept tokens of");
    return 1;
  }
  const int64_t n = int64_t(c.tokens.size()) - c.replayed;
  if (accepted < 1 || accepted > n) {
    setError(error, "slot " + std::to_string(slot) + ": accepted " +
                        std::to_string(accepted) + " tokens of a verify call of " +
                        std::to_string(n) + " (1 to " + std::to_string(n) + ")");
    return 1;
  }
  c.held = false;
  if (accepted == n)
    return 0;
  // The recurrent states as before the verify call; the kept tokens run
  // again at the start of the slot's next call (Slot::replay), their cache
  // rows and hidden rows being right already.
  std::string why;
  for (size_t i = 0; i < c.states.size(); ++i)
    if (!c.states[i].empty() &&
        !session->executor->write(slot, i, 0, c.states[i].size(), c.states[i].data(), why)) {
      setError(error, "slot " + std::to_string(slot) + ": restoring its states: " + why);
      return 1;
    }
  const int64_t kept = c.replayed + accepted;
  s.replay.assign(c.tokens.begin(), c.tokens.begin() + kept);
  s.position = c.computed + kept;
  if (!session->trackMTP) {
    // (No rows are kept.)
  } else if (s.mtpPosition > s.position) {
    qnext_session::forgetMTP(s, s.position);
  } else {
    const size_t rows = size_t(s.position - s.mtpPosition);
    s.pending.resize(rows * size_t(session->model->artifact.mtpHidden));
    s.pendingIds.resize(rows);
  }
  return 0;
}

} // extern "C"
