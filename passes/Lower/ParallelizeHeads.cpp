//===- ParallelizeHeads.cpp - independent heads as parallel loops ---------===//
//
// The contract is in passes/Lower/LowerPasses.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Interfaces/TilingInterface.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_PARALLELIZEHEADS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;

namespace {
struct ParallelizeHeadsPass
    : mlir::qnext::impl::ParallelizeHeadsBase<ParallelizeHeadsPass> {
  using ParallelizeHeadsBase::ParallelizeHeadsBase;

  void runOnOperation() override {
    if (tokenTile < 0) {
      getOperation()->emitError("qnext-parallelize-heads: token-tile must not "
                                "be negative");
      return signalPassFailure();
    }
    // (generic, tile size of its first loop)
    SmallVector<std::pair<linalg::GenericOp, int64_t>> candidates;
    getOperation()->walk([&](linalg::GenericOp op) {
      // Already inside a parallel kernel (the projection kernels): no.
      if (!op.hasPureTensorSemantics() || op->getParentOfType<scf::ForallOp>() ||
          op.getNumLoops() < 2 ||
          op.getIteratorTypesArray()[0] != utils::IteratorType::parallel)
        return;
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      if (!ShapedType::isDynamic(ranges[0])) {
        if (ranges[0] >= minExtent)
          candidates.push_back({op, 1});
        return;
      }
      // Token rows: in tiles of token-tile tokens, for the work at the top
      // of a function (not inside a loop, whose every trip would fork).
      if (tokenTile > 0 && isa<FunctionOpInterface>(op->getParentOp()))
        candidates.push_back({op, tokenTile});
    });
    IRRewriter rewriter(&getContext());
    for (auto [op, tile] : candidates) {
      rewriter.setInsertionPoint(op);
      scf::SCFTilingOptions options;
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      // Loop 0 in tiles of `tile`; the inner loops stay whole.
      options.setTileSizes({rewriter.getIndexAttr(tile)});
      FailureOr<scf::SCFTilingResult> tiled = scf::tileUsingSCF(
          rewriter, cast<TilingInterface>(op.getOperation()), options);
      if (failed(tiled))
        continue; // left sequential: correct, only slower
      rewriter.replaceOp(op, tiled->replacements);
      ++parallelized;
    }
  }
};
} // namespace
