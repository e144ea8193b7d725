//===- qnext-tokenize.cpp - text to token ids and back --------------------===//
//
// qnext-tokenize --tokenizer PATH [--decode] [--summary]
// reads one JSON value per line on stdin: a string to encode (prints a JSON
// array of ids) or, with --decode, an array of ids (prints a JSON string).
// PATH is a tokenizer.json, a checkpoint folder or a .qnx artifact.
//
//===----------------------------------------------------------------------===//

#include "qnext/Tokenizer.h"

#include "RuntimeTool.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

using json = nlohmann::json;
using qnext::tool::fail;

int main(int argc, char **argv) {
  qnext::tool::toolName() = "qnext-tokenize";
  std::string tokenizerPath;
  bool decodeMode = false, summary = false;
  CLI::App app{"qnext-tokenize: encode text to token ids, or decode ids to text\n\n"
               "  echo '\"Hello, world!\"' | qnext-tokenize --tokenizer model.qnx\n"
               "  echo '[9707,11,1879,0]' | qnext-tokenize --tokenizer DIR --decode\n",
               "qnext-tokenize"};
  app.add_option("--tokenizer", tokenizerPath,
                 "A tokenizer.json, a checkpoint folder holding one, or a .qnx "
                 "artifact carrying one")
      ->required()
      ->type_name("PATH");
  app.add_flag("--decode", decodeMode, "Read JSON arrays of ids, print JSON strings");
  app.add_flag("--summary", summary,
               "Print bytes, tokens and MB/s on stderr at the end");
  if (auto rc = qnext::tool::parse(app, argc, argv))
    return *rc;

  std::string error;
  std::unique_ptr<qnext::Tokenizer> tokenizer =
      qnext::Tokenizer::load(tokenizerPath, error);
  if (!tokenizer)
    return fail(error);

  std::ios::sync_with_stdio(false);
  std::string line;
  int64_t lineNumber = 0, bytes = 0, tokens = 0;
  double seconds = 0;
  std::vector<int32_t> ids;
  std::string text;
  while (std::getline(std::cin, line)) {
    ++lineNumber;
    if (line.empty())
      continue;
    auto where = [&] { return "<stdin>:" + std::to_string(lineNumber) + ": "; };
    json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto start = std::chrono::steady_clock::now();
    if (!decodeMode) {
      if (!value.is_string())
        return fail(where() + "not a JSON string");
      const std::string &input = value.get_ref<const std::string &>();
      ids.clear();
      if (!tokenizer->encode(input, ids, error))
        return fail(where() + error);
      bytes += int64_t(input.size());
      tokens += int64_t(ids.size());
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                               start).count();
      std::cout << json(ids).dump() << "\n";
    } else {
      if (!value.is_array())
        return fail(where() + "not a JSON array of token ids");
      ids.clear();
      for (const json &id : value) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
            id.get<int64_t>() >= tokenizer->size())
          return fail(where() + id.dump() + " is not a token id (0.." +
                      std::to_string(tokenizer->size() - 1) + ")");
        ids.push_back(id.get<int32_t>());
      }
      text.clear();
      if (!tokenizer->decode(ids, text, error))
        return fail(where() + error);
      bytes += int64_t(text.size());
      tokens += int64_t(ids.size());
      seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                               start).count();
      // Bytes that are not UTF-8 (a token holding part of a character) print
      // as U+FFFD, as Hugging Face's decode does.
      std::cout << json(text).dump(-1, ' ', false, json::error_handler_t::replace)
             << "\n";
    }
  }
  if (summary)
    std::cerr << qnext::tool::format(
        "%lld lines, %lld bytes, %lld tokens, %.3f s, %.2f MB/s\n", (long long)lineNumber,
        (long long)bytes, (long long)tokens, seconds,
        seconds > 0 ? bytes / seconds / 1e6 : 0.0);
  return 0;
}
