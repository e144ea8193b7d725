//===- qnext-run.cpp - run a compiled model -------------------------------===//
//
// qnext-run model.qnx --tokens 1,2,3 [--max-new N] [--prefill-chunk N]
//   [--max-context N] [--threads N] [--logits-out FILE] [--reference-logits FILE]
// processes the prompt, decodes greedily, prints the generated ids on stdout
// and one line per phase on stderr ("prefill: 128 tokens, 1.97 s, 65.0 tok/s").
//
//===----------------------------------------------------------------------===//

#include "qnext/Runtime.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>

using namespace llvm;

namespace {
cl::OptionCategory category("qnext-run options");
cl::opt<std::string> artifact(cl::Positional, cl::Required,
                              cl::desc("<model.qnx>"), cl::cat(category));
cl::opt<std::string> tokens("tokens", cl::Required,
                            cl::desc("Prompt token ids, comma separated, or "
                                     "@FILE to read them from a file"),
                            cl::value_desc("ids"), cl::cat(category));
cl::opt<int64_t> maxNew("max-new", cl::desc("Tokens to generate greedily (default 16)"),
                        cl::init(16), cl::cat(category));
cl::opt<int64_t> prefillChunk(
    "prefill-chunk",
    cl::desc("Process the prompt in calls of at most N tokens (default: one call)"),
    cl::init(0), cl::cat(category));
cl::opt<int64_t> maxContext(
    "max-context",
    cl::desc("KV cache capacity in tokens (default: prompt + max-new)"),
    cl::init(0), cl::cat(category));
cl::opt<std::string> logitsOut(
    "logits-out",
    cl::desc("Write float32 logits, one row of vocab_size per processed token"),
    cl::value_desc("file"), cl::cat(category));
cl::opt<std::string> referenceLogits(
    "reference-logits",
    cl::desc("Compare every row with these float32 logits (same layout as "
             "--logits-out); fail beyond --tolerance or on a different argmax"),
    cl::value_desc("file"), cl::cat(category));
cl::opt<double> tolerance("tolerance",
                          cl::desc("Max |d logit| for --reference-logits (default 1e-3)"),
                          cl::init(1e-3), cl::cat(category));
cl::opt<bool> verify("verify", cl::desc("Also check the weights' checksum"),
                     cl::cat(category));
cl::opt<bool> memory("memory",
                     cl::desc("Print the process's anonymous resident memory "
                              "after prefill and after decode, and the size "
                              "of the caches"),
                     cl::cat(category));

/// RssAnon of /proc/self/status in KiB: the process's own memory, not the
/// pages of the mapped artifact.
int64_t anonymousKiB() {
  // A stream read: /proc files report a size of 0.
  auto status = MemoryBuffer::getFileAsStream("/proc/self/status");
  if (!status)
    return -1;
  for (StringRef line : split((*status)->getBuffer(), '\n')) {
    int64_t kib;
    if (line.consume_front("RssAnon:") && !line.trim().consumeInteger(10, kib))
      return kib;
  }
  return -1;
}

int fail(const Twine &message) {
  WithColor::error(errs(), "qnext-run") << message << "\n";
  return 1;
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // The LLVM dylib this tool borrows its command line from registers an
  // option named --threads of its own; ours replaces it.
  if (cl::Option *theirs = cl::getRegisteredOptions().lookup("threads"))
    theirs->removeArgument();
  cl::opt<int64_t> threads(
      "threads",
      cl::desc("Threads for the model's parallel loops (default: all cores)"),
      cl::init(0), cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "qnext-run: run a qnext model artifact (.qnx)\n");

  std::string tokenText = tokens;
  if (StringRef(tokenText).starts_with("@")) {
    auto file = MemoryBuffer::getFile(tokenText.substr(1), /*IsText=*/true);
    if (!file)
      return fail(tokenText.substr(1) + ": " + file.getError().message());
    tokenText = (*file)->getBuffer().trim().str();
  }
  std::vector<int32_t> prompt;
  SmallVector<StringRef> items;
  StringRef(tokenText).split(items, ',', -1, /*KeepEmpty=*/false);
  for (StringRef item : items) {
    int64_t id;
    if (item.trim().getAsInteger(10, id) || id < INT32_MIN || id > INT32_MAX)
      return fail("--tokens: '" + item + "' is not a token id");
    prompt.push_back(int32_t(id));
  }
  if (prompt.empty())
    return fail("--tokens: no token ids");
  // Fail before the work, not after it, when the output cannot be written.
  if (!logitsOut.empty() && logitsOut != "-") {
    StringRef dir = sys::path::parent_path(logitsOut);
    if (!dir.empty() && !sys::fs::is_directory(dir))
      return fail("--logits-out " + logitsOut + ": no folder " + dir);
  }
  if (maxNew < 0 || prefillChunk < 0 || maxContext < 0 || threads < 0)
    return fail("--max-new, --prefill-chunk, --max-context and --threads must "
                "not be negative");
  if (threads > 4096)
    return fail("--threads " + Twine(threads) + " is more than 4096");

  char *error = nullptr;
  qnext_model *model = qnext_model_open(artifact.c_str(), &error);
  if (!model) {
    int rc = fail(error);
    qnext_free_error(error);
    return rc;
  }
  scope_exit closeModel([&] { qnext_model_close(model); });
  if (verify && qnext_model_verify(model, &error)) {
    int rc = fail(error);
    qnext_free_error(error);
    return rc;
  }
  int threadsUsed = threads ? qnext_model_set_threads(model, int(threads))
                            : qnext_model_threads(model);
  const int64_t vocab = qnext_model_vocab_size(model);
  const int64_t p = prompt.size();
  int64_t context = maxContext ? int64_t(maxContext) : p + maxNew;
  if (p + maxNew > context)
    return fail("prompt (" + Twine(p) + " tokens) + --max-new (" + Twine(maxNew) +
                ") exceed --max-context " + Twine(context));
  qnext_session *session = qnext_session_create(model, context, &error);
  if (!session) {
    int rc = fail(error);
    qnext_free_error(error);
    return rc;
  }
  scope_exit closeSession([&] { qnext_session_destroy(session); });

  // Every processed row when they are written or compared; otherwise only
  // the last (the prompt's logits are then computed for its last token only).
  const bool allRows = !logitsOut.empty() || !referenceLogits.empty();
  std::vector<float> logits; // the rows kept, in order
  logits.reserve((allRows ? p + maxNew : 1) * vocab);
  auto lastRow = [&] { return logits.data() + logits.size() - vocab; };
  auto nextRow = [&]() -> float * {
    logits.resize(allRows ? logits.size() + vocab : vocab);
    return lastRow();
  };
  using Clock = std::chrono::steady_clock;
  auto start = Clock::now();
  int64_t chunk = prefillChunk ? int64_t(prefillChunk) : p;
  for (int64_t at = 0; at < p; at += chunk) {
    int64_t n = std::min(chunk, p - at);
    int failed;
    if (allRows) {
      logits.resize((at + n) * vocab);
      failed = qnext_session_prefill(session, prompt.data() + at, n,
                                     logits.data() + at * vocab, &error);
    } else {
      failed = qnext_session_prefill_last(session, prompt.data() + at, n,
                                          nextRow(), &error);
    }
    if (failed) {
      int rc = fail(error);
      qnext_free_error(error);
      return rc;
    }
  }
  double prefillSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t afterPrefillKiB = memory ? anonymousKiB() : 0;

  std::vector<int32_t> generated;
  start = Clock::now();
  for (int64_t i = 0; i < maxNew; ++i) {
    const float *row = lastRow();
    int32_t next = int32_t(std::max_element(row, row + vocab) - row);
    generated.push_back(next);
    if (i + 1 == maxNew)
      break; // the last token's own logits are not needed
    if (qnext_session_decode(session, next, nextRow(), &error)) {
      int rc = fail(error);
      qnext_free_error(error);
      return rc;
    }
  }
  double decodeSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t afterDecodeKiB = memory ? anonymousKiB() : 0;

  for (size_t i = 0; i < generated.size(); ++i)
    outs() << (i ? "," : "") << generated[i];
  outs() << "\n";
  int64_t decoded = std::max<int64_t>(0, maxNew - 1);
  errs() << "threads: " << threadsUsed << "\n";
  errs() << format("prefill: %lld tokens, %.3f s, %.1f tok/s\n", (long long)p,
                   prefillSeconds, p / prefillSeconds);
  if (decoded)
    errs() << format("decode: %lld tokens, %.3f s, %.2f tok/s\n",
                     (long long)decoded, decodeSeconds, decoded / decodeSeconds);
  if (memory)
    errs() << format("memory: %lld KiB after prefill, %lld KiB after decode, "
                     "caches and states %lld KiB\n",
                     (long long)afterPrefillKiB, (long long)afterDecodeKiB,
                     (long long)(qnext_session_state_bytes(session) >> 10));

  if (!logitsOut.empty()) {
    if (Error e = writeToOutput(logitsOut, [&](raw_ostream &os) {
          os.write(reinterpret_cast<const char *>(logits.data()),
                   logits.size() * sizeof(float));
          return Error::success();
        }))
      return fail(logitsOut + ": " + toString(std::move(e)));
  }
  if (!referenceLogits.empty()) {
    auto buffer = MemoryBuffer::getFile(referenceLogits, /*IsText=*/false,
                                        /*RequiresNullTerminator=*/false);
    if (!buffer)
      return fail(referenceLogits + ": " + buffer.getError().message());
    size_t rows = logits.size() / vocab;
    if ((*buffer)->getBufferSize() < rows * vocab * sizeof(float))
      return fail(referenceLogits + ": holds fewer than the " + Twine(rows) +
                  " rows of " + Twine(vocab) + " logits processed");
    const float *ref = reinterpret_cast<const float *>((*buffer)->getBufferStart());
    double worst = 0;
    int64_t mismatches = 0;
    for (size_t r = 0; r < rows; ++r) {
      const float *got = logits.data() + r * vocab, *want = ref + r * vocab;
      for (int64_t i = 0; i < vocab; ++i)
        worst = std::max(worst, std::isnan(got[i])
                                    ? INFINITY
                                    : std::fabs(double(got[i]) - want[i]));
      mismatches += std::max_element(got, got + vocab) - got !=
                    std::max_element(want, want + vocab) - want;
    }
    errs() << format("reference: %zu rows, max |d logit| %.3g, %lld argmax "
                     "mismatches\n",
                     rows, worst, (long long)mismatches);
    if (!(worst <= tolerance) || mismatches)
      return fail("logits differ from " + referenceLogits + " beyond " +
                  std::to_string(double(tolerance)));
  }
  return 0;
}
