//===- Outputs.cpp - what compile() writes: -o, dumps, the artifact -------===//
//
// The text outputs (-o and the numbered phase dumps, each written whole
// through a temporary file, or in place into a character device), and the
// last step of compile(): the phase --compile-to names, from the module the
// pipeline left: its IR, the kernels' PTX, the LLVM IR, the shared object,
// or the .qnx artifact (manifest, code, packed weights, text files).
//
//===----------------------------------------------------------------------===//

#include "CompileSteps.h"

#include "qnext/Model/WeightPacker.h"
#include "qnext/Support/ProgressLine.h"
#include "qnext/Target/CPUObject.h"
#include "qnext/Target/CodeCache.h"
#include "qnext/Target/CUDAPipeline.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/ToolOutputFile.h"


using namespace llvm;
using namespace qnext;
using namespace qnext::driver;

Error OutputWriter::writeText(StringRef path,
                              function_ref<void(raw_ostream &)> print) {
  std::string text, error;
  raw_string_ostream os(text);
  print(os);
  if (path == "-") {
    outs() << text;
    outs().flush();
    if (outs().has_error()) {
      std::error_code ec = outs().error();
      outs().clear_error(); // or its destructor aborts the process
      return createStringError("<stdout>: " + ec.message());
    }
    return Error::success();
  }
  // A character device (/dev/null) is written in place, never replaced;
  // anything else through a temporary file renamed into place, so that a
  // write error (a full disk) leaves the previous output as it was.
  bool written = path == options.output && outputKind == OutputKind::InPlace
                     ? writeInPlace(path.str(), text, error)
                     : writeReplacing(path.str(), text, error);
  if (!written)
    return createStringError(error);
  return Error::success();
}

Error OutputWriter::dump(CompilePhase phase,
                         function_ref<void(raw_ostream &)> print,
                         StringRef extension) {
  if (options.dumpPhasesTo.empty())
    return Error::success();
  SmallString<256> path(options.dumpPhasesTo);
  // Only the file's name is formatted: the folder's may hold anything.
  sys::path::append(path, formatv("{0}{1}-{2}{3}", dumped < 10 ? "0" : "", dumped,
                                  phaseName(phase), extension).str());
  ++dumped;
  return writeText(path, print);
}

/// Success when two plans pack the same tensors at the same places.
static Error checkSamePlan(const WeightPlan &a, const WeightPlan &b) {
  if (a.size != b.size || a.tensors.size() != b.tensors.size())
    return createStringError(formatv("{0} tensors in {1} bytes, not {2} in {3}",
                                     b.tensors.size(), b.size, a.tensors.size(), a.size)
                                 .str());
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const PackedTensor &x = a.tensors[i], &y = b.tensors[i];
    if (x.name != y.name || x.transform != y.transform || x.dtype != y.dtype ||
        x.shape != y.shape || x.offset != y.offset || x.bytes != y.bytes ||
        x.blockRows != y.blockRows || x.quantScales != y.quantScales)
      return createStringError("tensor " + std::to_string(i) + " (" + x.name + ") differs");
  }
  return Error::success();
}

