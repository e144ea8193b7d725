//===- PromoteAccumulators.cpp - reduction accumulators in registers ------===//
//
// The contract is in passes/GPU/GPUPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_PROMOTEACCUMULATORS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {

/// The buffer `memref` is a view of: a block argument or the op that
/// allocated it.
Value root(Value memref) {
  while (Operation *op = memref.getDefiningOp()) {
    auto view = dyn_cast<ViewLikeOpInterface>(op);
    if (!view)
      break;
    memref = view.getViewSource();
  }
  return memref;
}

bool isAllocation(Value buffer) {
  Operation *op = buffer.getDefiningOp();
  return op && isa<memref::AllocOp, memref::AllocaOp, gpu::AllocOp>(op);
}

/// True when `a` and `b` are views of different buffers, one of them
/// allocated here (two arguments may be the same buffer).
bool distinct(Value a, Value b) {
  Value ra = root(a), rb = root(b);
  return ra != rb && (isAllocation(ra) || isAllocation(rb));
}

struct PromoteAccumulatorsPass
    : mlir::qnext::impl::PromoteAccumulatorsBase<PromoteAccumulatorsPass> {
  using PromoteAccumulatorsBase::PromoteAccumulatorsBase;

  /// The load and store of `loop`'s accumulator, or nulls: a store at the
  /// body's top level to loop-invariant indices, and a load of the same
  /// element before it.
  std::pair<memref::LoadOp, memref::StoreOp> accumulator(scf::ForOp loop) {
    Block *body = loop.getBody();
    auto invariant = [&](Value v) { return loop.isDefinedOutsideOfLoop(v); };
    memref::LoadOp load;
    memref::StoreOp store;
    for (auto s : body->getOps<memref::StoreOp>()) {
      if (!invariant(s.getMemRef()) || !llvm::all_of(s.getIndices(), invariant))
        continue;
      for (auto l : body->getOps<memref::LoadOp>())
        if (l->isBeforeInBlock(s) && l.getMemRef() == s.getMemRef() &&
            l.getIndices() == s.getIndices()) {
          load = l;
          break;
        }
      if (load) {
        store = s;
        break;
      }
    }
    if (!load)
      return {};
    // Nothing else in the loop may touch the accumulator's buffer.
    Value acc = load.getMemRef();
    WalkResult others = body->walk([&](Operation *op) {
      if (op == load.getOperation() || op == store.getOperation())
        return WalkResult::advance();
      if (auto l = dyn_cast<memref::LoadOp>(op))
        return distinct(l.getMemRef(), acc) ? WalkResult::advance()
                                            : WalkResult::interrupt();
      if (auto s = dyn_cast<memref::StoreOp>(op)) {
        // Scratch: allocated inside the loop, or a thread's own alloca.
        Value r = root(s.getMemRef());
        Operation *allocation = r.getDefiningOp();
        bool scratch = allocation && (loop->isAncestor(allocation) ||
                                      isa<memref::AllocaOp>(allocation));
        return scratch && r != root(acc) ? WalkResult::advance()
                                         : WalkResult::interrupt();
      }
      if (isa<memref::AllocaOp, memref::AllocOp, memref::DeallocOp>(op) ||
          isa<ViewLikeOpInterface>(op) || isMemoryEffectFree(op) ||
          op->hasTrait<OpTrait::HasRecursiveMemoryEffects>())
        return WalkResult::advance();
      return WalkResult::interrupt();
    });
    if (others.wasInterrupted())
      return {};
    return {load, store};
  }

  void runOnOperation() override {
    SmallVector<scf::ForOp> loops;
    // Post-order: inner loops first.
    getOperation()->walk([&](scf::ForOp loop) { loops.push_back(loop); });
    IRRewriter b(&getContext());
    for (scf::ForOp loop : loops) {
      auto [load, store] = accumulator(loop);
      if (!load)
        continue;
      b.setInsertionPoint(loop);
      auto initial = memref::LoadOp::create(b, load.getLoc(), load.getMemRef(),
                                            load.getIndices());
      Value stored = store.getValueToStore();
      FailureOr<LoopLikeOpInterface> grown = loop.replaceWithAdditionalYields(
          b, ValueRange{initial.getResult()},
          /*replaceInitOperandUsesInLoop=*/false,
          [&](OpBuilder &, Location, ArrayRef<BlockArgument>) {
            return SmallVector<Value>{stored};
          });
      if (failed(grown))
        return signalPassFailure();
      auto carrying = cast<scf::ForOp>(grown->getOperation());
      BlockArgument carried = carrying.getRegionIterArgs().back();
      b.replaceAllUsesWith(load.getResult(), carried);
      b.eraseOp(load);
      b.setInsertionPointAfter(carrying);
      memref::StoreOp::create(b, store.getLoc(), carrying.getResults().back(),
                              store.getMemRef(), store.getIndices());
      b.eraseOp(store);
      ++promoted;
    }
  }
};
} // namespace
