//===- Api.cpp - the OpenAI-compatible requests and responses -------------===//

#include "Api.h"

#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <map>
#include <limits>
#include <random>

namespace qnext::serve {

json ApiError::body() const {
  return {{"error",
           {{"message", message},
            {"type", type},
            {"param", param.empty() ? json(nullptr) : json(param)},
            {"code", code.empty() ? json(nullptr) : json(code)}}}};
}

ApiError invalid(const std::string &param, const std::string &message) {
  ApiError e;
  e.param = param;
  e.message = message;
  return e;
}

namespace {

/// The fields each endpoint takes; any other is refused by name (a client
/// should not believe a setting was honoured that was not).
const std::vector<std::string> kCommon = {
    "model",       "max_tokens",        "temperature",       "top_p",
    "top_k",       "min_p",             "presence_penalty",  "frequency_penalty",
    "repetition_penalty", "seed",       "stop",              "n",
    "stream",      "stream_options",    "user",              "return_token_ids",
    "logit_bias",  "ignore_eos"};

/// Reads the request's fields one by one; the first problem wins.
class Reader {
public:
  Reader(const json &body, ApiError &error) : body(body), error(error) {}
  bool failed() const { return bad; }

  /// A number in [lo, hi] (an integer when `integral`), when present.
  template <typename T>
  void number(const char *name, T &out, double lo, double hi, bool integral = false) {
    if (bad || !body.contains(name) || body[name].is_null())
      return;
    const json &v = body[name];
    if (!v.is_number() || (integral && !v.is_number_integer()))
      return fail(name, std::string(name) + " must be " +
                            (integral ? "an integer" : "a number"));
    double d = v.get<double>();
    if (!std::isfinite(d) || d < lo || d > hi)
      return fail(name, std::string(name) + " must be in [" + format(lo) + ", " +
                            format(hi) + "], got " + v.dump());
    out = integral ? T(v.get<int64_t>()) : T(d);
  }
  void boolean(const char *name, bool &out) {
    if (bad || !body.contains(name) || body[name].is_null())
      return;
    if (!body[name].is_boolean())
      return fail(name, std::string(name) + " must be true or false");
    out = body[name].get<bool>();
  }
  void fail(const std::string &param, const std::string &message) {
    if (bad)
      return;
    bad = true;
    error = invalid(param, message);
  }

private:
  static std::string format(double d) {
    if (d == std::numeric_limits<double>::max())
      return "inf";
    std::string s = std::to_string(d);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.')
      s.pop_back();
    return s;
  }
  const json &body;
  ApiError &error;
  bool bad = false;
};

} // namespace

std::optional<Completion> readCompletion(const std::string &text, bool chat,
                                         const ServerInfo &info, ApiError &error) {
  json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    error = invalid("", "the request body is not valid JSON");
    return std::nullopt;
  }
  if (!body.is_object()) {
    error = invalid("", "the request body must be a JSON object");
    return std::nullopt;
  }
  std::vector<std::string> known = kCommon;
  if (chat)
    known.insert(known.end(), {"messages", "max_completion_tokens", "chat_template_kwargs",
                               "tools", "tool_choice", "thinking_budget"});
  else
    known.push_back("prompt");
  for (const auto &[key, value] : body.items())
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      error = invalid(key, "unsupported field '" + key + "'");
      return std::nullopt;
    }
  if (body.contains("model") && !body["model"].is_null()) {
    if (!body["model"].is_string()) {
      error = invalid("model", "model must be a string");
      return std::nullopt;
    }
    if (body["model"].get<std::string>() != info.modelName) {
      error = invalid("model", "the model '" + body["model"].get<std::string>() +
                                   "' does not exist (this server has '" +
                                   info.modelName + "')");
      error.status = 404;
      error.code = "model_not_found";
      return std::nullopt;
    }
  }

  Completion c;
  c.chat = chat;
  c.params = info.defaults;
  Reader r(body, error);
  const double inf = std::numeric_limits<double>::max();
  // OpenAI's defaults: 16 tokens for a completion, the rest of the context
  // for a chat.
  c.maxTokens = chat ? info.maxContext : 16;
  r.number("max_tokens", c.maxTokens, 1, double(info.maxContext), true);
  if (chat)
    r.number("max_completion_tokens", c.maxTokens, 1, double(info.maxContext), true);
  r.number("temperature", c.params.temperature, 0, 2);
  r.number("top_p", c.params.topP, 0, 1);
  r.number("top_k", c.params.topK, 0, 1e9, true);
  r.number("min_p", c.params.minP, 0, 1);
  r.number("presence_penalty", c.params.presencePenalty, -2, 2);
  r.number("repetition_penalty", c.params.repetitionPenalty, 0, inf);
  r.number("frequency_penalty", c.params.frequencyPenalty, -2, 2);
  // Without a seed, each request draws its own (two alike sample apart).
  uint64_t seed = std::random_device{}();
  r.number("seed", seed, 0, 9007199254740991.0, true);
  c.params.seed = seed;
  int64_t n = 1;
  r.number("n", n, 1, 1, true);
  r.boolean("stream", c.stream);
  r.boolean("return_token_ids", c.returnTokenIds);
  r.boolean("ignore_eos", c.ignoreEos);
  if (c.stream && c.returnTokenIds)
    r.fail("return_token_ids", "return_token_ids is for whole responses (stream false)");
  if (!r.failed() && body.contains("stream_options") && !body["stream_options"].is_null()) {
    const json &o = body["stream_options"];
    if (!o.is_object())
      r.fail("stream_options", "stream_options must be an object");
    else
      for (const auto &[key, value] : o.items()) {
        if (key != "include_usage" || !value.is_boolean()) {
          r.fail("stream_options." + key,
                 "stream_options takes include_usage (true or false) only");
          break;
        }
        c.includeUsage = value.get<bool>();
      }
  }
  if (!r.failed() && body.contains("logit_bias") && !body["logit_bias"].is_null()) {
    const json &b = body["logit_bias"];
    // Tokens that can be sampled: the model's, at most its tokenizer's.
    const int64_t vocab = std::min<int64_t>(info.vocab, info.tokenizer->size());
    std::map<int32_t, float> biases; // "5" and "05" are one token: the last wins
    if (!b.is_object() || b.size() > 1024)
      r.fail("logit_bias", "logit_bias must be an object of at most 1024 token ids");
    for (auto it = b.begin(); !r.failed() && it != b.end(); ++it) {
      const std::string &key = it.key();
      char *end = nullptr;
      const long long id = std::strtoll(key.c_str(), &end, 10);
      if (key.empty() || *end || id < 0 || id >= vocab)
        r.fail("logit_bias", "logit_bias: '" + key + "' is not a token id in [0, " +
                                 std::to_string(vocab) + ")");
      else if (!it.value().is_number() || !(it.value().get<double>() >= -100) ||
               !(it.value().get<double>() <= 100))
        r.fail("logit_bias", "logit_bias: the bias of token " + key +
                                 " must be a number in [-100, 100]");
      else
        biases[int32_t(id)] = it.value().get<float>();
    }
    c.logitBias.assign(biases.begin(), biases.end());
  }
  if (!r.failed() && body.contains("stop") && !body["stop"].is_null()) {
    const json &s = body["stop"];
    std::vector<json> items = s.is_array() ? std::vector<json>(s.begin(), s.end())
                                           : std::vector<json>{s};
    if (items.size() > 4)
      r.fail("stop", "stop takes at most 4 strings");
    for (const json &item : items) {
      if (!item.is_string() || item.get<std::string>().empty() ||
          item.get<std::string>().size() > 256) {
        r.fail("stop", "stop must be a string of 1 to 256 bytes or a list of them");
        break;
      }
      c.stops.push_back(item.get<std::string>());
    }
  }
  if (!r.failed()) {
    if (std::string problem = c.params.check(); !problem.empty())
      r.fail("", problem);
  }
  if (r.failed())
    return std::nullopt;

  // The prompt: text, or a chat rendered by the model's template.
  std::string prompt;
  if (chat) {
    if (!readChat(body, info, c, prompt, error))
      return std::nullopt;
  } else {
    // Text, a list of one text, or token ids.
    const json *p = body.contains("prompt") ? &body["prompt"] : nullptr;
    if (p && p->is_array() && p->size() == 1 && (*p)[0].is_string())
      p = &(*p)[0];
    const bool ids = p && p->is_array() && !p->empty() &&
                     std::all_of(p->begin(), p->end(),
                                 [](const json &v) { return v.is_number_integer(); });
    if (!p || (!p->is_string() && !ids)) {
      error = invalid("prompt", "prompt must be a string or a list of token ids");
      return std::nullopt;
    }
    if (ids) {
      // The model's vocabulary (its tokenizer's may be smaller).
      const int64_t vocab = info.vocab;
      for (size_t i = 0; i < p->size(); ++i) {
        const int64_t id = (*p)[i].get<int64_t>();
        if (id < 0 || id >= vocab) {
          error = invalid("prompt", "prompt[" + std::to_string(i) + "]: token id " +
                                        std::to_string(id) + " is outside the vocabulary [0, " +
                                        std::to_string(vocab) + ")");
          return std::nullopt;
        }
        c.prompt.push_back(int32_t(id));
      }
    } else {
      prompt = *p;
    }
  }
  std::string why;
  if (c.prompt.empty() && !info.tokenizer->encode(prompt, c.prompt, why)) {
    error = invalid(chat ? "messages" : "prompt", why);
    return std::nullopt;
  }
  if (c.prompt.empty()) {
    error = invalid("prompt", "the prompt has no tokens");
    return std::nullopt;
  }
  if (int64_t(c.prompt.size()) >= info.maxContext) {
    error = invalid(chat ? "messages" : "prompt",
                    "the prompt is " + std::to_string(c.prompt.size()) +
                        " tokens; this server's context is " +
                        std::to_string(info.maxContext) +
                        " tokens (--max-context), the reply included");
    error.code = "context_length_exceeded";
    return std::nullopt;
  }
  if (chat) {
    std::vector<int32_t> generation;
    if (info.tokenizer->encode(info.chatTemplate.generationPrompt(c.thinking), generation, why) &&
        generation.size() < c.prompt.size() &&
        std::equal(generation.begin(), generation.end(), c.prompt.end() - long(generation.size())))
      c.turnEnd = int64_t(c.prompt.size() - generation.size());
  } else {
    c.prefixHash = prefixHash(std::vector<int32_t>(
        c.prompt.begin(), c.prompt.begin() + long(std::min<size_t>(c.prompt.size(), 256))));
  }
  return c;
}

