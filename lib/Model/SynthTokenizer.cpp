//===- SynthTokenizer.cpp - a small tokenizer for the synthetic presets ---===//
//
// A byte-level BPE tokenizer in Qwen's exact tokenizer.json layout (NFC,
// Qwen's split regex, byte-level mapping, merges as pairs), trained on a few
// paragraphs of English by the plain BPE rule (merge the most frequent
// adjacent pair, ties by token ids), with Qwen's special tokens after the
// merged tokens. With Qwen3's chat template and generation defaults it makes
// a synthetic checkpoint one that qnext-run --prompt / --chat can talk to.
//
//===----------------------------------------------------------------------===//

#include "qnext/Model/Synth.h"
#include "qnext/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <map>

using ordered_json = nlohmann::ordered_json;

namespace qnext {

namespace {

/// What the merges are learnt from: English prose, and the thinking budget's
/// stop text, so that forced text is a handful of tokens.
constexpr const char *kCorpus =
    "Considering the limited time by the user, I have to give the solution "
    "based on the thinking directly now. "
    "Qwen3-Next is a hybrid model: three of every four layers are Gated "
    "DeltaNet layers, a linear attention whose state does not grow with the "
    "context, and the fourth is a gated full attention layer with a key and "
    "value cache. Every layer ends in a mixture of experts: a router chooses "
    "ten of the experts for each token, and a shared expert is always there. "
    "The compiler reads the checkpoint, builds the model as operations of its "
    "own dialect, fuses them, and lowers them to code for the processor or "
    "the graphics card. The runtime then maps the artifact, keeps the caches "
    "and the states, and runs the prompt and then one token at a time. "
    "Hello, world! How are you today? I am thinking about the question, and "
    "then I will answer it. The answer is that the model is fast because the "
    "weights are read once for every token, and the time it takes is the time "
    "it takes to read them from memory. "
    "User: what is the weather like? Assistant: it is sunny and warm, with a "
    "light wind from the west, and there will be rain in the evening.";

/// Qwen3's chat template (Apache-2.0), verbatim from its tokenizer_config.json.
constexpr const char *kQwen3ChatTemplate = R"TEMPLATE({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set content = message.content %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is defined and message.reasoning_content is not none %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in message.content %}
                {%- set content = message.content.split('</think>')[-1].lstrip('\n') %}
                {%- set reasoning_content = message.content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %})TEMPLATE";

/// Qwen's pre-tokenizer split regex.
constexpr const char *kQwenSplit =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

constexpr const char *kSpecials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>",
                                     "<think>", "</think>"};

/// Words of the corpus, a space attached to the word it precedes.
std::map<std::vector<int32_t>, int> corpusWords() {
  std::map<std::vector<int32_t>, int> words;
  std::string text = kCorpus;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find(' ', at + 1);
    if (end == std::string::npos)
      end = text.size();
    std::vector<int32_t> word;
    for (size_t i = at; i < end; ++i)
      word.push_back(uint8_t(text[i]));
    ++words[word];
    at = end;
  }
  return words;
}

} // namespace

