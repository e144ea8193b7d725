//===- MapToThreads.cpp - parallel loop nests -> blocks x threads ---------===//
//
// The contract is in passes/GPU/GPUPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/GPU/Transforms/ParallelLoopMapper.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_MAPTOTHREADS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {

/// A mapping of every dimension of `loop` to `processors` (one per
/// dimension), with identity maps and bounds.
LogicalResult setMapping(scf::ParallelOp loop,
                         ArrayRef<gpu::Processor> processors) {
  MLIRContext *ctx = loop.getContext();
  AffineMap identity = AffineMap::getMultiDimIdentityMap(1, ctx);
  SmallVector<gpu::ParallelLoopDimMappingAttr> mapping;
  for (gpu::Processor p : processors)
    mapping.push_back(
        gpu::ParallelLoopDimMappingAttr::get(ctx, p, identity, identity));
  return gpu::setMappingAttr(loop, mapping);
}

struct MapToThreadsPass
    : mlir::qnext::impl::MapToThreadsBase<MapToThreadsPass> {
  using MapToThreadsBase::MapToThreadsBase;

  /// Replaces `loop` by blocks x threads over its flattened iterations.
  LogicalResult map(scf::ParallelOp loop) {
    Location loc = loop.getLoc();
    IRRewriter b(loop.getContext());
    b.setInsertionPoint(loop);
    auto index = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    Value zero = index(0), one = index(1), size = index(blockSize);
    // Trip count of each dimension and of all of them (folded where the
    // bounds are constants, as a linalg op's lower bounds and steps are).
    SmallVector<Value> trips;
    Value total = one;
    for (auto [lb, ub, step] : llvm::zip(loop.getLowerBound(),
                                         loop.getUpperBound(), loop.getStep())) {
      Value span = b.createOrFold<arith::SubIOp>(loc, ub, lb);
      Value trip = b.createOrFold<arith::CeilDivUIOp>(loc, span, step);
      trips.push_back(trip);
      total = b.createOrFold<arith::MulIOp>(loc, total, trip);
    }
    // At least one block: a launch of zero blocks is an error on the
    // device (CUDA_ERROR_INVALID_VALUE), and an empty iteration space (a
    // cache with nothing in it yet) is not; the guard keeps the threads out.
    Value blocks = b.createOrFold<arith::MaxUIOp>(
        loc, b.createOrFold<arith::CeilDivUIOp>(loc, total, size), one);

    auto grid = scf::ParallelOp::create(b, loc, ValueRange{zero},
                                        ValueRange{blocks}, ValueRange{one});
    b.setInsertionPointToStart(grid.getBody());
    auto threads = scf::ParallelOp::create(b, loc, ValueRange{zero},
                                           ValueRange{size}, ValueRange{one});
    b.setInsertionPointToStart(threads.getBody());
    Value first = arith::MulIOp::create(b, loc, grid.getInductionVars()[0], size);
    Value linear =
        arith::AddIOp::create(b, loc, first, threads.getInductionVars()[0]);
    Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                         linear, total);
    auto guard = scf::IfOp::create(b, loc, inside, /*withElseRegion=*/false);
    b.setInsertionPointToStart(guard.thenBlock());
    // Delinearize, innermost dimension fastest.
    SmallVector<Value> ivs(trips.size());
    Value rest = linear;
    for (int64_t d = int64_t(trips.size()) - 1; d >= 0; --d) {
      Value i = d == 0 ? rest : b.createOrFold<arith::RemUIOp>(loc, rest, trips[d]);
      if (d > 0)
        rest = b.createOrFold<arith::DivUIOp>(loc, rest, trips[d]);
      Value scaled = b.createOrFold<arith::MulIOp>(loc, i, loop.getStep()[d]);
      ivs[d] = b.createOrFold<arith::AddIOp>(loc, loop.getLowerBound()[d], scaled);
    }
    // The body without its (empty) scf.reduce terminator.
    Block *body = loop.getBody();
    b.eraseOp(body->getTerminator());
    b.inlineBlockBefore(body, guard.thenBlock()->getTerminator(), ivs);
    b.eraseOp(loop);

    if (failed(setMapping(grid, {gpu::Processor::BlockX})) ||
        failed(setMapping(threads, {gpu::Processor::ThreadX})))
      return failure();
    ++mapped;
    return success();
  }

  /// Replaces `loop` (without reductions) by a nest of scf.for.
  /// (convert-parallel-loops-to-gpu would leave the whole nest on the host
  /// if it met a loop mapped "sequential" under an scf.if.)
  LogicalResult sequentialize(scf::ParallelOp loop) {
    if (loop.getNumReductions() != 0)
      return loop.emitError("a parallel loop with reductions inside a "
                            "kernel: no sequential form");
    IRRewriter b(loop.getContext());
    b.setInsertionPoint(loop);
    Block *body = loop.getBody();
    b.eraseOp(body->getTerminator());
    scf::buildLoopNest(b, loop.getLoc(), loop.getLowerBound(),
                       loop.getUpperBound(), loop.getStep(),
                       [&](OpBuilder &at, Location, ValueRange ivs) {
                         b.inlineBlockBefore(body, at.getInsertionBlock(),
                                             at.getInsertionPoint(), ivs);
                       });
    b.eraseOp(loop);
    return success();
  }

  void runOnOperation() override {
    if (blockSize < 1 || blockSize > 1024) {
      getOperation()->emitError("qnext-gpu-map-threads: block-size must be "
                                "1 to 1024 (a block's thread limit)");
      return signalPassFailure();
    }
    SmallVector<scf::ParallelOp> outermost;
    getOperation()->walk([&](scf::ParallelOp loop) {
      if (!loop->getParentOfType<scf::ParallelOp>())
        outermost.push_back(loop);
    });
    for (scf::ParallelOp loop : outermost) {
      if (loop.getNumReductions() != 0)
        continue;
      // Nested parallel loops: sequential loops inside a thread.
      SmallVector<scf::ParallelOp> nested;
      loop.getBody()->walk([&](scf::ParallelOp inner) { nested.push_back(inner); });
      for (scf::ParallelOp inner : nested)
        if (failed(sequentialize(inner)))
          return signalPassFailure();
      if (failed(map(loop)))
        return signalPassFailure();
    }
  }
};
} // namespace
