"""Bad checkpoints for qnext-compile: config.json (its fields, quantization_config,
the config's claims about the weights), model.safetensors (headers, FP8 data
the kernels cannot decode, weights that are not finite) and the shard index.
"""

import json
import os
import struct

from harness import *  # the tools, the good inputs, the helpers, case()

# config.json
for name, text, expect in [
    ("config: empty", "", r"config\.json: .*(JSON|json)"),
    ("config: not JSON", "{model_type: x", r"config\.json: .*(JSON|json)"),
    ("config: an array", "[1, 2]", r"config\.json: .*object"),
]:
    case(name, [compile_, config_text(name.replace(" ", "_").replace(":", ""), text), "-o", out],
         expect, out)
for name, edit, expect in [
    ("config: no model_type", delcfg("model_type"), r"config\.json: .*model_type"),
    ("config: unknown model_type", setcfg(model_type="llama"), r"config\.json: .*model_type"),
    ("config: hidden_size negative", setcfg(hidden_size=-128), r"config\.json: hidden_size"),
    ("config: hidden_size a string", setcfg(hidden_size="128"), r"config\.json: hidden_size"),
    ("config: no hidden_size (transformers' default, unlike the weights)", delcfg("hidden_size"),
     r"expected \[512, 2048\] \(config\.json leaves fields out, so Qwen3NextConfig's "
     r"defaults were used: hidden_size = 2048\)"),
    ("config: zero layers", setcfg(num_hidden_layers=0), r"config\.json: num_hidden_layers"),
    ("config: layers beyond the bound (a fuzzed config's 8512)", setcfg(num_hidden_layers=8512),
     r"config\.json: num_hidden_layers \(8512\) exceeds 1024, the most qnext compiles"),
    ("config: expert weight sets beyond the bound", setcfg(num_experts=1 << 20),
     r"config\.json: num_experts \(1048576\) in \d+ MoE layers and the MTP head's exceeds 131072 "
     r"expert weight sets"),
    ("config: value heads not a multiple", setcfg(linear_num_value_heads=3),
     r"config\.json: linear_num_value_heads .* multiple of linear_num_key_heads"),
    ("config: attention heads not a multiple", setcfg(num_attention_heads=3),
     r"config\.json: num_attention_heads .* multiple of num_key_value_heads"),
    ("config: top-k above experts", setcfg(num_experts_per_tok=99), r"config\.json: num_experts_per_tok"),
    ("config: rms_norm_eps negative", setcfg(rms_norm_eps=-1), r"config\.json: rms_norm_eps"),
    ("config: layer_types too short", setcfg(layer_types=["linear_attention"]),
     r"config\.json: layer_types"),
    ("config: unknown layer type", setcfg(layer_types=["mamba"] * 4), r"config\.json: layer_types"),
    ("config: vocabulary unlike the weights", setcfg(vocab_size=1 << 40),
     r"model\.safetensors: tensor 'model\.embed_tokens\.weight' has shape \[512, 128\], expected \[1099511627776, 128\]"),
    ("config: partial_rotary_factor above 1", setcfg(partial_rotary_factor=2.0),
     r"config\.json: partial_rotary_factor"),
]:
    n = name.replace(" ", "_").replace(":", "")
    case(name, [compile_, folder(n, edit), "-o", out], expect, out)
case("checkpoint: no config.json", [compile_, work + "/nothing-here", "-o", out],
     r"nothing-here", out)

