//===- Executor.h - what runs a session's calls of the code ----*- C++ -*-===//
//
// A session (Runtime.cpp) checks a call (the tokens, the room left) and
// keeps each sequence slot's position; an executor owns the caches and
// states of every slot and runs the code's entry point on one slot's: the CPU executor on host memory, the CUDA
// executor on device memory (ids up, logits down, the decode step as a CUDA
// graph). Both take the same entry ABI the compiler's qnext-entry-abi gives
// the code: weights, ids, positions, past (by value), [prefill: the first
// row of logits wanted (by value)], [the MTP entry: the hidden rows,] the
// states, the logits[, the taps | the hidden rows out]. A
// batched decode step takes the rows' slots where the others take past,
// and every slot's states.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_EXECUTOR_H
#define QNEXT_RUNTIME_EXECUTOR_H

#include "qnext/MemRefDescriptor.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qnext::runtime {

/// An entry point of the code: its arguments, as the C interface passes
/// them.
using Entry = void (*)(void **);

/// One call of an entry point on `n` tokens.
struct Call {
  Entry entry = nullptr;
  int64_t slot = 0;       ///< whose caches and states
  bool isPrefill = false; ///< takes the first logits row as an argument
  bool isDecode = false;  ///< a decode step (the CUDA executor captures it)
  /// A batched decode step: row i is one token of slot slots[i], at
  /// positions[i]; every slot's states are passed.
  bool isBatch = false;
  const int32_t *ids = nullptr, *positions = nullptr, *slots = nullptr;
  /// A batched prefill (with isBatch): sequence i is rows [ends[i-1],
  /// ends[i]) of slot slots[i]; `sequences` of them.
  const int32_t *ends = nullptr;
  int64_t sequences = 0;
  int64_t n = 0, rows = 0, past = 0;
  float *logits = nullptr; ///< rows x vocab, host memory
  float *taps = nullptr;   ///< tapRows x n x hidden (CPU only), or null
  int64_t tapRows = 0, hiddenSize = 0;
  /// Code with the MTP head: the MTP entry reads the main model's hidden
  /// rows from `hiddenIn` (n x mtpHidden, after past and logits_from);
  /// every entry but taps writes its rows after the final norm to
  /// `hiddenOut` (n x mtpHidden, after the logits). Host memory.
  bool isMTP = false;
  const float *hiddenIn = nullptr;
  float *hiddenOut = nullptr;
  int64_t mtpHidden = 0;
};

/// The entry ABI's arguments for `call` over the descriptors of weights,
/// ids, positions, [a batch: the slots, and a batched prefill's ends,] the
/// states, the logits[ and the taps], in that order: unless a batch, past
/// (and for prefill the first logits row wanted) by value after the first
/// three. The arguments point
/// into `d` and into this object, which must outlive the call.
struct EntryArguments {
  int64_t past = 0, from = 0;
  std::vector<void *> pointers;

  EntryArguments(std::vector<MemRefDescriptor> &d, const Call &call)
      : past(call.past), from(call.n - call.rows) {
    pointers = {d[0].argument(), d[1].argument(), d[2].argument()};
    if (!call.isBatch)
      pointers.push_back(&past);
    if (call.isPrefill)
      pointers.push_back(&from);
    for (size_t i = 3; i < d.size(); ++i)
      pointers.push_back(d[i].argument());
  }
  EntryArguments(const EntryArguments &) = delete; // the pointers are into it
  void **data() { return pointers.data(); }
};

class Executor {
public:
  virtual ~Executor() = default;
  /// Allocates `slots` sets of caches and states, zeroed (`shapes`: f32
  /// elements of one slot's). Each state is one array, its slots one after
  /// the other (`[slots, ...shape]`), so that code may index them by slot.
  virtual bool allocate(const std::vector<std::vector<int64_t>> &shapes, int64_t slots,
                        std::string &error) = 0;
  /// Zeroes slot `slot`'s caches and states; false with `error` set (and
  /// the slot's next calls refused) when that fails.
  virtual bool reset(int64_t slot, std::string &error) = 0;
  /// Slot `to`'s caches and states become a copy of slot `from`'s.
  virtual bool copy(int64_t from, int64_t to, std::string &error) = 0;
  /// Copies elements [offset, offset + count) of slot `slot`'s part of
  /// state `state` to host memory `out` (fp32, any alignment), or back from
  /// `in`: a snapshot's runs (Snapshot.h).
  virtual bool read(int64_t slot, size_t state, uint64_t offset, uint64_t count, void *out,
                    std::string &error) = 0;
  virtual bool write(int64_t slot, size_t state, uint64_t offset, uint64_t count,
                     const void *in, std::string &error) = 0;
  /// Runs one call on its slot's caches and states (a batch: on every
  /// slot's); false with `error` set. The caller moves the positions on
  /// only on success.
  virtual bool run(const Call &call, std::string &error) = 0;
};

/// Runs the code on the CPU: `weights` are the mapped weights section.
std::unique_ptr<Executor> makeCPUExecutor(const uint8_t *weights, uint64_t weightsSize,
                                          int64_t vocab);
/// Runs the code's kernels on the GPU: `deviceWeights` were uploaded at open.
std::unique_ptr<Executor> makeCUDAExecutor(void *deviceWeights, uint64_t weightsSize,
                                           int64_t vocab);

} // namespace qnext::runtime

#endif // QNEXT_RUNTIME_EXECUTOR_H
