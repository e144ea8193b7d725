//===- KernelEmitter.cpp - a matched kernel as register-blocked vector code ===//
//
// A projection is the bulk of every token's work and, for one token, pure
// weight streaming: the kernel keeps the accumulators in registers, reads
// each weight vector once per block of tokens and widens it with integer
// ops, so the loop runs at the speed the memory delivers weights. The
// blocks its loops call (rows times tokens) are in KernelBlocks.cpp, the
// gather contractions of routed experts in GatherKernels.cpp, the weights'
// decoding in DecodeWeights.cpp, the byte dots in Int8Dots.cpp, the bf16
// pairs in BF16Dots.cpp.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::qnext::kernels {

Value KernelEmitter::emit(int64_t rows, int64_t tokenRows, int64_t tokenBlockRows,
                          int64_t prologueTasks, int64_t tokenTile) {
  // A zero fill as the init contributes nothing: write into its
  // destination instead of adding it. An epilogue writes its own result.
  Value dest = c.init;
  bool addInit = true;
  if (kernel.epilogue) {
    dest = kernel.epilogue.getDpsInits()[0];
    addInit = false;
  } else if (isZeroFill(c.init)) {
    dest = c.init.getDefiningOp<linalg::FillOp>().getOutputs()[0];
    addInit = false;
  }
  // [1, K] (a decode step) is one token too: no token loop, the
  // one-token row block.
  bool oneRow = c.multiToken &&
                cast<RankedTensorType>(c.x.getType()).getDimSize(0) == 1;
  // A dynamic row count (e.g. attention over the cached positions) takes
  // one row per block. Several tokens keep tokens x rows accumulators per
  // weight; a fused pair (two weights) takes half the rows, so that the
  // block still fits the registers it was sized for.
  int64_t tn = ShapedType::isDynamic(c.n)
                   ? 1
                   : blockFor(c.n, c.multiToken && !oneRow
                                       ? weightRowsOfBlock(tokenBlockRows)
                                       : rows);
  if (c.multiToken && !oneRow)
    tokenRows = tokensOfBlock(tn, tokenRows, tokenBlockRows);
  // A kernel of one token (decode, a vector input). (Every block of
  // quantized weights, of one token or several, scales each group's sum
  // once, blockRows: a token's logits do not depend on how the prompt is
  // cut into blocks or chunks.)
  oneToken = !c.multiToken || oneRow;
  // With a prologue, each task is a chunk of row blocks that computes the
  // prologue's rows once (per span of tokens) for all of them: about
  // `prologueTasks` tasks (with activations=int8 they quantize them there
  // too: a one-token kernel per task, several tokens per span).
  int64_t chunk = tn;
  // So does a one-token kernel that rounds its input to bf16
  // (activations=bf16): once per task, not per row block.
  if (kernel.prologue || (oneToken && takesBF16Dots(kernelWeights(), c.k)))
    chunk = tn * blockFor(c.n / tn, std::max<int64_t>(c.n / tn / prologueTasks, 1));
  // A one-token kernel without a prologue that quantizes its input
  // (activations=int8): once, before the tasks that all read it. (Per task,
  // it cost a routed expert's kernels, 512 rows in 16 tasks, about as much
  // as their dots.)
  if (oneToken && !kernel.prologue && takesInt8Dots(kernelWeights(), c.k)) {
    blockInput =
        quantizeRows(c.x, b.getIndexAttr(1), c.k, weightOf(c), [&](Value r, Value k) {
          return c.multiToken ? SmallVector<Value>{r, k} : SmallVector<Value>{k};
        });
    blockInputRow = index(0);
  }
  OpFoldResult blocks = ShapedType::isDynamic(c.n)
                            ? tensor::getMixedSize(b, loc, c.w, 0)
                            : OpFoldResult(b.getIndexAttr(c.n / chunk));
  OpBuilder::InsertionGuard guard(b);
  // Several tokens: the kernel runs on tiles of `tokenTile` tokens, one
  // after the other, so that a tile's inputs stay in cache while every
  // row block reads them (the weights are read once per tile).
  bool manyTokens = c.multiToken && !oneRow;
  scf::ForOp tiles;
  Value tokenLo, tokenHi;
  // AMX kernels take tiles of kAMXTokenTile tokens whatever token-tile
  // says (when it is set): their blocks are bound by the tiles' reads, not
  // by registers, so a larger token tile (4x the pipeline's 64) reads each
  // weight less often (its packed input, 1 MB for K = 2048, stays in L2).
  bool onTiles = manyTokens && takesAMX();
  if (onTiles && tokenTile > 0)
    tokenTile = kAMXTokenTile / bf16Terms; // the packed terms, 1 MB for K = 2048
  if (manyTokens) {
    Value t = tensor::DimOp::create(b, loc, dest, 0);
    tokenLo = index(0);
    tokenHi = t;
    if (tokenTile > 0) {
      tiles = scf::ForOp::create(b, loc, index(0), t, index(tokenTile),
                                 ValueRange{dest});
      b.setInsertionPointToStart(tiles.getBody());
      tokenLo = tiles.getInductionVar();
      tokenHi = arith::MinUIOp::create(
          b, loc, arith::AddIOp::create(b, loc, tokenLo, index(tokenTile)), t);
      dest = tiles.getRegionIterArgs()[0];
    }
  }
  // AMX tiles (AMXTiles.cpp): the tile's tokens packed once, then a forall
  // over blocks of weight rows.
  if (onTiles) {
    Value result = emitAMX(dest, addInit, tokenLo, tokenHi);
    if (!tiles)
      return result;
    scf::YieldOp::create(b, loc, result);
    return tiles.getResult(0);
  }
  // activations=bf16 with several tokens: the tile's input rows rounded to
  // bf16 once, before the row blocks that all read them (a prologue's rows
  // are rounded where each task computes them).
  if (manyTokens && !kernel.prologue && takesBF16Dots(kernelWeights(), c.k)) {
    bf16Input = roundRowsBF16(c.x, tokenLo, tokenHi);
    tileInputBase = tokenLo;
  }
  // activations=int8 with several tokens (prompts, batched decode): the
  // tile's input rows quantized once, before the row blocks that all read
  // them, each row as a one-token kernel quantizes its own.
  if (manyTokens && !kernel.prologue && takesInt8Dots(kernelWeights(), c.k)) {
    Value count = arith::SubIOp::create(b, loc, tokenHi, tokenLo);
    blockInput = quantizeRows(c.x, count, c.k, weightOf(c), [&](Value r, Value k) {
      return SmallVector<Value>{arith::AddIOp::create(b, loc, tokenLo, r), k};
    });
    tileInputBase = tokenLo;
    int8Tokens = true;
  }
  auto forall = scf::ForallOp::create(b, loc, ArrayRef<OpFoldResult>{blocks},
                                      ValueRange{dest}, std::nullopt);
  if (tiles)
    scf::YieldOp::create(b, loc, forall.getResults());
  b.setInsertionPoint(forall.getTerminator());
  Value n0 = arith::MulIOp::create(b, loc, forall.getInductionVar(0), index(chunk));
  Value shared = forall.getRegionIterArgs()[0];

  SmallVector<OpFoldResult> offsets, sizes, strides;
  if (c.multiToken) {
    offsets = {b.getIndexAttr(0), n0};
    // Tokens: the result's rows (a prologue's x goes away).
    sizes = {tensor::getMixedSize(b, loc, dest, 0), b.getIndexAttr(chunk)};
    strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
  } else {
    offsets = {n0};
    sizes = {b.getIndexAttr(chunk)};
    strides = {b.getIndexAttr(1)};
  }
  Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes, strides);
  if (!c.multiToken) {
    tile = tokenBlock(tile, addInit, {}, n0, tn, chunk);
  } else if (oneRow) {
    tile = tokenBlock(tile, addInit, {index(0)}, n0, tn, chunk);
  } else if (kernel.prologue) {
    tile = prologueSpans(tile, addInit, tokenLo, tokenHi,
                         std::max<int64_t>(tokenRows, 1), n0, tn, chunk,
                         tokenTile > 0 ? tokenTile : kPrologueSpan);
  } else {
    // The tokens [tokenLo, tokenHi) in blocks of tokenRows, the rest as
    // one smaller block.
    tile = tokenBlocks(tile, tokenLo, tokenHi, std::max<int64_t>(tokenRows, 1),
                       [&](Value t, ArrayRef<Value> tokens) {
                         return tokenBlock(t, addInit, tokens, n0, tn, chunk);
                       });
  }
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, tile, shared, offsets, sizes,
                                        strides);
  return tiles ? tiles.getResult(0) : forall.getResult(0);
}

