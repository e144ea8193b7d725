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
// This file reads the options and picks the mode (RunOptions.h).
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "RuntimeTool.h"

#include <charconv>
#include <iostream>
#include <memory>

using namespace qnext;
using namespace qnext::run;
using qnext::tool::fail;

namespace qnext::run {

SamplingParams RunOptions::samplingOver(SamplingParams p) const {
  if (temperatureGiven)
    p.temperature = sampling.temperature;
  if (topKGiven)
    p.topK = sampling.topK;
  if (topPGiven)
    p.topP = sampling.topP;
  if (minPGiven)
    p.minP = sampling.minP;
  if (repetitionGiven)
    p.repetitionPenalty = sampling.repetitionPenalty;
  if (presenceGiven)
    p.presencePenalty = sampling.presencePenalty;
  p.seed = sampling.seed;
  return p;
}

int failWith(char *error) {
  int rc = fail(error ? error : "unknown runtime error");
  qnext_free_error(error);
  return rc;
}

int readTokens(const std::string &tokens, std::vector<int32_t> &ids) {
  std::string text = tokens, error;
  if (!text.empty() && text[0] == '@' && !tool::readFile(text.substr(1), text, error))
    return fail(error);
  auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  size_t at = 0;
  while (at <= text.size()) {
    size_t end = std::min(text.find(',', at), text.size());
    std::string_view item(text.data() + at, end - at);
    at = end + 1;
    if (item.empty())
      continue;
    std::string_view trimmed = item;
    while (!trimmed.empty() && isSpace(trimmed.front()))
      trimmed.remove_prefix(1);
    while (!trimmed.empty() && isSpace(trimmed.back()))
      trimmed.remove_suffix(1);
    int32_t id = 0;
    auto [end2, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), id);
    if (trimmed.empty() || ec != std::errc() || end2 != trimmed.data() + trimmed.size())
      return fail("--tokens: '" + std::string(item) + "' is not a token id");
    ids.push_back(id);
  }
  if (ids.empty())
    return fail("--tokens: no token ids");
  return 0;
}

void printStats(int threadsUsed, int64_t prompt, double prefillSeconds, int64_t decoded,
                double decodeSeconds) {
  std::cerr << "threads: " << threadsUsed << "\n";
  std::cerr << tool::format("prefill: %lld tokens, %.3f s, %.1f tok/s\n",
                            (long long)prompt, prefillSeconds, prompt / prefillSeconds);
  if (decoded)
    std::cerr << tool::format("decode: %lld tokens, %.3f s, %.2f tok/s\n",
                              (long long)decoded, decodeSeconds, decoded / decodeSeconds);
}

} // namespace qnext::run

