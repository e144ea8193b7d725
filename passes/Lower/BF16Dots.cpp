//===- BF16Dots.cpp - blocks that multiply bf16 pairs ---------------------===//
//
// activations=bf16: a block of bf16 weights with several tokens (a prompt,
// a batched decode step) is bound by its FMAs, not by memory: the f32 path
// widens every weight and spends an FMA on it. Here the input is rounded to
// bf16 once (a token tile's rows before its row blocks, a prologue's span
// where a task computes it, one token's row once per task, a gather slot's
// once per block) and a weight's 2 x vl values multiply it as they are,
// with AVX512-BF16's vdpbf16ps (x86vector.avx512.dot): twice the
// multiply-adds of an FMA, no widening; the instruction treats denormal
// inputs and results as zero. Not weight-exact: the input's rounding is the
// mode's error (docs/quantization.md). With bf16-terms=2 the input is the
// sum of two bf16 values, its rounding and the rounding of what that left
// (x - hi), each multiplied: 16 bits of the input's 24 instead of 8, for
// twice the products (a weight's vector is read once for both).
//
//===----------------------------------------------------------------------===//

#include "KernelEmitter.h"

#include "mlir/Dialect/X86Vector/X86VectorDialect.h"

namespace mlir::qnext::kernels {

bool KernelEmitter::takesBF16Dots(ArrayRef<Weight> weights, int64_t kExtent) const {
  if (activations != Activations::BF16 || weights.empty() || kExtent % (2 * vl))
    return false;
  for (const Weight &w : weights)
    if (w.scales || !getElementTypeOrSelf(w.values.getType()).isBF16())
      return false;
  return true;
}

SmallVector<Value> KernelEmitter::sweepBF16(
    int64_t kExtent, ValueRange init,
    function_ref<SmallVector<Value>(Value, ValueRange)> body) {
  return scf::ForOp::create(b, loc, index(0), index(kExtent), index(2 * vl), init,
                            [&](OpBuilder &, Location, Value k, ValueRange in) {
                              scf::YieldOp::create(b, loc, body(k, in));
                            })
      .getResults();
}

SmallVector<Value, 2> KernelEmitter::inputBF16(Value xs, ValueRange indices) {
  Type elt = getElementTypeOrSelf(xs.getType());
  if (elt.isBF16()) {
    // Rounded already: the terms side by side, K columns each.
    int64_t k = cast<RankedTensorType>(xs.getType()).getShape().back() / bf16Terms;
    SmallVector<Value, 2> terms;
    SmallVector<Value> at(indices.begin(), indices.end());
    for (int64_t i = 0; i < bf16Terms; ++i) {
      terms.push_back(read(xs, at, elt, 2 * vl));
      at.back() = arith::AddIOp::create(b, loc, at.back(), index(k));
    }
    return terms;
  }
  Value x = read(xs, indices, elt, 2 * vl);
  auto type = VectorType::get({2 * vl}, b.getBF16Type());
  Value hi = arith::TruncFOp::create(b, loc, type, x);
  if (bf16Terms == 1)
    return {hi};
  Value rest = arith::SubFOp::create(
      b, loc, x, arith::ExtFOp::create(b, loc, x.getType(), hi));
  return {hi, arith::TruncFOp::create(b, loc, type, rest)};
}

Value KernelEmitter::dpbf16Terms(Value acc, Value w, ArrayRef<Value> x) {
  for (Value term : x)
    acc = dpbf16(acc, w, term);
  return acc;
}

Value KernelEmitter::roundRowsBF16(Value xs, Value lo, Value hi) {
  Value count = arith::SubIOp::create(b, loc, hi, lo);
  int64_t k = cast<RankedTensorType>(xs.getType()).getShape().back();
  Value out = tensor::EmptyOp::create(
      b, loc, ArrayRef<OpFoldResult>{count, b.getIndexAttr(bf16Terms * k)},
      b.getBF16Type());
  auto rows = scf::ForOp::create(
      b, loc, lo, hi, index(1), ValueRange{out},
      [&](OpBuilder &, Location, Value t, ValueRange outer) {
        Value row = arith::SubIOp::create(b, loc, t, lo);
        auto cols = scf::ForOp::create(
            b, loc, index(0), index(k), index(2 * vl), ValueRange{outer[0]},
            [&](OpBuilder &, Location, Value col, ValueRange inner) {
              Value out = inner[0];
              for (auto [i, v] : llvm::enumerate(inputBF16(xs, {t, col})))
                out = vector::TransferWriteOp::create(
                          b, loc, v, out,
                          ValueRange{row, arith::AddIOp::create(b, loc, col,
                                                                index(int64_t(i) * k))},
                          ArrayRef<bool>{true})
                          .getResult();
              scf::YieldOp::create(b, loc, out);
            });
        scf::YieldOp::create(b, loc, cols.getResults());
      });
  return rows.getResult(0);
}

Value KernelEmitter::roundVectorBF16(Value x) {
  int64_t k = cast<RankedTensorType>(x.getType()).getShape().back();
  Value out =
      tensor::EmptyOp::create(b, loc, ArrayRef<int64_t>{bf16Terms * k}, b.getBF16Type());
  return scf::ForOp::create(
             b, loc, index(0), index(k), index(2 * vl), ValueRange{out},
             [&](OpBuilder &, Location, Value col, ValueRange in) {
               Value into = in[0];
               for (auto [i, v] : llvm::enumerate(inputBF16(x, {col})))
                 into = vector::TransferWriteOp::create(
                            b, loc, v, into,
                            ValueRange{arith::AddIOp::create(b, loc, col,
                                                             index(int64_t(i) * k))},
                            ArrayRef<bool>{true})
                            .getResult();
               scf::YieldOp::create(b, loc, into);
             })
      .getResult(0);
}

Value KernelEmitter::dpbf16(Value acc, Value w, Value x) {
  return x86vector::DotBF16Op::create(b, loc, acc.getType(), acc, w, x);
}

} // namespace mlir::qnext::kernels
