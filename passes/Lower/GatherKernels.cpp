//===- GatherKernels.cpp - routed experts' contractions as vector code ----===//
//
// A gather contraction reads, for each slot of a token, the rows of the
// expert its selector names: one kernel over the slots' blocks of rows, or,
// with the MoE's weighted combine, one over blocks of output rows that runs
// through the slots and sums in registers.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"

namespace mlir::qnext::kernels {

Value KernelEmitter::selectSlot(Value s) {
  Value id = tensor::ExtractOp::create(b, loc, c.selector, ValueRange{index(0), s});
  Value ex = arith::IndexCastOp::create(b, loc, b.getIndexType(), id);
  blockWeights.clear();
  if (gatherInput) {
    blockInput = gatherInput;
    blockInputRow = c.perSlot ? s : index(0);
  }
  // The expert's [N, K] matrix of a stack (values or scales).
  auto expertOf = [&](Value stacked) -> Value {
    if (!stacked)
      return {};
    auto type = cast<RankedTensorType>(stacked.getType());
    int64_t cols = type.getDimSize(2);
    return tensor::ExtractSliceOp::create(
        b, loc, RankedTensorType::get({c.n, cols}, type.getElementType()), stacked,
        ArrayRef<OpFoldResult>{ex, b.getIndexAttr(0), b.getIndexAttr(0)},
        ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(c.n),
                               b.getIndexAttr(cols)},
        ArrayRef<OpFoldResult>(SmallVector<OpFoldResult>(3, b.getIndexAttr(1))));
  };
  for (const Weight &w : kernelWeights())
    blockWeights.push_back({expertOf(w.values), expertOf(w.scales), w.group, w.int4});
  auto xType = RankedTensorType::get({c.k}, b.getF32Type());
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0)};
  if (c.perSlot)
    offsets.push_back(s);
  offsets.push_back(b.getIndexAttr(0));
  SmallVector<OpFoldResult> sizes(offsets.size() - 1, b.getIndexAttr(1));
  sizes.push_back(b.getIndexAttr(c.k));
  Value x = tensor::ExtractSliceOp::create(
      b, loc, xType, c.x, offsets, sizes,
      SmallVector<OpFoldResult>(offsets.size(), b.getIndexAttr(1)));
  // With activations=bf16, the slot's input row rounded once for the block.
  return takesBF16Dots(blockWeights, c.k) ? roundVectorBF16(x) : x;
}

void KernelEmitter::quantizeGatherInput() {
  SmallVector<Weight> weights = kernelWeights();
  if (!takesInt8Dots(weights, c.k))
    return;
  // x is [1, K], or [1, S, K] with one row a slot.
  gatherInput = quantizeRows(c.x, c.perSlot ? c.slots : 1, c.k, weights[0],
                             [&](Value r, Value k) {
                               return c.perSlot ? SmallVector<Value>{index(0), r, k}
                                                : SmallVector<Value>{r, k};
                             });
}

Value KernelEmitter::emitGather(int64_t rows) {
  sumGroups = true; // one token's experts
  quantizeGatherInput();
  Value dest = kernel.epilogue ? kernel.epilogue.getDpsInits()[0]
                               : c.init.getDefiningOp<linalg::FillOp>().getOutputs()[0];
  int64_t tn = blockFor(c.n, rows), perSlot = c.n / tn;
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(c.slots * perSlot)},
      ValueRange{dest}, std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(forall.getTerminator());
  Value blk = forall.getInductionVar(0);
  Value s = arith::DivUIOp::create(b, loc, blk, index(perSlot));
  Value n0 = arith::MulIOp::create(
      b, loc, arith::RemUIOp::create(b, loc, blk, index(perSlot)), index(tn));
  Value xs = selectSlot(s);
  Value shared = forall.getRegionIterArgs()[0];
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), s, n0};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(1),
                                     b.getIndexAttr(tn)};
  SmallVector<OpFoldResult> strides(3, b.getIndexAttr(1));
  // Not rank-reduced: with one row a block, [1, 1, 1] -> [1] could keep a
  // strided unit dimension.
  Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes,
                                              strides);
  tile = block(tile, /*addInit=*/false, xs, {}, {}, n0, tn, index(0),
               {index(0), index(0)});
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, tile, shared, offsets, sizes,
                                        strides);
  return forall.getResult(0);
}

