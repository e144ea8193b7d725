//===- LayerStamp.h - giving new ops their layer ----------------*- C++ -*-===//
//
// Ops created for a layer belong to it (`qnext.layer`, a #qnext.layer). The
// model builder sets the layer it is building; in a rewrite driver, the ops
// a pattern creates take the layer of the op the pattern rewrites. A fusion
// that makes one op of several sets the result's layer itself (setLayerOf).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_DIALECT_QNEXT_LAYERSTAMP_H
#define QNEXT_DIALECT_QNEXT_LAYERSTAMP_H

#include "qnext/Dialect/QNext/QNextOps.h"

#include "mlir/IR/PatternMatch.h"

namespace mlir::qnext {

/// A builder or rewriter listener that gives every op inserted while
/// `layer` is set that layer, unless the op has one or is a constant.
class LayerStamp : public RewriterBase::Listener {
public:
  LayerAttr layer;

  void notifyOperationInserted(Operation *op,
                               OpBuilder::InsertPoint) override {
    if (layer && !getLayer(op) && !op->hasTrait<OpTrait::ConstantLike>())
      op->setAttr(kLayerAttrName, layer);
  }
  void notifyPatternBegin(const Pattern &, Operation *root) override {
    outer.push_back(layer);
    layer = getLayer(root);
  }
  void notifyPatternEnd(const Pattern &, LogicalResult) override {
    layer = outer.pop_back_val();
  }

private:
  SmallVector<LayerAttr> outer;
};

} // namespace mlir::qnext

#endif // QNEXT_DIALECT_QNEXT_LAYERSTAMP_H
