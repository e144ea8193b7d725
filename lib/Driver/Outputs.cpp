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
#include "qnext/Target/CUDAPipeline.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/Path.h"
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

mlir::LogicalResult
qnext::driver::writeOutputs(const CompileOptions &options, LoadedModel &model,
                            OutputWriter &writer, const std::string &pipeline,
                            const std::vector<std::string> &fusions, bool amx) {
  auto fail = [&](const Twine &message) { return reportError(options, message); };
  const CompilePhase compileTo = options.compileTo;
  const std::string &output = options.output;
  mlir::ModuleOp module = *model.module;
  const bool cuda = options.target == CompileTarget::CUDA;
  if (compileTo == CompilePhase::PTX) {
    auto ptx = mlir::qnext::kernelBinary(module);
    if (!ptx)
      return fail(toString(ptx.takeError()));
    if (Error e = writer.writeText(output, [&](raw_ostream &os) { os << *ptx; }))
      return fail(toString(std::move(e)));
    return mlir::success();
  }

  mlir::qnext::CPUTargetOptions targetOptions;
  // CUDA: the host code only allocates and launches; a baseline x86-64 runs
  // on any machine the GPU sits in.
  targetOptions.cpu = cuda && !options.cpu ? "x86-64" : options.cpu.value_or("host");
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
    inputs.pipeline = pipeline;
    inputs.fusions = fusions;
    inputs.taps = options.taps;
    inputs.decodeBatch = options.exportsDecodeBatch();
    inputs.activations = options.activations;
    inputs.amx = amx;
    if (cuda && !options.emulateGPU) {
      inputs.kind = "cuda";
      inputs.gpuArch = options.gpuArch;
    }
    inputs.plan = &*plan;
    // The code carries what it assumes of the runtime's buffers; the
    // runtime checks the manifest against it.
    targetOptions.abiRecord = artifact::abiRecord(abiOf(inputs));
    showStatus(options, "generating code for " +
                            (inputs.kind == "cuda" ? options.gpuArch : targetOptions.cpu));
    mlir::qnext::CPUTargetInfo info;
    auto code = mlir::qnext::emitSharedObject(module, targetOptions, &info);
    if (!code)
      return fail(toString(code.takeError()));
    model.codeFor = inputs.kind == "cuda" ? options.gpuArch + " (host code: " + info.cpu + ")"
                                          : info.cpu;
    clearStatus();
    inputs.triple = info.triple;
    inputs.cpu = info.cpu;
    inputs.features = info.features;
    inputs.libraries = info.libraries;
    std::string manifest = buildManifest(inputs);
    ProgressLine progress(options.toolName + ": packing weights", !options.quiet);
    if (Error e = writeArtifact(output, manifest, *code, *plan, *model.checkpoint,
                                model.textFiles, progress, options.allowNonfinite))
      return fail(toString(std::move(e)));
    return mlir::success();
  }

  if (Error e = writer.writeText(output, [&](raw_ostream &os) { module.print(os); }))
    return fail(toString(std::move(e)));
  return mlir::success();
}
