//===- qnext-bench.cpp - prefill/decode speed and the decode roofline -----===//
//
// qnext-bench model.qnx [--prompts 128,512,2048] [--depths 0,1024,4096]
//   [--threads 1,2] [--repeat 3] [--decode-tokens 16] [--peak-tflops T]
//   [--json FILE]
// measures, for each thread count, prefill tokens/s per prompt length and
// decode tokens/s at each context depth (median and spread of --repeat runs),
// measures the memory bandwidth (CPU: a STREAM triad; a CUDA artifact: the
// GPU's device-to-device copies), and prints the decode roofline: the weight
// bytes one decoded token reads over that bandwidth. Each timed decode run is
// paired with a bandwidth measured right before it, and the fraction of the
// roofline is the median over the runs of each run's own fraction (a shared
// machine's bandwidth drifts within minutes). With --peak-tflops, prefill
// gets a compute roofline: that peak over two flops per weight a token
// multiplies. A markdown table goes to stdout; --json writes the figures.
//
//===----------------------------------------------------------------------===//

#include "qnext/Runtime.h"

#include "llvm/ADT/ScopeExit.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

using namespace llvm;
using json = nlohmann::ordered_json;

namespace {

cl::OptionCategory category("qnext-bench options");
cl::opt<std::string> artifact(cl::Positional, cl::Required,
                              cl::desc("<model.qnx>"), cl::cat(category));
cl::list<int64_t> prompts("prompts", cl::CommaSeparated,
                          cl::desc("Prompt lengths to time prefill on "
                                   "(default 128,512,2048)"),
                          cl::cat(category));
cl::list<int64_t> depths("depths", cl::CommaSeparated,
                         cl::desc("Context depths to time decode at "
                                  "(default 0,1024,4096)"),
                         cl::cat(category));
cl::opt<int64_t> repeat("repeat", cl::desc("Runs per figure (default 3)"),
                        cl::init(3), cl::cat(category));
cl::opt<int64_t> decodeTokens("decode-tokens",
                              cl::desc("Tokens per decode run (default 16)"),
                              cl::init(16), cl::cat(category));
cl::opt<std::string> jsonOut("json", cl::desc("Also write the figures as JSON"),
                             cl::value_desc("file"), cl::cat(category));
cl::opt<double> peakTflops(
    "peak-tflops",
    cl::desc("The machine's peak in TFLOP/s at the weights' type (e.g. 989 for an "
             "H100 SXM's dense BF16 tensor cores): prefill's compute roofline"),
    cl::init(0), cl::cat(category));

int fail(const Twine &message) {
  WithColor::error(errs(), "qnext-bench") << message << "\n";
  return 1;
}

using Clock = std::chrono::steady_clock;
double seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

/// Median and spread ((max - min) / median) of a run's figures.
struct Stat {
  double median = 0, spread = 0;
};
Stat stat(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  Stat s;
  size_t n = v.size();
  s.median = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
  s.spread = s.median > 0 ? (v.back() - v.front()) / s.median : 0;
  return s;
}

/// STREAM triad a = b + s * c over arrays far larger than the caches, on
/// `threads` threads, in GB/s (24 bytes per element, as STREAM counts
/// them). The arrays stay allocated between measurements.
class Triad {
public:
  explicit Triad(unsigned threads) : threads(threads), a(n), b(n), c(n) {
    part([&](size_t lo, size_t hi) { // first touch on the same threads
      for (size_t i = lo; i < hi; ++i)
        a[i] = 0, b[i] = 1.0, c[i] = 2.0;
    });
  }

