/*===- Runtime.h - the qnext runtime's C API ------------------------------===*
 *
 * Open a .qnx artifact, create a session (its caches and states), prefill
 * tokens, decode one token at a time, read logits. No MLIR or LLVM: this
 * header and runtime/ build on their own.
 *
 * Errors: functions that can fail take `char **error`; on failure they return
 * NULL or non-zero and, when `error` is not NULL, store a one-line message
 * the caller releases with qnext_free_error().
 *===----------------------------------------------------------------------===*/

#ifndef QNEXT_RUNTIME_H
#define QNEXT_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct qnext_model qnext_model;
typedef struct qnext_session qnext_session;

/* Maps the artifact, validates its header, section table, manifest and code
 * (checksums, version, target CPU features) and loads the code. The weights
 * stay in the mapping (zero-copy). */
qnext_model *qnext_model_open(const char *path, char **error);
/* The same validation (header, section table, checksums of manifest and code,
 * manifest, CPU features) without loading the code: for reading the manifest
 * or verifying an artifact; sessions cannot be created on it. */
qnext_model *qnext_model_inspect(const char *path, char **error);
void qnext_model_close(qnext_model *model);
int64_t qnext_model_vocab_size(const qnext_model *model);
int64_t qnext_model_max_position_embeddings(const qnext_model *model);
/* Threads the code's parallel loops use (all cores unless set; 1 for code
 * compiled without parallel loops). The setting is process-wide: it is the
 * OpenMP runtime's. */
int qnext_model_threads(const qnext_model *model);
/* Sets it (threads >= 1) and returns the number now in effect. */
int qnext_model_set_threads(qnext_model *model, int threads);
/* The manifest (JSON text, owned by the model). */
const char *qnext_model_manifest(const qnext_model *model);
/* The code variant chosen from a fat artifact (qnext-compile --cpu=portable,
 * or a list of CPUs): the first of its variants this CPU runs, by the name
 * --cpu gave it ("x86-64-v4+amx"). NULL for an artifact with one code. */
const char *qnext_model_code_variant(const qnext_model *model);
/* What the chosen code's projections multiply weights by: "f32" (the
 * weight-exact contract), "int8" or "bf16" (qnext-compile --activations;
 * docs/quantization.md). A fat artifact's variants may differ: one whose CPU
 * lacks the instructions keeps "f32". */
const char *qnext_model_activations(const qnext_model *model);
/* Whether the chosen code's kernels of several tokens run on AMX tiles. */
int qnext_model_uses_amx(const qnext_model *model);
/* The bytes of an optional section, or NULL (and *size 0) when the artifact
 * has none: "tokenizer", "tokenizer_config" and "generation" hold the
 * checkpoint's tokenizer.json, tokenizer_config.json (chat template) and
 * generation_config.json. Owned by the model; checked at open. */
const char *qnext_model_section(const qnext_model *model, const char *name,
                                int64_t *size);
/* Checks the weights section's checksum too (reads every byte). */
int qnext_model_verify(const qnext_model *model, char **error);
/* The memory bandwidth of the GPU a CUDA artifact runs on, in GB/s: the best
 * of `repeats` device-to-device copies of 256 MiB, bytes read plus bytes
 * written over the time (the figure a decode step's roofline divides by). */
int qnext_model_gpu_bandwidth(qnext_model *model, int repeats, double *gb_per_s,
                              char **error);

/* Kernel profile, for artifacts compiled with qnext-compile
 * --profile-kernels: the number of timed entries (each kernel function and
 * each layer function), 0 for an artifact without them. */
int64_t qnext_profile_size(const qnext_model *model);
/* Starts (on != 0) or stops timing every kernel and layer call; -1 with
 * *error when the artifact has no profile or another model's profile is
 * on (the hook is process-wide). */
int qnext_profile_enable(qnext_model *model, int on, char **error);
/* Clears what was timed. */
void qnext_profile_reset(qnext_model *model);
/* Entry i (0 <= i < size) as timed since the last reset: its name
 * ("deltanet.in_proj_qkvz+in_proj_ba.decode", or a layer function's,
 * "decode.layers.0"), the bytes of weights it reads per call (kernels):
 * whole (weight_bytes) and the size of those it gathers rows of (the
 * routed experts' stacks, the embedding: gathered_bytes, of which a call
 * reads a part), its calls, its seconds, and its own seconds (not in the
 * entries it calls: a layer's serial code). Returns -1 when i is out of
 * range. The name is owned by the model. */
typedef struct {
  const char *name;
  int64_t weight_bytes;
  uint64_t calls;
  double seconds;
  double self_seconds;
  int64_t gathered_bytes;
} qnext_profile_entry;
int qnext_profile_get(const qnext_model *model, int64_t i, qnext_profile_entry *entry);

/* A session holds the KV caches (room for max_context tokens) and the
 * DeltaNet conv and fp32 recurrent states, all zero, of one sequence: a
 * session of one sequence slot, slot 0, in use. The qnext_session_* token
 * calls below run on slot 0 (of a session made by
 * qnext_session_create_slots, once acquired). A session is used by one
 * thread at a time, whatever the slots: its calls share buffers and, on a
 * GPU, one stream. */
