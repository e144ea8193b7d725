//===- qnext-run.cpp - run a compiled model -------------------------------===//
//
// Token ids in, token ids out (numerics, benchmarks):
//   qnext-run model.qnx --tokens 1,2,3 [--max-new N] [--prefill-chunk N]
//     [--max-context N] [--threads N] [--logits-out FILE] [--reference-logits FILE]
// processes the prompt, decodes greedily (or samples, given sampling flags),
// prints the generated ids on stdout and one line per phase on stderr
// ("prefill: 128 tokens, 1.97 s, 65.0 tok/s").
//
// Text in, text out, with the tokenizer, chat template and sampling defaults
// the artifact carries:
//   qnext-run model.qnx --prompt "text"                 (raw text)
//   qnext-run model.qnx --chat --prompt "question"      (one ChatML turn)
//   qnext-run model.qnx --chat                          (turns from stdin)
//     [--system TEXT] [--think | --no-think] [--thinking-budget N]
//     [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--seed S] ...
// streams the reply to stdout as it is generated, statistics to stderr.
//
//===----------------------------------------------------------------------===//

#include "qnext/Chat.h"
#include "qnext/FileChecks.h"
#include "qnext/Runtime.h"
#include "qnext/Sampler.h"
#include "qnext/Tokenizer.h"

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
#include <cstring>
#include <iostream>
#include <unistd.h>

using namespace llvm;

