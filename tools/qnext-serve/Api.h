//===- Api.h - the OpenAI-compatible requests and responses -----*- C++ -*-===//
//
// Requests are read into what the engine runs (a token prompt, sampling,
// limits, stop strings), every field checked; what is wrong is an
// OpenAI-shaped error ({"error": {"message", "type", "param", "code"}})
// with its HTTP status. Responses, whole or as server-sent-event chunks,
// are built here too.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TOOLS_QNEXT_SERVE_API_H
#define QNEXT_TOOLS_QNEXT_SERVE_API_H

#include "Reply.h"

#include "qnext/Chat.h"
#include "qnext/Sampler.h"
#include "qnext/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace qnext::serve {

using json = nlohmann::ordered_json;

/// An error to answer with.
struct ApiError {
  int status = 400;
  std::string message, type = "invalid_request_error", param, code;
  json body() const;
};

/// A 400 invalid_request_error about `param`.
ApiError invalid(const std::string &param, const std::string &message);

/// What the server knows that requests are checked against.
struct ServerInfo {
  std::string modelName;
  int64_t maxContext = 0;
  int64_t vocab = 0; ///< the model's (prompt token ids are checked against it)
  const Tokenizer *tokenizer = nullptr;
  ChatTemplate chatTemplate;
  SamplingParams defaults;
};

/// A request, read and checked.
struct Completion {
  bool chat = false;
  bool stream = false, includeUsage = false;
  std::vector<int32_t> prompt;
  SamplingParams params;
  int64_t maxTokens = 0;
  std::vector<std::string> stops;
  /// OpenAI's logit_bias: added to those tokens' logits before sampling.
  std::vector<std::pair<int32_t, float>> logitBias;
  /// The prompt's and the reply's token ids in the response (vLLM's
  /// return_token_ids): what agents and training loops that work on tokens
  /// read.
  bool returnTokenIds = false;
  /// Generate max_tokens whatever the model says (vLLM's and llama.cpp's
  /// ignore_eos: what benchmarks send).
  bool ignoreEos = false;
  /// A chat: its tools' <tool_call> blocks are parsed from the reply; the
  /// prompt opened a think block (the reply starts in its reasoning); the
  /// think block's budget in tokens (-1: none).
  bool parseTools = false, inReasoning = false;
  int64_t thinkingBudget = -1;
  /// A chat: the prompt's tokens before its generation prompt (where the
  /// conversation's next turn, which drops this turn's reasoning, still
  /// agrees with it): the engine saves a snapshot there. 0: none.
  int64_t turnEnd = 0;
  Thinking thinking = Thinking::TemplateDefault; ///< a chat's switch
  /// The conversation's opening, hashed (prefixHash()): what a
  /// prefix-aware router keys a conversation's replica on.
  uint64_t prefixHash = 0;
};

/// XXH64 (seed 0) of the little-endian int32 token ids of a request's
/// opening: a chat's messages up to its first user message, rendered by the
/// chat template without the generation prompt; a text prompt's first 256
/// tokens. Each turn of a conversation repeats its opening, so every turn
/// has the hash of the first.
uint64_t prefixHash(const std::vector<int32_t> &opening);

/// The chat side (ChatRequest.cpp): messages, tools, thinking, into
/// `prompt` (text to tokenize) and `c`.
bool readChat(const json &body, const ServerInfo &info, Completion &c, std::string &prompt,
              ApiError &error);

/// Reads a /v1/completions (`chat` false) or /v1/chat/completions body.
std::optional<Completion> readCompletion(const std::string &body, bool chat,
                                         const ServerInfo &info, ApiError &error);

/// The response bodies. `id` names the completion, `created` its time.
struct ResponseHead {
  std::string id, model;
  int64_t created = 0;
  bool chat = false;
};
/// `cachedTokens`: prompt tokens resumed from the prefix cache, not
/// prefilled (OpenAI's prompt_tokens_details.cached_tokens);
/// `reasoningTokens`: generated inside a think block
/// (completion_tokens_details.reasoning_tokens).
json usage(int64_t promptTokens, int64_t completionTokens, int64_t cachedTokens,
           int64_t reasoningTokens);
/// The prompt's token ids, and the reply's (every token sampled).
using TokenIds = std::pair<std::vector<int32_t>, std::vector<int32_t>>;
/// A reply: a completion's text (its content), or a chat's parts; a chat
/// with tool calls that stopped by itself finishes with "tool_calls".
json wholeResponse(const ResponseHead &head, const ReplyParser::Delta &reply,
                   const std::string &finishReason, const json &usage,
                   const TokenIds *tokenIds = nullptr);
/// One streamed chunk: a delta (the first chat chunk carries the role too;
/// its tool calls are numbered from `toolIndex`), or the end
/// (`finishReason` set).
json chunk(const ResponseHead &head, const ReplyParser::Delta &delta, bool first,
           const std::string &finishReason, size_t toolIndex = 0);
/// The usage chunk streamed last with stream_options.include_usage.
json usageChunk(const ResponseHead &head, const json &usage);

} // namespace qnext::serve

#endif // QNEXT_TOOLS_QNEXT_SERVE_API_H
