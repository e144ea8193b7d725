//===- AMXTiles.cpp - kernels of several tokens on AMX tiles ---------------===//
//
// activations=bf16 with amx: a kernel of several tokens (a prompt's tile,
// a batched decode step) whose weights are bf16 as stored multiplies on
// the CPU's matrix engine. tdpbf16ps (amx.tile_mulf) multiplies a 16 x 32
// bf16 tile by a 16 x 32 tile of bf16 pairs into a 16 x 16 f32 tile: 16 x
// 16 x 32 multiply-adds an instruction, 256 times a 512-bit vdpbf16ps's.
//
// The weights are the left-hand tiles as stored ([N, K] row-major: a tile
// is 16 weight rows of 32 columns), so no weight is packed for AMX; the
// input is the right-hand side: a token tile's rows are rounded to bf16
// and packed once, before the forall, as pairs of columns token after token
// ([K / 2, 2 x tokens]: packTilesBF16). An accumulator tile is then 16
// weight rows x 16 tokens, the transpose of the result's layout: a block
// stores its four tiles and writes them back transposed, a token's row at
// a time. Inputs are rounded as the vdpbf16ps blocks round them (to nearest
// even); the instruction sums each pair's products and adds them to the
// accumulator in f32, flushing denormals: the mode's numerics
// (docs/quantization.md), not the weight-exact contract.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "mlir/Dialect/AMX/AMXDialect.h"

namespace mlir::qnext::kernels {

/// The transpose of `rows` (n vectors of n lanes, n a power of two) in
/// log2(n) rounds of n two-source shuffles: round s swaps, in every pair of
/// rows (r, r + s) with r & s == 0, the lanes j & s of row r with the lanes
/// j & ~s of row r + s (the off-diagonal s x s blocks). At 16 lanes of 32
/// bits each shuffle is one vpermt2d/vpermt2ps.
static SmallVector<Value> transposeRows(OpBuilder &b, Location loc, ArrayRef<Value> rows) {
  SmallVector<Value> v(rows.begin(), rows.end());
  int64_t n = v.size();
  for (int64_t s = n / 2; s >= 1; s /= 2)
    for (int64_t r = 0; r < n; ++r) {
      if (r & s)
        continue;
      SmallVector<int64_t> low(n), high(n);
      for (int64_t j = 0; j < n; ++j) {
        low[j] = (j & s) ? n + j - s : j;
        high[j] = (j & s) ? n + j : j + s;
      }
      Value a = v[r], c = v[r + s];
      v[r] = vector::ShuffleOp::create(b, loc, a, c, low);
      v[r + s] = vector::ShuffleOp::create(b, loc, a, c, high);
    }
  return v;
}

bool KernelEmitter::takesAMX() const {
  if (!amx || activations != Activations::BF16 || !c.multiToken || c.selector ||
      kernel.prologue || kernel.epilogue || kernel.second || kernel.combine)
    return false;
  if (ShapedType::isDynamic(c.n) || c.n % (2 * kAMXRows) || c.k % kAMXColumns)
    return false;
  return !c.scales && getElementTypeOrSelf(c.w.getType()).isBF16();
}

Value KernelEmitter::packTilesBF16(Value lo, Value hi, int64_t tokenMultiple,
                                   int64_t term) {
  Type bf16 = b.getBF16Type(), i32 = b.getI32Type();
  Value count = arith::SubIOp::create(b, loc, hi, lo);
  Value padded = arith::MulIOp::create(
      b, loc,
      arith::DivUIOp::create(
          b, loc, arith::AddIOp::create(b, loc, count, index(tokenMultiple - 1)),
          index(tokenMultiple)),
      index(tokenMultiple));
  Value packed = tensor::EmptyOp::create(
      b, loc,
      ArrayRef<OpFoldResult>{b.getIndexAttr(c.k / 2),
                             arith::MulIOp::create(b, loc, padded, index(2)).getResult()},
      bf16);
  Type elt = getElementTypeOrSelf(c.x.getType());
  auto pairs = VectorType::get({kAMXRows}, i32);
  auto row = VectorType::get({kAMXColumns}, bf16);
  Value zeroPairs = arith::ConstantOp::create(b, loc, b.getZeroAttr(pairs));
  auto tokenBlocks = scf::ForOp::create(
      b, loc, index(0), padded, index(kAMXRows), ValueRange{packed},
      [&](OpBuilder &, Location, Value t0, ValueRange outer) {
        auto columns = scf::ForOp::create(
            b, loc, index(0), index(c.k), index(kAMXColumns), ValueRange{outer[0]},
            [&](OpBuilder &, Location, Value k0, ValueRange inner) {
              // 16 tokens' 32 columns as 16 pairs each (zeros past hi) ...
              SmallVector<Value> rows;
              for (int64_t j = 0; j < kAMXRows; ++j) {
                Value t = arith::AddIOp::create(
                    b, loc, lo, arith::AddIOp::create(b, loc, t0, index(j)));
                Value valid = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, t, hi);
                Value readAt = arith::SelectOp::create(b, loc, valid, t, lo);
                Value x = read(c.x, {readAt, k0}, elt, kAMXColumns);
                if (!elt.isBF16()) {
                  Value rounded = arith::TruncFOp::create(b, loc, row, x);
                  // The second term: what the rounding left, rounded.
                  if (term == 1)
                    rounded = arith::TruncFOp::create(
                        b, loc, row,
                        arith::SubFOp::create(
                            b, loc, x, arith::ExtFOp::create(b, loc, x.getType(), rounded)));
                  x = rounded;
                } else if (term == 1) {
                  x = arith::ConstantOp::create(b, loc, b.getZeroAttr(row));
                }
                Value p = vector::BitCastOp::create(b, loc, pairs, x);
                p = arith::SelectOp::create(b, loc, valid, p, zeroPairs);
                rows.push_back(p);
              }
              // ... transposed: a row per pair of columns, the tokens' pairs
              // side by side.
              SmallVector<Value> byPair = transposeRows(b, loc, rows);
              Value kRow = arith::DivUIOp::create(b, loc, k0, index(2));
              Value col = arith::MulIOp::create(b, loc, t0, index(2));
              Value out = inner[0];
              for (int64_t i = 0; i < kAMXRows; ++i) {
                Value r = vector::BitCastOp::create(b, loc, row, byPair[i]);
                out = vector::TransferWriteOp::create(
                          b, loc, r, out,
                          ValueRange{arith::AddIOp::create(b, loc, kRow, index(i)), col},
                          ArrayRef<bool>{true})
                          .getResult();
              }
              scf::YieldOp::create(b, loc, out);
            });
        scf::YieldOp::create(b, loc, columns.getResults());
      });
  return tokenBlocks.getResult(0);
}

