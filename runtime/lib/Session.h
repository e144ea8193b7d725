//===- Session.h - the C API's models and sessions, inside -----*- C++ -*-===//
//
// What qnext_model and qnext_session hold, shared by the files that
// implement the C API (Runtime.cpp: models, sessions, calls; MTP.cpp: the
// MTP head and speculative decoding's verify and rollback).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_SESSION_H
#define QNEXT_RUNTIME_SESSION_H

#include "qnext/Runtime.h"

#include "ArtifactReader.h"
#include "CUDA.h"
#include "CodeLoader.h"
#include "Executor.h"
#include "KernelProfile.h"
#include "Snapshot.h"

#include "qnext/Messages.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace qnext::runtime {
inline void setError(char **error, const std::string &message) {
  if (error)
    *error = strdup(message.c_str());
}

/// Where two ABI records ("qnext-abi 1 cpu vocab=512 states=3x256,...")
/// part: the first field, or the first state, that differs.
std::string firstDifference(const std::string &code, const std::string &manifest);
} // namespace qnext::runtime

using qnext::runtime::setError;

struct qnext_model {
  qnext::runtime::ArtifactReader artifact;
  qnext::runtime::LoadedCode code;
  /// Code compiled with --profile-kernels: its kernels' times.
  qnext::runtime::KernelProfile profile;
  qnext::runtime::Entry prefill = nullptr, decode = nullptr;
  /// Built with qnext-compile --taps: prefill that also returns the hidden
  /// state after every layer's mixer and MLP ([tapRows, T, hidden]).
  qnext::runtime::Entry taps = nullptr;
  /// One decode step of many sequences, each in its own slot (CPU code
  /// compiled with decode_batch; absent otherwise).
  qnext::runtime::Entry decodeBatch = nullptr;
  /// Runs of tokens of many sequences in one call (CPU code compiled with
  /// prefill_batch; absent otherwise).
  qnext::runtime::Entry prefillBatch = nullptr;
  /// The MTP head (code compiled from a checkpoint with one); the other
  /// entries then also return their hidden rows (artifact.mtpHidden wide).
  qnext::runtime::Entry mtp = nullptr;
  int64_t tapRows = 0, hiddenSize = 0;
  void (*setThreads)(int32_t) = nullptr; ///< absent in single-threaded code
  int32_t (*maxThreads)() = nullptr;
  /// A CUDA artifact: its weights uploaded once, at open.
  void *deviceWeights = nullptr;

  ~qnext_model() { qnext::cuda::release(deviceWeights); }

  bool fail(char **error, const std::string &message) {
    setError(error, artifact.path() + ": " + message);
    return false;
  }

  bool open(const char *path, bool withCode, char **error) {
    std::string why;
    if (!artifact.open(path, why)) {
      setError(error, why);
      return false;
    }
    hiddenSize = artifact.hiddenSize;
    return !withCode || loadCode(error);
  }

  /// The code loaded and its entry points found; for a CUDA artifact, the
  /// driver started and the weights uploaded first (loading the code loads
  /// its kernels onto the GPU).
  bool loadCode(char **error);
};

struct qnext_session {
  qnext_model *model = nullptr;
  int64_t capacity = 0;
  uint64_t stateBytes = 0; ///< caches and states of every slot, allocated at creation
  std::unique_ptr<qnext::runtime::Executor> executor;
  /// What a snapshot of a slot holds.
  std::unique_ptr<qnext::runtime::SnapshotLayout> snapshots;
  /// The sequences: each slot's position, and whether it is in use.
  struct Slot {
    int64_t position = 0;
    bool inUse = false;
    /// The MTP head's progress (with trackMTP): it has run for positions
    /// [0, mtpPosition); the main model's hidden rows of positions
    /// [mtpPosition, position) and their tokens wait in `pending` and
    /// `pendingIds` (row t pairs with the token at t + 1, the next one's or
    /// the caller's).
    int64_t mtpPosition = 0;
    std::vector<float> pending;
    std::vector<int32_t> pendingIds;
    /// Tokens a verify call kept whose recurrent states are not computed:
    /// the states are as of position - replay.size(); the slot's next call
    /// runs them first, in the same call (their cache rows and hidden rows
    /// are already right).
    std::vector<int32_t> replay;
    /// A verify call's undo (MTP.cpp): where the states were computed to
    /// before it, the recurrent states then, and every token it ran (the
    /// replayed ones first).
    struct Checkpoint {
      bool held = false;
      int64_t computed = 0;
      int64_t replayed = 0;
      std::vector<int32_t> tokens;
      std::vector<std::vector<float>> states; ///< the states without a capacity
    } checkpoint;

