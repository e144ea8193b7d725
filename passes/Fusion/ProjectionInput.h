//===- ProjectionInput.h - what feeds one projection ------------*- C++ -*-===//
//
// Internal to passes/Fusion: the test qnext-fuse-norm-linear and
// qnext-fuse-gate-linear share.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_FUSION_PROJECTIONINPUT_H
#define QNEXT_PASSES_FUSION_PROJECTIONINPUT_H

#include "qnext/Passes/Passes.h"

namespace mlir::qnext {

/// Whether `v` is read by one qnext.linear as its input and by nothing else,
/// directly or through a tensor.collapse_shape (heads merged into the
/// projection's K) that nothing else reads.
inline bool feedsOneProjection(Value v) {
  if (!v.hasOneUse())
    return false;
  Operation *user = *v.getUsers().begin();
  if (auto collapse = dyn_cast<tensor::CollapseShapeOp>(user)) {
    if (!collapse->hasOneUse())
      return false;
    v = collapse.getResult();
    user = *collapse->getUsers().begin();
  }
  auto linear = dyn_cast<LinearOp>(user);
  return linear && linear.getInput() == v;
}

} // namespace mlir::qnext

#endif // QNEXT_PASSES_FUSION_PROJECTIONINPUT_H
