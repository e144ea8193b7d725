//===- TextMode.cpp - qnext-run --prompt / --chat: text in, text out ------===//
//
// The tokenizer, chat template and sampling defaults the artifact carries;
// the reply streamed to stdout as it is generated, statistics to stderr.
// With --chat and no --prompt, each line of stdin is a user turn and the
// session's caches carry the conversation.
//
//===----------------------------------------------------------------------===//

#include "ModelText.h"
#include "RunOptions.h"
#include "RuntimeTool.h"

#include "qnext/Chat.h"
#include "qnext/Generate.h"
#include "qnext/Tokenizer.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <unistd.h>

using qnext::tool::fail;

namespace qnext::run {

int runText(const RunOptions &o, qnext_model *model, int threadsUsed) {
  const std::string &path = o.artifact;
  std::string error;
  qnext::tool::ModelText text;
  if (!qnext::tool::readModelText(model, path, "use --tokens", text, error))
    return fail(error);
  const std::unique_ptr<qnext::Tokenizer> &tokenizer = text.tokenizer;
  const qnext::ChatTemplate &chatTemplate = text.chatTemplate;
  std::vector<int32_t> stopIds = text.stopIds;
  qnext::SamplingParams params = o.samplingOver(text.defaults);
  if (std::string problem = params.check(); !problem.empty())
    return fail(problem);
  const int32_t imEnd = tokenizer->tokenId("<|im_end|>").value_or(-1);
  if (o.chat && imEnd < 0)
    return fail(path + ": the tokenizer has no <|im_end|>: not a ChatML model");

  if (o.think && o.noThink)
    return fail("--think and --no-think exclude each other");
  if ((o.think || o.noThink || !o.system.empty()) && !o.chat)
    return fail("--think, --no-think and --system need --chat");
  qnext::Thinking thinking = o.think     ? qnext::Thinking::On
                             : o.noThink ? qnext::Thinking::Off
                                       : qnext::Thinking::TemplateDefault;
  std::vector<int32_t> forced;
  int32_t thinkOpen = -1, thinkClose = -1;
  if (o.thinkingBudget >= 0) {
    auto open = tokenizer->tokenId("<think>"), close = tokenizer->tokenId("</think>");
    if (!open || !close)
      return fail("--thinking-budget: the tokenizer has no <think> / </think>");
    thinkOpen = *open, thinkClose = *close;
    if (!tokenizer->encode(qnext::kStopThinkingText, forced, error))
      return fail(error);
  }

  // One prompt, or turns from stdin.
  std::string oneShot = o.prompt;
  if (!oneShot.empty() && oneShot[0] == '@' &&
      !tool::readFile(oneShot.substr(1), oneShot, error))
    return fail(error);
  const bool fromStdin = o.prompt.empty();
  const bool terminal = fromStdin && isatty(0);
  int64_t perReply = o.maxNewGiven ? o.maxNew : 512;
  const int64_t maxPositions = qnext_model_max_position_embeddings(model);

  auto encode = [&](const std::string &text, const char *what,
                    std::vector<int32_t> &ids) {
    if (!tokenizer->encode(text, ids, error)) {
      fail(std::string(what) + ": " + error);
      return false;
    }
    return true;
  };
  std::vector<int32_t> first;
  if (!fromStdin) {
    std::string text =
        o.chat ? chatTemplate.render(
                   o.system.empty()
                       ? std::vector<qnext::ChatMessage>{{"user", oneShot}}
                       : std::vector<qnext::ChatMessage>{{"system", o.system},
                                                         {"user", oneShot}},
                   /*addGenerationPrompt=*/true, thinking)
             : oneShot;
    if (!encode(text, "--prompt", first))
      return 1;
    if (first.empty())
      return fail("--prompt: no tokens");
  } else if (!o.chat) {
    return fail("give --tokens, --prompt or --chat");
  }
  // The reply's room: the model's positions bound a one-shot prompt and its
  // reply; the default budget shrinks to fit, a --max-new given does not.
  if (int64_t(first.size()) >= maxPositions)
    return fail("--prompt: " + std::to_string(first.size()) +
                " tokens leave no room for a reply in the model's " +
                std::to_string(maxPositions) + " positions (max_position_embeddings)");
  if (!fromStdin && !o.maxContext && perReply > maxPositions - int64_t(first.size())) {
    if (o.maxNewGiven)
      return fail("--prompt (" + std::to_string(first.size()) + " tokens) + --max-new (" +
                  std::to_string(perReply) + ") exceed the model's " +
                  std::to_string(maxPositions) + " positions (max_position_embeddings)");
    perReply = maxPositions - int64_t(first.size());
    std::cerr << "note: the reply is limited to " << perReply
              << " tokens: the model has " << maxPositions << " positions\n";
  }
  int64_t context = o.maxContext ? o.maxContext
                    : fromStdin ? std::min<int64_t>(4096, maxPositions)
                                : int64_t(first.size()) + perReply;
  char *message = nullptr;
  std::unique_ptr<qnext_session, void (*)(qnext_session *)> owned(
      qnext_session_create(model, context, &message), qnext_session_destroy);
  if (!owned)
    return failWith(message);
  qnext_session *session = owned.get();

  qnext::Sampler sampler(params);
  std::vector<int32_t> processed; // every token in the caches
  int32_t pending = -1;           // the last reply's final token, not processed
  int64_t turnNumber = 0;
  auto turn = [&](std::vector<int32_t> prompt) -> int {
    const int64_t at = qnext_session_position(session);
    if (int64_t(prompt.size()) > context - at || perReply > context - at - int64_t(prompt.size()))
      return fail("the conversation (" + std::to_string(at) + " tokens) + this turn (" +
                  std::to_string(prompt.size()) + ") + --max-new (" +
                  std::to_string(perReply) + ") exceed --max-context " +
                  std::to_string(context));
    if (turnNumber == 0)
      std::cerr << "sampling: " << params.describe() << "\n";
    std::unique_ptr<qnext::ThinkingBudget> budget;
    if (o.thinkingBudget >= 0)
      budget = std::make_unique<qnext::ThinkingBudget>(o.thinkingBudget, thinkOpen,
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
      std::cout << stream.push(id) << std::flush;
    };
    qnext::GenerationStats stats;
    qnext::GenerationOptions options;
    options.maxNew = perReply;
    // Rows past the tokenizer's last id (the embedding's padding) have no
    // text: they are not sampled.
    options.sampledVocab = std::min<int64_t>(qnext_model_vocab_size(model),
                                             tokenizer->size());
    options.stopIds = stopIds;
    options.budget = budget.get();
    options.onToken = onToken;
    if (!qnext::generate(session, prompt, options, sampler, processed, stats, error))
      return fail(error);
    std::cout << stream.finish() << "\n" << std::flush;
    pending = stats.last;
    ++turnNumber;
    if (o.printIds) {
      std::cerr << "ids:";
      for (size_t i = 0; i < reply.size(); ++i)
        std::cerr << (i ? "," : " ") << reply[i];
      std::cerr << "\n";
    }
    printStats(threadsUsed, stats.promptTokens, stats.prefillSeconds, stats.decoded,
               stats.decodeSeconds);
    if (budget) {
      std::cerr << "thinking: ";
      if (thinkingAtForce >= 0)
        std::cerr << "budget of " << o.thinkingBudget << " tokens reached; "
                  << stats.forced << " tokens forced\n";
      else if (budget->state() == qnext::ThinkingBudget::State::Idle)
        std::cerr << "no think block opened\n";
      else
        std::cerr << budget->thinkingTokens() << " tokens, within the budget of "
                  << o.thinkingBudget << "\n";
    }
    std::cerr << "stop: "
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
      std::cerr << "> " << std::flush;
    }
    if (!std::getline(std::cin, line))
      break;
    if (line.empty())
      continue;
    std::vector<int32_t> prompt;
    if (turnNumber == 0) {
      std::vector<qnext::ChatMessage> messages;
      if (!o.system.empty())
        messages.push_back({"system", o.system});
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

} // namespace qnext::run
