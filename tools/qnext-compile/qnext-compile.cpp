//===- qnext-compile.cpp - Hugging Face checkpoint -> qnext ---------------===//
//
// Reads a checkpoint folder exactly as it ships (config.json + safetensors,
// sharded or not) or a bare config.json, validates it, and builds the model's
// IR without reading weight data, then lowers it for the CPU or a GPU.
// Phases, in order (--compile-to stops after one and prints it;
// --dump-phases-to writes each one it passes):
//   qnext         layer ops (the model as a user reads it)
//   primitive     after qnext-decompose-layers
//   fused         after the chosen fusion passes (--fusion, --fuse, --no-fuse)
//   linalg        after qnext-lower-to-linalg (upstream dialects, tensors)
//   kernels       CPU: projections and heads as parallel vector kernels
//   gpu           CUDA: kernels outlined, host launches
//   llvm-dialect  the whole pipeline: the LLVM dialect
//   ptx           CUDA: the kernels' PTX
//   llvm-ir       translated and optimized for the host CPU
//   object        the code section: a shared object
//   artifact      the .qnx model artifact (default)
// MLIR's pass-manager flags (--mlir-print-ir-after-all, --mlir-timing,
// --mlir-pass-pipeline-crash-reproducer, ...) apply to the passes it runs.
//
//===----------------------------------------------------------------------===//

#include "qnext/Artifact/ArtifactWriter.h"
#include "qnext/FileChecks.h"
#include "qnext/InitAll.h"
#include "qnext/Model/ModelBuilder.h"
#include "qnext/Model/SafeTensors.h"
#include "qnext/Model/WeightPacker.h"
#include "qnext/Support/ProgressLine.h"
#include "qnext/Target/CPUObject.h"
#include "qnext/Target/CPUPipeline.h"
#include "qnext/Target/CUDAPipeline.h"
#include "qnext/Target/FusionReport.h"
#include "qnext/Target/Fusions.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
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

enum class Phase {
  QNext, Primitive, Fused, Linalg, Kernels, GPU, LLVMDialect, PTX, LLVMIR,
  Object, Artifact
};
cl::opt<Phase> compileTo(
    "compile-to", cl::desc("Stop after this phase and print its IR"),
    cl::values(clEnumValN(Phase::QNext, "qnext", "the model as qnext layer ops"),
               clEnumValN(Phase::Primitive, "primitive",
                          "after qnext-decompose-layers: primitive ops"),
               clEnumValN(Phase::Fused, "fused",
                          "after the chosen fusion passes (--fusion)"),
               clEnumValN(Phase::Linalg, "linalg",
                          "after qnext-lower-to-linalg: linalg, tensor, scf, "
                          "arith, math (weights still qnext.param)"),
               clEnumValN(Phase::Kernels, "kernels",
                          "--target=cpu: projections and heads as parallel "
                          "vector kernels, still on tensors"),
               clEnumValN(Phase::GPU, "gpu",
                          "--target=cuda: kernels outlined into one "
                          "gpu.module, the host launching them"),
               clEnumValN(Phase::LLVMDialect, "llvm-dialect",
                          "the whole pipeline: the LLVM dialect (CUDA: the "
                          "kernels in a gpu.binary)"),
               clEnumValN(Phase::PTX, "ptx", "--target=cuda: the kernels' PTX"),
               clEnumValN(Phase::LLVMIR, "llvm-ir",
                          "LLVM IR, optimized (O2) for the target CPU"),
               clEnumValN(Phase::Object, "object",
                          "the code section: an x86-64 shared object"),
               clEnumValN(Phase::Artifact, "artifact",
                          "the .qnx model artifact (default; needs weights)")),
    cl::init(Phase::Artifact), cl::cat(category));

cl::opt<std::string> dumpPhasesTo(
    "dump-phases-to",
    cl::desc("Write the IR after each phase it passes to DIR, one numbered "
             "file per phase (00-qnext.mlir, 01-primitive.mlir, ...)"),
    cl::value_desc("DIR"), cl::cat(category));

