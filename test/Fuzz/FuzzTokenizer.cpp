//===- FuzzTokenizer.cpp - libFuzzer target: the text side of the runtime -===//
//
// The first byte picks what the rest is:
//   0: a tokenizer.json (accepted, it must encode and decode a sample),
//   1: text for the synthetic tokenizer: encoding must not fail on valid
//      UTF-8, decoding must give back ASCII text exactly, and the stream
//      decoder must agree with the plain one,
//   2: a tokenizer_config.json (its chat template), rendered when accepted,
//   3: a generation_config.json.
//
//===----------------------------------------------------------------------===//

#include "qnext/Chat.h"
#include "qnext/Model/Synth.h"
#include "qnext/Sampler.h"
#include "qnext/Tokenizer.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace {
const qnext::Tokenizer &synthetic() {
  static std::unique_ptr<qnext::Tokenizer> t = [] {
    std::string error;
    auto made = qnext::Tokenizer::fromJson(
        qnext::synthTokenizerFiles(512).tokenizer, "synthetic", error);
    if (!made)
      abort();
    return made;
  }();
  return *t;
}

void roundTrip(const qnext::Tokenizer &t, std::string_view text) {
  std::vector<int32_t> ids;
  std::string error, back;
  bool valid = t.encode(text, ids, error);
  if (!valid)
    return; // not UTF-8: refused with the offset
  if (!t.decode(ids, back, error))
    abort(); // encode made an id decode does not know
  bool ascii = true;
  for (char c : text)
    ascii &= uint8_t(c) < 0x80;
  if (ascii && back != text)
    abort();
  qnext::StreamDecoder stream(t);
  std::string streamed;
  for (int32_t id : ids)
    streamed += stream.push(id);
  streamed += stream.finish();
  if (streamed != back) // the encoder's output is valid UTF-8
    abort();
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  std::string_view rest(reinterpret_cast<const char *>(data) + 1, size - 1);
  std::string error;
  switch (data[0] & 3) {
  case 0:
    if (auto t = qnext::Tokenizer::fromJson(rest, "tokenizer.json", error))
      roundTrip(*t, "Hello, world! <|im_start|>ok");
    break;
  case 1:
    roundTrip(synthetic(), rest);
    break;
  case 2:
    if (auto t = qnext::ChatTemplate::fromConfig(rest, "tokenizer_config.json", error))
      (void)t->render({{"system", "s"}, {"user", "u"}, {"assistant", "<think>r</think>a"},
                       {"tool", "t"}, {"user", "v"}},
                      true, qnext::Thinking::TemplateDefault);
    break;
  case 3: {
    qnext::SamplingParams params;
    std::vector<int32_t> eos;
    if (qnext::readGenerationConfig(rest, "generation_config.json", params, eos, error) &&
        !params.check().empty())
      abort(); // accepted parameters must be usable
    break;
  }
  }
  return 0;
}