mlir::LogicalResult
qnext::driver::writeOutputs(const CompileOptions &options, LoadedModel &model,
                            OutputWriter &writer, ArrayRef<CodeVariant> codes,
                            const std::vector<std::string> &fusions) {
  auto fail = [&](const Twine &message) { return reportError(options, message); };
  const CompilePhase compileTo = options.compileTo;
  const std::string &output = options.output;
  // Every phase but the artifact has one CPU (compile() checked).
  mlir::ModuleOp module = codes.front().module;
  const bool cuda = options.target == CompileTarget::CUDA;
  if (compileTo == CompilePhase::PTX) {
    auto ptx = mlir::qnext::kernelBinary(module);
    if (!ptx)
      return fail(toString(ptx.takeError()));
    if (Error e = writer.writeText(output, [&](raw_ostream &os) { os << *ptx; }))
      return fail(toString(std::move(e)));
    return mlir::success();
  }

  mlir::qnext::CPUTargetOptions targetOptions = codes.front().target;
  // CUDA: the host code only allocates and launches; a baseline x86-64 runs
  // on any machine the GPU sits in.
  if (cuda && !options.cpu)
    targetOptions.cpu = "x86-64";
  targetOptions.hoistStaticAllocas = cuda && !options.emulateGPU;
  if (compileTo == CompilePhase::LLVMIR ||
      (compileTo > CompilePhase::LLVMIR && !options.dumpPhasesTo.empty())) {
    auto ir = mlir::qnext::translateToLLVMIR(module, targetOptions);
    if (!ir)
      return fail(toString(ir.takeError()));
    if (Error e = writer.dump(CompilePhase::LLVMIR,
                              [&](raw_ostream &os) { os << *ir; }, ".ll"))
      return fail(toString(std::move(e)));
    if (compileTo == CompilePhase::LLVMIR) {
      if (Error e = writer.writeText(output, [&](raw_ostream &os) { os << *ir; }))
        return fail(toString(std::move(e)));
      return mlir::success();
    }
  }
  if (compileTo == CompilePhase::Object) {
    if (output == "-")
      return fail("a shared object is binary: name the file with -o code.so");
    auto code = mlir::qnext::emitSharedObject(module, targetOptions);
    if (!code)
      return fail(toString(code.takeError()));
    if (Error e = writer.writeText(output, [&](raw_ostream &os) {
          os.write(code->data(), code->size());
        }))
      return fail(toString(std::move(e)));
    return mlir::success();
  }
  if (compileTo == CompilePhase::Artifact) {
    auto plan = readWeightPlan(module);
    if (!plan)
      return fail(toString(plan.takeError()));
    plan->fp8Block = model.config.fp8Block;
    ManifestInputs inputs;
    inputs.config = &model.config;
    inputs.states = model.states;
    inputs.fusions = fusions;
    inputs.taps = options.taps;
    inputs.decodeBatch = options.exportsDecodeBatch();
    inputs.prefillBatch = options.exportsPrefillBatch();
    inputs.mtp = model.mtp;
    if (cuda && !options.emulateGPU) {
      inputs.kind = "cuda";
      inputs.gpuArch = options.gpuArch;
    }
    inputs.plan = &*plan;
    // The code carries what it assumes of the runtime's buffers; the
    // runtime checks the manifest against it. Every variant reads the same
    // buffers, so one record serves them all.
    targetOptions.abiRecord = artifact::abiRecord(abiOf(inputs));
    std::vector<mlir::ModuleOp> modules;
    std::vector<mlir::qnext::CPUTargetOptions> targets;
    for (size_t i = 0; i < codes.size(); ++i) {
      const CodeVariant &variant = codes[i];
      if (i > 0) {
        // The weights are packed once: each variant must read them as the
        // first does (the plan knows no CPU; this holds it to that).
        auto other = readWeightPlan(variant.module);
        if (!other)
          return fail(toString(other.takeError()));
        if (Error e = checkSamePlan(*plan, *other))
          return fail("code for " + variant.name + " reads the weights in another layout than " +
                      codes.front().name + "'s: " + toString(std::move(e)));
      }
      mlir::qnext::CPUTargetOptions target = targetOptions;
      if (!variant.name.empty()) {
        target.cpu = variant.target.cpu;
        target.features = variant.target.features;
      }
      modules.push_back(variant.module);
      targets.push_back(target);
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < codes.size(); ++i)
      names.push_back(inputs.kind == "cuda" ? options.gpuArch
                      : codes[i].name.empty() ? targets[i].cpu
                                              : codes[i].name);
    showStatus(options, "generating code for " + llvm::join(names, ", "));
    std::vector<mlir::qnext::CPUTargetInfo> infos(codes.size());
    std::optional<mlir::qnext::CodeCache> cache = mlir::qnext::CodeCache::fromEnvironment();
    if (cache && !options.llvmOptions.empty()) {
      llvm::WithColor::note(llvm::errs(), options.toolName)
          << mlir::qnext::CodeCache::kVariable << " not used: LLVM's options (--"
          << llvm::join(options.llvmOptions, ", --")
          << ") can change the code without changing its module\n";
      cache.reset();
    }
    size_t fromCache = 0;
    auto objects = mlir::qnext::emitSharedObjects(
        modules, targets, infos, cache ? &*cache : nullptr,
        [&](const llvm::Twine &message) {
          clearStatus();
          llvm::WithColor::warning(llvm::errs(), options.toolName) << message << "\n";
        },
        &fromCache);
    if (!objects)
      return fail(toString(objects.takeError()));
    names.clear();
    for (size_t i = 0; i < codes.size(); ++i) {
      const CodeVariant &variant = codes[i];
      const mlir::qnext::CPUTargetInfo &info = infos[i];
      inputs.triple = info.triple;
      ManifestCode entry;
      entry.cpu = info.cpu;
      entry.features = info.features;
      entry.libraries = info.libraries;
      entry.pipeline = variant.pipelineText;
      entry.activations = variant.pipeline.activations;
      entry.amx = variant.pipeline.amx;
      entry.bf16Terms = variant.pipeline.bf16Terms;
      if (codes.size() == 1) {
        inputs.code = entry;
        names.push_back(inputs.kind == "cuda"
                            ? options.gpuArch + " (host code: " + info.cpu + ")"
                            : info.cpu);
        continue;
      }
      entry.name = variant.name;
      entry.section = codeSectionName(i);
      inputs.variants.push_back(entry);
      names.push_back(variant.name);
    }
    model.codeFor = llvm::join(names, ", ");
    if (fromCache)
      model.codeNote = fromCache == codes.size()
                           ? "code from " + cache->path()
                           : std::to_string(fromCache) + " of " + std::to_string(codes.size()) +
                                 " codes from " + cache->path();
    clearStatus();
    std::string manifest = buildManifest(inputs);
    ProgressLine progress(options.toolName + ": packing weights", !options.quiet);
    if (Error e = writeArtifact(output, manifest, *objects, *plan, *model.checkpoint,
                                model.textFiles, progress, options.allowNonfinite))
      return fail(toString(std::move(e)));
    return mlir::success();
  }

  if (Error e = writer.writeText(output, [&](raw_ostream &os) { module.print(os); }))
    return fail(toString(std::move(e)));
  return mlir::success();
}
