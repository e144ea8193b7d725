//===- Chat.cpp - ChatML conversations, thinking and its budget -----------===//

#include "qnext/Chat.h"

#include <nlohmann/json.hpp>

#include <algorithm>

using json = nlohmann::json;

namespace qnext {

namespace {
std::string stripLeft(std::string s, char c) {
  size_t i = s.find_first_not_of(c);
  return i == std::string::npos ? "" : s.substr(i);
}
std::string stripRight(std::string s, char c) {
  size_t i = s.find_last_not_of(c);
  return i == std::string::npos ? "" : s.substr(0, i + 1);
}
bool startsWith(const std::string &s, const std::string &p) {
  return s.compare(0, p.size(), p) == 0;
}
bool endsWith(const std::string &s, const std::string &p) {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}
std::string turn(const std::string &role, const std::string &content) {
  return "<|im_start|>" + role + "\n" + content + "<|im_end|>\n";
}
} // namespace

std::optional<ChatTemplate> ChatTemplate::fromConfig(std::string_view text,
                                                     const std::string &origin,
                                                     std::string &error) {
  json root = json::parse(text.begin(), text.end(), nullptr, false);
  if (root.is_discarded() || !root.is_object()) {
    error = origin + ": not a JSON object";
    return std::nullopt;
  }
  ChatTemplate t;
  auto it = root.find("chat_template");
  if (it == root.end() || it->is_null())
    return t;
  if (!it->is_string()) {
    error = origin + ": chat_template is not a string (named templates are "
                     "not supported)";
    return std::nullopt;
  }
  const std::string &source = it->get_ref<const std::string &>();
  if (source.find("<|im_start|>") == std::string::npos) {
    error = origin + ": chat_template is not ChatML (no <|im_start|>)";
    return std::nullopt;
  }
  // The generation prompt is the part after the last add_generation_prompt;
  // "'<think>\n'" there (a Jinja string ending the prompt with an open think
  // block) marks Qwen3.5 and Thinking-2507.
  size_t gen = source.rfind("add_generation_prompt");
  std::string tail = gen == std::string::npos ? "" : source.substr(gen);
  t.opens = tail.find("<think>\\n'") != std::string::npos ||
            tail.find("<think>\\n\"") != std::string::npos;
  t.switchable = source.find("enable_thinking") != std::string::npos;
  return t;
}

std::string ChatTemplate::generationPrompt(Thinking thinking) const {
  std::string out = "<|im_start|>assistant\n";
  bool think = thinking == Thinking::On ||
               (thinking == Thinking::TemplateDefault && opens);
  if (thinking == Thinking::Off)
    out += "<think>\n\n</think>\n\n";
  else if (think)
    out += "<think>\n";
  return out;
}

std::string ChatTemplate::render(const std::vector<ChatMessage> &messages,
                                 bool addGenerationPrompt, Thinking thinking,
                                 const std::vector<std::string> &tools) const {
  std::string out;
  const bool system = !messages.empty() && messages[0].role == "system";
  if (!tools.empty()) {
    std::string text = system ? messages[0].content + "\n\n" : "";
    text += "# Tools\n\nYou may call one or more functions to assist with the user "
            "query.\n\nYou are provided with function signatures within <tools></tools> "
            "XML tags:\n<tools>";
    for (const std::string &tool : tools)
      text += "\n" + tool;
    text += "\n</tools>\n\nFor each function call, return a json object with function "
            "name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n"
            "{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call>";
    out += turn("system", text);
  } else if (system) {
    out += turn("system", messages[0].content);
  }
  // The last real user query (not a tool response): reasoning of assistant
  // turns before it is dropped.
  int64_t lastQuery = int64_t(messages.size()) - 1;
  for (int64_t i = lastQuery; i >= 0; --i) {
    const ChatMessage &m = messages[size_t(i)];
    if (m.role == "user" && !(startsWith(m.content, "<tool_response>") &&
                              endsWith(m.content, "</tool_response>"))) {
      lastQuery = i;
      break;
    }
  }
  for (size_t i = 0; i < messages.size(); ++i) {
    const ChatMessage &m = messages[i];
    if (m.role == "user" || (m.role == "system" && i != 0)) {
      out += turn(m.role, m.content);
    } else if (m.role == "assistant") {
      std::string content = m.content, reasoning;
      size_t close = content.find("</think>");
      if (close != std::string::npos) {
        std::string before = stripRight(content.substr(0, close), '\n');
        size_t open = before.rfind("<think>");
        reasoning = stripLeft(open == std::string::npos ? before
                                                        : before.substr(open + 7),
                              '\n');
        content = stripLeft(content.substr(content.rfind("</think>") + 8), '\n');
      }
      out += "<|im_start|>assistant\n";
      if (int64_t(i) > lastQuery && (i + 1 == messages.size() || !reasoning.empty()))
        out += "<think>\n" + stripLeft(stripRight(reasoning, '\n'), '\n') +
               "\n</think>\n\n" + stripLeft(content, '\n');
      else
        out += content;
      out += "<|im_end|>\n";
    } else if (m.role == "tool") {
      if (i == 0 || messages[i - 1].role != "tool")
        out += "<|im_start|>user";
      out += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (i + 1 == messages.size() || messages[i + 1].role != "tool")
        out += "<|im_end|>\n";
    }
  }
  if (addGenerationPrompt)
    out += generationPrompt(thinking);
  return out;
}

std::string ChatTemplate::nextTurn(const std::string &user,
                                   Thinking thinking) const {
  return "\n" + turn("user", user) + generationPrompt(thinking);
}

ThinkingBudget::ThinkingBudget(int64_t budget, int32_t open, int32_t close,
                               std::vector<int32_t> forced)
    : budget(budget), open(open), close(close), forced(std::move(forced)) {}

void ThinkingBudget::see(int32_t id, bool generated) {
  switch (current) {
  case State::Forcing:
    if (++forcedAt == forced.size())
      current = State::Done;
    return;
  case State::Counting:
    if (id == close) {
      current = State::Done;
      return;
    }
    if (generated)
      ++counted;
    break;
  case State::Idle:
  case State::Done:
    if (id != open)
      return;
    current = State::Counting; // a new think block, a new budget
    counted = 0;
    break;
  }
  if (generated && current == State::Counting && counted >= budget) {
    current = forced.empty() ? State::Done : State::Forcing;
    forcedAt = 0;
  }
}

void ThinkingBudget::observePrompt(const std::vector<int32_t> &ids) {
  for (int32_t id : ids)
    if (current != State::Forcing)
      see(id, /*generated=*/false);
  if (current == State::Counting && counted >= budget) {
    current = forced.empty() ? State::Done : State::Forcing;
    forcedAt = 0;
  }
}

std::optional<int32_t> ThinkingBudget::forcedNext() const {
  if (current != State::Forcing)
    return std::nullopt;
  return forced[forcedAt];
}

void ThinkingBudget::accept(int32_t id) { see(id, /*generated=*/true); }

} // namespace qnext
