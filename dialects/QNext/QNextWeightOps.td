//===- QNextWeightOps.td - parameters and weight layouts ---*- tablegen -*-===//
//
// The model's parameters (qnext.param) and the ops applied to them: the
// layout splits and concatenations folded when the weights are packed, the
// dequantization of a stored format and the byte dot of int8 inputs.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_WEIGHT_OPS_TD
#define QNEXT_WEIGHT_OPS_TD

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

#endif // QNEXT_WEIGHT_OPS_TD
