//===- KernelEmitter.cpp - a matched kernel as register-blocked vector code ===//
//
// A projection is the bulk of every token's work and, for one token, pure
// weight streaming: the kernel keeps the accumulators in registers, reads
// each weight vector once per block of tokens and widens it with integer
// ops, so the loop runs at the speed the memory delivers weights. The
// gather contractions of routed experts are in GatherKernels.cpp.
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
  int64_t pairRows = kernel.second ? std::max<int64_t>(tokenBlockRows / 2, 1)
                                   : tokenBlockRows;
  int64_t tn = ShapedType::isDynamic(c.n)
                   ? 1
                   : blockFor(c.n, c.multiToken && !oneRow ? pairRows : rows);
  // A quantized weight's block also keeps, per weight row, its group's
  // scale splat (and int4 a row's bytes from the vector of its low nibbles
  // to that of its high ones): registers the block's tokens give up, so
  // that accumulators, inputs, a weight vector and these still fit the
  // registers the options were sized for.
  if (c.scales && c.multiToken && !oneRow) {
    int64_t held = (kernel.second ? 2 : 1) * tn;
    int64_t budget = tokenRows * (tokenBlockRows + 1) + 1;
    int64_t extra = held * (c.int4 ? 2 : 1);
    tokenRows = std::clamp<int64_t>((budget - 1 - extra) / (held + 1), 1, tokenRows);
  }
  // A kernel of one token (decode, a vector input) scales each group's sum
  // once; a prompt's blocks, its leftover single tokens included, scale
  // each vector, so that a token's logits do not depend on how the prompt
  // is cut into blocks or chunks.
  sumGroups = !c.multiToken || oneRow;
  // With a prologue, each task is a chunk of row blocks that computes the
  // prologue's rows once (per span of tokens) for all of them: about
  // `prologueTasks` tasks.
  int64_t chunk = tn;
  if (kernel.prologue)
    chunk = tn * blockFor(c.n / tn, std::max<int64_t>(c.n / tn / prologueTasks, 1));
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

