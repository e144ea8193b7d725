//===- FusionPasses.td - the fusion passes -----------------*- tablegen -*-===//
//
// The fusions (passes/Fusion): qnext-compile --fusion, --fuse and --no-fuse
// choose among them, --fusion-report counts what they save.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_FUSION_PASSES_TD
#define QNEXT_FUSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseProjections : Pass<"qnext-fuse-projections"> {
  let summary = "Projections that share an input become one projection";
  let description = [{
    Horizontal fusion. The `qnext.linear` ops of one block that read the same
    input and whose weights are parameters (or splits of one) of the same
    element type become one `qnext.linear` on a `qnext.concat_weights` of
    their weights (rows one after another, in program order); each former
    result is a `tensor.extract_slice` of its columns. Members are dropped until the fused rows
    are a multiple of `row-multiple` (the MoE's one-row shared-expert gate
    would otherwise leave the kernel one row per block).

    In Qwen3-Next, per token and layer: DeltaNet's qkv, z, b and a (four
    projections of the normed input, one kernel); attention's q (with its
    gate), k and v; the MoE's router, shared-expert gate and up, and the
    shared-expert gate (four); a dense MLP's gate and up. The input is read
    once instead of once per projection and the kernel count per decode step
    drops; the arithmetic of every output element is unchanged.

    The packer writes the concatenated weights (a `concat` entry in the
    weights plan), so the artifact holds each weight exactly once.
    Projections another fusion has grouped (`qnext.fused`) stay as they are.
    A quantized weight (a `qnext.dequantize` of packable values and scales)
    fuses only with weights of its own format and group: the fused weight is
    one dequantize of the values side by side and of the scales side by
    side. A float weight and a quantized one never share a group.
  }];
  let options = [
    Option<"minGroup", "min-group", "int64_t", /*default=*/"2",
           "Fewest projections sharing an input worth fusing (>= 2)">,
    Option<"rowMultiple", "row-multiple", "int64_t", /*default=*/"4",
           "Keep the fused rows a multiple of this (the projection kernels' "
           "register block): a member whose rows break it stays alone">,
    Option<"testMissliceSite", "test-misslice-site", "int64_t",
           /*default=*/"-1",
           "Test only: at the Nth fused group of each function (from 0), the "
           "last projection reads its columns one too early; a deliberately "
           "broken fusion for qnext-run --bisect-against">,
  ];
  let statistics = [
    Statistic<"numGroups", "groups", "Groups of projections fused">,
    Statistic<"numFused", "projections", "Projections folded into groups">,
  ];
  let dependentDialects = ["::mlir::tensor::TensorDialect",
                           "::mlir::qnext::QNextDialect"];
}

def FuseDeltaNetStep : Pass<"qnext-fuse-deltanet-step"> {
  let summary = "A DeltaNet decode step's conv, norms, gates, delta rule and output norm as one op";
  let description = [{
    For one token (a static leading 1: a decode step), the chain
    `qnext-decompose-layers` makes of a Gated DeltaNet layer between its
    input projections and `out_proj`:

    ```
    causal_conv1d {silu} -> q | k | v slices -> l2_norm (q, k)
    gdn_gates -> gated_delta_rule -> gated_rms_norm
    ```

    becomes one `qnext.deltanet_step`, which lowers to one parallel loop
    over the key heads (one kernel per layer per token, where the chain is
    about fifteen): each iteration convolves its channels and updates their
    conv state in place, normalises its query and key, and runs the gates,
    the delta rule and the gated norm of its value heads, reading and
    writing each head's recurrent state once at the loop's level. The
    element arithmetic is unchanged (bit-identical logits).

    A chain is left alone when any link has another user (its value would
    have to be written anyway), when the conv has no SiLU, when the key's
    L2 norm is scaled or the two norms' epsilons differ, or when the slices
    are not the q | k | v split of the conv's channels. Prompts (a dynamic
    token count) keep the chunked lowering. The step of each row of a
    batched decode step (in the `scf.forall` over rows of a DeltaNet layer's
    rows form) fuses as a decode step does: its states are written back by
    the loop's `tensor.parallel_insert_slice`, after the step.
  }];
  let statistics = [
    Statistic<"numFused", "fused", "DeltaNet decode steps fused">,
  ];
  let dependentDialects = ["::mlir::qnext::QNextDialect"];
}

