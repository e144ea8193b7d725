//===- ChatRequest.cpp - a chat request's messages, tools, thinking -------===//
//
// The chat side of readCompletion (Api.cpp): the messages (system, user,
// assistant with its tool calls, tool results), the tools and tool_choice,
// the thinking switch and budget, rendered by the model's chat template
// into the prompt, and the opening whose hash routes the conversation.
//
//===----------------------------------------------------------------------===//

#include "Api.h"

#include <algorithm>

namespace qnext::serve {

namespace {

/// JSON as Python's json.dumps writes it (", " and ": " between items):
/// what the chat template's `tojson` puts in the prompt.
std::string pythonJson(const json &v) {
  if (v.is_object()) {
    std::string out = "{";
    bool first = true;
    for (auto it = v.begin(); it != v.end(); ++it) {
      out += (first ? "" : ", ") + json(it.key()).dump() + ": " + pythonJson(it.value());
      first = false;
    }
    return out + "}";
  }
  if (v.is_array()) {
    std::string out = "[";
    for (size_t i = 0; i < v.size(); ++i)
      out += (i ? ", " : "") + pythonJson(v[i]);
    return out + "]";
  }
  return v.dump();
}

/// A message's content: a string, text parts, or (when `optional`) absent
/// or null.
bool readContent(const json &m, const std::string &at, bool optional, std::string &content,
                 ApiError &error) {
  if (!m.contains("content") || m["content"].is_null()) {
    if (optional)
      return true;
    error = invalid(at + ".content", at + ".content must be a string or text parts");
    return false;
  }
  const json &c = m["content"];
  if (c.is_string()) {
    content = c.get<std::string>();
    return true;
  }
  if (!c.is_array()) {
    error = invalid(at + ".content", at + ".content must be a string or text parts");
    return false;
  }
  for (const json &part : c) {
    if (!part.is_object() || !part.contains("type") || part["type"] != "text" ||
        !part.contains("text") || !part["text"].is_string()) {
      error = invalid(at + ".content", at + ": content parts must be text parts");
      return false;
    }
    content += part["text"].get<std::string>();
  }
  return true;
}

/// An assistant message's tool calls, appended to its content as the
/// template writes them.
bool readToolCalls(const json &m, const std::string &at, std::string &content,
                   ApiError &error) {
  if (!m.contains("tool_calls") || m["tool_calls"].is_null())
    return true;
  const json &calls = m["tool_calls"];
  if (!calls.is_array()) {
    error = invalid(at + ".tool_calls", at + ".tool_calls must be a list");
    return false;
  }
  for (size_t j = 0; j < calls.size(); ++j) {
    const std::string where = at + ".tool_calls[" + std::to_string(j) + "]";
    const json &call = calls[j];
    const json *f = call.is_object() && call.contains("function") ? &call["function"] : nullptr;
    if (!f || !f->is_object() || !f->contains("name") || !(*f)["name"].is_string() ||
        (f->contains("arguments") && !(*f)["arguments"].is_string() &&
         !(*f)["arguments"].is_object())) {
      error = invalid(where, where + " must be {\"type\": \"function\", \"function\": "
                                     "{\"name\": ..., \"arguments\": ...}}");
      return false;
    }
    std::string arguments = "{}";
    if (f->contains("arguments"))
      arguments = (*f)["arguments"].is_string() ? (*f)["arguments"].get<std::string>()
                                                : pythonJson((*f)["arguments"]);
    if (!content.empty())
      content += "\n";
    content += "<tool_call>\n{\"name\": " + json((*f)["name"]).dump() +
               ", \"arguments\": " + arguments + "}\n</tool_call>";
  }
  return true;
}

} // namespace

bool readChat(const json &body, const ServerInfo &info, Completion &c, std::string &prompt,
              ApiError &error) {
  Thinking &thinking = c.thinking;
  if (body.contains("chat_template_kwargs") && !body["chat_template_kwargs"].is_null()) {
    const json &k = body["chat_template_kwargs"];
    if (!k.is_object()) {
      error = invalid("chat_template_kwargs", "chat_template_kwargs must be an object");
      return false;
    }
    for (const auto &[key, value] : k.items()) {
      if (key != "enable_thinking" || !value.is_boolean()) {
        error = invalid("chat_template_kwargs." + key,
                        "chat_template_kwargs takes enable_thinking (true or false) only");
        return false;
      }
      thinking = value.get<bool>() ? Thinking::On : Thinking::Off;
    }
  }
  if (body.contains("thinking_budget") && !body["thinking_budget"].is_null()) {
    const json &b = body["thinking_budget"];
    if (!b.is_number_integer() || b.get<int64_t>() < 0 || b.get<int64_t>() > info.maxContext) {
      error = invalid("thinking_budget", "thinking_budget must be an integer in [0, " +
                                             std::to_string(info.maxContext) + "]");
      return false;
    }
    if (!info.tokenizer->tokenId("<think>") || !info.tokenizer->tokenId("</think>")) {
      error = invalid("thinking_budget", "thinking_budget: this model's tokenizer has no "
                                         "<think> / </think>");
      return false;
    }
    c.thinkingBudget = b.get<int64_t>();
  }

  // Tools, unless tool_choice is "none".
  std::vector<std::string> tools;
  std::string choice = "auto";
  if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
    const json &t = body["tool_choice"];
    if (!t.is_string() || (t != "auto" && t != "none")) {
      error = invalid("tool_choice", "tool_choice must be \"auto\" or \"none\" (\"required\" "
                                     "and a named function are not supported)");
      return false;
    }
    choice = t.get<std::string>();
  }
  if (body.contains("tools") && !body["tools"].is_null()) {
    const json &list = body["tools"];
    if (!list.is_array() || list.size() > 128) {
      error = invalid("tools", "tools must be a list of at most 128 functions");
      return false;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const json &t = list[i];
      if (!t.is_object() || !t.contains("type") || t["type"] != "function" ||
          !t.contains("function") ||
          !t["function"].is_object() || !t["function"].contains("name") ||
          !t["function"]["name"].is_string() ||
          t["function"]["name"].get<std::string>().empty()) {
        const std::string at = "tools[" + std::to_string(i) + "]";
        error = invalid(at, at + " must be {\"type\": \"function\", \"function\": {\"name\": "
                                 "..., ...}}");
        return false;
      }
      if (choice != "none")
        tools.push_back(pythonJson(t));
    }
  }
  c.parseTools = !tools.empty();