uint64_t prefixHash(const std::vector<int32_t> &opening) {
  return XXH64(opening.data(), opening.size() * sizeof(int32_t), 0);
}

json usage(int64_t promptTokens, int64_t completionTokens, int64_t cachedTokens,
           int64_t reasoningTokens) {
  return {{"prompt_tokens", promptTokens},
          {"completion_tokens", completionTokens},
          {"total_tokens", promptTokens + completionTokens},
          {"prompt_tokens_details", {{"cached_tokens", cachedTokens}}},
          {"completion_tokens_details", {{"reasoning_tokens", reasoningTokens}}}};
}

namespace {
json head(const ResponseHead &h, bool chunked) {
  return {{"id", h.id},
          {"object", h.chat ? (chunked ? "chat.completion.chunk" : "chat.completion")
                            : "text_completion"},
          {"created", h.created},
          {"model", h.model}};
}

json toolCalls(const ResponseHead &h, const std::vector<ToolCall> &calls, size_t first,
               bool indexed) {
  json out = json::array();
  for (size_t i = 0; i < calls.size(); ++i) {
    json call;
    if (indexed)
      call["index"] = first + i;
    call["id"] = "call_" + h.id.substr(h.id.find('-') + 1) + "_" + std::to_string(first + i);
    call["type"] = "function";
    call["function"] = {{"name", calls[i].name}, {"arguments", calls[i].arguments}};
    out.push_back(call);
  }
  return out;
}

/// The reasoning, under both names clients read.
void reasoning(json &message, const std::string &text) {
  message["reasoning_content"] = text;
  message["reasoning"] = text;
}
} // namespace

