//===- OffloadToDevice.cpp - keep every memory access on the GPU ----------===//
//
// The contract is in passes/GPU/GPUPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_OFFLOADTODEVICE
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {

/// True when `op` (or an op nested in it) reads or writes memory: what must
/// not run on the host once buffers live on the device. Allocation and
/// freeing do not count; they are handled apart.
bool touchesMemory(Operation *op) {
  bool touches = false;
  op->walk([&](Operation *nested) {
    if (isa<memref::AllocOp, memref::DeallocOp, memref::AllocaOp,
            gpu::AllocOp, gpu::DeallocOp>(nested))
      return WalkResult::advance();
    auto effects = dyn_cast<MemoryEffectOpInterface>(nested);
    if (!effects) {
      // Unknown ops with regions are judged by their bodies; others
      // without the interface are assumed to touch memory.
      if (nested->getNumRegions() == 0 &&
          !nested->hasTrait<OpTrait::HasRecursiveMemoryEffects>() &&
          !isa<gpu::TerminatorOp>(nested) && !isMemoryEffectFree(nested))
        touches = true;
    } else if (effects.hasEffect<MemoryEffects::Read>() ||
               effects.hasEffect<MemoryEffects::Write>()) {
      touches = true;
    }
    return touches ? WalkResult::interrupt() : WalkResult::advance();
  });
  return touches;
}

bool containsLaunch(Operation *op) {
  return op->walk([](gpu::LaunchOp) { return WalkResult::interrupt(); })
      .wasInterrupted();
}

struct OffloadToDevicePass
    : mlir::qnext::impl::OffloadToDeviceBase<OffloadToDevicePass> {
  using OffloadToDeviceBase::OffloadToDeviceBase;

  /// Wraps, in `block`, each run of ops that touch memory (with the ops
  /// between them) and hold no launch in a one-thread gpu.launch; enters ops
  /// that hold launches.
  LogicalResult wrapHostCompute(Block &block) {
    SmallVector<Operation *> ops;
    for (Operation &op : block)
      ops.push_back(&op);
    auto stops = [](Operation *op) {
      return isa<gpu::LaunchOp>(op) || op->hasTrait<OpTrait::IsTerminator>() ||
             containsLaunch(op);
    };
    for (size_t i = 0; i < ops.size(); ++i) {
      Operation *op = ops[i];
      if (isa<gpu::LaunchOp>(op) || op->hasTrait<OpTrait::IsTerminator>() ||
          !touchesMemory(op))
        continue;
      if (containsLaunch(op)) {
        for (Region &region : op->getRegions())
          for (Block &inner : region)
            if (failed(wrapHostCompute(inner)))
              return failure();
        continue;
      }
      // The run: from here to the last memory op before the next stop.
      size_t last = i;
      for (size_t j = i + 1; j < ops.size() && !stops(ops[j]); ++j)
        if (touchesMemory(ops[j]))
          last = j;
      llvm::SmallPtrSet<Operation *, 16> run(ops.begin() + i, ops.begin() + last + 1);
      for (size_t j = i; j <= last; ++j)
        for (Value result : ops[j]->getResults())
          for (Operation *user : result.getUsers())
            if (!run.contains(block.findAncestorOpInBlock(*user)))
              return ops[j]->emitError(
                  "the host needs a value this op reads from device memory; "
                  "the GPU target cannot run it");
      OpBuilder b(op);
      Value one = arith::ConstantIndexOp::create(b, op->getLoc(), 1);
      auto launch = gpu::LaunchOp::create(b, op->getLoc(), one, one, one, one,
                                          one, one);
      Block &body = launch.getBody().front();
      if (body.empty() || !body.back().hasTrait<OpTrait::IsTerminator>()) {
        OpBuilder end = OpBuilder::atBlockEnd(&body);
        gpu::TerminatorOp::create(end, op->getLoc());
      }
      for (size_t j = i; j <= last; ++j)
        ops[j]->moveBefore(&body.back());
      ++wrapped;
      i = last;
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(module.getContext()));
    for (auto func : module.getOps<func::FuncOp>()) {
      if (func.isExternal())
        continue;
      if (failed(wrapHostCompute(func.getBody().front())))
        return signalPassFailure();
    }
    // Buffers: device memory on the host side; inside kernels, small
    // static scratch buffers go on the thread's stack.
    SmallVector<Operation *> erase;
    WalkResult result = module.walk([&](Operation *op) -> WalkResult {
      bool inKernel = op->getParentOfType<gpu::LaunchOp>() != nullptr;
      OpBuilder b(op);
      if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
        if (inKernel) {
          if (!alloc.getType().hasStaticShape())
            return alloc.emitError("a dynamically sized buffer inside a GPU "
                                   "kernel");
          auto alloca = memref::AllocaOp::create(b, alloc.getLoc(), alloc.getType(),
                                                 alloc.getAlignmentAttr());
          alloc.replaceAllUsesWith(alloca.getResult());
        } else {
          auto device = gpu::AllocOp::create(
              b, alloc.getLoc(), alloc.getType(), Type(), ValueRange(),
              alloc.getDynamicSizes(), alloc.getSymbolOperands(), false);
          alloc.replaceAllUsesWith(device.getMemref());
          ++moved;
        }
        erase.push_back(op);
      } else if (auto dealloc = dyn_cast<memref::DeallocOp>(op)) {
        if (!inKernel)
          gpu::DeallocOp::create(b, dealloc.getLoc(), Type(), ValueRange(),
                                 dealloc.getMemref());
        erase.push_back(op);
      } else if (auto global = dyn_cast<memref::GetGlobalOp>(op)) {
        if (inKernel)
          return global.emitError("a global read inside a GPU kernel");
        // A constant table: copied to the device where it is used.
        b.setInsertionPointAfter(global);
        auto device = gpu::AllocOp::create(b, global.getLoc(), global.getType(),
                                           Type(), ValueRange(), ValueRange(),
                                           ValueRange(), false);
        auto copy = gpu::MemcpyOp::create(b, global.getLoc(), Type(), ValueRange(),
                                          device.getMemref(), global.getResult());
        global.getResult().replaceAllUsesExcept(device.getMemref(), copy);
        // Freed when the function returns.
        auto func = global->getParentOfType<func::FuncOp>();
        func.walk([&](func::ReturnOp ret) {
          OpBuilder at(ret);
          gpu::DeallocOp::create(at, ret.getLoc(), Type(), ValueRange(),
                                 device.getMemref());
        });
      }
      return WalkResult::advance();
    });
    if (result.wasInterrupted())
      return signalPassFailure();
    for (Operation *op : erase)
      op->erase();
  }
};
} // namespace
