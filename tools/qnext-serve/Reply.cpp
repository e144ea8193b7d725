//===- Reply.cpp - a chat reply's reasoning, content and tool calls -------===//

#include "Reply.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace qnext::serve {

namespace {
constexpr const char *kOpenThink = "<think>", *kCloseThink = "</think>";
constexpr const char *kOpenCall = "<tool_call>", *kCloseCall = "</tool_call>";

/// The length of the longest end of `text` that begins `tag` (a tag that
/// may be arriving), shorter than the tag.
size_t partialTag(const std::string &text, const std::string &tag) {
  for (size_t k = std::min(tag.size() - 1, text.size()); k > 0; --k)
    if (text.compare(text.size() - k, k, tag, 0, k) == 0)
      return k;
  return 0;
}

bool isBlank(const std::string &s) {
  return s.find_first_not_of(" \t\r\n") == std::string::npos;
}
} // namespace

ReplyParser::ReplyParser(bool inReasoning, bool tools)
    : state(inReasoning ? State::Reasoning : State::Start), tools(tools) {}

ReplyParser::Delta ReplyParser::push(const std::string &text) {
  buffer += text;
  Delta out;
  run(out, /*end=*/false);
  return out;
}

ReplyParser::Delta ReplyParser::finish() {
  Delta out;
  run(out, /*end=*/true);
  return out;
}

void ReplyParser::content(Delta &out, const std::string &text, bool end) {
  blank += text;
  if (isBlank(blank)) {
    if (end)
      blank.clear();
    return;
  }
  if (!started) // the content starts at its first line (Qwen's lstrip('\n'))
    blank.erase(0, blank.find_first_not_of('\n'));
  started = true;
  // Whitespace at the end is held: content only if more follows.
  const size_t last = blank.find_last_not_of(" \t\r\n") + 1;
  out.content += blank.substr(0, last);
  blank.erase(0, last);
}

void ReplyParser::run(Delta &out, bool end) {
  for (;;) {
    switch (state) {
    case State::Start: {
      // A reply that opens its own think block (Qwen3's hybrid style).
      const std::string open = kOpenThink;
      if (buffer.size() < open.size() && open.compare(0, buffer.size(), buffer) == 0 && !end)
        return;
      if (buffer.compare(0, open.size(), open) == 0) {
        buffer.erase(0, open.size());
        state = State::Reasoning;
      } else {
        state = State::Content;
      }
      continue;
    }
    case State::Reasoning: {
      size_t at = buffer.find(kCloseThink);
      if (at == std::string::npos) {
        size_t keep = end ? 0 : partialTag(buffer, kCloseThink);
        out.reasoning += buffer.substr(0, buffer.size() - keep);
        buffer.erase(0, buffer.size() - keep);
        return;
      }
      out.reasoning += buffer.substr(0, at);
      buffer.erase(0, at + std::string(kCloseThink).size());
      state = State::Content;
      // The newlines after </think> belong to neither part.
      blank.clear();
      continue;
    }
    case State::Content: {
      size_t at = tools ? buffer.find(kOpenCall) : std::string::npos;
      if (at == std::string::npos) {
        size_t keep = end || !tools ? 0 : partialTag(buffer, kOpenCall);
        content(out, buffer.substr(0, buffer.size() - keep), end);
        buffer.erase(0, buffer.size() - keep);
        return;
      }
      content(out, buffer.substr(0, at), false);
      buffer.erase(0, at + std::string(kOpenCall).size());
      state = State::ToolCall;
      continue;
    }
    case State::ToolCall: {
      size_t at = buffer.find(kCloseCall);
      if (at == std::string::npos) {
        if (end) { // never closed: the text as written
          content(out, kOpenCall + buffer, true);
          buffer.clear();
        }
        return;
      }
      std::string body = buffer.substr(0, at);
      buffer.erase(0, at + std::string(kCloseCall).size());
      state = State::Content;
      nlohmann::ordered_json call = nlohmann::ordered_json::parse(body, nullptr, false);
      if (!call.is_discarded() && call.is_object() && call.contains("name") &&
          call["name"].is_string() &&
          (!call.contains("arguments") || call["arguments"].is_object())) {
        out.toolCalls.push_back(
            {call["name"].get<std::string>(),
             call.contains("arguments") ? call["arguments"].dump() : "{}"});
        blank.clear(); // whitespace between calls is not content
      } else {
        content(out, kOpenCall + body + kCloseCall, false);
      }
      continue;
    }
    }
  }
}

} // namespace qnext::serve
