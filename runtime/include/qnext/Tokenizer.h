//===- Tokenizer.h - Qwen's byte-level BPE tokenizer ------------*- C++ -*-===//
//
// Reads a Hugging Face tokenizer.json as Qwen ships it and encodes text to
// token ids and back, the way `tokenizers` does:
//
//   1. added tokens (<|im_start|>, <think>, ...) are matched in the raw text
//      first, leftmost and longest; the text between them goes through
//   2. the NFC normaliser (utf8proc),
//   3. the pre-tokenizer's split regex (PCRE2, Unicode classes),
//   4. the byte-to-unicode mapping and BPE merges by rank.
//
// Decoding concatenates the tokens' bytes; StreamDecoder holds back an
// incomplete UTF-8 sequence until the tokens that complete it arrive.
//
// Plain C++17 (no LLVM): the runtime builds on its own.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_RUNTIME_TOKENIZER_H
#define QNEXT_RUNTIME_TOKENIZER_H

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace qnext {

class Tokenizer {
public:
  ~Tokenizer();

  /// Parses tokenizer.json text; `origin` names it in error messages. Returns
  /// null and sets `error` (one line) when the file is malformed or uses a
  /// feature this tokenizer does not implement.
  static std::unique_ptr<Tokenizer> fromJson(std::string_view json,
                                             const std::string &origin,
                                             std::string &error);
  /// `path` is a tokenizer.json, a checkpoint folder holding one, or a .qnx
  /// artifact carrying one.
  static std::unique_ptr<Tokenizer> load(const std::string &path,
                                         std::string &error);

  /// Encodes UTF-8 text (no special tokens added). Fails, with `error`
  /// naming the byte offset, on text that is not valid UTF-8.
  bool encode(std::string_view text, std::vector<int32_t> &ids,
              std::string &error) const;
  /// The bytes of these tokens, concatenated (not necessarily valid UTF-8:
  /// a token may hold part of a character). Fails on an unknown id.
  bool decode(const std::vector<int32_t> &ids, std::string &bytes,
              std::string &error) const;

  /// The bytes a token stands for (empty for an id with no token).
  std::string_view tokenBytes(int32_t id) const;
  /// The id of an added token ("<|im_end|>") or of a vocabulary entry whose
  /// bytes are exactly `text`.
  std::optional<int32_t> tokenId(std::string_view text) const;
  /// One more than the largest id.
  int32_t size() const;

private:
  Tokenizer();
  struct Impl;
  std::unique_ptr<Impl> impl;
};

/// Turns a stream of token ids into UTF-8 text as it arrives: complete
/// characters are returned at once, a character split across tokens when its
/// last byte arrives; bytes that can never form a character become U+FFFD.
class StreamDecoder {
public:
  explicit StreamDecoder(const Tokenizer &tokenizer) : tokenizer(tokenizer) {}
  /// The text that token `id` completes.
  std::string push(int32_t id);
  /// What is still held back, as U+FFFD (the stream ended mid-character).
  std::string finish();

private:
  const Tokenizer &tokenizer;
  std::string pending;
};

/// Bytes in the byte-level alphabet tokenizer.json spells tokens in (GPT-2's
/// byte-to-unicode mapping: ' ' is "Ġ", '\n' is "Ċ").
std::string byteLevelString(std::string_view bytes);

/// The longest prefix of `bytes` that ends on a character boundary; invalid
/// bytes are replaced by U+FFFD, an incomplete final sequence is left in
/// `bytes` (the prefix is removed from it).
std::string takeCompleteUtf8(std::string &bytes);

} // namespace qnext

#endif // QNEXT_RUNTIME_TOKENIZER_H
