//===- Tokenizer.cpp - Qwen's byte-level BPE tokenizer --------------------===//
//
// Unicode comes from libraries, not tables: utf8proc for NFC and UTF-8
// validation, PCRE2 (UTF + UCP mode, JIT when available) for the split
// regex. BPE keeps a heap of candidate merges over a linked list of symbols,
// so a piece of n bytes costs O(n log n) and a long input is never quadratic.
//
//===----------------------------------------------------------------------===//

#include "qnext/Tokenizer.h"
#include "qnext/ArtifactFormat.h"
#include "qnext/Runtime.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <utf8proc.h>

#include <nlohmann/json.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <mutex>
#include <queue>
#include <sstream>
#include <unordered_map>

using json = nlohmann::json;

namespace qnext {

namespace {

/// The split regex GPT-2's ByteLevel pre-tokenizer applies with use_regex.
constexpr const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

/// GPT-2's byte-to-unicode table: printable bytes map to themselves, the
/// others to U+0100 onwards. Returns byte -> code point.
std::array<uint32_t, 256> byteToCodePoint() {
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
int64_t invalidUtf8At(std::string_view s) {
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

const json *field(const json &object, const char *key) {
  if (!object.is_object())
    return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

struct Regex {
  pcre2_code *code = nullptr;
  explicit Regex(pcre2_code *code) : code(code) {}
  Regex(Regex &&other) noexcept : code(other.code) { other.code = nullptr; }
  Regex(const Regex &) = delete;
  ~Regex() { pcre2_code_free(code); }
};

} // namespace

struct Tokenizer::Impl {
  std::string origin;
  bool nfc = false;
  std::vector<Regex> splits; ///< applied in order, each refining the pieces
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

  bool parse(const json &root, std::string &error);
  bool parseModel(const json &model, std::string &error);
  bool addSplit(const std::string &pattern, std::string &error);
  bool parsePreTokenizer(const json &p, std::string &error);
  void bpe(std::string_view piece, std::vector<int32_t> &ids) const;
  void encodeText(std::string_view text, std::vector<int32_t> &ids) const;
};

bool Tokenizer::Impl::addSplit(const std::string &pattern, std::string &error) {
  int code;
  PCRE2_SIZE offset;
  pcre2_code *re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()),
                                 pattern.size(), PCRE2_UTF | PCRE2_UCP, &code,
                                 &offset, nullptr);
  if (!re) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(code, message, sizeof message);
    return fail(error, "pre_tokenizer: split regex does not compile at offset " +
                           std::to_string(offset) + ": " +
                           reinterpret_cast<const char *>(message));
  }
  pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); // the interpreter if unavailable
  splits.emplace_back(re);
  return true;
}

bool Tokenizer::Impl::parsePreTokenizer(const json &p, std::string &error) {
  if (p.is_null())
    return true;
  const json *type = field(p, "type");
  if (!type || !type->is_string())
    return fail(error, "pre_tokenizer: no type");
  std::string t = *type;
  if (t == "Sequence") {
    const json *list = field(p, "pretokenizers");
    if (!list || !list->is_array())
      return fail(error, "pre_tokenizer: Sequence without pretokenizers");
    for (const json &item : *list)
      if (!parsePreTokenizer(item, error))
        return false;
    return true;
  }
  if (t == "Split") {
    const json *pattern = field(p, "pattern");
    const json *regex = pattern ? field(*pattern, "Regex") : nullptr;
    const json *behavior = field(p, "behavior");
    const json *invert = field(p, "invert");
    if (!regex || !regex->is_string())
      return fail(error, "pre_tokenizer: Split needs a pattern.Regex string");
    if (!behavior || *behavior != "Isolated" || (invert && *invert != false))
      return fail(error, "pre_tokenizer: only Split with behavior Isolated and "
                         "invert false is supported");
    return addSplit(regex->get<std::string>(), error);
  }
  if (t == "ByteLevel") {
    const json *prefix = field(p, "add_prefix_space");
    if (prefix && *prefix == true)
      return fail(error, "pre_tokenizer: ByteLevel add_prefix_space is not "
                         "supported");
    const json *useRegex = field(p, "use_regex");
    if (!useRegex || *useRegex == true)
      return addSplit(kGpt2Pattern, error);
    return true; // the byte mapping itself is part of the model here
  }
  return fail(error, "pre_tokenizer: type " + t + " is not supported");
}

