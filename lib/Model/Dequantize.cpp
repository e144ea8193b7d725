//===- Dequantize.cpp - a quantized checkpoint with its weights widened ---===//

#include "qnext/Model/Dequantize.h"

#include "qnext/Model/Config.h"
#include "qnext/Model/FP8.h"
#include "qnext/Model/Quantize.h"
#include "qnext/Model/SafeTensors.h"
#include "qnext/Model/WeightLayout.h"
#include "qnext/Model/WeightPacker.h"
#include "qnext/Support/AtomicFile.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <nlohmann/json.hpp>

using llvm::Error;
using llvm::Expected;
using ordered_json = nlohmann::ordered_json;

namespace qnext {

namespace {

std::string pathIn(const std::string &dir, llvm::StringRef file) {
  llvm::SmallString<256> p(dir);
  llvm::sys::path::append(p, file);
  return std::string(p);
}

/// One tensor of the output: written as stored, or (FP8 with its scale)
/// dequantized to F32.
struct OutTensor {
  const TensorInfo *info;
  const TensorInfo *scale = nullptr;
  uint64_t bytes;
  bool quantize = false; ///< quantized and dequantized (--weights)
  WeightFormat format;   ///< how, when `quantize`
};

} // namespace

Expected<DequantizeSummary>
writeDequantizedCheckpoint(const std::string &from, const std::string &to,
                           bool allowNonfinite, WeightFormat format,
                           llvm::function_ref<void(uint64_t, uint64_t)> progress) {
  // The input, checked as qnext-compile checks it.
  auto config = loadModelConfig(pathIn(from, "config.json"));
  if (!config)
    return config.takeError();
  auto opened = Checkpoint::open(from);
  if (!opened)
    return opened.takeError();
  const Checkpoint &checkpoint = **opened;
  WeightLayout layout(*config, nullptr);
  if (Error e = layout.detectExpertLayouts(checkpoint))
    return std::move(e);
  auto report = layout.checkInventory(checkpoint);
  if (!report)
    return report.takeError();
  const bool anyFP8 = llvm::any_of(checkpoint.tensors(), [](const TensorInfo *t) {
    return t->dtype == DType::F8_E4M3;
  });
  if (!anyFP8 && !format.quantizes())
    return llvm::createStringError(
        from + ": no FP8 weights to dequantize (its tensors are " +
        [&] {
          std::string s;
          for (DType d : report->dtypes)
            s += (s.empty() ? "" : ", ") + dtypeName(d).str();
          return s;
        }() +
        ")");
  // A new folder, or an empty one: no stale shard or index to be read
  // beside what is written.
  if (llvm::sys::fs::exists(to)) {
    std::error_code ec;
    llvm::sys::fs::directory_iterator it(to, ec);
    if (ec)
      return llvm::createStringError(to + ": " + ec.message());
    if (it != llvm::sys::fs::directory_iterator())
      return llvm::createStringError(
          to + ": not empty (" + llvm::sys::path::filename(it->path()).str() +
          "): --export-dequantized writes a new checkpoint folder");
  }

  // Every tensor in checkpoint order; an FP8 one (here, in mtp.* or
  // anywhere) takes its scale along, and the scale is not written.
  std::vector<OutTensor> plan;
  llvm::StringSet<> scales;
  for (const TensorInfo *t : checkpoint.tensors()) {
    if (t->dtype != DType::F8_E4M3)
      continue;
    // Those outside the text model (mtp.*) are checked here, as
    // checkInventory checks the others.
    ExpectedTensor want{t->name, t->shape};
    std::string where = checkpoint.fileName(*t).str() + ": tensor '" + t->name + "'";
    llvm::StringSet<> unused;
    if (Error e = layout.checkFP8(checkpoint, want, where, unused))
      return std::move(e);
    scales.insert(fp8ScaleName(t->name));
  }
  // The tensors --weights quantizes: those the model reads that it names.
  llvm::StringMap<WeightFormat> quantize;
  for (const ExpectedTensor &t : layout.checkpointTensors())
    if (WeightFormat f = formatOf(format, t.name); f.quantizes() && t.shape.size() >= 2) {
      // (int4's whole tiles checked before anything is written.)
      if (Error e = checkColumns(format.str(), format, t.name, t.shape.back()))
        return std::move(e);
      quantize[t.name] = f;
    }
  uint64_t total = 0;
  for (const TensorInfo *t : checkpoint.tensors()) {
    if (scales.contains(t->name))
      continue;
    OutTensor out{t, nullptr, t->numBytes(), false, {}};
    if (t->dtype == DType::F8_E4M3) {
      out.scale = checkpoint.find(fp8ScaleName(t->name));
      out.bytes = uint64_t(t->numElements()) * 4;
    }
    if (auto it = quantize.find(t->name); it != quantize.end()) {
      out.quantize = true;
      out.format = it->second;
      out.bytes = uint64_t(t->numElements()) * 4;
    }
    plan.push_back(out);
    total += out.bytes;
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(to))
    return llvm::createStringError(to + ": " + ec.message());

  // model.safetensors: the header, then each tensor streamed in order.
  std::vector<TensorEntry> entries;
  for (const OutTensor &t : plan)
    entries.push_back({t.info->name,
                       t.scale || t.quantize ? DType::F32 : t.info->dtype,
                       t.info->shape, t.bytes});
  const std::string preamble = safetensorsPreamble(entries);
  DequantizeSummary summary;
  summary.bytes = preamble.size() + total;
  Error e = writeAtomically(pathIn(to, "model.safetensors"), [&](llvm::raw_ostream &os) -> Error {
    os << preamble;
    uint64_t done = 0;
    std::vector<float> values;
    QuantizedTensor q;
    for (const OutTensor &t : plan) {
      llvm::ArrayRef<uint8_t> bytes = checkpoint.bytes(*t.info);
      if (t.quantize) {
        // As the packer quantizes it and the kernels compute with it.
        if (Error e = quantizeTensor(checkpoint, *t.info, config->fp8Block, t.format,
                                     values, q))
          return e;
        values.resize(size_t(q.rows * q.cols));
        dequantizeTensor(q, t.format, values.data());
        bytes = llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(values.data()),
                                        values.size() * 4);
        ++summary.quantized;
        auto by = llvm::find_if(summary.quantizedBy,
                                [&](const auto &p) { return p.first == t.format.str(); });
        if (by == summary.quantizedBy.end())
          summary.quantizedBy.push_back({t.format.str(), 1});
        else
          ++by->second;
      } else if (t.scale) {
        values.resize(t.info->numElements());
        dequantizeFP8(bytes, t.info->shape[0], t.info->shape[1],
                      checkpoint.bytes(*t.scale), t.scale->dtype, config->fp8Block,
                      values.data());
        bytes = llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(values.data()),
                                        values.size() * 4);
        ++summary.dequantized;
      } else {
        ++summary.copied;
      }
      if (!allowNonfinite && !t.quantize &&
          isSupportedWeightDType(t.scale ? DType::F32 : t.info->dtype)) {
        bool isNaN = false;
        int64_t at = firstNonfinite(bytes, t.scale ? DType::F32 : t.info->dtype, isNaN);
        if (at >= 0)
          return llvm::createStringError(
              checkpoint.fileName(*t.info).str() + ": tensor '" + t.info->name +
              "' holds " + (isNaN ? "NaN" : "an infinity") + " at index " +
              std::to_string(at) + (t.scale ? " once dequantized" : "") +
              " (--allow-nonfinite exports it anyway)");
      }
      os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
      checkpoint.release(*t.info);
      if (t.scale)
        checkpoint.release(*t.scale);
      done += bytes.size();
      if (progress)
        progress(done, total);
    }
    return Error::success();
  });
  if (e)
    return std::move(e);

  // The text files as they are; config.json last, without the quantization.
  for (const char *file :
       {"tokenizer.json", "tokenizer_config.json", "generation_config.json"}) {
    std::string source = pathIn(from, file);
    if (!llvm::sys::fs::exists(source))
      continue;
    auto buffer = llvm::MemoryBuffer::getFile(source, /*IsText=*/false,
                                              /*RequiresNullTerminator=*/false);
    if (!buffer)
      return llvm::createStringError(source + ": " + buffer.getError().message());
    if (Error e = writeAtomically(pathIn(to, file), [&](llvm::raw_ostream &os) {
          os << (*buffer)->getBuffer();
          return Error::success();
        }))
      return std::move(e);
  }
  auto text = llvm::MemoryBuffer::getFile(pathIn(from, "config.json"));
  if (!text)
    return llvm::createStringError(pathIn(from, "config.json") + ": " +
                                   text.getError().message());
  ordered_json json = ordered_json::parse((*text)->getBuffer(), nullptr,
                                          /*allow_exceptions=*/false);
  json.erase("quantization_config");
  if (json.contains("text_config") && json["text_config"].is_object())
    json["text_config"].erase("quantization_config");
  if (Error e = writeAtomically(pathIn(to, "config.json"), [&](llvm::raw_ostream &os) {
        os << json.dump(2) << "\n";
        return Error::success();
      }))
    return std::move(e);
  return summary;
}

} // namespace qnext
