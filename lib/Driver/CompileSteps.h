//===- CompileSteps.h - compile()'s steps, one file each --------*- C++ -*-===//
//
// Private to lib/Driver: what Compile.cpp (the checks and the phase
// sequence) calls in LoadModel.cpp (config + checkpoint -> the qnext module)
// and Outputs.cpp (-o, the phase dumps, the artifact). Every step reports
// its own errors (reportError) and returns failure.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_LIB_DRIVER_COMPILESTEPS_H
#define QNEXT_LIB_DRIVER_COMPILESTEPS_H

#include "qnext/Artifact/ArtifactWriter.h"
#include "qnext/Driver/Compile.h"
#include "qnext/FileChecks.h"
#include "qnext/Model/Config.h"
#include "qnext/Model/SafeTensors.h"
#include "qnext/Target/CPUObject.h"
#include "qnext/Target/CPUPipeline.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <memory>
#include <string>
#include <vector>

namespace qnext::driver {

/// Prints "TOOL: error: MESSAGE" on stderr and fails.
mlir::LogicalResult reportError(const CompileOptions &options,
                                const llvm::Twine &message);

/// On a terminal, unless options.quiet: one status line on stderr,
/// "TOOL: WHAT...", redrawn in place by the next step and cleared before any
/// other line (reportError clears it). Nothing anywhere else: logs stay
/// clean.
void showStatus(const CompileOptions &options, const llvm::Twine &what);
void clearStatus();

/// The phase's name, as --compile-to spells it.
const char *phaseName(CompilePhase phase);

/// The model, read and built (LoadModel.cpp).
struct LoadedModel {
  ModelConfig config;
  /// Null when the input is a bare config.json.
  std::unique_ptr<Checkpoint> checkpoint;
  /// The tokenizer, chat template and generation defaults, for the artifact.
  std::vector<ExtraSection> textFiles;
  /// The model as qnext layer ops; the pipeline lowers it in place.
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// The states the runtime allocates, read off @prefill before lowering.
  std::vector<StateInfo> states;
  /// The module has the MTP head (entry point `mtp`).
  bool mtp = false;
  /// What the code was generated for (the CPU's name, or the GPU's
  /// architecture), for the summary line; set by writeOutputs.
  std::string codeFor;
  /// Where the code came from when QNEXT_CODE_CACHE held it (CodeCache.h),
  /// for the summary line; empty when it was compiled.
  std::string codeNote;
};

/// Reads options.input (a checkpoint folder or a config.json), checks the
/// checkpoint's tensors and text files against the config (extra tensors are
/// warnings), and builds the model's module in `context`.
mlir::FailureOr<LoadedModel> loadModel(mlir::MLIRContext &context,
                                       const CompileOptions &options);

/// qnext-compile --export-dequantized (ExportDequantized.cpp): the
/// checkpoint with its FP8 weights dequantized, instead of a compile.
mlir::LogicalResult exportDequantized(const CompileOptions &options);

/// Writes text outputs (Outputs.cpp): -o, as checkOutputPath decided before
/// the work, and the numbered phase dumps of options.dumpPhasesTo.
class OutputWriter {
public:
  OutputWriter(const CompileOptions &options, OutputKind outputKind)
      : options(options), outputKind(outputKind) {}

  /// Writes `path` whole through a temporary file renamed into place (a
  /// failed run never leaves a partial or truncated output), "-" to stdout;
  /// -o naming a character device (/dev/null) is written in place, never
  /// replaced.
  llvm::Error writeText(llvm::StringRef path,
                        llvm::function_ref<void(llvm::raw_ostream &)> print);

  /// With options.dumpPhasesTo, writes the next numbered dump,
  /// NN-PHASE<extension>; otherwise nothing.
  llvm::Error dump(CompilePhase phase,
                   llvm::function_ref<void(llvm::raw_ostream &)> print,
                   llvm::StringRef extension = ".mlir");

private:
  const CompileOptions &options;
  OutputKind outputKind;
  int dumped = 0;
};

/// The code for one CPU of --cpu: the model lowered with its options.
struct CodeVariant {
  /// Its name in a fat artifact (--cpu's entry: "x86-64-v4+amx"); empty for
  /// the one CPU of a thin artifact.
  std::string name;
  mlir::qnext::CPUTargetOptions target;
  mlir::qnext::CPUPipelineOptions pipeline;
  /// The lowered module: the model's own for one CPU, else `copy`.
  mlir::ModuleOp module;
  mlir::OwningOpRef<mlir::ModuleOp> copy;
  /// The passes that produced it, as the manifest records them.
  std::string pipelineText;
};

/// After the pipeline ran up to options.compileTo (up to llvm-dialect for
/// the later phases): writes what that phase asks for to -o: the module's IR,
/// the kernels' PTX, the LLVM IR, a shared object (of `codes`' one), or the
/// artifact, with a code section a variant of `codes` (all of one weight
/// plan), whose manifest records each one's pipeline, activations and
/// whether its kernels of several tokens run on AMX tiles, and `fusions`.
mlir::LogicalResult writeOutputs(const CompileOptions &options,
                                 LoadedModel &model, OutputWriter &writer,
                                 llvm::ArrayRef<CodeVariant> codes,
                                 const std::vector<std::string> &fusions);

} // namespace qnext::driver

#endif // QNEXT_LIB_DRIVER_COMPILESTEPS_H
