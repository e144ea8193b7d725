//===- FuseProjections.cpp - projections sharing an input -> one ----------===//
//
// The contract is in passes/Passes.td. A fused projection is an ordinary
// qnext.linear whose weight is a qnext.concat_weights of the members'
// weights; the packer lays those rows out once, so nothing downstream knows
// about fusion: the lowering sees one contraction with more rows.
//
//===----------------------------------------------------------------------===//

#include "qnext/Dialect/QNext/LayerStamp.h"
#include "qnext/Passes/Passes.h"

#include "llvm/ADT/MapVector.h"

namespace mlir::qnext {
#define GEN_PASS_DEF_FUSEPROJECTIONS
#include "passes/Passes.h.inc"
} // namespace mlir::qnext

using namespace mlir;
using namespace mlir::qnext;

namespace {

/// A weight the packer can lay out: a parameter or a split of one.
bool isPackable(Value weight) {
  Operation *def = weight.getDefiningOp();
  if (isa_and_nonnull<ParamOp>(def))
    return true;
  if (isa_and_nonnull<SplitQKVZOp, SplitBAOp>(def))
    return isa_and_nonnull<ParamOp>(def->getOperand(0).getDefiningOp());
  return false;
}

/// Moves the ops that define `weight` (a param, or a split and its param)
/// before `point` when they sit after it in the same block; they have no
/// side effects and no other operands.
void hoistBefore(Value weight, Operation *point) {
  Operation *def = weight.getDefiningOp();
  SmallVector<Operation *> chain;
  if (def->getNumOperands() == 1)
    chain.push_back(def->getOperand(0).getDefiningOp());
  chain.push_back(def);
  for (Operation *op : chain)
    if (op->getBlock() == point->getBlock() && point->isBeforeInBlock(op))
      op->moveBefore(point);
}

struct FuseProjectionsPass
    : mlir::qnext::impl::FuseProjectionsBase<FuseProjectionsPass> {
  using FuseProjectionsBase::FuseProjectionsBase;

  void runOnOperation() override {
    int64_t site = 0;
    getOperation()->walk([&](Block *block) {
      // Projections of this block by (input, weight element type), in order.
      llvm::MapVector<std::pair<Value, Type>, SmallVector<LinearOp>> groups;
      for (auto linear : block->getOps<LinearOp>())
        if (isPackable(linear.getWeight()) && !FusedOp::groupOf(linear))
          groups[{linear.getInput(),
                  cast<RankedTensorType>(linear.getWeight().getType())
                      .getElementType()}]
              .push_back(linear);
      for (auto &[key, members] : groups) {
        keepRowMultiple(members);
        if (int64_t(members.size()) >= std::max<int64_t>(minGroup, 2))
          fuse(members, site++ == testMissliceSite);
      }
    });
  }

  /// Drops members until the fused rows are a multiple of `row-multiple`:
  /// first one member whose rows alone fix the remainder (the latest), else
  /// every member whose rows are not a multiple.
  void keepRowMultiple(SmallVector<LinearOp> &members) {
    if (rowMultiple <= 1)
      return;
    auto rowsOf = [](LinearOp op) {
      return cast<RankedTensorType>(op.getWeight().getType()).getDimSize(0);
    };
    int64_t total = 0;
    for (LinearOp op : members)
      total += rowsOf(op);
    if (total % rowMultiple == 0)
      return;
    for (size_t i = members.size(); i-- > 0;)
      if (rowsOf(members[i]) % rowMultiple == total % rowMultiple) {
        members.erase(members.begin() + i);
        return;
      }
    llvm::erase_if(members, [&](LinearOp op) { return rowsOf(op) % rowMultiple; });
  }

  void fuse(ArrayRef<LinearOp> members, bool misslice) {
    LinearOp first = members.front();
    OpBuilder b(first);
    // What replaces the members belongs to their layer.
    LayerStamp stamp;
    stamp.layer = getCommonLayer(llvm::map_to_vector(
        members, [](LinearOp op) { return op.getOperation(); }));
    b.setListener(&stamp);
    Location loc = b.getFusedLoc(llvm::map_to_vector(
        members, [](LinearOp op) { return op.getLoc(); }));
    SmallVector<Value> weights;
    int64_t rows = 0;
    for (LinearOp op : members) {
      hoistBefore(op.getWeight(), first);
      weights.push_back(op.getWeight());
      rows += cast<RankedTensorType>(op.getWeight().getType()).getDimSize(0);
    }
    auto wType = cast<RankedTensorType>(first.getWeight().getType());
    auto concat = ConcatWeightsOp::create(
        b, loc,
        RankedTensorType::get({rows, wType.getDimSize(1)}, wType.getElementType()),
        weights, b.getI64IntegerAttr(0));
    auto xType = cast<RankedTensorType>(first.getInput().getType());
    auto fused = LinearOp::create(
        b, loc,
        RankedTensorType::get({xType.getDimSize(0), rows}, xType.getElementType()),
        first.getInput(), concat);

    // Each member reads its columns of the fused result.
    OpFoldResult tokens = tensor::getMixedSize(b, loc, fused, 0);
    int64_t column = 0;
    for (size_t i = 0; i < members.size(); ++i) {
      LinearOp op = members[i];
      int64_t n = cast<RankedTensorType>(op.getType()).getDimSize(1);
      // test-misslice-site: the last member reads one column too early, the
      // kind of off-by-one a hand-written fused kernel gets wrong.
      int64_t at = misslice && i + 1 == members.size() ? column - 1 : column;
      Value slice = tensor::ExtractSliceOp::create(
          b, op.getLoc(), cast<RankedTensorType>(op.getType()), fused,
          ArrayRef<OpFoldResult>{b.getIndexAttr(0), b.getIndexAttr(at)},
          ArrayRef<OpFoldResult>{tokens, b.getIndexAttr(n)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
      op.getResult().replaceAllUsesWith(slice);
      column += n;
    }
    for (LinearOp op : members)
      op->erase();
    ++numGroups;
    numFused += members.size();
  }
};

} // namespace
