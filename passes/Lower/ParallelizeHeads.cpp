//===- ParallelizeHeads.cpp - independent heads as parallel loops ---------===//
//
// The contract is in passes/Passes.td.
//
//===----------------------------------------------------------------------===//

#include "qnext/Passes/Passes.h"

#include "mlir/Dialect/SCF/Transforms/TileUsingInterface.h"
#include "mlir/IR/PatternMatch.h"
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
    SmallVector<linalg::GenericOp> candidates;
    getOperation()->walk([&](linalg::GenericOp op) {
      // Already inside a parallel kernel (the projection kernels): no.
      if (!op.hasPureTensorSemantics() || op->getParentOfType<scf::ForallOp>() ||
          op.getNumLoops() < 2 ||
          op.getIteratorTypesArray()[0] != utils::IteratorType::parallel)
        return;
      SmallVector<int64_t> ranges = op.getStaticLoopRanges();
      if (ShapedType::isDynamic(ranges[0]) || ranges[0] < minExtent)
        return;
      candidates.push_back(op);
    });
    IRRewriter rewriter(&getContext());
    for (linalg::GenericOp op : candidates) {
      rewriter.setInsertionPoint(op);
      scf::SCFTilingOptions options;
      options.setLoopType(scf::SCFTilingOptions::LoopType::ForallOp);
      // Loop 0 in tiles of one; the inner loops stay whole.
      options.setTileSizes({rewriter.getIndexAttr(1)});
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
