//===- FusionReport.h - what fusion saves, counted ---------------*- C++ -*-===//
//
// qnext-compile --fusion-report: lowers copies of a model through the CPU
// pipeline's "kernels" phase without fusion and with the chosen fusions, and
// counts, per entry point, the kernels and the activation bytes they move.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_TARGET_FUSIONREPORT_H
#define QNEXT_TARGET_FUSIONREPORT_H

#include "qnext/Target/CPUPipeline.h"

#include "mlir/IR/BuiltinOps.h"

#include "llvm/Support/Error.h"

#include <map>
#include <string>

namespace mlir::qnext {

/// What one entry point costs at the "kernels" phase.
struct KernelCost {
  /// Loop nests at the top of the function: a linalg op, an scf.forall of
  /// vector kernels, or an scf.for / while / if holding them.
  int64_t kernels = 0;
  /// Bytes of the tensors the kernels write and read, weights excluded,
  /// dynamic sizes taken as 1 (per token; caches at depth 1).
  int64_t written = 0, read = 0;
};

struct FusionCosts {
  std::map<std::string, KernelCost> entries; ///< by function name
  std::map<std::string, int64_t> sites;      ///< fusion sites (groups, fused ops), by --fuse name
};

/// Counts the kernels of every public function of `module` (already at the
/// "kernels" phase: no qnext ops left but weights); a call of a layer
/// function (qnext-outline-layers) counts the callee's kernels, once per call.
std::map<std::string, KernelCost> countKernels(ModuleOp module);

/// Lowers a copy of `module` (layer ops) with `options` to the "kernels"
/// phase and counts it.
llvm::Expected<FusionCosts> measureFusion(ModuleOp module,
                                          const CPUPipelineOptions &options);

/// The markdown table qnext-compile --fusion-report prints: `options`
/// without fusions, then with them.
llvm::Expected<std::string> fusionReport(ModuleOp module,
                                         const CPUPipelineOptions &options);

} // namespace mlir::qnext

#endif // QNEXT_TARGET_FUSIONREPORT_H
