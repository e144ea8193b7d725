//===- LoadModel.cpp - config + checkpoint -> the qnext module ------------===//
//
// compile()'s first step: the config.json (of a checkpoint folder, or given
// alone), the checkpoint's safetensors headers and text files, each checked
// against what the config implies, then the model's IR built from the config
// (weights as qnext.param; no weight data read) and verified.
//
//===----------------------------------------------------------------------===//

#include "CompileSteps.h"

#include "qnext/Dialect/QNext/QNextOps.h"
#include "qnext/Model/ModelBuilder.h"
#include "qnext/Model/WeightLayout.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"

using namespace llvm;
using namespace qnext;
using namespace qnext::driver;

namespace {
/// The element type of a config's torch_dtype, for config-only builds.
mlir::Type configDType(mlir::MLIRContext &ctx, StringRef dtype) {
  if (dtype == "float32")
    return mlir::Float32Type::get(&ctx);
  if (dtype == "float16")
    return mlir::Float16Type::get(&ctx);
  return mlir::BFloat16Type::get(&ctx);
}

mlir::Type weightType(mlir::MLIRContext &ctx, DType dtype) {
  switch (dtype) {
  case DType::F32:
    return mlir::Float32Type::get(&ctx);
  case DType::F16:
    return mlir::Float16Type::get(&ctx);
  case DType::F8_E4M3:
    return mlir::Float8E4M3FNType::get(&ctx);
  default:
    return mlir::BFloat16Type::get(&ctx);
  }
}

/// The states the runtime allocates: the `qnext.state` arguments of
/// @prefill, dynamic dimensions (the caches' capacity) as -1.
std::vector<StateInfo> readStates(mlir::ModuleOp module) {
  std::vector<StateInfo> states;
  if (auto prefill = module.lookupSymbol<mlir::func::FuncOp>("prefill"))
    for (unsigned i = 0; i < prefill.getNumArguments(); ++i)
      if (auto name = prefill.getArgAttrOfType<mlir::StringAttr>(
              i, mlir::qnext::kStateAttrName)) {
        auto type = mlir::cast<mlir::RankedTensorType>(prefill.getArgument(i).getType());
        std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
        for (int64_t &d : shape)
          if (mlir::ShapedType::isDynamic(d))
            d = -1;
        states.push_back({name.str(), shape});
      }
  return states;
}
} // namespace

