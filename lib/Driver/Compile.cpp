//===- Compile.cpp - the compiler driver: checks, then the phases ---------===//
//
// compile() (include/qnext/Driver/Compile.h): the options checked (each
// mistake one error line, before the long part where it can be), the model
// loaded (LoadModel.cpp), the fusions chosen, then the pipeline's phases run
// up to --compile-to, each dumped with --dump-phases-to, and the result
// written (Outputs.cpp).
//
//===----------------------------------------------------------------------===//

#include "CompileSteps.h"

#include "qnext/InitAll.h"
#include "qnext/Messages.h"
#include "qnext/Target/CPUObject.h"
#include "qnext/Target/CPUPipeline.h"
#include "qnext/Target/CPUVariants.h"
#include "qnext/Target/CUDAPipeline.h"
#include "qnext/Target/FusionReport.h"
#include "qnext/Target/Fusions.h"

#include "mlir/IR/MLIRContext.h"
#include "mlir/Pass/PassManager.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cstdlib>
#include <functional>

using namespace llvm;
using namespace qnext;
using namespace qnext::driver;

static bool statusShown = false;

void qnext::driver::showStatus(const CompileOptions &options, const Twine &what) {
  if (options.quiet || !sys::Process::StandardErrIsDisplayed())
    return;
  errs() << "\r\033[K" << options.toolName << ": " << what << "...";
  errs().flush();
  statusShown = true;
}

void qnext::driver::clearStatus() {
  if (statusShown)
    errs() << "\r\033[K";
  statusShown = false;
}

mlir::LogicalResult qnext::driver::reportError(const CompileOptions &options,
                                               const Twine &message) {
  clearStatus();
  // One line, however much of a hostile file a message quotes.
  std::string line = message.str();
  if (line.size() > kMaxLine)
    line = excerpt(line, kMaxLine);
  WithColor::error(errs(), options.toolName) << line << "\n";
  return mlir::failure();
}

const char *qnext::driver::phaseName(CompilePhase phase) {
  switch (phase) {
  case CompilePhase::QNext: return "qnext";
  case CompilePhase::Primitive: return "primitive";
  case CompilePhase::Fused: return "fused";
  case CompilePhase::Linalg: return "linalg";
  case CompilePhase::Kernels: return "kernels";
  case CompilePhase::GPU: return "gpu";
  case CompilePhase::LLVMDialect: return "llvm-dialect";
  case CompilePhase::PTX: return "ptx";
  case CompilePhase::LLVMIR: return "llvm-ir";
  case CompilePhase::Object: return "object";
  case CompilePhase::Artifact: return "artifact";
  }
  return "?";
}

