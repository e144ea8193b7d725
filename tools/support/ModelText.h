//===- ModelText.h - what an artifact carries for text ---------*- C++ -*-===//
//
// The tokenizer, the chat template, the sampling defaults and the stop ids
// an artifact carries (qnext-compile copies them from the checkpoint), read
// and checked once for the tools that take text (qnext-run, qnext-serve).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TOOLS_MODELTEXT_H
#define QNEXT_TOOLS_MODELTEXT_H

#include "qnext/Chat.h"
#include "qnext/Runtime.h"
#include "qnext/Sampler.h"
#include "qnext/Tokenizer.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

namespace qnext::tool {

/// A section of the artifact as text ("" when absent).
inline std::string sectionText(qnext_model *model, const char *name) {
  int64_t size = 0;
  const char *bytes = qnext_model_section(model, name, &size);
  return bytes ? std::string(bytes, size_t(size)) : std::string();
}

struct ModelText {
  std::unique_ptr<Tokenizer> tokenizer;
  ChatTemplate chatTemplate; ///< plain ChatML without a tokenizer_config
  SamplingParams defaults;   ///< the generation config's (greedy without one)
  /// The generation config's eos ids, <|im_end|> and <|endoftext|>.
  std::vector<int32_t> stopIds;
};

/// Reads `model`'s (the artifact at `path`); false with `error` set, one
/// line naming the artifact and its section. `withoutTokenizer` ends the
/// line for an artifact with no tokenizer (what the caller can do instead).
inline bool readModelText(qnext_model *model, const std::string &path,
                          const std::string &withoutTokenizer, ModelText &text,
                          std::string &error) {
  std::string tokenizerJson = sectionText(model, "tokenizer");
  if (tokenizerJson.empty()) {
    error = path + ": the artifact carries no tokenizer (its checkpoint had no "
                   "tokenizer.json); " + withoutTokenizer;
    return false;
  }
  text.tokenizer = Tokenizer::fromJson(tokenizerJson, path + " (tokenizer)", error);
  if (!text.tokenizer)
    return false;
  if (std::string config = sectionText(model, "tokenizer_config"); !config.empty()) {
    auto parsed = ChatTemplate::fromConfig(config, path + " (tokenizer_config)", error);
    if (!parsed)
      return false;
    text.chatTemplate = *parsed;
  }
  if (std::string generation = sectionText(model, "generation"); !generation.empty())
    if (!readGenerationConfig(generation, path + " (generation)", text.defaults,
                              text.stopIds, error))
      return false;
  for (const char *stop : {"<|im_end|>", "<|endoftext|>"})
    if (auto id = text.tokenizer->tokenId(stop);
        id && std::find(text.stopIds.begin(), text.stopIds.end(), *id) == text.stopIds.end())
      text.stopIds.push_back(*id);
  return true;
}

} // namespace qnext::tool

#endif // QNEXT_TOOLS_MODELTEXT_H
