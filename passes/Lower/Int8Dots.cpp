//===- Int8Dots.cpp - blocks that multiply bytes --------------------------===//
//
// activations=int8: a kernel of int8 or int4 weights is bound by its
// arithmetic, not by memory, once its weights are that small (the f32 path
// converts every weight and spends an FMA on it). Here the input is
// quantized once per kernel (one token's row, a token tile's rows, a row
// gather's rows; per task or span with a prologue), per row and group, and
// a block decodes each weight vector's bytes once and multiplies them by
// each of its tokens' (qnext.byte_dot: vpdpbusd, 64 multiply-adds an
// instruction into 16 i32 lanes; vpmaddubsw + vpmaddwd without VNNI), one
// conversion and one multiply per group. The byte dot multiplies unsigned
// weight bytes: int4 nibbles offset by 8 (below 16), int8 values offset by
// 128 with vpdpbusd, or, without it, their absolute values (below 128, so
// that vpmaddubsw's i16 pairs cannot saturate) with each one's sign moved
// onto the input byte it multiplies (byteOffset). An offset's products are
// taken back per group (QuantizedInput::starts). Not weight-exact: the input's
// rounding is the mode's error (docs/quantization.md).
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Math/IR/Math.h"

namespace mlir::qnext::kernels {

/// A group whose max |x| is at most this quantizes to zeros: 127 / max is
/// finite above it.
static constexpr float kTinyMax = 1e-30f;

bool KernelEmitter::takesInt8Dots(ArrayRef<Weight> weights, int64_t kExtent) const {
  if (activations != Activations::Int8 || weights.empty())
    return false;
  for (const Weight &w : weights)
    if (!w.scales || !getElementTypeOrSelf(w.values.getType()).isSignlessInteger(8) ||
        w.group != weights[0].group || w.int4 != weights[0].int4 ||
        w.group % int8Step(w) != 0 || kExtent % int8Step(w) != 0)
      return false;
  return true;
}

KernelEmitter::QuantizedInput
KernelEmitter::quantizeRows(Value xs, OpFoldResult rows, int64_t kExtent, const Weight &w,
                            function_ref<SmallVector<Value>(Value, Value)> at) {
  Type f32 = b.getF32Type(), i32 = b.getI32Type(), i8 = b.getI8Type();
  auto f32v = VectorType::get({vl}, f32);
  auto i32v = VectorType::get({vl}, i32);
  auto i8v = VectorType::get({vl}, i8);
  int64_t groups = (kExtent + w.group - 1) / w.group;
  QuantizedInput qx;
  Value bytes = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{rows, b.getIndexAttr(kExtent)}, i8);
  Value scales = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{rows, b.getIndexAttr(groups)}, f32);
  Value starts = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{rows, b.getIndexAttr(groups)}, i32);
  // Where column k's byte goes: int8 in place; int4 in blocks of B = 8 vl
  // columns (a load of 4 vl weight bytes), the tiles' low halves first:
  // k = block + 32 t + 16 h + j -> block + h B / 2 + 16 t + j.
  const int64_t blockCols = 8 * vl;
  auto placeOf = [&](Value k) -> Value {
    if (!w.int4)
      return k;
    Value inBlock = arith::RemUIOp::create(b, loc, k, index(blockCols));
    Value base = arith::SubIOp::create(b, loc, k, inBlock);
    Value tile = arith::DivUIOp::create(b, loc, inBlock, index(32));
    Value half = arith::DivUIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, inBlock, index(32)), index(16));
    Value j = arith::RemUIOp::create(b, loc, inBlock, index(16));
    Value p = arith::AddIOp::create(
        b, loc, base, arith::MulIOp::create(b, loc, half, index(blockCols / 2)));
    p = arith::AddIOp::create(b, loc, p, arith::MulIOp::create(b, loc, tile, index(16)));
    return arith::AddIOp::create(b, loc, p, j);
  };
  auto vecLoop = [&](Value lo, int64_t size, ValueRange init,
                     function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    return SmallVector<Value>(
        scf::ForOp::create(b, loc, lo, arith::AddIOp::create(b, loc, lo, index(size)),
                           index(vl), init,
                           [&](OpBuilder &, Location, Value k, ValueRange in) {
                             scf::YieldOp::create(b, loc, body(k, in));
                           })
            .getResults());
  };
  auto readX = [&](Value r, Value k) {
    Value pad = arith::ConstantOp::create(b, loc, b.getZeroAttr(f32));
    SmallVector<Value> where = at ? at(r, k) : SmallVector<Value>{r, k};
    return vector::TransferReadOp::create(b, loc, f32v, xs, where, pad,
                                          ArrayRef<bool>{true})
        .getResult();
  };
  Value zeroF = arith::ConstantOp::create(b, loc, b.getZeroAttr(f32v));
  Value zeroI = arith::ConstantOp::create(b, loc, b.getZeroAttr(i32v));
  auto rowLoop = scf::ForOp::create(
      b, loc, index(0), getValueOrCreateConstantIndexOp(b, loc, rows), index(1),
      ValueRange{bytes, scales, starts},
      [&](OpBuilder &, Location, Value r, ValueRange outs) {
        SmallVector<Value> next = forGroups(
            kExtent, w.group, outs,
            [&](Value k0, int64_t size, ValueRange in) -> SmallVector<Value> {
              // max |x| over the group, then q = round(x * 127 / max).
              Value m = vecLoop(k0, size, {zeroF}, [&](Value k, ValueRange acc) {
                          Value x = math::AbsFOp::create(b, loc, readX(r, k));
                          return SmallVector<Value>{
                              arith::MaximumFOp::create(b, loc, acc[0], x)};
                        })[0];
              Value max = vector::ReductionOp::create(
                  b, loc, vector::CombiningKind::MAXIMUMF, m);
              Value q127 = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(127.0f));
              Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0.0f));
              Value scale = arith::DivFOp::create(b, loc, max, q127);
              // A group of zeros, or of values so small that 127 / max is
              // not finite, quantizes to zeros (its products are below
              // anything an f32 sum keeps).
              Value tiny = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(kTinyMax));
              Value positive = arith::CmpFOp::create(b, loc, arith::CmpFPredicate::OGT,
                                                     max, tiny);
              Value inv = arith::SelectOp::create(
                  b, loc, positive, arith::DivFOp::create(b, loc, q127, max), zero);
              Value invs = vector::BroadcastOp::create(b, loc, f32v, inv);
              SmallVector<Value> done = vecLoop(
                  k0, size, {in[0], zeroI}, [&](Value k, ValueRange acc) {
                    Value x = arith::MulFOp::create(b, loc, readX(r, k), invs);
                    Value q = arith::FPToSIOp::create(
                        b, loc, i32v, math::RoundEvenOp::create(b, loc, x));
                    Value q8 = arith::TruncIOp::create(b, loc, i8v, q);
                    Value out = vector::TransferWriteOp::create(
                                    b, loc, q8, acc[0], ValueRange{r, placeOf(k)},
                                    ArrayRef<bool>{true})
                                    .getResult();
                    return SmallVector<Value>{out, arith::AddIOp::create(b, loc, acc[1], q)};
                  });
              // The group's start (with an offset: minus it times the
              // group's sum of q), then its scale and start stored.
              Value start;
              if (byteOffset(w) != 0) {
                Value sum = vector::ReductionOp::create(
                    b, loc, vector::CombiningKind::ADD, done[1]);
                Value offset = arith::ConstantOp::create(
                    b, loc, b.getI32IntegerAttr(-byteOffset(w)));
                start = arith::MulIOp::create(b, loc, sum, offset);
              }
              Value g = arith::DivUIOp::create(b, loc, k0, index(w.group));
              Value groupScales =
                  tensor::InsertOp::create(b, loc, scale, in[1], ValueRange{r, g});
              Value groupStarts =
                  start ? tensor::InsertOp::create(b, loc, start, in[2], ValueRange{r, g})
                        : in[2];
              return {done[0], groupScales, groupStarts};
            });
        scf::YieldOp::create(b, loc, next);
      });
  qx.bytes = rowLoop.getResult(0);
  qx.scales = rowLoop.getResult(1);
  qx.starts = rowLoop.getResult(2);
  return qx;
}

