//===- TokenizerLoad.cpp - tokenizer.json into the tokenizer's tables -----===//
//
// Reads Hugging Face's tokenizer.json (from a file, a checkpoint folder or
// an artifact's tokenizer section): the normalizer (NFC or none), the
// pre-tokenizer's split regexes, the byte-level BPE model (vocabulary and
// merges) and the added tokens. Anything it does not implement is refused
// with one line naming the field, never guessed.
//
//===----------------------------------------------------------------------===//

#include "TokenizerImpl.h"

#include "qnext/ArtifactFormat.h"
#include "qnext/Runtime.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

using json = nlohmann::json;

namespace qnext {

using namespace tokenizer;

namespace {

/// The split regex GPT-2's ByteLevel pre-tokenizer applies with use_regex.
constexpr const char *kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

const json *field(const json &object, const char *key) {
  if (!object.is_object())
    return nullptr;
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

} // namespace

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


} // namespace qnext
