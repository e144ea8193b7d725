//===- qnext-bench.cpp - prefill/decode speed and the decode roofline -----===//
//
// qnext-bench model.qnx [--prompts 128,512,2048] [--depths 0,1024,4096]
//   [--threads 1,2] [--repeat 3] [--decode-tokens 16] [--peak-tflops T]
//   [--json FILE]
// measures, for each thread count, prefill tokens/s per prompt length and
// decode tokens/s at each context depth (median and spread of --repeat runs),
// measures the memory bandwidth (CPU: read-only sweeps shaped as decode reads
// weight rows, the best of several shapes; a CUDA artifact: the GPU's
// device-to-device copies), and prints the weight bytes per second decode
// achieved and its roofline: the weight bytes one decoded token reads over
// that bandwidth (shown only where those bytes do not fit in the last-level
// cache; a fraction above 100 % is reported as a bug of the benchmark, exit
// status 1). Each timed decode run is
// paired with a bandwidth measured right before it, and the fraction of the
// roofline is the median over the runs of each run's own fraction (a shared
// machine's bandwidth drifts within minutes). With --peak-tflops, prefill
// gets a compute roofline: that peak over two flops per weight a token
// multiplies. A markdown table goes to stdout; --json writes the figures.
// With --profile (an artifact compiled with --profile-kernels), the time of
// each kernel instead (Profile.cpp).
//
//===----------------------------------------------------------------------===//

#include "qnext/FileChecks.h"
#include "qnext/Generate.h"
#include "qnext/Runtime.h"

#include "Batch.h"
#include "Profile.h"
#include "ReadProbe.h"
#include "RuntimeTool.h"
#include "Speculate.h"
#include "Weights.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <sched.h>

using json = nlohmann::ordered_json;
using qnext::tool::fail;
using qnext::tool::format;

namespace {

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

} // namespace

