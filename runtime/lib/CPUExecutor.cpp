//===- CPUExecutor.cpp - a session's calls on the CPU ---------------------===//

#include "Executor.h"

#include "qnext/MemRefDescriptor.h"

#include <algorithm>
#include <cstring>

namespace qnext::runtime {

namespace {
class CPUExecutor : public Executor {
public:
  CPUExecutor(const uint8_t *weights, uint64_t weightsSize, int64_t vocab)
      : weights(weights), weightsSize(weightsSize), vocab(vocab) {}

  bool allocate(const std::vector<std::vector<int64_t>> &shapes, int64_t slots,
                std::string &) override {
    this->shapes = shapes;
    for (const std::vector<int64_t> &shape : shapes) {
      allShapes.push_back({slots});
      allShapes.back().insert(allShapes.back().end(), shape.begin(), shape.end());
      uint64_t n = 1;
      for (int64_t d : shape)
        n *= uint64_t(d);
      perSlot.push_back(n);
      states.emplace_back(n * uint64_t(slots), 0.0f);
    }
    return true;
  }

  bool reset(int64_t slot, std::string &) override {
    for (size_t i = 0; i < states.size(); ++i)
      std::fill_n(of(i, slot), perSlot[i], 0.0f);
    return true;
  }

  bool copy(int64_t from, int64_t to, std::string &) override {
    for (size_t i = 0; i < states.size(); ++i)
      std::memcpy(of(i, to), of(i, from), perSlot[i] * sizeof(float));
    return true;
  }

  bool read(int64_t slot, size_t state, uint64_t offset, uint64_t count, void *out,
            std::string &) override {
    std::memcpy(out, of(state, slot) + offset, count * sizeof(float));
    return true;
  }

  bool write(int64_t slot, size_t state, uint64_t offset, uint64_t count, const void *in,
             std::string &) override {
    std::memcpy(of(state, slot) + offset, in, count * sizeof(float));
    return true;
  }

  bool run(const Call &call, std::string &) override {
    std::vector<float> scratch;
    float *logits = call.logits;
    if (!logits) {
      scratch.resize(size_t(call.rows * vocab));
      logits = scratch.data();
    }
    std::vector<MemRefDescriptor> d;
    d.reserve(5 + states.size());
    d.emplace_back(weights, std::vector<int64_t>{int64_t(weightsSize)});
    d.emplace_back(call.ids, std::vector<int64_t>{call.n});
    d.emplace_back(call.positions, std::vector<int64_t>{call.n});
    if (call.isBatch && call.ends) {
      d.emplace_back(call.slots, std::vector<int64_t>{call.sequences});
      d.emplace_back(call.ends, std::vector<int64_t>{call.sequences});
    } else if (call.isBatch) {
      d.emplace_back(call.slots, std::vector<int64_t>{call.n});
    }
    if (call.isMTP)
      d.emplace_back(call.hiddenIn, std::vector<int64_t>{call.n, call.mtpHidden});
    for (size_t i = 0; i < states.size(); ++i)
      d.emplace_back(call.isBatch ? states[i].data() : of(i, call.slot),
                     call.isBatch ? allShapes[i] : shapes[i]);
    d.emplace_back(logits, std::vector<int64_t>{call.rows, vocab});
    if (call.taps)
      d.emplace_back(call.taps,
                     std::vector<int64_t>{call.tapRows, call.n, call.hiddenSize});
    else if (call.mtpHidden) {
      if (!call.hiddenOut)
        hiddenScratch.resize(size_t(call.n * call.mtpHidden));
      d.emplace_back(call.hiddenOut ? call.hiddenOut : hiddenScratch.data(),
                     std::vector<int64_t>{call.n, call.mtpHidden});
    }
    EntryArguments args(d, call);
    call.entry(args.data());
    return true;
  }

private:
  /// Slot `slot`'s part of state `i`.
  float *of(size_t i, int64_t slot) { return states[i].data() + perSlot[i] * uint64_t(slot); }

  const uint8_t *weights;
  uint64_t weightsSize;
  int64_t vocab;
  std::vector<std::vector<int64_t>> shapes;
  /// Each state's every slot, [slots, ...shape]: what a batch passes.
  std::vector<std::vector<int64_t>> allShapes;
  /// Elements of one slot's part of each state; the slots' parts follow
  /// one another ([slots, ...shape]).
  std::vector<uint64_t> perSlot;
  std::vector<std::vector<float>> states;
  /// Where the hidden rows go when a call does not want them.
  std::vector<float> hiddenScratch;
};
} // namespace

std::unique_ptr<Executor> makeCPUExecutor(const uint8_t *weights, uint64_t weightsSize,
                                          int64_t vocab) {
  return std::make_unique<CPUExecutor>(weights, weightsSize, vocab);
}

} // namespace qnext::runtime
