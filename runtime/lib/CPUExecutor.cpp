//===- CPUExecutor.cpp - a session's calls on the CPU ---------------------===//

#include "Executor.h"

#include "qnext/MemRefDescriptor.h"

#include <algorithm>

namespace qnext::runtime {

namespace {
class CPUExecutor : public Executor {
public:
  CPUExecutor(const uint8_t *weights, uint64_t weightsSize, int64_t vocab)
      : weights(weights), weightsSize(weightsSize), vocab(vocab) {}

  bool allocate(const std::vector<std::vector<int64_t>> &shapes,
                std::string &) override {
    this->shapes = shapes;
    for (const std::vector<int64_t> &shape : shapes) {
      uint64_t n = 1;
      for (int64_t d : shape)
        n *= uint64_t(d);
      states.emplace_back(n, 0.0f);
    }
    return true;
  }

  void reset() override {
    for (std::vector<float> &s : states)
      std::fill(s.begin(), s.end(), 0.0f);
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
    for (size_t i = 0; i < states.size(); ++i)
      d.emplace_back(states[i].data(), shapes[i]);
    d.emplace_back(logits, std::vector<int64_t>{call.rows, vocab});
    if (call.taps)
      d.emplace_back(call.taps,
                     std::vector<int64_t>{call.tapRows, call.n, call.hiddenSize});
    EntryArguments args(d, call);
    call.entry(args.data());
    return true;
  }

private:
  const uint8_t *weights;
  uint64_t weightsSize;
  int64_t vocab;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<std::vector<float>> states;
};
} // namespace

std::unique_ptr<Executor> makeCPUExecutor(const uint8_t *weights, uint64_t weightsSize,
                                          int64_t vocab) {
  return std::make_unique<CPUExecutor>(weights, weightsSize, vocab);
}

} // namespace qnext::runtime
