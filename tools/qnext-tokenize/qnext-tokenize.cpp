//===- qnext-tokenize.cpp - text to token ids and back --------------------===//
//
// qnext-tokenize --tokenizer PATH [--decode] [--summary]
// reads one JSON value per line on stdin: a string to encode (prints a JSON
// array of ids) or, with --decode, an array of ids (prints a JSON string).
// PATH is a tokenizer.json, a checkpoint folder or a .qnx artifact.
//
//===----------------------------------------------------------------------===//

#include "qnext/Tokenizer.h"

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>

using namespace llvm;
using json = nlohmann::json;

namespace {
cl::OptionCategory category("qnext-tokenize options");
cl::opt<std::string> tokenizerPath(
    "tokenizer", cl::Required,
    cl::desc("A tokenizer.json, a checkpoint folder holding one, or a .qnx "
             "artifact carrying one"),
    cl::value_desc("path"), cl::cat(category));
cl::opt<bool> decodeMode("decode",
                         cl::desc("Read JSON arrays of ids, print JSON strings"),
                         cl::cat(category));
cl::opt<bool> summary("summary",
                    cl::desc("Print bytes, tokens and MB/s on stderr at the end"),
                    cl::cat(category));

int fail(const Twine &message) {
  WithColor::error(errs(), "qnext-tokenize") << message << "\n";
  return 1;
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(
      argc, argv,
      "qnext-tokenize: encode text to token ids, or decode ids to text\n\n"
      "  echo '\"Hello, world!\"' | qnext-tokenize --tokenizer model.qnx\n"
      "  echo '[9707,11,1879,0]' | qnext-tokenize --tokenizer DIR --decode\n");
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
      outs() << json(ids).dump() << "\n";
    } else {
      if (!value.is_array())
        return fail(where() + "not a JSON array of token ids");
      ids.clear();
      for (const json &id : value) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
            id.get<int64_t>() >= tokenizer->size())
          return fail(where() + id.dump() + " is not a token id (0.." +
                      Twine(tokenizer->size() - 1) + ")");
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
      outs() << json(text).dump(-1, ' ', false, json::error_handler_t::replace)
             << "\n";
    }
  }
  if (summary)
    errs() << format("%lld lines, %lld bytes, %lld tokens, %.3f s, %.2f MB/s\n",
                     (long long)lineNumber, (long long)bytes, (long long)tokens,
                     seconds, seconds > 0 ? bytes / seconds / 1e6 : 0.0);
  return 0;
}
