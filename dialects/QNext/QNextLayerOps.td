//===- QNextLayerOps.td - layer operations -----------------*- tablegen -*-===//
//
// Layer ops: what a user reads and fusion reasons about, one op a block of
// the model (embedding, norms, Gated DeltaNet, gated attention, the routed
// MoE, the MLP, lm_head). qnext-decompose-layers rewrites the composite ones
// (DeltaNet, attention, MoE, MLP, lm_head) into the primitive ops of
// QNextPrimitiveOps.td; embedding and the norms stay as they are.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_LAYER_OPS_TD
#define QNEXT_LAYER_OPS_TD

include "QNextBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

//===----------------------------------------------------------------------===//
// Layer ops
//===----------------------------------------------------------------------===//

def QNext_EmbeddingOp : QNext_Op<"embedding", [Pure]> {
  let summary = "token embedding lookup";
  let description = [{
    `result[t, :] = table[ids[t], :]`, widened to the result's element type.
    No scaling. Ids outside `[0, vocab)` are the caller's error (the runtime
    checks them before calling).

    Example:

    ```mlir
    %h = qnext.embedding %ids, %table : tensor<?xi32>, tensor<512x128xbf16> -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins QNext_IndexTensor:$ids, QNext_Weight:$table);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $ids `,` $table attr-dict `:` type($ids) `,` type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QNext_RMSNormOp : QNext_Op<"rms_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "RMSNorm over the last axis; zero-centred by default";
  let description = [{
    `y = x * rsqrt(mean(x^2) + epsilon) * (weight_offset + w)`, over the last
    axis, computed in fp32 and rounded once. Qwen3-Next's norms (input,
    post-attention, final, q_norm, k_norm, MTP) are zero-centred: their stored
    weight is initialised to 0 and the scale is `1 + w`, so `weight_offset`
    defaults to 1. A layout that bakes the `+1` into the weights sets it to 0.
    Applied to `[T, heads, D]` it normalises each head with one shared weight.

    Example:

    ```mlir
    %y = qnext.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : tensor<?x128xf32>, tensor<128xbf16>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Weight:$weight,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon,
                   DefaultValuedAttr<F32Attr, "1.0">:$weight_offset);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def QNext_AddRMSNormOp : QNext_Op<"add_rms_norm",
    [Pure, AllTypesMatch<["lhs", "rhs", "sum", "result"]>]> {
  let summary = "residual add and the RMSNorm of the sum, in one op";
  let description = [{
    `sum = lhs + rhs`, and `result` is `qnext.rms_norm` of `sum` with the same
    weight, epsilon and weight offset: the residual stream and the next
    sublayer's input together. `qnext-fuse-add-norm` forms it from an
    `arith.addf` whose sum an `qnext.rms_norm` normalises; it lowers to one
    reduction and one elementwise pass that writes both results, where the
    add and the norm were separate loop nests.

    Example:

    ```mlir
    %h, %x = qnext.add_rms_norm %res, %y, %w {epsilon = 1.0e-06 : f32}
        : tensor<?x128xf32>, tensor<128xbf16>
    ```
  }];
  let arguments = (ins QNext_Tensor:$lhs, QNext_Tensor:$rhs, QNext_Weight:$weight,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon,
                   DefaultValuedAttr<F32Attr, "1.0">:$weight_offset);
  let results = (outs QNext_Tensor:$sum, QNext_Tensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs `,` $weight attr-dict `:` type($lhs) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def QNext_GatedDeltaNetOp : QNext_Op<"gated_deltanet", [Pure]> {
  let summary = "Gated DeltaNet mixer (linear attention layer), spec section 4";
  let description = [{
    The whole linear-attention mixer of one layer, for `T` tokens continuing
    from the given state (zero state at the start of a sequence):

    1. `qkv = x * w_qkv^T`, `z = x * w_z^T`, `b = x * w_b^T`, `a = x * w_a^T`;
    2. causal depthwise conv (kernel `K` from `conv_weight`) over `qkv`,
       prefixed by `conv_state` (the last `K-1` pre-conv inputs), then SiLU;
    3. split into q, k (`Nk` heads of `Dk`) and v (`Nv` heads of `Dv`);
       `q = l2norm(q) * Dk^-0.5`, `k = l2norm(k)`;
    4. `beta = sigmoid(b)`, `g = -exp(a_log) * softplus(a + dt_bias)`;
    5. the gated delta rule from `recurrent_state` (`qnext.gated_delta_rule`;
       value head `h` reads key head `h / (Nv/Nk)`);
    6. gated RMSNorm of each head's output with `silu(z)` and the plain weight
       `norm_weight`; `out = y * out_proj^T`.

    Results: the mixer output and the state after the last token.

    With `slots` (`[T]`, the rows form of a batched decode step) the `T`
    rows are one token each of independent sequences: row `t` continues
    sequence slot `slots[t]`, whose states are `conv_state[slots[t]]` and
    `recurrent_state[slots[t]]` (both states have a leading slot
    dimension), and only the listed slots' states change. The slots of a
    step must be distinct. `qnext-decompose-layers` runs the rows' steps as
    one parallel loop.

    With `slots` and `ends` (both `[N]`, the sequences form of a batched
    prefill step) the rows are `N` runs of consecutive tokens: sequence `i`
    is rows `[ends[i-1], ends[i])` (`ends[-1]` = 0, `ends[N-1]` = `T`, each
    run at least one row) and continues slot `slots[i]` as a call of this
    op on that slot's states alone would. The slots must be distinct; the
    decomposition runs the sequences as one parallel loop.

    The projection weights are in the un-interleaved layout (Qwen3.5's on-disk
    layout; Qwen3-Next's comes from `qnext.split_qkvz` / `qnext.split_ba`).
    `conv_weight` has the checkpoint's `[conv_dim, 1, K]` shape.

    Example:

    ```mlir
    %y, %cs, %rs = qnext.gated_deltanet %x, %conv, %rec, %wqkv, %wz, %wb, %wa, %cw, %dt, %alog, %nw, %wo
        {num_key_heads = 2 : i64, num_value_heads = 4 : i64, key_head_dim = 32 : i64,
         value_head_dim = 32 : i64}
        : (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>, tensor<256x128xbf16>,
           tensor<128x128xbf16>, tensor<4x128xbf16>, tensor<4x128xbf16>, tensor<256x1x4xbf16>,
           tensor<4xbf16>, tensor<4xbf16>, tensor<32xbf16>, tensor<128x128xbf16>)
        -> (tensor<?x128xf32>, tensor<3x256xf32>, tensor<4x32x32xf32>)
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Tensor:$conv_state,
                   QNext_F32Tensor:$recurrent_state,
                   QNext_Weight:$w_qkv, QNext_Weight:$w_z, QNext_Weight:$w_b,
                   QNext_Weight:$w_a, QNext_Weight:$conv_weight,
                   QNext_Weight:$dt_bias, QNext_Weight:$a_log,
                   QNext_Weight:$norm_weight, QNext_Weight:$out_proj,
                   Variadic<QNext_IndexTensor>:$batch,
                   I64Attr:$num_key_heads, I64Attr:$num_value_heads,
                   I64Attr:$key_head_dim, I64Attr:$value_head_dim,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon);
  let results = (outs QNext_Tensor:$result, QNext_Tensor:$new_conv_state,
                  QNext_F32Tensor:$new_recurrent_state);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
  let extraClassDeclaration = [{
    /// `batch` is empty (one sequence), `slots` (the rows form) or `slots`
    /// and `ends` (the sequences form).
    ::mlir::Value getSlots() {
      return getBatch().empty() ? ::mlir::Value() : getBatch()[0];
    }
    ::mlir::Value getEnds() {
      return getBatch().size() > 1 ? getBatch()[1] : ::mlir::Value();
    }
  }];
  let hasVerifier = 1;
}

def QNext_GatedAttentionOp : QNext_Op<"gated_attention",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "gated full-attention mixer (GQA, QK-norm, partial RoPE, sigmoid gate), spec section 5";
  let description = [{
    The whole full-attention mixer of one layer, for `T` tokens at `positions`
    continuing after `past` cached tokens:

    1. `q_proj` gives, per head, `D` query rows then `D` gate rows;
       `k = x * k_proj^T`, `v = x * v_proj^T`;
    2. zero-centred RMSNorm of each q and k head (`q_norm`, `k_norm`);
    3. partial RoPE (NeoX pairing) on the first `rotary_dim` dims of q and k,
       with `rope_theta` and optional YaRN scaling;
    4. k and v are written to the caches at `[past, past + T)`; causal GQA
       attention over `[0, past + T)` (query head `h` reads KV head
       `h / (Nq/Nkv)`), scale `D^-0.5`, fp32 softmax;
    5. `o = o * sigmoid(gate)`, `out = o * o_proj^T`.

    Caches are `[Nkv, capacity, D]`; the results are the output and the
    updated caches.

    The rows form, a batched decode step, takes `slots` (`[T]`) instead of
    `past`: row `t` is one token of sequence slot `slots[t]` at
    `positions[t]`, which is also the number of tokens that slot holds
    before it; its k and v go to position `positions[t]` of the caches
    `k_cache[slots[t]]` and `v_cache[slots[t]]` (the caches have a leading
    slot dimension) and it attends over `[0, positions[t]]` of them. The
    slots of a step must be distinct.

    The sequences form, a batched prefill step, takes `slots` and `ends`
    (both `[N]`): sequence `i` is rows `[ends[i-1], ends[i])` (`ends[-1]` =
    0, `ends[N-1]` = `T`, each run at least one row) of slot `slots[i]`,
    which holds `positions` of the run's first row tokens before it; the
    run is what this op would do on that slot's caches alone with that
    `past`. The slots must be distinct.

    ```mlir
    %y, %kc, %vc = qnext.gated_attention %x, %pos, %kcache, %vcache slots(%slots), %wq, %wk, %wv, %wo, %qn, %kn
        {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64,
         rope_theta = 1.0e+07 : f64}
        : (tensor<?x128xf32>, tensor<?xi32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>,
           tensor<?xi32>, tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>,
           tensor<128x256xbf16>, tensor<64xbf16>, tensor<64xbf16>)
        -> (tensor<?x128xf32>, tensor<?x2x256x64xf32>, tensor<?x2x256x64xf32>)
    ```

    Example:

    ```mlir
    %y, %kc, %vc = qnext.gated_attention %x, %pos, %kcache, %vcache past(%past), %wq, %wk, %wv, %wo, %qn, %kn
        {num_heads = 4 : i64, num_kv_heads = 2 : i64, head_dim = 64 : i64, rotary_dim = 16 : i64,
         rope_theta = 1.0e+07 : f64}
        : (tensor<?x128xf32>, tensor<?xi32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>, index,
           tensor<512x128xbf16>, tensor<128x128xbf16>, tensor<128x128xbf16>, tensor<128x256xbf16>,
           tensor<64xbf16>, tensor<64xbf16>)
        -> (tensor<?x128xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_IndexTensor:$positions,
                   QNext_Tensor:$k_cache, QNext_Tensor:$v_cache,
                   Optional<Index>:$past, Optional<QNext_IndexTensor>:$slots,
                   Optional<QNext_IndexTensor>:$ends,
                   QNext_Weight:$q_proj, QNext_Weight:$k_proj,
                   QNext_Weight:$v_proj, QNext_Weight:$o_proj,
                   QNext_Weight:$q_norm, QNext_Weight:$k_norm,
                   I64Attr:$num_heads, I64Attr:$num_kv_heads, I64Attr:$head_dim,
                   I64Attr:$rotary_dim, F64Attr:$rope_theta,
                   OptionalAttr<QNext_YarnAttr>:$yarn,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon);
  let results = (outs QNext_Tensor:$result, QNext_Tensor:$new_k_cache,
                  QNext_Tensor:$new_v_cache);
  let assemblyFormat = [{
    $input `,` $positions `,` $k_cache `,` $v_cache
    (`past` `(` $past^ `)`)? (`slots` `(` $slots^ `)`)? (`ends` `(` $ends^ `)`)? `,` $q_proj `,`
    $k_proj `,` $v_proj `,` $o_proj `,` $q_norm `,` $k_norm attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QNext_MoEOp : QNext_Op<"moe", [Pure]> {
  let summary = "routed mixture of SwiGLU experts with a sigmoid-gated shared expert, spec section 6";
  let description = [{
    `p = softmax(x * router^T)` over all `E` experts in fp32; the `top_k`
    largest, renormalised to sum 1 when `norm_topk_prob`; the routed output
    `sum_i w_i * down_e(silu(gate_e(x)) * up_e(x))` over the selected experts;
    plus the shared expert `sigmoid(x * shared_expert_gate^T) *
    shared_down(silu(shared_gate(x)) * shared_up(x))`.

    Expert weights are stacks `[E, I, H]` (gate, up) and `[E, H, I]` (down).

    Example:

    ```mlir
    %y = qnext.moe %x, %router, %eg, %eu, %ed, %sg, %su, %sd, %sgate {top_k = 2 : i64}
        : (tensor<?x128xf32>, tensor<8x128xbf16>, tensor<8x64x128xbf16>, tensor<8x64x128xbf16>,
           tensor<8x128x64xbf16>, tensor<96x128xbf16>, tensor<96x128xbf16>, tensor<128x96xbf16>,
           tensor<1x128xbf16>) -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Weight:$router,
                   QNext_Weight:$experts_gate, QNext_Weight:$experts_up,
                   QNext_Weight:$experts_down, QNext_Weight:$shared_gate,
                   QNext_Weight:$shared_up, QNext_Weight:$shared_down,
                   QNext_Weight:$shared_expert_gate, I64Attr:$top_k,
                   DefaultValuedAttr<BoolAttr, "true">:$norm_topk_prob);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QNext_MLPOp : QNext_Op<"mlp", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "dense SwiGLU MLP";
  let description = [{
    `y = down(silu(gate(x)) * up(x))` with `gate`, `up` of shape `[I, H]` and
    `down` of shape `[H, I]` (layers not selected for MoE; every layer of the
    dense Qwen3.5 models).

    Example:

    ```mlir
    %y = qnext.mlp %x, %g, %u, %d : tensor<?x128xf32>, tensor<256x128xbf16>,
                                    tensor<256x128xbf16>, tensor<128x256xbf16>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Weight:$gate,
                   QNext_Weight:$up, QNext_Weight:$down);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $gate `,` $up `,` $down attr-dict `:` type($input) `,`
    type($gate) `,` type($up) `,` type($down)
  }];
  let hasVerifier = 1;
}

def QNext_LMHeadOp : QNext_Op<"lm_head", [Pure]> {
  let summary = "final zero-centred RMSNorm and the vocabulary projection";
  let description = [{
    `logits = rms_norm(h, norm) * weight^T` (`model.norm` then `lm_head`, or
    `model.embed_tokens` when the embeddings are tied).

    Example:

    ```mlir
    %logits = qnext.lm_head %h, %norm, %w : tensor<?x128xf32>, tensor<128xbf16>,
                                           tensor<512x128xbf16> -> tensor<?x512xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Weight:$norm,
                   QNext_Weight:$weight,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $norm `,` $weight attr-dict `:` type($input) `,` type($norm) `,`
    type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

#endif // QNEXT_LAYER_OPS_TD
