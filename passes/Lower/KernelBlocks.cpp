//===- KernelBlocks.cpp - a block of weight rows times a block of tokens --===//
//
// The microkernel every dense kernel's loops call: tn weight rows times tm
// tokens, accumulated over K and written into the kernel's tile. One token
// runs its rows one after the other, each with its own K loop and
// horizontal sum; several tokens share one K loop, each weight vector
// loaded once and used for every token. The weights' decoding is in
// DecodeWeights.cpp, the byte dots in Int8Dots.cpp, the bf16 pairs in
// BF16Dots.cpp; the loops around a block in KernelEmitter.cpp.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

namespace mlir::qnext::kernels {

Value KernelEmitter::block(Value tile, bool addInit, Value xs, ArrayRef<Value> xTokens,
                           ArrayRef<Value> outTokens, Value n0, int64_t tn, Value col,
                           ArrayRef<Value> outPrefix) {
  SmallVector<Value> rowsOut =
      blockRows(xs, xTokens, std::max<int64_t>(outTokens.size(), 1), n0, tn);
  auto rowType = VectorType::get({tn}, b.getF32Type());
  for (auto [j, row] : llvm::enumerate(rowsOut)) {
    SmallVector<Value> outIdx(outPrefix.begin(), outPrefix.end());
    if (!outTokens.empty())
      outIdx.push_back(outTokens[j]);
    outIdx.push_back(col);
    if (addInit) {
      // The window still holds the init's values (it is a slice of them).
      Value pad = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0));
      Value prior = vector::TransferReadOp::create(b, loc, rowType, tile, outIdx, pad,
                                                   ArrayRef<bool>{true});
      row = arith::AddFOp::create(b, loc, row, prior);
    }
    tile =
        vector::TransferWriteOp::create(b, loc, row, tile, outIdx, ArrayRef<bool>{true})
            .getResult();
  }
  return tile;
}

