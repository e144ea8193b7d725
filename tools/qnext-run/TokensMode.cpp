//===- TokensMode.cpp - qnext-run --tokens: ids in, ids out ---------------===//
//
// Greedy unless sampling flags say otherwise, every id generated with no
// stop token (what numerics and benchmarks want); the logits of every
// processed row written (--logits-out) or compared (--reference-logits).
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "RuntimeTool.h"

#include "qnext/Generate.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>

#include <unistd.h>

using qnext::tool::fail;
using qnext::tool::format;

namespace qnext::run {

namespace {
/// RssAnon of /proc/self/status in KiB: the process's own memory, not the
/// pages of the mapped artifact.
int64_t anonymousKiB() {
  std::ifstream status("/proc/self/status"); // read as a stream: its size is 0
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("RssAnon:", 0) == 0)
      return std::stoll(line.substr(8));
  return -1;
}

/// Whether the artifact rounds its inputs to bf16 for its products
/// (qnext-compile --activations=bf16): the lower-precision contract.
bool roundsToBF16(qnext_model *model) {
  return std::string(qnext_model_activations(model)) == "bf16";
}

/// Compares the rows with --reference-logits; 0, or fail()'s status. The
/// weight-exact contract: every |d logit| within --tolerance, every argmax
/// equal. An artifact that rounds its inputs to bf16 is held to the
/// lower-precision contract of ../shared/golden/README.md instead: argmax
/// equal at >= 95 % of rows, mean |d logit| <= 0.1; the line says which.
/// Compares `logits` (rows of `vocab`) with the float32 rows of `path`;
/// `label` names them in the report ("reference", "MTP reference").
int compareWithReference(const RunOptions &o, const std::string &path,
                         const std::string &label, const std::vector<float> &logits,
                         int64_t vocab, bool lowerPrecision) {
  std::string bytes, error;
  if (!tool::readFile(path, bytes, error))
    return fail(error);
  const size_t rows = logits.size() / size_t(vocab);
  if (bytes.size() < rows * size_t(vocab) * sizeof(float))
    return fail(path + ": holds fewer than the " + std::to_string(rows) +
                " rows of " + std::to_string(vocab) + " logits processed");
  std::vector<float> reference(rows * size_t(vocab));
  std::copy_n(bytes.data(), reference.size() * sizeof(float),
              reinterpret_cast<char *>(reference.data()));
  double worst = 0, sum = 0;
  int64_t mismatches = 0;
  for (size_t r = 0; r < rows; ++r) {
    const float *got = logits.data() + r * vocab, *want = reference.data() + r * vocab;
    for (int64_t i = 0; i < vocab; ++i) {
      double d = std::isnan(got[i]) ? INFINITY : std::fabs(double(got[i]) - want[i]);
      worst = std::max(worst, d);
      sum += d;
    }
    mismatches += std::max_element(got, got + vocab) - got !=
                  std::max_element(want, want + vocab) - want;
  }
  const double mean = rows ? sum / double(rows * size_t(vocab)) : 0;
  const double agree = rows ? 100.0 * double(rows - mismatches) / double(rows) : 100;
  if (lowerPrecision) {
    std::cerr << label << format(" (bf16 inputs, the lower-precision contract: "
                        "argmax >= 95 %%, mean |d logit| <= 0.1): %zu rows, argmax "
                        "equal at %.1f %%, mean |d logit| %.3g, max %.3g\n",
                        rows, agree, mean, worst);
    if (!(agree >= 95.0) || !(mean <= 0.1))
      return fail("logits differ from " + path +
                  " beyond the lower-precision contract (--activations=bf16)");
    return 0;
  }
  std::cerr << label << format(": %zu rows, max |d logit| %.3g, %lld argmax "
                      "mismatches\n",
                      rows, worst, (long long)mismatches);
  if (!(worst <= o.tolerance) || mismatches)
    return fail("logits differ from " + path + " beyond " +
                std::to_string(o.tolerance));
  return 0;
}
} // namespace