# safetensors
for name, mutate, expect in [
    ("safetensors: unknown dtype", lambda h: h[first_tensor(h)].update(dtype="Q4"),
     r"model\.safetensors: tensor .*dtype"),
    ("safetensors: F8 weights", lambda h: h[first_tensor(h)].update(dtype="F8_E4M3"),
     r"model\.safetensors: .*F8_E4M3"),
    ("safetensors: negative dimension", lambda h: h[first_tensor(h)].update(shape=[-1, 128]),
     r"model\.safetensors: tensor .*shape"),
    ("safetensors: offsets past the data", lambda h: h[first_tensor(h)].update(data_offsets=[0, 1 << 40]),
     r"model\.safetensors: tensor .*data_offsets"),
    ("safetensors: shape and bytes disagree", lambda h: h[first_tensor(h)].update(shape=[1, 1]),
     r"model\.safetensors: tensor .*"),
    ("safetensors: terabyte shape", lambda h: h[first_tensor(h)].update(shape=[1 << 30, 1 << 30]),
     r"model\.safetensors: tensor .*"),
    ("safetensors: missing tensor", lambda h: h.pop("model.norm.weight"),
     r"missing tensor 'model\.norm\.weight'"),
    ("safetensors: wrong shape",
     lambda h: h["model.norm.weight"].update(shape=[64, 2]),
     r"'model\.norm\.weight' has shape \[64, 2\], expected \[128\]"),
    ("safetensors: experts fused and per expert in one layer",
     lambda h: h.update({"model.layers.2.mlp.experts.down_proj":
                         h.pop("model.layers.2.mlp.experts.7.down_proj.weight")}),
     r"checkpoint: layer 2 mixes fused and per-expert expert tensors: "
     r"'model\.layers\.2\.mlp\.experts\.down_proj' in model\.safetensors and "
     r"'model\.layers\.2\.mlp\.experts\.\d\.\w+\.weight' in model\.safetensors"),
    ("safetensors: no experts in either layout",
     lambda h: [h.pop(k) for k in list(h) if k.startswith("model.layers.1.mlp.experts.")],
     r"missing tensor 'model\.layers\.1\.mlp\.experts\.0\.gate_proj\.weight' .*"
     r"the layer holds no fused experts either \('model\.layers\.1\.mlp\.experts\.gate_up_proj', "
     r"'model\.layers\.1\.mlp\.experts\.down_proj'\)"),
    ("safetensors: FP8 weight without its block scale",
     lambda h: to_fp8(h, "model.layers.0.linear_attn.out_proj.weight"),
     r"tensor 'model\.layers\.0\.linear_attn\.out_proj\.weight' is F8_E4M3 without its "
     r"block scale 'model\.layers\.0\.linear_attn\.out_proj\.weight_scale_inv'"),
    ("safetensors: FP8 block scale of the wrong shape",
     lambda h: to_fp8(h, "model.layers.0.linear_attn.out_proj.weight", [2, 3]),
     r"tensor 'model\.layers\.0\.linear_attn\.out_proj\.weight_scale_inv' has shape \[2, 3\], "
     r"expected \[1, 1\] \(one scale per 128x128 block of \[128, 128\]\)"),
    ("safetensors: offsets overlap",
     lambda h: h[sorted(k for k in h if k != "__metadata__")[1]].update(
         data_offsets=h[sorted(k for k in h if k != "__metadata__")[0]]["data_offsets"]),
     r"model\.safetensors: .*"),
]:
    n = name.replace(" ", "_").replace(":", "")
    case(name, [compile_, safetensors(n, mutate), "-o", out], expect, out)
# FP8 data the kernels cannot decode: a NaN byte (even with
# --allow-nonfinite: the decoding would read it as 480), a block scale that
# is not finite, or not once the decoding folds 2^8 into it.
out_proj = "model.layers.0.linear_attn.out_proj.weight"
for name, tensor, edit, flags, expect in [
    ("safetensors: FP8 weight holding a NaN byte", out_proj,
     lambda b, dt: b.__setitem__(37, 0x7F), [],
     r"model\.safetensors: tensor 'model\.layers\.0\.linear_attn\.out_proj\.weight' holds NaN "
     r"at index 37 \(an FP8 weight must be finite\)"),
    ("safetensors: FP8 weight holding a NaN byte, --allow-nonfinite", out_proj,
     lambda b, dt: b.__setitem__(5, 0xFF), ["--allow-nonfinite"],
     r"holds NaN at index 5 \(an FP8 weight must be finite\)"),
    ("safetensors: FP8 block scale of infinity", out_proj + "_scale_inv",
     lambda b, dt: b.__setitem__(slice(0, 4), struct.pack("<f", float("inf"))), [],
     r"model\.safetensors: tensor 'model\.layers\.0\.linear_attn\.out_proj\.weight_scale_inv' "
     r"holds inf at index 0: a block scale must be finite and below 2\^120 in magnitude"),
    ("safetensors: FP8 block scale of 2^121", out_proj + "_scale_inv",
     lambda b, dt: b.__setitem__(slice(0, 4), struct.pack("<f", 2.0 ** 121)), [],
     r"holds 2658455991569831745807614120560689152\.0+ at index 0: a block scale must be finite "
     r"and below 2\^120 in magnitude"),
]:
    n = name.replace(" ", "_").replace(":", "").replace(",", "")
    case(name, [compile_, fp8_data(n, tensor, edit), *flags, "-o", out], expect, out)
# A weight qnext quantizes must be finite, --allow-nonfinite or not (its
# group's scale would be NaN).
case("safetensors: NaN in a weight --weights=int8 quantizes",
     [compile_, fp8_data("int8_nan", out_proj,
                         lambda b, dt: b.__setitem__(slice(6, 8), b"\xc0\x7f"), base=good),
      "--weights=int8", "--allow-nonfinite", "-o", out],
     r"model\.safetensors: tensor 'model\.layers\.0\.linear_attn\.out_proj\.weight' holds NaN "
     r"at index 3 \(a weight quantized to int8 must be finite\)", out)
