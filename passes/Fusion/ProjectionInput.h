//===- ProjectionInput.h - what feeds one projection ------------*- C++ -*-===//
//
// Internal to passes/Fusion: what qnext-fuse-norm-linear and
// qnext-fuse-gate-linear group with the op they fuse.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_FUSION_PROJECTIONINPUT_H
#define QNEXT_PASSES_FUSION_PROJECTIONINPUT_H

#include "FusionGroup.h"

namespace mlir::qnext {

/// The ops from `v` to the one qnext.linear that reads it as its input and
/// nothing else reads it: that linear, after a tensor.collapse_shape (heads
/// merged into the projection's K) that nothing else reads, if any. Empty
/// where `v` is not such an input, or that projection is already in a
/// group.
inline SmallVector<Operation *> projectionReading(Value v) {
  if (!v.hasOneUse())
    return {};
  SmallVector<Operation *> path;
  Operation *user = *v.getUsers().begin();
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(user)) {
    if (!collapse->hasOneUse())
      return {};
    path.push_back(collapse);
    v = collapse.getResult();
    user = *collapse->getUsers().begin();
  }
  auto linear = dyn_cast<LinearOp>(user);
  if (!linear || linear.getInput() != v || FusedOp::groupOf(linear))
    return {};
  path.push_back(linear);
  return path;
}

} // namespace mlir::qnext

#endif // QNEXT_PASSES_FUSION_PROJECTIONINPUT_H
