//===- FusionReport.cpp - what fusion saves, counted -----------------------===//

#include "qnext/Target/FusionReport.h"

#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Transforms/RegionUtils.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qnext;

namespace {

/// A weight, or a view of one (the report counts activations only);
/// `weightArgs`: the arguments of a layer function that its call passes
/// weights to.
bool isWeight(Value v, const llvm::DenseSet<Value> &weightArgs) {
  for (;; v = v.getDefiningOp()->getOperand(0)) {
    if (weightArgs.contains(v))
      return true;
    Operation *def = v.getDefiningOp();
    if (def && isa<ParamOp, SplitQKVZOp, SplitBAOp, ConcatWeightsOp>(def))
      return true;
    if (!isa_and_nonnull<tensor::CollapseShapeOp, tensor::ExpandShapeOp,
                         tensor::ExtractSliceOp, tensor::CastOp>(def))
      return false;
  }
}

int64_t bytesOf(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t || !t.getElementType().isIntOrFloat())
    return 0;
  int64_t n = 1;
  for (int64_t d : t.getShape())
    n *= ShapedType::isDynamic(d) ? 1 : d;
  return n * ((t.getElementType().getIntOrFloatBitWidth() + 7) / 8);
}

std::string megabytes(int64_t bytes) {
  return llvm::formatv("{0:F3} MB", bytes / 1e6).str();
}

} // namespace

/// Adds the kernels of `block` (the top of a function) to `cost`; a call
/// (a layer, after qnext-outline-layers) adds its callee's, once per call.
static void addKernels(Block &block, SymbolTable &symbols,
                       const llvm::DenseSet<Value> &weightArgs,
                       KernelCost &cost) {
  for (Operation &op : block) {
    if (auto call = dyn_cast<func::CallOp>(op)) {
      auto callee = symbols.lookup<func::FuncOp>(call.getCallee());
      if (!callee || callee.isExternal())
        continue;
      llvm::DenseSet<Value> calleeWeights;
      for (auto [operand, arg] :
           llvm::zip(call.getOperands(), callee.getArguments()))
        if (isWeight(operand, weightArgs))
          calleeWeights.insert(arg);
      addKernels(callee.getBody().front(), symbols, calleeWeights, cost);
      continue;
    }
    if (!isa<linalg::LinalgOp, scf::ForallOp, scf::ForOp, scf::WhileOp,
             scf::IfOp>(op))
      continue;
    ++cost.kernels;
    for (Value r : op.getResults())
      cost.written += bytesOf(r.getType());
    llvm::SetVector<Value> reads(op.getOperands().begin(),
                                 op.getOperands().end());
    getUsedValuesDefinedAbove(op.getRegions(), reads);
    for (Value v : reads)
      if (!isWeight(v, weightArgs) && !v.getDefiningOp<tensor::EmptyOp>())
        cost.read += bytesOf(v.getType());
  }
}

std::map<std::string, KernelCost> mlir::qnext::countKernels(ModuleOp module) {
  std::map<std::string, KernelCost> costs;
  SymbolTable symbols(module);
  for (auto func : module.getOps<func::FuncOp>())
    if (!func.isPrivate() && !func.isExternal())
      addKernels(func.getBody().front(), symbols, {},
                 costs[func.getName().str()]);
  return costs;
}

llvm::Expected<FusionCosts>
mlir::qnext::measureFusion(ModuleOp module, const CPUPipelineOptions &options) {
  OwningOpRef<ModuleOp> copy = module.clone();
  FusionCosts costs;
  PassManager fused(module.getContext());
  if (failed(buildCPUPipeline(fused, CPUPhase::Fused, options)) ||
      failed(fused.run(*copy)))
    return llvm::createStringError("fusion report: the pipeline failed (above)");
  // A site is a qnext.fused group (named as --fuse names its fusion) or an
  // op a fusion made: qnext.deltanet_step, qnext.add_rms_norm,
  // qnext.norm_rope, a qnext.linear of qnext.concat_weights.
  copy->walk([&](Operation *op) {
    std::string site;
    if (auto group = dyn_cast<FusedOp>(op))
      site = stringifyFusionKind(group.getKind()).str();
    else if (isa<DeltaNetStepOp>(op))
      site = "deltanet-step";
    else if (isa<AddRMSNormOp>(op))
      site = "add-norm";
    else if (isa<NormRopeOp>(op))
      site = "norm-rope";
    else if (auto linear = dyn_cast<LinearOp>(op);
             linear && linear.getWeight().getDefiningOp<ConcatWeightsOp>())
      site = "projections";
    if (site.empty())
      return;
    std::replace(site.begin(), site.end(), '_', '-');
    ++costs.sites[site];
  });
  PassManager kernels(module.getContext());
  if (failed(buildCPUPipeline(kernels, CPUPhase::Kernels, options,
                              CPUPhase::Linalg)) ||
      failed(kernels.run(*copy)))
    return llvm::createStringError("fusion report: the pipeline failed (above)");
  costs.entries = countKernels(*copy);
  return costs;
}

llvm::Expected<std::string>
mlir::qnext::fusionReport(ModuleOp module, const CPUPipelineOptions &options) {
  CPUPipelineOptions none = options;
  none.fusions.clear();
  auto before = measureFusion(module, none);
  if (!before)
    return before.takeError();
  auto after = measureFusion(module, options);
  if (!after)
    return after.takeError();
  std::string chosen;
  for (const std::string &f : options.fusions)
    chosen += (chosen.empty() ? "" : ",") +
              llvm::StringRef(f).take_until([](char c) { return c == '{'; }).str();
  if (chosen.empty())
    chosen = "none";

  std::string text;
  llvm::raw_string_ostream os(text);
  os << "fusion report: kernels (loop nests at the top of an entry point or "
        "of a layer function, once per call; CPU pipeline's kernels phase) "
        "and activation bytes per token (dynamic sizes as 1: a prefill "
        "token, caches at depth 1; weights excluded)\n\n"
     << "| entry | fusions | kernels | activations written | activations read |\n"
     << "| --- | --- | ---: | ---: | ---: |\n";
  for (const auto &[name, cost] : before->entries) {
    const KernelCost &fusedCost = after->entries[name];
    os << "| " << name << " | none | " << cost.kernels << " | "
       << megabytes(cost.written) << " | " << megabytes(cost.read) << " |\n";
    os << "| " << name << " | " << chosen << " | " << fusedCost.kernels << " | "
       << megabytes(fusedCost.written) << " | " << megabytes(fusedCost.read)
       << " |\n";
  }
  os << "\nfused sites:";
  if (after->sites.empty())
    os << " none";
  for (const auto &[kind, n] : after->sites)
    os << " " << kind << " " << n;
  os << "\n";
  return text;
}