Value KernelEmitter::emitGatherCombine(int64_t rows) {
  sumGroups = true; // one token's experts
  if (c.k < kShortRow)
    rows *= 2;
  linalg::GenericOp combine = kernel.combine;
  Value slotWeights = combine.getDpsInputs()[1];
  Value dest = combine.getDpsInits()[0].getDefiningOp<linalg::FillOp>().getOutputs()[0];
  int64_t tn = blockFor(c.n, rows);
  quantizeGatherInput();
  // The shared expert's input, quantized too when its blocks take it.
  std::optional<QuantizedInput> qxShared;
  if (kernel.sharedDown &&
      takesInt8Dots({weightOf(*kernel.sharedDown)}, kernel.sharedDown->k))
    qxShared = quantizeRows(kernel.sharedDown->x, 1, kernel.sharedDown->k,
                            weightOf(*kernel.sharedDown),
                            [](Value r, Value k) { return SmallVector<Value>{r, k}; });
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(c.n / tn)}, ValueRange{dest},
      std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(forall.getTerminator());
  Value n0 = arith::MulIOp::create(b, loc, forall.getInductionVar(0), index(tn));
  auto rowType = VectorType::get({tn}, b.getF32Type());
  Value zero = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(rowType, b.getF32FloatAttr(0.0).getValue()));
  auto slots = scf::ForOp::create(
      b, loc, index(0), index(c.slots), index(1), ValueRange{zero},
      [&](OpBuilder &, Location, Value s, ValueRange acc) {
        Value xs = selectSlot(s);
        Value row = blockRows(xs, {}, 1, n0, tn)[0];
        Value w = tensor::ExtractOp::create(b, loc, slotWeights,
                                            ValueRange{index(0), s});
        Value ws = vector::BroadcastOp::create(b, loc, rowType, w);
        // The combine's own order: acc + w * d.
        scf::YieldOp::create(
            b, loc,
            ValueRange{arith::AddFOp::create(
                b, loc, acc[0], arith::MulFOp::create(b, loc, ws, row))});
      });
  Value sum = slots.getResult(0);
  if (kernel.sharedDown) {
    // The shared expert's rows of this block, gated, added as the add
    // generic adds them (its operand order).
    const Contraction &d = *kernel.sharedDown;
    blockWeights = {weightOf(d)};
    blockInput = qxShared;
    blockInputRow = index(0);
    Value down = blockRows(d.x, {index(0)}, 1, n0, tn, d.k)[0];
    Value logit = tensor::ExtractOp::create(
        b, loc, kernel.sharedGate.getDpsInputs()[1], ValueRange{index(0), index(0)});
    Value gated = applyBody(kernel.sharedGate,
                            {down, vector::BroadcastOp::create(b, loc, rowType, logit)},
                            tn);
    Value routed = kernel.combine.getResult(0);
    sum = kernel.sharedAdd.getDpsInputs()[0] == routed
              ? applyBody(kernel.sharedAdd, {sum, gated}, tn)
              : applyBody(kernel.sharedAdd, {gated, sum}, tn);
  }
  Value shared = forall.getRegionIterArgs()[0];
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
  SmallVector<OpFoldResult> sizes = {b.getIndexAttr(1), b.getIndexAttr(tn)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes,
                                              strides);
  tile = vector::TransferWriteOp::create(b, loc, sum, tile,
                                         ValueRange{index(0), index(0)},
                                         ArrayRef<bool>{true})
             .getResult();
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, tile, shared, offsets, sizes,
                                        strides);
  return forall.getResult(0);
}
} // namespace mlir::qnext::kernels
