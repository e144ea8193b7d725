//===- CUDARuntimeTest.cpp - the runtime's CUDA side on the mock driver ---===//
//
// qnext-cuda-runtime-test runs with the mock driver (MockCUDA.cpp) first on
// LD_LIBRARY_PATH (ctest sets it; so does test/Target/CUDA/session.test):
//  - Stream and Graph (runtime/lib/CUDA.h) driven through the mgpu* ABI as
//    generated host code calls it, with a one-kernel PTX module;
//  - with a CUDA artifact in QNEXT_TEST_CUDA_ARTIFACT (session.test), a
//    session through a failure on the GPU: the failed call reports it, the
//    next is refused until the session is reset, then it works again.
//
//===----------------------------------------------------------------------===//

#include "CUDA.h"
#include "qnext/Runtime.h"

#include <gtest/gtest.h>

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

// MLIR's GPU runtime ABI, as lib/CUDA.cpp implements it.
extern "C" {
void *mgpuModuleLoad(void *data, size_t size);
void *mgpuModuleGetFunction(void *module, const char *name);
void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                      intptr_t gridZ, intptr_t blockX, intptr_t blockY,
                      intptr_t blockZ, int32_t smem, void *stream, void **params,
                      void **extra, size_t paramsCount);
void *mgpuStreamCreate();
void mgpuStreamDestroy(void *stream);
void mgpuStreamSynchronize(void *stream);
void *mgpuEventCreate();
void mgpuEventRecord(void *event, void *stream);
void mgpuEventSynchronize(void *event);
void mgpuEventDestroy(void *event);
void *mgpuMemAlloc(uint64_t bytes, void *stream, bool isHostShared);
void mgpuMemFree(void *ptr, void *stream);
void mgpuMemcpy(void *dst, void *src, size_t bytes, void *stream);
}

namespace {

/// The mock's counts since the last context synchronization.
struct Counts {
  size_t launches = 0, streamsCreated = 0, streamWaits = 0;
};

class MockDriver : public ::testing::Test {
protected:
  void SetUp() override {
    std::string why;
    ASSERT_TRUE(qnext::cuda::initialize(why)) << why;
    void *driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    counts = driver ? reinterpret_cast<decltype(counts)>(
                          dlsym(driver, "qnextMockCounts"))
                    : nullptr;
    if (!counts)
      GTEST_SKIP() << "libcuda.so.1 is not the mock driver (put "
                      "build/test/mock-cuda first on LD_LIBRARY_PATH)";
    static char ptx[] = ".version 8.0\n.target sm_90a\n.address_size 64\n"
                        ".visible .entry kernel()\n{\n  ret;\n}\n";
    void *module = mgpuModuleLoad(ptx, sizeof ptx);
    ASSERT_NE(module, nullptr) << qnext::cuda::takeFailure();
    kernel = mgpuModuleGetFunction(module, "kernel");
    ASSERT_NE(kernel, nullptr) << qnext::cuda::takeFailure();
    ASSERT_TRUE(qnext::cuda::synchronize(why)) << why; // counts from zero
  }

  void TearDown() override { EXPECT_EQ(qnext::cuda::takeFailure(), ""); }

  Counts read() {
    Counts c;
    counts(&c.launches, &c.streamsCreated, &c.streamWaits);
    return c;
  }

  /// What generated code does: a stream of its own, a buffer, a launch, a
  /// wait for the stream. Returns the buffer's address.
  void *step(uint64_t bytes = 1024) {
    void *stream = mgpuStreamCreate();
    void *buffer = mgpuMemAlloc(bytes, stream, false);
    mgpuLaunchKernel(kernel, 4, 1, 1, 128, 1, 1, 0, stream, nullptr, nullptr, 0);
    mgpuMemFree(buffer, stream);
    mgpuStreamSynchronize(stream);
    mgpuStreamDestroy(stream);
    return buffer;
  }

