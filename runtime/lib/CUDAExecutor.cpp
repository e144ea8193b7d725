//===- CUDAExecutor.cpp - a session's calls on the GPU --------------------===//
//
// Caches and states live in device memory (each state one array, its
// sequence slots one after the other); a call's ids and positions are
// uploaded and its logits downloaded through buffers kept between calls (a
// decode step allocates nothing). Every call's kernels run on one stream
// (qnext::cuda::Stream); the decode step is captured as a CUDA graph each
// step and the executable graph updated in place (QNEXT_CUDA_GRAPH=0:
// launched kernel by kernel).
//
//===----------------------------------------------------------------------===//

#include "Executor.h"

#include "CUDA.h"

#include "qnext/MemRefDescriptor.h"

#include <cstdio>
#include <cstdlib>

namespace qnext::runtime {

namespace {
/// QNEXT_CUDA_GRAPH=0 launches the decode step kernel by kernel.
bool graphsWanted() {
  static const bool wanted = [] {
    const char *value = std::getenv("QNEXT_CUDA_GRAPH");
    return !value || std::string(value) != "0";
  }();
  return wanted;
}

/// A device buffer kept between calls, grown when a call needs more.
struct DeviceBuffer {
  void *p = nullptr;
  size_t bytes = 0;
  bool reserve(size_t need, std::string &why) {
    if (need <= bytes)
      return true;
    cuda::release(p);
    bytes = 0;
    if (!(p = cuda::allocate(need, why)))
      return false;
    bytes = need;
    return true;
  }
};

uint64_t elements(const std::vector<int64_t> &shape) {
  uint64_t n = 1;
  for (int64_t d : shape)
    n *= uint64_t(d);
  return n;
}

class CUDAExecutor : public Executor {
public:
  CUDAExecutor(void *weights, uint64_t weightsSize, int64_t vocab)
      : weights(weights), weightsSize(weightsSize), vocab(vocab) {}

  ~CUDAExecutor() override {
    for (void *p : states)
      cuda::release(p);
    for (DeviceBuffer *b : {&ids, &positions, &logits})
      cuda::release(b->p);
  }

  bool allocate(const std::vector<std::vector<int64_t>> &shapes, int64_t slots,
                std::string &error) override {
    this->shapes = shapes;
    lost.assign(size_t(slots), false);
    // (The session refused sizes that overflow or do not fit before this.)
    for (const std::vector<int64_t> &shape : shapes) {
      std::string why;
      size_t bytes = elements(shape) * sizeof(float) * size_t(slots);
      void *p = cuda::allocate(bytes, why);
      if (p)
        states.push_back(p);
      if (!p || !cuda::zero(p, bytes, why)) {
        error = "GPU caches and states: " + why;
        return false;
      }
    }
    return true;
  }

  bool reset(int64_t slot, std::string &error) override {
    for (size_t i = 0; i < states.size(); ++i) {
      std::string why;
      if (!cuda::zero(of(i, slot), bytesOf(i), why)) {
        lost[size_t(slot)] = true;
        error = "GPU caches and states: " + why;
        return false;
      }
    }
    lost[size_t(slot)] = false;
    return true;
  }

  bool copy(int64_t from, int64_t to, std::string &error) override {
    if (lost[size_t(from)]) {
      error = "slot " + std::to_string(from) +
              ": an earlier GPU failure left its caches undefined: reset it first";
      return false;
    }
    std::string why;
    for (size_t i = 0; i < states.size(); ++i)
      if (!cuda::copy(of(i, to), of(i, from), bytesOf(i), why)) {
        lost[size_t(to)] = true;
        error = why;
        return false;
      }
    lost[size_t(to)] = false;
    return true;
  }

  bool read(int64_t slot, size_t state, uint64_t offset, uint64_t count, void *out,
            std::string &error) override {
    if (lost[size_t(slot)]) {
      error = "slot " + std::to_string(slot) +
              ": an earlier GPU failure left its caches undefined: reset it first";
      return false;
    }
    return cuda::download(out, static_cast<float *>(of(state, slot)) + offset,
                          count * sizeof(float), error);
  }

  bool write(int64_t slot, size_t state, uint64_t offset, uint64_t count, const void *in,
             std::string &error) override {
    if (!cuda::upload(static_cast<float *>(of(state, slot)) + offset, in,
                      count * sizeof(float), error)) {
      lost[size_t(slot)] = true;
      return false;
    }
    return true;
  }