enum class FusionLevel { None, Default, All };
cl::opt<FusionLevel> fusionLevel(
    "fusion", cl::desc("Which fusion passes run (then --fuse / --no-fuse)"),
    cl::values(clEnumValN(FusionLevel::None, "none", "no fusion"),
               clEnumValN(FusionLevel::Default, "default",
                          "the fusions on by default (default)"),
               clEnumValN(FusionLevel::All, "all", "every fusion")),
    cl::init(FusionLevel::Default), cl::cat(category));
cl::list<std::string> fuse("fuse", cl::CommaSeparated,
                           cl::desc("Also run these fusions"),
                           cl::value_desc("name,..."), cl::cat(category));
cl::list<std::string> noFuse("no-fuse", cl::CommaSeparated,
                             cl::desc("Do not run these fusions"),
                             cl::value_desc("name,..."), cl::cat(category));
cl::opt<bool> fusionReport(
    "fusion-report",
    cl::desc("Print, per entry point, the kernels and activation bytes per "
             "token without fusion and with the chosen fusions (stderr)"),
    cl::cat(category));
cl::opt<int64_t> fusionTestMisslice(
    "fusion-test-misslice", cl::Hidden, cl::init(-1),
    cl::desc("Test only: qnext-fuse-projections breaks its Nth fused group "
             "of each function (qnext-run --bisect-against's test)"),
    cl::cat(category));
cl::opt<bool> outlineLayers(
    "outline-layers",
    cl::desc("--target=cpu: compile each distinct layer once, as a function "
             "its layers call (default; =false: every layer inline in its "
             "entry point)"),
    cl::init(true), cl::cat(category));
cl::opt<std::string> ompSchedule(
    "omp-schedule",
    cl::desc("--target=cpu: how the threads share a kernel's row blocks "
             "(OpenMP schedule): guided (default: shrinking chunks to "
             "whichever thread is free), static (one contiguous range each), "
             "dynamic (one block at a time), runtime (OMP_SCHEDULE decides)"),
    cl::init("guided"), cl::cat(category));
cl::opt<bool> taps("taps",
                   cl::desc("Also export a 'taps' entry point: prefill that "
                            "returns every layer's hidden states, for "
                            "qnext-run --bisect-against"),
                   cl::cat(category));

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
cl::opt<bool> emulateGPU(
    "emulate-gpu",
    cl::desc("--target=cuda, for testing without a GPU: the GPU kernels as "
             "loops on the host, one thread after another; the artifact runs "
             "on the CPU (slowly) and checks the GPU mapping against the "
             "golden logits. No PTX"),
    cl::cat(category));
cl::opt<std::string> cpu("cpu",
                         cl::desc("CPU to compile for: 'host' (default; this "
                                  "machine's CPU and the features it reports) or "
                                  "an LLVM CPU name, e.g. x86-64-v3 (AVX2), "
                                  "x86-64-v4 (AVX-512), znver4. The artifact "
                                  "records the instruction sets its code may use "
                                  "and refuses to run on a CPU without them"),
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

/// The fusions chosen by --fusion, --fuse and --no-fuse, in table order.
Expected<std::vector<std::string>> chosenFusions() {
  for (const std::string &name : fuse)
    if (!mlir::qnext::findFusion(name))
      return createStringError("--fuse=" + name + ": no such fusion (" +
                               mlir::qnext::fusionNames() + ")");
  for (const std::string &name : noFuse)
    if (!mlir::qnext::findFusion(name))
      return createStringError("--no-fuse=" + name + ": no such fusion (" +
                               mlir::qnext::fusionNames() + ")");
  // --target=cuda: --fusion=all means every fusion the GPU target can run;
  // asking for another by name is an error.
  const bool cuda = target == Target::CUDA;
  for (const std::string &name : fuse)
    if (cuda && !mlir::qnext::findFusion(name)->onGPU)
      return createStringError("--fuse=" + name + ": not for --target=cuda (" +
                               mlir::qnext::findFusion(name)->summary +
                               " keeps host control flow over device results)");
  std::vector<std::string> chosen;
  for (const mlir::qnext::Fusion &f : mlir::qnext::allFusions()) {
    bool on = fusionLevel == FusionLevel::All ||
              (fusionLevel == FusionLevel::Default && f.byDefault) ||
              llvm::is_contained(fuse, f.name.str());
    if (on && !llvm::is_contained(noFuse, f.name.str()) && (f.onGPU || !cuda))
      chosen.push_back(f.name.str());
  }
  return chosen;
}

const char *phaseName(Phase phase) {
  switch (phase) {
  case Phase::QNext: return "qnext";
  case Phase::Primitive: return "primitive";
  case Phase::Fused: return "fused";
  case Phase::Linalg: return "linalg";
  case Phase::Kernels: return "kernels";
  case Phase::GPU: return "gpu";
  case Phase::LLVMDialect: return "llvm-dialect";
  case Phase::PTX: return "ptx";
  case Phase::LLVMIR: return "llvm-ir";
  case Phase::Object: return "object";
  case Phase::Artifact: return "artifact";
  }
  return "?";
}

/// How -o is written (checkOutputPath, decided before the work).
qnext::OutputKind outputKind = qnext::OutputKind::Replace;

/// Writes `path` whole through a temporary file renamed into place (a failed
/// run never leaves a partial or truncated output), "-" to stdout; -o naming
/// a character device (/dev/null) is written in place, never replaced.
Error writeText(StringRef path, function_ref<void(raw_ostream &)> print) {
  if (path == output && outputKind == qnext::OutputKind::InPlace) {
    std::string text, error;
    raw_string_ostream os(text);
    print(os);
    if (!qnext::writeInPlace(path.str(), text, error))
      return createStringError(error);
    return Error::success();
  }
  if (Error e = writeToOutput(path, [&](raw_ostream &os) {
        print(os);
        return Error::success();
      }))
    return createStringError(path + ": " + toString(std::move(e)));
  return Error::success();
}
} // namespace

