//===- SpeculateTest.cpp - the MTP head and verify/accept, via the C API --===//
//
// The MTP head's rows meet the golden reference (../shared/golden/README.md,
// "MTP head") in slots whose prompts are cut differently and interleave; a
// verify call whose drafts are rejected leaves the slot exactly (to the
// bit) as if only the accepted tokens had run; misuse is refused in one
// line. The artifact is compiled from tiny-bf16-sharded by the ctest fixture
// `mtp-artifact` (test/Unit/CMakeLists.txt) into QNEXT_MTP_ARTIFACT.
//
//===----------------------------------------------------------------------===//

#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

using qnext::test::readIds;
using qnext::test::take;

std::vector<float> readFloats(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  std::vector<float> out(bytes.str().size() / sizeof(float));
  std::memcpy(out.data(), bytes.str().data(), out.size() * sizeof(float));
  return out;
}

class Speculate : public ::testing::Test {
protected:
  void SetUp() override {
    const char *artifact = std::getenv("QNEXT_MTP_ARTIFACT");
    const std::string golden = std::string(QNEXT_GOLDEN_DIR) + "/tiny-bf16-sharded";
    if (!artifact || !std::ifstream(artifact).good())
      GTEST_SKIP() << "no artifact in QNEXT_MTP_ARTIFACT (the ctest fixture "
                      "mtp-artifact compiles " << golden << " when it exists)";
    prompt = readIds(golden + "/prompt.txt");
    generated = readIds(golden + "/generated.txt");
    all = prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    reference = readFloats(golden + "/ref_logits.f32");
    mtpReference = readFloats(golden + "/mtp_logits.f32");
    char *error = nullptr;
    model = qnext_model_open(artifact, &error);
    ASSERT_NE(model, nullptr) << take(error);
    ASSERT_EQ(qnext_model_has_mtp(model), 1);
    vocab = qnext_model_vocab_size(model);
    ASSERT_EQ(int64_t(mtpReference.size()), int64_t(all.size() - 1) * vocab);
    session = qnext_session_create_slots(model, 256, 2, &error);
    ASSERT_NE(session, nullptr) << take(error);
    for (int64_t s = 0; s < 2; ++s)
      ASSERT_EQ(qnext_slot_acquire(session, &error), s) << take(error);
  }
  void TearDown() override {
    if (session)
      qnext_session_destroy(session);
    if (model)
      qnext_model_close(model);
  }

  /// Rows [first, first + rows.size() / vocab) of `want` against `rows`:
  /// the golden contract.
  void expectRows(const std::vector<float> &rows, const std::vector<float> &want,
                  int64_t first, const std::string &what) {
    const int64_t n = int64_t(rows.size()) / vocab;
    for (int64_t r = 0; r < n; ++r) {
      const float *got = rows.data() + r * vocab, *ref = want.data() + (first + r) * vocab;
      double worst = 0;
      for (int64_t i = 0; i < vocab; ++i)
        worst = std::max(worst, std::fabs(double(got[i]) - ref[i]));
      EXPECT_LE(worst, 1e-3) << what << " row " << first + r;
      EXPECT_EQ(std::max_element(got, got + vocab) - got,
                std::max_element(ref, ref + vocab) - ref)
          << what << " row " << first + r;
    }
  }

  /// Runs the head on slot `s` (holding the first `at` tokens of `all`):
  /// the rows whose next token is known, appended to `rows`.
  void headRows(int64_t s, int64_t at, std::vector<float> &rows) {
    char *error = nullptr;
    const int64_t total = int64_t(all.size());
    const int32_t next = at < total ? all[size_t(at)] : -1;
    const int64_t waiting = qnext_slot_mtp_pending(session, s) - (next < 0 ? 1 : 0);
    std::vector<float> out(static_cast<size_t>(waiting * vocab));
    ASSERT_EQ(qnext_slot_mtp(session, s, next, out.data(), 1, &error), 0) << take(error);
    rows.insert(rows.end(), out.begin(), out.end());
    EXPECT_EQ(qnext_slot_mtp_pending(session, s), next < 0 ? 1 : 0);
  }

  std::vector<int32_t> prompt, generated, all;
  std::vector<float> reference, mtpReference;
  qnext_model *model = nullptr;
  qnext_session *session = nullptr;
  int64_t vocab = 0;
};