  void (*counts)(size_t *, size_t *, size_t *) = nullptr;
  void *kernel = nullptr;
};

TEST_F(MockDriver, OneStreamForTheWholeCall) {
  qnext::cuda::Stream stream;
  std::string why;
  void *first = nullptr, *second = nullptr;
  ASSERT_TRUE(stream.run(
      [&] {
        first = mgpuStreamCreate();
        second = mgpuStreamCreate();
        mgpuStreamSynchronize(first);
        mgpuStreamDestroy(first);
        step();
        step();
      },
      why))
      << why;
  EXPECT_EQ(first, second);
  Counts c = read();
  EXPECT_EQ(c.launches, 2u);
  EXPECT_EQ(c.streamsCreated, 1u);
  EXPECT_EQ(c.streamWaits, 0u);

  // Outside run(), the code's streams are its own again.
  step();
  EXPECT_EQ(read().streamsCreated, 2u);
  EXPECT_EQ(read().streamWaits, 1u);
}

TEST_F(MockDriver, ACopyToTheHostIsWaitedFor) {
  std::string why;
  std::vector<float> host(4, 0.0f), values = {1, 2, 3, 4};
  void *device = qnext::cuda::allocate(16, why);
  ASSERT_NE(device, nullptr) << why;
  ASSERT_TRUE(qnext::cuda::upload(device, values.data(), 16, why)) << why;
  qnext::cuda::Stream stream;
  ASSERT_TRUE(stream.run(
      [&] {
        void *s = mgpuStreamCreate();
        mgpuMemcpy(host.data(), device, 16, s);
        mgpuStreamSynchronize(s);
      },
      why))
      << why;
  EXPECT_EQ(host, values);
  EXPECT_EQ(read().streamWaits, 1u);
  qnext::cuda::release(device);
}

TEST_F(MockDriver, GraphStepsShareAddressesAndUpdate) {
  qnext::cuda::Graph graph;
  std::string why;
  std::vector<void *> buffers;
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(graph.run([&] { buffers.push_back(step()); }, why)) << why;
  // The arena hands out the same address in every step.
  EXPECT_EQ(buffers[0], buffers[1]);
  EXPECT_EQ(buffers[1], buffers[2]);
  // Captured, not launched directly.
  EXPECT_EQ(read().launches, 0u);
  EXPECT_TRUE(qnext::cuda::synchronize(why)) << why;
}

TEST_F(MockDriver, GraphBuffersDoNotOverlap) {
  qnext::cuda::Graph graph;
  std::string why;
  std::vector<char *> buffers;
  // More than one 64 MiB chunk of the arena.
  ASSERT_TRUE(graph.run(
      [&] {
        void *s = mgpuStreamCreate();
        for (uint64_t bytes : {1u << 20, 40u << 20, 40u << 20, 3u})
          buffers.push_back(static_cast<char *>(mgpuMemAlloc(bytes, s, false)));
      },
      why))
      << why;
  for (char *p : buffers)
    ASSERT_NE(p, nullptr);
  EXPECT_GE(buffers[1], buffers[0] + (1 << 20));
  EXPECT_TRUE(buffers[2] >= buffers[1] + (40 << 20) ||
              buffers[2] + (40 << 20) <= buffers[1]);
}

TEST_F(MockDriver, GraphRefusesACopyToTheHost) {
  qnext::cuda::Graph graph;
  std::string why;
  float host[4];
  void *device = qnext::cuda::allocate(16, why);
  EXPECT_FALSE(graph.run(
      [&] { mgpuMemcpy(host, device, 16, mgpuStreamCreate()); }, why));
  EXPECT_EQ(why, "the code copies to the host");
  qnext::cuda::release(device);
}

TEST_F(MockDriver, GraphRefusesWaitingForAnEvent) {
  qnext::cuda::Graph graph;
  std::string why;
  void *event = mgpuEventCreate();
  EXPECT_FALSE(graph.run(
      [&] {
        mgpuEventRecord(event, mgpuStreamCreate());
        mgpuEventSynchronize(event);
      },
      why));
  EXPECT_EQ(why, "the code waits for an event");
  mgpuEventDestroy(event);
}

TEST_F(MockDriver, ALaunchBeyondTheLimitsIsACaptureFailure) {
  qnext::cuda::Graph graph;
  std::string why;
  // Grid y stops at 65,535 blocks.
  EXPECT_FALSE(graph.run(
      [&] {
        mgpuLaunchKernel(kernel, 1, 70000, 1, 128, 1, 1, 0, mgpuStreamCreate(),
                         nullptr, nullptr, 0);
      },
      why));
  EXPECT_EQ(why, "cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (1)");
  // Launched directly, the same is the code's failure, reported once.
  qnext::cuda::Stream stream;
  ASSERT_TRUE(stream.run(
      [&] {
        mgpuLaunchKernel(kernel, 1, 70000, 1, 128, 1, 1, 0, mgpuStreamCreate(),
                         nullptr, nullptr, 0);
        step(); // does nothing now
      },
      why));
  EXPECT_EQ(qnext::cuda::takeFailure(),
            "cuLaunchKernel failed: CUDA_ERROR_INVALID_VALUE (1)");
  EXPECT_EQ(read().launches, 0u);
}

/// The error of a call that returned non-zero, released.
std::string take(char *error) {
  std::string text = error ? error : "";
  qnext_free_error(error);
  return text;
}

/// A session on a CUDA artifact (QNEXT_TEST_CUDA_ARTIFACT).
class CUDASession : public ::testing::Test {
protected:
  void SetUp() override {
    const char *path = std::getenv("QNEXT_TEST_CUDA_ARTIFACT");
    if (!path)
      GTEST_SKIP() << "QNEXT_TEST_CUDA_ARTIFACT is not set (session.test sets "
                      "it to an artifact it compiles)";
    char *error = nullptr;
    model = qnext_model_open(path, &error);
    ASSERT_NE(model, nullptr) << take(error);
    session = qnext_session_create(model, 64, &error);
    ASSERT_NE(session, nullptr) << take(error);
    logits.resize(qnext_model_vocab_size(model) * 4);
  }

