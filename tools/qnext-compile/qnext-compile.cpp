//===- qnext-compile.cpp - Hugging Face checkpoint -> qnext ---------------===//
//
// Reads a checkpoint folder exactly as it ships (config.json + safetensors,
// sharded or not) or a bare config.json, validates it, and builds the model's
// IR without reading weight data, then lowers it for the CPU. Phases:
//   --compile-to=qnext         layer ops (the model as a user reads it)
//   --compile-to=primitive     after qnext-decompose-layers
//   --compile-to=linalg        after qnext-lower-to-linalg (upstream dialects)
//   --compile-to=gpu           --target=cuda: kernels outlined, host launches
//   --compile-to=llvm-dialect  the whole pipeline: the LLVM dialect
//   --compile-to=ptx           --target=cuda: the kernels' PTX
//   --compile-to=llvm-ir       translated and optimized for the host CPU
//   --compile-to=artifact      the .qnx model artifact (default)
// MLIR's pass-manager flags (--mlir-print-ir-after-all, --mlir-timing, ...)
// apply to the passes it runs.
//
//===----------------------------------------------------------------------===//

#include "qnext/Artifact/ArtifactWriter.h"
#include "qnext/InitAll.h"
#include "qnext/Model/ModelBuilder.h"
#include "qnext/Model/SafeTensors.h"
#include "qnext/Model/WeightPacker.h"
#include "qnext/Support/ProgressLine.h"
#include "qnext/Target/CPUObject.h"
#include "qnext/Target/CPUPipeline.h"
#include "qnext/Target/CUDAPipeline.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

using namespace llvm;