  /// The best of `reps` runs.
  double measure(int reps) {
    double best = 0;
    for (int rep = 0; rep < reps; ++rep) {
      auto start = Clock::now();
      part([&](size_t lo, size_t hi) {
        for (size_t i = lo; i < hi; ++i)
          a[i] = b[i] + 3.0 * c[i];
      });
      best = std::max(best, 24.0 * n / seconds(start) / 1e9);
    }
    return best;
  }

private:
  static constexpr size_t n = size_t(1) << 25; // 3 x 256 MiB
  template <typename F> void part(F &&f) {
    std::vector<std::thread> pool;
    for (unsigned i = 0; i < threads; ++i)
      pool.emplace_back([&, i] { f(n * i / threads, n * (i + 1) / threads); });
    for (std::thread &th : pool)
      th.join();
  }
  unsigned threads;
  std::vector<double> a, b, c;
};

/// What one token uses of the weights: every tensor, except the
/// routed-expert stacks (num_experts_per_tok of num_experts) and the
/// embedding (one row read, nothing multiplied; unless lm_head shares it).
struct PerToken {
  double bytes = 0; ///< read
  double macs = 0;  ///< weights multiplied (attention's and the delta rule's
                    ///< products with the context are not counted)
};
PerToken activePerToken(const json &m) {
  const json &model = m["model"];
  double k = model.value("num_experts_per_tok", 0);
  PerToken total;
  for (const json &t : m["weights"]["tensors"]) {
    double bytes = t["bytes"].get<double>(), elements = 1;
    for (const json &d : t["shape"])
      elements *= d.get<double>();
    std::string name = t["name"];
    if (name.find("{e}") != std::string::npos && !t["shape"].empty()) {
      bytes *= k / t["shape"][0].get<double>();
      elements *= k / t["shape"][0].get<double>();
    } else if (name == "model.embed_tokens.weight" &&
               !model.value("tie_word_embeddings", false)) {
      bytes /= t["shape"][0].get<double>();
      elements = 0;
    }
    total.bytes += bytes;
    total.macs += elements;
  }
  return total;
}

} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // The LLVM dylib registers an option named --threads of its own; ours
  // replaces it.
  if (cl::Option *theirs = cl::getRegisteredOptions().lookup("threads"))
    theirs->removeArgument();
  cl::list<int64_t> threadCounts(
      "threads", cl::CommaSeparated,
      cl::desc("Thread counts (default 1,2; a CUDA artifact runs once, on its GPU)"),
      cl::cat(category));
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "qnext-bench: prefill and decode speed of a "
                              "model artifact, and its decode roofline\n");
  std::vector<int64_t> promptLens(prompts.begin(), prompts.end());
  std::vector<int64_t> depthList(depths.begin(), depths.end());
  std::vector<int64_t> threadList(threadCounts.begin(), threadCounts.end());
  if (promptLens.empty())
    promptLens = {128, 512, 2048};
  if (depthList.empty())
    depthList = {0, 1024, 4096};
  if (threadList.empty())
    threadList = {1, 2};
  for (int64_t v : promptLens)
    if (v < 1)
      return fail("--prompts: lengths must be at least 1");
  for (int64_t v : depthList)
    if (v < 0)
      return fail("--depths: depths must not be negative");
  for (int64_t v : threadList)
    if (v < 1 || v > 4096)
      return fail("--threads: counts must be in [1, 4096]");
  if (repeat < 1 || decodeTokens < 1)
    return fail("--repeat and --decode-tokens must be at least 1");
  if (peakTflops < 0)
    return fail("--peak-tflops must not be negative");

  char *error = nullptr;
  qnext_model *model = qnext_model_open(artifact.c_str(), &error);
  if (!model) {
    int rc = fail(error);
    qnext_free_error(error);
    return rc;
  }
  scope_exit closeModel([&] { qnext_model_close(model); });
  json manifest = json::parse(qnext_model_manifest(model));
  // A CUDA artifact: the GPU's bandwidth, and no CPU threads to vary.
  const bool gpu = manifest["target"].value("kind", "") == "cuda";
  if (gpu)
    threadList = {1};
  const int64_t vocab = qnext_model_vocab_size(model);
  const int64_t maxDepth = *std::max_element(depthList.begin(), depthList.end());
  const int64_t maxPrompt =
      *std::max_element(promptLens.begin(), promptLens.end());
  const int64_t capacity =
      std::max(maxPrompt, maxDepth + (repeat + 1) * decodeTokens + 1);

  // Deterministic token ids, away from the special tokens at the top.
  std::mt19937 rng(1234);
  std::vector<int32_t> tokens(std::max(maxPrompt, maxDepth));
  for (int32_t &t : tokens)
    t = int32_t(rng() % uint32_t(std::max<int64_t>(1, vocab - 512)));

  qnext_session *session = qnext_session_create(model, capacity, &error);
  if (!session) {
    int rc = fail(error);
    qnext_free_error(error);
    return rc;
  }
  scope_exit closeSession([&] { qnext_session_destroy(session); });
  std::vector<float> logits(vocab);
  auto check = [&](int rc) {
    if (rc) {
      WithColor::error(errs(), "qnext-bench") << error << "\n";
      qnext_free_error(error);
      std::exit(1);
    }
  };

  json out;
  out["artifact"] = artifact;
  out["model"] = manifest["model"];
  out["target"] = gpu ? json{{"gpu_arch", manifest["target"]["gpu_arch"]}}
                      : json{{"cpu", manifest["target"]["cpu"]}};
  const PerToken active = activePerToken(manifest);
  const double bytes = active.bytes;
  out["active_weight_bytes_per_token"] = bytes;
  out["active_weight_macs_per_token"] = active.macs;
  out["weight_bytes"] = manifest["weights"]["size"];
  // Prefill's compute roofline, with --peak-tflops.
  const double prefillRoofline = peakTflops * 1e12 / (2 * active.macs);
  if (peakTflops > 0)
    out["peak_tflops"] = double(peakTflops);
  json rows = json::array();
  outs() << "| threads | what | tokens/s (median) | spread | roofline tokens/s | of roofline |\n"
         << "| ---: | --- | ---: | ---: | ---: | ---: |\n";
  for (int64_t threads : threadList) {
    int used = gpu ? 1 : qnext_model_set_threads(model, int(threads));
    std::string who = gpu ? "GPU" : std::to_string(used);
    const char *meter = gpu ? "GPU copy (read + write)" : "STREAM triad";
    errs() << "qnext-bench: " << (gpu ? "GPU" : who + " thread(s)") << ": "
           << meter << "...\n";
    std::optional<Triad> triad;
    if (!gpu)
      triad.emplace(unsigned(threads));
    auto measure = [&](int reps) {
      if (!gpu)
        return triad->measure(reps);
      double gbs = 0;
      check(qnext_model_gpu_bandwidth(model, reps, &gbs, &error));
      return gbs;
    };
    double bandwidth = measure(5);
    double roofline = bandwidth * 1e9 / bytes;
    json r = {{"threads", used}, {gpu ? "gpu_copy_gb_s" : "triad_gb_s", bandwidth},
              {"decode_roofline_tok_s", roofline}};
    outs() << format("| %s | %s | %.1f GB/s | | | |\n", who.c_str(), meter, bandwidth);
    for (int64_t len : promptLens) {
      std::vector<double> runs;
      for (int64_t i = -1; i < repeat; ++i) { // run -1 warms up, untimed
        qnext_session_reset(session);
        auto start = Clock::now();
        check(qnext_session_prefill_last(session, tokens.data(), len,
                                         logits.data(), &error));
        if (i >= 0)
          runs.push_back(len / seconds(start));
      }
      Stat s = stat(runs);
      json &figures = r["prefill"][std::to_string(len)];
      figures = {{"tok_s", s.median}, {"spread", s.spread}};
      std::string ceiling;
      if (peakTflops > 0) {
        figures["roofline_tok_s"] = prefillRoofline;
        figures["of_roofline"] = s.median / prefillRoofline;
        ceiling = formatv("{0:F1} | {1:F0}%", prefillRoofline,
                          100 * s.median / prefillRoofline)
                      .str();
      } else {
        ceiling = " |";
      }
      outs() << format("| %s | prefill %lld | %.1f | %.0f%% | %s |\n", who.c_str(),
                       (long long)len, s.median, 100 * s.spread, ceiling.c_str());
      errs() << format("qnext-bench: prefill %lld: %.1f tok/s\n", (long long)len,
                       s.median);
    }
    std::vector<int64_t> sorted = depthList;
    std::sort(sorted.begin(), sorted.end());
    qnext_session_reset(session);
    int64_t at = 0;
    for (int64_t depth : sorted) {
      // Continue the one context to this depth, in chunks of 512, not
      // timed (the decode runs before count towards it).
      if (depth > at) {
        for (int64_t p = at; p < depth; p += 512)
          check(qnext_session_prefill_last(session, tokens.data() + p,
                                           std::min<int64_t>(512, depth - p),
                                           logits.data(), &error));
        at = depth;
      }
      // Each timed run with the triad measured right before it: that
      // run's roofline and fraction.
      std::vector<double> runs, rooflines, fractions;
      int32_t next = 1;
      for (int64_t i = -1; i < repeat; ++i) { // run -1 warms up, untimed
        double paired = i >= 0 ? measure(2) * 1e9 / bytes : 0;
        auto start = Clock::now();
        for (int64_t j = 0; j < decodeTokens; ++j) {
          check(qnext_session_decode(session, next, logits.data(), &error));
          next = int32_t(std::max_element(logits.begin(), logits.end()) -
                         logits.begin());
        }
        if (i >= 0) {
          runs.push_back(decodeTokens / seconds(start));
          rooflines.push_back(paired);
          fractions.push_back(runs.back() / paired);
        }
        at += decodeTokens;
      }
      Stat s = stat(runs), ceiling = stat(rooflines), of = stat(fractions);
      r["decode"][std::to_string(depth)] = {{"tok_s", s.median},
                                            {"spread", s.spread},
                                            {"roofline_tok_s", ceiling.median},
                                            {"of_roofline", of.median},
                                            {gpu ? "of_first_copy" : "of_first_triad",
                                             s.median / roofline}};
      outs() << format("| %s | decode at depth %lld | %.2f | %.0f%% | %.1f | %.0f%% |\n",
                       who.c_str(), (long long)depth, s.median, 100 * s.spread,
                       ceiling.median, 100 * of.median);
      errs() << format("qnext-bench: decode at %lld: %.2f tok/s\n", (long long)depth,
                       s.median);
    }
    rows.push_back(r);
  }
  out["runs"] = rows;
  outs() << format("\nActive weight bytes per decoded token: %.3f GB\n", bytes / 1e9)
         << "Decode's roofline: those bytes over "
         << (gpu ? "the GPU's copy bandwidth" : "a triad") << " measured right before "
            "each run; its fraction: the median of the runs' own.\n";
  if (peakTflops > 0)
    outs() << format("Prefill's roofline: %.0f TFLOP/s over 2 x %.3f G weights "
                     "multiplied per token (attention's and the delta rule's "
                     "products with the context not counted).\n",
                     double(peakTflops), active.macs / 1e9);
  if (!jsonOut.empty())
    if (Error e = writeToOutput(jsonOut, [&](raw_ostream &os) {
          os << out.dump(2) << "\n";
          return Error::success();
        }))
      return fail(jsonOut + ": " + toString(std::move(e)));
  return 0;
}
