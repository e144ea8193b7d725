//===- FuseProjections.cpp - projections sharing an input -> one ----------===//
//
// The contract is in passes/Fusion/FusionPasses.td. A fused projection is an
// ordinary qnext.linear whose weight is a qnext.concat_weights of the members'
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

/// A tensor the packer can lay out: a parameter or a split of one.
bool isPackable(Value weight) {
  Operation *def = weight.getDefiningOp();
  if (isa_and_nonnull<ParamOp>(def))
    return true;
  if (isa_and_nonnull<SplitQKVZOp, SplitBAOp>(def))
    return isa_and_nonnull<ParamOp>(def->getOperand(0).getDefiningOp());
  return false;
}

/// A weight the packer can lay out: a packable tensor, or a quantized
/// weight whose values and scales are.
bool isPackableWeight(Value weight) {
  if (auto dq = weight.getDefiningOp<DequantizeOp>())
    return isPackable(dq.getValues()) && isPackable(dq.getScales());
  return isPackable(weight);
}

/// How a weight is stored: its element type, and for a quantized one the
/// values' type, group and packing (projections fuse only with their own
/// kind).
std::tuple<Type, int64_t, bool> storageOf(Value weight) {
  if (auto dq = weight.getDefiningOp<DequantizeOp>())
    return {getElementTypeOrSelf(dq.getValues().getType()), dq.getGroup(),
            dq.getInt4()};
  return {getElementTypeOrSelf(weight.getType()), 0, false};
}

/// Moves the ops that define `weight` (a param, a split and its param, or a
/// dequantize of those) before `point` when they sit after it in the same
/// block; they have no side effects and no other operands.
void hoistBefore(Value weight, Operation *point) {
  Operation *def = weight.getDefiningOp();
  SmallVector<Operation *> chain;
  auto addTensor = [&](Operation *op) {
    if (op->getNumOperands() == 1)
      chain.push_back(op->getOperand(0).getDefiningOp());
    chain.push_back(op);
  };
  if (auto dq = dyn_cast<DequantizeOp>(def)) {
    addTensor(dq.getValues().getDefiningOp());
    addTensor(dq.getScales().getDefiningOp());
  }
  addTensor(def);
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
      // Projections of this block by (input, how the weight is stored), in
      // order.
      llvm::MapVector<std::tuple<Value, Type, int64_t, unsigned>, SmallVector<LinearOp>>
          groups;
      for (auto linear : block->getOps<LinearOp>())
        if (isPackableWeight(linear.getWeight()) && !FusedOp::groupOf(linear)) {
          auto [type, group, int4] = storageOf(linear.getWeight());
          groups[{linear.getInput(), type, group, unsigned(int4)}].push_back(linear);
        }
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
    // The rows side by side (a quantized weight's values and scales each).
    auto concatRows = [&](ArrayRef<Value> parts) -> Value {
      auto type = cast<RankedTensorType>(parts.front().getType());
      return ConcatWeightsOp::create(
          b, loc,
          RankedTensorType::get({rows, type.getDimSize(1)}, type.getElementType()),
          parts, b.getI64IntegerAttr(0));
    };
    Value concat;
    if (auto dq = first.getWeight().getDefiningOp<DequantizeOp>()) {
      SmallVector<Value> values, scales;
      for (Value w : weights) {
        values.push_back(w.getDefiningOp<DequantizeOp>().getValues());
        scales.push_back(w.getDefiningOp<DequantizeOp>().getScales());
      }
      auto wType = cast<RankedTensorType>(first.getWeight().getType());
      // (Values first, then scales: the order the plan lists them in.)
      Value valuesRows = concatRows(values);
      Value scalesRows = concatRows(scales);
      concat = DequantizeOp::create(
          b, loc, RankedTensorType::get({rows, wType.getDimSize(1)}, b.getF32Type()),
          valuesRows, scalesRows, dq.getGroupAttr(), dq.getInt4Attr());
    } else {
      concat = concatRows(weights);
    }
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
    for (LinearOp op : members) {
      Value w = op.getWeight();
      op->erase();
      // A member's dequantize (the fused one reads its values and scales).
      if (auto dq = w.getDefiningOp<DequantizeOp>(); dq && dq->use_empty())
        dq->erase();
    }
    ++numGroups;
    numFused += members.size();
  }
};

} // namespace
