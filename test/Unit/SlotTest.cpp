//===- SlotTest.cpp - sequence slots of a session, through the C API ------===//
//
// A session of several slots runs several sequences whose calls interleave;
// each slot's logits meet the golden contract (../shared/golden/README.md)
// as if it ran alone: prompts cut into different chunks, slots at other
// positions, a slot reset mid-way, a slot forked from another. The
// artifact is compiled by the ctest fixture `slot-artifact`
// (test/Unit/CMakeLists.txt) into QNEXT_SLOT_ARTIFACT.
//
//===----------------------------------------------------------------------===//

#include "RuntimeTestSupport.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

using qnext::test::readIds;
using qnext::test::take;

class Slots : public ::testing::Test {
protected:
  void SetUp() override {
    const char *artifact = std::getenv("QNEXT_SLOT_ARTIFACT");
    const std::string golden = std::string(QNEXT_GOLDEN_DIR) + "/tiny-f32";
    if (!artifact || !std::ifstream(artifact).good())
      GTEST_SKIP() << "no artifact in QNEXT_SLOT_ARTIFACT (the ctest fixture "
                      "slot-artifact compiles " << golden << " when it exists)";
    prompt = readIds(golden + "/prompt.txt");
    generated = readIds(golden + "/generated.txt");
    std::ifstream ref(golden + "/ref_logits.f32", std::ios::binary);
    std::stringstream bytes;
    bytes << ref.rdbuf();
    reference.resize(bytes.str().size() / sizeof(float));
    std::memcpy(reference.data(), bytes.str().data(), reference.size() * sizeof(float));
    char *error = nullptr;
    model = qnext_model_open(artifact, &error);
    ASSERT_NE(model, nullptr) << take(error);
    vocab = qnext_model_vocab_size(model);
    ASSERT_EQ(int64_t(reference.size()), int64_t(prompt.size() + generated.size()) * vocab);
  }
  void TearDown() override {
    if (session)
      qnext_session_destroy(session);
    if (model)
      qnext_model_close(model);
  }

  void create(int64_t slots) {
    char *error = nullptr;
    session = qnext_session_create_slots(model, 256, slots, &error);
    ASSERT_NE(session, nullptr) << take(error);
  }

  int64_t acquire() {
    char *error = nullptr;
    int64_t slot = qnext_slot_acquire(session, &error);
    EXPECT_GE(slot, 0) << take(error);
    return slot;
  }

  /// Rows `rows` (vocab each) against reference rows [first, ...): the
  /// golden contract, each row within 1e-3 and with the same argmax.
  void expectRows(const std::vector<float> &rows, int64_t first, const std::string &what) {
    const int64_t n = int64_t(rows.size()) / vocab;
    for (int64_t r = 0; r < n; ++r) {
      const float *got = rows.data() + r * vocab;
      const float *want = reference.data() + (first + r) * vocab;
      double worst = 0;
      for (int64_t i = 0; i < vocab; ++i)
        worst = std::max(worst, std::isnan(got[i]) ? INFINITY
                                                   : std::fabs(double(got[i]) - want[i]));
      EXPECT_LE(worst, 1e-3) << what << ": row " << first + r;
      EXPECT_EQ(std::max_element(got, got + vocab) - got,
                std::max_element(want, want + vocab) - want)
          << what << ": row " << first + r;
    }
  }

  /// One sequence on a slot: the golden prompt in chunks of `chunk`, then
  /// greedy decoding, one call per step() so that sequences interleave.
  struct Sequence {
    Sequence(int64_t slot, int64_t chunk) : slot(slot), chunk(chunk) {}
    int64_t slot, chunk, at = 0;
    size_t decoded = 0;
    std::vector<float> last;
  };

  /// Runs `s`'s next call and checks its rows; false once it is done.
  bool step(Sequence &s, const std::string &what) {
    const int64_t p = int64_t(prompt.size());
    char *error = nullptr;
    if (s.at < p) {
      const int64_t n = std::min(s.chunk, p - s.at);
      std::vector<float> rows(size_t(n * vocab));
      EXPECT_EQ(qnext_slot_prefill(session, s.slot, prompt.data() + s.at, n, rows.data(),
                                   &error),
                0)
          << take(error);
      expectRows(rows, s.at, what + " prefill");
      s.last.assign(rows.end() - vocab, rows.end());
      s.at += n;
      EXPECT_EQ(qnext_slot_position(session, s.slot), s.at) << what;
      return true;
    }
    if (s.decoded == generated.size())
      return false;
    const int32_t next = int32_t(std::max_element(s.last.begin(), s.last.end()) - s.last.begin());
    EXPECT_EQ(next, generated[s.decoded]) << what << ": generated token " << s.decoded;
    std::vector<float> row(static_cast<size_t>(vocab));
    EXPECT_EQ(qnext_slot_decode(session, s.slot, next, row.data(), &error), 0) << take(error);
    expectRows(row, p + int64_t(s.decoded), what + " decode");
    s.last = row;
    ++s.decoded;
    return true;
  }