mlir::FailureOr<LoadedModel>
qnext::driver::loadModel(mlir::MLIRContext &context,
                         const CompileOptions &options) {
  auto fail = [&](const Twine &message) { return reportError(options, message); };
  const std::string &input = options.input;
  bool isDir = sys::fs::is_directory(input);
  SmallString<256> configPath(input);
  if (isDir)
    sys::path::append(configPath, "config.json");
  else if (!sys::fs::exists(input))
    return fail(input + ": no such file or folder");

  LoadedModel model;
  Expected<ModelConfig> config = loadModelConfig(configPath);
  if (!config)
    return fail(toString(config.takeError()));
  model.config = std::move(*config);

  std::function<mlir::Type(StringRef)> dtypeOf;
  if (isDir) {
    auto opened = Checkpoint::open(input);
    if (!opened)
      return fail(toString(opened.takeError()));
    model.checkpoint = std::move(*opened);
    dtypeOf = [&](StringRef name) {
      const TensorInfo *info = model.checkpoint->find(name);
      return info ? weightType(context, info->dtype)
                  : configDType(context, model.config.dtype);
    };
  } else if (model.config.quantMethod == "fp8") {
    // Config-only, FP8 as Qwen's FP8 repositories store it: the decoder
    // layers' projections in e4m3 with block scales, but for the modules
    // quantization_config leaves unconverted; the rest in BF16.
    auto unconverted = std::make_shared<llvm::StringSet<>>();
    for (const std::string &m : model.config.fp8NotConverted)
      unconverted->insert(m);
    dtypeOf = [&context, unconverted](StringRef name) -> mlir::Type {
      StringRef module = name;
      module.consume_back(".weight");
      if (isQuantizedProjection(name) && !unconverted->contains(module))
        return mlir::Float8E4M3FNType::get(&context);
      return mlir::BFloat16Type::get(&context);
    };
  } else {
    dtypeOf = [&](StringRef) { return configDType(context, model.config.dtype); };
  }
  // The tokenizer, chat template and generation defaults travel in the
  // artifact; checked now, before the long part.
  if (isDir) {
    auto files = readCheckpointTextFiles(input, model.config);
    if (!files)
      return fail(toString(files.takeError()));
    model.textFiles = std::move(*files);
  }
  WeightLayout layout(model.config, dtypeOf);
  auto format = parseWeightFormat(options.weights, options.lmHead);
  if (!format)
    return fail(toString(format.takeError()));
  layout.setWeightFormat(*format);
  // Qwen's FP8 repositories store the experts one by one (Qwen3.5's too).
  if (!isDir && model.config.quantMethod == "fp8")
    layout.setExpertLayouts(ExpertLayout::PerExpert);
  // The MTP head, when the checkpoint has one (--mtp=auto): its tensors
  // join the inventory, checked like the rest.
  if (model.checkpoint && model.checkpoint->find("mtp.fc.weight")) {
    if (options.mtp && options.target == CompileTarget::CPU)
      layout.setMTP(true);
    else if (options.mtp)
      WithColor::note(errs(), options.toolName)
          << "the MTP head (mtp.*) is not compiled for --target=cuda yet "
             "(qnext compiles it for --target=cpu)\n";
  }
  // int4 lies in tiles of 32 columns: every tensor it quantizes must be
  // whole tiles (all of Qwen's are; a small synthetic model may not be).
  for (const ExpectedTensor &t : layout.checkpointTensors())
    if (t.shape.size() >= 2)
      if (Error e = checkColumns(options.weights, *format, t.name, t.shape.back()))
        return fail(toString(std::move(e)));
  // quantization_config says how the weights are stored: held against the
  // tensors, never ignored without a word.
  const std::string &quant = model.config.quantMethod;
  if (model.checkpoint) {
    if (llvm::Error e = layout.detectExpertLayouts(*model.checkpoint))
      return fail(toString(std::move(e)));
    auto report = layout.checkInventory(*model.checkpoint);
    if (!report) {
      std::string message = toString(report.takeError());
      if (!quant.empty() && quant != "fp8")
        message += " (config.json's quantization_config says quant_method '" + quant +
                   "': qnext compiles F32, BF16 or F16 weights and reads FP8 ones)";
      return fail(message);
    }
    clearStatus();
    // One warning per kind, with a count.
    const std::vector<std::string> &extra = report->unexpected;
    if (!extra.empty()) {
      std::string examples;
      for (size_t i = 0; i < extra.size() && i < 3; ++i)
        examples += (i ? ", " : "") + extra[i];
      WithColor::warning(errs(), options.toolName)
          << (extra.size() == 1 ? "1 tensor the model does not read is ignored: "
                                : std::to_string(extra.size()) +
                                      " tensors the model does not read are ignored: ")
          << examples << (extra.size() > 3 ? ", ..." : "") << "\n";
    }
    // What a multimodal or MTP checkpoint carries besides the text model:
    // said once, not per tensor.
    if (report->visionTensors)
      WithColor::note(errs(), options.toolName)
          << "the vision encoder (" << report->visionTensors
          << " model.visual.* tensors) is not compiled: qnext compiles the "
             "text model\n";
    if (report->tiedLMHeadIgnored)
      WithColor::warning(errs(), options.toolName)
          << "lm_head.weight is present but tie_word_embeddings is true: it is "
             "ignored\n";
    // (An FP8 quantization_config with FP8 tensors is what it says.)
    if (!quant.empty() && !(quant == "fp8" && report->fp8Tensors)) {
      std::string dtypes;
      for (DType d : report->dtypes)
        dtypes += (dtypes.empty() ? "" : ", ") + dtypeName(d).str();
      WithColor::note(errs(), options.toolName)
          << "config.json's quantization_config (quant_method '" << quant
          << "') does not match the tensors, which are " << dtypes
          << ": it is ignored and the weights compile as stored\n";
    }
  } else if (quant == "fp8") {
    clearStatus();
    WithColor::note(errs(), options.toolName)
        << "without weights the code is compiled for FP8 weights as Qwen's FP8 "
           "repositories store them (quantization_config: e4m3, blocks of "
        << model.config.fp8Block[0] << "x" << model.config.fp8Block[1]
        << ", experts one by one, " << model.config.fp8NotConverted.size()
        << " modules left in BF16)\n";
  } else if (!quant.empty()) {
    clearStatus();
    WithColor::note(errs(), options.toolName)
        << "config.json's quantization_config (quant_method '" << quant
        << "') is ignored: without weights the code is compiled for "
        << (model.config.dtype == "float32" || model.config.dtype == "float16"
                ? model.config.dtype
                : std::string("bfloat16"))
        << " weights\n";
  }

  ModelEntries entries;
  entries.taps = options.taps;
  entries.decodeBatch = options.exportsDecodeBatch();
  entries.prefillBatch = options.exportsPrefillBatch();
  model.module = buildModel(context, model.config, layout, entries);
  if (mlir::failed(mlir::verify(*model.module)))
    return fail("internal error: the built IR does not verify (above)");
  model.states = readStates(*model.module);
  model.mtp = layout.hasMTP();
  return std::move(model);
}