Value KernelEmitter::emitAMX(Value dest, bool addInit, Value lo, Value hi) {
  constexpr int64_t kBlock = 2 * kAMXRows; // weight rows, and tokens, a block
  Type bf16 = b.getBF16Type(), f32 = b.getF32Type();
  SmallVector<Value, 2> packed;
  for (int64_t term = 0; term < bf16Terms; ++term)
    packed.push_back(packTilesBF16(lo, hi, kBlock, term));
  Value padded = arith::DivUIOp::create(
      b, loc, tensor::DimOp::create(b, loc, packed[0], 1), index(2));
  // The tiles read buffers: the packed input and the weights, read only.
  auto bufferOf = [&](Value tensor) {
    auto type = cast<RankedTensorType>(tensor.getType());
    auto layout = StridedLayoutAttr::get(b.getContext(), ShapedType::kDynamic,
                                         {ShapedType::kDynamic, 1});
    return bufferization::ToBufferOp::create(
               b, loc, MemRefType::get(type.getShape(), type.getElementType(), layout),
               tensor, /*readOnly=*/true)
        .getResult();
  };
  SmallVector<Value, 2> inputTiles;
  for (Value p : packed)
    inputTiles.push_back(bufferOf(p));
  Value weightTiles = bufferOf(c.w);
  auto weightTile = amx::TileType::get({kAMXRows, kAMXColumns}, bf16);
  auto accTile = amx::TileType::get({kAMXRows, kAMXRows}, f32);

  OpBuilder::InsertionGuard guard(b);
  auto forall = scf::ForallOp::create(
      b, loc, ArrayRef<OpFoldResult>{b.getIndexAttr(c.n / kBlock)}, ValueRange{dest},
      std::nullopt);
  b.setInsertionPoint(forall.getTerminator());
  Value n0 = arith::MulIOp::create(b, loc, forall.getInductionVar(0), index(kBlock));
  Value shared = forall.getRegionIterArgs()[0];
  SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
  SmallVector<OpFoldResult> sizes = {tensor::getMixedSize(b, loc, shared, 0),
                                     b.getIndexAttr(kBlock)};
  SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
  Value tile = tensor::ExtractSliceOp::create(b, loc, shared, offsets, sizes, strides);
  // The block's accumulators as stored ([weight row, token]) and transposed,
  // 4 KB each, a task's own. (Not an alloca: the OpenMP lowering's scope
  // around the task would keep it, and it holds loops.)
  auto scratchType = MemRefType::get({kBlock, kBlock}, f32);
  Value stored = memref::AllocOp::create(b, loc, scratchType);
  Value transposed = memref::AllocOp::create(b, loc, scratchType);
  Value n1 = arith::AddIOp::create(b, loc, n0, index(kAMXRows));
  Value count = arith::SubIOp::create(b, loc, hi, lo);
  auto tokens = scf::ForOp::create(
      b, loc, index(0), padded, index(kBlock), ValueRange{tile},
      [&](OpBuilder &, Location, Value t0, ValueRange outer) {
        Value zero = amx::TileZeroOp::create(b, loc, accTile);
        Value col0 = arith::MulIOp::create(b, loc, t0, index(2));
        Value col1 = arith::AddIOp::create(b, loc, col0, index(kBlock));
        // acc[i][j] += weight tile i x input tile j, over K.
        auto sums = scf::ForOp::create(
            b, loc, index(0), index(c.k), index(kAMXColumns),
            ValueRange{zero, zero, zero, zero},
            [&](OpBuilder &, Location, Value k0, ValueRange acc) {
              Value kRow = arith::DivUIOp::create(b, loc, k0, index(2));
              Value w[2] = {
                  amx::TileLoadOp::create(b, loc, weightTile, weightTiles, ValueRange{n0, k0}),
                  amx::TileLoadOp::create(b, loc, weightTile, weightTiles, ValueRange{n1, k0})};
              // Each term of the input: its two tiles, four products.
              SmallVector<Value> next(acc.begin(), acc.end());
              for (Value terms : inputTiles) {
                Value x[2] = {
                    amx::TileLoadOp::create(b, loc, weightTile, terms, ValueRange{kRow, col0}),
                    amx::TileLoadOp::create(b, loc, weightTile, terms, ValueRange{kRow, col1})};
                for (int64_t i = 0; i < 2; ++i)
                  for (int64_t j = 0; j < 2; ++j)
                    next[2 * i + j] = amx::TileMulFOp::create(b, loc, accTile, w[i], x[j],
                                                              next[2 * i + j]);
              }
              scf::YieldOp::create(b, loc, next);
            });
        for (int64_t i = 0; i < 2; ++i)
          for (int64_t j = 0; j < 2; ++j) {
            Value r = index(i * kAMXRows), t = index(j * kAMXRows);
            amx::TileStoreOp::create(b, loc, stored, ValueRange{r, t},
                                     sums.getResult(2 * i + j));
            SmallVector<Value> square;
            for (int64_t q = 0; q < kAMXRows; ++q)
              square.push_back(read(stored, {index(i * kAMXRows + q), t}, f32, kAMXRows));
            SmallVector<Value> flipped = transposeRows(b, loc, square);
            for (int64_t q = 0; q < kAMXRows; ++q)
              vector::TransferWriteOp::create(b, loc, flipped[q], transposed,
                                              ValueRange{index(j * kAMXRows + q), r},
                                              ArrayRef<bool>{true});
          }
        // The block's tokens that exist, a row each.
        Value rows = arith::MinUIOp::create(
            b, loc, index(kBlock), arith::SubIOp::create(b, loc, count, t0));
        auto written = scf::ForOp::create(
            b, loc, index(0), rows, index(1), ValueRange{outer[0]},
            [&](OpBuilder &, Location, Value j, ValueRange in) {
              Value y = read(transposed, {j, index(0)}, f32, kBlock);
              Value t = arith::AddIOp::create(b, loc, lo,
                                              arith::AddIOp::create(b, loc, t0, j));
              if (addInit)
                y = arith::AddFOp::create(b, loc, y, read(in[0], {t, index(0)}, f32, kBlock));
              scf::YieldOp::create(
                  b, loc,
                  vector::TransferWriteOp::create(b, loc, y, in[0], ValueRange{t, index(0)},
                                                  ArrayRef<bool>{true})
                      .getResult());
            });
        scf::YieldOp::create(b, loc, written.getResults());
      });
  b.setInsertionPointToStart(forall.getTerminator().getBody());
  tensor::ParallelInsertSliceOp::create(b, loc, tokens.getResult(0), shared, offsets,
                                        sizes, strides);
  return forall.getResult(0);
}

} // namespace mlir::qnext::kernels