TEST_F(Speculate, HeadRowsMeetTheReferenceInInterleavedSlots) {
  char *error = nullptr;
  ASSERT_EQ(qnext_session_enable_mtp(session, &error), 0) << take(error);
  // Slot 0 in chunks of 50, slot 1 in chunks of 13, one chunk each in turn;
  // after each chunk the head runs every row whose next token is known.
  const int64_t chunk[2] = {50, 13};
  int64_t at[2] = {0, 0};
  std::vector<float> rows[2];
  const int64_t total = int64_t(all.size());
  while (at[0] < total || at[1] < total)
    for (int64_t s = 0; s < 2; ++s) {
      if (at[s] >= total)
        continue;
      const int64_t n = std::min(chunk[s], total - at[s]);
      ASSERT_EQ(qnext_slot_prefill_last(session, s, all.data() + at[s], n, nullptr, &error),
                0)
          << take(error);
      at[s] += n;
      headRows(s, at[s], rows[s]);
    }
  for (int64_t s = 0; s < 2; ++s) {
    ASSERT_EQ(int64_t(rows[s].size()), (total - 1) * vocab);
    expectRows(rows[s], mtpReference, 0, "slot " + std::to_string(s));
  }
}

// The same through batched prefills: each call runs a run of 50 tokens of
// slot 0 and one of 13 of slot 1 (the main model's hidden rows of every
// run wait for the head in their slot, in order); a verify call's kept
// token in slot 0 runs before the next batched call.
TEST_F(Speculate, HeadRowsMeetTheReferenceAfterBatchedPrefills) {
  if (!qnext_model_has_prefill_batch(model))
    GTEST_SKIP() << "the artifact has no prefill_batch entry";
  char *error = nullptr;
  ASSERT_EQ(qnext_session_enable_mtp(session, &error), 0) << take(error);
  const int64_t chunk[2] = {50, 13};
  int64_t at[2] = {0, 0};
  std::vector<float> rows[2];
  const int64_t total = int64_t(all.size());
  bool verified = false;
  while (at[0] < total || at[1] < total) {
    std::vector<int64_t> slots, counts;
    std::vector<int32_t> ids;
    for (int64_t s = 0; s < 2; ++s) {
      const int64_t n = std::min(chunk[s], total - at[s]);
      if (n < 1)
        continue;
      slots.push_back(s);
      counts.push_back(n);
      ids.insert(ids.end(), all.begin() + at[s], all.begin() + at[s] + n);
    }
    ASSERT_EQ(qnext_session_prefill_batch(session, slots.data(), counts.data(), ids.data(),
                                          int64_t(slots.size()), nullptr, &error),
              0)
        << take(error);
    for (size_t i = 0; i < slots.size(); ++i) {
      at[slots[i]] += counts[i];
      headRows(slots[i], at[slots[i]], rows[slots[i]]);
    }
    if (!verified && at[0] + 3 < total) {
      // Slot 0 keeps the first of two tokens; the kept one waits and runs
      // at the start of the next batched call.
      verified = true;
      const int32_t wrong = (all[size_t(at[0] + 1)] + 1) % int32_t(vocab);
      const int32_t step[2] = {all[size_t(at[0])], wrong};
      std::vector<float> logits(static_cast<size_t>(2 * vocab));
      ASSERT_EQ(qnext_slot_verify(session, 0, step, 2, logits.data(), &error), 0)
          << take(error);
      ASSERT_EQ(qnext_slot_accept(session, 0, 1, &error), 0) << take(error);
      at[0] += 1;
      headRows(0, at[0], rows[0]);
    }
  }
  ASSERT_TRUE(verified);
  for (int64_t s = 0; s < 2; ++s) {
    ASSERT_EQ(int64_t(rows[s].size()), (total - 1) * vocab);
    expectRows(rows[s], mtpReference, 0, "slot " + std::to_string(s));
  }
}

TEST_F(Speculate, RejectedDraftsLeaveTheSlotAsTheAcceptedTokensAlone) {
  char *error = nullptr;
  const int64_t p = int64_t(prompt.size());
  for (int64_t s = 0; s < 2; ++s)
    ASSERT_EQ(qnext_slot_prefill_last(session, s, prompt.data(), p, nullptr, &error), 0)
        << take(error);
  // Slot 0 verifies the first generated token, the second, and a wrong
  // third; keeps two. Slot 1 runs those two alone, as one prompt.
  const int32_t wrong = (generated[2] + 1) % int32_t(vocab);
  const int32_t step[4] = {generated[0], generated[1], wrong, wrong};
  std::vector<float> rows(static_cast<size_t>(4 * vocab));
  ASSERT_EQ(qnext_slot_verify(session, 0, step, 4, rows.data(), &error), 0) << take(error);
  // The verify's rows are the golden rows of those positions.
  std::vector<float> firstTwo(rows.begin(), rows.begin() + 2 * vocab);
  expectRows(firstTwo, reference, p, "verify");
  EXPECT_EQ(qnext_slot_position(session, 0), p + 4);
  ASSERT_EQ(qnext_slot_accept(session, 0, 2, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(session, 0), p + 2);
  // The kept tokens run again in slot 0's next call, before its token: as
  // slot 1 runs the three as one prompt.
  std::vector<float> a(static_cast<size_t>(vocab)), b(static_cast<size_t>(vocab));
  const int32_t three[3] = {generated[0], generated[1], generated[2]};
  ASSERT_EQ(qnext_slot_decode(session, 0, generated[2], a.data(), &error), 0) << take(error);
  ASSERT_EQ(qnext_slot_prefill_last(session, 1, three, 3, b.data(), &error), 0)
      << take(error);
  ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  expectRows(a, reference, p + 2, "after the rollback");

  // The next steps of both, to the bit.
  for (size_t i = 3; i < generated.size(); ++i) {
    ASSERT_EQ(qnext_slot_decode(session, 0, generated[i], a.data(), &error), 0) << take(error);
    ASSERT_EQ(qnext_slot_decode(session, 1, generated[i], b.data(), &error), 0) << take(error);
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0)
        << "logits after generated token " << i;
    expectRows(a, reference, p + int64_t(i), "after the rollback");
  }
}

