//===- TokenizerImpl.h - the tokenizer's tables, shared by its two files -*- C++ -*-===//
//
// Internal to the runtime: TokenizerLoad.cpp reads tokenizer.json into these
// tables (vocabulary, merges, added tokens, the split regexes);
// Tokenizer.cpp encodes and decodes with them.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_TOKENIZERIMPL_H
#define QNEXT_RUNTIME_TOKENIZERIMPL_H

#include "qnext/Tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace qnext {

namespace tokenizer {

/// GPT-2's byte-to-unicode table: printable bytes map to themselves, the
/// others to U+0100 onwards. Returns byte -> code point.
inline std::array<uint32_t, 256> byteToCodePoint() {
  std::array<uint32_t, 256> map{};
  std::array<bool, 256> direct{};
  for (int b = '!'; b <= '~'; ++b)
    direct[b] = true;
  for (int b = 0xA1; b <= 0xAC; ++b)
    direct[b] = true;
  for (int b = 0xAE; b <= 0xFF; ++b)
    direct[b] = true;
  uint32_t next = 256;
  for (int b = 0; b < 256; ++b)
    map[b] = direct[b] ? uint32_t(b) : next++;
  return map;
}

/// Byte offset of the first invalid UTF-8 sequence, or -1.
inline int64_t invalidUtf8At(std::string_view s) {
  const auto *p = reinterpret_cast<const utf8proc_uint8_t *>(s.data());
  size_t at = 0;
  while (at < s.size()) {
    if (p[at] < 0x80) {
      ++at;
      continue;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p + at, utf8proc_ssize_t(s.size() - at), &cp);
    if (n <= 0)
      return int64_t(at);
    at += size_t(n);
  }
  return -1;
}

struct Regex {
  pcre2_code *code = nullptr;
  explicit Regex(pcre2_code *code) : code(code) {}
  Regex(Regex &&other) noexcept : code(other.code) { other.code = nullptr; }
  Regex(const Regex &) = delete;
  ~Regex() { pcre2_code_free(code); }
};

} // namespace tokenizer

struct Tokenizer::Impl {
  std::string origin;
  bool nfc = false;
  std::vector<tokenizer::Regex> splits; ///< applied in order, each refining the pieces
  std::vector<std::string> bytesOf; ///< id -> bytes ("" when unused)
  std::unordered_map<std::string, int32_t> vocab; ///< bytes -> id (BPE vocabulary)
  std::array<int32_t, 256> byteId{};              ///< single-byte tokens
  struct Merge {
    int32_t rank, id;
  };
  std::unordered_map<uint64_t, Merge> merges; ///< (left id, right id) -> merge
  struct Added {
    std::string content;
    int32_t id;
  };
  std::vector<Added> added; ///< longest first
  std::array<bool, 256> addedStarts{};
  /// The added tokens as a byte trie (node 0 is the root): the longest one
  /// at a text position is one walk down it, no deeper than the longest
  /// added token, however many there are. (A comparison with every added
  /// token at every position took minutes on a long hostile text.)
  struct TrieNode {
    std::vector<std::pair<uint8_t, int32_t>> next; ///< byte -> node
    int32_t id = -1;                               ///< a token ends here
  };
  std::vector<TrieNode> trie = std::vector<TrieNode>(1);

  void addToTrie(const Added &a) {
    int32_t node = 0;
    for (char c : a.content) {
      auto &next = trie[node].next;
      auto it = std::find_if(next.begin(), next.end(),
                             [&](const auto &e) { return e.first == uint8_t(c); });
      if (it != next.end()) {
        node = it->second;
        continue;
      }
      next.emplace_back(uint8_t(c), int32_t(trie.size()));
      node = int32_t(trie.size());
      trie.emplace_back();
    }
    if (trie[node].id < 0) // equal contents: the first (lowest id) wins
      trie[node].id = a.id;
  }

  /// The bytes of the longest added token starting at text[at] (0: none),
  /// its id in `id`.
  size_t matchAdded(std::string_view text, size_t at, int32_t &id) const {
    size_t longest = 0;
    int32_t node = 0;
    for (size_t i = at; i < text.size(); ++i) {
      const auto &next = trie[node].next;
      auto it = std::find_if(next.begin(), next.end(),
                             [&](const auto &e) { return e.first == uint8_t(text[i]); });
      if (it == next.end())
        break;
      node = it->second;
      if (trie[node].id >= 0) {
        longest = i + 1 - at;
        id = trie[node].id;
      }
    }
    return longest;
  }

  mutable std::mutex cacheMutex;
  mutable std::unordered_map<std::string, std::vector<int32_t>> cache;

  bool fail(std::string &error, const std::string &what) const {
    error = origin + ": " + what;
    return false;
  }

  bool parse(const nlohmann::json &root, std::string &error);
  bool parseModel(const nlohmann::json &model, std::string &error);
  bool addSplit(const std::string &pattern, std::string &error);
  bool parsePreTokenizer(const nlohmann::json &p, std::string &error);
  void bpe(std::string_view piece, std::vector<int32_t> &ids) const;
  void encodeText(std::string_view text, std::vector<int32_t> &ids) const;
};

} // namespace qnext

#endif // QNEXT_RUNTIME_TOKENIZERIMPL_H
