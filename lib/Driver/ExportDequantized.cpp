//===- ExportDequantized.cpp - qnext-compile --export-dequantized ---------===//
//
// The quantized checkpoint's reference: its weights dequantized exactly to
// F32 in a new checkpoint folder, which the float path compiles.
//
//===----------------------------------------------------------------------===//

#include "CompileSteps.h"

#include "qnext/Model/Dequantize.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

mlir::LogicalResult
qnext::driver::exportDequantized(const CompileOptions &options) {
  auto fail = [&](const Twine &message) { return reportError(options, message); };
  const std::string &to = options.exportDequantized;
  if (options.output != "-")
    return fail("--export-dequantized writes a checkpoint folder, not -o " +
                options.output);
  if (!sys::fs::is_directory(options.input))
    return fail(options.input + ": --export-dequantized reads a checkpoint folder");
  if (sys::fs::equivalent(options.input, to))
    return fail("--export-dequantized " + to + ": the input folder itself");
  auto format = parseWeightFormat(options.weights, options.lmHead);
  if (!format)
    return fail(toString(format.takeError()));
  auto summary = writeDequantizedCheckpoint(
      options.input, to, options.allowNonfinite, *format,
      [&](uint64_t done, uint64_t total) {
        if (total)
          showStatus(options, formatv("writing {0}: {1:f0} %", to,
                                      100.0 * double(done) / double(total)));
      });
  if (!summary)
    return fail(toString(summary.takeError()));
  clearStatus();
  if (!options.quiet)
    errs() << options.toolName << ": wrote " << to << ": "
           << summary->dequantized << " FP8 tensors dequantized to F32, ";
  if (format->quantizes() && !options.quiet) {
    if (summary->quantizedBy.empty())
      errs() << "0 quantized to " << format->str() << ", ";
    for (auto [i, by] : llvm::enumerate(summary->quantizedBy))
      errs() << by.second << (i ? " to " : " quantized to ") << by.first << ", ";
    errs() << "dequantized to F32, ";
  }
  if (!options.quiet)
    errs() << summary->copied << " copied as stored, "
           << formatv("{0:f1} MB", summary->bytes / 1e6) << "\n";
  return mlir::success();
}
