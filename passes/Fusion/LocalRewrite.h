//===- LocalRewrite.h - a fusion as rewrite patterns ------------*- C++ -*-===//
//
// Internal to passes/Fusion: the fusions that replace a few neighbouring ops
// with one (add-norm, norm-rope) are rewrite patterns run by the greedy
// driver, and nothing else.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_FUSION_LOCALREWRITE_H
#define QNEXT_PASSES_FUSION_LOCALREWRITE_H

#include "qnext/Dialect/QNext/LayerStamp.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::qnext {

/// Applies `patterns` to `root` until none matches, with folding, constant
/// CSE and region simplification off: the IR the patterns do not match
/// stays as it was. What a pattern creates belongs to the layer of the op it
/// rewrites unless the pattern says otherwise (setLayerOf).
inline LogicalResult applyLocalRewrites(Operation *root, RewritePatternSet &&patterns) {
  LayerStamp stamp;
  GreedyRewriteConfig config;
  config.enableFolding(false).enableConstantCSE(false).setRegionSimplificationLevel(
      GreedySimplifyRegionLevel::Disabled).setListener(&stamp);
  return applyPatternsGreedily(root, std::move(patterns), config);
}

} // namespace mlir::qnext

#endif // QNEXT_PASSES_FUSION_LOCALREWRITE_H