Value KernelEmitter::tokenBlocks(Value tile, Value lo, Value hi, int64_t tm,
                                 function_ref<Value(Value, ArrayRef<Value>)> emitBlock) {
  auto tokensFrom = [&](Value t0, int64_t count) {
    SmallVector<Value> tokens = {t0};
    for (int64_t j = 1; j < count; ++j)
      tokens.push_back(arith::AddIOp::create(b, loc, t0, index(j)));
    return tokens;
  };
  Value full = fullBlocksEnd(lo, hi, tm);
  auto loop = scf::ForOp::create(
      b, loc, lo, full, index(tm), ValueRange{tile},
      [&](OpBuilder &, Location, Value t0, ValueRange iter) {
        scf::YieldOp::create(b, loc, emitBlock(iter[0], tokensFrom(t0, tm)));
      });
  tile = loop.getResult(0);
  if (tm == 1)
    return tile;
  SmallVector<int64_t> counts = llvm::to_vector(llvm::seq<int64_t>(1, tm));
  Value left = arith::SubIOp::create(b, loc, hi, full);
  auto rest = scf::IndexSwitchOp::create(b, loc, TypeRange{tile.getType()}, left,
                                         counts, counts.size());
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(&rest.getDefaultRegion().emplaceBlock());
  scf::YieldOp::create(b, loc, tile);
  for (auto [count, region] : llvm::zip(counts, rest.getCaseRegions())) {
    b.setInsertionPointToStart(&region.emplaceBlock());
    scf::YieldOp::create(b, loc, emitBlock(tile, tokensFrom(full, count)));
  }
  return rest.getResult(0);
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
  if (kernel.prologue) {
    xs = prologueRows(tokens);
    for (auto [j, t] : llvm::enumerate(xTokens))
      t = index(j);
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

Value KernelEmitter::widen(Value v) {
  auto vt = cast<VectorType>(v.getType());
  Type elt = vt.getElementType();
  auto f32v = VectorType::get(vt.getShape(), b.getF32Type());
  if (elt.isF32())
    return v;
  if (!elt.isBF16())
    return arith::ExtFOp::create(b, loc, f32v, v);
  auto i16v = VectorType::get(vt.getShape(), b.getI16Type());
  auto i32v = VectorType::get(vt.getShape(), b.getI32Type());
  Value bits = arith::BitcastOp::create(b, loc, i16v, v);
  Value wide = arith::ExtUIOp::create(b, loc, i32v, bits);
  Value shifted = arith::ShLIOp::create(b, loc, wide, intSplat(i32v, 16));
  return arith::BitcastOp::create(b, loc, f32v, shifted);
}

SmallVector<KernelEmitter::Weight> KernelEmitter::kernelWeights() {
  SmallVector<Weight> weights = {weightOf(c)};
  if (kernel.second)
    weights.push_back(weightOf(*kernel.second));
  return weights;
}

Value KernelEmitter::load(const Weight &w, Value row, const KStep &at, Value scale) {
  Type elt = getElementTypeOrSelf(w.values.getType());
  if (w.int4) {
    // Byte j of a tile holds column j (low nibble) and j + 16 (high): the
    // vector of columns at `offset` is the bytes from tile / 2 + offset % 16,
    // sign-extended to i32 (vpmovsxbd) and shifted arithmetically, the low
    // nibble up first. The same bytes serve both halves (one load once CSE
    // has merged the two reads).
    Value byte = arith::AddIOp::create(
        b, loc, arith::DivUIOp::create(b, loc, at.tile, index(2)),
        index(at.offset % 16));
    Value v = read(w.values, {row, byte}, elt);
    auto i32v = VectorType::get({vl}, b.getI32Type());
    Value wide = arith::ExtSIOp::create(b, loc, i32v, v);
    bool low = at.offset % 32 < 16;
    if (low)
      wide = arith::ShLIOp::create(b, loc, wide, intSplat(i32v, 28));
    Value q = arith::ShRSIOp::create(b, loc, wide, intSplat(i32v, low ? 28 : 4));
    return scaled(arith::SIToFPOp::create(b, loc, VectorType::get({vl}, b.getF32Type()), q),
                  scale);
  }
  Value v = read(w.values, {row, at.k}, elt);
  if (!w.scales)
    return widen(v);
  auto shape = cast<VectorType>(v.getType()).getShape();
  auto f32v = VectorType::get(shape, b.getF32Type());
  if (elt.isSignlessInteger(8)) {
    // int8: exactly an f32 once converted, then scaled.
    auto i32v = VectorType::get(shape, b.getI32Type());
    Value wide = arith::ExtSIOp::create(b, loc, i32v, v);
    return scaled(arith::SIToFPOp::create(b, loc, f32v, wide), scale);
  }
  // e4m3fn: sign, 4 exponent bits (bias 7), 3 mantissa bits. Sign-extended
  // to 16 bits and shifted left by 7, the exponent and mantissa land in the
  // low exponent and high mantissa bits of an f16 and the sign in its sign
  // bit (the mask clears the sign's copy in the exponent's top bit): an f16
  // of the value times 2^-8, normal or subnormal as the e4m3 is, widened
  // exactly to a normal f32 (vcvtph2ps; no f32 subnormal, so a process that
  // flushes them, DAZ, decodes the same). The packer refuses the NaN bytes;
  // the scale splat carries the 2^8, and the product is the exporter's
  // e4m3(q) * scale, rounded once.
  auto i8v = VectorType::get(shape, b.getI8Type());
  auto i16v = VectorType::get(shape, b.getI16Type());
  Value bits = arith::ExtSIOp::create(b, loc, i16v,
                                      arith::BitcastOp::create(b, loc, i8v, v));
  bits = arith::ShLIOp::create(b, loc, bits, intSplat(i16v, 7));
  bits = arith::AndIOp::create(b, loc, bits, intSplat(i16v, int16_t(0xBF80u)));
  Value half =
      arith::BitcastOp::create(b, loc, VectorType::get(shape, b.getF16Type()), bits);
  return scaled(arith::ExtFOp::create(b, loc, f32v, half), scale);
}

Value KernelEmitter::intSplat(VectorType type, int64_t value) {
  return arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(type, b.getIntegerAttr(type.getElementType(), value)));
}

Value KernelEmitter::scaled(Value decoded, Value scale) {
  return scale ? arith::MulFOp::create(b, loc, decoded, scale).getResult() : decoded;
}

Value KernelEmitter::scaleOf(const Weight &w, Value row, Value k0) {
  Value group = arith::DivUIOp::create(b, loc, k0, index(w.group));
  Value s = tensor::ExtractOp::create(b, loc, w.scales, ValueRange{row, group});
  if (isa<Float8E4M3FNType>(getElementTypeOrSelf(w.values.getType()))) {
    Value factor = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(256.0f));
    s = arith::MulFOp::create(b, loc, s, factor);
  }
  return vector::BroadcastOp::create(b, loc, VectorType::get({vl}, b.getF32Type()), s);
}

