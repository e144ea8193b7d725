//===- CUDASessionTest.cpp - a CUDA session through a driver failure ------===//
//
// qnext-cuda-session-test, run by test/Target/CUDA/session.test with the
// mock driver (MockCUDA.cpp) first on LD_LIBRARY_PATH and the CUDA artifact
// to open in QNEXT_TEST_CUDA_ARTIFACT. A call that fails on the GPU part-way
// leaves the session's caches undefined: the next call is refused until the
// session is reset, and after the reset the session works again.
//
//===----------------------------------------------------------------------===//

#include "qnext/Runtime.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

/// The error of a call that returned non-zero, released.
std::string take(char *error) {
  std::string text = error ? error : "";
  qnext_free_error(error);
  return text;
}

class CUDASession : public ::testing::Test {
protected:
  void SetUp() override {
    const char *path = std::getenv("QNEXT_TEST_CUDA_ARTIFACT");
    if (!path)
      GTEST_SKIP() << "QNEXT_TEST_CUDA_ARTIFACT is not set (session.test sets "
                      "it, with the mock driver)";
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
  EXPECT_NE(refused.find("an earlier GPU failure left this session's caches "
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

} // namespace