qnext_session *qnext_session_create(qnext_model *model, int64_t max_context,
                                    char **error);
void qnext_session_destroy(qnext_session *session);
/* The model the session runs. */
qnext_model *qnext_session_model(const qnext_session *session);
/* Forgets every processed token of every slot (states back to zero); the
 * slots in use stay in use. */
void qnext_session_reset(qnext_session *session);
/* Tokens processed so far (slot 0; -1 when it is not in use). */
int64_t qnext_session_position(const qnext_session *session);
/* Bytes of the session's KV caches and DeltaNet states, every slot's, all
 * allocated when it is created: a session does not grow while it runs. */
int64_t qnext_session_state_bytes(const qnext_session *session);

/* Sequence slots: a session of `slots` independent sequences, each with its
 * own position, KV caches (room for max_context tokens each) and DeltaNet
 * states, all allocated at creation (refused, in one line, when they would
 * take more than half of the machine's memory). Every slot starts free.
 * On a GPU, a call that fails part-way leaves its slot's caches undefined
 * (its calls refused until it is reset or copied over), the other slots'
 * untouched; a kernel that fails on the device leaves every slot so. */
qnext_session *qnext_session_create_slots(qnext_model *model, int64_t max_context,
                                          int64_t slots, char **error);
int64_t qnext_session_slots(const qnext_session *session);
/* The lowest free slot, emptied (position 0, zero states) and now in use;
 * -1 with `error` set when every slot is in use. */
int64_t qnext_slot_acquire(qnext_session *session, char **error);
/* Frees a slot in use; its sequence is forgotten. */
int qnext_slot_release(qnext_session *session, int64_t slot, char **error);
/* Empties a slot in use (position 0, zero states); it stays in use. */
int qnext_slot_reset(qnext_session *session, int64_t slot, char **error);
/* Slot `to` becomes a copy of slot `from` (both in use): its position, caches
 * and states, so that the two sequences continue independently (a fork). */
int qnext_slot_copy(qnext_session *session, int64_t from, int64_t to, char **error);
/* Snapshots: a slot's sequence (its position, its KV cache rows so far and
 * its DeltaNet states) copied to memory the caller owns, and put back into
 * a slot later, of this session or another of the same model: what a
 * prefix cache keeps, so that a prompt that begins with a saved sequence
 * resumes from it instead of prefilling it again.
 * qnext_snapshot_size: the bytes of a snapshot of `position` tokens (a
 * header and the states; KV caches take `position` rows, not the
 * capacity); -1 when position is outside [0, max_context]. */
int64_t qnext_snapshot_size(const qnext_session *session, int64_t position);
/* Writes slot `slot`'s sequence (in use) into `snapshot`, of exactly
 * qnext_snapshot_size(session, qnext_slot_position(session, slot)) bytes. */
int qnext_slot_save(qnext_session *session, int64_t slot, void *snapshot, int64_t size,
                    char **error);
/* Slot `slot` (in use) continues the saved sequence: its position and
 * caches become the snapshot's. A snapshot of another model, of more
 * tokens than the session holds or of the wrong size is refused, the slot
 * untouched. On a GPU, a copy that fails part-way leaves the slot's calls
 * refused until it is reset or restored. */
int qnext_slot_restore(qnext_session *session, int64_t slot, const void *snapshot,
                       int64_t size, char **error);
/* A slot's tokens processed so far; -1 for a slot not in use. */
int64_t qnext_slot_position(const qnext_session *session, int64_t slot);
/* The token calls on one slot: as qnext_session_prefill, _prefill_last and
 * _decode below, on `slot`'s sequence. A slot that does not exist or is not
 * in use is an error (return 1, `error` set), as is every failure of those. */
int qnext_slot_prefill(qnext_session *session, int64_t slot, const int32_t *ids,
                       int64_t n, float *logits, char **error);
int qnext_slot_prefill_last(qnext_session *session, int64_t slot, const int32_t *ids,
                            int64_t n, float *logits, char **error);
int qnext_slot_decode(qnext_session *session, int64_t slot, int32_t id, float *logits,
                      char **error);
/* One decode step of n sequences at once: ids[i] is the next token of slot
 * slots[i] (distinct slots in use, each with room left); writes n rows of
 * vocab_size logits to `logits` (NULL: not wanted), row i slot slots[i]'s,
 * and moves each slot on by one. The weights are read once for the n rows
 * (the artifact's decode_batch entry); one row is the decode step of
 * qnext_slot_decode. Nothing runs and no slot moves when a row is refused
 * (return 1, `error` names the row). */
int qnext_session_decode_batch(qnext_session *session, const int64_t *slots,
                               const int32_t *ids, int64_t n, float *logits, char **error);
/* 1 when the model's code has the batched decode entry (CPU artifacts do
 * unless compiled with --decode-batch=false), else 0. */