  qnext_model *model = nullptr;
  qnext_session *session = nullptr;
  int64_t vocab = 0;
  std::vector<int32_t> prompt, generated;
  std::vector<float> reference;
};

// Three sequences, calls interleaved: prompts in chunks of 7, 64 and 150
// (the slots reach positions straddling 64 at different calls), the third
// starting after the others have run; each meets the golden contract.
TEST_F(Slots, InterleavedSequencesEachMeetTheGoldenContract) {
  create(3);
  Sequence a{acquire(), 7}, b{acquire(), 64}, c{acquire(), 150};
  ASSERT_EQ(a.slot, 0);
  ASSERT_EQ(b.slot, 1);
  ASSERT_EQ(c.slot, 2);
  for (int i = 0; i < 5; ++i) {
    step(a, "slot 0 (chunks of 7)");
    step(b, "slot 1 (chunks of 64)");
  }
  bool more = true;
  while (more) {
    more = step(a, "slot 0 (chunks of 7)");
    more = step(b, "slot 1 (chunks of 64)") || more;
    more = step(c, "slot 2 (one prefill)") || more;
  }
  EXPECT_EQ(qnext_slot_position(session, 0),
            int64_t(prompt.size() + generated.size()));
}

// A slot reset mid-sequence starts over, and the sequence beside it does not
// notice: both meet the contract.
TEST_F(Slots, AResetSlotStartsOverAndLeavesTheOthers) {
  create(2);
  Sequence a{acquire(), 16}, b{acquire(), 32};
  for (int i = 0; i < 3; ++i) {
    step(a, "slot 0");
    step(b, "slot 1 before its reset");
  }
  char *error = nullptr;
  ASSERT_EQ(qnext_slot_reset(session, b.slot, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(session, b.slot), 0);
  b = Sequence{b.slot, 32};
  bool more = true;
  while (more) {
    more = step(b, "slot 1 after its reset");
    more = step(a, "slot 0") || more;
  }
}

// A fork: slot 1 becomes a copy of slot 0 part-way through the prompt (its
// caches, states and position); both continue to the golden rows.
TEST_F(Slots, ACopiedSlotContinuesAsTheOriginal) {
  create(2);
  Sequence a{acquire(), 40};
  int64_t other = acquire();
  // Something to overwrite in the copy's target.
  char *error = nullptr;
  std::vector<int32_t> noise = {5, 6, 7};
  ASSERT_EQ(qnext_slot_prefill(session, other, noise.data(), 3, nullptr, &error), 0)
      << take(error);
  step(a, "slot 0");
  step(a, "slot 0");
  ASSERT_EQ(qnext_slot_copy(session, a.slot, other, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(session, other), 80);
  Sequence b = a;
  b.slot = other;
  bool more = true;
  while (more) {
    more = step(a, "slot 0 (original)");
    more = step(b, "slot 1 (the copy)") || more;
  }
}

// A snapshot: slot 0's sequence saved part-way through the prompt, the
// slot then running on (its caches overwritten); restored into another
// session's slot and into slot 0 itself, both continue to the golden rows.
// The snapshot holds the KV rows so far, not the capacity's.
TEST_F(Slots, ASnapshotRestoredContinuesAsTheOriginal) {
  create(2);
  Sequence a{acquire(), 40};
  step(a, "slot 0");
  step(a, "slot 0");
  ASSERT_EQ(qnext_slot_position(session, a.slot), 80);
  const int64_t bytes = qnext_snapshot_size(session, 80);
  ASSERT_GT(bytes, 0);
  // Per token, the KV rows: a snapshot of 81 tokens is larger, one of the
  // whole context larger still, and 80 tokens take less than the slot.
  const int64_t perToken = qnext_snapshot_size(session, 81) - bytes;
  EXPECT_GT(perToken, 0);
  EXPECT_EQ(qnext_snapshot_size(session, 256), bytes + perToken * (256 - 80));
  EXPECT_LT(bytes, qnext_session_state_bytes(session) / 2);
  EXPECT_EQ(qnext_snapshot_size(session, 257), -1);
  EXPECT_EQ(qnext_snapshot_size(session, -1), -1);
  std::vector<uint8_t> snapshot(static_cast<size_t>(bytes));
  char *error = nullptr;
  ASSERT_EQ(qnext_slot_save(session, a.slot, snapshot.data(), bytes, &error), 0)
      << take(error);
  Sequence saved = a;
  while (step(a, "slot 0 (saved)")) {
  }
  // Into a fresh session's slot holding something else.
  qnext_session *other = qnext_session_create(model, 256, &error);
  ASSERT_NE(other, nullptr) << take(error);
  std::vector<int32_t> noise = {5, 6, 7};
  ASSERT_EQ(qnext_slot_prefill(other, 0, noise.data(), 3, nullptr, &error), 0) << take(error);
  ASSERT_EQ(qnext_slot_restore(other, 0, snapshot.data(), bytes, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(other, 0), 80);
  std::swap(session, other);
  Sequence b = saved;
  b.slot = 0;
  while (step(b, "another session's slot, restored")) {
  }
  std::swap(session, other);
  qnext_session_destroy(other);
  // Into slot 0 itself, after it ran on.
  ASSERT_EQ(qnext_slot_restore(session, a.slot, snapshot.data(), bytes, &error), 0)
      << take(error);
  Sequence c = saved;
  while (step(c, "slot 0 restored")) {
  }
}

// A snapshot that does not fit is refused in one line, the slot untouched.
TEST_F(Slots, ABadSnapshotIsRefused) {
  create(1);
  const int64_t slot = acquire();
  std::vector<int32_t> ids = {1, 2, 3};
  char *error = nullptr;
  ASSERT_EQ(qnext_slot_prefill(session, slot, ids.data(), 3, nullptr, &error), 0)
      << take(error);
  const int64_t bytes = qnext_snapshot_size(session, 3);
  std::vector<uint8_t> snapshot(static_cast<size_t>(bytes));
  EXPECT_EQ(qnext_slot_save(session, slot, snapshot.data(), bytes - 1, &error), 1);
  EXPECT_EQ(take(error), "slot 0 holds 3 tokens: its snapshot takes " +
                             std::to_string(bytes) + " bytes, given " +
                             std::to_string(bytes - 1));
  ASSERT_EQ(qnext_slot_save(session, slot, snapshot.data(), bytes, &error), 0) << take(error);
  auto refused = [&](const std::vector<uint8_t> &s, int64_t size) {
    char *why = nullptr;
    EXPECT_EQ(qnext_slot_restore(session, slot, s.data(), size, &why), 1);
    EXPECT_EQ(qnext_slot_position(session, slot), 3);
    return take(why);
  };
  EXPECT_EQ(refused(snapshot, bytes - 4),
            "a snapshot of 3 tokens is " + std::to_string(bytes) + " bytes, not " +
                std::to_string(bytes - 4));
  std::vector<uint8_t> bad = snapshot;
  bad[0] = 'X';
  EXPECT_EQ(refused(bad, bytes), "not a snapshot (qnext_slot_save writes one)");
  bad = snapshot;
  bad[9] ^= 1;
  EXPECT_EQ(refused(bad, bytes),
            "the snapshot is of another model (its ABI fingerprint differs)");
  bad = snapshot;
  int64_t tooMany = 1000;
  std::memcpy(bad.data() + 16, &tooMany, 8);
  EXPECT_EQ(refused(bad, bytes),
            "the snapshot holds 1000 tokens, more than the session's 256 (--max-context)");
  EXPECT_EQ(qnext_slot_restore(session, 4, snapshot.data(), bytes, &error), 1);
  EXPECT_EQ(take(error), "slot 4 does not exist (the session has 1)");
}

// Acquiring, releasing and naming slots: each misuse is one line, nothing
// runs; a released slot is free for the next acquire, emptied.
TEST_F(Slots, AcquireReleaseAndMisuse) {
  char *error = nullptr;
  EXPECT_EQ(qnext_session_create_slots(model, 256, 0, &error), nullptr);
  EXPECT_EQ(take(error), "a session needs at least one slot, got 0");
  error = nullptr;
  qnext_session *one = qnext_session_create(model, 256, &error);
  ASSERT_NE(one, nullptr) << take(error);
  const int64_t slotBytes = qnext_session_state_bytes(one);
  EXPECT_EQ(qnext_session_slots(one), 1);
  EXPECT_EQ(qnext_slot_position(one, 0), 0); // slot 0 in use from creation
  EXPECT_EQ(qnext_slot_acquire(one, &error), -1);
  EXPECT_EQ(take(error), "all 1 slots are in use (qnext_slot_release frees one)");
  qnext_session_destroy(one);

  create(2);
  EXPECT_EQ(qnext_session_state_bytes(session), 2 * slotBytes);
  EXPECT_EQ(qnext_slot_position(session, 0), -1); // free
  error = nullptr;
  std::vector<int32_t> ids = {1, 2, 3};
  EXPECT_EQ(qnext_slot_prefill(session, 0, ids.data(), 3, nullptr, &error), 1);
  EXPECT_EQ(take(error), "slot 0 is not in use (qnext_slot_acquire gives one)");
  error = nullptr;
  EXPECT_EQ(qnext_slot_decode(session, 2, 1, nullptr, &error), 1);
  EXPECT_EQ(take(error), "slot 2 does not exist (the session has 2)");
  error = nullptr;
  EXPECT_EQ(qnext_slot_decode(session, -1, 1, nullptr, &error), 1);
  EXPECT_EQ(take(error), "slot -1 does not exist (the session has 2)");
  int64_t s0 = acquire(), s1 = acquire();
  ASSERT_EQ(s0, 0);
  ASSERT_EQ(s1, 1);
  error = nullptr;
  ASSERT_EQ(qnext_slot_prefill(session, s1, ids.data(), 3, nullptr, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_position(session, s1), 3);
  EXPECT_EQ(qnext_slot_copy(session, s0, 5, &error), 1);
  EXPECT_EQ(take(error), "slot 5 does not exist (the session has 2)");
  error = nullptr;
  ASSERT_EQ(qnext_slot_release(session, s1, &error), 0) << take(error);
  EXPECT_EQ(qnext_slot_release(session, s1, &error), 1);
  EXPECT_EQ(take(error), "slot 1 is not in use (qnext_slot_acquire gives one)");
  // Released and acquired again: empty, and it runs the golden prompt.
  EXPECT_EQ(acquire(), 1);
  EXPECT_EQ(qnext_slot_position(session, 1), 0);
  Sequence b{1, 150};
  while (step(b, "slot 1 acquired again")) {
  }
  // Refused up front: more slots than half the machine's memory holds.
  error = nullptr;
  EXPECT_EQ(qnext_session_create_slots(model, 256, int64_t(1) << 40, &error), nullptr);
  std::string message = take(error);
  EXPECT_NE(message.find("max context 256 for 1099511627776 slots needs"), std::string::npos)
      << message;
  EXPECT_NE(message.find("more than half of this machine's memory"), std::string::npos)
      << message;
}

// Batched decode steps (qnext_session_decode_batch): four sequences at
// different positions (their prompts fed to 10, 63, 64 and 100 tokens, so
// the rows straddle 64), stepped together with the rows in a scrambled slot
// order; a step of three rows and one of one row in between; a slot reset
// mid-way, prefilled again in chunks of 7 between the other slots' batched
// steps, then back in the batch. Each row is the token of the golden
// sequence at that slot's position (prompt then generated tokens), so each
// meets the golden row of that position, as the slot alone would.
TEST_F(Slots, BatchedDecodeRowsEachMeetTheGoldenContract) {
  if (!qnext_model_has_decode_batch(model))
    GTEST_SKIP() << "the artifact has no decode_batch entry";
  std::vector<int32_t> tokens = prompt;
  tokens.insert(tokens.end(), generated.begin(), generated.end());
  const int64_t total = int64_t(tokens.size());
  create(4);
  char *error = nullptr;
  const int64_t fed[4] = {10, 63, 64, 100};
  for (int64_t i = 0; i < 4; ++i) {
    ASSERT_EQ(acquire(), i);
    ASSERT_EQ(qnext_slot_prefill(session, i, tokens.data(), fed[i], nullptr, &error), 0)
        << take(error);
  }
  // One step of `rows`: each slot's next golden token, its row checked.
  auto stepRows = [&](std::vector<int64_t> rows, const std::string &what) {
    std::vector<int32_t> ids;
    std::vector<int64_t> at;
    for (int64_t slot : rows) {
      at.push_back(qnext_slot_position(session, slot));
      ids.push_back(tokens[size_t(at.back())]);
    }
    std::vector<float> logits(rows.size() * size_t(vocab));
    ASSERT_EQ(qnext_session_decode_batch(session, rows.data(), ids.data(), int64_t(rows.size()),
                                         logits.data(), &error),
              0)
        << take(error);
    for (size_t r = 0; r < rows.size(); ++r) {
      std::vector<float> row(logits.begin() + long(r) * vocab,
                             logits.begin() + long(r + 1) * vocab);
      expectRows(row, at[r], what + ", row " + std::to_string(r) + " (slot " +
                                 std::to_string(rows[r]) + ")");
      EXPECT_EQ(qnext_slot_position(session, rows[r]), at[r] + 1);
    }
  };
  for (int i = 0; i < 6; ++i)
    stepRows({2, 0, 3, 1}, "step " + std::to_string(i));
  stepRows({1, 3, 0}, "a step of three rows");
  stepRows({2}, "a step of one row");
  ASSERT_EQ(qnext_slot_reset(session, 1, &error), 0) << take(error);
  for (int64_t i = 0; i < 3; ++i) {
    std::vector<float> rows(size_t(7 * vocab));
    ASSERT_EQ(qnext_slot_prefill(session, 1, tokens.data() + 7 * i, 7, rows.data(), &error), 0)
        << take(error);
    expectRows(rows, 7 * i, "slot 1's prefill after its reset, chunk " + std::to_string(i));
    stepRows({2, 0, 3}, "beside slot 1's prefill, step " + std::to_string(i));
  }
  for (int i = 0; i < 8; ++i)
    stepRows({1, 2, 0, 3}, "after slot 1's reset, step " + std::to_string(i));
  // To the end of the golden sequence.
  while (qnext_slot_position(session, 3) < total)
    stepRows({3, 0}, "slots 3 and 0 to the end");
  EXPECT_EQ(qnext_slot_position(session, 1), 29);
  EXPECT_EQ(qnext_slot_position(session, 0), total - 90);
}

// A refused batch names its row, runs nothing and moves no slot.
TEST_F(Slots, ARefusedBatchNamesItsRowAndMovesNoSlot) {
  if (!qnext_model_has_decode_batch(model))
    GTEST_SKIP() << "the artifact has no decode_batch entry";
  create(3);
  char *error = nullptr;
  for (int64_t i = 0; i < 2; ++i)
    ASSERT_EQ(acquire(), i);
  std::vector<int32_t> ids = {1, 2, 3, 4};
  auto refused = [&](std::vector<int64_t> rows, const std::string &message) {
    EXPECT_EQ(qnext_session_decode_batch(session, rows.data(), ids.data(), int64_t(rows.size()),
                                         nullptr, &error),
              1);
    EXPECT_EQ(take(error), message);
    error = nullptr;
    EXPECT_EQ(qnext_slot_position(session, 0), 0);
    EXPECT_EQ(qnext_slot_position(session, 1), 0);
  };
  refused({0, 0}, "row 1: slot 0 appears twice in the batch (one token per sequence a step)");
  refused({0, 2}, "row 1: slot 2 is not in use (qnext_slot_acquire gives one)");
  refused({1, 7}, "row 1: slot 7 does not exist (the session has 3)");
  refused({0, 1, 2, 0}, "a batch of 4 rows, more than the session's 3 slots");
  refused({}, "a batched decode step needs at least one row, got 0");
  refused({5}, "row 0: slot 5 does not exist (the session has 3)"); // the decode entry's
  EXPECT_EQ(qnext_session_decode_batch(session, nullptr, ids.data(), 2, nullptr, &error), 1);
  EXPECT_EQ(take(error), "a batched decode step of 2 rows: no slots");
  error = nullptr;
  const int64_t rows[2] = {0, 1};
  EXPECT_EQ(qnext_session_decode_batch(session, rows, nullptr, 2, nullptr, &error), 1);
  EXPECT_EQ(take(error), "a batched decode step of 2 rows: no token ids");
  error = nullptr;
  ids[1] = int32_t(vocab);
  refused({0, 1}, "row 1: token id " + std::to_string(vocab) +
                      " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  // A slot with no room left (the session's 256 positions used).
  ids[1] = 2;
  std::vector<int32_t> fill(256, 3);
  ASSERT_EQ(qnext_slot_prefill(session, 1, fill.data(), 256, nullptr, &error), 0) << take(error);
  EXPECT_EQ(qnext_session_decode_batch(session, rows, ids.data(), 2, nullptr, &error), 1);
  EXPECT_EQ(take(error), "row 1: context full: slot 1 holds 256 tokens, the session's 256 "
                         "(--max-context)");
  EXPECT_EQ(qnext_slot_position(session, 0), 0);
}

// Runs of tokens of several sequences in one call (prompt chunks of 1 to 100
// tokens and one-token steps, slots at positions straddling 64, a slot reset
// between calls, calls beside batched decode steps): each run's last row
// meets the golden contract.
TEST_F(Slots, BatchedPrefillRunsEachMeetTheGoldenContract) {
  if (!qnext_model_has_prefill_batch(model))
    GTEST_SKIP() << "the artifact has no prefill_batch entry";
  std::vector<int32_t> tokens = prompt;
  tokens.insert(tokens.end(), generated.begin(), generated.end());
  const int64_t total = int64_t(tokens.size());
  create(4);
  char *error = nullptr;
  for (int64_t i = 0; i < 4; ++i)
    ASSERT_EQ(acquire(), i);
  // One call: slot slots[i] takes its next counts[i] golden tokens (fewer
  // when the sequence ends sooner; a slot at the end sits out).
  auto runs = [&](std::vector<int64_t> slots, std::vector<int64_t> counts,
                  const std::string &what) {
    std::vector<int64_t> taken, at, n;
    std::vector<int32_t> ids;
    for (size_t i = 0; i < slots.size(); ++i) {
      const int64_t position = qnext_slot_position(session, slots[i]);
      const int64_t count = std::min(counts[i], total - position);
      if (count < 1)
        continue;
      taken.push_back(slots[i]);
      at.push_back(position);
      n.push_back(count);
      ids.insert(ids.end(), tokens.begin() + position, tokens.begin() + position + count);
    }
    if (taken.empty())
      return;
    std::vector<float> logits(taken.size() * size_t(vocab));
    ASSERT_EQ(qnext_session_prefill_batch(session, taken.data(), n.data(), ids.data(),
                                          int64_t(taken.size()), logits.data(), &error),
              0)
        << what << ": " << take(error);
    for (size_t r = 0; r < taken.size(); ++r) {
      std::vector<float> row(logits.begin() + long(r) * vocab,
                             logits.begin() + long(r + 1) * vocab);
      expectRows(row, at[r] + n[r] - 1,
                 what + ", sequence " + std::to_string(r) + " (slot " +
                     std::to_string(taken[r]) + ", " + std::to_string(n[r]) + " tokens)");
      EXPECT_EQ(qnext_slot_position(session, taken[r]), at[r] + n[r]) << what;
    }
  };
  runs({0, 1, 2, 3}, {7, 64, 1, 100}, "first call");
  runs({3, 1, 0, 2}, {1, 1, 60, 70}, "second call");
  runs({2, 0}, {1, 5}, "two sequences");
  ASSERT_EQ(qnext_slot_reset(session, 1, &error), 0) << take(error);
  runs({1, 0, 2, 3}, {33, 1, 1, 1}, "slot 1 after its reset");
  // Beside batched decode steps of the same slots.
  if (qnext_model_has_decode_batch(model))
    for (int i = 0; i < 3; ++i) {
      const std::vector<int64_t> rows = {0, 2, 3};
      std::vector<int32_t> ids;
      for (int64_t slot : rows)
        ids.push_back(tokens[size_t(qnext_slot_position(session, slot))]);
      ASSERT_EQ(qnext_session_decode_batch(session, rows.data(), ids.data(), 3, nullptr,
                                           &error),
                0)
          << take(error);
    }
  runs({1}, {40}, "one sequence (the prefill entry)");
  auto behind = [&] {
    for (int64_t slot = 0; slot < 4; ++slot)
      if (qnext_slot_position(session, slot) < total)
        return true;
    return false;
  };
  for (int i = 0; behind(); ++i)
    runs({0, 1, 2, 3}, {3, 9, 1, 2}, "to the end, call " + std::to_string(i));
  for (int64_t slot = 0; slot < 4; ++slot)
    EXPECT_EQ(qnext_slot_position(session, slot), total) << "slot " << slot;
}

// A refused batched prefill names its sequence, runs nothing and moves no
// slot.
TEST_F(Slots, ARefusedBatchedPrefillNamesItsSequenceAndMovesNoSlot) {
  if (!qnext_model_has_prefill_batch(model))
    GTEST_SKIP() << "the artifact has no prefill_batch entry";
  create(3);
  char *error = nullptr;
  for (int64_t i = 0; i < 2; ++i)
    ASSERT_EQ(acquire(), i);
  std::vector<int32_t> ids(300, 5);
  auto refused = [&](std::vector<int64_t> slots, std::vector<int64_t> counts,
                     const std::string &message) {
    EXPECT_EQ(qnext_session_prefill_batch(session, slots.data(), counts.data(), ids.data(),
                                          int64_t(slots.size()), nullptr, &error),
              1);
    EXPECT_EQ(take(error), message);
    error = nullptr;
    EXPECT_EQ(qnext_slot_position(session, 0), 0);
    EXPECT_EQ(qnext_slot_position(session, 1), 0);
  };
  refused({0, 0}, {2, 3},
          "sequence 1: slot 0 appears twice in the batch (one run of tokens per sequence)");
  refused({0, 2}, {2, 3}, "sequence 1: slot 2 is not in use (qnext_slot_acquire gives one)");
  refused({1, 7}, {2, 3}, "sequence 1: slot 7 does not exist (the session has 3)");
  refused({0, 1}, {2, 0}, "sequence 1: no tokens (0)");
  refused({0, 1}, {-4, 2}, "sequence 0: no tokens (-4)");
  refused({0, 1, 2, 0}, {1, 1, 1, 1}, "a batch of 4 sequences, more than the session's 3 slots");
  refused({}, {}, "a batched prefill needs at least one sequence, got 0");
  refused({1}, {0}, "sequence 0: no tokens (0)");
  refused({5}, {2}, "sequence 0: slot 5 does not exist (the session has 3)"); // prefill's
  refused({0, 1}, {2, 257},
          "sequence 1: context full: slot 1 holds 0 + 257 tokens, more than the session's "
          "256 (--max-context)");
  ids[4] = int32_t(vocab);
  refused({0, 1}, {2, 3},
          "sequence 1: token id " + std::to_string(vocab) + " (index 2) is outside the "
          "vocabulary [0, " + std::to_string(vocab) + ")");
  const int64_t slots[2] = {0, 1}, counts[2] = {1, 1};
  EXPECT_EQ(qnext_session_prefill_batch(session, nullptr, counts, ids.data(), 2, nullptr,
                                        &error),
            1);
  EXPECT_EQ(take(error), "a batched prefill of 2 sequences: no slots");
  error = nullptr;
  EXPECT_EQ(qnext_session_prefill_batch(session, slots, nullptr, ids.data(), 2, nullptr,
                                        &error),
            1);
  EXPECT_EQ(take(error), "a batched prefill of 2 sequences: no token counts");
  error = nullptr;
  EXPECT_EQ(qnext_session_prefill_batch(session, slots, counts, nullptr, 2, nullptr, &error),
            1);
  EXPECT_EQ(take(error), "a batched prefill of 2 sequences: no token ids");
  error = nullptr;
  // A call's tokens in all: at most the context or 8192, the larger.
  qnext_session *wide = qnext_session_create_slots(model, 4096, 3, &error);
  ASSERT_NE(wide, nullptr) << take(error);
  for (int64_t i = 0; i < 3; ++i)
    ASSERT_EQ(qnext_slot_acquire(wide, &error), i) << take(error);
  const std::vector<int32_t> many(8193, 5);
  const int64_t all[3] = {0, 1, 2}, sizes[3] = {4096, 4096, 1};
  EXPECT_EQ(qnext_session_prefill_batch(wide, all, sizes, many.data(), 3, nullptr, &error), 1);
  EXPECT_EQ(take(error), "sequence 2: the call's runs come to 8193 tokens so far, more than a "
                         "batched prefill takes (the session's 4096 or 8192, the larger)");
  EXPECT_EQ(qnext_slot_position(wide, 0), 0);
  qnext_session_destroy(wide);
}

} // namespace