int main(int argc, char **argv) {
  tool::toolName() = "qnext-run";
  RunOptions o;
  CLI::App app{
      "qnext-run: run a qnext model artifact (.qnx)\n\n"
      "  qnext-run model.qnx --tokens 1,2,3 --max-new 8      ids in, ids out\n"
      "  qnext-run model.qnx --prompt \"Once upon a time\"     text in, text out\n"
      "  qnext-run model.qnx --chat --prompt \"Hi\" --thinking-budget 64\n"
      "  qnext-run model.qnx --chat                  (a conversation on stdin)\n"
      "  qnext-run a.qnx --bisect-against b.qnx --tokens 1,2,3  (where do they part?)\n",
      "qnext-run"};
  app.add_option("artifact", o.artifact, "The model artifact")
      ->required()
      ->type_name("<model.qnx>");
  const char *run = "Run", *text = "Text (the artifact's tokenizer)",
             *sampling = "Sampling (defaults: the artifact's generation_config.json "
                         "with --prompt / --chat, greedy with --tokens)";
  app.add_option("--tokens", o.tokens,
                 "Prompt token ids, comma separated, or @FILE to read them from a file")
      ->type_name("IDS")
      ->group(run);
  CLI::Option *maxNew =
      app.add_option("--max-new", o.maxNew,
                     "Tokens to generate (default 16 with --tokens, 512 per reply "
                     "with --prompt / --chat)")
          ->type_name("N")
          ->group(run);
  app.add_option("--prefill-chunk", o.prefillChunk,
                 "Process the prompt in calls of at most N tokens (default: one call)")
      ->type_name("N")
      ->group(run);
  app.add_option("--max-context", o.maxContext,
                 "KV cache capacity in tokens (default: prompt + max-new; --chat "
                 "without --prompt: 4096, at most the model's maximum)")
      ->type_name("N")
      ->group(run);
  app.add_option("--threads", o.threads,
                 "Threads for the model's parallel loops (default: all cores)")
      ->type_name("N")
      ->group(run);
  app.add_option("--logits-out", o.logitsOut,
                 "Write float32 logits, one row of vocab_size per processed token")
      ->type_name("FILE")
      ->group(run);
  app.add_option("--reference-logits", o.referenceLogits,
                 "Compare every row with these float32 logits (same layout as "
                 "--logits-out); fail beyond --tolerance or on a different argmax")
      ->type_name("FILE")
      ->group(run);
  app.add_option("--mtp-logits-out", o.mtpLogitsOut,
                 "Write the MTP head's float32 logits: row t from the hidden state of "
                 "token t and token t + 1, for every token of prompt and generated "
                 "ones but the last (needs an artifact with the head)")
      ->type_name("FILE")
      ->group(run);
  app.add_option("--mtp-reference-logits", o.mtpReferenceLogits,
                 "Compare the MTP head's rows with these (the layout of "
                 "--mtp-logits-out), as --reference-logits does")
      ->type_name("FILE")
      ->group(run);
  app.add_option("--speculate", o.speculate,
                 "Speculative decoding: up to K drafts from the MTP head a step, "
                 "verified in one call (greedy: the same tokens as without; sampling: "
                 "drafts kept with the sampler's probability, the same distribution)")
      ->type_name("K")
      ->group(run);
  app.add_option("--speculate-drafts", o.speculateDrafts,
                 "--speculate with the drafts taken from these ids (comma separated or "
                 "@FILE: a plain greedy run's output gives 100 % acceptance, changed ids "
                 "rejections), not from the MTP head: for tests and benchmarks")
      ->type_name("IDS")
      ->group(run);
  app.add_option("--tolerance", o.tolerance,
                 "Max |d logit| for --reference-logits (default 1e-3)")
      ->group(run);
  app.add_flag("--verify", o.verify, "Also check the weights' checksum")->group(run);
  app.add_option("--bisect-against", o.bisectAgainst,
                 "Run the --tokens prompt through this artifact and OTHER (both "
                 "compiled with qnext-compile --taps, e.g. --fusion=none and "
                 "--fusion=all) and report the first layer whose output differs; "
                 "exit status 1 when one does")
      ->type_name("OTHER.qnx")
      ->group(run);
  app.add_option("--bisect-tolerance", o.bisectTolerance,
                 "--bisect-against: largest |difference| allowed, relative to the "
                 "largest |value| of the tap (default 1e-3)")
      ->group(run);
  app.add_option("--quality-against", o.qualityAgainst,
                 "Run the --tokens prompts (@FILE: one prompt a line) through this "
                 "artifact and REF (the same model unquantized) and print the top-1 "
                 "agreement of every row, the KL divergence of this artifact's "
                 "distribution from REF's (mean, 99th percentile, max) and the "
                 "largest logit difference")
      ->type_name("REF.qnx")
      ->group(run);
  app.add_flag("--quality-decode", o.qualityDecode,
               "--quality-against: compute every row with one-token decode steps "
               "(each prompt token given in turn) instead of one prefill: the "
               "accuracy of what decoding computes")
      ->group(run);
  app.add_flag("--info", o.info,
               "Print the model, the target and the weights by format (tensors, "
               "bytes, bits per weight, a quantized format with its scales) and "
               "exit; runs nothing")
      ->group(run);
  app.add_flag("--memory", o.memory,
               "Print the process's anonymous resident memory after prefill and "
               "after decode, and the size of the caches")
      ->group(run);

  app.add_option("--prompt", o.prompt,
                 "Prompt text (UTF-8), or @FILE; with --chat, the user's message")
      ->type_name("TEXT")
      ->group(text);
  app.add_flag("--chat", o.chat,
               "Talk through the chat template (ChatML). Without --prompt, each "
               "line of stdin is a user turn; the session's caches carry the "
               "conversation")
      ->group(text);
  app.add_option("--system", o.system, "--chat: a system message")
      ->type_name("TEXT")
      ->group(text);
  app.add_flag("--think", o.think, "--chat: open the think block in the prompt")
      ->group(text);
  app.add_flag("--no-think", o.noThink, "--chat: an empty think block (no thinking)")
      ->group(text);
  app.add_option("--thinking-budget", o.thinkingBudget,
                 "After N thinking tokens, force the stop-thinking text and "
                 "</think> through the model (default: no budget)")
      ->type_name("N")
      ->group(text);
  app.add_flag("--print-ids", o.printIds, "Also print each reply's token ids on stderr")
      ->group(text);

  SamplingParams &s = o.sampling;
  CLI::Option *given[] = {
      app.add_option("--temperature", s.temperature,
                     "Divide the logits by T before sampling (0: greedy)"),
      app.add_option("--top-k", s.topK, "Sample among the K most likely (0: all)"),
      app.add_option("--top-p", s.topP,
                     "Sample from the smallest set of tokens holding probability "
                     "mass P (1: all)"),
      app.add_option("--min-p", s.minP,
                     "Drop tokens less likely than P x the most likely one (0: none)"),
      app.add_option("--repetition-penalty", s.repetitionPenalty,
                     "Divide positive (multiply negative) logits of tokens seen so far"),
      app.add_option("--presence-penalty", s.presencePenalty,
                     "Subtract from logits of tokens generated so far"),
      app.add_option("--seed", s.seed, "Random seed (default 0)")};
  for (CLI::Option *option : given)
    option->group(sampling);
  if (auto rc = tool::parse(app, argc, argv))
    return *rc;
  o.maxNewGiven = maxNew->count() > 0;
  o.temperatureGiven = given[0]->count() > 0;
  o.topKGiven = given[1]->count() > 0;
  o.topPGiven = given[2]->count() > 0;
  o.minPGiven = given[3]->count() > 0;
  o.repetitionGiven = given[4]->count() > 0;
  o.presenceGiven = given[5]->count() > 0;

  if (o.info)
    return runInfo(o);
  if (!o.qualityAgainst.empty() && o.tokens.empty())
    return fail("--quality-against needs --tokens (the prompts both artifacts run)");
  if (o.tokens.empty() == (o.prompt.empty() && !o.chat))
    return fail(o.tokens.empty() ? "give --tokens, --prompt or --chat"
                                 : "--tokens excludes --prompt and --chat");
  if (o.maxNew < 0 || o.prefillChunk < 0 || o.maxContext < 0 || o.threads < 0)
    return fail("--max-new, --prefill-chunk, --max-context and --threads must "
                "not be negative");
  if (o.speculate < 0 || o.speculate > 16)
    return fail("--speculate must be between 0 and 16 drafts, got " +
                std::to_string(o.speculate));
  if (o.speculate && (!o.logitsOut.empty() || !o.referenceLogits.empty() ||
                      !o.mtpLogitsOut.empty() || !o.mtpReferenceLogits.empty()))
    return fail("--speculate excludes --logits-out, --reference-logits, "
                "--mtp-logits-out and --mtp-reference-logits (a verify call's rows "
                "are not the decode steps')");
  if (!o.speculateDrafts.empty() && !o.speculate)
    return fail("--speculate-drafts is an option of --speculate");
  if (o.speculate && o.tokens.empty())
    return fail("--speculate needs --tokens");
  if (o.threads > 4096)
    return fail("--threads " + std::to_string(o.threads) + " is more than 4096");
  if (std::string problem = o.samplingOver({}).check(); !problem.empty())
    return fail(problem);
  if (o.thinkingBudget < -1)
    return fail("--thinking-budget must be >= 0");
  if (o.tokens.empty() &&
      (!o.logitsOut.empty() || !o.referenceLogits.empty() || o.prefillChunk ||
       !o.mtpLogitsOut.empty() || !o.mtpReferenceLogits.empty()))
    return fail("--logits-out, --reference-logits, --mtp-logits-out, "
                "--mtp-reference-logits and --prefill-chunk need --tokens");
  if (!o.bisectAgainst.empty() && o.tokens.empty())
    return fail("--bisect-against needs --tokens (the prompt both artifacts run)");
  if (o.qualityDecode && o.qualityAgainst.empty())
    return fail("--quality-decode is an option of --quality-against");
  if (!o.qualityAgainst.empty() && !o.bisectAgainst.empty())
    return fail("--quality-against excludes --bisect-against");
  if (!(o.bisectTolerance >= 0))
    return fail("--bisect-tolerance must be >= 0");
  if (!o.tokens.empty() && (o.thinkingBudget >= 0 || o.printIds))
    return fail("--thinking-budget and --print-ids need --prompt or --chat");
  // Fail before the work, not after it, when the output cannot be written.
  if (!o.logitsOut.empty() && o.logitsOut != "-") {
    std::string why;
    if (!checkOutputPath(o.logitsOut, {o.artifact, o.referenceLogits, o.bisectAgainst},
                         o.logitsKind, why))
      return fail("--logits-out " + why);
  }
  if (!o.mtpLogitsOut.empty()) {
    std::string why;
    OutputKind kind;
    if (!checkOutputPath(o.mtpLogitsOut,
                         {o.artifact, o.referenceLogits, o.mtpReferenceLogits, o.logitsOut},
                         kind, why))
      return fail("--mtp-logits-out " + why);
  }

  char *error = nullptr;
  std::unique_ptr<qnext_model, void (*)(qnext_model *)> model(
      qnext_model_open(o.artifact.c_str(), &error), qnext_model_close);
  if (!model)
    return failWith(error);
  qnext::tool::sayCodeVariant(model.get());
  if (o.verify && qnext_model_verify(model.get(), &error))
    return failWith(error);
  int threadsUsed = o.threads ? qnext_model_set_threads(model.get(), int(o.threads))
                              : qnext_model_threads(model.get());
  if (!o.bisectAgainst.empty())
    return runBisect(o, model.get(), threadsUsed);
  if (!o.qualityAgainst.empty())
    return runQuality(o, model.get(), threadsUsed);
  return o.tokens.empty() ? runText(o, model.get(), threadsUsed)
                          : runTokens(o, model.get(), threadsUsed);
}