SmallVector<Value> KernelEmitter::blockRows(Value xs, ArrayRef<Value> xTokens, int64_t tm,
                                            Value n0, int64_t tn, int64_t kExtent) {
  if (kExtent == 0)
    kExtent = c.k;
  Type f32 = b.getF32Type();
  auto accType = VectorType::get({vl}, f32);
  Value zero = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(accType, b.getF32FloatAttr(0.0).getValue()));
  // The weights read: one contraction's, or both of a fused pair's
  // (accumulators [weight][token][row]).
  SmallVector<Weight> weights = blockWeights;
  if (weights.empty())
    weights = kernelWeights();
  auto tokenInput = [&](int64_t j, Value k) {
    return xTokens.empty() ? read(xs, {k}, f32) : read(xs, {xTokens[j], k}, f32);
  };
  auto rowType = VectorType::get({tn}, f32);
  // activations=bf16: the inputs rounded to bf16, pairs of columns
  // multiplied and summed into f32 lanes (BF16Dots.cpp), 2 x vl a step.
  const bool bf16 = takesBF16Dots(weights, kExtent);
  auto tokenInputBF16 = [&](int64_t j, Value k) {
    return xTokens.empty() ? inputBF16(xs, {k}) : inputBF16(xs, {xTokens[j], k});
  };
  if (tm == 1 || rowAfterRow) {
    // One token: nothing to reuse a weight vector for, so the block runs
    // its rows one after the other (an scf.for over them), each with its
    // own K loop and horizontal sum: the block's weights are read in
    // memory order. (Interleaving the rows' loops reads tn streams of one
    // row each, which the hardware prefetchers follow badly when rows are
    // short.) Each accumulator sums the same products in the same order
    // (a quantized weight's, per group then scaled, in a one-token kernel).
    // A row gather's blocks of short rows (rowAfterRow) run the same way,
    // each weight vector used for the block's tm tokens.
    const int64_t numWeights = weights.size();
    // An int8 dot's input rows (blockInput): the tokens' among the tile's,
    // or the kernel's one row.
    SmallVector<Value> int8Rows;
    assert((!blockInput || int8Tokens || tm == 1) && "one row for one token");
    if (blockInput)
      int8Rows = int8Tokens ? SmallVector<Value>(xTokens.begin(), xTokens.end())
                            : SmallVector<Value>{blockInputRow};
    SmallVector<Value> zeros(tm, zero);
    // One row's sums, an accumulator per weight and token ([m][j]).
    auto rowSums = [&](Value row) {
      SmallVector<Value> sums;
      for (int64_t m = 0; m < numWeights; ++m) {
        // (A quantized row's scale multiplies each group's sum.)
        SmallVector<Value> acc =
            blockInput ? sweepInt8({weights[m]}, {row}, *blockInput, int8Rows, kExtent)
            : bf16
                ? sweepBF16(kExtent, zeros,
                            [&](Value k, ValueRange a) {
                              // The terms into one accumulator, in the
                              // order a block of several tokens adds
                              // them: a token's row is the same in
                              // either.
                              Value w = read(weights[m].values, {row, k}, b.getBF16Type(),
                                             2 * vl);
                              SmallVector<Value> out;
                              for (int64_t j = 0; j < tm; ++j)
                                out.push_back(dpbf16Terms(a[j], w, tokenInputBF16(j, k)));
                              return out;
                            })
                : sweepK(
                      kExtent, zeros, {{weights[m], row}},
                      [&](const KStep &at, ArrayRef<Value> scales, ValueRange a) {
                        Value w = load(weights[m], row, at,
                                       scales.empty() ? Value() : scales[0]);
                        SmallVector<Value> out;
                        for (int64_t j = 0; j < tm; ++j)
                          out.push_back(vector::FMAOp::create(b, loc, w,
                                                              tokenInput(j, at.k), a[j]));
                        return out;
                      },
                      // Each token's sum scaled once a group: the same
                      // arithmetic as a block of several tokens.
                      /*scaleSums=*/true, SmallVector<int64_t>(tm, 0));
        for (int64_t j = 0; j < tm; ++j)
          sums.push_back(vector::ReductionOp::create(
              b, loc, vector::CombiningKind::ADD, acc[j], arith::FastMathFlags::reassoc));
      }
      return sums;
    };
    // The rows in steps of `unroll`, each step's rows one after the other,
    // their sums gathered into a vector<unroll> per weight and token by
    // static inserts and kept in registers: a vector<tn> carried through
    // the loop and written at the row's (dynamic) lane went through the
    // stack every row, a scalar store and a wide reload that cannot be
    // forwarded, in the loop's critical path. The steps' vectors are
    // carried one per step of the block, each replaced (a select) where
    // the step is its own. At least two steps: a loop of one iteration
    // folds away, and its rows' K loops would stand alone in the kernel.
    int64_t unroll = 1;
    while (unroll < std::min<int64_t>(vl, 8) && tn % (4 * unroll) == 0)
      unroll *= 2;
    // (A block whose rows do not pair, e.g. 3, keeps one vector<tn> a
    // weight and token, each row's sum inserted at its lane.)
    const bool inSteps = unroll > 1;
    const int64_t steps = tn / unroll;
    const int64_t carried = inSteps ? steps : 1;
    auto carriedType = inSteps ? VectorType::get({unroll}, f32) : rowType;
    Value zeroCarried = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(carriedType, b.getF32FloatAttr(0.0).getValue()));
    const int64_t numOut = numWeights * tm;
    auto rowLoop = scf::ForOp::create(
        b, loc, index(0), index(tn), index(unroll),
        SmallVector<Value>(numOut * carried, zeroCarried),
        [&](OpBuilder &, Location, Value r, ValueRange in) {
          SmallVector<Value> next(in.begin(), in.end());
          if (!inSteps) {
            SmallVector<Value> sums = rowSums(arith::AddIOp::create(b, loc, n0, r));
            for (int64_t m = 0; m < numWeights; ++m)
              for (int64_t j = 0; j < tm; ++j) {
                Value &out = next[j * numWeights + m];
                out = vector::InsertOp::create(b, loc, sums[m * tm + j], out,
                                               ArrayRef<OpFoldResult>{r});
              }
            scf::YieldOp::create(b, loc, next);
            return;
          }
          SmallVector<Value> step(numOut, zeroCarried);
          for (int64_t u = 0; u < unroll; ++u) {
            Value row = arith::AddIOp::create(
                b, loc, n0, u == 0 ? r : arith::AddIOp::create(b, loc, r, index(u)));
            SmallVector<Value> sums = rowSums(row);
            for (int64_t m = 0; m < numWeights; ++m)
              for (int64_t j = 0; j < tm; ++j) {
                Value &out = step[j * numWeights + m];
                out = vector::InsertOp::create(b, loc, sums[m * tm + j], out,
                                               ArrayRef<int64_t>{u});
              }
          }
          for (int64_t o = 0; o < numOut; ++o)
            for (int64_t i = 0; i < steps; ++i) {
              Value here = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::eq, r,
                                                 index(i * unroll));
              Value &out = next[o * steps + i];
              out = arith::SelectOp::create(b, loc, here, step[o], out);
            }
          scf::YieldOp::create(b, loc, next);
        });
    // Each weight's and token's vector<tn>, its steps in order.
    auto outOf = [&](int64_t o) -> Value {
      if (!inSteps)
        return rowLoop.getResult(o);
      Value full = arith::ConstantOp::create(
          b, loc, DenseElementsAttr::get(rowType, b.getF32FloatAttr(0.0).getValue()));
      for (int64_t i = 0; i < steps; ++i)
        full = vector::InsertStridedSliceOp::create(
            b, loc, rowLoop.getResult(o * steps + i), full, ArrayRef<int64_t>{i * unroll},
            ArrayRef<int64_t>{1});
      return full;
    };
    SmallVector<Value> rows;
    for (int64_t j = 0; j < tm; ++j) {
      SmallVector<Value> rowsOut;
      for (int64_t m = 0; m < numWeights; ++m)
        rowsOut.push_back(outOf(j * numWeights + m));
      rows.push_back(kernel.epilogue ? applyBody(kernel.epilogue, rowsOut, tn)
                                     : rowsOut[0]);
    }
    return rows;
  }

  // Several tokens: one K loop for the block, each weight vector loaded
  // once and used for every token.
  const int64_t perWeight = tm * tn;
  SmallVector<Value> rowsOfW;
  for (int64_t r = 0; r < tn; ++r)
    rowsOfW.push_back(r == 0 ? n0
                             : arith::AddIOp::create(b, loc, n0, index(r)).getResult());
  SmallVector<Value> zeros(weights.size() * perWeight, zero);
  SmallVector<std::pair<Weight, Value>> blockRowsRead;
  for (const Weight &weight : weights)
    for (int64_t r = 0; r < tn; ++r)
      blockRowsRead.push_back({weight, rowsOfW[r]});
  // Accumulator [weight][token][row] sums blockRowsRead[weight][row].
  SmallVector<int64_t> rowOfAccumulator;
  for (size_t m = 0; m < weights.size(); ++m)
    for (int64_t j = 0; j < tm; ++j)
      for (int64_t r = 0; r < tn; ++r)
        rowOfAccumulator.push_back(int64_t(m) * tn + r);
  auto bf16Step = [&](Value k, ValueRange in) {
    SmallVector<SmallVector<Value, 2>> xv;
    SmallVector<Value> next(in.begin(), in.end());
    for (int64_t j = 0; j < tm; ++j)
      xv.push_back(tokenInputBF16(j, k));
    for (auto [m, weight] : llvm::enumerate(weights))
      for (int64_t r = 0; r < tn; ++r) {
        Value w = read(weight.values, {rowsOfW[r], k}, b.getBF16Type(), 2 * vl);
        for (int64_t j = 0; j < tm; ++j) {
          Value &a = next[m * perWeight + j * tn + r];
          a = dpbf16Terms(a, w, xv[j]);
        }
      }
    return next;
  };
  auto f32Step = [&](const KStep &at, ArrayRef<Value> scales, ValueRange in) {
    SmallVector<Value> xv, next(in.begin(), in.end());
    for (int64_t j = 0; j < tm; ++j)
      xv.push_back(tokenInput(j, at.k));
    for (auto [m, weight] : llvm::enumerate(weights))
      for (int64_t r = 0; r < tn; ++r) {
        Value w =
            load(weight, rowsOfW[r], at, scales.empty() ? Value() : scales[m * tn + r]);
        for (int64_t j = 0; j < tm; ++j) {
          Value &a = next[m * perWeight + j * tn + r];
          a = vector::FMAOp::create(b, loc, w, xv[j], a);
        }
      }
    return next;
  };
  // activations=int8: the tile's quantized rows times the weights' bytes.
  assert((!blockInput || int8Tokens) && "a block of several tokens reads its rows");
  SmallVector<Value> accs;
  if (blockInput)
    accs = sweepInt8(weights, rowsOfW, *blockInput, xTokens, kExtent);
  else if (bf16)
    accs = sweepBF16(kExtent, zeros, bf16Step);
  else
    // A quantized row's sums scaled once a group (and not each decoded
    // vector): a token's row is the same arithmetic in a block of any
    // size, and in a one-token block.
    accs = sweepK(kExtent, zeros, blockRowsRead, f32Step, /*scaleSums=*/true,
                  rowOfAccumulator);

  SmallVector<Value> rows;
  for (int64_t j = 0; j < tm; ++j) {
    SmallVector<Value> rowsOut;
    for (size_t m = 0; m < weights.size(); ++m) {
      SmallVector<Value> sums;
      for (int64_t r = 0; r < tn; ++r)
        sums.push_back(vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                                   accs[m * perWeight + j * tn + r],
                                                   arith::FastMathFlags::reassoc));
      rowsOut.push_back(vector::FromElementsOp::create(b, loc, rowType, sums));
    }
    rows.push_back(kernel.epilogue ? applyBody(kernel.epilogue, rowsOut, tn)
                                   : rowsOut[0]);
  }
  return rows;
}

} // namespace mlir::qnext::kernels
