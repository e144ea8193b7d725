//===- ContractionKernels.h - x * W^T: what a kernel computes, and how -*- C++ -*-===//
//
// Internal to passes/Lower: qnext-vectorize-contractions finds the
// contractions qnext-lower-to-linalg emits and what fuses with them
// (KernelMatch.cpp: epilogues, prologues, gathers, the MoE's combine and
// shared expert), and emits each as a register-blocked vector kernel
// (KernelEmitter.h: KernelEmitter.cpp, GatherKernels.cpp, DecodeWeights.cpp,
// Int8Dots.cpp, BF16Dots.cpp).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PASSES_LOWER_CONTRACTIONKERNELS_H
#define QNEXT_PASSES_LOWER_CONTRACTIONKERNELS_H

#include "qnext/Passes/Passes.h"

#include "mlir/IR/PatternMatch.h"

#include <optional>

namespace mlir::qnext::kernels {

/// y = x * W^T as matched: `x` is [K] (one token) or [T, K], `w` is [N, K].
/// A gather contraction (one token's routed experts, qnext-lower-to-linalg's
/// gather form) has a `selector` [1, S] of expert ids, `w` stacked [E, N, K]
/// and y [1, S, N]: y[0, s, n] = sum_k x[k] * w[selector[0, s], n, k], with
/// x [1, K], or [1, S, K] (`perSlot`: one input row per slot).
/// A gather of rows (`rowSelector`: several tokens' routed experts, their
/// (token, slot) pairs as rows) has a `selector` [P], x [P, K] and y [P, N]:
/// y[p, n] = sum_k x[p, k] * w[selector[p], n, k]; its kernel reads each
/// expert's weights once for a run of consecutive rows that name it.
/// The weight is read as stored: `w` is its values (f32, bf16, f16, or a
/// quantized format) and, when the op's weight is a qnext.dequantize,
/// `scales` its scales ([..., N, ceil(K / group)] f32), decoded in registers;
/// `int4`: `w` holds two values a byte ([..., N, K / 2] i8, the layout of
/// qnext.dequantize {int4}).
struct Contraction {
  linalg::GenericOp op;
  Value x, w, init;
  bool multiToken;
  int64_t n, k; ///< n is ShapedType::kDynamic for a dynamic row count
  Value selector = {};
  int64_t slots = 0;
  bool perSlot = false;
  bool rowSelector = false;
  Value scales = {};
  int64_t group = 0;
  bool int4 = false;
};

/// Whether the kernels take `c` at vector width `vl`: K in whole vectors,
/// and a quantized weight's groups too; int4 bytes a whole number of
/// vectors per half tile (16 bytes), which the verifier's tiles of 32
/// columns then divide.
inline bool fitsVectors(const Contraction &c, int64_t vl) {
  return c.k % vl == 0 && (!c.scales || c.group % vl == 0) &&
         (!c.int4 || 16 % vl == 0);
}

/// A fused kernel's work: one contraction, or (with an epilogue) two of the
/// same input and shape whose results only a marked elementwise generic
/// reads, as its inputs 0 and 1; or one contraction whose input a marked
/// generic (the prologue) computes, possibly through a reshape that merges
/// its feature dimensions into K.
struct Kernel {
  Contraction c;
  std::optional<Contraction> second;
  linalg::GenericOp epilogue;
  linalg::GenericOp prologue;
  tensor::CollapseShapeOp collapse;
  /// A per-slot gather contraction's weighted sum over slots (the MoE's
  /// combine), computed in its kernel.
  linalg::GenericOp combine = {};
  /// With a combine: the shared expert added to it, also computed in the
  /// kernel (`shared = gate(down(h), logit)`, `sum = add(combine, shared)`).
  std::optional<Contraction> sharedDown = std::nullopt;
  linalg::GenericOp sharedGate = {}, sharedAdd = {};
};


/// The projection contractions of qnext-lower-to-linalg (and the gather
/// form of one token's routed experts).
std::optional<Contraction> match(linalg::GenericOp op);
/// Whether `init` is a linalg.fill of +0.0 (an init that adds nothing).
bool isZeroFill(Value init);
/// A generic tagged with a swiglu or moe group, elementwise over two
/// contractions of one input that nothing else reads.
std::optional<Kernel> matchEpilogue(linalg::GenericOp e);
/// A per-slot gather contraction's weighted sum over the slots.
std::optional<Kernel> matchCombine(linalg::GenericOp op);
/// The MoE's shared expert added to a combine, computed in its kernel.
void matchSharedExpert(Kernel &k, int64_t vl);
/// `c` with its input (a generic tagged norm_linear or gate_linear)
/// computed in the kernel.
std::optional<Kernel> matchPrologue(const Contraction &c, int64_t vl);

/// What the kernels multiply weights by (qnext-vectorize-contractions'
/// activations option). F32: the input as it is (the weight-exact
/// contract). Int8: kernels of int8/int4 weights quantize their input and
/// multiply bytes (Int8Dots.cpp). BF16: kernels of bf16 weights
/// round their input to bf16 and multiply pairs with vdpbf16ps
/// (BF16Dots.cpp).
enum class Activations { F32, Int8, BF16 };

/// How the kernels are blocked (qnext-vectorize-contractions' options).
struct KernelShape {
  int64_t vectorWidth, rows, tokenRows, tokenBlockRows, prologueTasks, tokenTile;
  Activations activations = Activations::F32;
  /// With activations=bf16: kernels of several tokens on AMX tiles
  /// (AMXTiles.cpp).
  bool amx = false;
  /// With activations=bf16: bf16 values an input is the sum of (1 or 2;
  /// BF16Dots.cpp).
  int64_t bf16Terms = 1;
  /// With activations=int8: the target has vpdpbusd (Int8Dots.cpp).
  bool vnni = true;
};

/// What a weight argument of a quantized kernel must be: the values and
/// scales of a qnext.dequantize are what a slice of its result reads
/// (qnext-lower-to-linalg slices the routed experts' stacks): these
/// patterns move the slice onto them.
void populateSliceDequantizePatterns(RewritePatternSet &patterns);

/// Emits `kernel` before the builder's insertion point; returns the
/// replacement of its last op (the epilogue's, the combine's, the shared
/// add's, or the contraction's result).
Value emitKernel(OpBuilder &b, Location loc, Kernel &kernel, const KernelShape &shape);

} // namespace mlir::qnext::kernels

#endif // QNEXT_PASSES_LOWER_CONTRACTIONKERNELS_H
