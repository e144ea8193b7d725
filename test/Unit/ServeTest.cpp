//===- ServeTest.cpp - qnext-serve's prefix cache and reply parser --------===//

#include "Api.h"
#include "Engine.h"
#include "PrefixCache.h"
#include "Reply.h"

#include <gtest/gtest.h>

using namespace qnext::serve;

namespace {

PrefixCache::Entry entry(std::vector<int32_t> tokens, size_t bytes, bool logits = false) {
  PrefixCache::Entry e;
  e.tokens = std::move(tokens);
  e.snapshot.assign(bytes, 0);
  if (logits)
    e.logits.assign(4, 0.0f);
  return e;
}

// The longest saved prefix that leaves the prompt a token; the whole prompt
// only with its logits.
TEST(PrefixCache, FindsTheLongestUsablePrefix) {
  PrefixCache cache(1 << 20);
  cache.insert(entry({1, 2}, 100));
  cache.insert(entry({1, 2, 3, 4}, 100));
  cache.insert(entry({1, 2, 3, 4, 5}, 100));
  cache.insert(entry({9}, 100));
  const PrefixCache::Entry *e = cache.find({1, 2, 3, 4, 5});
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->tokens.size(), 4u); // {1..5} has no logits: a token must be left
  cache.insert(entry({1, 2, 3, 4, 5}, 100, /*logits=*/true));
  EXPECT_EQ(cache.find({1, 2, 3, 4, 5})->tokens.size(), 5u);
  EXPECT_EQ(cache.entries(), 4); // replaced, not added
  EXPECT_EQ(cache.find({1, 3}), nullptr);
  EXPECT_EQ(cache.find({2}), nullptr);
  EXPECT_EQ(cache.find({1, 2, 7})->tokens.size(), 2u);
}

// Past the budget the least recently used entries go; finding or touching
// an entry makes it the most recent; one larger than the budget is not kept.
TEST(PrefixCache, EvictsTheLeastRecentlyUsed) {
  PrefixCache one(1 << 20);
  one.insert(entry({1}, 1000));
  const int64_t cost = one.bytes(); // an entry of one token and 1000 bytes
  PrefixCache cache(3 * cost);
  cache.insert(entry({1}, 1000));
  cache.insert(entry({2}, 1000));
  cache.insert(entry({3}, 1000));
  EXPECT_EQ(cache.entries(), 3);
  EXPECT_NE(cache.find({1, 0}), nullptr); // {1} is now the most recent
  EXPECT_TRUE(cache.touch({2}, false));   // then {2}
  EXPECT_FALSE(cache.touch({2}, true));   // (kept without logits)
  cache.insert(entry({4}, 1000));         // {3} goes
  EXPECT_EQ(cache.entries(), 3);
  EXPECT_EQ(cache.bytes(), 3 * cost);
  EXPECT_EQ(cache.find({3, 0}), nullptr);
  EXPECT_NE(cache.find({1, 0}), nullptr);
  EXPECT_NE(cache.find({2, 0}), nullptr);
  EXPECT_NE(cache.find({4, 0}), nullptr);
  cache.insert(entry({5}, 4000)); // larger than the budget
  EXPECT_EQ(cache.entries(), 3);
  EXPECT_FALSE(cache.fits(3 * cost + 1));
}

/// The reply fed in pieces of `step` bytes, the deltas added up.
ReplyParser::Delta parse(const std::string &reply, bool inReasoning, bool tools,
                         size_t step = 1) {
  ReplyParser parser(inReasoning, tools);
  ReplyParser::Delta all;
  for (size_t at = 0; at < reply.size(); at += step)
    all.append(parser.push(reply.substr(at, step)));
  all.append(parser.finish());
  return all;
}

TEST(ReplyParser, SplitsReasoningFromContent) {
  for (size_t step : {1, 3, 100}) {
    // The prompt opened the think block: the reply closes it.
    ReplyParser::Delta d = parse("Let me see.\n</think>\n\nThe answer is 4.", true, false, step);
    EXPECT_EQ(d.reasoning, "Let me see.\n") << step;
    EXPECT_EQ(d.content, "The answer is 4.") << step;
    // The reply opens its own.
    d = parse("<think>\nHmm</think>\n\nYes", false, false, step);
    EXPECT_EQ(d.reasoning, "\nHmm") << step;
    EXPECT_EQ(d.content, "Yes") << step;
    // No think block: all content, a '<' that opens no tag included.
    d = parse("a < b <thinking", false, false, step);
    EXPECT_EQ(d.reasoning, "") << step;
    EXPECT_EQ(d.content, "a < b <thinking") << step;
    // Cut off while thinking: all reasoning, a partial tag included.
    d = parse("still thinking </thi", true, false, step);
    EXPECT_EQ(d.reasoning, "still thinking </thi") << step;
    EXPECT_EQ(d.content, "") << step;
  }
}

