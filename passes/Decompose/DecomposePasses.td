//===- DecomposePasses.td - qnext layer ops to primitives --*- tablegen -*-===//
//
// The pass that rewrites each qnext layer op (gated_deltanet, gated_attention,
// moe, ...) into the primitive ops the fusions and lowerings consume.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_DECOMPOSE_PASSES_TD
#define QNEXT_DECOMPOSE_PASSES_TD

include "mlir/Pass/PassBase.td"

def DecomposeLayers : Pass<"qnext-decompose-layers"> {
  let summary = "Decompose qnext layer ops into qnext primitive ops";
  let description = [{
    Rewrites each layer op into the primitive ops that define it, plus the
    upstream `tensor` reshapes and slices that move between `[T, N*D]` and
    `[T, N, D]` views and an `arith.addf` for the MoE's shared-expert sum:

    * `qnext.gated_deltanet` -> four `qnext.linear` projections,
      `qnext.causal_conv1d {silu}`, q/k/v slices, `qnext.l2_norm` of q (scaled
      by `Dk^-0.5`) and k, `qnext.gdn_gates`, `qnext.gated_delta_rule`,
      `qnext.gated_rms_norm`, the output `qnext.linear`;
    * `qnext.gated_attention` -> projections, the per-head query/gate split,
      `qnext.rms_norm` of q and k heads, `qnext.rope` of q and k,
      `qnext.attention` over the caches, `qnext.sigmoid_gate`, `o_proj`;
    * `qnext.moe` -> router projection, `qnext.router`, `qnext.expert_swiglu`,
      the shared expert (`qnext.linear` x3, `qnext.silu_mul`) gated by
      `qnext.sigmoid_gate`, summed with `arith.addf`;
    * `qnext.mlp` -> gate and up projections, `qnext.silu_mul`, down;
    * `qnext.lm_head` -> `qnext.rms_norm` then `qnext.linear`.

    A mixer's rows form (with `slots`: a batched decode step, each row one
    token of its own sequence) keeps the projections and the output
    projection over all the rows and runs the ops between them (the conv to
    the gated norm; the q/k norms to the sigmoid gate) in one `scf.forall`
    over the rows: row `r` takes its slot's part of each state (a
    `tensor.extract_slice` of the `[S, ...]` state at `slots[r]`), as a
    sequence of one token would, at past `positions[r]` for attention, and
    writes it back with `tensor.parallel_insert_slice`; the step of one row
    is then the decode form that the fusions and lowerings already handle.

    `qnext.rms_norm` and `qnext.embedding` are already primitive and stay.
    Operand order, attributes (epsilon, RoPE, top-k) and the state results are
    carried over exactly; the rewrite is semantics-preserving.

    With `ops=moe,mlp` only the named layer kinds are decomposed (names are the
    op mnemonics without the `qnext.` prefix), which lets a fusion experiment
    keep the other layers whole.

    Statistics: Debian's LLVM 22 is built without LLVM statistics (NDEBUG and
    no LLVM_FORCE_ENABLE_STATS), so there `num-decomposed` stays empty in
    `--mlir-pass-statistics`; it counts against an LLVM built with them.
  }];
  let options = [
    ListOption<"ops", "ops", "std::string",
               "Layer op kinds to decompose (default: all): gated_deltanet, "
               "gated_attention, moe, mlp, lm_head">
  ];
  let statistics = [
    Statistic<"numDecomposed", "num-decomposed", "Number of layer ops decomposed">
  ];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::scf::SCFDialect",
    "::mlir::tensor::TensorDialect",
    "::mlir::qnext::QNextDialect"
  ];
}

#endif // QNEXT_DECOMPOSE_PASSES_TD
