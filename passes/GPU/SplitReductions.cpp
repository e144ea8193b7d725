//===- SplitReductions.cpp - partial sums for one-thread-per-output GPUs --===//
//
// The contract is in passes/GPU/GPUPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/IR/PatternMatch.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_SPLITREDUCTIONS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {

/// How to split one op's reduction: `chunks` partial sums, interleaved
/// (element k goes to partial k mod chunks) or contiguous.
struct Split {
  int64_t chunks = 1;
  bool interleaved = false;
};

/// Interchanges `op`'s loops in place so that its parallel dimensions come
/// first and its reductions last (each group in its order). Lowered to loops,
/// that is one parallel nest with the reductions inside each iteration.
/// Returns whether the order changed.
FailureOr<bool> parallelFirst(RewriterBase &b, linalg::GenericOp op) {
  SmallVector<unsigned> order;
  SmallVector<utils::IteratorType> types = op.getIteratorTypesArray();
  for (auto [i, type] : llvm::enumerate(types))
    if (!linalg::isReductionIterator(type))
      order.push_back(i);
  for (auto [i, type] : llvm::enumerate(types))
    if (linalg::isReductionIterator(type))
      order.push_back(i);
  if (llvm::equal(order, llvm::seq<unsigned>(0, order.size())))
    return false;
  b.setInsertionPoint(op);
  if (failed(linalg::interchangeGenericOp(b, op, order)))
    return failure();
  return true;
}

struct SplitReductionsPass
    : mlir::qnext::impl::SplitReductionsBase<SplitReductionsPass> {
  using SplitReductionsBase::SplitReductionsBase;

  Split choose(linalg::GenericOp op) {
    if (op.getNumReductionLoops() != 1 || op.getNumDpsInits() != 1 ||
        op.hasIndexSemantics() ||
        !llvm::all_of(op.getIndexingMapsArray(),
                      [](AffineMap map) { return map.isProjectedPermutation(); }))
      return {};
    int64_t parallel = 1, k = 0;
    unsigned kDim = 0;
    for (auto [i, range, type] : llvm::enumerate(op.getStaticLoopRanges(),
                                                 op.getIteratorTypesArray())) {
      if (ShapedType::isDynamic(range))
        return {};
      if (linalg::isReductionIterator(type)) {
        k = range;
        kDim = i;
      } else {
        parallel *= range;
      }
    }
    // The largest input (the weights of a projection): when the reduction
    // walks its innermost dimension, `lanes` neighbouring threads take
    // neighbouring elements.
    OpOperand *largest = nullptr;
    int64_t largestSize = 0;
    for (OpOperand *input : op.getDpsInputOperands()) {
      auto type = dyn_cast<ShapedType>(input->get().getType());
      if (type && type.hasStaticShape() && type.getNumElements() > largestSize) {
        largest = input;
        largestSize = type.getNumElements();
      }
    }
    if (largest) {
      AffineMap map = op.getMatchingIndexingMap(largest);
      if (map.getNumResults() > 0 &&
          map.getResults().back() == getAffineDimExpr(kDim, op.getContext()) &&
          k % lanes == 0 && k / lanes >= 2)
        return {lanes, true};
    }
    int64_t chunks = 1;
    while (parallel * chunks < threads && k % (2 * chunks) == 0 &&
           k / (2 * chunks) >= minChunk)
      chunks *= 2;
    return {chunks, false};
  }

  /// A reduction left unsplit: its parallel dimensions first all the same,
  /// or the GPU mapping would take only those before the first reduction.
  LogicalResult notSplit(RewriterBase &b, linalg::GenericOp op) {
    if (op.getNumReductionLoops() == 0)
      return success();
    FailureOr<bool> changed = parallelFirst(b, op);
    if (failed(changed))
      return failure();
    interchanged += *changed;
    return success();
  }

  void runOnOperation() override {
    if (lanes < 2) {
      getOperation()->emitError("qnext-gpu-split-reductions: lanes must be at "
                                "least 2");
      return signalPassFailure();
    }
    SmallVector<linalg::GenericOp> ops;
    getOperation()->walk([&](linalg::GenericOp op) { ops.push_back(op); });
    IRRewriter b(&getContext());
    for (linalg::GenericOp op : ops) {
      Split split = choose(op);
      if (split.chunks < 2) {
        if (failed(notSplit(b, op)))
          return signalPassFailure();
        continue;
      }
      b.setInsertionPoint(op);
      unsigned rank = op.getNumParallelLoops();
      auto control = [&](linalg::LinalgOp) {
        linalg::SplitReductionOptions options;
        options.ratio = split.chunks;
        // Interleaved: the partial's dimension innermost, so that the
        // threads of one output are neighbours; contiguous: outermost.
        options.index = split.interleaved ? rank : 0;
        options.innerParallel = split.interleaved;
        return options;
      };
      FailureOr<linalg::SplitReductionResult> result =
          linalg::splitReduction(b, op, control);
      if (failed(result)) { // e.g. a combiner with no neutral element
        if (failed(notSplit(b, op)))
          return signalPassFailure();
        continue;
      }
      if (failed(parallelFirst(b, cast<linalg::GenericOp>(result->splitLinalgOp))))
        return signalPassFailure();
      ++splits;
    }
  }
};
} // namespace