TEST_F(Speculate, KeptTokensRunBeforeABatchedStepAndASnapshot) {
  char *error = nullptr;
  const int64_t p = int64_t(prompt.size());
  for (int64_t s = 0; s < 2; ++s)
    ASSERT_EQ(qnext_slot_prefill_last(session, s, prompt.data(), p, nullptr, &error), 0)
        << take(error);
  // Slot 0 keeps one token of three; slot 1 runs that token alone.
  const int32_t wrong = (generated[1] + 1) % int32_t(vocab);
  const int32_t step[3] = {generated[0], wrong, wrong};
  std::vector<float> rows(static_cast<size_t>(3 * vocab));
  ASSERT_EQ(qnext_slot_verify(session, 0, step, 3, rows.data(), &error), 0) << take(error);
  ASSERT_EQ(qnext_slot_accept(session, 0, 1, &error), 0) << take(error);
  ASSERT_EQ(qnext_slot_prefill_last(session, 1, step, 1, nullptr, &error), 0) << take(error);
  // A batched step of both: slot 0's kept token runs first, alone, so the
  // two rows are one computation.
  ASSERT_EQ(qnext_model_has_decode_batch(model), 1);
  const int64_t both[2] = {0, 1};
  const int32_t ids[2] = {generated[1], generated[1]};
  ASSERT_EQ(qnext_session_decode_batch(session, both, ids, 2, rows.data(), &error), 0)
      << take(error);
  EXPECT_EQ(std::memcmp(rows.data(), rows.data() + vocab, size_t(vocab) * sizeof(float)), 0);
  std::vector<float> row0(rows.begin(), rows.begin() + vocab);
  expectRows(row0, reference, p + 1, "batched after the rollback");

  // A snapshot taken with kept tokens pending holds them computed.
  ASSERT_EQ(qnext_slot_verify(session, 0, generated.data() + 2, 3, rows.data(), &error), 0)
      << take(error);
  ASSERT_EQ(qnext_slot_accept(session, 0, 2, &error), 0) << take(error);
  const int64_t position = qnext_slot_position(session, 0);
  EXPECT_EQ(position, p + 4);
  std::vector<char> snapshot(size_t(qnext_snapshot_size(session, position)));
  ASSERT_EQ(qnext_slot_save(session, 0, snapshot.data(), int64_t(snapshot.size()), &error), 0)
      << take(error);
  ASSERT_EQ(qnext_slot_restore(session, 1, snapshot.data(), int64_t(snapshot.size()), &error),
            0)
      << take(error);
  std::vector<float> a(static_cast<size_t>(vocab)), b(static_cast<size_t>(vocab));
  ASSERT_EQ(qnext_slot_decode(session, 0, generated[4], a.data(), &error), 0) << take(error);
  ASSERT_EQ(qnext_slot_decode(session, 1, generated[4], b.data(), &error), 0) << take(error);
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  expectRows(a, reference, p + 4, "after the snapshot");
}