TEST(ReplyParser, ParsesToolCalls) {
  const std::string reply =
      "I will look.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
      "\"Paris\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"now\"}\n</tool_call>";
  for (size_t step : {1, 5, 1000}) {
    ReplyParser::Delta d = parse(reply, false, true, step);
    EXPECT_EQ(d.content, "I will look.") << step;
    ASSERT_EQ(d.toolCalls.size(), 2u) << step;
    EXPECT_EQ(d.toolCalls[0].name, "get_weather");
    EXPECT_EQ(d.toolCalls[0].arguments, "{\"city\":\"Paris\"}");
    EXPECT_EQ(d.toolCalls[1].name, "now");
    EXPECT_EQ(d.toolCalls[1].arguments, "{}");
  }
  // Without tools, or a block that is not a call, or one never closed: the
  // text as written.
  EXPECT_EQ(parse(reply, false, false).content, reply);
  ReplyParser::Delta d = parse("<tool_call>not json</tool_call> ok", false, true);
  EXPECT_TRUE(d.toolCalls.empty());
  EXPECT_EQ(d.content, "<tool_call>not json</tool_call> ok");
  d = parse("x <tool_call>{\"name\": \"f\"", false, true);
  EXPECT_TRUE(d.toolCalls.empty());
  EXPECT_EQ(d.content, "x <tool_call>{\"name\": \"f\"");
  // Reasoning, then a call.
  d = parse("plan</think>\n\n<tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call>", true,
            true);
  EXPECT_EQ(d.reasoning, "plan");
  EXPECT_EQ(d.content, "");
  ASSERT_EQ(d.toolCalls.size(), 1u);
  EXPECT_EQ(d.toolCalls[0].name, "f");
}

// A chat reply's parts in the OpenAI shapes: tool calls with ids and JSON
// text arguments, content null beside them, finish_reason "tool_calls",
// reasoning under both names; streamed, tool calls numbered on.
TEST(Responses, ToolCallsAndReasoning) {
  ResponseHead head{"chatcmpl-7", "m", 1, true};
  ReplyParser::Delta reply;
  reply.reasoning = "plan";
  reply.toolCalls = {{"get_weather", "{\"city\":\"Paris\"}"}, {"now", "{}"}};
  json r = wholeResponse(head, reply, "stop", usage(10, 5, 2, 3));
  const json &message = r["choices"][0]["message"];
  EXPECT_TRUE(message["content"].is_null());
  EXPECT_EQ(message["reasoning_content"], "plan");
  EXPECT_EQ(message["reasoning"], "plan");
  ASSERT_EQ(message["tool_calls"].size(), 2u);
  EXPECT_EQ(message["tool_calls"][0].dump(),
            R"({"id":"call_7_0","type":"function","function":{"name":"get_weather",)"
            R"("arguments":"{\"city\":\"Paris\"}"}})");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "tool_calls");
  EXPECT_EQ(r["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
  EXPECT_EQ(r["usage"]["completion_tokens_details"]["reasoning_tokens"], 3);
  // Cut off by the length: that reason stays.
  EXPECT_EQ(wholeResponse(head, reply, "length", usage(1, 1, 0, 0))["choices"][0]["finish_reason"],
            "length");
  // Streamed: the second call of the reply is index 1.
  ReplyParser::Delta second;
  second.toolCalls = {{"now", "{}"}};
  json c = chunk(head, second, false, "", 1);
  EXPECT_EQ(c["choices"][0]["delta"]["tool_calls"][0]["index"], 1);
  EXPECT_EQ(c["choices"][0]["delta"]["tool_calls"][0]["id"], "call_7_1");
  EXPECT_FALSE(c["choices"][0]["delta"].contains("content"));
  // A completion's text is its content.
  ReplyParser::Delta text;
  text.content = "hi";
  EXPECT_EQ(wholeResponse({"cmpl-1", "m", 1, false}, text, "stop", usage(1, 1, 0, 0))
                ["choices"][0]["text"],
            "hi");
}

} // namespace

namespace {

// A batched call's refusal names its part: that request fails alone.
TEST(Engine, ReadsWhichPartABatchedCallRefused) {
  std::string reason;
  EXPECT_EQ(refusedPart("sequence 3: slot 2 is not in use", "sequence", 4, reason), 3);
  EXPECT_EQ(reason, "slot 2 is not in use");
  EXPECT_EQ(refusedPart("row 0: context full: slot 1 holds 9 tokens", "row", 1, reason), 0);
  EXPECT_EQ(reason, "context full: slot 1 holds 9 tokens");
  reason = "unchanged";
  EXPECT_EQ(refusedPart("sequence 4: no tokens (0)", "sequence", 4, reason), -1); // no part 4
  EXPECT_EQ(refusedPart("row 1: no tokens", "sequence", 4, reason), -1);
  EXPECT_EQ(refusedPart("sequence x: no", "sequence", 4, reason), -1);
  EXPECT_EQ(refusedPart("sequence 1 no colon", "sequence", 4, reason), -1);
  EXPECT_EQ(refusedPart("the code failed", "sequence", 4, reason), -1);
  EXPECT_EQ(refusedPart("sequence -1: no", "sequence", 4, reason), -1);
  EXPECT_EQ(reason, "unchanged");
}

} // namespace
