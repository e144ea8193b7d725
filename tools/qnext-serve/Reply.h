//===- Reply.h - a chat reply's reasoning, content and tool calls -*- C++ -*-===//
//
// Qwen's replies carry their reasoning in a think block (`<think>...
// </think>`, or only the closing tag when the prompt opened it) and call
// tools with `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`
// blocks. ReplyParser splits the text, as it streams, into reasoning
// (OpenAI-style servers' `reasoning_content`), content and whole tool
// calls; text that only might be the start of a tag is held until it is
// known. A tool call block that is not such JSON stays content, as written.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TOOLS_QNEXT_SERVE_REPLY_H
#define QNEXT_TOOLS_QNEXT_SERVE_REPLY_H

#include <string>
#include <vector>

namespace qnext::serve {

struct ToolCall {
  std::string name;
  std::string arguments; ///< JSON text of an object
};

class ReplyParser {
public:
  /// `inReasoning`: the prompt opened a think block the reply is inside;
  /// `tools`: tool call blocks are parsed (else they are content).
  ReplyParser(bool inReasoning, bool tools);

  struct Delta {
    std::string reasoning, content;
    std::vector<ToolCall> toolCalls;
    bool empty() const { return reasoning.empty() && content.empty() && toolCalls.empty(); }
    void append(const Delta &more) {
      reasoning += more.reasoning;
      content += more.content;
      toolCalls.insert(toolCalls.end(), more.toolCalls.begin(), more.toolCalls.end());
    }
  };
  /// The next piece of the reply's text: what is now known.
  Delta push(const std::string &text);
  /// The reply ended: what was held.
  Delta finish();

private:
  enum class State { Start, Reasoning, Content, ToolCall };
  void run(Delta &out, bool end);
  /// Whitespace is held until content follows it: whitespace before a tool
  /// call, after the think block or at the end is not content.
  void content(Delta &out, const std::string &text, bool end);

  State state;
  bool tools, started = false;
  std::string buffer, blank;
};

} // namespace qnext::serve

#endif // QNEXT_TOOLS_QNEXT_SERVE_REPLY_H