    /// Back to an empty sequence (MTP progress and checkpoint too).
    void clear(bool use) {
      *this = Slot();
      inUse = use;
    }
  };
  std::vector<Slot> slots;
  /// Keep each slot's hidden rows for the MTP head (qnext_session_enable_mtp).
  bool trackMTP = false;
  /// qnext_slot_draft's logits and hidden rows, and a batched step's
  /// hidden rows, kept between calls.
  std::vector<float> headLogits, headHidden, batchHidden;

  /// Why `slot` does not name a slot in use; empty when it does.
  std::string problemWith(int64_t slot) const {
    if (slot < 0 || slot >= int64_t(slots.size()))
      return "slot " + std::to_string(slot) + " does not exist (the session has " +
             std::to_string(slots.size()) + ")";
    if (!slots[size_t(slot)].inUse)
      return "slot " + std::to_string(slot) + " is not in use (qnext_slot_acquire gives one)";
    return "";
  }

  /// Whether `slot` names a slot in use; else false with `error` set.
  bool check(int64_t slot, char **error) const {
    std::string why = problemWith(slot);
    if (!why.empty())
      setError(error, why);
    return why.empty();
  }

  /// Runs prefill, its taps or decode on n tokens of `slot`'s sequence.
  /// Prefill writes the logits of rows [n - rows, n) (rows is n or 1);
  /// decode its one row.
  int run(qnext::runtime::Entry entry, int64_t slot, const int32_t *ids, int64_t n,
          int64_t rows, float *logits, char **error, float *taps = nullptr);

  /// Runs `slot`'s tokens kept from a verify call (Slot::replay) on their
  /// own, for the calls that cannot take them first.
  int flush(int64_t slot, char **error);

  /// Rows a slot keeps for the MTP head at most: beyond, the oldest are
  /// dropped (the head's cache keeps its old rows there; only its drafts
  /// can suffer). A slot whose head runs after each call keeps a few.
  static constexpr int64_t kMostPending = QNEXT_MTP_WAITING_ROWS;
  static void trimMTP(Slot &s, int64_t width) {
    const int64_t extra = int64_t(s.pendingIds.size()) - kMostPending;
    if (extra <= 0)
      return;
    s.pending.erase(s.pending.begin(), s.pending.begin() + extra * width);
    s.pendingIds.erase(s.pendingIds.begin(), s.pendingIds.begin() + extra);
    s.mtpPosition += extra;
  }

  /// The MTP head skips the rows of positions below `position` (their
  /// hidden rows are gone): its cache rows there stay as they are.
  static void forgetMTP(Slot &s, int64_t position) {
    s.mtpPosition = position;
    s.pending.clear();
    s.pendingIds.clear();
  }

  /// One decode step of n sequences: ids[i] continues slot slots[i]. One
  /// row runs the decode entry on its slot; several, the batched entry on
  /// every slot's states.
  int decodeBatch(const int64_t *rowSlots, const int32_t *ids, int64_t n, float *logits,
                  char **error);
  /// n sequences' runs of tokens: counts[i] tokens of ids (one run after
  /// the other) continue slot seqSlots[i]; logits of each run's last token.
  /// One sequence runs the prefill entry on its slot; several, the batched
  /// entry on every slot's states.
  int prefillBatch(const int64_t *seqSlots, const int64_t *counts, const int32_t *ids,
                   int64_t n, float *logits, char **error);
  /// The checked batched call `call` (entry, positions, slots, logits and
  /// for a prefill its ends set) of n parts, part i counts[i] tokens of ids
  /// (null counts: one token each) for slot partSlots[i]: kept tokens of those slots run first, then the
  /// call, and each slot moves on by its count.
  int runBatch(qnext::runtime::Call &call, const int64_t *partSlots, const int64_t *counts,
               const int32_t *ids, int64_t n, char **error);
};

#endif // QNEXT_RUNTIME_SESSION_H
