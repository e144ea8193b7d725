//===- ChatTest.cpp - chat template rendering and the thinking budget -----===//
//
// The expected strings are what Qwen3's chat template (the Jinja in
// ../shared/tokenizer/tokenizer_config.json) renders for these
// conversations, following spec section 10.1-10.2; they were checked
// against jinja2 when written.
//
//===----------------------------------------------------------------------===//

#include "qnext/Chat.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

using namespace qnext;

namespace {

using Messages = std::vector<ChatMessage>;

ChatTemplate qwen3() {
  std::ifstream in(std::string(QNEXT_TOKENIZER_DIR) + "/tokenizer_config.json");
  std::stringstream text;
  text << in.rdbuf();
  std::string error;
  std::optional<ChatTemplate> t =
      ChatTemplate::fromConfig(text.str(), "tokenizer_config.json", error);
  EXPECT_TRUE(t) << error;
  return t ? *t : ChatTemplate();
}

TEST(ChatTemplate, Qwen3Style) {
  if (!std::ifstream(std::string(QNEXT_TOKENIZER_DIR) + "/tokenizer_config.json"))
    GTEST_SKIP() << QNEXT_TOKENIZER_DIR << " is not beside the checkout";
  ChatTemplate t = qwen3();
  EXPECT_FALSE(t.opensThinking()); // the model opens <think> itself
  EXPECT_TRUE(t.canDisableThinking());
}

TEST(ChatTemplate, RendersLikeQwen3) {
  ChatTemplate t; // the default is Qwen3's hybrid style
  auto D = Thinking::TemplateDefault;
  EXPECT_EQ(t.render({{"user", "Hi"}}, true, D),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t.render({{"user", "Hi"}}, true, Thinking::Off),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
            "<think>\n\n</think>\n\n");
  // Reasoning of turns before the last query is dropped.
  EXPECT_EQ(t.render({{"system", "Be brief."},
                      {"user", "2+2?"},
                      {"assistant", "<think>\nadd\n</think>\n\n4"},
                      {"user", "and 3+3?"}},
                     true, D),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n2+2?"
            "<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n<|im_start|>user\n"
            "and 3+3?<|im_end|>\n<|im_start|>assistant\n");
  // ... and kept after it.
  EXPECT_EQ(t.render({{"user", "Q"}, {"assistant", "<think>\nr\n</think>\n\nA"}},
                     false, D),
            "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\nr\n"
            "</think>\n\nA<|im_end|>\n");
  // Consecutive tool responses share one user turn.
  EXPECT_EQ(t.render({{"user", "weather?"},
                      {"assistant", "calling"},
                      {"tool", "sunny"},
                      {"tool", "warm"}},
                     true, D),
            "<|im_start|>user\nweather?<|im_end|>\n<|im_start|>assistant\n"
            "calling<|im_end|>\n<|im_start|>user\n<tool_response>\nsunny\n"
            "</tool_response>\n<tool_response>\nwarm\n</tool_response><|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(t.render({{"user", "a"}, {"system", "b"}}, true, D),
            "<|im_start|>user\na<|im_end|>\n<|im_start|>system\nb<|im_end|>\n"
            "<|im_start|>assistant\n");
  // --think opens the block explicitly.
  EXPECT_EQ(t.generationPrompt(Thinking::On), "<|im_start|>assistant\n<think>\n");
  EXPECT_EQ(t.nextTurn("more", D),
            "\n<|im_start|>user\nmore<|im_end|>\n<|im_start|>assistant\n");
}

// Tools go into the system turn (after the system message, if any) with
// Qwen's <tool_call> instructions; an assistant's tool calls are its
// content's <tool_call> blocks (Api.cpp writes them so).
TEST(ChatTemplate, RendersTools) {
  ChatTemplate t;
  const std::string tool =
      "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", "
      "\"description\": \"Weather in a city\", \"parameters\": {\"type\": \"object\", "
      "\"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": [\"city\"]}}}";
  const std::string instructions =
      "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
      "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
      tool +
      "\n</tools>\n\nFor each function call, return a json object with function name and "
      "arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": "
      "<function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";
  EXPECT_EQ(t.render({{"system", "Be brief."},
                      {"user", "Weather in Paris?"},
                      {"assistant", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": "
                                    "{\"city\": \"Paris\"}}\n</tool_call>"},
                      {"tool", "sunny"}},
                     true, Thinking::TemplateDefault, {tool}),
            "<|im_start|>system\nBe brief.\n\n" + instructions +
                "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n"
                "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
                "\"Paris\"}}\n</tool_call><|im_end|>\n<|im_start|>user\n<tool_response>\n"
                "sunny\n</tool_response><|im_end|>\n<|im_start|>assistant\n");
  EXPECT_EQ(t.render({{"user", "Weather in Paris?"}}, true, Thinking::TemplateDefault, {tool}),
            "<|im_start|>system\n" + instructions +
                "<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplate, DetectsStyles) {
  std::string error;
  // Qwen3.5: enable_thinking, and '<think>\n' opens the block by default.
  auto q35 = ChatTemplate::fromConfig(
      R"({"chat_template": "<|im_start|>{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- if enable_thinking is defined and enable_thinking is false %}{{- '<think>\\n\\n</think>\\n\\n' }}{%- else %}{{- '<think>\\n' }}{%- endif %}{%- endif %}"})",
      "q35", error);
  ASSERT_TRUE(q35) << error;
  EXPECT_TRUE(q35->opensThinking());
  EXPECT_TRUE(q35->canDisableThinking());
  EXPECT_EQ(q35->generationPrompt(Thinking::TemplateDefault),
            "<|im_start|>assistant\n<think>\n");
  // Thinking-2507: always opens it, no switch.
  auto thinking = ChatTemplate::fromConfig(
      R"({"chat_template": "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}"})",
      "thinking", error);
  ASSERT_TRUE(thinking) << error;
  EXPECT_TRUE(thinking->opensThinking());
  EXPECT_FALSE(thinking->canDisableThinking());
  // Errors name the file and the field.
  EXPECT_FALSE(ChatTemplate::fromConfig("[1]", "c.json", error));
  EXPECT_EQ(error, "c.json: not a JSON object");
  EXPECT_FALSE(ChatTemplate::fromConfig(R"({"chat_template": 3})", "c.json", error));
  EXPECT_EQ(error, "c.json: chat_template is not a string (named templates are "
                   "not supported)");
  EXPECT_FALSE(ChatTemplate::fromConfig(R"({"chat_template": "[INST]"})", "c.json", error));
  EXPECT_EQ(error, "c.json: chat_template is not ChatML (no <|im_start|>)");
}

constexpr int32_t kOpen = 1000, kClose = 1001;
const std::vector<int32_t> kForced = {7, 8, kClose, 9};

/// Feeds `generated` (a sampled token unless a token is forced) and returns
/// what was emitted.
std::vector<int32_t> run(ThinkingBudget &b, std::vector<int32_t> sampled) {
  std::vector<int32_t> out;
  size_t next = 0;
  while (out.size() < 20 && (next < sampled.size() || b.forcedNext())) {
    std::optional<int32_t> f = b.forcedNext();
    int32_t id = f ? *f : sampled[next++];
    b.accept(id);
    out.push_back(id);
  }
  return out;
}

TEST(ThinkingBudget, ForcesAfterBudgetTokens) {
  ThinkingBudget b(3, kOpen, kClose, kForced);
  b.observePrompt({5, kOpen, 6}); // the prompt opened the block
  EXPECT_EQ(b.state(), ThinkingBudget::State::Counting);
  EXPECT_EQ(run(b, {50, 51, 52, 53, 54}),
            (std::vector<int32_t>{50, 51, 52, 7, 8, kClose, 9, 53, 54}));
  EXPECT_EQ(b.state(), ThinkingBudget::State::Done);
  EXPECT_EQ(b.thinkingTokens(), 3);
}

TEST(ThinkingBudget, CountsFromAGeneratedThink) {
  ThinkingBudget b(2, kOpen, kClose, kForced);
  b.observePrompt({5, 6});
  EXPECT_EQ(b.state(), ThinkingBudget::State::Idle);
  EXPECT_EQ(run(b, {40, kOpen, 41, 42, 43}),
            (std::vector<int32_t>{40, kOpen, 41, 42, 7, 8, kClose, 9, 43}));
}

TEST(ThinkingBudget, NaturalCloseEndsCounting) {
  ThinkingBudget b(5, kOpen, kClose, kForced);
  b.observePrompt({kOpen});
  EXPECT_EQ(run(b, {60, kClose, 61, 62, 63, 64, 65}),
            (std::vector<int32_t>{60, kClose, 61, 62, 63, 64, 65}));
  EXPECT_EQ(b.state(), ThinkingBudget::State::Done);
}

TEST(ThinkingBudget, ZeroForcesAtOnce) {
  ThinkingBudget b(0, kOpen, kClose, kForced);
  b.observePrompt({kOpen});
  EXPECT_EQ(b.state(), ThinkingBudget::State::Forcing);
  EXPECT_EQ(run(b, {70}), (std::vector<int32_t>{7, 8, kClose, 9, 70}));
}

TEST(ThinkingBudget, ClosedInPromptDoesNotCount) {
  ThinkingBudget b(1, kOpen, kClose, kForced);
  b.observePrompt({kOpen, kClose}); // --no-think's empty block
  EXPECT_EQ(run(b, {80, 81, 82}), (std::vector<int32_t>{80, 81, 82}));
}

} // namespace