for name, raw, expect in [
    ("safetensors: shorter than 8 bytes", lambda b: b[:5], r"model\.safetensors: .*"),
    ("safetensors: header length past the end", lambda b: struct.pack("<Q", 1 << 50) + b[8:],
     r"model\.safetensors: .*header"),
    ("safetensors: header not JSON", lambda b: b[:8] + b"!" + b[9:], r"model\.safetensors: .*(JSON|json)"),
    ("safetensors: truncated data", lambda b: b[: len(b) // 2], r"model\.safetensors: .*"),
]:
    n = name.replace(" ", "_").replace(":", "")
    case(name, [compile_, safetensors(n, raw=raw), "-o", out], expect, out)
case("index: missing shard",
     [compile_, sharded("index_missing", {"weight_map": {"model.norm.weight": "nope.safetensors"}}), "-o", out],
     r"nope\.safetensors", out)
case("index: path escapes the folder",
     [compile_, sharded("index_escape", {"weight_map": {"model.norm.weight": "../good/model.safetensors"}}), "-o", out],
     r"model\.safetensors\.index\.json: .*", out)
case("index: not JSON", [compile_, sharded("index_json", []), "-o", out],
     r"model\.safetensors\.index\.json: not a valid JSON object", out)
# Weights: NaN and infinity are refused where they are packed, naming the
# tensor and the first index (--allow-nonfinite compiles them anyway).
def poke_tensor(name, tensor, index, value, dtype_bytes=2):
    path = folder(name)
    st = os.path.join(path, "model.safetensors")
    header, data = read_st(st)
    begin = header[tensor]["data_offsets"][0] + index * dtype_bytes
    data = data[:begin] + value + data[begin + len(value):]
    write_st(st, header, data)
    return path


# (--parallel=false, as the good artifact was compiled: the suite's code cache
# then has this code, and the case costs no second compile.)
case("weights: a NaN", [compile_, poke_tensor("nan", "model.norm.weight", 3, struct.pack("<H", 0x7FC1)),
                        "--parallel=false", "-o", out],
     r"model\.safetensors: tensor 'model\.norm\.weight' holds NaN at index 3 \(--allow-nonfinite", out)
case("weights: an infinity",
     [compile_, poke_tensor("inf", "model.layers.1.mlp.experts.2.up_proj.weight", 1000,
                            struct.pack("<H", 0xFF80)), "--parallel=false", "-o", out],
     r"tensor 'model\.layers\.1\.mlp\.experts\.2\.up_proj\.weight' holds an infinity at index 1000", out)
# The config's claims about the weights.
case("config: torch_dtype float128", [compile_, folder("float128", setcfg(torch_dtype="float128")), "-o", out],
     r"config\.json: torch_dtype 'float128' is not a dtype qnext compiles", out)
def f8_norm(h):
    t = h["model.norm.weight"]
    t["dtype"] = "F8_E4M3"
    t["data_offsets"][1] = t["data_offsets"][0] + 128


quant_f8 = safetensors("quant_f8", f8_norm)
cfg = json.load(open(os.path.join(quant_f8, "config.json")))
cfg["quantization_config"] = {"quant_method": "fp8", "weight_block_size": [128, 128]}
json.dump(cfg, open(os.path.join(quant_f8, "config.json"), "w"))
case("config: quantization_config and an F8 norm", [compile_, quant_f8, "-o", out],
     r"'model\.norm\.weight' is F8_E4M3, but only projection matrices are stored in FP8", out)
for name, q, expect in [
    ("config: FP8 in e5m2", {"quant_method": "fp8", "fmt": "e5m2"},
     r"config\.json: quantization_config\.fmt 'e5m2' is not supported \(expected e4m3\)"),
    ("config: FP8 blocks of one number", {"quant_method": "fp8", "weight_block_size": [128]},
     r"config\.json: quantization_config\.weight_block_size must be two integers in \[1, 1048576\], got \[128\]"),
    ("config: FP8 blocks of 2^63 - 1", {"quant_method": "fp8", "weight_block_size": [9223372036854775807, 128]},
     r"config\.json: quantization_config\.weight_block_size must be two integers in \[1, 1048576\]"),
    ("config: FP8 unconverted modules not a list", {"quant_method": "fp8", "modules_to_not_convert": "lm_head"},
     r"config\.json: quantization_config\.modules_to_not_convert must be a list of module names, got \"lm_head\""),
    ("config: FP8 unconverted module not a name", {"quant_method": "fp8", "modules_to_not_convert": ["lm_head", 7]},
     r"config\.json: quantization_config\.modules_to_not_convert must be a list of module names"),
]:
    case(name, [compile_, folder(name.replace(" ", "_").replace(":", ""),
                                 setcfg(quantization_config=q)), "-o", out], expect, out)
case("checkpoint: experts in two dtypes",
     [compile_, safetensors("experts_dtype",
                            lambda h: h["model.layers.0.mlp.experts.3.gate_proj.weight"].update(dtype="F16")),
      "-o", out],
     r"'model\.layers\.0\.mlp\.experts\.3\.gate_proj\.weight' has dtype F16, "
     r"'model\.layers\.0\.mlp\.experts\.0\.gate_proj\.weight' has BF16: a layer's experts must share one dtype",
     out)
# A megabyte-long value is quoted, not echoed.
case("config: a model_type of 1 MiB", [compile_, folder("long_type", setcfg(model_type="x" * (1 << 20))), "-o", out],
     r"model_type 'x{80}\.\.\. \(1048576 bytes\)' is not supported", out)
