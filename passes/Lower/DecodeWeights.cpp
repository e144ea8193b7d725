//===- DecodeWeights.cpp - weights read and decoded in registers ----------===//
//
// A kernel's weights as its microkernels read them: a vector of a row's
// values widened (bf16, f16) or decoded and scaled (e4m3, int8, int4), and
// the K loop that runs by the weight's groups of columns (scales read once
// per group) and int4's tiles. KernelEmitter.cpp's blocks and
// GatherKernels.cpp's gathers compose these with their epilogues; the
// byte-dot blocks of activations=int8 are in Int8Dots.cpp.
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

namespace mlir::qnext::kernels {

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

SmallVector<Value> KernelEmitter::forGroups(
    int64_t kExtent, int64_t group, ValueRange init,
    function_ref<SmallVector<Value>(Value, int64_t, ValueRange)> body) {
  int64_t whole = kExtent / group * group;
  SmallVector<Value> carried(init.begin(), init.end());
  if (whole > 0)
    carried = scf::ForOp::create(
                  b, loc, index(0), index(whole), index(group), carried,
                  [&](OpBuilder &, Location, Value k0, ValueRange in) {
                    scf::YieldOp::create(b, loc, body(k0, group, in));
                  })
                  .getResults();
  if (whole < kExtent)
    carried = body(index(whole), kExtent - whole, carried);
  return carried;
}

SmallVector<Value> KernelEmitter::sweepK(
    int64_t kExtent, ValueRange init, ArrayRef<std::pair<Weight, Value>> rows,
    function_ref<SmallVector<Value>(const KStep &, ArrayRef<Value>, ValueRange)> body,
    bool scaleSums, ArrayRef<int64_t> rowOfCarried) {
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
    // quantized: a fused pair's weights share their format, matchEpilogue.)
    assert(!llvm::is_contained(scales, Value()) && "every row quantized");
    assert((rowOfCarried.empty() ? scales.size() == carried.size()
                                 : rowOfCarried.size() == carried.size()) &&
           "a row for every carried value");
    SmallVector<Value> sums = loop(k0, size, zeros, {});
    SmallVector<Value> next;
    for (auto [i, sum, c] : llvm::enumerate(sums, carried)) {
      Value scale = scales[rowOfCarried.empty() ? i : size_t(rowOfCarried[i])];
      next.push_back(vector::FMAOp::create(b, loc, sum, scale, c));
    }
    return next;
  };
  return forGroups(kExtent, group, init, inGroup);
}

Value KernelEmitter::read(Value source, ValueRange indices, Type elt, int64_t lanes) {
  auto type = VectorType::get({lanes ? lanes : vl}, elt);
  Value pad = arith::ConstantOp::create(b, loc, b.getZeroAttr(elt));
  return vector::TransferReadOp::create(b, loc, type, source, indices, pad,
                                        ArrayRef<bool>{true});
}

} // namespace mlir::qnext::kernels