  void TearDown() override {
    unsetenv("QNEXT_MOCK_CUDA_FAIL");
    if (session)
      qnext_session_destroy(session);
    if (model)
      qnext_model_close(model);
  }

  /// Prefills three tokens; the error, or empty.
  std::string prefill() {
    char *error = nullptr;
    const int32_t ids[] = {1, 2, 3};
    if (qnext_session_prefill(session, ids, 3, logits.data(), &error))
      return take(error);
    return "";
  }

  qnext_model *model = nullptr;
  qnext_session *session = nullptr;
  std::vector<float> logits;
};

TEST_F(CUDASession, AFailedCallNeedsAReset) {
  ASSERT_EQ(prefill(), "");
  EXPECT_EQ(qnext_session_position(session), 3);

  // Device memory runs out in the middle of the code.
  setenv("QNEXT_MOCK_CUDA_FAIL", "alloc", 1);
  EXPECT_EQ(prefill(), "the GPU code failed: cuMemAllocAsync failed: "
                       "CUDA_ERROR_OUT_OF_MEMORY (2)");
  EXPECT_EQ(qnext_session_position(session), 3);
  unsetenv("QNEXT_MOCK_CUDA_FAIL");

  // The driver works again, but the caches are whatever the kernels that
  // ran left.
  std::string refused = prefill();
  EXPECT_NE(refused.find("an earlier GPU failure left this sequence's caches "
                         "undefined"),
            std::string::npos)
      << refused;
  EXPECT_EQ(qnext_session_position(session), 3);

  qnext_session_reset(session);
  EXPECT_EQ(prefill(), "");
  EXPECT_EQ(qnext_session_position(session), 3);
}

TEST_F(CUDASession, AnotherSessionIsUnaffected) {
  setenv("QNEXT_MOCK_CUDA_FAIL", "alloc", 1);
  EXPECT_NE(prefill(), "");
  unsetenv("QNEXT_MOCK_CUDA_FAIL");

  char *error = nullptr;
  qnext_session *other = qnext_session_create(model, 64, &error);
  ASSERT_NE(other, nullptr) << take(error);
  const int32_t ids[] = {1, 2, 3};
  EXPECT_EQ(qnext_session_prefill(other, ids, 3, logits.data(), &error), 0)
      << take(error);
  qnext_session_destroy(other);
}

// Sequence slots: a failure on one slot leaves that slot's caches undefined,
// not the others'; a copy from a good slot (cuMemcpyAsync on the device)
// makes it usable again, a copy from the failed one is refused.
TEST_F(CUDASession, AFailedSlotLeavesTheOtherSlots) {
  char *error = nullptr;
  qnext_session *slots = qnext_session_create_slots(model, 64, 2, &error);
  ASSERT_NE(slots, nullptr) << take(error);
  ASSERT_EQ(qnext_slot_acquire(slots, &error), 0);
  ASSERT_EQ(qnext_slot_acquire(slots, &error), 1);
  const int32_t ids[] = {1, 2, 3};
  ASSERT_EQ(qnext_slot_prefill(slots, 0, ids, 3, logits.data(), &error), 0) << take(error);

  setenv("QNEXT_MOCK_CUDA_FAIL", "alloc", 1);
  EXPECT_EQ(qnext_slot_prefill(slots, 1, ids, 3, logits.data(), &error), 1);
  take(error);
  unsetenv("QNEXT_MOCK_CUDA_FAIL");
  error = nullptr;
  EXPECT_EQ(qnext_slot_prefill(slots, 1, ids, 3, logits.data(), &error), 1);
  std::string refused = take(error);
  EXPECT_NE(refused.find("left this sequence's caches undefined"), std::string::npos)
      << refused;
  error = nullptr;
  EXPECT_EQ(qnext_slot_copy(slots, 1, 0, &error), 1);
  EXPECT_EQ(take(error), "slot 1: an earlier GPU failure left its caches undefined: "
                         "reset it first");
  error = nullptr;
  EXPECT_EQ(qnext_slot_prefill(slots, 0, ids, 3, logits.data(), &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(slots, 0), 6);
  ASSERT_EQ(qnext_slot_copy(slots, 0, 1, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(slots, 1), 6);
  EXPECT_EQ(qnext_slot_decode(slots, 1, 4, logits.data(), &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(slots, 1), 7);
  qnext_session_destroy(slots);
}

} // namespace