bool Tokenizer::Impl::parseModel(const json &model, std::string &error) {
  const json *type = field(model, "type");
  if (!type || *type != "BPE")
    return fail(error, "model.type: only BPE is supported");
  if (const json *f = field(model, "byte_fallback"); f && *f == true)
    return fail(error, "model.byte_fallback: not supported");
  for (const char *key : {"continuing_subword_prefix", "end_of_word_suffix"})
    if (const json *f = field(model, key);
        f && !f->is_null() && !(f->is_string() && f->get<std::string>().empty()))
      return fail(error, std::string("model.") + key + ": not supported");

  std::array<uint32_t, 256> toCp = byteToCodePoint();
  std::array<int16_t, 512> fromCp;
  fromCp.fill(-1);
  for (int b = 0; b < 256; ++b)
    fromCp[toCp[b]] = int16_t(b);
  auto toBytes = [&](const std::string &token, std::string &out) {
    out.clear();
    const auto *p = reinterpret_cast<const utf8proc_uint8_t *>(token.data());
    for (size_t at = 0; at < token.size();) {
      utf8proc_int32_t cp;
      utf8proc_ssize_t n =
          utf8proc_iterate(p + at, utf8proc_ssize_t(token.size() - at), &cp);
      if (n <= 0 || cp < 0 || cp >= 512 || fromCp[cp] < 0)
        return false;
      out.push_back(char(fromCp[cp]));
      at += size_t(n);
    }
    return !out.empty();
  };

  const json *v = field(model, "vocab");
  if (!v || !v->is_object())
    return fail(error, "model.vocab: missing or not an object");
  vocab.reserve(v->size());
  std::string bytes;
  for (auto it = v->begin(); it != v->end(); ++it) {
    if (!it.value().is_number_integer() || it.value().get<int64_t>() < 0 ||
        it.value().get<int64_t>() >= (int64_t(1) << 24))
      return fail(error, "model.vocab: '" + it.key() + "' has no valid id");
    if (!toBytes(it.key(), bytes))
      return fail(error, "model.vocab: '" + it.key() +
                             "' is not a byte-level token");
    int32_t id = it.value().get<int32_t>();
    if (size_t(id) >= bytesOf.size())
      bytesOf.resize(size_t(id) + 1);
    if (!bytesOf[id].empty())
      return fail(error, "model.vocab: id " + std::to_string(id) +
                             " is used twice");
    bytesOf[id] = bytes;
    vocab.emplace(bytes, id);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = vocab.find(std::string(1, char(b)));
    if (it == vocab.end())
      return fail(error, "model.vocab: no token for byte " + std::to_string(b));
    byteId[b] = it->second;
  }

  const json *m = field(model, "merges");
  if (!m || !m->is_array())
    return fail(error, "model.merges: missing or not an array");
  merges.reserve(m->size());
  std::string left, right;
  for (size_t rank = 0; rank < m->size(); ++rank) {
    const json &item = (*m)[rank];
    std::string a, b;
    if (item.is_string()) { // "a b"
      const std::string &s = item.get_ref<const std::string &>();
      size_t space = s.find(' ', 1);
      if (space == std::string::npos)
        return fail(error, "model.merges[" + std::to_string(rank) +
                               "]: not two tokens");
      a = s.substr(0, space), b = s.substr(space + 1);
    } else if (item.is_array() && item.size() == 2 && item[0].is_string() &&
               item[1].is_string()) {
      a = item[0].get<std::string>(), b = item[1].get<std::string>();
    } else {
      return fail(error, "model.merges[" + std::to_string(rank) +
                             "]: not a pair of strings");
    }
    if (!toBytes(a, left) || !toBytes(b, right))
      return fail(error, "model.merges[" + std::to_string(rank) +
                             "]: not byte-level tokens");
    auto l = vocab.find(left), r = vocab.find(right), j = vocab.find(left + right);
    if (l == vocab.end() || r == vocab.end() || j == vocab.end())
      return fail(error, "model.merges[" + std::to_string(rank) + "]: '" + a +
                             " " + b + "' uses or makes a token not in the vocab");
    uint64_t key = uint64_t(uint32_t(l->second)) << 32 | uint32_t(r->second);
    merges.emplace(key, Merge{int32_t(rank), j->second}); // first rank wins
  }
  return true;
}