SmallVector<Value> KernelEmitter::sweepK(
    int64_t kExtent, ValueRange init, ArrayRef<std::pair<Weight, Value>> rows,
    function_ref<SmallVector<Value>(const KStep &, ArrayRef<Value>, ValueRange)> body,
    bool scaleSums) {
  int64_t group = 0;
  bool int4 = false;
  for (const auto &[w, row] : rows)
    if (w.scales) {
      group = w.group; // one kernel's quantized weights share their group
      int4 = w.int4;   // and their format
    }
  // K in [lo, lo + size), a vector at a time (int4: a tile at a time, its
  // vectors one after the other).
  const int64_t step = int4 ? 32 : vl;
  auto loop = [&](Value lo, int64_t size, ValueRange carried, ArrayRef<Value> scales) {
    return scf::ForOp::create(
               b, loc, lo, arith::AddIOp::create(b, loc, lo, index(size)),
               index(step), carried,
               [&](OpBuilder &, Location, Value k, ValueRange in) {
                 SmallVector<Value> next(in.begin(), in.end());
                 for (int64_t offset = 0; offset < step; offset += vl) {
                   Value at = offset ? arith::AddIOp::create(b, loc, k, index(offset))
                                           .getResult()
                                     : k;
                   next = body(KStep{at, k, offset}, scales, next);
                 }
                 scf::YieldOp::create(b, loc, next);
               })
        .getResults();
  };
  if (!group)
    return loop(index(0), kExtent, init, {});
  // Whole groups (the scales read once per group), then a partial last one.
  auto inGroup = [&](Value k0, int64_t size, ValueRange carried) -> SmallVector<Value> {
    SmallVector<Value> scales;
    for (const auto &[w, row] : rows)
      scales.push_back(w.scales ? scaleOf(w, row, k0) : Value());
    if (!scaleSums)
      return SmallVector<Value>(loop(k0, size, carried, scales));
    // The group's products of unscaled values, from zero, then scaled once
    // and added: sum += s * (q . x) rather than sum += (s * q) . x.
    SmallVector<Value> zeros;
    for (Value c : carried)
      zeros.push_back(arith::ConstantOp::create(
          b, loc, b.getZeroAttr(c.getType())));
    // (Each carried value is a row's, and with a group every row read is
    // quantized: each has its scale.)
    SmallVector<Value> sums = loop(k0, size, zeros, {});
    SmallVector<Value> next;
    for (auto [sum, scale, c] : llvm::zip_equal(sums, scales, carried))
      next.push_back(vector::FMAOp::create(b, loc, sum, scale, c));
    return next;
  };
  int64_t whole = kExtent / group * group;
  SmallVector<Value> carried(init.begin(), init.end());
  if (whole > 0)
    carried = scf::ForOp::create(
                  b, loc, index(0), index(whole), index(group), carried,
                  [&](OpBuilder &, Location, Value k0, ValueRange in) {
                    scf::YieldOp::create(b, loc, inGroup(k0, group, in));
                  })
                  .getResults();
  if (whole < kExtent)
    carried = inGroup(index(whole), kExtent - whole, carried);
  return carried;
}

Value KernelEmitter::read(Value source, ValueRange indices, Type elt) {
  auto type = VectorType::get({vl}, elt);
  Value pad = arith::ConstantOp::create(b, loc, b.getZeroAttr(elt));
  return vector::TransferReadOp::create(b, loc, type, source, indices, pad,
                                        ArrayRef<bool>{true});
}

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
      Value prior = vector::TransferReadOp::create(b, loc, rowType, tile, outIdx,
                                                   pad, ArrayRef<bool>{true});
      row = arith::AddFOp::create(b, loc, row, prior);
    }
    tile = vector::TransferWriteOp::create(b, loc, row, tile, outIdx,
                                           ArrayRef<bool>{true})
               .getResult();
  }
  return tile;
}

