//===- TokenizerTest.cpp - the Qwen tokenizer vs ../shared/tokenizer ------===//
//
// Exact ids for every line of golden.jsonl (an independent implementation's
// output), decoding back to the text where the line says it round-trips,
// streaming decode of characters split across tokens, long inputs, and the
// errors of malformed tokenizer files.
//
//===----------------------------------------------------------------------===//

#include "qnext/Tokenizer.h"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <random>

using qnext::Tokenizer;
using json = nlohmann::json;

namespace {

const std::string kDir = QNEXT_TOKENIZER_DIR;

std::unique_ptr<Tokenizer> &qwen() {
  static std::unique_ptr<Tokenizer> t = [] {
    std::string error;
    auto loaded = Tokenizer::load(kDir, error);
    if (!loaded)
      std::cerr << error << "\n";
    return loaded;
  }();
  return t;
}

#define REQUIRE_QWEN()                                                         \
  if (!std::ifstream(kDir + "/tokenizer.json"))                                \
    GTEST_SKIP() << kDir << " is not beside the checkout";                     \
  ASSERT_TRUE(qwen())

std::vector<int32_t> encode(const std::string &text) {
  std::vector<int32_t> ids;
  std::string error;
  EXPECT_TRUE(qwen()->encode(text, ids, error)) << error;
  return ids;
}

TEST(Tokenizer, GoldenIdsAndRoundTrip) {
  REQUIRE_QWEN();
  std::ifstream in(kDir + "/golden.jsonl");
  std::string line;
  int lines = 0, roundTrips = 0;
  while (std::getline(in, line)) {
    json g = json::parse(line);
    std::string text = g["text"];
    std::vector<int32_t> want = g["ids"];
    EXPECT_EQ(encode(text), want) << "text: " << text;
    if (g["roundtrip"]) {
      std::string bytes, error;
      ASSERT_TRUE(qwen()->decode(want, bytes, error)) << error;
      EXPECT_EQ(bytes, text);
      ++roundTrips;
    }
    ++lines;
  }
  EXPECT_EQ(lines, 60);
  EXPECT_GT(roundTrips, 50);
}

TEST(Tokenizer, SpecialTokens) {
  REQUIRE_QWEN();
  EXPECT_EQ(qwen()->tokenId("<|endoftext|>"), 151643);
  EXPECT_EQ(qwen()->tokenId("<|im_start|>"), 151644);
  EXPECT_EQ(qwen()->tokenId("<|im_end|>"), 151645);
  EXPECT_EQ(qwen()->tokenId("<think>"), 151667);
  EXPECT_EQ(qwen()->tokenId("</think>"), 151668);
  // Matched in the text before BPE, with the text around them encoded alone.
  std::vector<int32_t> ids = encode("<|im_start|>user\nhi<|im_end|>\n");
  std::vector<int32_t> user = encode("user\nhi"), nl = encode("\n");
  std::vector<int32_t> want = {151644};
  want.insert(want.end(), user.begin(), user.end());
  want.push_back(151645);
  want.insert(want.end(), nl.begin(), nl.end());
  EXPECT_EQ(ids, want);
}

TEST(Tokenizer, NfcNormalises) {
  REQUIRE_QWEN();
  // "e" + combining acute is "é" after NFC.
  EXPECT_EQ(encode("caf\x65\xCC\x81"), encode("caf\xC3\xA9"));
}

TEST(Tokenizer, RejectsInvalidUtf8) {
  REQUIRE_QWEN();
  std::vector<int32_t> ids;
  std::string error;
  EXPECT_FALSE(qwen()->encode("ok\xC3(", ids, error));
  EXPECT_EQ(error, "not valid UTF-8 at byte 2");
}

TEST(Tokenizer, LongInputsAreNotQuadratic) {
  REQUIRE_QWEN();
  // One 200,000-byte piece: a quadratic BPE would need ~10^10 steps.
  std::string letters(200000, 'a');
  std::vector<int32_t> ids = encode(letters);
  std::string back, error;
  ASSERT_TRUE(qwen()->decode(ids, back, error));
  EXPECT_EQ(back, letters);
  EXPECT_LT(ids.size(), letters.size() / 4);
  std::string spaces = std::string(100000, ' ') + "x";
  ids = encode(spaces);
  back.clear();
  ASSERT_TRUE(qwen()->decode(ids, back, error));
  EXPECT_EQ(back, spaces);
}

TEST(Tokenizer, StreamDecoderHoldsBackSplitCharacters) {
  REQUIRE_QWEN();
  // Byte-level tokens for each byte of "é" (C3 A9) and "€" (E2 82 AC).
  std::vector<int32_t> ids;
  for (unsigned char b : std::string("\xC3\xA9\xE2\x82\xAC!")) {
    std::optional<int32_t> id = qwen()->tokenId(std::string(1, char(b)));
    ASSERT_TRUE(id);
    ids.push_back(*id);
  }
  qnext::StreamDecoder stream(*qwen());
  std::vector<std::string> out;
  for (int32_t id : ids)
    out.push_back(stream.push(id));
  EXPECT_EQ(out, (std::vector<std::string>{"", "\xC3\xA9", "", "", "\xE2\x82\xAC", "!"}));
  // A stream that ends mid-character, and a byte that starts none.
  EXPECT_EQ(stream.push(*qwen()->tokenId("\xE2")), "");
  EXPECT_EQ(stream.finish(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.push(*qwen()->tokenId("\xA9")), "\xEF\xBF\xBD");
}

TEST(Tokenizer, DecodeRejectsUnknownIds) {
  REQUIRE_QWEN();
  std::string bytes, error;
  EXPECT_FALSE(qwen()->decode({9707, 999999}, bytes, error));
  EXPECT_EQ(error, "token id 999999 is not in the vocabulary (0..151668)");
}

std::string loadError(const std::string &text) {
  std::string error;
  EXPECT_EQ(Tokenizer::fromJson(text, "t.json", error), nullptr);
  return error;
}

const char *kByteVocab = R"("vocab": {"a": 0, "b": 1})";

TEST(Tokenizer, MalformedFiles) {
  EXPECT_EQ(loadError("{"), "t.json: not valid JSON");
  EXPECT_EQ(loadError("[]"), "t.json: not a JSON object");
  EXPECT_EQ(loadError("{}"), "t.json: model: missing");
  EXPECT_EQ(loadError(R"({"model": {"type": "WordPiece"}})"),
            "t.json: model.type: only BPE is supported");
  EXPECT_EQ(loadError(R"({"model": {"type": "BPE"}})"),
            "t.json: model.vocab: missing or not an object");
  EXPECT_EQ(loadError(std::string(R"({"model": {"type": "BPE", )") + kByteVocab +
                      R"(, "merges": []}})"),
            "t.json: model.vocab: no token for byte 0");
  EXPECT_EQ(loadError(R"({"model": {"type": "BPE", "vocab": {"a": -1}}})"),
            "t.json: model.vocab: 'a' has no valid id");
  EXPECT_EQ(loadError(R"({"normalizer": {"type": "NFKC"}, "model": {}})"),
            "t.json: normalizer: only NFC (or none) is supported");
}

/// A complete byte-level vocabulary (256 tokens) plus `extra`.
std::string byteLevelTokenizer(const std::string &extra, const std::string &merges,
                               const std::string &pre = "null") {
  json vocab = json::object();
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    bool direct = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    uint32_t cp = direct ? uint32_t(b) : uint32_t(next++);
    std::string s;
    if (cp < 0x80)
      s.push_back(char(cp));
    else
      s += {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
    vocab[s] = b;
  }
  json extraVocab = json::parse(extra);
  for (auto it = extraVocab.begin(); it != extraVocab.end(); ++it)
    vocab[it.key()] = it.value();
  return R"({"pre_tokenizer": )" + pre + R"(, "model": {"type": "BPE", "vocab": )" +
         vocab.dump() + R"(, "merges": )" + merges + "}}";
}

TEST(Tokenizer, MergesApplyByRank) {
  std::string error;
  // "ab" (rank 0) beats "bc" (rank 1): abc -> ab c; then "abc" by rank 2.
  auto t = Tokenizer::fromJson(
      byteLevelTokenizer(R"({"ab": 256, "bc": 257, "abc": 258})",
                         R"([["a", "b"], ["b", "c"], ["ab", "c"]])"),
      "t.json", error);
  ASSERT_TRUE(t) << error;
  std::vector<int32_t> ids;
  ASSERT_TRUE(t->encode("abcbc", ids, error));
  EXPECT_EQ(ids, (std::vector<int32_t>{258, 257}));
  EXPECT_EQ(loadError(byteLevelTokenizer("{}", R"([["a", "q"]])")),
            "t.json: model.merges[0]: 'a q' uses or makes a token not in the vocab");
  EXPECT_EQ(loadError(byteLevelTokenizer("{}", R"([["a"]])")),
            "t.json: model.merges[0]: not a pair of strings");
  EXPECT_EQ(loadError(byteLevelTokenizer(
                "{}", "[]", R"({"type": "Split", "pattern": {"Regex": "(("}, "behavior": "Isolated"})")),
            "t.json: pre_tokenizer: split regex does not compile at offset 2: "
            "missing closing parenthesis");
  EXPECT_EQ(loadError(byteLevelTokenizer("{}", "[]", R"({"type": "Whitespace"})")),
            "t.json: pre_tokenizer: type Whitespace is not supported");
}

// Added tokens are matched leftmost, longest at a position, by one walk down
// a trie; here against a plain scan over every added token (what the trie
// replaced) on random text made of their pieces, with prefixes of each
// other, a one-byte token, and two tokens of equal content (the lower id
// wins).
TEST(Tokenizer, AddedTokensLeftmostLongest) {
  const std::vector<std::pair<std::string, int32_t>> addedTokens = {
      {"<a>", 300}, {"<ab>", 301}, {"<abc>", 302}, {"<b", 303}, {"b>", 304},
      {"<", 305},   {"ab", 306},   {"<ab>", 299}};
  json t = json::parse(byteLevelTokenizer("{}", "[]"));
  t["added_tokens"] = json::array();
  for (const auto &[content, id] : addedTokens)
    t["added_tokens"].push_back({{"id", id}, {"content", content}});
  std::string error;
  auto tokenizer = Tokenizer::fromJson(t.dump(), "t.json", error);
  ASSERT_TRUE(tokenizer) << error;

  // The reference: at each position the longest added token (lowest id on
  // equal content); the bytes between matches encoded on their own.
  auto reference = [&](const std::string &text) {
    std::vector<int32_t> ids;
    size_t plain = 0;
    for (size_t at = 0; at < text.size();) {
      size_t best = 0;
      int32_t bestId = 0;
      for (const auto &[content, id] : addedTokens)
        if (text.compare(at, content.size(), content) == 0 &&
            (content.size() > best || (content.size() == best && id < bestId)))
          best = content.size(), bestId = id;
      if (!best) {
        ++at;
        continue;
      }
      std::vector<int32_t> piece;
      EXPECT_TRUE(tokenizer->encode(text.substr(plain, at - plain), piece, error));
      ids.insert(ids.end(), piece.begin(), piece.end());
      ids.push_back(bestId);
      at += best;
      plain = at;
    }
    std::vector<int32_t> piece;
    EXPECT_TRUE(tokenizer->encode(text.substr(plain), piece, error));
    ids.insert(ids.end(), piece.begin(), piece.end());
    return ids;
  };

  std::vector<int32_t> ids;
  ASSERT_TRUE(tokenizer->encode("<abc><ab><a><b>", ids, error));
  EXPECT_EQ(ids, (std::vector<int32_t>{302, 299, 300, 303, '>'}));
  std::mt19937 rng(7);
  const char alphabet[] = "<>abc ";
  for (int round = 0; round < 200; ++round) {
    std::string text;
    for (int i = 0, n = int(rng() % 64); i < n; ++i)
      text.push_back(alphabet[rng() % 6]);
    ids.clear();
    ASSERT_TRUE(tokenizer->encode(text, ids, error));
    EXPECT_EQ(ids, reference(text)) << "text: " << text;
  }
}

} // namespace