SynthTokenizerFiles synthTokenizerFiles(int64_t vocabSize) {
  // Ids: 256 bytes, the merged tokens, then the specials; 16 ids of room at
  // the end (like Qwen's padding of its embedding to 151936 rows).
  const int64_t bpeSize = std::min<int64_t>(496, vocabSize - 16);
  std::vector<std::string> bytesOf;
  for (int b = 0; b < 256; ++b)
    bytesOf.push_back(std::string(1, char(b)));
  std::vector<std::pair<int32_t, int32_t>> merges;
  std::map<std::vector<int32_t>, int> words = corpusWords();
  while (int64_t(bytesOf.size()) < bpeSize) {
    std::map<std::pair<int32_t, int32_t>, int> counts;
    for (const auto &[word, n] : words)
      for (size_t i = 0; i + 1 < word.size(); ++i)
        counts[{word[i], word[i + 1]}] += n;
    std::pair<int32_t, int32_t> best{-1, -1};
    int bestCount = 1;
    for (const auto &[pair, n] : counts)
      if (n > bestCount)
        best = pair, bestCount = n;
    if (best.first < 0)
      break; // nothing occurs twice any more
    int32_t id = int32_t(bytesOf.size());
    bytesOf.push_back(bytesOf[best.first] + bytesOf[best.second]);
    merges.push_back(best);
    std::map<std::vector<int32_t>, int> next;
    for (const auto &[word, n] : words) {
      std::vector<int32_t> merged;
      for (size_t i = 0; i < word.size(); ++i) {
        if (i + 1 < word.size() && word[i] == best.first && word[i + 1] == best.second) {
          merged.push_back(id);
          ++i;
        } else {
          merged.push_back(word[i]);
        }
      }
      next[merged] += n;
    }
    words.swap(next);
  }

  ordered_json vocab = ordered_json::object();
  for (size_t id = 0; id < bytesOf.size(); ++id)
    vocab[byteLevelString(bytesOf[id])] = id;
  ordered_json mergeList = ordered_json::array();
  for (auto [a, b] : merges)
    mergeList.push_back({byteLevelString(bytesOf[a]), byteLevelString(bytesOf[b])});
  ordered_json added = ordered_json::array();
  int32_t special = int32_t(bytesOf.size());
  for (const char *content : kSpecials)
    added.push_back({{"id", special++},
                     {"content", content},
                     {"single_word", false},
                     {"lstrip", false},
                     {"rstrip", false},
                     {"normalized", false},
                     {"special", content[0] == '<' && content[1] == '|'}});
  const int32_t endOfText = int32_t(bytesOf.size()), imEnd = endOfText + 2;

  ordered_json t;
  t["version"] = "1.0";
  t["truncation"] = nullptr;
  t["padding"] = nullptr;
  t["added_tokens"] = added;
  t["normalizer"] = {{"type", "NFC"}};
  t["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"},
         {"pattern", {{"Regex", kQwenSplit}}},
         {"behavior", "Isolated"},
         {"invert", false}},
        {{"type", "ByteLevel"},
         {"add_prefix_space", false},
         {"trim_offsets", false},
         {"use_regex", false}}}}};
  t["post_processor"] = {{"type", "ByteLevel"}, {"add_prefix_space", false},
                         {"trim_offsets", false}, {"use_regex", false}};
  t["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", false},
                  {"trim_offsets", false}, {"use_regex", false}};
  t["model"] = {{"type", "BPE"},
                {"dropout", nullptr},
                {"unk_token", nullptr},
                {"continuing_subword_prefix", ""},
                {"end_of_word_suffix", ""},
                {"fuse_unk", false},
                {"byte_fallback", false},
                {"ignore_merges", false},
                {"vocab", vocab},
                {"merges", mergeList}};

  ordered_json config;
  config["add_bos_token"] = false;
  config["add_prefix_space"] = false;
  config["bos_token"] = nullptr;
  config["clean_up_tokenization_spaces"] = false;
  config["eos_token"] = "<|im_end|>";
  config["errors"] = "replace";
  config["pad_token"] = "<|endoftext|>";
  config["split_special_tokens"] = false;
  config["tokenizer_class"] = "Qwen2Tokenizer";
  config["unk_token"] = nullptr;
  config["chat_template"] = kQwen3ChatTemplate;

  // Qwen3's thinking-mode sampling defaults.
  ordered_json generation;
  generation["bos_token_id"] = endOfText;
  generation["do_sample"] = true;
  generation["eos_token_id"] = {imEnd, endOfText};
  generation["pad_token_id"] = endOfText;
  generation["temperature"] = 0.6;
  generation["top_k"] = 20;
  generation["top_p"] = 0.95;

  return {t.dump(2) + "\n", config.dump(2) + "\n", generation.dump(2) + "\n"};
}

} // namespace qnext