namespace {
cl::OptionCategory category("qnext-run options");
cl::opt<std::string> artifact(cl::Positional, cl::Required,
                              cl::desc("<model.qnx>"), cl::cat(category));
cl::opt<std::string> tokens("tokens",
                            cl::desc("Prompt token ids, comma separated, or "
                                     "@FILE to read them from a file"),
                            cl::value_desc("ids"), cl::cat(category));
cl::opt<int64_t> maxNew("max-new",
                        cl::desc("Tokens to generate (default 16 with --tokens, "
                                 "512 per reply with --prompt / --chat)"),
                        cl::init(16), cl::cat(category));

cl::OptionCategory textCategory("qnext-run text options (the artifact's tokenizer)");
cl::opt<std::string> promptText(
    "prompt",
    cl::desc("Prompt text (UTF-8), or @FILE; with --chat, the user's message"),
    cl::value_desc("text"), cl::cat(textCategory));
cl::opt<bool> chat("chat",
                   cl::desc("Talk through the chat template (ChatML). Without "
                            "--prompt, each line of stdin is a user turn; the "
                            "session's caches carry the conversation"),
                   cl::cat(textCategory));
cl::opt<std::string> systemText("system", cl::desc("--chat: a system message"),
                                cl::value_desc("text"), cl::cat(textCategory));
cl::opt<bool> think("think",
                    cl::desc("--chat: open the think block in the prompt"),
                    cl::cat(textCategory));
cl::opt<bool> noThink("no-think",
                      cl::desc("--chat: an empty think block (no thinking)"),
                      cl::cat(textCategory));
cl::opt<int64_t> thinkingBudget(
    "thinking-budget",
    cl::desc("After N thinking tokens, force the stop-thinking text and "
             "</think> through the model (default: no budget)"),
    cl::init(-1), cl::value_desc("N"), cl::cat(textCategory));
cl::opt<bool> printIds("print-ids",
                       cl::desc("Also print each reply's token ids on stderr"),
                       cl::cat(textCategory));

cl::OptionCategory samplingCategory(
    "qnext-run sampling options (defaults: the artifact's generation_config.json "
    "with --prompt / --chat, greedy with --tokens)");
cl::opt<double> temperature("temperature",
                            cl::desc("Divide the logits by T before sampling (0: greedy)"),
                            cl::cat(samplingCategory));
cl::opt<int64_t> topK("top-k", cl::desc("Sample among the K most likely (0: all)"),
                      cl::cat(samplingCategory));
cl::opt<double> topP("top-p",
                     cl::desc("Sample from the smallest set of tokens holding "
                              "probability mass P (1: all)"),
                     cl::cat(samplingCategory));
cl::opt<double> minP("min-p",
                     cl::desc("Drop tokens less likely than P x the most likely "
                              "one (0: none)"),
                     cl::cat(samplingCategory));
cl::opt<double> repetitionPenalty(
    "repetition-penalty",
    cl::desc("Divide positive (multiply negative) logits of tokens seen so far"),
    cl::cat(samplingCategory));
cl::opt<double> presencePenalty(
    "presence-penalty", cl::desc("Subtract from logits of tokens generated so far"),
    cl::cat(samplingCategory));
cl::opt<uint64_t> seed("seed", cl::desc("Random seed (default 0)"),
                       cl::cat(samplingCategory));
cl::opt<int64_t> prefillChunk(
    "prefill-chunk",
    cl::desc("Process the prompt in calls of at most N tokens (default: one call)"),
    cl::init(0), cl::cat(category));
cl::opt<int64_t> maxContext(
    "max-context",
    cl::desc("KV cache capacity in tokens (default: prompt + max-new; "
             "--chat without --prompt: 4096, at most the model's maximum)"),
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
cl::opt<std::string> bisectAgainst(
    "bisect-against",
    cl::desc("Run the --tokens prompt through this artifact and OTHER (both "
             "compiled with qnext-compile --taps, e.g. --fusion=none and "
             "--fusion=all) and report the first layer whose output differs; "
             "exit status 1 when one does"),
    cl::value_desc("OTHER.qnx"), cl::cat(category));
cl::opt<double> bisectTolerance(
    "bisect-tolerance",
    cl::desc("--bisect-against: largest |difference| allowed, relative to the "
             "largest |value| of the tap (default 1e-3)"),
    cl::init(1e-3), cl::cat(category));
cl::opt<bool> memory("memory",
                     cl::desc("Print the process's anonymous resident memory "
                              "after prefill and after decode, and the size "
                              "of the caches"),
                     cl::cat(category));

/// How --logits-out is written (qnext::checkOutputPath, before the work).
qnext::OutputKind logitsKind = qnext::OutputKind::Replace;

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

/// fail() with a runtime error string, which it releases.
int failWith(char *error) {
  int rc = fail(error);
  qnext_free_error(error);
  return rc;
}

/// The sampling parameters: `defaults`, then every flag given.
qnext::SamplingParams samplingFromFlags(qnext::SamplingParams p) {
  if (temperature.getNumOccurrences())
    p.temperature = temperature;
  if (topK.getNumOccurrences())
    p.topK = topK;
  if (topP.getNumOccurrences())
    p.topP = topP;
  if (minP.getNumOccurrences())
    p.minP = minP;
  if (repetitionPenalty.getNumOccurrences())
    p.repetitionPenalty = repetitionPenalty;
  if (presencePenalty.getNumOccurrences())
    p.presencePenalty = presencePenalty;
  p.seed = seed;
  return p;
}

/// A section of the artifact as text ("" when absent).
std::string sectionText(qnext_model *model, const char *name) {
  int64_t size = 0;
  const char *bytes = qnext_model_section(model, name, &size);
  return bytes ? std::string(bytes, size_t(size)) : std::string();
}

void printStats(int threadsUsed, int64_t prompt, double prefillSeconds,
                int64_t decoded, double decodeSeconds) {
  errs() << "threads: " << threadsUsed << "\n";
  errs() << format("prefill: %lld tokens, %.3f s, %.1f tok/s\n", (long long)prompt,
                   prefillSeconds, prompt / prefillSeconds);
  if (decoded)
    errs() << format("decode: %lld tokens, %.3f s, %.2f tok/s\n",
                     (long long)decoded, decodeSeconds, decoded / decodeSeconds);
}

/// --prompt / --chat: text in, streamed text out.
int runText(qnext_model *model, int threadsUsed) {
  const std::string path = artifact;
  std::string error;
  std::string tokenizerJson = sectionText(model, "tokenizer");
  if (tokenizerJson.empty())
    return fail(path + ": the artifact carries no tokenizer (its checkpoint had "
                       "no tokenizer.json); use --tokens");
  auto tokenizer = qnext::Tokenizer::fromJson(tokenizerJson, path + " (tokenizer)", error);
  if (!tokenizer)
    return fail(error);
  qnext::ChatTemplate chatTemplate;
  if (std::string config = sectionText(model, "tokenizer_config"); !config.empty()) {
    auto parsed = qnext::ChatTemplate::fromConfig(config, path + " (tokenizer_config)", error);
    if (!parsed)
      return fail(error);
    chatTemplate = *parsed;
  }
  qnext::SamplingParams defaults;
  std::vector<int32_t> stopIds;
  if (std::string generation = sectionText(model, "generation"); !generation.empty())
    if (!qnext::readGenerationConfig(generation, path + " (generation)", defaults,
                                     stopIds, error))
      return fail(error);
  qnext::SamplingParams params = samplingFromFlags(defaults);
  if (std::string problem = params.check(); !problem.empty())
    return fail(problem);
  for (const char *stop : {"<|im_end|>", "<|endoftext|>"})
    if (auto id = tokenizer->tokenId(stop);
        id && std::find(stopIds.begin(), stopIds.end(), *id) == stopIds.end())
      stopIds.push_back(*id);
  const int32_t imEnd = tokenizer->tokenId("<|im_end|>").value_or(-1);
  if (chat && imEnd < 0)
    return fail(path + ": the tokenizer has no <|im_end|>: not a ChatML model");

  if (think && noThink)
    return fail("--think and --no-think exclude each other");
  if ((think || noThink || !systemText.empty()) && !chat)
    return fail("--think, --no-think and --system need --chat");
  qnext::Thinking thinking = think     ? qnext::Thinking::On
                             : noThink ? qnext::Thinking::Off
                                       : qnext::Thinking::TemplateDefault;
  std::vector<int32_t> forced;
  int32_t thinkOpen = -1, thinkClose = -1;
  if (thinkingBudget >= 0) {
    auto open = tokenizer->tokenId("<think>"), close = tokenizer->tokenId("</think>");
    if (!open || !close)
      return fail("--thinking-budget: the tokenizer has no <think> / </think>");
    thinkOpen = *open, thinkClose = *close;
    if (!tokenizer->encode(qnext::kStopThinkingText, forced, error))
      return fail(error);
  }

  // One prompt, or turns from stdin.
  std::string oneShot = promptText;
  if (StringRef(oneShot).starts_with("@")) {
    auto file = MemoryBuffer::getFile(oneShot.substr(1), /*IsText=*/true);
    if (!file)
      return fail(oneShot.substr(1) + ": " + file.getError().message());
    oneShot = (*file)->getBuffer().str();
  }
  const bool fromStdin = promptText.empty();
  const bool terminal = fromStdin && isatty(0);
  const int64_t perReply = maxNew.getNumOccurrences() ? int64_t(maxNew) : 512;
  const int64_t maxPositions = qnext_model_max_position_embeddings(model);

  auto encode = [&](const std::string &text, const char *what,
                    std::vector<int32_t> &ids) {
    if (!tokenizer->encode(text, ids, error)) {
      fail(Twine(what) + ": " + error);
      return false;
    }
    return true;
  };
  std::vector<int32_t> first;
  if (!fromStdin) {
    std::string text =
        chat ? chatTemplate.render(
                   systemText.empty()
                       ? std::vector<qnext::ChatMessage>{{"user", oneShot}}
                       : std::vector<qnext::ChatMessage>{{"system", systemText},
                                                         {"user", oneShot}},
                   /*addGenerationPrompt=*/true, thinking)
             : oneShot;
    if (!encode(text, "--prompt", first))
      return 1;
    if (first.empty())
      return fail("--prompt: no tokens");
  } else if (!chat) {
    return fail("give --tokens, --prompt or --chat");
  }
  int64_t context = maxContext ? int64_t(maxContext)
                    : fromStdin ? std::min<int64_t>(4096, maxPositions)
                                : int64_t(first.size()) + perReply;
  char *message = nullptr;
  qnext_session *session = qnext_session_create(model, context, &message);
  if (!session)
    return failWith(message);
  scope_exit closeSession([&] { qnext_session_destroy(session); });

  qnext::Sampler sampler(params);
  std::vector<int32_t> processed; // every token in the caches
  int32_t pending = -1;           // the last reply's final token, not processed
  int64_t turnNumber = 0;
  auto turn = [&](std::vector<int32_t> prompt) -> int {
    const int64_t at = qnext_session_position(session);
    if (at + int64_t(prompt.size()) + perReply > context)
      return fail("the conversation (" + Twine(at) + " tokens) + this turn (" +
                  Twine(prompt.size()) + ") + --max-new (" + Twine(perReply) +
                  ") exceed --max-context " + Twine(context));
    if (turnNumber == 0)
      errs() << "sampling: " << params.describe() << "\n";
    std::unique_ptr<qnext::ThinkingBudget> budget;
    if (thinkingBudget >= 0)
      budget = std::make_unique<qnext::ThinkingBudget>(thinkingBudget, thinkOpen,
                                                       thinkClose, forced);
    qnext::StreamDecoder stream(*tokenizer);
    std::vector<int32_t> reply;
    int64_t thinkingAtForce = -1;
    auto onToken = [&](int32_t id, bool isForced) {
      reply.push_back(id);
      if (isForced && thinkingAtForce < 0)
        thinkingAtForce = budget->thinkingTokens();
      if (!isForced && std::find(stopIds.begin(), stopIds.end(), id) != stopIds.end())
        return; // the stop token is not shown
      outs() << stream.push(id);
      outs().flush();
    };
    qnext::GenerationStats stats;
    // Rows past the tokenizer's last id (the embedding's padding) have no
    // text: they are not sampled.
    const int64_t sampled = std::min<int64_t>(qnext_model_vocab_size(model),
                                              tokenizer->size());
    if (!qnext::generate(session, sampled, prompt, perReply,
                         stopIds, sampler, budget.get(), processed, onToken,
                         stats, error))
      return fail(error);
    outs() << stream.finish() << "\n";
    outs().flush();
    pending = stats.last;
    ++turnNumber;
    if (printIds) {
      errs() << "ids:";
      for (size_t i = 0; i < reply.size(); ++i)
        errs() << (i ? "," : " ") << reply[i];
      errs() << "\n";
    }
    printStats(threadsUsed, stats.promptTokens, stats.prefillSeconds,
               std::max<int64_t>(0, stats.generated - 1), stats.decodeSeconds);
    if (budget) {
      errs() << "thinking: ";
      if (thinkingAtForce >= 0)
        errs() << "budget of " << thinkingBudget << " tokens reached; "
               << stats.forced << " tokens forced\n";
      else if (budget->state() == qnext::ThinkingBudget::State::Idle)
        errs() << "no think block opened\n";
      else
        errs() << budget->thinkingTokens() << " tokens, within the budget of "
               << thinkingBudget << "\n";
    }
    errs() << "stop: "
           << (stats.stopped ? "end of turn"
                             : "--max-new " + std::to_string(perReply) + " reached")
           << "\n";
    return 0;
  };

  if (!fromStdin)
    return turn(first);
  std::string line;
  while (true) {
    if (terminal) {
      errs() << "> ";
      errs().flush();
    }
    if (!std::getline(std::cin, line))
      break;
    if (line.empty())
      continue;
    std::vector<int32_t> prompt;
    if (turnNumber == 0) {
      std::vector<qnext::ChatMessage> messages;
      if (!systemText.empty())
        messages.push_back({"system", systemText});
      messages.push_back({"user", line});
      if (!encode(chatTemplate.render(messages, true, thinking), "stdin", prompt))
        return 1;
    } else {
      // The last reply's final token, its end of turn if it was cut short,
      // then the new turn: the caches already hold everything before.
      prompt.push_back(pending);
      if (pending != imEnd)
        prompt.push_back(imEnd);
      if (!encode(chatTemplate.nextTurn(line, thinking), "stdin", prompt))
        return 1;
    }
    if (int rc = turn(prompt))
      return rc;
  }
  return 0;
}

/// The ids of --tokens (a list, or @file); 0 on success, else fail()'s code.
int readTokens(std::vector<int32_t> &prompt) {
  std::string tokenText = tokens;
  if (StringRef(tokenText).starts_with("@")) {
    auto file = MemoryBuffer::getFile(tokenText.substr(1), /*IsText=*/true);
    if (!file)
      return fail(tokenText.substr(1) + ": " + file.getError().message());
    tokenText = (*file)->getBuffer().trim().str();
  }
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
  return 0;
}

/// --bisect-against: the same prompt through two artifacts of one
/// checkpoint, their taps (each layer's mixer and MLP outputs) compared in
/// order; the first beyond the tolerance is where they part.
int runBisect(qnext_model *model, int threadsUsed) {
  char *error = nullptr;
  std::vector<int32_t> prompt;
  if (int rc = readTokens(prompt))
    return rc;
  qnext_model *other = qnext_model_open(bisectAgainst.c_str(), &error);
  if (!other)
    return failWith(error);
  scope_exit closeOther([&] { qnext_model_close(other); });
  qnext_model_set_threads(other, threadsUsed);
  const std::string names[2] = {artifact, bisectAgainst};
  qnext_model *models[2] = {model, other};
  for (int i = 0; i < 2; ++i)
    if (!qnext_model_tap_rows(models[i]))
      return fail(names[i] + ": no taps entry point (compile it with "
                  "qnext-compile --taps)");
  const int64_t rows = qnext_model_tap_rows(model);
  const int64_t hidden = qnext_model_hidden_size(model);
  const int64_t vocab = qnext_model_vocab_size(model);
  if (qnext_model_tap_rows(other) != rows ||
      qnext_model_hidden_size(other) != hidden ||
      qnext_model_vocab_size(other) != vocab)
    return fail(bisectAgainst + ": not the same model as " + artifact +
                " (layers, hidden_size or vocab_size differ)");
  const int64_t n = prompt.size();
  std::vector<float> taps[2], logits[2];
  for (int i = 0; i < 2; ++i) {
    qnext_session *session = qnext_session_create(models[i], n, &error);
    if (!session)
      return failWith(error);
    scope_exit closeSession([&] { qnext_session_destroy(session); });
    taps[i].resize(rows * n * hidden);
    logits[i].resize(n * vocab);
    if (qnext_session_prefill_taps(session, prompt.data(), n, logits[i].data(),
                                   taps[i].data(), &error))
      return failWith(error);
  }
  // Layer kinds from the manifest, to name the taps as HF names the modules.
  std::string layerTypes;
  {
    std::string manifest = qnext_model_manifest(model);
    size_t at = manifest.find("\"layer_types\": \"");
    if (at != std::string::npos) {
      at += strlen("\"layer_types\": \"");
      layerTypes = manifest.substr(at, manifest.find('"', at) - at);
    }
  }
  auto tapName = [&](int64_t r) {
    int64_t layer = r / 2;
    std::string mixer = size_t(layer) < layerTypes.size() && layerTypes[layer] == 'F'
                            ? "self_attn"
                            : "linear_attn";
    return "layers." + std::to_string(layer) + "." + (r % 2 ? "mlp" : mixer);
  };
  struct Difference {
    double abs = 0, rel = 0;
    int64_t token = 0;
  };
  auto compare = [](const float *a, const float *b, int64_t count, int64_t width) {
    Difference d;
    double scale = 0;
    for (int64_t i = 0; i < count; ++i) {
      scale = std::max(scale, std::fabs(double(b[i])));
      double delta = std::isnan(a[i]) != std::isnan(b[i])
                         ? INFINITY
                         : std::fabs(double(a[i]) - double(b[i]));
      if (delta > d.abs) {
        d.abs = delta;
        d.token = i / width;
      }
    }
    d.rel = d.abs / std::max(scale, 1e-30);
    return d;
  };
  outs() << "| tap | max abs | max rel | at token |\n| --- | ---: | ---: | ---: |\n";
  int64_t first = -1;
  Difference firstDifference;
  for (int64_t r = 0; r <= rows; ++r) {
    Difference d = r < rows
                       ? compare(taps[0].data() + r * n * hidden,
                                 taps[1].data() + r * n * hidden, n * hidden, hidden)
                       : compare(logits[0].data(), logits[1].data(), n * vocab, vocab);
    std::string name = r < rows ? tapName(r) : "logits";
    outs() << format("| %s | %.3g | %.3g | %lld |\n", name.c_str(), d.abs, d.rel,
                     (long long)d.token);
    if (first < 0 && !(d.rel <= bisectTolerance)) {
      first = r;
      firstDifference = d;
    }
  }
  if (first < 0) {
    outs() << "no difference: " << n << " tokens, every tap and the logits agree "
           << "within " << format("%g", double(bisectTolerance)) << " (relative)\n";
    return 0;
  }
  outs() << "first difference: "
         << (first < rows ? tapName(first) : std::string("logits"))
         << format(" (max abs %.3g, rel %.3g, token %lld; tolerance %g)\n",
                   firstDifference.abs, firstDifference.rel,
                   (long long)firstDifference.token, double(bisectTolerance));
  return 1;
}

/// --tokens: ids in, ids out.
int runTokens(qnext_model *model, int threadsUsed) {
  char *error = nullptr;
  std::vector<int32_t> prompt;
  if (int rc = readTokens(prompt))
    return rc;
  const int64_t vocab = qnext_model_vocab_size(model);
  const int64_t p = prompt.size();
  int64_t context = maxContext ? int64_t(maxContext) : p + maxNew;
  if (p + maxNew > context)
    return fail("prompt (" + Twine(p) + " tokens) + --max-new (" + Twine(maxNew) +
                ") exceed --max-context " + Twine(context));
  qnext_session *session = qnext_session_create(model, context, &error);
  if (!session)
    return failWith(error);
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
  // Greedy unless sampling flags say otherwise; every id generated, no stop
  // token (what numerics and benchmarks want). Allocated up front, so that
  // --memory measures the runtime, not this loop's bookkeeping.
  qnext::Sampler sampler(samplingFromFlags({}));
  std::vector<int32_t> history = prompt, generated;
  history.reserve(p + maxNew);
  generated.reserve(maxNew);
  std::vector<float> scratch(static_cast<size_t>(vocab)); // the kept rows stay as computed
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
    if (failed)
      return failWith(error);
  }
  double prefillSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t afterPrefillKiB = memory ? anonymousKiB() : 0;

  start = Clock::now();
  for (int64_t i = 0; i < maxNew; ++i) {
    std::copy(lastRow(), lastRow() + vocab, scratch.begin());
    int32_t next = sampler.sample(scratch.data(), vocab, history, prompt.size());
    generated.push_back(next);
    if (i + 1 == maxNew)
      break; // the last token's own logits are not needed
    if (qnext_session_decode(session, next, nextRow(), &error))
      return failWith(error);
    history.push_back(next);
  }
  double decodeSeconds = std::chrono::duration<double>(Clock::now() - start).count();
  int64_t afterDecodeKiB = memory ? anonymousKiB() : 0;

  for (size_t i = 0; i < generated.size(); ++i)
    outs() << (i ? "," : "") << generated[i];
  outs() << "\n";
  printStats(threadsUsed, p, prefillSeconds, std::max<int64_t>(0, maxNew - 1),
             decodeSeconds);
  if (memory)
    errs() << format("memory: %lld KiB after prefill, %lld KiB after decode, "
                     "caches and states %lld KiB\n",
                     (long long)afterPrefillKiB, (long long)afterDecodeKiB,
                     (long long)(qnext_session_state_bytes(session) >> 10));

  if (!logitsOut.empty()) {
    std::string_view bytes(reinterpret_cast<const char *>(logits.data()),
                           logits.size() * sizeof(float));
    std::string why;
    if (logitsKind == qnext::OutputKind::InPlace) { // /dev/null: never replaced
      if (!qnext::writeInPlace(logitsOut, bytes, why))
        return fail(why);
    } else if (Error e = writeToOutput(logitsOut, [&](raw_ostream &os) {
                 os << bytes;
                 return Error::success();
               })) {
      return fail(logitsOut + ": " + toString(std::move(e)));
    }
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
  cl::HideUnrelatedOptions({&category, &textCategory, &samplingCategory});
  cl::ParseCommandLineOptions(
      argc, argv,
      "qnext-run: run a qnext model artifact (.qnx)\n\n"
      "  qnext-run model.qnx --tokens 1,2,3 --max-new 8      ids in, ids out\n"
      "  qnext-run model.qnx --prompt \"Once upon a time\"     text in, text out\n"
      "  qnext-run model.qnx --chat --prompt \"Hi\" --thinking-budget 64\n"
      "  qnext-run model.qnx --chat                  (a conversation on stdin)\n"
      "  qnext-run a.qnx --bisect-against b.qnx --tokens 1,2,3  (where do they part?)\n");

  if (tokens.empty() == (promptText.empty() && !chat))
    return fail(tokens.empty() ? "give --tokens, --prompt or --chat"
                               : "--tokens excludes --prompt and --chat");
  if (maxNew < 0 || prefillChunk < 0 || maxContext < 0 || threads < 0)
    return fail("--max-new, --prefill-chunk, --max-context and --threads must "
                "not be negative");
  if (threads > 4096)
    return fail("--threads " + Twine(threads) + " is more than 4096");
  if (std::string problem = samplingFromFlags({}).check(); !problem.empty())
    return fail(problem);
  if (thinkingBudget < -1)
    return fail("--thinking-budget must be >= 0");
  if (tokens.empty() && (!logitsOut.empty() || !referenceLogits.empty() || prefillChunk))
    return fail("--logits-out, --reference-logits and --prefill-chunk need --tokens");
  if (!bisectAgainst.empty() && tokens.empty())
    return fail("--bisect-against needs --tokens (the prompt both artifacts run)");
  if (!(bisectTolerance >= 0))
    return fail("--bisect-tolerance must be >= 0");
  if (!tokens.empty() && (thinkingBudget >= 0 || printIds))
    return fail("--thinking-budget and --print-ids need --prompt or --chat");
  // Fail before the work, not after it, when the output cannot be written.
  if (!logitsOut.empty() && logitsOut != "-") {
    StringRef dir = sys::path::parent_path(logitsOut);
    if (!dir.empty() && !sys::fs::is_directory(dir))
      return fail("--logits-out " + logitsOut + ": no folder " + dir);
    std::string why;
    if (!qnext::checkOutputPath(logitsOut, {artifact, referenceLogits, bisectAgainst},
                                logitsKind, why))
      return fail("--logits-out " + why);
  }

  char *error = nullptr;
  qnext_model *model = qnext_model_open(artifact.c_str(), &error);
  if (!model)
    return failWith(error);
  scope_exit closeModel([&] { qnext_model_close(model); });
  if (verify && qnext_model_verify(model, &error))
    return failWith(error);
  int threadsUsed = threads ? qnext_model_set_threads(model, int(threads))
                            : qnext_model_threads(model);
  if (!bisectAgainst.empty())
    return runBisect(model, threadsUsed);
  return tokens.empty() ? runText(model, threadsUsed)
                        : runTokens(model, threadsUsed);
}
