//===- Chat.h - ChatML conversations, thinking and its budget ---*- C++ -*-===//
//
// ChatTemplate renders a conversation the way Qwen's chat templates do
// (docs in spec section 10): ChatML turns, the reasoning of earlier turns
// dropped, and the generation prompt with the thinking switch. It does not
// run Jinja: it reads from the template which of Qwen's three styles it is
// (Qwen3 hybrid: the model opens <think> itself and enable_thinking=false
// closes it; Qwen3.5: the prompt opens <think>; Thinking-2507: always opens
// it) and renders that style.
//
// ThinkingBudget is spec 10.3's state machine: after B thinking tokens it
// forces the stop-thinking text and </think>, token by token, through the
// model.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_CHAT_H
#define QNEXT_RUNTIME_CHAT_H

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qnext {

struct ChatMessage {
  std::string role; ///< system, user, assistant or tool
  std::string content;
};

/// --think / --no-think / neither.
enum class Thinking { TemplateDefault, On, Off };

class ChatTemplate {
public:
  /// Plain ChatML with Qwen3's hybrid thinking (what a checkpoint without a
  /// tokenizer_config.json gets).
  ChatTemplate() = default;
  /// From tokenizer_config.json text: its chat_template decides the style.
  static std::optional<ChatTemplate> fromConfig(std::string_view json,
                                                const std::string &origin,
                                                std::string &error);

  /// The whole conversation, then the generation prompt if asked for.
  /// `tools` (each a function's JSON as the template's `tojson` writes it)
  /// go into the system turn with Qwen's instructions for <tool_call>
  /// blocks.
  std::string render(const std::vector<ChatMessage> &messages,
                     bool addGenerationPrompt, Thinking thinking,
                     const std::vector<std::string> &tools = {}) const;
  /// `<|im_start|>assistant\n` and, per the style and the switch, an open
  /// or an empty think block.
  std::string generationPrompt(Thinking thinking) const;
  /// The text that continues a session after a reply and its
  /// `<|im_end|>`: the newline that ends that turn, the user's turn and the
  /// generation prompt. (The caches keep the reply as generated, think block
  /// included, where re-rendering the history would drop it.)
  std::string nextTurn(const std::string &user, Thinking thinking) const;

  /// The template's own generation prompt opens <think> (Qwen3.5,
  /// Thinking-2507).
  bool opensThinking() const { return opens; }
  /// The template honours enable_thinking=false.
  bool canDisableThinking() const { return switchable; }

private:
  bool opens = false, switchable = true;
};

/// The stop-thinking text of Qwen3's report, as practical implementations
/// use it (spec 10.3).
inline constexpr const char *kStopThinkingText =
    "Considering the limited time by the user, I have to give the solution "
    "based on the thinking directly now.\n</think>\n\n";

class ThinkingBudget {
public:
  enum class State { Idle, Counting, Forcing, Done };
  /// `forced` is the tokenized stop-thinking text (ending with </think> and
  /// "\n\n"); `budget` thinking tokens are allowed per think block.
  ThinkingBudget(int64_t budget, int32_t open, int32_t close,
                 std::vector<int32_t> forced);

  /// Tokens of a prompt: a <think> not closed in it starts the count.
  void observePrompt(const std::vector<int32_t> &ids);
  /// The token that must come next, or nothing (sample).
  std::optional<int32_t> forcedNext() const;
  /// Every generated token, sampled or forced, in order.
  void accept(int32_t id);

  State state() const { return current; }
  int64_t thinkingTokens() const { return counted; }

private:
  void see(int32_t id, bool generated);
  int64_t budget, counted = 0;
  int32_t open, close;
  std::vector<int32_t> forced;
  size_t forcedAt = 0;
  State current = State::Idle;
};

} // namespace qnext

#endif // QNEXT_RUNTIME_CHAT_H
