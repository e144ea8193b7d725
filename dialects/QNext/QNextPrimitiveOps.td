//===- QNextPrimitiveOps.td - primitive operations ---------*- tablegen -*-===//
//
// Primitive ops: what the layer ops decompose into, what the fusions group
// and the lowerings consume (projections, norms, the delta rule and its
// one-token step, rope, attention, the router and the experts).
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_PRIMITIVE_OPS_TD
#define QNEXT_PRIMITIVE_OPS_TD

include "QNextBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

//===----------------------------------------------------------------------===//
// Primitive ops
//===----------------------------------------------------------------------===//

def QNext_LinearOp : QNext_Op<"linear", [Pure]> {
  let summary = "x * W^T with a [out, in] weight";
  let description = [{
    `result[t, n] = sum_k input[t, k] * weight[n, k]`, accumulated in fp32;
    the weight is widened from its stored dtype exactly.

    Example:

    ```mlir
    %y = qnext.linear %x, %w : tensor<?x128xf32>, tensor<256x128xbf16> -> tensor<?x256xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Weight:$weight);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` type($input) `,` type($weight) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QNext_GatedRMSNormOp : QNext_Op<"gated_rms_norm",
    [Pure, AllTypesMatch<["input", "gate", "result"]>]> {
  let summary = "RMSNorm then SiLU gate (the DeltaNet output norm), spec 3.2";
  let description = [{
    `y = x * rsqrt(mean(x^2) + epsilon) * w * silu(gate)` over the last axis:
    norm first, then gate; the statistic is of `x` alone and the weight is a
    plain scale (not zero-centred).

    Example:

    ```mlir
    %y = qnext.gated_rms_norm %o, %z, %w : tensor<?x4x32xf32>, tensor<32xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Tensor:$gate,
                   QNext_Weight:$weight,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $gate `,` $weight attr-dict `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def QNext_L2NormOp : QNext_Op<"l2_norm", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "L2 normalisation over the last axis, times a scale";
  let description = [{
    `y = x * rsqrt(sum(x^2) + epsilon) * scale` over the last axis (spec 3.3;
    `epsilon` is the fixed 1e-6 of the reference, not `rms_norm_eps`). The
    DeltaNet query uses `scale = Dk^-0.5`.

    Example:

    ```mlir
    %q = qnext.l2_norm %x {scale = 0.176776692 : f32} : tensor<?x2x32xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon,
                   DefaultValuedAttr<F32Attr, "1.0">:$scale);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def QNext_CausalConv1dOp : QNext_Op<"causal_conv1d",
    [Pure, AllTypesMatch<["input", "result"]>, AllTypesMatch<["state", "new_state"]>]> {
  let summary = "causal depthwise conv1d with carried state, optionally followed by SiLU";
  let description = [{
    For input `x [T, C]`, taps `w [C, K]` and state `s [K-1, C]` (the last
    `K-1` inputs before this call, zeros at a sequence start), with
    `xx = concat(s, x)` along the token axis:
    `y[t, c] = sum_i w[c, i] * xx[t + i, c]` (tap `K-1` multiplies the current
    token), then `silu` when the `silu` flag is present. The new state is the
    last `K-1` rows of `xx` (pre-convolution inputs).

    Example:

    ```mlir
    %y, %s1 = qnext.causal_conv1d %x, %w, %s0 {silu}
        : tensor<?x256xf32>, tensor<256x4xbf16>, tensor<3x256xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Weight:$weight,
                   QNext_Tensor:$state, UnitAttr:$silu);
  let results = (outs QNext_Tensor:$result, QNext_Tensor:$new_state);
  let assemblyFormat = [{
    $input `,` $weight `,` $state attr-dict `:` type($input) `,` type($weight)
    `,` type($state)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$input, "::mlir::Value":$weight,
                   "::mlir::Value":$state, "bool":$silu), [{
      build($_builder, $_state, input.getType(), state.getType(), input,
            weight, state, silu);
    }]>
  ];
  let hasVerifier = 1;
}

def QNext_GdnGatesOp : QNext_Op<"gdn_gates", [Pure]> {
  let summary = "DeltaNet decay and write strength: g and beta, spec 4.5";
  let description = [{
    Per token and value head, in fp32:
    `g = -exp(a_log) * softplus(a + dt_bias)` (the log-decay, `g <= 0`) and
    `beta = sigmoid(b)`. softplus returns its input above 20.

    Example:

    ```mlir
    %g, %beta = qnext.gdn_gates %a, %b, %alog, %dt
        : tensor<?x4xf32>, tensor<?x4xf32>, tensor<4xbf16>, tensor<4xbf16>
        -> tensor<?x4xf32>, tensor<?x4xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$a, QNext_Tensor:$b, QNext_Weight:$a_log,
                   QNext_Weight:$dt_bias);
  let results = (outs QNext_F32Tensor:$g, QNext_F32Tensor:$beta);
  let assemblyFormat = [{
    $a `,` $b `,` $a_log `,` $dt_bias attr-dict `:` type($a) `,` type($b) `,`
    type($a_log) `,` type($dt_bias) `->` type($g) `,` type($beta)
  }];
  let hasVerifier = 1;
}

def QNext_GatedDeltaRuleOp : QNext_Op<"gated_delta_rule", [Pure]> {
  let summary = "the gated delta rule, with initial state in and final state out, spec 4.8";
  let description = [{
    The semantics is the recurrence of spec 4.8, per value head `h` with key
    head `j = h / (Nv/Nk)` and state `S [Dk, Dv]` (fp32), for `t = 0..T-1`:

    ```
    S   = exp(g[t, h]) * S
    u   = beta[t, h] * (v[t, h] - S^T k[t, j])
    S   = S + k[t, j] (outer) u
    o[t, h] = S^T q[t, j]
    ```

    `q` and `k` arrive normalised and scaled. Both the chunked algorithm
    (spec 4.9, for prefill) and the token-by-token recurrence (for decode) are
    lowerings of this one op. Results: `o` and the state after token `T-1`.

    Example:

    ```mlir
    %o, %s1 = qnext.gated_delta_rule %q, %k, %v, %g, %beta, %s0
        : (tensor<?x2x32xf32>, tensor<?x2x32xf32>, tensor<?x4x32xf32>, tensor<?x4xf32>,
           tensor<?x4xf32>, tensor<4x32x32xf32>) -> (tensor<?x4x32xf32>, tensor<4x32x32xf32>)
    ```
  }];
  let arguments = (ins QNext_Tensor:$query, QNext_Tensor:$key,
                   QNext_Tensor:$value, QNext_F32Tensor:$g,
                   QNext_F32Tensor:$beta, QNext_F32Tensor:$state);
  let results = (outs QNext_Tensor:$result, QNext_F32Tensor:$new_state);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
  let builders = [
    OpBuilder<(ins "::mlir::Value":$query, "::mlir::Value":$key,
                   "::mlir::Value":$value, "::mlir::Value":$g,
                   "::mlir::Value":$beta, "::mlir::Value":$state), [{
      build($_builder, $_state, value.getType(), state.getType(), query, key,
            value, g, beta, state);
    }]>
  ];
  let hasVerifier = 1;
}

def QNext_DeltaNetStepOp : QNext_Op<"deltanet_step", [Pure,
    AllTypesMatch<["conv_state", "new_conv_state"]>,
    AllTypesMatch<["state", "new_state"]>]> {
  let summary = "a DeltaNet layer's decode step between its projections, as one op";
  let description = [{
    One token (`T = 1`) of Gated DeltaNet from the projected `qkv`, `a`, `b`
    and `z` to the gated-normed heads that feed `out_proj`:

    ```
    c, new_conv_state = causal_conv1d(qkv, conv_weight, conv_state) {silu}
    q = l2_norm(c[:, 0 : Nk*Dk] as [1, Nk, Dk]) * query_scale
    k = l2_norm(c[:, Nk*Dk : 2*Nk*Dk] as [1, Nk, Dk])
    v = c[:, 2*Nk*Dk :] as [1, Nv, Dv]
    g, beta = gdn_gates(a, b, a_log, dt_bias)
    o, new_state = gated_delta_rule(q, k, v, g, beta, state)
    result = gated_rms_norm(o, z, norm_weight) {epsilon}
    ```

    with `Nk = num_key_heads` and `Nv, Dk, Dv` from the state `[Nv, Dk, Dv]`
    (the L2 norms use `l2_epsilon`). `qnext-fuse-deltanet-step` forms it from
    those ops. It lowers to one parallel loop over the key heads: each
    iteration convolves its own channels, normalises its query and key, and
    runs the gates, the delta rule and the output norm of its `Nv/Nk` value
    heads, so the recurrent state of a head is read once and written once.
    The arithmetic of every element is that of the ops it replaces.

    Example:

    ```mlir
    %y, %cs1, %s1 = qnext.deltanet_step %qkv, %w, %cs0, %a, %b, %alog, %dt, %s0, %z, %nw
        {num_key_heads = 2 : i64, query_scale = 0.176776692 : f32}
        : (tensor<1x320xf32>, tensor<320x4xbf16>, tensor<3x320xf32>, tensor<1x4xf32>,
           tensor<1x4xf32>, tensor<4xbf16>, tensor<4xbf16>, tensor<4x32x64xf32>,
           tensor<1x4x64xf32>, tensor<64xbf16>)
        -> (tensor<1x4x64xf32>, tensor<3x320xf32>, tensor<4x32x64xf32>)
    ```
  }];
  let arguments = (ins QNext_Tensor:$qkv, QNext_Weight:$conv_weight,
                   QNext_F32Tensor:$conv_state, QNext_Tensor:$a,
                   QNext_Tensor:$b, QNext_Weight:$a_log,
                   QNext_Weight:$dt_bias, QNext_F32Tensor:$state,
                   QNext_Tensor:$z, QNext_Weight:$norm_weight,
                   I64Attr:$num_key_heads, F32Attr:$query_scale,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$l2_epsilon,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon);
  let results = (outs QNext_Tensor:$result, QNext_F32Tensor:$new_conv_state,
                  QNext_F32Tensor:$new_state);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QNext_RopeOp : QNext_Op<"rope", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "partial rotary position embedding (NeoX pairing), optionally YaRN-scaled";
  let description = [{
    For `x [T, N, D]` and absolute `positions [T]`: with `r = rotary_dim`,
    `inv_freq[i] = theta^(-2i/r)` (or the YaRN blend) for `i < r/2` and
    `phi = position * inv_freq[i]` in fp32, dims `j` and `j + r/2` of each head
    are rotated by `phi_j` for `j < r/2`:

    ```
    y[j]       = x[j] * cos - x[j + r/2] * sin
    y[j + r/2] = x[j + r/2] * cos + x[j] * sin
    ```

    (times the YaRN attention factor when `yarn` is present). Dims `[r, D)`
    pass through.

    Example:

    ```mlir
    %y = qnext.rope %q, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64}
        : tensor<?x4x64xf32>, tensor<?xi32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_IndexTensor:$positions,
                   I64Attr:$rotary_dim, F64Attr:$theta,
                   OptionalAttr<QNext_YarnAttr>:$yarn);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $positions attr-dict `:` type($input) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def QNext_NormRopeOp : QNext_Op<"norm_rope",
    [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "per-head RMSNorm, then partial RoPE, in one op";
  let description = [{
    `qnext.rope` of `qnext.rms_norm` of `input [T, N, D]`: each head is
    normalised with the shared `weight [D]` (epsilon, weight_offset as in
    `qnext.rms_norm`), then rotated as `qnext.rope` does (rotary_dim, theta,
    yarn). Gated attention's QK-norm and RoPE on queries and keys;
    `qnext-fuse-norm-rope` forms it. It lowers to the norm's reduction and one
    pass that normalises each element and its rotation partner and rotates
    them, where the norm and the rotation were two passes over the heads; the
    arithmetic of every element is unchanged.

    Example:

    ```mlir
    %q2 = qnext.norm_rope %q, %w, %pos {rotary_dim = 16 : i64, theta = 1.0e+07 : f64}
        : tensor<?x4x64xf32>, tensor<64xbf16>, tensor<?xi32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Weight:$weight,
                   QNext_IndexTensor:$positions,
                   DefaultValuedAttr<F32Attr, "1.0e-6">:$epsilon,
                   DefaultValuedAttr<F32Attr, "1.0">:$weight_offset,
                   I64Attr:$rotary_dim, F64Attr:$theta,
                   OptionalAttr<QNext_YarnAttr>:$yarn);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $positions attr-dict `:` type($input) `,`
    type($weight) `,` type($positions)
  }];
  let hasVerifier = 1;
}

def QNext_AttentionOp : QNext_Op<"attention", [Pure]> {
  let summary = "causal GQA attention over a KV cache";
  let description = [{
    Writes `k [T, Nkv, D]` and `v [T, Nkv, Dv]` into the caches
    (`[Nkv, capacity, D]`, `[Nkv, capacity, Dv]`) at positions
    `[past, past + T)`, then for each query token `t` and head `h` attends
    to cache positions `[0, past + t]` of KV head `h / (Nq/Nkv)`:
    `o = softmax(q k^T * scale) v`, softmax in fp32. `scale` defaults to
    `D^-0.5`. `past + T` must not exceed the capacity (checked by the
    runtime). Results: `o [T, Nq, Dv]` and the updated caches.

    Example:

    ```mlir
    %o, %kc1, %vc1 = qnext.attention %q, %k, %v, %kc, %vc, %past
        : (tensor<?x4x64xf32>, tensor<?x2x64xf32>, tensor<?x2x64xf32>, tensor<2x256x64xf32>,
           tensor<2x256x64xf32>, index)
        -> (tensor<?x4x64xf32>, tensor<2x256x64xf32>, tensor<2x256x64xf32>)
    ```
  }];
  let arguments = (ins QNext_Tensor:$query, QNext_Tensor:$key,
                   QNext_Tensor:$value, QNext_Tensor:$k_cache,
                   QNext_Tensor:$v_cache, Index:$past,
                   OptionalAttr<F32Attr>:$scale);
  let results = (outs QNext_Tensor:$result, QNext_Tensor:$new_k_cache,
                  QNext_Tensor:$new_v_cache);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QNext_SigmoidGateOp : QNext_Op<"sigmoid_gate", [Pure, AllTypesMatch<["input", "result"]>]> {
  let summary = "x * sigmoid(gate), the gate broadcast over the last axis when it has size 1";
  let description = [{
    The attention output gate (`gate` has the shape of `x`) and the shared
    expert's gate (`gate` is `[T, 1]`, one scalar per token).

    Example:

    ```mlir
    %y = qnext.sigmoid_gate %x, %g : tensor<?x128xf32>, tensor<?x1xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_Tensor:$gate);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    $input `,` $gate attr-dict `:` type($input) `,` type($gate)
  }];
  let hasVerifier = 1;
}

def QNext_SiluMulOp : QNext_Op<"silu_mul", [Pure, AllTypesMatch<["gate", "up", "result"]>]> {
  let summary = "the SwiGLU activation: silu(gate) * up";
  let description = [{
    Example:

    ```mlir
    %h = qnext.silu_mul %g, %u : tensor<?x256xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$gate, QNext_Tensor:$up);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($gate)";
}

def QNext_RouterOp : QNext_Op<"router", [Pure]> {
  let summary = "MoE routing: fp32 softmax over all experts, top-k, renormalise";
  let description = [{
    `p = softmax(float32(logits))` over all `E` experts; the `top_k` largest
    probabilities in descending order (ties: the lower expert index first),
    divided by their sum when `normalize` is true. Results: the weights
    `[T, top_k]` (fp32) and the expert indices `[T, top_k]`.

    Example:

    ```mlir
    %w, %idx = qnext.router %logits {top_k = 2 : i64}
        : tensor<?x8xf32> -> tensor<?x2xf32>, tensor<?x2xi32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$logits, I64Attr:$top_k,
                   DefaultValuedAttr<BoolAttr, "true">:$normalize);
  let results = (outs QNext_F32Tensor:$weights, QNext_IndexTensor:$indices);
  let assemblyFormat = [{
    $logits attr-dict `:` type($logits) `->` type($weights) `,` type($indices)
  }];
  let hasVerifier = 1;
}

def QNext_ExpertSwiGLUOp : QNext_Op<"expert_swiglu", [Pure]> {
  let summary = "the selected SwiGLU experts of each token, weighted and summed";
  let description = [{
    `y[t] = sum_i weights[t, i] * E_{indices[t, i]}(x[t])` with
    `E_e(x) = down[e] * (silu(gate[e] * x) * (up[e] * x))`. Only the selected
    experts are computed; stacks are `[E, I, H]` (gate, up) and `[E, H, I]`
    (down).

    Example:

    ```mlir
    %y = qnext.expert_swiglu %x, %w, %idx, %eg, %eu, %ed
        : (tensor<?x128xf32>, tensor<?x2xf32>, tensor<?x2xi32>, tensor<8x64x128xbf16>,
           tensor<8x64x128xbf16>, tensor<8x128x64xbf16>) -> tensor<?x128xf32>
    ```
  }];
  let arguments = (ins QNext_Tensor:$input, QNext_F32Tensor:$weights,
                   QNext_IndexTensor:$indices, QNext_Weight:$gate,
                   QNext_Weight:$up, QNext_Weight:$down);
  let results = (outs QNext_Tensor:$result);
  let assemblyFormat = [{
    operands attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // QNEXT_PRIMITIVE_OPS_TD
