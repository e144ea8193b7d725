//===- Profile.cpp - qnext-bench --profile: where a step's time goes -----===//
//
// One prefill (or, with --speculate K, a run of verify calls of K + 1
// tokens) and a run of decode steps on code compiled with --profile-kernels:
// for each entry point, a markdown table of its kernels and layers, by their
// own time (a layer's own time is its serial code between kernels), with the
// bytes of weights each kernel reads and the rate it reads them at. The times
// are the calling thread's view: a kernel's time is the wall time of its
// parallel loop.
//
//===----------------------------------------------------------------------===//

#include "Profile.h"

#include "qnext/Generate.h"

#include "RuntimeTool.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>

using qnext::tool::fail;
using qnext::tool::format;

namespace {

/// Whether profile entry `name` belongs to entry point `entry`: a kernel
/// "<layer>.<what>.<entry>[.N]" or a layer function "<entry>.layers.N".
bool belongsTo(const std::string &name, const std::string &entry) {
  if (name.rfind(entry + ".layers.", 0) == 0)
    return true;
  std::string tail = "." + entry;
  size_t at = name.rfind(tail);
  if (at == std::string::npos)
    return false;
  std::string rest = name.substr(at + tail.size());
  return rest.empty() ||
         (rest[0] == '.' && rest.size() > 1 &&
          std::all_of(rest.begin() + 1, rest.end(), ::isdigit));
}

/// "deltanet.conv1d.prefill" for "deltanet.conv1d.prefill.3": the kind a
/// kernel is of (a function may hold several of one kind).
std::string kindOf(const std::string &name) {
  size_t dot = name.rfind('.');
  if (dot != std::string::npos && dot + 1 < name.size() &&
      std::all_of(name.begin() + dot + 1, name.end(), ::isdigit))
    return name.substr(0, dot);
  return name;
}

} // namespace

const char *const kProfileNote =
    "\nTimes are the calling thread's: a kernel's is its parallel loop's wall time. A "
    "layer's serial code is its time outside its kernels. Weights read count a "
    "routed-expert stack as the experts one token selects (\"<=\": several tokens read "
    "up to all of them), and not the embedding's rows.\n";

void printProfile(qnext_model *model, const std::string &entry, double seconds,
                  int64_t steps, double expertShare, bool oneToken,
                  const std::string &title) {
  struct Row {
    std::string name;
    bool layer = false, bound = false; ///< bound: bytes is at most what it read
    double calls = 0, self = 0, seconds = 0, bytes = 0; ///< bytes: all calls'
  };
  std::vector<Row> rows;
  double covered = 0;
  for (int64_t i = 0, n = qnext_profile_size(model); i < n; ++i) {
    qnext_profile_entry e;
    if (qnext_profile_get(model, i, &e) || e.calls == 0 || !belongsTo(e.name, entry))
      continue;
    bool layer = std::string(e.name).rfind(entry + ".layers.", 0) == 0;
    std::string name = layer ? std::string(e.name) + " (serial code)" : kindOf(e.name);
    auto it = std::find_if(rows.begin(), rows.end(),
                           [&](const Row &r) { return r.name == name; });
    if (it == rows.end()) {
      rows.push_back({name, layer});
      it = rows.end() - 1;
    }
    double bytes = double(e.weight_bytes) * double(e.calls);
    if (e.gathered_bytes > 0) {
      // Rows gathered from a buffer: the routed experts' stacks count the
      // experts a token selects (several tokens: at most all of them); the
      // embedding's rows are not counted.
      bool experts = name.find("experts.") != std::string::npos;
      if (experts) {
        bytes +=
            double(e.gathered_bytes) * double(e.calls) * (oneToken ? expertShare : 1);
        it->bound = it->bound || !oneToken;
      }
    }
    it->calls += double(e.calls);
    it->self += e.self_seconds;
    it->seconds += e.seconds;
    it->bytes += layer ? 0 : bytes;
    covered += e.self_seconds;
  }
  std::sort(rows.begin(), rows.end(),
            [](const Row &a, const Row &b) { return a.self > b.self; });
  std::cout
      << format("\n%s: %lld step(s), %.3f ms a step\n\n",
                (title.empty() ? entry : title).c_str(), (long long)steps,
                1e3 * seconds / steps)
      << "| kernel | calls/step | ms/step | of step | weights read/step | weight GB/s |\n"
      << "| --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (const Row &r : rows) {
    std::string weights, rate;
    if (r.bytes > 0) {
      const char *bound = r.bound ? "<= " : "";
      weights = format("%s%.3f MB", bound, r.bytes / steps / 1e6);
      rate = format("%s%.1f", bound, r.bytes / r.seconds / 1e9);
    }
    std::cout << format("| %s | %.0f | %.3f | %.1f%% | %s | %s |\n", r.name.c_str(),
                        r.calls / steps, 1e3 * r.self / steps, 100 * r.self / seconds,
                        weights.c_str(), rate.c_str());
  }
  double rest = std::max(0.0, seconds - covered);
  std::cout << format("| (the rest: the entry's own serial code, sampling, the loop) "
                      "| | %.3f | %.1f%% | | |\n",
                      1e3 * rest / steps, 100 * rest / seconds);
}

