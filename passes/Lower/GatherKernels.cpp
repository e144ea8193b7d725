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

void KernelEmitter::selectExpert(Value id) {
  Value ex = arith::IndexCastOp::create(b, loc, b.getIndexType(), id);
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
  blockWeights.clear();
  for (const Weight &w : kernelWeights())
    blockWeights.push_back({expertOf(w.values), expertOf(w.scales), w.group, w.int4});
}

Value KernelEmitter::selectSlot(Value s) {
  selectExpert(tensor::ExtractOp::create(b, loc, c.selector, ValueRange{index(0), s}));
  if (gatherInput) {
    blockInput = gatherInput;
    blockInputRow = c.perSlot ? s : index(0);
  }
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
  gatherInput = quantizeRows(c.x, b.getIndexAttr(c.perSlot ? c.slots : 1), c.k,
                             weights[0], [&](Value r, Value k) {
                               return c.perSlot ? SmallVector<Value>{index(0), r, k}
                                                : SmallVector<Value>{r, k};
                             });
}

Value KernelEmitter::emitGather(int64_t rows) {
  oneToken = true; // one token's experts
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
  oneToken = true; // one token's experts
  if (c.k < kShortRow)
    rows *= 2;
  // Byte dots (activations=int8) take as many more rows as their weights
  // are narrower than bf16 (int8 twice, int4 four times): a block reads
  // the same bytes of each slot's rows. While at least kMinCombineBlocks
  // blocks remain for the threads.
  if (takesInt8Dots(kernelWeights(), c.k))
    for (int64_t more = c.int4 ? 4 : 2; more > 1; more /= 2)
      if (c.n / (rows * more) >= kMinCombineBlocks) {
        rows *= more;
        break;
      }
  linalg::GenericOp combine = kernel.combine;
  Value slotWeights = combine.getDpsInputs()[1];
  Value dest = combine.getDpsInits()[0].getDefiningOp<linalg::FillOp>().getOutputs()[0];
  int64_t tn = blockFor(c.n, rows);
  quantizeGatherInput();
  // The shared expert's input, quantized too when its blocks take it.
  std::optional<QuantizedInput> qxShared;
  if (kernel.sharedDown &&
      takesInt8Dots({weightOf(*kernel.sharedDown)}, kernel.sharedDown->k))
    qxShared = quantizeRows(kernel.sharedDown->x, b.getIndexAttr(1), kernel.sharedDown->k,
                            weightOf(*kernel.sharedDown));
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

Value KernelEmitter::runLength(Value p, Value rows, Value expert, int64_t tm) {
  // 1 + the count of rows p + 1, p + 2, ... (up to tm - 1 of them, all
  // before `rows`) that name `expert` without a break.
  Value length = index(1);
  Value alive = arith::ConstantIntOp::create(b, loc, 1, 1);
  Value last = arith::SubIOp::create(b, loc, rows, index(1));
  for (int64_t j = 1; j < tm; ++j) {
    Value q = arith::AddIOp::create(b, loc, p, index(j));
    Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, q, rows);
    Value at = arith::MinUIOp::create(b, loc, q, last);
    Value id = tensor::ExtractOp::create(b, loc, c.selector, ValueRange{at});
    Value same = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, id, expert);
    alive = arith::AndIOp::create(b, loc, alive,
                                  arith::AndIOp::create(b, loc, inside, same));
    length = arith::AddIOp::create(
        b, loc, length, arith::SelectOp::create(b, loc, alive, index(1), index(0)));
  }
  return length;
}

