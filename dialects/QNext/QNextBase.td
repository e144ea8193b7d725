//===- QNextBase.td - dialect, attributes, constraints -----*- tablegen -*-===//
//
// The `qnext` dialect describes the Qwen3-Next / Qwen3.5 text decoder. See
// QNextOps.td for the operations and ../../docs/QNextDialect.md for the
// generated reference.
//
//===----------------------------------------------------------------------===//

#ifndef QNEXT_BASE_TD
#define QNEXT_BASE_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def QNext_Dialect : Dialect {
  let name = "qnext";
  let cppNamespace = "::mlir::qnext";
  let summary = "Qwen3-Next / Qwen3.5 decoder layers and the primitives they decompose into";
  let description = [{
    The `qnext` dialect describes the Qwen3-Next family of hybrid decoders
    (Gated DeltaNet linear attention, gated full attention, routed MoE) at two
    levels:

    * **Layer ops** (`qnext.gated_deltanet`, `qnext.gated_attention`,
      `qnext.moe`, `qnext.mlp`, `qnext.rms_norm`, `qnext.embedding`,
      `qnext.lm_head`): the unit a user reads and a fusion pass reasons about.
    * **Primitive ops** (`qnext.linear`, `qnext.causal_conv1d`,
      `qnext.gated_delta_rule`, `qnext.rope`, `qnext.attention`,
      `qnext.router`, `qnext.expert_swiglu`, ...): what the layer ops
      decompose into (`--qnext-decompose-layers`) and what the lowerings consume.

    Conventions shared by every op:

    * Activations are ranked tensors with the token axis first (`T`, usually
      dynamic): `[T, hidden]`, or `[T, heads, head_dim]` per head. Batch is 1.
    * Weights never appear as constants. A `qnext.param` op names a checkpoint
      tensor (its Hugging Face name) and has its static shape and stored dtype;
      ops take weights as operands. A whole model's IR is built and transformed
      without any weight data.
    * State is explicit: the KV cache and the DeltaNet conv and recurrent
      states are operands and results, so a function of qnext ops is a pure
      function of (tokens, positions, state, parameters).
    * Linear weights have the PyTorch `[out, in]` layout: `y = x * W^T`.
  }];
  let useDefaultAttributePrinterParser = 1;
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::tensor::TensorDialect"
  ];
}

class QNext_Op<string mnemonic, list<Trait> traits = []>
    : Op<QNext_Dialect, mnemonic, traits>;

class QNext_Attr<string name, string attrMnemonic, list<Trait> traits = []>
    : AttrDef<QNext_Dialect, name, traits> {
  let mnemonic = attrMnemonic;
}

//===----------------------------------------------------------------------===//
// Attributes
//===----------------------------------------------------------------------===//

// An APFloat parameter: parsed from any float literal, printed exactly
// (`4.000000e+00`) like MLIR's own float attributes.
class QNext_FloatParameter<string desc> : APFloatParameter<desc> {
  let parser = [{ [&]() -> ::mlir::FailureOr<::llvm::APFloat> {
    double value;
    if ($_parser.parseFloat(value))
      return ::mlir::failure();
    return ::llvm::APFloat(value);
  }() }];
  let printer = [{ $_printer.printFloat($_self) }];
}