def FuseMoE : Pass<"qnext-fuse-moe"> {
  let summary = "A decode step's routed experts as two grouped kernels, the combine in the second";
  let description = [{
    Puts every `qnext.expert_swiglu` no other fusion grouped into a
    `qnext.fused <moe>` group of its own. For one token (a decode step), `qnext-lower-to-linalg`
    then lowers it in the gather form (gate, up and down read at the routed
    expert, and the weighted combine over the selected experts), and
    `qnext-vectorize-contractions` makes that two kernels for all the
    selected experts together instead of two or three per expert: one
    computes every selected expert's gate and up rows and `silu(gate) * up`
    in registers, the other every expert's down rows, each block of output
    rows running through the experts in order and adding `weight * rows` in
    registers (the combine) before writing the MoE's output once. Same ops
    in the same order per element: bit-identical to the per-expert kernels.

    Several tokens keep their lowering (`qnext-lower-to-linalg`: sorted by
    expert while the pairs are few, else grouped by expert), the group's tag
    making gate, up and silu * mul one kernel (one for all the experts in
    the sorted form, one per expert in the grouped one), as
    `qnext-fuse-swiglu` does.

    Runs before `qnext-fuse-swiglu`, which leaves grouped ops alone.
  }];
  let statistics = [
    Statistic<"numFused", "fused", "Routed-expert ops grouped">,
  ];
}

def FuseSwiGLU : Pass<"qnext-fuse-swiglu"> {
  let summary = "SwiGLU: gate and up projections and silu * mul as one kernel";
  let description = [{
    Puts every `qnext.silu_mul` whose gate and up are `qnext.linear`s of one
    input with weights of one type, read by nothing else (the dense MLP and
    the shared expert), with those two projections into a `qnext.fused
    <swiglu>` group, and every `qnext.expert_swiglu` (the routed experts)
    into one of its own. `qnext-lower-to-linalg` tags the contractions and
    the elementwise generic it lowers a group to with the kind
    (`qnext.fusion = #qnext.fusion<swiglu>`), and
    `qnext-vectorize-contractions` emits each tagged trio as one kernel: every block of weight rows accumulates
    the gate and the up rows together, reading the input once, and writes
    `silu(gate) * up` straight from its registers. The `[T, 2I]` gate and up
    activations are never written. Same ops, same order: the results are
    bit-identical.

    Runs before `qnext-fuse-projections`, which leaves grouped projections
    alone. Left alone: projections of different inputs or weight types, a
    projection something else reads too.
  }];
  let statistics = [
    Statistic<"numFused", "fused", "Gate, up and silu * mul trios grouped">,
    Statistic<"numExperts", "experts", "Routed-expert ops grouped">,
  ];
}