Value KernelEmitter::emitRowGather(int64_t tokenRows, int64_t tokenBlockRows,
                                   int64_t tasks) {
  // Several rows (tokens), as a prompt's.
  oneToken = false;
  // Short rows (the down projection's) one after the other: tn interleaved
  // streams of 1 KB rows are read at a fraction of the bandwidth.
  rowAfterRow = c.k < kShortRow;
  Value dest = kernel.epilogue ? kernel.epilogue.getDpsInits()[0]
                               : c.init.getDefiningOp<linalg::FillOp>().getOutputs()[0];
  // Blocks shaped as emit()'s several tokens (rows one after the other
  // keep no splat per interleaved row: all of token-rows).
  int64_t tn = blockFor(c.n, weightRowsOfBlock(tokenBlockRows));
  int64_t tm = std::max<int64_t>(
      rowAfterRow ? tokenRows : tokensOfBlock(tn, tokenRows, tokenBlockRows), 1);
  int64_t chunk = tn * blockFor(c.n / tn, std::max<int64_t>(c.n / tn / tasks, 1));
  Value rows = tensor::DimOp::create(b, loc, c.x, 0);
  // activations=bf16: every row rounded once, before the tasks that all
  // read them.
  Value xs = c.x;
  if (takesBF16Dots(kernelWeights(), c.k)) {
    bf16Input = roundRowsBF16(c.x, index(0), rows);
    xs = bf16Input;
  }
  // activations=int8: every row quantized once, before the tasks; a
  // block's rows are its tokens' (base 0).
  if (takesInt8Dots(kernelWeights(), c.k)) {
    blockInput = quantizeRows(c.x, rows, c.k, weightOf(c));
    int8Tokens = true;
  }
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(c.n / chunk)}, ValueRange{dest},
      std::nullopt);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPoint(forall.getTerminator());
  Value n0 = arith::MulIOp::create(b, loc, forall.getInductionVar(0), index(chunk));
  Value shared = forall.getRegionIterArgs()[0];
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, dest, 0),
                                     b.getIndexAttr(chunk)};
  SmallVector<OpFoldResult> strides(2, b.getIndexAttr(1));
  Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes, strides);
  // The rows in runs of one expert, at most tm a block: row p starts a
  // block when it is `next`, the row after the previous block.
  auto perRow = scf::ForOp::create(
      b, loc, index(0), rows, index(1), ValueRange{tile, index(0)},
      [&](OpBuilder &, Location, Value p, ValueRange iter) {
        Value starts =
            arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, p, iter[1]);
        auto ifStarts = scf::IfOp::create(
            b, loc, TypeRange{iter[0].getType(), b.getIndexType()}, starts,
            /*withElseRegion=*/true);
        {
          OpBuilder::InsertionGuard inThen(b);
          b.setInsertionPointToStart(ifStarts.thenBlock());
          Value expert = tensor::ExtractOp::create(b, loc, c.selector, ValueRange{p});
          Value length = runLength(p, rows, expert, tm);
          selectExpert(expert);
          Value written = blockOfCount(
              iter[0], length, tm, p, [&](Value tile, ArrayRef<Value> run) {
                // The block's inputs, read from L1 by each tn rows of the chunk.
                return scf::ForOp::create(
                           b, loc, index(0), index(chunk), index(tn), ValueRange{tile},
                           [&](OpBuilder &, Location, Value r, ValueRange in) {
                             Value rowsOfW = arith::AddIOp::create(b, loc, n0, r);
                             scf::YieldOp::create(b, loc,
                                                  block(in[0], /*addInit=*/false, xs,
                                                        run, run, rowsOfW, tn, r));
                           })
                    .getResult(0);
              });
          scf::YieldOp::create(
              b, loc, ValueRange{written, arith::AddIOp::create(b, loc, p, length)});
        }
        {
          OpBuilder::InsertionGuard inElse(b);
          b.setInsertionPointToStart(ifStarts.elseBlock());
          scf::YieldOp::create(b, loc, ValueRange{iter[0], iter[1]});
        }
        scf::YieldOp::create(b, loc, ifStarts.getResults());
      });
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, perRow.getResult(0), shared, offsets,
                                        sizes, strides);
  return forall.getResult(0);
}
} // namespace mlir::qnext::kernels
