//===- Tokenizer.cpp - Qwen's byte-level BPE: encoding and decoding -------===//
//
// Encoding: added tokens first (a walk down their byte trie), then NFC where
// the tokenizer asks for it, the split regexes (PCRE2), and byte-level BPE by
// merge rank on each piece (cached). Decoding: token bytes joined, and the
// stream decoder that holds back an incomplete UTF-8 character. The tables
// come from TokenizerLoad.cpp.
//
//===----------------------------------------------------------------------===//

#include "TokenizerImpl.h"

#include <cstring>
#include <queue>

namespace qnext {

using namespace tokenizer;

void Tokenizer::Impl::bpe(std::string_view piece, std::vector<int32_t> &ids) const {
  {
    std::lock_guard<std::mutex> lock(cacheMutex);
    auto it = cache.find(std::string(piece));
    if (it != cache.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  struct Symbol {
    int32_t id, prev, next;
  };
  std::vector<Symbol> symbols(piece.size());
  for (size_t i = 0; i < piece.size(); ++i)
    symbols[i] = {byteId[uint8_t(piece[i])], int32_t(i) - 1,
                  i + 1 < piece.size() ? int32_t(i + 1) : -1};
  struct Candidate {
    int32_t rank, pos, left, right;
    bool operator>(const Candidate &o) const {
      return rank != o.rank ? rank > o.rank : pos > o.pos;
    }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto consider = [&](int32_t pos) {
    if (pos < 0 || symbols[pos].next < 0)
      return;
    int32_t l = symbols[pos].id, r = symbols[symbols[pos].next].id;
    auto it = merges.find(uint64_t(uint32_t(l)) << 32 | uint32_t(r));
    if (it != merges.end())
      heap.push({it->second.rank, pos, l, r});
  };
  for (int32_t i = 0; i + 1 < int32_t(symbols.size()); ++i)
    consider(i);
  while (!heap.empty()) {
    Candidate c = heap.top();
    heap.pop();
    Symbol &s = symbols[c.pos];
    // Stale: either side changed since this candidate was pushed.
    if (s.id != c.left || s.next < 0 || symbols[s.next].id != c.right)
      continue;
    int32_t gone = s.next;
    s.id = merges.at(uint64_t(uint32_t(c.left)) << 32 | uint32_t(c.right)).id;
    s.next = symbols[gone].next;
    if (s.next >= 0)
      symbols[s.next].prev = c.pos;
    symbols[gone].id = -1;
    consider(s.prev);
    consider(c.pos);
  }
  std::vector<int32_t> out;
  for (int32_t i = 0; i >= 0; i = symbols[i].next)
    out.push_back(symbols[i].id);
  ids.insert(ids.end(), out.begin(), out.end());
  if (piece.size() <= 256) { // long pieces are rare; do not let them fill it
    std::lock_guard<std::mutex> lock(cacheMutex);
    if (cache.size() > (1u << 16))
      cache.clear();
    cache.emplace(std::string(piece), std::move(out));
  }
}

/// Normalises and pre-tokenizes text that holds no added token, then BPE.
void Tokenizer::Impl::encodeText(std::string_view text,
                                 std::vector<int32_t> &ids) const {
  if (text.empty())
    return;
  std::string normalized;
  if (nfc && std::any_of(text.begin(), text.end(),
                         [](char c) { return uint8_t(c) >= 0x80; })) {
    utf8proc_uint8_t *out = nullptr;
    utf8proc_ssize_t n = utf8proc_map(
        reinterpret_cast<const utf8proc_uint8_t *>(text.data()),
        utf8proc_ssize_t(text.size()), &out,
        utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
    if (n >= 0) {
      normalized.assign(reinterpret_cast<const char *>(out), size_t(n));
      text = normalized;
    }
    free(out);
  }
  std::vector<std::pair<size_t, size_t>> pieces{{0, text.size()}}, next;
  for (const Regex &re : splits) {
    pcre2_match_data *match = pcre2_match_data_create_from_pattern(re.code, nullptr);
    next.clear();
    for (auto [begin, end] : pieces) {
      size_t at = begin;
      while (at < end) {
        int rc = pcre2_match(re.code, reinterpret_cast<PCRE2_SPTR>(text.data()),
                             end, at, PCRE2_NO_UTF_CHECK, match, nullptr);
        if (rc < 0) // no further match: the rest is one piece
          break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(match);
        if (ov[0] > at) // the text between matches is a piece of its own
          next.emplace_back(at, ov[0]);
        if (ov[1] == ov[0]) { // an empty match: step over one character
          size_t step = 1;
          while (ov[0] + step < end && (uint8_t(text[ov[0] + step]) & 0xC0) == 0x80)
            ++step;
          next.emplace_back(ov[0], ov[0] + step);
          at = ov[0] + step;
          continue;
        }
        next.emplace_back(ov[0], ov[1]);
        at = ov[1];
      }
      if (at < end)
        next.emplace_back(at, end);
    }
    pcre2_match_data_free(match);
    pieces.swap(next);
  }
  for (auto [begin, end] : pieces)
    bpe(text.substr(begin, end - begin), ids);
}

Tokenizer::Tokenizer() : impl(std::make_unique<Impl>()) {}
Tokenizer::~Tokenizer() = default;

bool Tokenizer::encode(std::string_view text, std::vector<int32_t> &ids,
                       std::string &error) const {
  if (int64_t at = invalidUtf8At(text); at >= 0) {
    error = "not valid UTF-8 at byte " + std::to_string(at);
    return false;
  }
  // Added tokens first: leftmost match, longest at a position.
  size_t plain = 0;
  for (size_t at = 0; at < text.size(); ++at) {
    if (!impl->addedStarts[uint8_t(text[at])])
      continue;
    int32_t id = -1;
    if (size_t length = impl->matchAdded(text, at, id)) {
      impl->encodeText(text.substr(plain, at - plain), ids);
      ids.push_back(id);
      at += length - 1;
      plain = at + 1;
    }
  }
  impl->encodeText(text.substr(plain), ids);
  return true;
}

bool Tokenizer::decode(const std::vector<int32_t> &ids, std::string &bytes,
                       std::string &error) const {
  for (int32_t id : ids) {
    std::string_view b = tokenBytes(id);
    if (b.empty()) {
      error = "token id " + std::to_string(id) + " is not in the vocabulary (0.." +
              std::to_string(size() - 1) + ")";
      return false;
    }
    bytes.append(b);
  }
  return true;
}

std::string_view Tokenizer::tokenBytes(int32_t id) const {
  if (id < 0 || size_t(id) >= impl->bytesOf.size())
    return {};
  return impl->bytesOf[id];
}

std::optional<int32_t> Tokenizer::tokenId(std::string_view text) const {
  for (const Impl::Added &a : impl->added)
    if (a.content == text)
      return a.id;
  auto it = impl->vocab.find(std::string(text));
  if (it == impl->vocab.end())
    return std::nullopt;
  return it->second;
}

int32_t Tokenizer::size() const { return int32_t(impl->bytesOf.size()); }

std::string byteLevelString(std::string_view bytes) {
  static const std::array<uint32_t, 256> map = byteToCodePoint();
  std::string out;
  for (char c : bytes) {
    utf8proc_uint8_t buf[4];
    utf8proc_ssize_t n = utf8proc_encode_char(utf8proc_int32_t(map[uint8_t(c)]), buf);
    out.append(reinterpret_cast<const char *>(buf), size_t(n));
  }
  return out;
}

std::string takeCompleteUtf8(std::string &bytes) {
  std::string out;
  size_t at = 0;
  const auto *p = reinterpret_cast<const utf8proc_uint8_t *>(bytes.data());
  while (at < bytes.size()) {
    uint8_t lead = p[at];
    if (lead < 0x80) {
      out.push_back(char(lead));
      ++at;
      continue;
    }
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0;
    if (need && bytes.size() - at < need) {
      // Incomplete if everything present so far could still continue it.
      bool prefix = true;
      for (size_t i = at + 1; i < bytes.size(); ++i)
        prefix &= (p[i] & 0xC0) == 0x80;
      if (prefix && lead <= 0xF4)
        break;
    }
    utf8proc_int32_t cp;
    utf8proc_ssize_t n =
        utf8proc_iterate(p + at, utf8proc_ssize_t(bytes.size() - at), &cp);
    if (n > 0) {
      out.append(bytes, at, size_t(n));
      at += size_t(n);
    } else {
      out += "\xEF\xBF\xBD"; // U+FFFD for the byte that starts no character
      ++at;
    }
  }
  bytes.erase(0, at);
  return out;
}

std::string StreamDecoder::push(int32_t id) {
  pending.append(tokenizer.tokenBytes(id));
  return takeCompleteUtf8(pending);
}

std::string StreamDecoder::finish() {
  std::string out;
  for (size_t i = 0; i < pending.size(); ++i)
    out += "\xEF\xBF\xBD";
  pending.clear();
  return out;
}

} // namespace qnext