Value KernelEmitter::fullBlocksEnd(Value lo, Value hi, int64_t tm) {
  Value span = arith::SubIOp::create(b, loc, hi, lo);
  return arith::AddIOp::create(
      b, loc, lo,
      arith::MulIOp::create(
          b, loc, arith::DivUIOp::create(b, loc, span, index(tm)), index(tm)));
}

int64_t KernelEmitter::weightRowsOfBlock(int64_t tokenBlockRows) const {
  return kernel.second ? std::max<int64_t>(tokenBlockRows / 2, 1) : tokenBlockRows;
}

int64_t KernelEmitter::tokensOfBlock(int64_t tn, int64_t tokenRows,
                                     int64_t tokenBlockRows) const {
  if (!c.scales)
    return tokenRows;
  // In the K loop, per token a group sum per held row (int4 also holds each
  // row's bytes); the inputs can be read by the FMAs themselves. The
  // accumulators are touched once a group: they may live in memory.
  int64_t held = (kernel.second ? 2 : 1) * tn;
  int64_t budget = tokenRows * (tokenBlockRows + 1) + 1;
  int64_t extra = c.int4 ? held : 0;
  // e4m3's decoding (DecodeWeights.cpp) holds its mask and two steps of a
  // weight vector, and LLVM keeps each token's input in a register for the
  // block's rows: of the vector registers (16 AVX2, 32 AVX-512), per token
  // its sums and its input, and three. (AVX-512's 6 tokens x 4 rows spilled
  // sums to the stack and shuffled registers every K step.)
  if (isa<Float8E4M3FNType>(getElementTypeOrSelf(c.w.getType()))) {
    int64_t registers = vl >= 16 ? 32 : 16;
    return std::clamp<int64_t>((registers - 3) / (held + 1), 1, tokenRows);
  }
  return std::clamp<int64_t>((budget - 1 - extra) / held, 1, tokenRows);
}