SmallVector<Value> KernelEmitter::blockRows(Value xs, ArrayRef<Value> xTokens,
                                            int64_t tm, Value n0, int64_t tn,
                                            int64_t kExtent) {
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
  if (tm == 1) {
    // One token: nothing to reuse a weight vector for, so the block runs
    // its rows one after the other (an scf.for over them), each with its
    // own K loop and horizontal sum: the block's weights are read in
    // memory order. (Interleaving the rows' loops reads tn streams of one
    // row each, which the hardware prefetchers follow badly when rows are
    // short.) Each accumulator sums the same products in the same order
    // (a quantized weight's, per group then scaled, in a one-token kernel).
    Value zeroRow = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(rowType, b.getF32FloatAttr(0.0).getValue()));
    auto rowLoop = scf::ForOp::create(
        b, loc, index(0), index(tn), index(1),
        SmallVector<Value>(weights.size(), zeroRow),
        [&](OpBuilder &, Location, Value r, ValueRange rowsIn) {
          Value row = arith::AddIOp::create(b, loc, n0, r);
          SmallVector<Value> next;
          for (size_t m = 0; m < weights.size(); ++m) {
            // (A quantized row's scale multiplies each group's sum.)
            SmallVector<Value> acc = sweepK(
                kExtent, ValueRange{zero}, {{weights[m], row}},
                [&](const KStep &at, ArrayRef<Value> scales, ValueRange a) {
                  Value w = load(weights[m], row, at,
                                 scales.empty() ? Value() : scales[0]);
                  return SmallVector<Value>{
                      vector::FMAOp::create(b, loc, w, tokenInput(0, at.k), a[0])};
                },
                /*scaleSums=*/sumGroups);
            Value sum = vector::ReductionOp::create(
                b, loc, vector::CombiningKind::ADD, acc[0],
                arith::FastMathFlags::reassoc);
            next.push_back(vector::InsertOp::create(b, loc, sum, rowsIn[m],
                                                    ArrayRef<OpFoldResult>{r}));
          }
          scf::YieldOp::create(b, loc, next);
        });
    SmallVector<Value> rowsOut(rowLoop.getResults());
    return {kernel.epilogue ? applyBody(kernel.epilogue, rowsOut, tn) : rowsOut[0]};
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
  SmallVector<Value> accs = sweepK(
      kExtent, zeros, blockRowsRead,
      [&](const KStep &at, ArrayRef<Value> scales, ValueRange in) {
        SmallVector<Value> xv, next(in.begin(), in.end());
        for (int64_t j = 0; j < tm; ++j)
          xv.push_back(tokenInput(j, at.k));
        for (auto [m, weight] : llvm::enumerate(weights))
          for (int64_t r = 0; r < tn; ++r) {
            Value w = load(weight, rowsOfW[r], at,
                           scales.empty() ? Value() : scales[m * tn + r]);
            for (int64_t j = 0; j < tm; ++j) {
              Value &a = next[m * perWeight + j * tn + r];
              a = vector::FMAOp::create(b, loc, w, xv[j], a);
            }
          }
        return next;
      });

  SmallVector<Value> rows;
  for (int64_t j = 0; j < tm; ++j) {
    SmallVector<Value> rowsOut;
    for (size_t m = 0; m < weights.size(); ++m) {
      SmallVector<Value> sums;
      for (int64_t r = 0; r < tn; ++r)
        sums.push_back(vector::ReductionOp::create(
            b, loc, vector::CombiningKind::ADD,
            accs[m * perWeight + j * tn + r],
            arith::FastMathFlags::reassoc));
      rowsOut.push_back(vector::FromElementsOp::create(b, loc, rowType, sums));
    }
    rows.push_back(kernel.epilogue ? applyBody(kernel.epilogue, rowsOut, tn)
                                   : rowsOut[0]);
  }
  return rows;
}
Value emitKernel(OpBuilder &b, Location loc, Kernel &kernel, const KernelShape &shape) {
  KernelEmitter emitter(b, loc, kernel, shape.vectorWidth);
  if (!kernel.c.selector)
    return emitter.emit(shape.rows, shape.tokenRows, shape.tokenBlockRows,
                        shape.prologueTasks, shape.tokenTile);
  return kernel.combine ? emitter.emitGatherCombine(shape.rows)
                        : emitter.emitGather(shape.rows);
}

} // namespace mlir::qnext::kernels