namespace {
/// The fusions chosen by --fusion, --fuse and --no-fuse, in table order.
Expected<std::vector<std::string>> chosenFusions(const CompileOptions &options) {
  const std::vector<std::string> &fuse = options.fuse;
  const std::vector<std::string> &noFuse = options.noFuse;
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
  const bool cuda = options.target == CompileTarget::CUDA;
  for (const std::string &name : fuse)
    if (cuda && !mlir::qnext::findFusion(name)->onGPU)
      return createStringError("--fuse=" + name + ": not for --target=cuda (" +
                               mlir::qnext::findFusion(name)->summary +
                               " keeps host control flow over device results)");
  std::vector<std::string> chosen;
  for (const mlir::qnext::Fusion &f : mlir::qnext::allFusions()) {
    bool on = options.fusion == FusionLevel::All ||
              (options.fusion == FusionLevel::Default && f.byDefault) ||
              llvm::is_contained(fuse, f.name.str());
    if (on && !llvm::is_contained(noFuse, f.name.str()) && (f.onGPU || !cuda))
      chosen.push_back(f.name.str());
  }
  return chosen;
}
/// With --activations=int8, the quantized weights whose kernels keep f32
/// inputs: a row not whole loads of 4 vectors of bytes (int4: 8 vectors of
/// columns), or a group that is not (one warning line, not a silent
/// fallback).
void warnInt8Declined(const CompileOptions &options, mlir::ModuleOp module,
                      int64_t vectorWidth) {
  int64_t declined = 0, total = 0;
  std::string example;
  module.walk([&](mlir::qnext::DequantizeOp dq) {
    if (!mlir::getElementTypeOrSelf(dq.getValues().getType()).isSignlessInteger(8))
      return;
    ++total;
    int64_t step = (dq.getInt4() ? 8 : 4) * vectorWidth;
    int64_t cols = mlir::cast<mlir::RankedTensorType>(dq.getType()).getShape().back();
    if (cols % step == 0 && int64_t(dq.getGroup()) % step == 0)
      return;
    if (declined++ == 0)
      example = std::to_string(cols) + " columns, groups of " +
                std::to_string(dq.getGroup()) + ", steps of " + std::to_string(step);
  });
  if (declined)
    WithColor::warning(errs(), options.toolName)
        << ("--activations=int8: " + std::to_string(declined) + " of " +
                               std::to_string(total) +
                               " quantized weights keep f32 inputs in their kernels "
                               "(rows and groups must be whole steps of the byte dot; "
                               "first: " + example + ")")
        << "\n";
}

/// With --activations=bf16: the projections' matrices (rank 2, or 3 for
/// stacked experts; not the conv's, nor the embedding's unless lm_head is
/// tied to it) that are bf16, and those of them whose kernels keep f32
/// inputs (rows not whole steps of 2 x vectorWidth columns), in one warning
/// line: a count by tensor names, not by kernels (a fused pair of a bf16
/// and another weight counts as bf16). None bf16 is an error: the mode
/// would change nothing.
mlir::LogicalResult checkBF16Weights(const CompileOptions &options,
                                     mlir::ModuleOp module, int64_t vectorWidth) {
  int64_t bf16 = 0, declined = 0, other = 0;
  std::string example, otherType;
  bool tied = true;
  module.walk([&](mlir::qnext::ParamOp param) {
    if (param.getName().ends_with("lm_head.weight"))
      tied = false;
  });
  module.walk([&](mlir::qnext::ParamOp param) {
    auto type = mlir::cast<mlir::RankedTensorType>(param.getType());
    StringRef name = param.getName();
    if (type.getRank() < 2 || param.getBlockRows() || name.contains("conv1d") ||
        (name.contains("embed_tokens") && !tied))
      return;
    if (!type.getElementType().isBF16()) {
      if (other++ == 0) {
        llvm::raw_string_ostream os(otherType);
        os << name << " is " << type.getElementType();
      }
      return;
    }
    ++bf16;
    int64_t cols = type.getShape().back();
    if (cols % (2 * vectorWidth) == 0)
      return;
    if (declined++ == 0)
      example = name.str() + ", " + std::to_string(cols) + " columns";
  });
  if (bf16 == 0)
    return reportError(options, "--activations=bf16 multiplies bf16 weights: this "
                                "checkpoint's projections are not bf16 (" +
                                    otherType + ")");
  if (declined || other)
    WithColor::warning(errs(), options.toolName)
        << "--activations=bf16: " << (declined + other) << " of " << (bf16 + other)
        << " projection weights keep f32 inputs in their kernels ("
        << (declined ? "rows must be whole steps of " +
                           std::to_string(2 * vectorWidth) + " columns; first: " +
                           example
                     : std::string())
        << (declined && other ? "; " : "")
        << (other ? std::to_string(other) + " not bf16, first: " + otherType
                  : std::string())
        << ")\n";
  return mlir::success();
}

/// The CPU pipeline's options for one CPU of --cpu: its vector width, and
/// --activations and --amx as its instructions allow. A CPU without the
/// instructions --activations multiplies with is an error when it is the
/// only one; in a list (a fat artifact) its code keeps f32 activations, and a
/// note says so.
mlir::FailureOr<mlir::qnext::CPUPipelineOptions>
configureCPU(const CompileOptions &options, mlir::ModuleOp module,
             const mlir::qnext::CPUVariant &variant, bool several) {
  const mlir::qnext::CPUTargetOptions &target = variant.target;
  mlir::qnext::CPUPipelineOptions pipeline;
  pipeline.vectorWidth = mlir::qnext::preferredVectorWidth(target);
  pipeline.activations = options.activations;
  pipeline.bf16Terms = options.bf16Terms;
  const std::string bits = std::to_string(pipeline.vectorWidth * 32);
  auto lacking = [&](const Twine &why) -> mlir::LogicalResult {
    if (!several)
      return reportError(options, why + "; keep --activations=f32");
    if (!options.quiet)
      WithColor::note(errs(), options.toolName)
          << why << "; its code keeps f32 activations\n";
    pipeline.activations = "f32";
    return mlir::success();
  };
  const std::string cpu = "the target CPU '" + variant.name + "'";
  if (options.activations == "int8") {
    const mlir::qnext::ByteDot dot = mlir::qnext::byteDotOf(target, pipeline.vectorWidth);
    if (dot == mlir::qnext::ByteDot::None) {
      if (mlir::failed(lacking("--activations=int8: " + cpu + " multiplies no bytes in " +
                               bits + "-bit vectors (vpdpbusd or vpmaddubsw: AVX2 at "
                               "least, AVX512-BW for AVX-512 code)")))
        return mlir::failure();
    } else {
      pipeline.vnni = dot == mlir::qnext::ByteDot::VNNI;
      warnInt8Declined(options, module, pipeline.vectorWidth);
    }
  }
  if (options.activations == "bf16") {
    if (!mlir::qnext::hasBF16Dot(target, pipeline.vectorWidth)) {
      if (mlir::failed(lacking("--activations=bf16: " + cpu + " has no vdpbf16ps for its " +
                               bits + "-bit vectors (AVX512-BF16)")))
        return mlir::failure();
    } else if (mlir::failed(checkBF16Weights(options, module, pipeline.vectorWidth))) {
      return mlir::failure();
    }
  }
  if (pipeline.activations == "bf16" && options.amx != "off") {
    bool has = pipeline.vectorWidth == 16 && mlir::qnext::hasAMXBF16(target);
    if (options.amx == "on" && !has && !several)
      return reportError(options, "--amx=on: " + cpu +
                                      " has no AMX-BF16 tiles (tdpbf16ps); use "
                                      "--amx=auto or off");
    pipeline.amx = has;
  }
  pipeline.threads = options.parallel;
  pipeline.outlineLayers = options.outlineLayers;
  pipeline.ompSchedule = options.ompSchedule;
  pipeline.profileKernels = options.profileKernels;
  return pipeline;
}
} // namespace