SmallVector<Value> KernelEmitter::tokensFrom(Value t0, int64_t count) {
  SmallVector<Value> tokens = {t0};
  for (int64_t j = 1; j < count; ++j)
    tokens.push_back(arith::AddIOp::create(b, loc, t0, index(j)));
  return tokens;
}

Value KernelEmitter::blockOfCount(
    Value tile, Value count, int64_t maxCount, Value first,
    function_ref<Value(Value, ArrayRef<Value>)> emitBlock) {
  SmallVector<int64_t> counts = llvm::to_vector(llvm::seq<int64_t>(1, maxCount + 1));
  auto byCount = scf::IndexSwitchOp::create(b, loc, TypeRange{tile.getType()}, count,
                                            counts, counts.size());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&byCount.getDefaultRegion().emplaceBlock());
  scf::YieldOp::create(b, loc, tile);
  for (auto [n, region] : llvm::zip(counts, byCount.getCaseRegions())) {
    b.setInsertionPointToStart(&region.emplaceBlock());
    scf::YieldOp::create(b, loc, emitBlock(tile, tokensFrom(first, n)));
  }
  return byCount.getResult(0);
}

Value KernelEmitter::tokenBlocks(Value tile, Value lo, Value hi, int64_t tm,
                                 function_ref<Value(Value, ArrayRef<Value>)> emitBlock) {
  Value full = fullBlocksEnd(lo, hi, tm);
  auto loop = scf::ForOp::create(
      b, loc, lo, full, index(tm), ValueRange{tile},
      [&](OpBuilder &, Location, Value t0, ValueRange iter) {
        scf::YieldOp::create(b, loc, emitBlock(iter[0], tokensFrom(t0, tm)));
      });
  tile = loop.getResult(0);
  if (tm == 1)
    return tile;
  Value left = arith::SubIOp::create(b, loc, hi, full);
  return blockOfCount(tile, left, tm - 1, full, emitBlock);
}

