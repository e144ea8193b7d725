//===- Snapshot.cpp - a slot's sequence as bytes, and back ----------------===//

#include "Snapshot.h"

#include <xxhash.h>

#include <cstring>

namespace qnext::runtime {

namespace {
constexpr char kMagic[8] = {'Q', 'N', 'X', 'S', 'N', 'A', 'P', '1'};
/// magic, fingerprint, position
constexpr int64_t kHeaderBytes = 24;
} // namespace

SnapshotLayout::SnapshotLayout(const std::vector<std::vector<int64_t>> &states,
                               const std::string &abiRecord, int64_t capacity)
    : fingerprint(XXH64(abiRecord.data(), abiRecord.size(), 0)), capacity(capacity) {
  for (const std::vector<int64_t> &shape : states) {
    Part part;
    bool after = false;
    for (int64_t d : shape) {
      if (d == -1 && !after) {
        after = part.perToken = true;
        continue;
      }
      (after ? part.inner : part.outer) *= uint64_t(d == -1 ? capacity : d);
    }
    if (!part.perToken) { // one run of the whole state
      part.inner = part.outer;
      part.outer = 1;
    }
    parts.push_back(part);
  }
}

template <typename Copy>
bool SnapshotLayout::forEachRun(int64_t position, Copy copy) const {
  uint64_t at = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Part &p = parts[i];
    const uint64_t rows = p.perToken ? uint64_t(position) : 1;
    const uint64_t stride = p.perToken ? uint64_t(capacity) * p.inner : p.inner;
    for (uint64_t o = 0; o < p.outer; ++o) {
      if (rows && !copy(i, o * stride, at, rows * p.inner))
        return false;
      at += rows * p.inner;
    }
  }
  return true;
}

int64_t SnapshotLayout::size(int64_t position) const {
  if (position < 0 || position > capacity)
    return -1;
  uint64_t elements = 0;
  forEachRun(position, [&](size_t, uint64_t, uint64_t, uint64_t n) {
    elements += n;
    return true;
  });
  return kHeaderBytes + int64_t(elements * sizeof(float));
}

bool SnapshotLayout::save(Executor &executor, int64_t slot, int64_t position, uint8_t *out,
                          std::string &error) const {
  std::memcpy(out, kMagic, 8);
  std::memcpy(out + 8, &fingerprint, 8);
  std::memcpy(out + 16, &position, 8);
  uint8_t *payload = out + kHeaderBytes;
  return forEachRun(position, [&](size_t state, uint64_t offset, uint64_t at, uint64_t n) {
    return executor.read(slot, state, offset, n, payload + at * sizeof(float), error);
  });
}

int64_t SnapshotLayout::check(const uint8_t *in, int64_t bytes, std::string &error) const {
  if (!in || bytes < kHeaderBytes || std::memcmp(in, kMagic, 8) != 0) {
    error = "not a snapshot (qnext_slot_save writes one)";
    return -1;
  }
  uint64_t print;
  int64_t position;
  std::memcpy(&print, in + 8, 8);
  std::memcpy(&position, in + 16, 8);
  if (print != fingerprint) {
    error = "the snapshot is of another model (its ABI fingerprint differs)";
    return -1;
  }
  if (position < 0 || position > capacity) {
    error = "the snapshot holds " + std::to_string(position) +
            " tokens, more than the session's " + std::to_string(capacity) +
            " (--max-context)";
    return -1;
  }
  if (int64_t expected = size(position); bytes != expected) {
    error = "a snapshot of " + std::to_string(position) + " tokens is " +
            std::to_string(expected) + " bytes, not " + std::to_string(bytes);
    return -1;
  }
  return position;
}

bool SnapshotLayout::restore(Executor &executor, int64_t slot, const uint8_t *in,
                             std::string &error) const {
  int64_t position;
  std::memcpy(&position, in + 16, 8);
  const uint8_t *payload = in + kHeaderBytes;
  return forEachRun(position, [&](size_t state, uint64_t offset, uint64_t at, uint64_t n) {
    return executor.write(slot, state, offset, n, payload + at * sizeof(float), error);
  });
}

} // namespace qnext::runtime
