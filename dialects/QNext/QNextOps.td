//===- QNextOps.td - qnext operations ------------------------*- tablegen -*-===//
//
// Layer ops (what a user reads, what fusion reasons about) and primitive ops
// (what the layer ops decompose into and the lowerings consume). Shapes use
// the spec's names: T tokens, H hidden, Nk/Nv DeltaNet key/value heads, Dk/Dv
// their head dims, Nq/Nkv attention query/KV heads, D attention head dim,
// E experts, I expert intermediate size.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_OPS_TD
#define QNEXT_OPS_TD

include "QNextBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"

//===----------------------------------------------------------------------===//
// Parameters
//===----------------------------------------------------------------------===//

def QNext_ParamOp : QNext_Op<"param", [Pure]> {
  let summary = "a named model parameter (a checkpoint tensor, no data)";
  let description = [{
    Names one tensor of the checkpoint by its Hugging Face name. The result has
    the tensor's static shape and stored dtype; the data stays in the
    checkpoint (and later in the artifact), never in the IR.

    A name holding the placeholder `{e}` names a stack of per-expert tensors:
    the result's leading dimension is the number of experts and slice `e` is the
    tensor whose name has `{e}` replaced by `e`.

    Example:

    ```mlir
    %w = qnext.param "model.layers.0.linear_attn.out_proj.weight" : tensor<128x128xbf16>
    %g = qnext.param "model.layers.0.mlp.experts.{e}.gate_proj.weight" : tensor<8x64x128xbf16>
    ```

    A quantized weight's block scales are a parameter with `block_rows`: the
    checkpoint holds one row of scales per `block_rows` weight rows (FP8's
    `weight_scale_inv`, `[ceil(out / 128), ceil(in / 128)]`, in F32, BF16 or
    F16); the result has one row per weight row, in f32, so that every row
    transform moves a weight row and its scales together. A `qnext.dequantize`
    reads the two. A weight qnext quantizes itself (`qnext-compile
    --weights=int8`) is two parameters of one tensor, its values and its
    scales, each with `quantize` (`#qnext.quantize`).

    ```mlir
    %q = qnext.param "model.layers.0.self_attn.o_proj.weight" : tensor<128x256xf8E4M3FN>
    %s = qnext.param "model.layers.0.self_attn.o_proj.weight_scale_inv" {block_rows = 128 : i64}
        : tensor<128x2xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<I64Attr>:$block_rows,
                   OptionalAttr<QNext_QuantizeAttr>:$quantize);
  let results = (outs QNext_StoredWeight:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Weight-layout ops (applied to parameters; folded when weights are packed)
//===----------------------------------------------------------------------===//

def QNext_SplitQKVZOp : QNext_Op<"split_qkvz", [Pure]> {
  let summary = "un-interleave Qwen3-Next's in_proj_qkvz rows into qkv and z";
  let description = [{
    Qwen3-Next stores `in_proj_qkvz` with its rows interleaved per key-head
    group (spec 4.2): group `g` holds q head `g`, k head `g`, then the `R =
    Nv/Nk` value heads and the `R` z heads of that group. This op reorders the
    rows so that `qkv` holds all q heads, then all k heads, then all v heads
    (the channel order the conv weights use) and `z` is the z heads in head
    order. Because a linear computes `x * W^T`, permuting weight rows permutes
    output channels: the layout is decided once, on the weights.

    Example:

    ```mlir
    %qkv, %z = qnext.split_qkvz %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64,
                                    key_head_dim = 32 : i64, value_head_dim = 32 : i64}
        : tensor<384x128xbf16> -> tensor<256x128xbf16>, tensor<128x128xbf16>
    ```
  }];
  let arguments = (ins QNext_StoredWeight:$weight, I64Attr:$num_key_heads,
                   I64Attr:$num_value_heads, I64Attr:$key_head_dim,
                   I64Attr:$value_head_dim);
  let results = (outs QNext_StoredWeight:$qkv, QNext_StoredWeight:$z);
  let assemblyFormat = [{
    $weight attr-dict `:` type($weight) `->` type($qkv) `,` type($z)
  }];
  let hasVerifier = 1;
}

def QNext_SplitBAOp : QNext_Op<"split_ba", [Pure]> {
  let summary = "un-interleave Qwen3-Next's in_proj_ba rows into b and a";
  let description = [{
    `in_proj_ba` has `2 * Nv` rows, grouped per key head: group `g` holds the
    `R` rows of `b` and then the `R` rows of `a` for value heads `g*R ..
    g*R+R-1` (spec 4.2). The results are `b` and `a` with one row per value
    head, in head order.

    Example:

    ```mlir
    %b, %a = qnext.split_ba %w {num_key_heads = 2 : i64, num_value_heads = 4 : i64}
        : tensor<8x128xbf16> -> tensor<4x128xbf16>, tensor<4x128xbf16>
    ```
  }];
  let arguments = (ins QNext_StoredWeight:$weight, I64Attr:$num_key_heads,
                   I64Attr:$num_value_heads);
  let results = (outs QNext_StoredWeight:$b, QNext_StoredWeight:$a);
  let assemblyFormat = [{
    $weight attr-dict `:` type($weight) `->` type($b) `,` type($a)
  }];
  let hasVerifier = 1;
}

def QNext_ConcatWeightsOp : QNext_Op<"concat_weights", [Pure]> {
  let summary = "weights packed side by side along one dimension";
  let description = [{
    The result is the parts concatenated along `dim`; all other dimensions
    and the element type match. It is a layout op like the splits: the parts
    are parameters (or results of `qnext.split_qkvz` / `qnext.split_ba` on
    one), and the weight packer writes the concatenation once, so the code
    reads one contiguous tensor. Fusion passes make it: projections that
    share an input become one projection whose weight rows are their weights'
    rows one after another (`dim = 0`); stacked expert weights concatenate
    along their rows (`dim = 1`).

    Example:

    ```mlir
    %w = qnext.concat_weights %qkv, %z, %b, %a {dim = 0 : i64}
        : tensor<256x128xbf16>, tensor<128x128xbf16>, tensor<4x128xbf16>,
          tensor<4x128xbf16> -> tensor<392x128xbf16>
    ```
  }];
  let arguments = (ins Variadic<QNext_StoredWeight>:$parts, I64Attr:$dim);
  let results = (outs QNext_StoredWeight:$result);
  let assemblyFormat = [{
    $parts attr-dict `:` type($parts) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QNext_DequantizeOp : QNext_Op<"dequantize", [Pure]> {
  let summary = "a quantized weight as the f32 values it stands for";
  let description = [{
    `result[..., n, k] = decode(values[..., n, k]) * scales[..., n, k / group]`:
    the weight a projection reads, given as its stored values and one f32
    scale per `group` consecutive columns of a row (the last group of a row
    may be partial). `values` are e4m3fn (FP8: sign, 4 exponent bits with
    bias 7, 3 mantissa bits, no infinities) or int8 (two's complement).
    Leading dimensions (a stack of experts) are shared by the three.

    With `int4`, each `i8` of `values` holds two 4-bit two's-complement
    values (-8 to 7), so a row has half as many bytes as the result has
    columns: the columns go in tiles of 32, and byte `j` (0 to 15) of a
    tile's 16 holds its column `j` in the low nibble and column `j + 16` in
    the high one. A vector of bytes then decodes to two vectors of
    consecutive columns (a shift each), on any vector width up to 16. The
    result's columns and `group` are multiples of 32.

    The op says how to read a weight; it is not a copy. The kernels of
    `qnext-vectorize-contractions` read `values` and `scales` and decode in
    registers; a dequantize that no kernel consumes is an error there, never
    a dequantized tensor in memory. The layout ops apply to `values` and
    `scales` alike (both have a row per weight row), so that the packer lays
    them out.

    Example:

    ```mlir
    %w = qnext.dequantize %q, %s {group = 128 : i64}
        : tensor<128x256xf8E4M3FN>, tensor<128x2xf32> -> tensor<128x256xf32>
    %w4 = qnext.dequantize %q4, %s4 {group = 128 : i64, int4}
        : tensor<128x128xi8>, tensor<128x2xf32> -> tensor<128x256xf32>
    ```
  }];
  let arguments = (ins StaticShapeTensorOf<[F8E4M3FN, I8]>:$values,
                   StaticShapeTensorOf<[F32]>:$scales, I64Attr:$group,
                   UnitAttr:$int4);
  let results = (outs StaticShapeTensorOf<[F32]>:$result);
  let assemblyFormat = [{
    $values `,` $scales attr-dict `:` type($values) `,` type($scales) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def QNext_ByteDotOp : QNext_Op<"byte_dot",
    [Pure, AllTypesMatch<["acc", "result"]>, AllTypesMatch<["lhs", "rhs"]>]> {
  let summary = "acc + unsigned bytes times signed bytes, summed by fours";
  let description = [{
    `result[i] = acc[i] + sum_{j < 4} zext(lhs[4 i + j]) * sext(rhs[4 i + j])`,
    in i32 that wraps (no saturation): x86's `vpdpbusd`, 64 (or 32)
    multiply-adds of bytes into 16 (or 8) i32 lanes. The kernels of
    `qnext-vectorize-contractions` with `activations=int8` multiply
    weights by quantized inputs with it. A vector op, so that kernels on
    tensors can use it before bufferization (a call of the intrinsic has
    unknown memory effects there); `qnext-lower-byte-dots` makes it
    `vpdpbusd` where the target CPU has it (16 lanes: AVX512-VNNI; 8:
    AVX-VNNI, or AVX512-VNNI with VL) and `vpmaddubsw` + `vpmaddwd`
    (AVX512-BW; AVX2) where it does not.

    `narrow` promises that every `lhs` byte is below 128, so that a pair of
    products fits `vpmaddubsw`'s saturating i16 sum: one `vpmaddubsw` and
    one `vpmaddwd` then compute the result. A `narrow` op whose `lhs` holds
    a byte of 128 or more has an unspecified result. Only narrow ops have a
    lowering for CPUs without `vpdpbusd`.

    Example:

    ```mlir
    %r = qnext.byte_dot %acc, %u, %s : vector<64xi8> into vector<16xi32>
    %n = qnext.byte_dot %acc, %nibbles, %s narrow : vector<64xi8> into vector<16xi32>
    ```
  }];
  let arguments = (ins VectorOfRankAndType<[1], [I32]>:$acc,
                   VectorOfRankAndType<[1], [I8]>:$lhs,
                   VectorOfRankAndType<[1], [I8]>:$rhs,
                   UnitAttr:$narrow);
  let results = (outs VectorOfRankAndType<[1], [I32]>:$result);
  let assemblyFormat = [{
    $acc `,` $lhs `,` $rhs (`narrow` $narrow^)? attr-dict `:` type($lhs) `into` type($acc)
  }];
  let hasVerifier = 1;
}

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

//===----------------------------------------------------------------------===//
// Fusion groups
//===----------------------------------------------------------------------===//

def QNext_FusedOp : QNext_Op<"fused", [
    RecursiveMemoryEffects,
    SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "ops that are lowered together, as one kernel";
  let description = [{
    The result of a fusion pass that groups existing ops rather than
    replacing them with one new op: the ops in the region are lowered as the
    kernel `kind` names (`#qnext.fusion`). The region may read any value
    defined above it; its one block ends with `qnext.yield` of the values the
    rest of the function reads. `qnext-lower-to-linalg` lowers a group by
    lowering its ops in its place, tagged with its kind.

    Example (qnext-fuse-swiglu on a dense MLP):

    ```mlir
    %h = qnext.fused <swiglu> : tensor<?x64xf32> {
      %g = qnext.linear %x, %wg : tensor<?x32xf32>, tensor<64x32xbf16> -> tensor<?x64xf32>
      %u = qnext.linear %x, %wu : tensor<?x32xf32>, tensor<64x32xbf16> -> tensor<?x64xf32>
      %s = qnext.silu_mul %g, %u : tensor<?x64xf32>
      qnext.yield %s : tensor<?x64xf32>
    }
    ```
  }];
  let arguments = (ins QNext_FusionKindAttr:$kind);
  let results = (outs Variadic<AnyType>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = "$kind (`:` type($results)^)? $body attr-dict";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The group `op` is a member of (directly, not through other regions),
    /// or null.
    static FusedOp groupOf(::mlir::Operation *op) {
      return ::llvm::dyn_cast_or_null<FusedOp>(op->getParentOp());
    }
  }];
}

def QNext_YieldOp : QNext_Op<"yield", [Pure, Terminator, ReturnLike,
                                      HasParent<"FusedOp">]> {
  let summary = "the values a qnext.fused group gives the rest of the function";
  let arguments = (ins Variadic<AnyType>:$values);
  let assemblyFormat = "($values^ `:` type($values))? attr-dict";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ::mlir::ValueRange()); }]>];
}

#endif // QNEXT_OPS_TD
