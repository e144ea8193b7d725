//===- EmulateOnHost.cpp - GPU kernels as host loops, for testing ---------===//
//
// The contract is in passes/GPU/GPUPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_EMULATEONHOST
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {

/// Why `launch` cannot run as one thread after another, or "" when it can.
std::string whyNotSequential(gpu::LaunchOp launch) {
  if (launch.getAsyncToken() || !launch.getAsyncDependencies().empty())
    return "an asynchronous launch (emulate before gpu-async-region)";
  if (launch.hasClusterSize())
    return "a launch with thread-block clusters";
  if (launch.getNumWorkgroupAttributions() || !launch.getPrivateAttributions().empty() ||
      launch.getDynamicSharedMemorySize())
    return "a launch with shared or private memory attributions";
  if (!launch.getBody().hasOneBlock())
    return "a launch whose body has several blocks (emulate before "
           "convert-scf-to-cf)";
  std::string why;
  launch.getBody().walk([&](Operation *op) {
    if (isa<gpu::BarrierOp, gpu::ShuffleOp, gpu::AllReduceOp,
            gpu::SubgroupReduceOp, gpu::LaneIdOp, gpu::SubgroupIdOp,
            gpu::NumSubgroupsOp, gpu::SubgroupSizeOp, gpu::ReturnOp>(op)) {
      why = "a kernel whose threads communicate (" +
            op->getName().getStringRef().str() + ")";
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return why;
}

struct EmulateOnHostPass
    : mlir::qnext::impl::EmulateOnHostBase<EmulateOnHostPass> {
  using EmulateOnHostBase::EmulateOnHostBase;

  /// Replaces `launch` by loops over its blocks and threads around its body.
  void emulate(IRRewriter &b, gpu::LaunchOp launch) {
    Location loc = launch.getLoc();
    b.setInsertionPoint(launch);
    gpu::KernelDim3 grid = launch.getGridSizeOperandValues();
    gpu::KernelDim3 block = launch.getBlockSizeOperandValues();
    // Outermost first: block z, y, x, then thread z, y, x.
    SmallVector<Value> ubs = {grid.z, grid.y, grid.x, block.z, block.y, block.x};
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    SmallVector<Value> ivs;
    for (Value ub : ubs) {
      auto loop = scf::ForOp::create(b, loc, zero, ub, one);
      ivs.push_back(loop.getInductionVar());
      b.setInsertionPoint(loop.getBody()->getTerminator());
    }
    // The body runs in an alloca scope: a thread's scratch dies with it.
    auto scope = memref::AllocaScopeOp::create(b, loc, TypeRange());
    Block *body = &launch.getBody().front();
    b.eraseOp(body->getTerminator());
    Block *scopeBlock = b.createBlock(&scope.getBodyRegion());
    b.setInsertionPointToEnd(scopeBlock);
    memref::AllocaScopeReturnOp::create(b, loc);
    // Region arguments: block ids, thread ids, grid size, block size.
    SmallVector<Value> args = {ivs[2],  ivs[1],  ivs[0],  ivs[5],
                               ivs[4],  ivs[3],  grid.x,  grid.y,
                               grid.z,  block.x, block.y, block.z};
    b.inlineBlockBefore(body, scopeBlock->getTerminator(), args);
    // Ids and sizes asked for by op rather than by region argument.
    auto dim = [](gpu::Dimension d, Value x, Value y, Value z) {
      return d == gpu::Dimension::x ? x : d == gpu::Dimension::y ? y : z;
    };
    scope.walk([&](Operation *op) {
      Value with;
      if (auto id = dyn_cast<gpu::BlockIdOp>(op))
        with = dim(id.getDimension(), ivs[2], ivs[1], ivs[0]);
      else if (auto id = dyn_cast<gpu::ThreadIdOp>(op))
        with = dim(id.getDimension(), ivs[5], ivs[4], ivs[3]);
      else if (auto size = dyn_cast<gpu::GridDimOp>(op))
        with = dim(size.getDimension(), grid.x, grid.y, grid.z);
      else if (auto size = dyn_cast<gpu::BlockDimOp>(op))
        with = dim(size.getDimension(), block.x, block.y, block.z);
      else
        return;
      b.replaceOp(op, with);
    });
    b.eraseOp(launch);
    ++emulated;
  }

  /// Replaces a host-side GPU memory op by its host equivalent.
  LogicalResult replaceMemoryOp(IRRewriter &b, Operation *op) {
    b.setInsertionPoint(op);
    if (auto async = dyn_cast<gpu::AsyncOpInterface>(op))
      if (async.getAsyncToken() || !async.getAsyncDependencies().empty())
        return op->emitError("an asynchronous GPU op: emulate before "
                             "gpu-async-region");
    Location loc = op->getLoc();
    if (auto alloc = dyn_cast<gpu::AllocOp>(op)) {
      b.replaceOpWithNewOp<memref::AllocOp>(alloc, alloc.getType(),
                                            alloc.getDynamicSizes(),
                                            alloc.getSymbolOperands());
    } else if (auto dealloc = dyn_cast<gpu::DeallocOp>(op)) {
      b.replaceOpWithNewOp<memref::DeallocOp>(dealloc, dealloc.getMemref());
    } else if (auto copy = dyn_cast<gpu::MemcpyOp>(op)) {
      b.replaceOpWithNewOp<memref::CopyOp>(copy, copy.getSrc(), copy.getDst());
    } else if (auto set = dyn_cast<gpu::MemsetOp>(op)) {
      linalg::FillOp::create(b, loc, set.getValue(), set.getDst());
      b.eraseOp(set);
    } else if (auto wait = dyn_cast<gpu::WaitOp>(op)) {
      b.eraseOp(wait);
    } else {
      return op->emitError("no host equivalent for this GPU op");
    }
    return success();
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<gpu::LaunchOp> launches;
    module.walk([&](gpu::LaunchOp launch) { launches.push_back(launch); });
    for (gpu::LaunchOp launch : launches) {
      std::string why = whyNotSequential(launch);
      if (!why.empty()) {
        launch.emitError("cannot emulate on the host: ") << why;
        return signalPassFailure();
      }
    }
    IRRewriter b(module.getContext());
    for (gpu::LaunchOp launch : launches)
      emulate(b, launch);
    // What is left of the GPU dialect: memory ops on the host.
    SmallVector<Operation *> gpuOps;
    module.walk([&](Operation *op) {
      if (isa<gpu::GPUDialect>(op->getDialect()))
        gpuOps.push_back(op);
    });
    for (Operation *op : gpuOps)
      if (failed(replaceMemoryOp(b, op)))
        return signalPassFailure();
    module->removeAttr(gpu::GPUDialect::getContainerModuleAttrName());
  }
};
} // namespace