def QNext_YarnAttr : QNext_Attr<"Yarn", "yarn"> {
  let summary = "YaRN scaling of the rotary embedding";
  let description = [{
    Static YaRN (`rope_scaling` / `rope_parameters` with `rope_type = "yarn"`,
    spec section 5.4). With `dim` the rotary dimension and `base` the RoPE
    theta, frequency `i` is blended between `1/base^(2i/dim)` and the same
    divided by `factor`, with a linear ramp between the correction dims of
    `beta_fast` and `beta_slow` measured against
    `original_max_position_embeddings`; cos and sin are multiplied by the
    attention factor `0.1 * ln(factor) + 1`.

    Example:

    ```mlir
    #qnext.yarn<factor = 4.0, original_max_position_embeddings = 262144,
                beta_fast = 32.0, beta_slow = 1.0>
    ```
  }];
  let parameters = (ins
    QNext_FloatParameter<"scaling factor (>= 1)">:$factor,
    "int64_t":$original_max_position_embeddings,
    QNext_FloatParameter<"fast correction boundary, in rotations">:$beta_fast,
    QNext_FloatParameter<"slow correction boundary, in rotations">:$beta_slow
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def QNext_FusionKind : I32EnumAttr<"FusionKind",
    "the kernel a qnext.fused group becomes", [
  I32EnumAttrCase<"SwiGLU", 0, "swiglu">,
  I32EnumAttrCase<"MoE", 1, "moe">,
  I32EnumAttrCase<"NormLinear", 2, "norm_linear">,
  I32EnumAttrCase<"GateLinear", 3, "gate_linear">,
  I32EnumAttrCase<"Router", 4, "router">
]> {
  let cppNamespace = "::mlir::qnext";
  let genSpecializedAttr = 0;
}

def QNext_FusionKindAttr : EnumAttr<QNext_Dialect, QNext_FusionKind, "fusion"> {
  let summary = "which fused kernel a group of ops becomes";
  let description = [{
    The kind of a `qnext.fused` group: how the ops inside it are lowered
    together.

    * `swiglu`: gate and up projections with their `silu_mul` (or one
      `qnext.expert_swiglu`, each expert's gate and up): one kernel reads the
      input once for both and writes `silu(gate) * up` from its registers.
    * `moe`: a decode step's `qnext.expert_swiglu` as two kernels for all the
      selected experts (gate/up, then down with the weighted combine).
    * `norm_linear`: an RMSNorm (zero-centred or gated) computed inside the
      kernel of the one projection that reads it.
    * `gate_linear`: attention's elementwise sigmoid output gate computed
      inside `o_proj`'s kernel.
    * `router`: the router's softmax, top-k and renormalisation in one loop
      over tokens.

    From `qnext-lower-to-linalg` until `qnext-vectorize-contractions` the
    same attribute, under the name `qnext.fusion`, tags the structured ops a
    group was lowered to; the vectorizer consumes it and removes it.

    Example: `#qnext.fusion<swiglu>`.
  }];
  let assemblyFormat = "`<` $value `>`";
}

def QNext_LayerKind : I32EnumAttr<"LayerKind",
    "the token mixer of a decoder layer (config.json's layer_types)", [
  I32EnumAttrCase<"LinearAttention", 0, "linear_attention">,
  I32EnumAttrCase<"FullAttention", 1, "full_attention">
]> {
  let cppNamespace = "::mlir::qnext";
  let genSpecializedAttr = 0;
}

def QNext_LayerAttr : QNext_Attr<"Layer", "layer"> {
  let summary = "which decoder layer an op belongs to";
  let description = [{
    The decoder layer an op computes part of: its index in the model and its
    kind (the token mixer, as `layer_types` in config.json names it). The
    model builder puts it, under the name `qnext.layer`, on every op of a
    layer (its weights included); decomposition and the fusion passes give
    each op they create the layer of the ops it replaces, and none when those
    ops belong to different layers (such an op stays in the caller).
    `qnext-outline-layers` makes one function of each layer's ops and moves
    the attribute onto that function. Constants never carry one.

    Example: `{qnext.layer = #qnext.layer<3, full_attention>}`.
  }];
  let parameters = (ins "int64_t":$index,
                        EnumParameter<QNext_LayerKind>:$kind);
  let assemblyFormat = "`<` $index `,` $kind `>`";
  let genVerifyDecl = 1;
}

def QNext_QuantFormat : I32EnumAttr<"QuantFormat",
    "a format qnext quantizes float weights to", [
  I32EnumAttrCase<"Int8", 0, "int8">,
  I32EnumAttrCase<"Int4", 1, "int4">
]> {
  let cppNamespace = "::mlir::qnext";
  let genSpecializedAttr = 0;
}

def QNext_QuantPart : I32EnumAttr<"QuantPart",
    "which tensor of a quantized weight", [
  I32EnumAttrCase<"Values", 0, "values">,
  I32EnumAttrCase<"Scales", 1, "scales">
]> {
  let cppNamespace = "::mlir::qnext";
  let genSpecializedAttr = 0;
}

def QNext_QuantizeAttr : QNext_Attr<"Quantize", "quantize"> {
  let summary = "a float weight that qnext quantizes while packing it";
  let description = [{
    On a `qnext.param` (and its `#qnext.weight` plan entry): the parameter is
    one part of checkpoint tensor `name` quantized to `format` with one
    symmetric f32 scale per `group` consecutive columns of a row
    (`qnext-compile --weights=int8:GROUP` or `int4:GROUP`;
    include/qnext/Model/Quantize.h). `values`: the quantized values (int8:
    `i8`, the tensor's shape; int4: `i8` bytes of two values each, the last
    dimension `cols / 2`, laid out as `qnext.dequantize {int4}` reads them);
    `scales`: the scales (`f32`, the last dimension `ceil(cols / group)`).
    An int4 group is a multiple of 32 (the layout's tile).
    The packer reads the tensor (F32, BF16, F16 or FP8), quantizes each row
    and writes the part; a `qnext.dequantize` reads the two.

    Example: `{quantize = #qnext.quantize<int8, 128, values>}`,
    `{quantize = #qnext.quantize<int4, 128, scales>}`.
  }];
  let parameters = (ins EnumParameter<QNext_QuantFormat>:$format,
                        "int64_t":$group,
                        EnumParameter<QNext_QuantPart>:$part);
  let assemblyFormat = "`<` $format `,` $group `,` $part `>`";
  let genVerifyDecl = 1;
}

def QNext_WeightTransform : I32EnumAttr<"WeightTransform",
    "how the weight packer produces a packed tensor from the checkpoint", [
  I32EnumAttrCase<"None", 0, "none">,
  I32EnumAttrCase<"QKVZToQKV", 1, "qkvz.qkv">,
  I32EnumAttrCase<"QKVZToZ", 2, "qkvz.z">,
  I32EnumAttrCase<"BAToB", 3, "ba.b">,
  I32EnumAttrCase<"BAToA", 4, "ba.a">,
  I32EnumAttrCase<"Concat", 5, "concat">
]> {
  let cppNamespace = "::mlir::qnext";
  let genSpecializedAttr = 0;
}

def QNext_WeightAttr : QNext_Attr<"Weight", "weight"> {
  let summary = "one tensor of the packed weights buffer and how it is made";
  let description = [{
    An entry of the weight plan that `qnext-bind-params` records on the
    module (`qnext.weights`, an array of these, and `qnext.weights_size`) and
    that the weight packer executes against a checkpoint:

    * `name`: the checkpoint tensor (its Hugging Face name; `{e}` stands for
      the expert index of an expert stack); for a concatenation, the parts'
      names joined with `+`.
    * `type`: the packed tensor's shape and element type.
    * `transform`: `none` (the tensor as stored), `qkvz.qkv` / `qkvz.z`
      (the two halves of `in_proj_qkvz`, per-head interleaving undone),
      `ba.b` / `ba.a` (the same for `in_proj_ba`), or `concat` (the `parts`,
      side by side along `dim`).
    * `num_key_heads`, `num_value_heads`, `key_head_dim`, `value_head_dim`:
      the DeltaNet geometry the qkvz / ba transforms need.
    * `offset` and `bytes`: where the tensor lies in the buffer (64-byte
      aligned); absent on the parts of a concatenation.
    * `block_rows`: for a quantized weight's scales (`qnext.param`'s
      `block_rows`), the rows of the packed tensor that one row of the
      checkpoint tensor serves; the packer repeats each checkpoint row that
      many times and widens it to f32 before any transform.
    * `quantize`: the part of a weight qnext quantizes (`#qnext.quantize`),
      made from the checkpoint tensor before any transform.

    Example:

    ```mlir
    #qnext.weight<name = "model.layers.0.linear_attn.in_proj_ba.weight",
                  type = tensor<4x64xbf16>, transform = ba.b,
                  num_key_heads = 2, num_value_heads = 4,
                  offset = 4096, bytes = 512>
    ```
  }];
  let parameters = (ins
    StringRefParameter<"checkpoint tensor name">:$name,
    "::mlir::RankedTensorType":$type,
    EnumParameter<QNext_WeightTransform>:$transform,
    DefaultValuedParameter<"int64_t", "0">:$num_key_heads,
    DefaultValuedParameter<"int64_t", "0">:$num_value_heads,
    DefaultValuedParameter<"int64_t", "0">:$key_head_dim,
    DefaultValuedParameter<"int64_t", "0">:$value_head_dim,
    DefaultValuedParameter<"int64_t", "0">:$dim,
    OptionalParameter<"::mlir::ArrayAttr">:$parts,
    DefaultValuedParameter<"int64_t", "-1">:$offset,
    DefaultValuedParameter<"int64_t", "-1">:$bytes,
    DefaultValuedParameter<"int64_t", "0">:$block_rows,
    OptionalParameter<"::mlir::qnext::QuantizeAttr">:$quantize
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// Whether the entry has a place in the buffer (the parts of a
    /// concatenation have none).
    bool isPlaced() const { return getOffset() >= 0; }
  }];
}

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def QNext_Float : AnyTypeOf<[F32, BF16, F16]>;

// Activations: any ranked floating-point tensor (the token axis may be dynamic).
def QNext_Tensor : RankedTensorOf<[F32, BF16, F16]>;

// Weights: statically shaped, in the dtype they are stored in.
def QNext_Weight : StaticShapeTensorOf<[F32, BF16, F16]>;

// Weights as stored, before decoding: a float weight, a quantized weight's
// values (e4m3fn, int8) or its scales. Parameters and the layout ops on them take
// these; the compute ops take QNext_Weight (a quantized weight reaches them
// through qnext.dequantize).
def QNext_StoredWeight : StaticShapeTensorOf<[F32, BF16, F16, F8E4M3FN, I8]>;

// Tensors that the reference keeps in fp32 whatever the activation dtype
// (recurrent state, decay and beta, routing weights).
def QNext_F32Tensor : RankedTensorOf<[F32]>;

def QNext_IndexTensor : RankedTensorOf<[I32, I64]>;

#endif // QNEXT_BASE_TD