Value KernelEmitter::prologueSpans(Value tile, bool addInit, Value lo, Value hi,
                                   int64_t tm, Value n0, int64_t tn, int64_t chunk,
                                   int64_t span) {
  auto spans = scf::ForOp::create(
      b, loc, lo, hi, index(span), ValueRange{tile},
      [&](OpBuilder &, Location, Value s0, ValueRange outer) {
        Value s1 = arith::MinUIOp::create(
            b, loc, arith::AddIOp::create(b, loc, s0, index(span)), hi);
        Value xs = prologueSpan(s0, s1);
        // activations=int8: the span's rows quantized once for all its
        // blocks (their tokens are the span's rows).
        if (takesInt8Dots(kernelWeights(), c.k)) {
          blockInput = quantizeRows(xs, arith::SubIOp::create(b, loc, s1, s0).getResult(),
                                    c.k, weightOf(c));
          int8Tokens = true;
        }
        auto rowBlocks = scf::ForOp::create(
            b, loc, index(0), index(chunk), index(tn), ValueRange{outer[0]},
            [&](OpBuilder &, Location, Value r, ValueRange iter) {
              Value rows = arith::AddIOp::create(b, loc, n0, r);
              scf::YieldOp::create(
                  b, loc,
                  tokenBlocks(iter[0], s0, s1, tm,
                              [&](Value t, ArrayRef<Value> tokens) {
                                SmallVector<Value> local;
                                for (Value token : tokens)
                                  local.push_back(
                                      arith::SubIOp::create(b, loc, token, s0));
                                return block(t, addInit, xs, local, tokens, rows,
                                             tn, r);
                              }));
            });
        scf::YieldOp::create(b, loc, rowBlocks.getResults());
      });
  return spans.getResult(0);
}

Value KernelEmitter::prologueSpan(Value lo, Value hi) {
  Value count = arith::SubIOp::create(b, loc, hi, lo);
  Value buf = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{count, b.getIndexAttr(c.k)}, b.getF32Type());
  auto loop = scf::ForOp::create(
      b, loc, lo, hi, index(1), ValueRange{buf},
      [&](OpBuilder &, Location, Value t, ValueRange iter) {
        Value at = arith::SubIOp::create(b, loc, t, lo);
        scf::YieldOp::create(b, loc, prologueRows({t}, iter[0], at));
      });
  // activations=bf16: the span's rows rounded once for all its blocks.
  if (takesBF16Dots(kernelWeights(), c.k))
    return roundRowsBF16(loop.getResult(0), index(0), count);
  return loop.getResult(0);
}

Value KernelEmitter::applyBody(linalg::GenericOp generic, ValueRange args,
                               int64_t lanes) {
  Block &body = generic.getRegion().front();
  IRMapping map;
  for (auto [blockArg, arg] : llvm::zip(body.getArguments(), args))
    map.map(blockArg, arg);
  auto vectorOf = [&](Type t) { return VectorType::get({lanes}, t); };
  for (Operation &op : body.without_terminator()) {
    if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
      auto splat = DenseElementsAttr::get(vectorOf(cst.getType()),
                                          cst.getValue());
      map.map(cst.getResult(), arith::ConstantOp::create(b, loc, splat));
      continue;
    }
    for (Value operand : op.getOperands())
      if (!map.contains(operand))
        map.map(operand, vector::BroadcastOp::create(
                             b, loc, vectorOf(operand.getType()), operand));
    Operation *row = b.clone(op, map);
    for (OpResult result : row->getResults())
      result.setType(vectorOf(result.getType()));
  }
  return map.lookup(body.getTerminator()->getOperand(0));
}

Value KernelEmitter::tokenBlock(Value tile, bool addInit, ArrayRef<Value> tokens,
                                Value n0, int64_t tn, int64_t chunk) {
  Value xs = c.x;
  SmallVector<Value> xTokens(tokens.begin(), tokens.end());
  if (bf16Input)
    xs = bf16Input;
  // The tile's rows, rounded or quantized before the row blocks.
  if (tileInputBase)
    for (Value &t : xTokens)
      t = arith::SubIOp::create(b, loc, t, tileInputBase);
  if (kernel.prologue) {
    xs = prologueRows(tokens);
    for (auto [j, t] : llvm::enumerate(xTokens))
      t = index(j);
  }
  // A one-token kernel of int8/int4 weights with activations=int8 and a
  // prologue: the task's input row quantized once, for all its row blocks
  // (without a prologue, emit() quantized it before the tasks).
  if (oneToken && kernel.prologue && takesInt8Dots(kernelWeights(), c.k)) {
    blockInput =
        quantizeRows(xs, b.getIndexAttr(1), c.k, weightOf(c), [&](Value r, Value k) {
          return xTokens.empty() ? SmallVector<Value>{k}
                                 : SmallVector<Value>{xTokens[0], k};
        });
    blockInputRow = index(0);
  }
  // A one-token kernel of bf16 weights with activations=bf16: the task's
  // input row rounded once, for all its row blocks.
  if (oneToken && takesBF16Dots(kernelWeights(), c.k)) {
    if (xTokens.empty()) {
      xs = roundVectorBF16(xs);
    } else {
      xs = roundRowsBF16(xs, xTokens[0],
                         arith::AddIOp::create(b, loc, xTokens[0], index(1)));
      xTokens = {index(0)};
    }
  }
  if (chunk == tn)
    return block(tile, addInit, xs, xTokens, tokens, n0, tn, index(0));
  auto loop = scf::ForOp::create(
      b, loc, index(0), index(chunk), index(tn), ValueRange{tile},
      [&](OpBuilder &, Location, Value r, ValueRange iter) {
        Value rows = arith::AddIOp::create(b, loc, n0, r);
        scf::YieldOp::create(
            b, loc, block(iter[0], addInit, xs, xTokens, tokens, rows, tn, r));
      });
  return loop.getResult(0);
}