Value KernelEmitter::byteDot(Value acc, Value u, Value s, bool narrow) {
  return ByteDotOp::create(b, loc, acc, u, s, narrow);
}

Value KernelEmitter::readBytes(Value source, Value row, Value at) {
  auto bytesv = VectorType::get({4 * vl}, b.getI8Type());
  Value pad = arith::ConstantOp::create(b, loc, b.getZeroAttr(b.getI8Type()));
  return vector::TransferReadOp::create(b, loc, bytesv, source, ValueRange{row, at}, pad,
                                        ArrayRef<bool>{true})
      .getResult();
}

SmallVector<Value, 2> KernelEmitter::weightBytes(const Weight &w, Value row, Value k) {
  auto bytesv = VectorType::get({4 * vl}, b.getI8Type());
  if (w.int4) {
    // Both nibbles q + 8 (xor 8 each), then split: the low nibbles are the
    // tiles' columns j, the high ones j + 16.
    Value byte = arith::DivUIOp::create(b, loc, k, index(2));
    Value v = arith::XOrIOp::create(b, loc, readBytes(w.values, row, byte),
                                    intSplat(bytesv, int8_t(0x88)));
    Value mask = intSplat(bytesv, 0x0F);
    Value lo = arith::AndIOp::create(b, loc, v, mask);
    Value hi = arith::AndIOp::create(
        b, loc, arith::ShRUIOp::create(b, loc, v, intSplat(bytesv, 4)), mask);
    return {lo, hi};
  }
  if (byteOffset(w) != 0) // q + 128 as an unsigned byte
    return {arith::XOrIOp::create(b, loc, readBytes(w.values, row, k),
                                  intSplat(bytesv, -128))};
  // |q| (at most 127), and where q is negative: the input byte it
  // multiplies takes its sign (the input's bytes are within +-127 too).
  Value q = readBytes(w.values, row, k);
  Value negative =
      arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, q, intSplat(bytesv, 0));
  return {math::AbsIOp::create(b, loc, q), negative};
}

