//===- Runtime.cpp - the C API: models, sessions, calls -------------------===//
//
// The runtime in three parts behind this API: the artifact's reader
// (ArtifactReader.h: the file mapped and validated, the manifest read), its
// code (CodeLoader.h: dlopen'ed, the entry points found), and an executor per
// session (Executor.h: the caches and states, on the CPU or the GPU). A
// session checks each call (tokens, room left) and keeps the position; every
// failure is one line naming the file or the call and what is wrong.
//
//===----------------------------------------------------------------------===//

#include "qnext/Runtime.h"

#include "ArtifactReader.h"
#include "CUDA.h"
#include "CodeCheck.h"
#include "CodeLoader.h"
#include "Executor.h"
#include "KernelProfile.h"
#include "Snapshot.h"

#include "qnext/Messages.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace qnext::runtime;

namespace {
void setError(char **error, const std::string &message) {
  if (error)
    *error = strdup(message.c_str());
}

/// Where two ABI records ("qnext-abi 1 cpu vocab=512 states=3x256,...")
/// part: the first field, or the first state, that differs.
std::string firstDifference(const std::string &code, const std::string &manifest) {
  auto split = [](const std::string &s, char by) {
    std::vector<std::string> parts;
    size_t at = 0;
    for (size_t next; (next = s.find(by, at)) != std::string::npos; at = next + 1)
      parts.push_back(s.substr(at, next - at));
    parts.push_back(s.substr(at));
    return parts;
  };
  std::vector<std::string> a = split(code, ' '), b = split(manifest, ' ');
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    std::string x = i < a.size() ? a[i] : "", y = i < b.size() ? b[i] : "";
    if (x == y)
      continue;
    if (x.rfind("states=", 0) == 0 && y.rfind("states=", 0) == 0) {
      std::vector<std::string> sx = split(x.substr(7), ','), sy = split(y.substr(7), ',');
      if (sx.size() != sy.size())
        return "the code has " + std::to_string(sx.size()) + " states, the manifest " +
               std::to_string(sy.size());
      for (size_t j = 0; j < sx.size(); ++j)
        if (sx[j] != sy[j])
          return "state " + std::to_string(j) + " is " + sx[j] + " in the code, " + sy[j] +
                 " in the manifest";
    }
    return "the code was compiled for '" + qnext::excerpt(x, 60) + "', the manifest says '" +
           qnext::excerpt(y, 60) + "'";
  }
  return "the records differ";
}
} // namespace

struct qnext_model {
  ArtifactReader artifact;
  LoadedCode code;
  /// Code compiled with --profile-kernels: its kernels' times.
  KernelProfile profile;
  Entry prefill = nullptr, decode = nullptr;
  /// Built with qnext-compile --taps: prefill that also returns the hidden
  /// state after every layer's mixer and MLP ([tapRows, T, hidden]).
  Entry taps = nullptr;
  /// One decode step of many sequences, each in its own slot (CPU code
  /// compiled with decode_batch; absent otherwise).
  Entry decodeBatch = nullptr;
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
  bool loadCode(char **error) {
    std::string why, record;
    const std::string &arch = artifact.gpuArch;
    // Read, not run, first: dlopen runs a library's initialisers.
    std::vector<std::string> entries = {"qnext_prefill", "qnext_decode"};
    if (artifact.hasTaps)
      entries.push_back("qnext_taps");
    if (artifact.hasDecodeBatch)
      entries.push_back("qnext_decode_batch");
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
    setThreads = reinterpret_cast<void (*)(int32_t)>(code.symbol("qnext_set_num_threads"));
    maxThreads = reinterpret_cast<int32_t (*)()>(code.symbol("qnext_max_threads"));
    profile.attach(code);
    return true;
  }
};