def FuseNormLinear : Pass<"qnext-fuse-norm-linear"> {
  let summary = "An RMSNorm computed in the prologue of the projection that reads it";
  let description = [{
    Groups every `qnext.rms_norm` and `qnext.gated_rms_norm` whose result one
    `qnext.linear` reads as its input and nothing else does (directly, or
    through a `tensor.collapse_shape` that merges heads) with that
    projection in a `qnext.fused <norm_linear>`: each layer's input norm before its fused input
    projections, DeltaNet's gated norm before `out_proj`, the final norm
    before the LM head in decode. `qnext-lower-to-linalg` tags the norm's
    elementwise generic with the kind (the sum of squares stays its own,
    one value per token and head), and `qnext-vectorize-contractions`
    computes that generic inside the projection's kernel: the normalised
    activations are never written. Same ops, same order: the results are
    bit-identical.

    Runs after `qnext-fuse-projections` (so a norm feeds the one fused
    projection) and before `qnext-fuse-add-norm`, which leaves grouped norms
    alone. Left alone: a norm two projections read (the MoE's input), a norm
    read by anything but a projection.
  }];
  let statistics = [
    Statistic<"numNorms", "norms", "RMSNorms grouped">,
    Statistic<"numGatedNorms", "gated-norms", "Gated RMSNorms grouped">,
  ];
}

def FuseGateLinear : Pass<"qnext-fuse-gate-linear"> {
  let summary = "Attention's sigmoid output gate computed in o_proj's prologue";
  let description = [{
    Groups every elementwise `qnext.sigmoid_gate` (gate and input of one
    shape) whose result one `qnext.linear` reads as its input and nothing
    else does, directly or through the `tensor.collapse_shape` that merges
    the heads, with that projection in a `qnext.fused <gate_linear>`: gated
    attention's output gate before `o_proj`. `qnext-vectorize-contractions`
    computes the gate inside `o_proj`'s kernel, so the gated heads are never
    written. Same ops, same order: the results are bit-identical.

    Left alone: the shared expert's one-per-token gate (it scales a
    projection's output).
  }];
  let statistics = [
    Statistic<"numFused", "fused", "Output gates grouped">,
  ];
}

def FuseAddNorm : Pass<"qnext-fuse-add-norm"> {
  let summary = "A residual add and the RMSNorm of its sum become one op";
  let description = [{
    An `arith.addf` on tensors whose sum one `qnext.rms_norm` normalises (in
    the same block, before every other user of the sum) becomes a
    `qnext.add_rms_norm`: its `sum` replaces the add, its `result` the norm.
    In Qwen3-Next each layer has two: the mixer's residual add with the
    post-attention norm, and the MLP's residual add with the next layer's
    input norm (the last one's with the final norm). The op lowers to one
    reduction and one pass writing both results, instead of an add and a
    norm; the arithmetic of every element is unchanged.

    Left alone: a sum normalised twice, a sum read before the norm, a norm
    of anything but an add.

    A local rewrite: one pattern (on the norm), run by the greedy driver
    with folding off, so nothing else in the IR changes.
  }];
  let statistics = [
    Statistic<"numFused", "fused", "Add and norm pairs fused">,
  ];
  let dependentDialects = ["::mlir::qnext::QNextDialect"];
}

def FuseNormRope : Pass<"qnext-fuse-norm-rope"> {
  let summary = "A per-head RMSNorm and the RoPE of its result become one op";
  let description = [{
    A `qnext.rope` whose input is a `qnext.rms_norm` read by nothing else
    becomes a `qnext.norm_rope`: gated attention's QK-norm and rotary
    embedding of the queries and of the keys. The fused op lowers to the
    norm's reduction and one pass that normalises each element and its
    rotation partner and rotates them; the normalised heads are never
    written. The arithmetic of every element is unchanged.

    A local rewrite: one pattern (on the RoPE), run by the greedy driver
    with folding off, so nothing else in the IR changes.
  }];
  let statistics = [
    Statistic<"numFused", "fused", "Norm and RoPE pairs fused">,
  ];
  let dependentDialects = ["::mlir::qnext::QNextDialect"];
}

def FuseRouter : Pass<"qnext-fuse-router"> {
  let summary = "The MoE router as one kernel: softmax, top-k, renormalise per token";
  let description = [{
    Puts each `qnext.router` into a `qnext.fused <router>` group of its own.
    `qnext-lower-to-linalg` then emits it as one loop over tokens that, for each token, takes the
    fp32 softmax of its logits, picks the top k by repeated argmax and
    renormalises them; ungrouped, the softmax (four passes) and the
    renormalisation (two) run over all tokens around that loop. Same ops,
    same order: the results are bit-identical.
  }];
  let statistics = [
    Statistic<"numFused", "fused", "Routers grouped">,
  ];
}

#endif // QNEXT_FUSION_PASSES_TD