int main(int argc, char **argv) {
  InitLLVM init(argc, argv);
  // Passes first: --mlir-print-ir-after=<pass> and friends take pass names.
  mlir::qnext::registerAllPasses();
  mlir::registerAsmPrinterCLOptions();
  mlir::registerMLIRContextCLOptions();
  mlir::registerPassManagerCLOptions();
  // --help lists this tool's options and MLIR's --mlir-* flags; LLVM's
  // backend flags stay reachable through --help-hidden.
  for (auto &[name, option] : cl::getRegisteredOptions())
    if (!name.starts_with("mlir-") && name != "help" && name != "version" &&
        !llvm::is_contained(option->Categories, &category))
      option->setHiddenFlag(cl::Hidden);
  // The fusion flags name the passes there are (Fusions.h).
  static const std::string fuseHelp =
      "Also run these fusions (" + mlir::qnext::fusionNames() + ")";
  static const std::string noFuseHelp =
      "Do not run these fusions (" + mlir::qnext::fusionNames() + ")";
  fuse.setDescription(fuseHelp);
  noFuse.setDescription(noFuseHelp);
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
      "Fusion passes run after qnext-decompose-layers (--fusion, --fuse,\n"
      "--no-fuse; --fusion-report counts what they save); every phase can be\n"
      "printed (--compile-to) or dumped (--dump-phases-to).\n"
      "MLIR's --mlir-* flags apply to the passes it runs.\n");

  if (target != Target::CUDA && (compileTo == Phase::GPU || compileTo == Phase::PTX))
    return fail("--compile-to=gpu and --compile-to=ptx need --target=cuda");
  if (target == Target::CUDA &&
      (!StringRef(gpuArch).starts_with("sm_") ||
       StringRef(gpuArch).drop_front(3).take_while(llvm::isDigit).empty()))
    return fail("--gpu-arch " + gpuArch + ": expected sm_<number>, e.g. sm_90a");
  if (emulateGPU && target != Target::CUDA)
    return fail("--emulate-gpu emulates --target=cuda's kernels: give "
                "--target=cuda");
  if (emulateGPU && compileTo == Phase::PTX)
    return fail("--emulate-gpu makes no PTX: the kernels run on the host");

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
      qnext::buildModel(context, *config, layout, taps);
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
  if (cuda && !emulateGPU && compileTo >= Phase::LLVMDialect &&
      !sys::fs::exists(toolkit + "/bin/ptxas"))
    return fail("--cuda-toolkit " + toolkit + ": no bin/ptxas (the CUDA "
                "toolkit compiles the kernels)");
  if (!llvm::is_contained({"static", "dynamic", "guided", "runtime"},
                          StringRef(ompSchedule)))
    return fail("--omp-schedule=" + ompSchedule +
                ": no such schedule (static, dynamic, guided, runtime)");
  if (Error e = mlir::qnext::checkCPUName(cpu))
    return fail(toString(std::move(e)));
  {
    std::string why;
    if (!qnext::checkOutputPath(output, {input}, outputKind, why))
      return fail(why);
    if (outputKind == qnext::OutputKind::InPlace &&
        compileTo == Phase::Artifact)
      return fail(output + ": not a regular file; an artifact is written whole "
                  "to a temporary file and renamed into place, which would "
                  "replace it (stop earlier with --compile-to to check a "
                  "model compiles)");
  }
  auto fusions = chosenFusions();
  if (!fusions)
    return fail(toString(fusions.takeError()));
  std::vector<std::string> fusionPasses = *fusions;
  if (fusionTestMisslice >= 0)
    for (std::string &f : fusionPasses)
      if (f == "projections")
        f += "{test-misslice-site=" + std::to_string(fusionTestMisslice) + "}";
  if (cuda && taps)
    return fail("--taps is for --target=cpu (qnext-run --bisect-against "
                "runs on the CPU)");
  if (cuda && compileTo == Phase::Kernels)
    return fail("--compile-to=kernels is a --target=cpu phase (CUDA: "
                "--compile-to=gpu)");
  if (!dumpPhasesTo.empty())
    if (std::error_code ec = sys::fs::create_directories(dumpPhasesTo))
      return fail("--dump-phases-to " + dumpPhasesTo + ": " + ec.message());
  int dumped = 0;
  auto dump = [&](Phase phase, function_ref<void(raw_ostream &)> print,
                  StringRef extension = ".mlir") -> Error {
    if (dumpPhasesTo.empty())
      return Error::success();
    SmallString<256> path(dumpPhasesTo);
    sys::path::append(path, formatv("{0:2}-{1}{2}", dumped++, phaseName(phase),
                                    extension).str());
    std::replace(path.begin(), path.end(), ' ', '0');
    return writeText(path, print);
  };
  if (Error e = dump(Phase::QNext, [&](raw_ostream &os) { module->print(os); }))
    return fail(toString(std::move(e)));

  mlir::qnext::CPUTargetOptions cpuOptions;
  cpuOptions.cpu = cpu;
  mlir::qnext::CPUPipelineOptions cpuPipeline;
  cpuPipeline.vectorWidth = mlir::qnext::preferredVectorWidth(cpuOptions);
  cpuPipeline.threads = parallel;
  cpuPipeline.outlineLayers = outlineLayers;
  cpuPipeline.ompSchedule = ompSchedule;
  cpuPipeline.fusions = fusionPasses;
  mlir::qnext::CUDAPipelineOptions cudaPipeline;
  cudaPipeline.chip = gpuArch;
  cudaPipeline.toolkit = toolkit;
  cudaPipeline.format = compileTo == Phase::PTX ? "isa" : "fatbin";
  cudaPipeline.fusions = fusionPasses;
  cudaPipeline.emulate = emulateGPU;

  if (fusionReport) {
    auto report = mlir::qnext::fusionReport(*module, cpuPipeline);
    if (!report)
      return fail(toString(report.takeError()));
    errs() << *report;
  }

  // The pipeline's phases, each appending its passes to a pass manager; a
  // builder's complaint is one error line.
  auto pipelineError = [](const Twine &message) {
    fail(message);
    return mlir::failure();
  };
  // The pipeline's phases, each appending its passes to a pass manager.
  using Build = std::function<mlir::LogicalResult(mlir::OpPassManager &)>;
  std::vector<std::pair<Phase, Build>> phases;
  if (cuda) {
    using mlir::qnext::CUDAPhase;
    for (auto [phase, stage] :
         {std::pair{Phase::Primitive, CUDAPhase::Primitive},
          {Phase::Fused, CUDAPhase::Fused}, {Phase::Linalg, CUDAPhase::Linalg},
          {Phase::GPU, CUDAPhase::GPU},
          {Phase::LLVMDialect, CUDAPhase::LLVMDialect}})
      phases.push_back({phase, [&, stage = stage](mlir::OpPassManager &pm) {
                          return mlir::qnext::buildCUDAPipeline(
                              pm, stage, cudaPipeline, stage, pipelineError);
                        }});
  } else {
    using mlir::qnext::CPUPhase;
    for (auto [phase, stage] :
         {std::pair{Phase::Primitive, CPUPhase::Primitive},
          {Phase::Fused, CPUPhase::Fused}, {Phase::Linalg, CPUPhase::Linalg},
          {Phase::Kernels, CPUPhase::Kernels},
          {Phase::LLVMDialect, CPUPhase::LLVMDialect}})
      phases.push_back({phase, [&, stage = stage](mlir::OpPassManager &pm) {
                          return mlir::qnext::buildCPUPipeline(
                              pm, stage, cpuPipeline, stage, pipelineError);
                        }});
  }
  // Without dumps, one pass manager runs every phase up to --compile-to
  // (one --mlir-timing report); with them, one per phase.
  std::string pipelineText;
  llvm::raw_string_ostream pipelineOS(pipelineText);
  auto newPassManager = [&]() -> std::unique_ptr<mlir::PassManager> {
    auto pm = std::make_unique<mlir::PassManager>(&context);
    if (mlir::failed(mlir::applyPassManagerCLOptions(*pm)))
      return nullptr;
    return pm;
  };
  std::unique_ptr<mlir::PassManager> pm;
  for (size_t i = 0; i < phases.size() && phases[i].first <= compileTo; ++i) {
    auto [phase, build] = phases[i];
    if (!pm && !(pm = newPassManager()))
      return fail("bad pass-manager options");
    if (mlir::failed(build(*pm)))
      return 1; // the builder said why (an unknown fusion, its options)
    bool last = i + 1 == phases.size() || phases[i + 1].first > compileTo;
    if (dumpPhasesTo.empty() && !last)
      continue;
    if (!pipelineText.empty())
      pipelineOS << ",";
    pm->printAsTextualPipeline(pipelineOS);
    if (mlir::failed(pm->run(*module)))
      return fail(std::string("the ") + (cuda ? "CUDA" : "CPU") +
                  " pipeline failed (above)");
    pm.reset();
    if (Error e = dump(phase, [&](raw_ostream &os) { module->print(os); }))
      return fail(toString(std::move(e)));
  }
  if (compileTo == Phase::PTX) {
    auto ptx = mlir::qnext::kernelBinary(*module);
    if (!ptx)
      return fail(toString(ptx.takeError()));
    if (Error e = writeText(output, [&](raw_ostream &os) { os << *ptx; }))
      return fail(toString(std::move(e)));
    return 0;
  }

  mlir::qnext::CPUTargetOptions targetOptions;
  // CUDA: the host code only allocates and launches; a baseline x86-64 runs
  // on any machine the GPU sits in.
  targetOptions.cpu = cuda && !cpu.getNumOccurrences() ? "x86-64" : std::string(cpu);
  if (compileTo == Phase::LLVMIR || (compileTo > Phase::LLVMIR && !dumpPhasesTo.empty())) {
    auto ir = mlir::qnext::translateToLLVMIR(*module, targetOptions);
    if (!ir)
      return fail(toString(ir.takeError()));
    if (Error e = dump(Phase::LLVMIR, [&](raw_ostream &os) { os << *ir; }, ".ll"))
      return fail(toString(std::move(e)));
    if (compileTo == Phase::LLVMIR) {
      if (Error e = writeText(output, [&](raw_ostream &os) { os << *ir; }))
        return fail(toString(std::move(e)));
      return 0;
    }
  }
  if (compileTo == Phase::Object) {
    if (output == "-")
      return fail("a shared object is binary: name the file with -o code.so");
    auto code = mlir::qnext::emitSharedObject(*module, targetOptions);
    if (!code)
      return fail(toString(code.takeError()));
    if (Error e = writeText(output, [&](raw_ostream &os) {
          os.write(code->data(), code->size());
        }))
      return fail(toString(std::move(e)));
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
    inputs.fusions = *fusions;
    inputs.taps = taps;
    if (cuda && !emulateGPU) {
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

  if (Error e = writeText(output, [&](raw_ostream &os) { module->print(os); }))
    return fail(toString(std::move(e)));
  return 0;
}