TEST_F(Speculate, EveryDraftAcceptedKeepsTheVerifyCall) {
  char *error = nullptr;
  const int64_t p = int64_t(prompt.size());
  ASSERT_EQ(qnext_slot_prefill_last(session, 0, prompt.data(), p, nullptr, &error), 0)
      << take(error);
  std::vector<float> rows(static_cast<size_t>(3 * vocab));
  ASSERT_EQ(qnext_slot_verify(session, 0, generated.data(), 3, rows.data(), &error), 0)
      << take(error);
  expectRows(rows, reference, p, "verify");
  ASSERT_EQ(qnext_slot_accept(session, 0, 3, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(session, 0), p + 3);
  std::vector<float> next(static_cast<size_t>(vocab));
  ASSERT_EQ(qnext_slot_decode(session, 0, generated[3], next.data(), &error), 0)
      << take(error);
  expectRows(next, reference, p + 3, "after the verify");
}

TEST_F(Speculate, MisuseIsRefusedInOneLine) {
  char *error = nullptr;
  int32_t drafts[2];
  float row[512];
  ASSERT_LE(vocab, 512);
  // The head's calls before the session keeps its rows.
  EXPECT_EQ(qnext_slot_mtp(session, 0, 1, row, 0, &error), 1);
  EXPECT_EQ(take(error), "the session does not keep the MTP head's rows "
                         "(qnext_session_enable_mtp first)");
  EXPECT_EQ(qnext_slot_mtp_pending(session, 0), -1);
  ASSERT_EQ(qnext_session_enable_mtp(session, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_draft(session, 0, 1, 2, drafts, &error), 1);
  EXPECT_EQ(take(error), "slot 0: no hidden rows wait for the MTP head (run the main "
                         "model first)");
  EXPECT_EQ(qnext_slot_mtp(session, 0, -1, row, 0, &error), 0); // nothing to do
  EXPECT_EQ(qnext_slot_draft(session, 0, 1, 0, drafts, &error), 1);
  EXPECT_EQ(take(error), "drafts: k must be at least 1 (got 0)");
  EXPECT_EQ(qnext_slot_mtp(session, 5, 1, row, 0, &error), 1);
  EXPECT_EQ(take(error), "slot 5 does not exist (the session has 2)");

  ASSERT_EQ(qnext_slot_prefill_last(session, 0, prompt.data(), 4, nullptr, &error), 0)
      << take(error);
  EXPECT_EQ(qnext_slot_mtp_pending(session, 0), 4);
  EXPECT_EQ(qnext_slot_mtp(session, 0, int32_t(vocab), row, 0, &error), 1);
  EXPECT_EQ(take(error), "token id " + std::to_string(vocab) +
                             " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  EXPECT_EQ(qnext_slot_mtp_pending(session, 0), 4); // nothing consumed

  EXPECT_EQ(qnext_slot_accept(session, 0, 1, &error), 1);
  EXPECT_EQ(take(error), "slot 0: no verify call to accept tokens of");
  const int32_t step[2] = {prompt[4], prompt[5]};
  std::vector<float> rows(static_cast<size_t>(2 * vocab));
  ASSERT_EQ(qnext_slot_verify(session, 0, step, 2, rows.data(), &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_accept(session, 0, 3, &error), 1);
  EXPECT_EQ(take(error), "slot 0: accepted 3 tokens of a verify call of 2 (1 to 2)");
  EXPECT_EQ(qnext_slot_accept(session, 0, 0, &error), 1);
  EXPECT_EQ(take(error), "slot 0: accepted 0 tokens of a verify call of 2 (1 to 2)");
  ASSERT_EQ(qnext_slot_accept(session, 0, 1, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(session, 0), 5);
  EXPECT_EQ(qnext_slot_mtp_pending(session, 0), 5);
  EXPECT_EQ(qnext_slot_accept(session, 0, 1, &error), 1); // once per verify
  EXPECT_EQ(take(error), "slot 0: no verify call to accept tokens of");

  // Sizes checked before anything is read or run (the session holds 256).
  EXPECT_EQ(qnext_slot_verify(session, 0, step, 0, rows.data(), &error), 1);
  EXPECT_EQ(take(error), "verify: no tokens to process");
  EXPECT_EQ(qnext_slot_verify(session, 0, step, int64_t(1) << 60, rows.data(), &error), 1);
  EXPECT_EQ(take(error), "context full: 5 + 1152921504606846976 tokens exceed the "
                         "session's 256 (--max-context)");
  EXPECT_EQ(qnext_slot_draft(session, 0, 1, 300, drafts, &error), 1);
  EXPECT_EQ(take(error), "context full: 300 drafts after 5 tokens exceed the session's 256 "
                         "(--max-context)");
  EXPECT_EQ(qnext_slot_mtp_pending(session, 0), 5); // nothing consumed

  // A verify call's undo is for the call right after it: a second verify
  // is refused until it is accepted, and any other call ends it.
  ASSERT_EQ(qnext_slot_verify(session, 0, step, 2, rows.data(), &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_verify(session, 0, step, 2, rows.data(), &error), 1);
  EXPECT_EQ(take(error), "slot 0: the last verify call's tokens are not accepted yet "
                         "(qnext_slot_accept first)");
  ASSERT_EQ(qnext_slot_decode(session, 0, prompt[7], row, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_accept(session, 0, 1, &error), 1);
  EXPECT_EQ(take(error), "slot 0: no verify call to accept tokens of");
  EXPECT_EQ(qnext_slot_position(session, 0), 8);
}

} // namespace