  if (!body.contains("messages") || !body["messages"].is_array() ||
      body["messages"].empty()) {
    error = invalid("messages", "messages must be a non-empty list");
    return false;
  }
  std::vector<ChatMessage> messages;
  for (size_t i = 0; i < body["messages"].size(); ++i) {
    const json &m = body["messages"][i];
    const std::string at = "messages[" + std::to_string(i) + "]";
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
      error = invalid(at + ".role", at + " must be an object with a role");
      return false;
    }
    std::string role = m["role"];
    if (role != "system" && role != "user" && role != "assistant" && role != "tool") {
      error = invalid(at + ".role", at + ": role '" + role +
                                        "' is not supported (system, user, assistant, tool)");
      return false;
    }
    std::string content;
    const bool calls = role == "assistant" && m.contains("tool_calls") &&
                       !m["tool_calls"].is_null();
    if (!readContent(m, at, calls, content, error) ||
        (role == "assistant" && !readToolCalls(m, at, content, error)))
      return false;
    messages.push_back({role, content});
  }
  prompt = info.chatTemplate.render(messages, /*addGenerationPrompt=*/true, thinking, tools);
  const std::string generation = info.chatTemplate.generationPrompt(thinking);
  c.inReasoning = generation.size() >= 8 &&
                  generation.compare(generation.size() - 8, 8, "<think>\n") == 0;

  // The opening: the messages up to the first user message.
  const size_t firstUser =
      size_t(std::find_if(messages.begin(), messages.end(),
                          [](const ChatMessage &m) { return m.role == "user"; }) -
             messages.begin());
  std::vector<ChatMessage> opening(
      messages.begin(), messages.begin() + long(std::min(firstUser + 1, messages.size())));
  std::vector<int32_t> ids;
  std::string why;
  if (info.tokenizer->encode(info.chatTemplate.render(opening, false, thinking, tools), ids,
                             why))
    c.prefixHash = prefixHash(ids);
  return true;
}

} // namespace qnext::serve