namespace {
int benchMain(int argc, char **argv) {
  qnext::tool::toolName() = "qnext-bench";
  // The CPUs this process may use, before the model's OpenMP runtime pins
  // this thread (ReadProbe).
  cpu_set_t startCPUs;
  if (sched_getaffinity(0, sizeof(startCPUs), &startCPUs) != 0)
    return fail(
        format("cannot read this process's CPU affinity: %s", std::strerror(errno)));
  std::string artifact, jsonOut;
  std::vector<int64_t> promptLens, depthList, threadList;
  int64_t repeat = 3, decodeTokens = 16;
  double peakTflops = 0, cacheMB = -1;
  bool profile = false;
  std::vector<int64_t> batchList, speculateList;
  int64_t batchPrompt = 128;
  CLI::App app{"qnext-bench: prefill and decode speed of a model artifact, and its "
               "decode roofline",
               "qnext-bench"};
  app.add_option("artifact", artifact, "The model artifact")
      ->required()
      ->type_name("<model.qnx>");
  app.add_option("--prompts", promptLens,
                 "Prompt lengths to time prefill on (default 128,512,2048)")
      ->delimiter(',');
  app.add_option("--depths", depthList,
                 "Context depths to time decode at (default 0,1024,4096)")
      ->delimiter(',');
  app.add_option("--threads", threadList,
                 "Thread counts (default 1,2; a CUDA artifact runs once, on its GPU)")
      ->delimiter(',');
  app.add_option("--repeat", repeat, "Runs per figure (default 3)");
  app.add_option("--decode-tokens", decodeTokens, "Tokens per decode run (default 16)");
  app.add_option("--json", jsonOut, "Also write the figures as JSON")->type_name("FILE");
  app.add_option("--peak-tflops", peakTflops,
                 "The machine's peak in TFLOP/s at the weights' type (e.g. 989 for an "
                 "H100 SXM's dense BF16 tensor cores): prefill's compute roofline");
  app.add_option("--cache-mb", cacheMB,
                 "The last-level cache in MB (default: what the system reports; a "
                 "GPU: 128). Decode's roofline is shown only where a token's weights "
                 "exceed twice it");
  app.add_flag("--profile", profile,
               "Instead of the figures: the time of every kernel and of each "
               "layer's serial code in a prefill of the first --prompts length "
               "and in --decode-tokens decode steps after it, on the first "
               "--threads count (an artifact compiled with --profile-kernels); with "
               "--batch, of each size's batched decode steps; with --speculate K, "
               "--decode-tokens verify calls of K + 1 tokens after the prompt instead "
               "of its prefill (every token kept, the tokens of a plain greedy run; no "
               "MTP head needed)");
  app.add_option("--batch", batchList,
                 "Instead of the figures: batched decode (qnext_session_decode_batch) at "
                 "these batch sizes: B sequences, each prefilled with its own "
                 "--batch-prompt tokens (the B prompts in one "
                 "qnext_session_prefill_batch call where the artifact has it), then "
                 "--decode-tokens steps of all B at once; aggregate and per-sequence "
                 "decode tokens/s, and the prompts' tokens/s")
      ->delimiter(',');
  app.add_option("--speculate", speculateList,
                 "Instead of the figures: speculative decoding's pieces with the MTP "
                 "head at these draft counts (after a prompt of the first --prompts "
                 "length, default 128, on the first --threads count): the head's "
                 "drafts, a verify call against a decode step, the rollback, the "
                 "speed-up at 50/70/90 % acceptance, and --decode-tokens tokens end to "
                 "end with every draft accepted")
      ->delimiter(',');
  app.add_option("--batch-prompt", batchPrompt,
                 "With --batch: each sequence's prompt length (default 128)");
  if (auto rc = qnext::tool::parse(app, argc, argv))
    return *rc;
  const bool defaultPrompts = promptLens.empty(), defaultDepths = depthList.empty();
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
  if (!(peakTflops >= 0))
    return fail("--peak-tflops must not be negative");
  for (int64_t v : batchList)
    if (v < 1 || v > 4096)
      return fail("--batch: sizes must be in [1, 4096]");
  if (batchPrompt < 1)
    return fail("--batch-prompt must be at least 1");
  for (int64_t v : speculateList)
    if (v < 1 || v > 16)
      return fail("--speculate: draft counts must be in [1, 16]");
  if (!speculateList.empty() && !batchList.empty())
    return fail("--speculate excludes --batch");
  if (profile && speculateList.size() > 1)
    return fail("--profile --speculate takes one draft count");
  // --profile --speculate K: verify calls of K + 1 tokens, one a step.
  const int64_t verifyTokens =
      profile && !speculateList.empty() ? speculateList.front() + 1 : 0;

  if (!jsonOut.empty()) {
    std::string why;
    qnext::OutputKind kind;
    if (!qnext::checkOutputPath(jsonOut, {artifact}, kind, why))
      return fail("--json " + why);
    if (kind == qnext::OutputKind::InPlace)
      return fail("--json " + jsonOut + ": not a regular file");
  }

  char *error = nullptr;
  qnext_model *model = qnext_model_open(artifact.c_str(), &error);
  if (!model) {
    int rc = fail(error);
    qnext_free_error(error);
    return rc;
  }
  std::unique_ptr<qnext_model, void (*)(qnext_model *)> closeModel(model,
                                                                   qnext_model_close);
  qnext::tool::sayCodeVariant(model);
  json manifest = json::parse(qnext_model_manifest(model));
  // A CUDA artifact: the GPU's bandwidth, and no CPU threads to vary.
  const bool gpu = manifest["target"].value("kind", "") == "cuda";
  if (gpu)
    threadList = {1};
  const int64_t vocab = qnext_model_vocab_size(model);
  if (!speculateList.empty() && !profile)
    return speculateMain(model, artifact, threadList.front(), speculateList,
                         defaultPrompts ? 128 : promptLens.front(), decodeTokens, repeat,
                         jsonOut);
  if (!batchList.empty())
    return batchMain(model, artifact, manifest, threadList, batchList, batchPrompt, decodeTokens,
                     repeat, jsonOut, profile);
  // Every run fits the model's positions: the default lengths and depths
  // that do not are left out (with a note), a length or depth given is an
  // error. Each decode run processes the token left by the one before, then
  // --decode-tokens more; the runs at one depth continue the context past
  // it, so a depth closer to the one before than those runs starts later.
  const int64_t positions = qnext_model_max_position_embeddings(model);
  if (decodeTokens > positions || repeat > positions)
    return fail("--decode-tokens and --repeat must fit the model's " +
                std::to_string(positions) + " positions");
  const int64_t runTokens = (repeat + 1) * (decodeTokens + 1);
  auto fits = [&](std::vector<int64_t> &list, bool byDefault, const char *flag,
                  auto needs) -> bool {
    std::vector<int64_t> kept;
    for (int64_t v : list) {
      if (v <= positions && needs(v) <= positions) {
        kept.push_back(v);
        continue;
      }
      if (!byDefault) {
        fail(std::string(flag) + " " + std::to_string(v) + ": its runs need more than the model's " +
             std::to_string(positions) + " positions (max_position_embeddings)");
        return false;
      }
      std::cerr << "qnext-bench: note: " << flag << " " << v
                << " left out: its runs need more than the model's " << positions
                << " positions\n";
    }
    list = kept;
    if (list.empty()) {
      fail(std::string(flag) + ": none fits the model's " + std::to_string(positions) +
           " positions");
      return false;
    }
    return true;
  };
  // (With verify calls, they and the plain run that gives their tokens too.)
  const int64_t verifyRun =
      verifyTokens ? std::max<int64_t>(decodeTokens, 1) * verifyTokens + 1 : 0;
  if (!fits(promptLens, defaultPrompts, "--prompts",
            [&](int64_t p) { return p + verifyRun + decodeTokens + 4; }) ||
      !fits(depthList, defaultDepths, "--depths", [&](int64_t d) {
        // Saturating: runTokens alone may reach 2^62.
        int64_t runs = 0, need = 0;
        if (__builtin_mul_overflow(int64_t(depthList.size()), runTokens, &runs) ||
            __builtin_add_overflow(d + 1, runs, &need))
          return INT64_MAX;
        return need;
      }))
    return 1;
  const int64_t maxDepth = *std::max_element(depthList.begin(), depthList.end());
  const int64_t maxPrompt =
      *std::max_element(promptLens.begin(), promptLens.end());
  const int64_t capacity =
      std::max({maxPrompt + verifyRun + decodeTokens + 4,
                maxDepth + int64_t(depthList.size()) * runTokens + 1});

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
  std::unique_ptr<qnext_session, void (*)(qnext_session *)> closeSession(
      session, qnext_session_destroy);
  if (profile) {
    if (!gpu)
      qnext_model_set_threads(model, int(threadList.front()));
    return profileKernels(model, session, tokens, promptLens.front(), decodeTokens,
                          manifest, verifyTokens);
  }
  // Every timed run goes through the runtime's one generation loop, greedy,
  // as qnext-run and a server run the model.
  qnext::Sampler greedy(qnext::SamplingParams{});
  std::vector<int32_t> context;
  qnext::GenerationStats stats;
  auto run = [&](const int32_t *ids, int64_t n, int64_t maxNew, int64_t chunk) {
    qnext::GenerationOptions options;
    options.maxNew = maxNew;
    options.prefillChunk = chunk;
    std::string message;
    context.clear();
    if (!qnext::generate(session, std::vector<int32_t>(ids, ids + n), options, greedy,
                         context, stats, message))
      std::exit(fail(message));
  };

  json out;
  out["artifact"] = artifact;
  // The model's plain fields only: a nested value is not copied (a copy
  // recurses as deep as the value does).
  out["model"] = json::object();
  for (const auto &[key, value] : manifest["model"].items())
    if (value.is_primitive())
      out["model"][key] = value;
  out["target"] = gpu ? json{{"gpu_arch", manifest["target"]["gpu_arch"]}}
                      : json{{"cpu", manifest["target"].value("cpu", "")}};
  if (const char *variant = qnext_model_code_variant(model))
    out["target"]["code_variant"] = variant;
  out["target"]["activations"] = qnext_model_activations(model);
  const ActiveWeights active = activeWeights(manifest, 1);
  const double bytes = active.bytes;
  out["active_weight_bytes_per_token"] = bytes;
  out["active_weight_macs_per_token"] = active.macs;
  out["weight_bytes"] = manifest["weights"]["size"];
  // Prefill's compute roofline, with --peak-tflops.
  const double prefillRoofline = peakTflops * 1e12 / (2 * active.macs);
  if (peakTflops > 0)
    out["peak_tflops"] = double(peakTflops);
  // Decode is bound by the weights it reads only where they do not fit in a
  // cache: below twice the last-level cache (CPU; a GPU's L2, at most 128 MiB
  // on NVIDIA's parts so far) the roofline does not apply and is not shown.
  const double cacheBytes = cacheMB >= 0 ? cacheMB * 1e6
                            : gpu        ? double(128 << 20)
                                         : double(lastLevelCache());
  const bool rooflineApplies = bytes > 2 * cacheBytes;
  out["cache_bytes"] = cacheBytes;
  out["roofline_applies"] = rooflineApplies;
  // A fraction above 100 % means the bandwidth probe under-measured what the
  // machine delivers: a bug in this benchmark, reported, never a result.
  std::vector<std::string> overRoofline;
  json rows = json::array();
  std::cout << "| threads | what | tokens/s (median) | spread | weight GB/s | roofline tokens/s | of roofline |\n"
         << "| ---: | --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (int64_t threads : threadList) {
    int used = gpu ? 1 : qnext_model_set_threads(model, int(threads));
    std::string who = gpu ? "GPU" : std::to_string(used);
    std::cerr << "qnext-bench: " << (gpu ? "GPU" : who + " thread(s)") << ": "
           << (gpu ? "GPU copy bandwidth" : "read bandwidth") << "...\n";
    std::optional<ReadProbe> probe;
    if (!gpu) {
      size_t probeBytes = std::max<size_t>(size_t(1) << 30, 2 * size_t(cacheBytes));
      probe.emplace(unsigned(threads), probeBytes, startCPUs);
      if (!*probe)
        return fail(format("cannot allocate the bandwidth probe's %zu MB",
                           probeBytes >> 20));
    }
    std::map<unsigned, double> byShape;
    auto measure = [&](int reps) {
      if (!gpu) {
        // The team of the run before spins for a while before it sleeps
        // (LLVM's libomp: KMP_BLOCKTIME, 200 ms by default), on the cores the
        // probe reads with: wait it out.
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        return probe->measure(reps, &byShape);
      }
      double gbs = 0;
      if (qnext_model_gpu_bandwidth(model, reps, &gbs, &error)) {
        std::string message = error;
        qnext_free_error(error);
        std::exit(fail(message));
      }
      return gbs;
    };
    double bandwidth = measure(3);
    json r = {{"threads", used}};
    if (gpu) {
      r["gpu_copy_gb_s"] = bandwidth;
      std::cout << format("| GPU | GPU copy (read + write) | %.1f GB/s | | | | |\n", bandwidth);
    } else {
      r["read_gb_s"] = bandwidth;
      std::string shapes;
      for (auto [streams, gbs] : byShape) {
        r["read_gb_s_by_streams_per_thread"][std::to_string(streams)] = gbs;
        shapes += format("%s%u: %.1f", shapes.empty() ? "" : ", ", streams, gbs);
      }
      std::cout << format("| %s | read sweep (best of %s streams/thread) | %.1f GB/s | | | | |\n",
                       who.c_str(), shapes.c_str(), bandwidth);
    }
    for (int64_t len : promptLens) {
      std::vector<double> runs;
      for (int64_t i = -1; i < repeat; ++i) { // run -1 warms up, untimed
        qnext_session_reset(session);
        run(tokens.data(), len, /*maxNew=*/0, /*chunk=*/0);
        if (i >= 0)
          runs.push_back(len / stats.prefillSeconds);
      }
      Stat s = stat(runs);
      json &figures = r["prefill"][std::to_string(len)];
      figures = {{"tok_s", s.median}, {"spread", s.spread}};
      std::string ceiling = " | ";
      if (peakTflops > 0) {
        figures["roofline_tok_s"] = prefillRoofline;
        figures["of_roofline"] = s.median / prefillRoofline;
        ceiling = format("%.1f | %.0f%%", prefillRoofline,
                         100 * s.median / prefillRoofline);
        if (s.median > prefillRoofline)
          overRoofline.push_back(who + ": prefill " + std::to_string(len));
      }
      std::cout << format("| %s | prefill %lld | %.1f | %.0f%% | | %s |\n", who.c_str(),
                       (long long)len, s.median, 100 * s.spread, ceiling.c_str());
      std::cerr << format("qnext-bench: prefill %lld: %.1f tok/s\n", (long long)len,
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
        run(tokens.data() + at, depth - at, /*maxNew=*/0, /*chunk=*/512);
        at = depth;
      }
      // Each timed run with the bandwidth measured right before it: that
      // run's roofline and fraction.
      std::vector<double> runs, rooflines, fractions;
      int32_t next = 1;
      for (int64_t i = -1; i < repeat; ++i) { // run -1 warms up, untimed
        double paired =
            i >= 0 && rooflineApplies ? measure(2) * 1e9 / bytes : 0;
        // The token the run before left, then --decode-tokens decode steps
        // (timed: the loop's decode time, sampling included).
        run(&next, 1, decodeTokens + 1, 0);
        next = stats.last;
        if (i >= 0) {
          runs.push_back(stats.decoded / stats.decodeSeconds);
          if (rooflineApplies) {
            rooflines.push_back(paired);
            fractions.push_back(runs.back() / paired);
          }
        }
        at += decodeTokens + 1;
      }
      Stat s = stat(runs);
      json &figures = r["decode"][std::to_string(depth)];
      figures = {{"tok_s", s.median},
                 {"spread", s.spread},
                 {"weight_gb_s", s.median * bytes / 1e9}};
      std::string ceiling = "n/a | n/a";
      if (rooflineApplies) {
        Stat paired = stat(rooflines), of = stat(fractions);
        figures["roofline_tok_s"] = paired.median;
        figures["of_roofline"] = of.median;
        ceiling = format("%.1f | %.0f%%", paired.median, 100 * of.median);
        if (of.median > 1)
          overRoofline.push_back(who + ": decode at depth " + std::to_string(depth));
      }
      std::cout << format("| %s | decode at depth %lld | %.2f | %.0f%% | %.1f | %s |\n",
                       who.c_str(), (long long)depth, s.median, 100 * s.spread,
                       s.median * bytes / 1e9, ceiling.c_str());
      std::cerr << format("qnext-bench: decode at %lld: %.2f tok/s\n", (long long)depth,
                       s.median);
    }
    rows.push_back(r);
  }
  out["runs"] = rows;
  out["over_roofline"] = overRoofline;
  std::cout << format("\nActive weight bytes per decoded token: %.3f GB\n", bytes / 1e9);
  if (rooflineApplies)
    std::cout << "Decode's roofline: those bytes over "
           << (gpu ? "the GPU's copy bandwidth" : "the read bandwidth")
           << " measured right before each run; its fraction: the median of the "
              "runs' own.\n";
  else
    std::cout << format("Decode's roofline: n/a: a token's weights are less than twice "
                     "the %s (%.0f MB), so caches serve them, not memory.\n",
                     gpu ? "largest L2 of NVIDIA's GPUs" : "last-level cache",
                     cacheBytes / 1e6);
  if (peakTflops > 0)
    std::cout << format("Prefill's roofline: %.0f TFLOP/s over 2 x %.3f G weights "
                     "multiplied per token (attention's and the delta rule's "
                     "products with the context not counted).\n",
                     double(peakTflops), active.macs / 1e9);
  if (std::string why; !jsonOut.empty() &&
                       !qnext::writeReplacing(jsonOut, out.dump(2) + "\n", why))
    return fail(why);
  if (!overRoofline.empty()) {
    std::string which;
    for (const std::string &w : overRoofline)
      which += (which.empty() ? "" : ", ") + w;
    return fail("faster than the roofline (" + which +
                "): the bandwidth or peak it assumes is below what this "
                "machine delivered, so those fractions are a bug in the "
                "benchmark, not results");
  }
  return 0;
}
} // namespace

int main(int argc, char **argv) {
  // The runtime checked what it reads of the manifest; qnext-bench reads
  // more of it (the tensors, for the bytes a token reads). Anything there
  // that is not as written is one line, never an abort.
  try {
    return benchMain(argc, argv);
  } catch (const nlohmann::json::exception &e) {
    return fail(std::string("the artifact's manifest: ") + e.what());
  } catch (const std::runtime_error &e) {
    return fail(e.what());
  } catch (const std::bad_alloc &) {
    return fail("out of memory");
  }
}