int runTokens(const RunOptions &o, qnext_model *model, int threadsUsed) {
  char *error = nullptr;
  std::vector<int32_t> prompt;
  if (int rc = readTokens(o.tokens, prompt))
    return rc;
  const int64_t vocab = qnext_model_vocab_size(model);
  const int64_t p = int64_t(prompt.size());
  const int64_t maxPositions = qnext_model_max_position_embeddings(model);
  if (p > maxPositions)
    return fail("--tokens: " + std::to_string(p) + " tokens, beyond the model's " +
                std::to_string(maxPositions) + " positions (max_position_embeddings)");
  if (!o.maxContext && o.maxNew > maxPositions - p)
    return fail("prompt (" + std::to_string(p) + " tokens) + --max-new (" +
                std::to_string(o.maxNew) + ") exceed the model's " +
                std::to_string(maxPositions) + " positions (max_position_embeddings)");
  const int64_t context = o.maxContext ? o.maxContext : p + o.maxNew;
  if (o.maxNew > context - p)
    return fail("prompt (" + std::to_string(p) + " tokens) + --max-new (" +
                std::to_string(o.maxNew) + ") exceed --max-context " +
                std::to_string(context));
  std::unique_ptr<qnext_session, void (*)(qnext_session *)> session(
      qnext_session_create(model, context, &error), qnext_session_destroy);
  if (!session)
    return failWith(error);

  // Every processed row when they are written or compared. Allocated up
  // front, so that --memory measures the runtime, not this loop's
  // bookkeeping.
  const bool allRows = !o.logitsOut.empty() || !o.referenceLogits.empty();
  // Every row in memory: refused up front when that cannot fit (half of
  // this machine's memory), rather than aborted on.
  const uint64_t rowsBytes = uint64_t(p + o.maxNew) * uint64_t(vocab) * sizeof(float);
  const uint64_t physical = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
  if (allRows && (uint64_t(p + o.maxNew) > UINT64_MAX / 4 / uint64_t(vocab) ||
                  rowsBytes > physical / 2))
    return fail("--logits-out / --reference-logits: " + std::to_string(p + o.maxNew) +
                " rows of " + std::to_string(vocab) +
                " logits need more than half of this machine's memory");
  std::vector<float> logits;
  logits.reserve(size_t(allRows ? p + o.maxNew : 0) * vocab);
  std::vector<int32_t> generated, history;
  generated.reserve(o.maxNew);
  history.reserve(p + o.maxNew);
  int64_t afterPrefillKiB = 0;

  GenerationOptions options;
  options.maxNew = o.maxNew;
  options.prefillChunk = o.prefillChunk;
  options.onToken = [&](int32_t id, bool) { generated.push_back(id); };
  if (allRows)
    options.onLogits = [&](const float *row, int64_t size) {
      logits.insert(logits.end(), row, row + size);
    };
  if (o.memory)
    options.onPrefilled = [&] { afterPrefillKiB = anonymousKiB(); };
  // The MTP head's rows: one per token but the last of prompt + generated.
  const bool mtpRows = !o.mtpLogitsOut.empty() || !o.mtpReferenceLogits.empty();
  std::vector<float> mtpLogits;
  if (mtpRows) {
    if (!qnext_model_has_mtp(model))
      return fail("--mtp-logits-out / --mtp-reference-logits: " + o.artifact +
                  " has no MTP head (its checkpoint had no mtp.* tensors, or it was "
                  "compiled with --mtp=off)");
    mtpLogits.reserve(size_t(p + o.maxNew) * vocab);
    options.onMTPLogits = [&](const float *rows, int64_t n, int64_t size) {
      mtpLogits.insert(mtpLogits.end(), rows, rows + n * size);
    };
  }
  options.speculate = o.speculate;
  std::vector<int32_t> drafts;
  if (!o.speculateDrafts.empty()) {
    if (int rc = readTokens(o.speculateDrafts, drafts))
      return rc;
    options.forcedDrafts = &drafts;
  }
  Sampler sampler(o.samplingOver({}));
  GenerationStats stats;
  std::string message;
  if (!generate(session.get(), prompt, options, sampler, history, stats, message))
    return fail(message);
  const int64_t afterDecodeKiB = o.memory ? anonymousKiB() : 0;
  // The logits first: a failed write is then the run's one line on stderr.
  if (!o.logitsOut.empty()) {
    std::string_view bytes(reinterpret_cast<const char *>(logits.data()),
                           logits.size() * sizeof(float));
    std::string why;
    bool written = o.logitsKind == OutputKind::InPlace // /dev/null: never replaced
                       ? writeInPlace(o.logitsOut, bytes, why)
                       : writeReplacing(o.logitsOut, bytes, why);
    if (!written)
      return fail(why);
  }
  if (!o.mtpLogitsOut.empty()) {
    std::string_view bytes(reinterpret_cast<const char *>(mtpLogits.data()),
                           mtpLogits.size() * sizeof(float));
    std::string why;
    if (!writeReplacing(o.mtpLogitsOut, bytes, why))
      return fail(why);
  }

  std::string ids;
  for (size_t i = 0; i < generated.size(); ++i)
    ids += (i ? "," : "") + std::to_string(generated[i]);
  std::cout << ids << "\n" << std::flush;
  printStats(threadsUsed, p, stats.prefillSeconds, stats.decoded, stats.decodeSeconds);
  if (o.speculate)
    std::cerr << format("speculative: %lld verify calls, %lld of %lld drafts accepted "
                        "(%.1f %%), %.2f tokens a call\n",
                        (long long)stats.steps, (long long)stats.accepted,
                        (long long)stats.drafted,
                        stats.drafted ? 100.0 * double(stats.accepted) / double(stats.drafted)
                                      : 0.0,
                        stats.steps ? double(stats.steps + stats.accepted) / double(stats.steps)
                                    : 0.0);
  if (o.memory)
    std::cerr << format("memory: %lld KiB after prefill, %lld KiB after decode, "
                        "caches and states %lld KiB\n",
                        (long long)afterPrefillKiB, (long long)afterDecodeKiB,
                        (long long)(qnext_session_state_bytes(session.get()) >> 10));

  int rc = 0;
  if (!o.referenceLogits.empty())
    rc = compareWithReference(o, o.referenceLogits, "reference", logits, vocab,
                              roundsToBF16(model));
  if (!rc && !o.mtpReferenceLogits.empty())
    rc = compareWithReference(o, o.mtpReferenceLogits, "MTP reference", mtpLogits, vocab,
                              roundsToBF16(model));
  return rc;
}

} // namespace qnext::run
