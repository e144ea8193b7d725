//===- MergeKernelModules.cpp - one gpu.module for all kernels ------------===//
//
// The contract is in passes/GPU/GPUPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/SymbolTable.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_MERGEKERNELMODULES
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {
struct MergeKernelModulesPass
    : mlir::qnext::impl::MergeKernelModulesBase<MergeKernelModulesPass> {
  using MergeKernelModulesBase::MergeKernelModulesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::GPUModuleOp> sources(module.getOps<gpu::GPUModuleOp>());
    if (sources.empty())
      return;
    MLIRContext *ctx = module.getContext();
    OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
    auto merged = gpu::GPUModuleOp::create(b, module.getLoc(), StringRef(moduleName));
    SymbolTable mergedSymbols(merged);
    SymbolTable::setSymbolVisibility(merged, SymbolTable::Visibility::Public);
    // Each kernel takes its module's name (unique in the parent module);
    // helper symbols are renamed by the symbol table on a clash.
    DenseMap<std::pair<StringAttr, StringAttr>, StringAttr> renamed;
    for (gpu::GPUModuleOp source : sources) {
      if (source.getSymName() == moduleName) {
        source.emitError("a gpu.module is already named ") << moduleName;
        return signalPassFailure();
      }
      for (Operation &op : llvm::make_early_inc_range(*source.getBody())) {
        auto symbol = dyn_cast<SymbolOpInterface>(op);
        StringAttr oldName = symbol ? symbol.getNameAttr() : StringAttr();
        op.moveBefore(merged.getBody(), merged.getBody()->end());
        if (!symbol)
          continue;
        if (isa<gpu::GPUFuncOp>(op) && cast<gpu::GPUFuncOp>(op).isKernel())
          symbol.setName(source.getSymNameAttr());
        StringAttr newName = mergedSymbols.insert(&op);
        renamed[{source.getSymNameAttr(), oldName}] = newName;
        ++kernels;
      }
      source.erase();
    }
    module.walk([&](gpu::LaunchFuncOp launch) {
      auto it = renamed.find({launch.getKernelModuleName(), launch.getKernelName()});
      if (it == renamed.end())
        return;
      launch.setKernelAttr(SymbolRefAttr::get(
          ctx, StringRef(moduleName), {FlatSymbolRefAttr::get(it->second)}));
    });
  }
};
} // namespace