struct qnext_session {
  qnext_model *model = nullptr;
  int64_t capacity = 0;
  uint64_t stateBytes = 0; ///< caches and states of every slot, allocated at creation
  std::unique_ptr<Executor> executor;
  /// What a snapshot of a slot holds.
  std::unique_ptr<SnapshotLayout> snapshots;
  /// The sequences: each slot's position, and whether it is in use.
  struct Slot {
    int64_t position = 0;
    bool inUse = false;
  };
  std::vector<Slot> slots;

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
  int run(Entry entry, int64_t slot, const int32_t *ids, int64_t n, int64_t rows,
          float *logits, char **error, float *taps = nullptr) {
    if (!check(slot, error))
      return 1;
    int64_t &position = slots[size_t(slot)].position;
    const int64_t vocab = model->artifact.vocab;
    if (n <= 0) {
      setError(error, "no tokens to process");
      return 1;
    }
    if (n > capacity - position) {
      setError(error, "context full: " + std::to_string(position) + " + " +
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
    std::vector<int32_t> positions(n);
    for (int64_t i = 0; i < n; ++i)
      positions[i] = int32_t(position + i);
    Call call;
    call.entry = entry;
    call.slot = slot;
    call.isPrefill = entry == model->prefill || entry == model->taps;
    call.isDecode = entry == model->decode;
    call.ids = ids;
    call.positions = positions.data();
    call.n = n;
    call.rows = rows;
    call.past = position;
    call.logits = logits;
    call.taps = taps;
    call.tapRows = model->tapRows;
    call.hiddenSize = model->hiddenSize;
    std::string why;
    if (!executor->run(call, why)) {
      setError(error, why);
      return 1;
    }
    position += n;
    return 0;
  }

  /// One decode step of n sequences: ids[i] continues slot slots[i]. One
  /// row runs the decode entry on its slot; several, the batched entry on
  /// every slot's states.
  int decodeBatch(const int64_t *rowSlots, const int32_t *ids, int64_t n, float *logits,
                  char **error) {
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
    call.isBatch = true;
    call.ids = ids;
    call.positions = positions.data();
    call.slots = slot32.data();
    call.n = n;
    call.rows = n;
    call.logits = logits;
    std::string why;
    if (!executor->run(call, why)) {
      setError(error, why);
      return 1;
    }
    for (int64_t i = 0; i < n; ++i)
      ++slots[size_t(rowSlots[i])].position;
    return 0;
  }
};

extern "C" {

static qnext_model *openModel(const char *path, bool withCode, char **error) {
  auto *model = new qnext_model();
  if (!model->open(path, withCode, error)) {
    delete model;
    return nullptr;
  }
  return model;
}

qnext_model *qnext_model_open(const char *path, char **error) {
  return openModel(path, /*withCode=*/true, error);
}

qnext_model *qnext_model_inspect(const char *path, char **error) {
  return openModel(path, /*withCode=*/false, error);
}

void qnext_model_close(qnext_model *model) { delete model; }

int64_t qnext_model_vocab_size(const qnext_model *model) { return model->artifact.vocab; }

int64_t qnext_model_max_position_embeddings(const qnext_model *model) {
  return model->artifact.maxPositions;
}

int qnext_model_threads(const qnext_model *model) {
  return model->maxThreads ? int(model->maxThreads()) : 1;
}

int qnext_model_set_threads(qnext_model *model, int threads) {
  if (threads >= 1 && model->setThreads)
    model->setThreads(int32_t(threads));
  return qnext_model_threads(model);
}

int qnext_model_gpu_bandwidth(qnext_model *model, int repeats, double *gb_per_s,
                              char **error) {
  if (!model->artifact.onDevice) {
    setError(error, "not a CUDA artifact: its model runs on the CPU");
    return 1;
  }
  std::string why;
  *gb_per_s = qnext::cuda::copyBandwidth(size_t(256) << 20, std::max(repeats, 1), why);
  if (*gb_per_s <= 0) {
    setError(error, why.empty() ? "the GPU copy took no measurable time" : why);
    return 1;
  }
  return 0;
}

const char *qnext_model_manifest(const qnext_model *model) {
  return model->artifact.manifestText().c_str();
}

const char *qnext_model_code_variant(const qnext_model *model) {
  const std::string &name = model->artifact.variantName;
  return name.empty() ? nullptr : name.c_str();
}

const char *qnext_model_activations(const qnext_model *model) {
  return model->artifact.activations.c_str();
}

int qnext_model_uses_amx(const qnext_model *model) { return model->artifact.amx ? 1 : 0; }

const char *qnext_model_section(const qnext_model *model, const char *name,
                                int64_t *size) {
  const qnext::artifact::Section *s = model->artifact.section(name);
  if (size)
    *size = s ? int64_t(s->size) : 0;
  return s ? reinterpret_cast<const char *>(model->artifact.bytes(*s)) : nullptr;
}

int qnext_model_verify(const qnext_model *model, char **error) {
  std::string why;
  if (!model->artifact.verifyWeights(why)) {
    setError(error, why);
    return 1;
  }
  return 0;
}

qnext_session *qnext_session_create(qnext_model *model, int64_t maxContext,
                                    char **error) {
  qnext_session *session = qnext_session_create_slots(model, maxContext, 1, error);
  if (session)
    session->slots[0].inUse = true;
  return session;
}

qnext_session *qnext_session_create_slots(qnext_model *model, int64_t maxContext,
                                          int64_t slots, char **error) {
  if (slots <= 0) {
    setError(error, "a session needs at least one slot, got " + std::to_string(slots));
    return nullptr;
  }
  if (maxContext <= 0) {
    setError(error, "max context must be positive, got " + std::to_string(maxContext));
    return nullptr;
  }
  // Positions past the model's are positions it never saw (and the code's
  // positions are 32-bit).
  if (maxContext > model->artifact.maxPositions) {
    setError(error, "max context " + std::to_string(maxContext) +
                        " is beyond the model's " +
                        std::to_string(model->artifact.maxPositions) +
                        " positions (max_position_embeddings)");
    return nullptr;
  }
  if (!model->prefill) {
    setError(error, model->artifact.path() + ": opened for inspection only (its code "
                                             "is not loaded)");
    return nullptr;
  }
  // Sizes saturate instead of wrapping, so an absurd max context is refused
  // below rather than allocated short.
  auto mul = [](uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
  };
  auto add = [](uint64_t a, uint64_t b) {
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
  };
  uint64_t bytes = 0;
  std::vector<std::vector<int64_t>> shapes;
  for (std::vector<int64_t> shape : model->artifact.stateShapes) {
    uint64_t n = 1;
    for (int64_t &d : shape) {
      if (d == -1)
        d = maxContext;
      n = mul(n, uint64_t(d));
    }
    bytes = add(bytes, mul(n, 4));
    shapes.push_back(shape);
  }
  const uint64_t perSlot = bytes;
  bytes = mul(bytes, uint64_t(slots));
  // Refuse what cannot fit instead of being killed for it.
  uint64_t physical = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
  if (bytes > physical / 2) {
    setError(error, "max context " + std::to_string(maxContext) +
                        (slots > 1 ? " for " + std::to_string(slots) + " slots" : "") +
                        " needs " + std::to_string(bytes >> 20) + " MiB of caches" +
                        (slots > 1 ? " (" + std::to_string(perSlot >> 20) + " MiB a slot)"
                                   : std::string()) +
                        ", more than half of this machine's memory");
    return nullptr;
  }
  auto session = std::make_unique<qnext_session>();
  session->model = model;
  session->capacity = maxContext;
  session->stateBytes = bytes;
  session->slots.resize(size_t(slots));
  const qnext::artifact::Section &w = model->artifact.weights();
  session->executor =
      model->artifact.onDevice
          ? makeCUDAExecutor(model->deviceWeights, w.size, model->artifact.vocab)
          : makeCPUExecutor(model->artifact.bytes(w), w.size, model->artifact.vocab);
  std::string why;
  if (!session->executor->allocate(shapes, slots, why)) {
    setError(error, why);
    return nullptr;
  }
  session->snapshots = std::make_unique<SnapshotLayout>(
      model->artifact.stateShapes, qnext::artifact::abiRecord(model->artifact.abi()),
      maxContext);
  return session.release();
}

void qnext_session_destroy(qnext_session *session) { delete session; }

qnext_model *qnext_session_model(const qnext_session *session) { return session->model; }

void qnext_session_reset(qnext_session *session) {
  for (size_t s = 0; s < session->slots.size(); ++s) {
    // (A failure leaves the slot refused, saying so, on its next call.)
    std::string why;
    session->executor->reset(int64_t(s), why);
    session->slots[s].position = 0;
  }
}

int64_t qnext_session_position(const qnext_session *session) {
  return qnext_slot_position(session, 0);
}

int64_t qnext_session_slots(const qnext_session *session) {
  return int64_t(session->slots.size());
}

int64_t qnext_slot_acquire(qnext_session *session, char **error) {
  for (size_t s = 0; s < session->slots.size(); ++s)
    if (!session->slots[s].inUse) {
      std::string why;
      if (!session->executor->reset(int64_t(s), why)) {
        setError(error, "slot " + std::to_string(s) + ": " + why);
        return -1;
      }
      session->slots[s] = {0, true};
      return int64_t(s);
    }
  setError(error, "all " + std::to_string(session->slots.size()) +
                      " slots are in use (qnext_slot_release frees one)");
  return -1;
}

int qnext_slot_release(qnext_session *session, int64_t slot, char **error) {
  if (!session->check(slot, error))
    return 1;
  session->slots[size_t(slot)] = {0, false};
  return 0;
}

int qnext_slot_reset(qnext_session *session, int64_t slot, char **error) {
  if (!session->check(slot, error))
    return 1;
  session->slots[size_t(slot)].position = 0;
  std::string why;
  if (!session->executor->reset(slot, why)) {
    setError(error, "slot " + std::to_string(slot) + ": " + why);
    return 1;
  }
  return 0;
}

int qnext_slot_copy(qnext_session *session, int64_t from, int64_t to, char **error) {
  if (!session->check(from, error) || !session->check(to, error))
    return 1;
  if (from == to)
    return 0;
  std::string why;
  if (!session->executor->copy(from, to, why)) {
    setError(error, why);
    return 1;
  }
  session->slots[size_t(to)].position = session->slots[size_t(from)].position;
  return 0;
}

int64_t qnext_snapshot_size(const qnext_session *session, int64_t position) {
  return session->snapshots->size(position);
}

int qnext_slot_save(qnext_session *session, int64_t slot, void *snapshot, int64_t size,
                    char **error) {
  if (!session->check(slot, error))
    return 1;
  const int64_t position = session->slots[size_t(slot)].position;
  if (const int64_t expected = session->snapshots->size(position); !snapshot || size != expected) {
    setError(error, "slot " + std::to_string(slot) + " holds " + std::to_string(position) +
                        " tokens: its snapshot takes " + std::to_string(expected) +
                        " bytes, given " + (snapshot ? std::to_string(size) : "none"));
    return 1;
  }
  std::string why;
  if (!session->snapshots->save(*session->executor, slot, position,
                                static_cast<uint8_t *>(snapshot), why)) {
    setError(error, "slot " + std::to_string(slot) + ": " + why);
    return 1;
  }
  return 0;
}

int qnext_slot_restore(qnext_session *session, int64_t slot, const void *snapshot,
                       int64_t size, char **error) {
  if (!session->check(slot, error))
    return 1;
  std::string why;
  const auto *bytes = static_cast<const uint8_t *>(snapshot);
  const int64_t position = session->snapshots->check(bytes, size, why);
  if (position < 0) {
    setError(error, why);
    return 1;
  }
  // From an empty slot (on a GPU this also clears an earlier failure's
  // mark); a copy that fails part-way leaves the slot's calls refused.
  session->slots[size_t(slot)].position = 0;
  if (!session->executor->reset(slot, why) ||
      !session->snapshots->restore(*session->executor, slot, bytes, why)) {
    setError(error, "slot " + std::to_string(slot) + ": " + why);
    return 1;
  }
  session->slots[size_t(slot)].position = position;
  return 0;
}

int64_t qnext_slot_position(const qnext_session *session, int64_t slot) {
  if (slot < 0 || slot >= int64_t(session->slots.size()) ||
      !session->slots[size_t(slot)].inUse)
    return -1;
  return session->slots[size_t(slot)].position;
}

int qnext_slot_prefill(qnext_session *session, int64_t slot, const int32_t *ids,
                       int64_t n, float *logits, char **error) {
  return session->run(session->model->prefill, slot, ids, n, logits ? n : 1, logits,
                      error);
}

int qnext_slot_prefill_last(qnext_session *session, int64_t slot, const int32_t *ids,
                            int64_t n, float *logits, char **error) {
  return session->run(session->model->prefill, slot, ids, n, 1, logits, error);
}

int qnext_slot_decode(qnext_session *session, int64_t slot, int32_t id, float *logits,
                      char **error) {
  return session->run(session->model->decode, slot, &id, 1, 1, logits, error);
}

int qnext_session_decode_batch(qnext_session *session, const int64_t *slots,
                               const int32_t *ids, int64_t n, float *logits, char **error) {
  return session->decodeBatch(slots, ids, n, logits, error);
}

int qnext_model_has_decode_batch(const qnext_model *model) {
  return model->decodeBatch != nullptr;
}

int64_t qnext_session_state_bytes(const qnext_session *session) {
  return int64_t(session->stateBytes);
}

int qnext_session_prefill(qnext_session *session, const int32_t *ids, int64_t n,
                          float *logits, char **error) {
  // No logits wanted: the vocabulary projection runs for one row, not n.
  return qnext_slot_prefill(session, 0, ids, n, logits, error);
}

int qnext_session_prefill_last(qnext_session *session, const int32_t *ids, int64_t n,
                               float *logits, char **error) {
  return qnext_slot_prefill_last(session, 0, ids, n, logits, error);
}

int64_t qnext_model_tap_rows(const qnext_model *model) { return model->tapRows; }

int64_t qnext_model_hidden_size(const qnext_model *model) { return model->hiddenSize; }

int qnext_session_prefill_taps(qnext_session *session, const int32_t *ids, int64_t n,
                               float *logits, float *taps, char **error) {
  if (!session->model->taps) {
    setError(error, "the artifact has no taps entry point (compile it with "
                    "qnext-compile --taps)");
    return 1;
  }
  if (!taps) {
    setError(error, "taps: no output buffer");
    return 1;
  }
  return session->run(session->model->taps, 0, ids, n, logits ? n : 1, logits, error, taps);
}

int qnext_session_decode(qnext_session *session, int32_t id, float *logits, char **error) {
  return qnext_slot_decode(session, 0, id, logits, error);
}

int64_t qnext_profile_size(const qnext_model *model) {
  return model->profile.available() ? int64_t(model->profile.entries().size()) : 0;
}

int qnext_profile_enable(qnext_model *model, int on, char **error) {
  if (!model->profile.available()) {
    if (!on)
      return 0;
    setError(error, model->artifact.path() +
                        ": the code has no kernel profile (compile it with "
                        "qnext-compile --profile-kernels)");
    return -1;
  }
  if (!model->profile.enable(on != 0)) {
    setError(error, model->artifact.path() +
                        ": another model's kernel profile is on in this process");
    return -1;
  }
  return 0;
}

void qnext_profile_reset(qnext_model *model) { model->profile.reset(); }

int qnext_profile_get(const qnext_model *model, int64_t i, qnext_profile_entry *entry) {
  const auto &entries = model->profile.entries();
  if (!model->profile.available() || i < 0 || i >= int64_t(entries.size()))
    return -1;
  const KernelProfile::Entry &e = entries[size_t(i)];
  *entry = {e.name.c_str(), e.weightBytes, e.calls, e.seconds, e.selfSeconds};
  return 0;
}

void qnext_free_error(char *error) { free(error); }

} // extern "C"