Value KernelEmitter::prologueRows(ArrayRef<Value> tokens, Value into, Value firstRow) {
  linalg::GenericOp p = kernel.prologue;
  Type f32 = b.getF32Type();
  ArrayRef<int64_t> shape = cast<RankedTensorType>(p.getResult(0).getType()).getShape();
  ArrayRef<int64_t> features = shape.drop_front(tokens.empty() ? 0 : 1);
  Value buf = into;
  if (!buf) {
    SmallVector<int64_t> bufShape;
    if (!tokens.empty())
      bufShape.push_back(int64_t(tokens.size()));
    bufShape.push_back(c.k);
    buf = tensor::EmptyOp::create(b, loc, bufShape, f32);
  }
  auto loop = scf::ForOp::create(
      b, loc, index(0), index(c.k), index(vl), ValueRange{buf},
      [&](OpBuilder &, Location, Value k, ValueRange iter) {
        // k -> the feature indices, innermost last.
        SmallVector<Value> featureIdx(features.size());
        Value rest = k;
        for (size_t f = features.size(); f-- > 1;) {
          featureIdx[f] = arith::RemUIOp::create(b, loc, rest, index(features[f]));
          rest = arith::DivUIOp::create(b, loc, rest, index(features[f]));
        }
        featureIdx[0] = rest;
        Value out = iter[0];
        for (size_t j = 0; j < std::max<size_t>(tokens.size(), 1); ++j) {
          SmallVector<Value> at;
          if (!tokens.empty())
            at.push_back(tokens[j]);
          at.append(featureIdx);
          SmallVector<Value> args;
          for (OpOperand *in : p.getDpsInputOperands()) {
            AffineMap m = p.getMatchingIndexingMap(in);
            SmallVector<Value> idx;
            for (unsigned i = 0; i < m.getNumResults(); ++i)
              idx.push_back(at[m.getDimPosition(i)]);
            Type elt = getElementTypeOrSelf(in->get().getType());
            if (m.getNumResults() && m.getDimPosition(m.getNumResults() - 1) ==
                                          m.getNumDims() - 1)
              args.push_back(read(in->get(), idx, elt));
            else
              args.push_back(vector::BroadcastOp::create(
                  b, loc, VectorType::get({vl}, elt),
                  tensor::ExtractOp::create(b, loc, in->get(), idx)));
          }
          Value v = applyBody(p, args, vl);
          SmallVector<Value> outIdx = {k};
          if (!tokens.empty())
            outIdx.insert(outIdx.begin(),
                          firstRow ? arith::AddIOp::create(b, loc, firstRow, index(j))
                                         .getResult()
                                   : index(j));
          out = vector::TransferWriteOp::create(b, loc, v, out, outIdx,
                                                ArrayRef<bool>{true})
                    .getResult();
        }
        scf::YieldOp::create(b, loc, out);
      });
  return loop.getResult(0);
}

Value emitKernel(OpBuilder &b, Location loc, Kernel &kernel, const KernelShape &shape) {
  KernelEmitter emitter(b, loc, kernel, shape.vectorWidth, shape.activations,
                        shape.amx, shape.bf16Terms, shape.vnni);
  if (!kernel.c.selector)
    return emitter.emit(shape.rows, shape.tokenRows, shape.tokenBlockRows,
                        shape.prologueTasks, shape.tokenTile);
  if (kernel.c.rowSelector)
    return emitter.emitRowGather(shape.tokenRows, shape.tokenBlockRows,
                                 shape.prologueTasks);
  return kernel.combine ? emitter.emitGatherCombine(shape.rows)
                        : emitter.emitGather(shape.rows);
}

} // namespace mlir::qnext::kernels
