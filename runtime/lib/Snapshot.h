//===- Snapshot.h - a slot's sequence as bytes, and back -------*- C++ -*-===//
//
// A snapshot is what a prefix cache keeps of a sequence: its position, the
// first `position` rows of every KV cache (the rest of a cache is never
// read) and every fixed-size state (the DeltaNet conv and recurrent states)
// whole. Its bytes are a header (magic, the model's ABI fingerprint, the
// position) and then each state's part in the manifest's order, fp32.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_SNAPSHOT_H
#define QNEXT_RUNTIME_SNAPSHOT_H

#include "Executor.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qnext::runtime {

class SnapshotLayout {
public:
  /// `states`: the manifest's state shapes (-1: the capacity dimension);
  /// `abiRecord`: the model's, whose hash a snapshot carries; `capacity`:
  /// the session's tokens a slot.
  SnapshotLayout(const std::vector<std::vector<int64_t>> &states, const std::string &abiRecord,
                 int64_t capacity);

  /// The bytes of a snapshot of `position` tokens; -1 outside [0, capacity].
  int64_t size(int64_t position) const;
  /// Writes slot `slot`'s sequence of `position` tokens into `out`, of
  /// size(position) bytes.
  bool save(Executor &executor, int64_t slot, int64_t position, uint8_t *out,
            std::string &error) const;
  /// The position a snapshot of `size` bytes holds, after checking its
  /// header against this model and session; -1 with `error` set.
  int64_t check(const uint8_t *in, int64_t size, std::string &error) const;
  /// Writes a checked snapshot into slot `slot`'s caches and states.
  bool restore(Executor &executor, int64_t slot, const uint8_t *in, std::string &error) const;

private:
  /// A state as `outer` runs of `rows` x `inner` elements, the rows along
  /// the capacity dimension (a state without one: one run of one row).
  struct Part {
    uint64_t outer = 1, inner = 1;
    bool perToken = false;
  };
  /// Calls `copy(state, offset in the state, element offset in the payload,
  /// elements)` for each contiguous run a snapshot of `position` tokens holds.
  template <typename Copy> bool forEachRun(int64_t position, Copy copy) const;

  std::vector<Part> parts;
  uint64_t fingerprint = 0;
  int64_t capacity = 0;
};

} // namespace qnext::runtime

#endif // QNEXT_RUNTIME_SNAPSHOT_H
