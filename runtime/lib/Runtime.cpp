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

#include "Session.h"

#include <unistd.h>

#include <algorithm>

using namespace qnext::runtime;

std::string qnext::runtime::firstDifference(const std::string &code, const std::string &manifest) {
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
    session->slots[s].clear(session->slots[s].inUse);
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
      session->slots[s].clear(true);
      return int64_t(s);
    }
  setError(error, "all " + std::to_string(session->slots.size()) +
                      " slots are in use (qnext_slot_release frees one)");
  return -1;
}

int qnext_slot_release(qnext_session *session, int64_t slot, char **error) {
  if (!session->check(slot, error))
    return 1;
  session->slots[size_t(slot)].clear(false);
  return 0;
}

int qnext_slot_reset(qnext_session *session, int64_t slot, char **error) {
  if (!session->check(slot, error))
    return 1;
  session->slots[size_t(slot)].clear(true);
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
  // The position, and the MTP head's rows waiting; not a verify's undo.
  qnext_session::Slot &copy = session->slots[size_t(to)];
  copy = session->slots[size_t(from)];
  copy.checkpoint = {};
  return 0;
}

int64_t qnext_snapshot_size(const qnext_session *session, int64_t position) {
  return session->snapshots->size(position);
}

int qnext_slot_save(qnext_session *session, int64_t slot, void *snapshot, int64_t size,
                    char **error) {
  if (!session->check(slot, error))
    return 1;
  // Tokens kept by a verify call are run first: a snapshot holds states.
  if (session->flush(slot, error))
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
  session->slots[size_t(slot)].clear(true);
  if (!session->executor->reset(slot, why) ||
      !session->snapshots->restore(*session->executor, slot, bytes, why)) {
    setError(error, "slot " + std::to_string(slot) + ": " + why);
    return 1;
  }
  // The MTP head goes on from here (a snapshot holds no hidden rows).
  session->slots[size_t(slot)].position = position;
  qnext_session::forgetMTP(session->slots[size_t(slot)], position);
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

int qnext_session_prefill_batch(qnext_session *session, const int64_t *slots,
                                const int64_t *counts, const int32_t *ids, int64_t n,
                                float *logits, char **error) {
  return session->prefillBatch(slots, counts, ids, n, logits, error);
}

int qnext_model_has_prefill_batch(const qnext_model *model) {
  return model->prefillBatch != nullptr;
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
  *entry = {e.name.c_str(), e.weightBytes, e.calls,
            e.seconds,      e.selfSeconds, e.gatheredBytes};
  return 0;
}

void qnext_free_error(char *error) { free(error); }

} // extern "C"