bool Tokenizer::Impl::parse(const json &root, std::string &error) {
  if (!root.is_object())
    return fail(error, "not a JSON object");
  const json *normalizer = field(root, "normalizer");
  if (normalizer && !normalizer->is_null()) {
    const json *type = field(*normalizer, "type");
    if (!type || *type != "NFC")
      return fail(error, "normalizer: only NFC (or none) is supported");
    nfc = true;
  }
  const json *model = field(root, "model");
  if (!model)
    return fail(error, "model: missing");
  if (!parseModel(*model, error))
    return false;
  const json *pre = field(root, "pre_tokenizer");
  if (!parsePreTokenizer(pre ? *pre : json(), error))
    return false;
  if (const json *decoder = field(root, "decoder");
      decoder && !decoder->is_null() && field(*decoder, "type") &&
      *field(*decoder, "type") != "ByteLevel")
    return fail(error, "decoder: only ByteLevel is supported");

  if (const json *list = field(root, "added_tokens")) {
    if (!list->is_array())
      return fail(error, "added_tokens: not an array");
    for (size_t i = 0; i < list->size(); ++i) {
      const json &t = (*list)[i];
      const json *id = field(t, "id"), *content = field(t, "content");
      std::string where = "added_tokens[" + std::to_string(i) + "]";
      if (!id || !id->is_number_integer() || id->get<int64_t>() < 0 ||
          id->get<int64_t>() >= (int64_t(1) << 24))
        return fail(error, where + ".id: missing or out of range");
      if (!content || !content->is_string() ||
          content->get_ref<const std::string &>().empty())
        return fail(error, where + ".content: missing or empty");
      const std::string &c = content->get_ref<const std::string &>();
      if (invalidUtf8At(c) >= 0)
        return fail(error, where + ".content: not valid UTF-8");
      int32_t tokenId = id->get<int32_t>();
      if (size_t(tokenId) >= bytesOf.size())
        bytesOf.resize(size_t(tokenId) + 1);
      if (!bytesOf[tokenId].empty() && bytesOf[tokenId] != c)
        return fail(error, where + ": id " + std::to_string(tokenId) +
                               " is already '" + bytesOf[tokenId] + "'");
      bytesOf[tokenId] = c;
      added.push_back({c, tokenId});
      addedStarts[uint8_t(c[0])] = true;
    }
    std::sort(added.begin(), added.end(), [](const Added &a, const Added &b) {
      return a.content.size() != b.content.size()
                 ? a.content.size() > b.content.size()
                 : a.id < b.id;
    });
    for (const Added &a : added)
      addToTrie(a);
  }
  return true;
}

/// BPE over one pre-tokenized piece: merges by rank (lowest first, leftmost on
/// ties), as `tokenizers`' Word::merge_all does.
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

std::unique_ptr<Tokenizer> Tokenizer::fromJson(std::string_view text,
                                               const std::string &origin,
                                               std::string &error) {
  json root = json::parse(text.begin(), text.end(), nullptr,
                          /*allow_exceptions=*/false);
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->impl->origin = origin;
  if (root.is_discarded()) {
    error = origin + ": not valid JSON";
    return nullptr;
  }
  if (!t->impl->parse(root, error))
    return nullptr;
  return t;
}

std::unique_ptr<Tokenizer> Tokenizer::load(const std::string &path,
                                           std::string &error) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  if (S_ISDIR(st.st_mode))
    return load(path + "/tokenizer.json", error);
  if (!S_ISREG(st.st_mode)) {
    error = path + ": not a regular file (a FIFO, socket or device)";
    return nullptr;
  }
  std::ifstream in(path, std::ios::binary);
  char magic[sizeof artifact::kMagic] = {};
  in.read(magic, sizeof magic);
  if (in.gcount() == sizeof magic &&
      std::memcmp(magic, artifact::kMagic, sizeof magic) == 0) {
    char *message = nullptr;
    qnext_model *model = qnext_model_inspect(path.c_str(), &message);
    if (!model) {
      error = message;
      qnext_free_error(message);
      return nullptr;
    }
    int64_t size = 0;
    const char *bytes = qnext_model_section(model, "tokenizer", &size);
    std::unique_ptr<Tokenizer> t;
    if (!bytes)
      error = path + ": the artifact carries no tokenizer (its checkpoint had "
                     "no tokenizer.json)";
    else
      t = fromJson(std::string_view(bytes, size_t(size)), path + " (tokenizer)",
                   error);
    qnext_model_close(model);
    return t;
  }
  in.clear();
  in.seekg(0);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    error = path + ": cannot be read";
    return nullptr;
  }
  return fromJson(text.str(), path, error);
}

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
