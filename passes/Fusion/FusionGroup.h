//===- FusionGroup.h - grouping ops into qnext.fused ------------*- C++ -*-===//
//
// Internal to passes/Fusion: the fusion passes that keep the ops they fuse
// (swiglu, moe, norm-linear, gate-linear, router) move them into a
// `qnext.fused` group of their kind, which qnext-lower-to-linalg lowers.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_FUSION_FUSIONGROUP_H
#define QNEXT_PASSES_FUSION_FUSIONGROUP_H

#include "qnext/Passes/Passes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallPtrSet.h"

namespace mlir::qnext {

/// Whether `op` is already in a group (a fusion took it).
inline bool isGrouped(Operation *op) { return FusedOp::groupOf(op) != nullptr; }

/// Moves `members` (ops of one block, none grouped) into a new group of
/// `kind` placed where the last of them was; the group yields the members'
/// results that other ops read. Creates nothing and returns null where an op
/// between the members reads one of them (the group, placed at the last
/// member, would come after that reader).
inline FusedOp groupOps(FusionKind kind, ArrayRef<Operation *> members) {
  SmallVector<Operation *> ordered(members.begin(), members.end());
  llvm::sort(ordered, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
  Operation *last = ordered.back();
  Block *block = last->getBlock();
  llvm::SmallPtrSet<Operation *, 8> inGroup(ordered.begin(), ordered.end());
  SmallVector<Value> yielded;
  for (Operation *member : ordered) {
    if (member->getBlock() != block || isGrouped(member))
      return nullptr;
    for (Value result : member->getResults()) {
      bool readOutside = false;
      for (Operation *user : result.getUsers()) {
        if (inGroup.contains(user))
          continue;
        Operation *at = block->findAncestorOpInBlock(*user);
        if (!at || !last->isBeforeInBlock(at))
          return nullptr;
        readOutside = true;
      }
      if (readOutside)
        yielded.push_back(result);
    }
  }
  OpBuilder b(last->getContext());
  b.setInsertionPointAfter(last);
  auto group = FusedOp::create(b, last->getLoc(), ValueRange(yielded).getTypes(),
                               FusionKindAttr::get(b.getContext(), kind));
  setLayerOf(group, ordered);
  Block *body = b.createBlock(&group.getBody());
  for (Operation *member : ordered)
    member->moveBefore(body, body->end());
  b.setInsertionPointToEnd(body);
  YieldOp::create(b, last->getLoc(), yielded);
  for (auto [inner, outer] : llvm::zip(yielded, group.getResults()))
    inner.replaceUsesWithIf(outer, [&](OpOperand &use) {
      return !group->isAncestor(use.getOwner());
    });
  return group;
}

} // namespace mlir::qnext

#endif // QNEXT_PASSES_FUSION_FUSIONGROUP_H