namespace {
cl::OptionCategory category("qnext-compile options");

cl::opt<std::string> input(cl::Positional, cl::Required,
                           cl::desc("<checkpoint folder or config.json>"),
                           cl::cat(category));
cl::opt<std::string> output("o", cl::desc("Output file ('-' for stdout)"),
                            cl::value_desc("file"), cl::init("-"),
                            cl::cat(category));

enum class Phase { QNext, Primitive, Linalg, GPU, LLVMDialect, PTX, LLVMIR, Artifact };
cl::opt<Phase> compileTo(
    "compile-to", cl::desc("Stop after this phase and print its IR"),
    cl::values(clEnumValN(Phase::QNext, "qnext",
                          "the model as qnext layer ops (default)"),
               clEnumValN(Phase::Primitive, "primitive",
                          "after qnext-decompose-layers: primitive ops"),
               clEnumValN(Phase::Linalg, "linalg",
                          "after qnext-lower-to-linalg: linalg, tensor, scf, "
                          "arith, math (weights still qnext.param)"),
               clEnumValN(Phase::GPU, "gpu",
                          "--target=cuda: kernels outlined into one "
                          "gpu.module, the host launching them"),
               clEnumValN(Phase::LLVMDialect, "llvm-dialect",
                          "the whole pipeline: the LLVM dialect (CUDA: the "
                          "kernels in a gpu.binary)"),
               clEnumValN(Phase::PTX, "ptx", "--target=cuda: the kernels' PTX"),
               clEnumValN(Phase::LLVMIR, "llvm-ir",
                          "LLVM IR, optimized (O2) for the target CPU"),
               clEnumValN(Phase::Artifact, "artifact",
                          "the .qnx model artifact (default; needs weights)")),
    cl::init(Phase::Artifact), cl::cat(category));

enum class Target { CPU, CUDA };
cl::opt<Target> target("target", cl::desc("What to generate code for"),
                       cl::values(clEnumValN(Target::CPU, "cpu",
                                             "x86-64 CPU (default)"),
                                  clEnumValN(Target::CUDA, "cuda",
                                             "NVIDIA GPU (kernels for "
                                             "--gpu-arch; the host code for "
                                             "x86-64)")),
                       cl::init(Target::CPU), cl::cat(category));
cl::opt<std::string> gpuArch("gpu-arch",
                             cl::desc("--target=cuda: the GPU architecture, "
                                      "sm_80, sm_90a, ... (default sm_90a)"),
                             cl::init("sm_90a"), cl::cat(category));
cl::opt<std::string> cudaToolkit(
    "cuda-toolkit",
    cl::desc("--target=cuda: the CUDA toolkit folder (ptxas, fatbinary, "
             "libdevice; default $CUDA_HOME, else /usr/local/cuda)"),
    cl::cat(category));
cl::opt<std::string> cpu("cpu",
                         cl::desc("CPU to optimize for: 'host' (default) or an "
                                  "LLVM CPU name, e.g. x86-64-v3"),
                         cl::init("host"), cl::cat(category));
cl::opt<bool> parallel(
    "parallel",
    cl::desc("Run the projection kernels on all cores (OpenMP; the artifact "
             "then needs libomp.so.5). --parallel=false: one thread"),
    cl::init(true), cl::cat(category));

int fail(const Twine &message) {
  WithColor::error(errs(), "qnext-compile") << message << "\n";
  return 1;
}

/// The element type of a config's torch_dtype, for config-only builds.
mlir::Type configDType(mlir::MLIRContext &ctx, StringRef dtype) {
  if (dtype == "float32")
    return mlir::Float32Type::get(&ctx);
  if (dtype == "float16")
    return mlir::Float16Type::get(&ctx);
  return mlir::BFloat16Type::get(&ctx);
}

mlir::Type weightType(mlir::MLIRContext &ctx, qnext::DType dtype) {
  switch (dtype) {
  case qnext::DType::F32:
    return mlir::Float32Type::get(&ctx);
  case qnext::DType::F16:
    return mlir::Float16Type::get(&ctx);
  default:
    return mlir::BFloat16Type::get(&ctx);
  }
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  mlir::qnext::registerAllPasses();
  // --help lists this tool's options and MLIR's --mlir-* flags; LLVM's
  // backend flags stay reachable through --help-hidden.
  for (auto &[name, option] : cl::getRegisteredOptions())
    if (!name.starts_with("mlir-") && name != "help" && name != "version" &&
        !llvm::is_contained(option->Categories, &category))
      option->setHiddenFlag(cl::Hidden);
  cl::ParseCommandLineOptions(
      argc, argv,
      "qnext-compile: compile a Qwen3-Next / Qwen3.5 checkpoint\n\n"
      "  qnext-compile CHECKPOINT_DIR --target=cpu -o model.qnx\n"
      "  qnext-compile CHECKPOINT_DIR --compile-to=PHASE [-o FILE]\n"
      "  qnext-compile path/to/config.json ...   (structure only, no weights)\n\n"
      "A checkpoint folder holds config.json and model.safetensors or the\n"
      "shards of model.safetensors.index.json; its tensors are checked against\n"
      "what the config implies (names, shapes, dtypes) before anything is built.\n"
      "Its tokenizer.json, tokenizer_config.json (chat template) and\n"
      "generation_config.json, when present, are checked and copied into the\n"
      "artifact (qnext-run --prompt / --chat and qnext-tokenize use them).\n"
      "MLIR's --mlir-* flags apply to the passes it runs.\n");

  if (target != Target::CUDA && (compileTo == Phase::GPU || compileTo == Phase::PTX))
    return fail("--compile-to=gpu and --compile-to=ptx need --target=cuda");
  if (target == Target::CUDA &&
      (!StringRef(gpuArch).starts_with("sm_") ||
       StringRef(gpuArch).drop_front(3).take_while(llvm::isDigit).empty()))
    return fail("--gpu-arch " + gpuArch + ": expected sm_<number>, e.g. sm_90a");

  bool isDir = sys::fs::is_directory(input);
  SmallString<256> configPath(input);
  if (isDir)
    sys::path::append(configPath, "config.json");
  else if (!sys::fs::exists(input))
    return fail(input + ": no such file or folder");

  Expected<qnext::ModelConfig> config = qnext::loadModelConfig(configPath);
  if (!config)
    return fail(toString(config.takeError()));

  mlir::DialectRegistry registry;
  mlir::qnext::registerAllDialects(registry);
  mlir::MLIRContext context(registry);

  std::unique_ptr<qnext::Checkpoint> checkpoint;
  std::function<mlir::Type(StringRef)> dtypeOf;
  if (isDir) {
    auto opened = qnext::Checkpoint::open(input);
    if (!opened)
      return fail(toString(opened.takeError()));
    checkpoint = std::move(*opened);
    dtypeOf = [&](StringRef name) {
      const qnext::TensorInfo *info = checkpoint->find(name);
      return info ? weightType(context, info->dtype)
                  : configDType(context, config->dtype);
    };
  } else {
    dtypeOf = [&](StringRef) { return configDType(context, config->dtype); };
  }
  // The tokenizer, chat template and generation defaults travel in the
  // artifact; checked now, before the long part.
  std::vector<qnext::ExtraSection> textFiles;
  if (isDir) {
    auto files = qnext::readCheckpointTextFiles(input, *config);
    if (!files)
      return fail(toString(files.takeError()));
    textFiles = std::move(*files);
  }
  qnext::WeightLayout layout(*config, dtypeOf);
  if (checkpoint) {
    auto report = layout.checkInventory(*checkpoint);
    if (!report)
      return fail(toString(report.takeError()));
    for (const std::string &warning : report->warnings)
      WithColor::warning(errs(), "qnext-compile") << warning << "\n";
  }

  mlir::OwningOpRef<mlir::ModuleOp> module =
      qnext::buildModel(context, *config, layout);
  if (mlir::failed(mlir::verify(*module)))
    return fail("internal error: the built IR does not verify (above)");

  // The states the runtime allocates, read off @prefill before lowering.
  std::vector<qnext::StateInfo> states;
  if (auto prefill = module->lookupSymbol<mlir::func::FuncOp>("prefill"))
    for (unsigned i = 0; i < prefill.getNumArguments(); ++i)
      if (auto name = prefill.getArgAttrOfType<mlir::StringAttr>(i, "qnext.state")) {
        auto type = mlir::cast<mlir::RankedTensorType>(prefill.getArgument(i).getType());
        std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
        for (int64_t &d : shape)
          if (mlir::ShapedType::isDynamic(d))
            d = -1;
        states.push_back({name.str(), shape});
      }

  if (compileTo == Phase::Artifact) {
    if (!checkpoint)
      return fail("an artifact needs weights: give a checkpoint folder, not a "
                  "config.json (or stop earlier with --compile-to)");
    if (output == "-")
      return fail("an artifact is binary: name the file with -o model.qnx");
  }
  const bool cuda = target == Target::CUDA;
  std::string toolkit = cudaToolkit;
  if (toolkit.empty()) {
    const char *home = std::getenv("CUDA_HOME");
    toolkit = home && *home ? home : "/usr/local/cuda";
  }
  if (cuda && compileTo >= Phase::LLVMDialect &&
      !sys::fs::exists(toolkit + "/bin/ptxas"))
    return fail("--cuda-toolkit " + toolkit + ": no bin/ptxas (the CUDA "
                "toolkit compiles the kernels)");
  std::string pipelineText;
  if (compileTo != Phase::QNext) {
    mlir::PassManager pm(&context);
    if (mlir::failed(mlir::applyPassManagerCLOptions(pm)))
      return fail("bad pass-manager options");
    if (cuda) {
      auto until = compileTo == Phase::Primitive ? mlir::qnext::CUDAPhase::Primitive
                   : compileTo == Phase::Linalg  ? mlir::qnext::CUDAPhase::Linalg
                   : compileTo == Phase::GPU     ? mlir::qnext::CUDAPhase::GPU
                                                 : mlir::qnext::CUDAPhase::LLVMDialect;
      mlir::qnext::CUDAPipelineOptions options;
      options.chip = gpuArch;
      options.toolkit = toolkit;
      options.format = compileTo == Phase::PTX ? "isa" : "fatbin";
      if (mlir::failed(mlir::qnext::buildCUDAPipeline(pm, until, options)))
        return fail("internal error: the CUDA pipeline does not parse");
    } else {
      auto until = compileTo == Phase::Primitive ? mlir::qnext::CPUPhase::Primitive
                   : compileTo == Phase::Linalg  ? mlir::qnext::CPUPhase::Linalg
                                                 : mlir::qnext::CPUPhase::LLVMDialect;
      mlir::qnext::CPUTargetOptions cpuOptions;
      cpuOptions.cpu = cpu;
      mlir::qnext::CPUPipelineOptions pipelineOptions;
      pipelineOptions.vectorWidth = mlir::qnext::preferredVectorWidth(cpuOptions);
      pipelineOptions.threads = parallel;
      if (mlir::failed(mlir::qnext::buildCPUPipeline(pm, until, pipelineOptions)))
        return fail("internal error: the CPU pipeline does not parse");
    }
    llvm::raw_string_ostream os(pipelineText);
    pm.printAsTextualPipeline(os);
    if (mlir::failed(pm.run(*module)))
      return fail(std::string("the ") + (cuda ? "CUDA" : "CPU") +
                  " pipeline failed (above)");
  }
  if (compileTo == Phase::PTX) {
    auto ptx = mlir::qnext::kernelBinary(*module);
    if (!ptx)
      return fail(toString(ptx.takeError()));
    if (Error e = writeToOutput(output, [&](raw_ostream &os) {
          os << *ptx;
          return Error::success();
        }))
      return fail(output + ": " + toString(std::move(e)));
    return 0;
  }

  mlir::qnext::CPUTargetOptions targetOptions;
  // CUDA: the host code only allocates and launches; a baseline x86-64 runs
  // on any machine the GPU sits in.
  targetOptions.cpu = cuda && !cpu.getNumOccurrences() ? "x86-64" : std::string(cpu);
  if (compileTo == Phase::LLVMIR) {
    auto ir = mlir::qnext::translateToLLVMIR(*module, targetOptions);
    if (!ir)
      return fail(toString(ir.takeError()));
    if (Error e = writeToOutput(output, [&](raw_ostream &os) {
          os << *ir;
          return Error::success();
        }))
      return fail(output + ": " + toString(std::move(e)));
    return 0;
  }
  if (compileTo == Phase::Artifact) {
    auto plan = qnext::readWeightPlan(*module);
    if (!plan)
      return fail(toString(plan.takeError()));
    mlir::qnext::CPUTargetInfo info;
    auto code = mlir::qnext::emitSharedObject(*module, targetOptions, &info);
    if (!code)
      return fail(toString(code.takeError()));
    qnext::ManifestInputs inputs;
    inputs.config = &*config;
    inputs.states = states;
    inputs.triple = info.triple;
    inputs.cpu = info.cpu;
    inputs.features = info.features;
    inputs.libraries = info.libraries;
    inputs.pipeline = pipelineText;
    if (cuda) {
      inputs.kind = "cuda";
      inputs.gpuArch = gpuArch;
    }
    inputs.plan = &*plan;
    std::string manifest = qnext::buildManifest(inputs);
    qnext::ProgressLine progress("qnext-compile: packing weights");
    if (Error e = qnext::writeArtifact(output, manifest, *code, *plan,
                                       *checkpoint, textFiles, progress))
      return fail(output + ": " + toString(std::move(e)));
    return 0;
  }

  // Written to a temporary file and renamed into place: a failed run never
  // leaves a partial or truncated output.
  if (Error e = writeToOutput(output, [&](raw_ostream &os) {
        module->print(os);
        return Error::success();
      }))
    return fail(output + ": " + toString(std::move(e)));
  return 0;
}