int qnext_model_has_decode_batch(const qnext_model *model);
/* Runs of tokens of n sequences at once (prompt chunks of requests that
 * join, decode steps of those that run): sequence i is the next counts[i]
 * tokens of slot slots[i] (distinct slots in use, each with room for them),
 * its tokens taken from `ids` after sequence i-1's. Writes n rows of
 * vocab_size logits to `logits` (NULL: not wanted), row i the logits after
 * sequence i's last token, and moves each slot on by its count: what
 * qnext_slot_prefill_last does on each slot, with the weights read once for
 * all the tokens (the artifact's prefill_batch entry; one sequence runs
 * qnext_slot_prefill_last). A call takes at most the session's context or
 * 8192 tokens in all, the larger. Nothing runs and no slot moves when a
 * sequence is refused (return 1, `error` names the sequence). */
int qnext_session_prefill_batch(qnext_session *session, const int64_t *slots,
                                const int64_t *counts, const int32_t *ids, int64_t n,
                                float *logits, char **error);
/* 1 when the model's code has the batched prefill entry (CPU artifacts do
 * unless compiled with --prefill-batch=false), else 0. */
int qnext_model_has_prefill_batch(const qnext_model *model);

/* Runs n tokens continuing from the session's state; writes n rows of
 * vocab_size logits to `logits` (NULL: not wanted, and not computed). */
int qnext_session_prefill(qnext_session *session, const int32_t *ids,
                          int64_t n, float *logits, char **error);
/* The same, computing only the last token's logits (one row; NULL: not
 * wanted): what generation needs, and cheaper, as the vocabulary projection
 * is about a third of a prompt's work. */
int qnext_session_prefill_last(qnext_session *session, const int32_t *ids,
                               int64_t n, float *logits, char **error);
/* One token; writes one row of logits. */
int qnext_session_decode(qnext_session *session, int32_t id, float *logits,
                         char **error);

/* The MTP head and speculative decoding (MTP.cpp). An artifact compiled
 * from a checkpoint with mtp.* tensors has the head (qnext-compile
 * --mtp=auto): qnext_model_has_mtp is then 1. Row t of the head pairs the
 * main model's hidden state at position t (after its final norm) with the
 * token at t + 1 and gives the draft logits of the token at t + 2. */
int qnext_model_has_mtp(const qnext_model *model);
/* From now on every slot keeps the hidden rows the head has not read
 * (starting where each slot is); an error for an artifact without a head.
 * At most QNEXT_MTP_WAITING_ROWS rows wait: beyond, the oldest are dropped
 * (the head then never sees those positions; run it after each call of
 * more rows to keep them). */
enum { QNEXT_MTP_WAITING_ROWS = 1024 };
int qnext_session_enable_mtp(qnext_session *session, char **error);
/* The rows waiting for the head in `slot` (positions it has not run for);
 * -1 without qnext_session_enable_mtp or for a slot not in use. */
int64_t qnext_slot_mtp_pending(const qnext_session *session, int64_t slot);
/* Runs the head on every waiting row of `slot`, `next` being the token after
 * the last one processed (the others' are known): writes the logits of every
 * row (all_rows != 0; qnext_slot_mtp_pending rows) or of the last, to
 * `logits` (NULL: not wanted; the head's cache is what is asked for). No
 * row waits afterwards. With `next` < 0 (not chosen yet), runs
 * every waiting row but the last (none: nothing to do, not an error). */
int qnext_slot_mtp(qnext_session *session, int64_t slot, int32_t next, float *logits,
                   int all_rows, char **error);
/* Greedy drafts: qnext_slot_mtp with `next` gives drafts[0]; then the head
 * runs k - 1 more rows on its own hidden state and its last draft. */
int qnext_slot_draft(qnext_session *session, int64_t slot, int32_t next, int64_t k,
                     int32_t *drafts, char **error);
/* Runs tokens[0..n) (the last accepted token, then drafts) as one prompt
 * with the logits of every row (n rows), saving the slot's recurrent states
 * first. qnext_slot_accept must follow before the slot's next verify. */
int qnext_slot_verify(qnext_session *session, int64_t slot, const int32_t *tokens,
                      int64_t n, float *logits, char **error);
/* Keeps the first `accepted` (1..n) tokens of the last verify and undoes the
 * rest exactly: the recurrent states as before it, and the accepted tokens
 * run again at the start of the slot's next call, in that call (the
 * attention caches' later rows are never read). The slot's position counts
 * the accepted tokens at once. */
int qnext_slot_accept(qnext_session *session, int64_t slot, int64_t accepted,
                      char **error);

/* Artifacts compiled with qnext-compile --taps: prefill that also writes the
 * hidden state after each layer's token mixer (row 2i) and after its MLP or
 * MoE (row 2i + 1), residual adds included, as taps[rows][n][hidden] (fp32).
 * qnext_model_tap_rows is 2 * layers for such an artifact, 0 otherwise. */
int64_t qnext_model_tap_rows(const qnext_model *model);
int64_t qnext_model_hidden_size(const qnext_model *model);
int qnext_session_prefill_taps(qnext_session *session, const int32_t *ids,
                               int64_t n, float *logits, float *taps,
                               char **error);

void qnext_free_error(char *error);

#ifdef __cplusplus
}
#endif

#endif /* QNEXT_RUNTIME_H */