mlir::LogicalResult qnext::compile(const CompileOptions &options) {
  auto fail = [&](const Twine &message) { return reportError(options, message); };
  const CompilePhase compileTo = options.compileTo;
  const std::string &output = options.output;
  const std::string &gpuArch = options.gpuArch;
  const std::string &dumpPhasesTo = options.dumpPhasesTo;
  const std::string &ompSchedule = options.ompSchedule;
  const std::string cpu = options.cpu.value_or("host");
  const bool cuda = options.target == CompileTarget::CUDA;

  // The options among themselves.
  if (!cuda && (compileTo == CompilePhase::GPU || compileTo == CompilePhase::PTX))
    return fail("--compile-to=gpu and --compile-to=ptx need --target=cuda");
  if (cuda && (!StringRef(gpuArch).starts_with("sm_") ||
               StringRef(gpuArch).drop_front(3).take_while(llvm::isDigit).empty()))
    return fail("--gpu-arch " + gpuArch + ": expected sm_<number>, e.g. sm_90a");
  if (options.emulateGPU && !cuda)
    return fail("--emulate-gpu emulates --target=cuda's kernels: give "
                "--target=cuda");
  if (options.profileKernels && cuda)
    return fail("--profile-kernels instruments the CPU target's kernels: "
                "not with --target=cuda");
  if (options.emulateGPU && compileTo == CompilePhase::PTX)
    return fail("--emulate-gpu makes no PTX: the kernels run on the host");
  if (options.activations != "f32" && options.activations != "int8" &&
      options.activations != "bf16")
    return fail("--activations=" + options.activations +
                ": expected f32, int8 or bf16");
  if (options.activations == "bf16") {
    auto format = parseWeightFormat(options.weights, options.lmHead);
    if (!format)
      return fail(toString(format.takeError()));
    if (format->quantizes())
      return fail("--activations=bf16 multiplies bf16 weights as stored: not "
                  "with --weights=" + options.weights +
                  " (--activations=int8 is its mode)");
    if (cuda)
      return fail("--activations=bf16 is for --target=cpu (vdpbf16ps)");
  }
  if (options.activations == "int8") {
    auto format = parseWeightFormat(options.weights, options.lmHead);
    if (!format)
      return fail(toString(format.takeError()));
    if (!format->quantizes())
      return fail("--activations=int8 multiplies int8 or int4 weights by "
                  "quantized inputs: give --weights=int8 or --weights=int4");
    if (cuda)
      return fail("--activations=int8 is for --target=cpu (vpdpbusd, vpmaddubsw)");
  }

  const auto started = std::chrono::steady_clock::now();
  if (!options.exportDequantized.empty())
    return exportDequantized(options);
  // The model: its inputs checked, its IR built.
  showStatus(options, "reading " + options.input);
  mlir::DialectRegistry registry;
  mlir::qnext::registerAllDialects(registry);
  mlir::MLIRContext context(registry);
  mlir::FailureOr<LoadedModel> loaded = loadModel(context, options);
  if (mlir::failed(loaded))
    return mlir::failure();
  LoadedModel &model = *loaded;
  mlir::ModuleOp module = *model.module;

  // The options against the model, the machine and the output.
  if (compileTo == CompilePhase::Artifact) {
    if (!model.checkpoint)
      return fail("an artifact needs weights: give a checkpoint folder, not a "
                  "config.json (or stop earlier with --compile-to)");
    if (output == "-")
      return fail("an artifact is binary: name the file with -o model.qnx");
  }
  std::string toolkit = options.cudaToolkit;
  if (toolkit.empty()) {
    const char *home = std::getenv("CUDA_HOME");
    toolkit = home && *home ? home : "/usr/local/cuda";
  }
  if (cuda && !options.emulateGPU && compileTo >= CompilePhase::LLVMDialect &&
      !sys::fs::exists(toolkit + "/bin/ptxas"))
    return fail("--cuda-toolkit " + toolkit + ": no bin/ptxas (the CUDA "
                "toolkit compiles the kernels)");
  if (!llvm::is_contained({"static", "dynamic", "guided", "runtime"},
                          StringRef(ompSchedule)))
    return fail("--omp-schedule=" + ompSchedule +
                ": no such schedule (static, dynamic, guided, runtime)");
  auto variants = mlir::qnext::parseCPUVariants(cpu);
  if (!variants)
    return fail(toString(variants.takeError()));
  if (variants->size() > 1) {
    // A fat artifact: code for each CPU, the weights shared.
    const std::string list = "--cpu=" + cpu + " lists " +
                             std::to_string(variants->size()) + " CPUs";
    if (cuda)
      return fail(list + ": --target=cuda compiles its host code for one");
    if (compileTo != CompilePhase::Artifact)
      return fail(list + ", for an artifact with code for each: --compile-to=" +
                  phaseName(compileTo) + " takes one");
    if (!dumpPhasesTo.empty())
      return fail(list + ": --dump-phases-to dumps the phases of one");
  }
  OutputKind outputKind = OutputKind::Replace;
  {
    std::string why;
    if (!checkOutputPath(output, {options.input}, outputKind, why))
      return fail(why);
    if (outputKind == OutputKind::InPlace && compileTo == CompilePhase::Artifact)
      return fail(output + ": not a regular file; an artifact is written whole "
                  "to a temporary file and renamed into place, which would "
                  "replace it (stop earlier with --compile-to to check a "
                  "model compiles)");
  }
  auto fusions = chosenFusions(options);
  if (!fusions)
    return fail(toString(fusions.takeError()));
  std::vector<std::string> fusionPasses = *fusions;
  if (options.fusionTestMisslice >= 0)
    for (std::string &f : fusionPasses)
      if (f == "projections")
        f += "{test-misslice-site=" + std::to_string(options.fusionTestMisslice) + "}";
  if (cuda && options.taps)
    return fail("--taps is for --target=cpu (qnext-run --bisect-against "
                "runs on the CPU)");
  if (cuda && compileTo == CompilePhase::Kernels)
    return fail("--compile-to=kernels is a --target=cpu phase (CUDA: "
                "--compile-to=gpu)");
  // The dump folder, made as any new folder is (the umask decides).
  if (!dumpPhasesTo.empty()) {
    if (sys::fs::exists(dumpPhasesTo) && !sys::fs::is_directory(dumpPhasesTo))
      return fail("--dump-phases-to " + dumpPhasesTo + ": is a file, not a folder");
    if (std::error_code ec =
            sys::fs::create_directories(dumpPhasesTo, /*IgnoreExisting=*/true,
                                        sys::fs::all_all))
      return fail("--dump-phases-to " + dumpPhasesTo + ": " + ec.message());
  }
  OutputWriter writer(options, outputKind);
  if (Error e = writer.dump(CompilePhase::QNext,
                            [&](raw_ostream &os) { module.print(os); }))
    return fail(toString(std::move(e)));

  // The CPU pipeline's options, one set a CPU of --cpu.
  if (options.amx != "auto" && options.amx != "on" && options.amx != "off")
    return fail("--amx=" + options.amx + ": expected auto, on or off");
  if (options.amx == "on" && options.activations != "bf16")
    return fail("--amx=on multiplies bf16 tiles: it needs --activations=bf16");
  if (options.bf16Terms != 1 && options.bf16Terms != 2)
    return fail("--bf16-terms=" + std::to_string(options.bf16Terms) + ": expected 1 or 2");
  std::vector<CodeVariant> codes;
  for (const mlir::qnext::CPUVariant &variant : *variants) {
    auto pipeline = configureCPU(options, module, variant, variants->size() > 1);
    if (mlir::failed(pipeline))
      return mlir::failure();
    CodeVariant &code = codes.emplace_back();
    if (variants->size() > 1)
      code.name = variant.name;
    code.target = variant.target;
    code.pipeline = *pipeline;
    code.pipeline.fusions = fusionPasses;
  }
  if (options.amx == "on" &&
      llvm::none_of(codes, [](const CodeVariant &c) { return c.pipeline.amx; }))
    return fail("--amx=on: none of the CPUs of --cpu=" + cpu +
                " has AMX-BF16 tiles (tdpbf16ps); use --amx=auto or off");
  mlir::qnext::CUDAPipelineOptions cudaPipeline;
  cudaPipeline.chip = gpuArch;
  cudaPipeline.toolkit = toolkit;
  cudaPipeline.format = compileTo == CompilePhase::PTX ? "isa" : "fatbin";
  cudaPipeline.fusions = fusionPasses;
  cudaPipeline.emulate = options.emulateGPU;

  if (options.fusionReport) {
    auto report = mlir::qnext::fusionReport(module, codes.front().pipeline);
    if (!report)
      return fail(toString(report.takeError()));
    errs() << *report;
  }

  // The pipeline's phases, each appending its passes to a pass manager; a
  // builder's complaint is one error line.
  auto pipelineError = [&](const Twine &message) { return fail(message); };
  using Build = std::function<mlir::LogicalResult(mlir::OpPassManager &)>;
  std::vector<std::pair<CompilePhase, Build>> phases;
  const mlir::qnext::CPUPipelineOptions *current = &codes.front().pipeline;
  if (cuda) {
    using mlir::qnext::CUDAPhase;
    for (auto [phase, stage] :
         {std::pair{CompilePhase::Primitive, CUDAPhase::Primitive},
          {CompilePhase::Fused, CUDAPhase::Fused},
          {CompilePhase::Linalg, CUDAPhase::Linalg},
          {CompilePhase::GPU, CUDAPhase::GPU},
          {CompilePhase::LLVMDialect, CUDAPhase::LLVMDialect}})
      phases.push_back({phase, [&, stage = stage](mlir::OpPassManager &pm) {
                          return mlir::qnext::buildCUDAPipeline(
                              pm, stage, cudaPipeline, stage, pipelineError);
                        }});
  } else {
    // The phases from kernels on are each variant's own: they read the
    // options of the one being compiled.
    using mlir::qnext::CPUPhase;
    for (auto [phase, stage] :
         {std::pair{CompilePhase::Primitive, CPUPhase::Primitive},
          {CompilePhase::Fused, CPUPhase::Fused},
          {CompilePhase::Linalg, CPUPhase::Linalg},
          {CompilePhase::Kernels, CPUPhase::Kernels},
          {CompilePhase::LLVMDialect, CPUPhase::LLVMDialect}})
      phases.push_back({phase, [&, stage = stage](mlir::OpPassManager &pm) {
                          return mlir::qnext::buildCPUPipeline(
                              pm, stage, *current, stage, pipelineError);
                        }});
  }
  // Without dumps, one pass manager runs every phase up to --compile-to
  // (one --mlir-timing report); with them, one per phase. The manifest
  // records the passes that ran.
  auto newPassManager = [&]() -> std::unique_ptr<mlir::PassManager> {
    auto pm = std::make_unique<mlir::PassManager>(&context);
    if (options.configurePassManager &&
        mlir::failed(options.configurePassManager(*pm)))
      return nullptr;
    return pm;
  };
  // Runs phases [begin, end) on `target`, appending them to `pipelineText`.
  auto runPhases = [&](mlir::ModuleOp target, size_t begin, size_t end,
                       const std::string &variant,
                       std::string &pipelineText) -> mlir::LogicalResult {
    raw_string_ostream pipelineOS(pipelineText);
    std::unique_ptr<mlir::PassManager> pm;
    for (size_t i = begin; i < end; ++i) {
      auto [phase, build] = phases[i];
      showStatus(options, Twine("lowering to ") + phaseName(phase) +
                              (variant.empty() ? "" : " for " + variant));
      if (!pm && !(pm = newPassManager()))
        return fail("bad pass-manager options");
      if (mlir::failed(build(*pm)))
        return mlir::failure(); // the builder said why (an unknown fusion, its options)
      if (dumpPhasesTo.empty() && i + 1 != end)
        continue;
      if (!pipelineText.empty())
        pipelineOS << ",";
      pm->printAsTextualPipeline(pipelineOS);
      if (mlir::failed(pm->run(target)))
        return fail(std::string("the ") + (cuda ? "CUDA" : "CPU") +
                    " pipeline failed (above)");
      pm.reset();
      if (Error e = writer.dump(phase, [&](raw_ostream &os) { target.print(os); }))
        return fail(toString(std::move(e)));
    }
    return mlir::success();
  };
  size_t end = 0;
  while (end < phases.size() && phases[end].first <= compileTo)
    ++end;
  // A fat artifact: the phases before the kernels (which know no CPU) run
  // once; each variant lowers a copy of their result.
  size_t shared = end;
  if (codes.size() > 1)
    while (shared > 0 && phases[shared - 1].first >= CompilePhase::Kernels)
      --shared;
  std::string sharedPipeline;
  if (mlir::failed(runPhases(module, 0, shared, "", sharedPipeline)))
    return mlir::failure();
  for (CodeVariant &code : codes) {
    code.pipelineText = sharedPipeline;
    code.module = module;
    if (shared == end)
      continue;
    code.copy = module.clone();
    code.module = *code.copy;
    current = &code.pipeline;
    if (mlir::failed(runPhases(code.module, shared, end, code.name, code.pipelineText)))
      return mlir::failure();
  }
  if (mlir::failed(writeOutputs(options, model, writer, codes, *fusions)))
    return mlir::failure();
  clearStatus();

  // One line on success: what was written, how big, for what, how long.
  if (options.quiet || output == "-")
    return mlir::success();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  uint64_t bytes = 0;
  (void)sys::fs::file_size(output, bytes);
  auto size = [](uint64_t b) {
    return b >= (uint64_t(1) << 30) ? formatv("{0:f1} GB", b / 1e9).str()
           : b >= (uint64_t(1) << 20) ? formatv("{0:f1} MB", b / 1e6).str()
                                      : formatv("{0:f1} kB", b / 1e3).str();
  };
  raw_ostream &os = errs();
  os << options.toolName << ": wrote " << output;
  if (compileTo == CompilePhase::Artifact)
    os << ": " << size(bytes) << ", " << model.config.numLayers << " layers, code for "
       << model.codeFor;
  else
    os << " (" << phaseName(compileTo) << ", " << size(bytes) << ")";
  os << formatv(" in {0:f1} s", seconds);
  if (!model.codeNote.empty())
    os << " (" << model.codeNote << ")";
  os << "\n";
  return mlir::success();
}