Value KernelEmitter::byteDotStep(const Weight &w, ArrayRef<Value> bytes, Value acc,
                                 const QuantizedInput &qx, Value xRow, Value k) {
  auto bytesv = VectorType::get({4 * vl}, b.getI8Type());
  Value x = readBytes(qx.bytes, xRow, k);
  if (w.int4) {
    Value high = arith::AddIOp::create(b, loc, k, index(4 * vl));
    acc = byteDot(acc, bytes[0], x, /*narrow=*/true);
    return byteDot(acc, bytes[1], readBytes(qx.bytes, xRow, high), /*narrow=*/true);
  }
  if (byteOffset(w) != 0)
    return byteDot(acc, bytes[0], x, /*narrow=*/false);
  Value zero = intSplat(bytesv, 0);
  Value sx = arith::SelectOp::create(b, loc, bytes[1],
                                     arith::SubIOp::create(b, loc, zero, x), x);
  return byteDot(acc, bytes[0], sx, /*narrow=*/true);
}

Value KernelEmitter::groupStart(const Weight &w, const QuantizedInput &qx, Value xRow,
                                Value g) {
  auto i32v = VectorType::get({vl}, b.getI32Type());
  Value zeroI = arith::ConstantOp::create(b, loc, b.getZeroAttr(i32v));
  if (byteOffset(w) == 0)
    return zeroI;
  Value start = tensor::ExtractOp::create(b, loc, qx.starts, ValueRange{xRow, g});
  return vector::InsertOp::create(b, loc, start, zeroI,
                                  ArrayRef<OpFoldResult>{b.getIndexAttr(0)});
}

Value KernelEmitter::scaleGroup(const Weight &w, Value row, const QuantizedInput &qx,
                                Value xRow, Value g, Value sum, Value total) {
  auto f32v = VectorType::get({vl}, b.getF32Type());
  Value ws = tensor::ExtractOp::create(b, loc, w.scales, ValueRange{row, g});
  Value xsScale = tensor::ExtractOp::create(b, loc, qx.scales, ValueRange{xRow, g});
  Value s = vector::BroadcastOp::create(b, loc, f32v,
                                        arith::MulFOp::create(b, loc, ws, xsScale));
  Value exact = arith::SIToFPOp::create(b, loc, f32v, sum);
  return vector::FMAOp::create(b, loc, exact, s, total);
}

SmallVector<Value> KernelEmitter::sweepInt8(ArrayRef<Weight> weights,
                                            ArrayRef<Value> rows,
                                            const QuantizedInput &qx,
                                            ArrayRef<Value> xRows, int64_t kExtent) {
  const int64_t tn = rows.size(), tm = xRows.size();
  const int64_t perWeight = tm * tn;
  auto f32v = VectorType::get({vl}, b.getF32Type());
  Value zeroF = arith::ConstantOp::create(b, loc, b.getZeroAttr(f32v));
  // Every weight has one format and group (takesInt8Dots).
  const Weight &w0 = weights[0];
  const int64_t step = int8Step(w0);
  SmallVector<Value> zeros(weights.size() * perWeight, zeroF);
  return forGroups(kExtent, w0.group, zeros,
                   [&](Value k0, int64_t size, ValueRange totals) -> SmallVector<Value> {
                     Value g = arith::DivUIOp::create(b, loc, k0, index(w0.group));
                     // Each token's start, the same for every row.
                     SmallVector<Value> starts, init;
                     for (Value xRow : xRows)
                       starts.push_back(groupStart(w0, qx, xRow, g));
                     for (size_t m = 0; m < weights.size(); ++m)
                       for (int64_t j = 0; j < tm; ++j)
                         init.append(tn, starts[j]);
                     auto sums = scf::ForOp::create(
                         b, loc, k0, arith::AddIOp::create(b, loc, k0, index(size)),
                         index(step), init,
                         [&](OpBuilder &, Location, Value k, ValueRange acc) {
                           SmallVector<Value> next(acc.begin(), acc.end());
                           // Each weight row's bytes once, for every token.
                           for (auto [m, w] : llvm::enumerate(weights))
                             for (int64_t r = 0; r < tn; ++r) {
                               SmallVector<Value, 2> bytes = weightBytes(w, rows[r], k);
                               for (int64_t j = 0; j < tm; ++j) {
                                 Value &a = next[m * perWeight + j * tn + r];
                                 a = byteDotStep(w, bytes, a, qx, xRows[j], k);
                               }
                             }
                           scf::YieldOp::create(b, loc, next);
                         });
                     SmallVector<Value> out;
                     for (auto [m, w] : llvm::enumerate(weights))
                       for (int64_t j = 0; j < tm; ++j)
                         for (int64_t r = 0; r < tn; ++r) {
                           int64_t i = m * perWeight + j * tn + r;
                           out.push_back(scaleGroup(w, rows[r], qx, xRows[j], g,
                                                    sums.getResult(i), totals[i]));
                         }
                     return out;
                   });
}

} // namespace mlir::qnext::kernels