  bool run(const Call &call, std::string &error) override {
    if (call.taps || call.isBatch || call.mtpHidden) {
      error = std::string(call.taps      ? "taps are"
                          : call.isBatch ? (call.ends ? "batched prefills are"
                                                      : "batched decode steps are")
                                         : "the MTP head is") +
              " not available on the CUDA target";
      return false;
    }
    if (lost[size_t(call.slot)]) {
      error = "an earlier GPU failure left this sequence's caches undefined: "
              "reset it (qnext_session_reset, qnext_slot_reset) first";
      return false;
    }
    std::string why;
    const size_t logitBytes = size_t(call.rows * vocab) * sizeof(float);
    const size_t idBytes = size_t(call.n) * sizeof(int32_t);
    if (!ids.reserve(idBytes, why) || !positions.reserve(idBytes, why) ||
        !logits.reserve(logitBytes, why) || !cuda::upload(ids.p, call.ids, idBytes, why) ||
        !cuda::upload(positions.p, call.positions, idBytes, why)) {
      error = why;
      return false;
    }
    std::vector<MemRefDescriptor> d;
    d.reserve(4 + states.size());
    d.emplace_back(weights, std::vector<int64_t>{int64_t(weightsSize)});
    d.emplace_back(ids.p, std::vector<int64_t>{call.n});
    d.emplace_back(positions.p, std::vector<int64_t>{call.n});
    for (size_t i = 0; i < states.size(); ++i)
      d.emplace_back(of(i, call.slot), shapes[i]);
    d.emplace_back(logits.p, std::vector<int64_t>{call.rows, vocab});
    EntryArguments args(d, call);
    bool launched = false;
    if (call.isDecode && decodeAsGraph && graphsWanted()) {
      launched = decodeGraph.run([&] { call.entry(args.data()); }, why);
      if (!launched) {
        decodeAsGraph = false;
        std::fprintf(stderr,
                     "qnext runtime: the decode step is launched kernel by "
                     "kernel, not as a CUDA graph: %s\n",
                     why.c_str());
      }
    }
    if (!launched && !stream.run([&] { call.entry(args.data()); }, why)) {
      error = why;
      return false;
    }
    if (std::string failure = cuda::takeFailure(); !failure.empty()) {
      lost[size_t(call.slot)] = true;
      cuda::synchronize(why);
      error = "the GPU code failed: " + failure;
      return false;
    }
    if (!cuda::synchronize(why)) {
      // A kernel failed on the device (an illegal address, say): it may have
      // written anywhere, and the context is broken; no slot is trusted.
      lost.assign(lost.size(), true);
      error = why;
      return false;
    }
    if (call.logits && !cuda::download(call.logits, logits.p, logitBytes, why)) {
      lost[size_t(call.slot)] = true; // the states moved on, the position did not
      error = why;
      return false;
    }
    return true;
  }

private:
  /// Slot `slot`'s part of state `i`, and its size.
  void *of(size_t i, int64_t slot) {
    return static_cast<char *>(states[i]) + bytesOf(i) * size_t(slot);
  }
  size_t bytesOf(size_t i) const { return elements(shapes[i]) * sizeof(float); }

  void *weights;
  uint64_t weightsSize;
  int64_t vocab;
  std::vector<std::vector<int64_t>> shapes;
  std::vector<void *> states;
  DeviceBuffer ids, positions, logits;
  /// The one stream of a call's kernels.
  cuda::Stream stream;
  /// The decode step as a CUDA graph; off for the session once a capture
  /// fails.
  cuda::Graph decodeGraph;
  bool decodeAsGraph = true;
  /// By slot: a call failed on the GPU part-way, so its caches and states
  /// are whatever the kernels that ran left, until reset() (a failure the
  /// driver reports while launching: that call's slot; a kernel that failed
  /// on the device: every slot).
  std::vector<bool> lost;
};
} // namespace

std::unique_ptr<Executor> makeCUDAExecutor(void *deviceWeights, uint64_t weightsSize,
                                           int64_t vocab) {
  return std::make_unique<CUDAExecutor>(deviceWeights, weightsSize, vocab);
}

} // namespace qnext::runtime