int profileKernels(qnext_model *model, qnext_session *session,
                   const std::vector<int32_t> &tokens, int64_t promptLen,
                   int64_t decodeTokens, const nlohmann::ordered_json &manifest,
                   int64_t verifyTokens) {
  char *error = nullptr;
  if (qnext_profile_enable(model, 1, &error)) {
    std::string message = error;
    qnext_free_error(error);
    return fail(message);
  }
  qnext_profile_enable(model, 0, nullptr);
  const double share = expertShare(manifest);

  qnext::Sampler greedy(qnext::SamplingParams{});
  std::vector<int32_t> context;
  qnext::GenerationStats stats;
  // (`chosen`: every token the run chooses, its last too.)
  auto run = [&](std::vector<int32_t> ids, int64_t maxNew,
                 std::vector<int32_t> *chosen = nullptr) {
    qnext::GenerationOptions options;
    options.maxNew = maxNew;
    if (chosen)
      options.onToken = [chosen](int32_t id, bool) { chosen->push_back(id); };
    std::string message;
    context.clear();
    if (!qnext::generate(session, ids, options, greedy, context, stats, message))
      std::exit(fail(message));
  };
  std::vector<int32_t> prompt(tokens.begin(), tokens.begin() + promptLen);

  // Warm-up, untimed: the code paged in, the threads started.
  qnext_session_reset(session);
  run(prompt, 2);

  int32_t next = 0;
  if (verifyTokens == 0) {
    // The prompt, and the first token chosen (not processed: no decode step).
    qnext_session_reset(session);
    qnext_profile_reset(model);
    qnext_profile_enable(model, 1, nullptr);
    run(prompt, 1);
    qnext_profile_enable(model, 0, nullptr);
    printProfile(model, "prefill", stats.prefillSeconds, 1, share, promptLen == 1);
    next = stats.last;
  } else {
    // Verify calls after the prompt, each the last kept token and
    // verifyTokens - 1 drafts that are all kept: the tokens of a plain
    // greedy run, as when every draft is accepted (no head runs).
    const int64_t steps = std::max<int64_t>(decodeTokens, 1);
    std::vector<int32_t> ids;
    qnext_session_reset(session);
    run(prompt, steps * verifyTokens + 1, &ids);
    if (int64_t(ids.size()) < steps * verifyTokens + 1)
      return fail("--speculate: the plain run gave " + std::to_string(ids.size()) +
                  " tokens, the verify calls need " +
                  std::to_string(steps * verifyTokens + 1));
    qnext_session_reset(session);
    run(prompt, 1); // (untimed)
    std::vector<float> rows(size_t(verifyTokens * qnext_model_vocab_size(model)));
    qnext_profile_reset(model);
    qnext_profile_enable(model, 1, nullptr);
    auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < steps; ++i)
      if (qnext_slot_verify(session, 0, ids.data() + i * verifyTokens, verifyTokens,
                            rows.data(), &error) ||
          qnext_slot_accept(session, 0, verifyTokens, &error)) {
        std::string message = error;
        qnext_free_error(error);
        return fail(message);
      }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    qnext_profile_enable(model, 0, nullptr);
    printProfile(model, "prefill", seconds, steps, share, false,
                 format("verify (the prefill entry, %lld tokens a call)",
                        (long long)verifyTokens));
    next = ids[size_t(steps * verifyTokens)];
  }

  // Decode steps after that (the first of the run's prefill is one token,
  // not counted: its kernels are prefill's).
  qnext_profile_reset(model);
  qnext_profile_enable(model, 1, nullptr);
  run({next}, decodeTokens + 1);
  qnext_profile_enable(model, 0, nullptr);
  printProfile(model, "decode", stats.decodeSeconds, stats.decoded, share, true);
  std::cout << kProfileNote;
  return 0;
}

double expertShare(const nlohmann::ordered_json &manifest) {
  const nlohmann::ordered_json &config = manifest["model"];
  const double experts = config.value("num_experts", 0.0);
  return experts > 0 ? config.value("num_experts_per_tok", 0.0) / experts : 1;
}