json wholeResponse(const ResponseHead &h, const ReplyParser::Delta &reply,
                   const std::string &finishReason, const json &u, const TokenIds *tokenIds) {
  json r = head(h, false);
  json choice = {{"index", 0}};
  const bool calls = h.chat && !reply.toolCalls.empty();
  if (h.chat) {
    json message = {{"role", "assistant"}};
    message["content"] = calls && reply.content.empty() ? json(nullptr) : json(reply.content);
    if (!reply.reasoning.empty())
      reasoning(message, reply.reasoning);
    if (calls)
      message["tool_calls"] = toolCalls(h, reply.toolCalls, 0, false);
    choice["message"] = message;
  } else {
    choice["text"] = reply.content;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = calls && finishReason == "stop" ? "tool_calls" : finishReason;
  if (tokenIds)
    choice["token_ids"] = tokenIds->second;
  r["choices"] = json::array({choice});
  r["usage"] = u;
  if (tokenIds)
    r["prompt_token_ids"] = tokenIds->first;
  return r;
}

json chunk(const ResponseHead &h, const ReplyParser::Delta &d, bool first,
           const std::string &finishReason, size_t toolIndex) {
  json r = head(h, true);
  json choice = {{"index", 0}};
  if (h.chat) {
    json delta = json::object();
    if (first)
      delta["role"] = "assistant";
    if (!d.reasoning.empty())
      reasoning(delta, d.reasoning);
    if (!d.content.empty() || (finishReason.empty() && d.empty()))
      delta["content"] = d.content;
    if (!d.toolCalls.empty())
      delta["tool_calls"] = toolCalls(h, d.toolCalls, toolIndex, true);
    choice["delta"] = delta;
  } else {
    choice["text"] = d.content;
  }
  choice["logprobs"] = nullptr;
  choice["finish_reason"] = finishReason.empty() ? json(nullptr) : json(finishReason);
  r["choices"] = json::array({choice});
  return r;
}

json usageChunk(const ResponseHead &h, const json &u) {
  json r = head(h, true);
  r["choices"] = json::array();
  r["usage"] = u;
  return r;
}

} // namespace qnext::serve
