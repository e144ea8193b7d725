"""The bad-input table: every case hands a tool one broken input (config.json,
safetensors, index, artifact, tokenizer.json, chat template, generation
config, token ids, text, command-line values) and asserts
that it exits with status 1 (not a signal, not a crash), prints exactly one
error line, that the line matches the expected message (naming the file and
the field), and that no output was created or overwritten.

Usage: bad_inputs.py WORKDIR QNEXT_SYNTH QNEXT_COMPILE QNEXT_RUN QNEXT_BENCH QNEXT_TOKENIZE
                     QNEXT_RESEAL
Prints one line per case and "bad inputs: N cases, N failed".
"""

import atexit
import json
import os
import re
import resource
import shutil
import signal
import stat
import struct
import subprocess
import sys

work, synth, compile_, run, bench, tokenize, reseal = sys.argv[1:8]
os.makedirs(work, exist_ok=True)
good = os.path.join(work, "good")      # a tiny checkpoint
artifact = os.path.join(work, "good.qnx")


def sh(*args):
    p = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if p.returncode:
        sys.exit(f"setup failed: {' '.join(args)}\n{p.stderr.decode(errors='replace')}")


sh(synth, "--preset", "tiny", "--set", "num_hidden_layers=4", "--force", "-o", good)
sh(compile_, good, "--parallel=false", "-o", artifact)
good_fp8 = os.path.join(work, "good-fp8")  # the same model in Qwen's FP8 format
sh(synth, "--preset", "tiny", "--set", "num_hidden_layers=4", "--dtype", "fp8", "--force",
   "-o", good_fp8)


def folder(name, edit=None, files=None):
    """A copy of the good checkpoint, then edit(config dict) / files."""
    path = os.path.join(work, name)
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(good, path)
    if edit:
        cfg_path = os.path.join(path, "config.json")
        cfg = json.load(open(cfg_path))
        edit(cfg)
        json.dump(cfg, open(cfg_path, "w"))
    for rel, data in (files or {}).items():
        mode = "wb" if isinstance(data, bytes) else "w"
        open(os.path.join(path, rel), mode).write(data)
    return path


def config_text(name, text):
    return folder(name, files={"config.json": text})


def setcfg(**kv):
    return lambda c: c.update(kv)


def delcfg(key):
    return lambda c: c.pop(key)


def read_st(path):
    raw = open(path, "rb").read()
    n = struct.unpack_from("<Q", raw)[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_st(path, header, data):
    h = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)


def safetensors(name, mutate=None, raw=None):
    """The good checkpoint with its model.safetensors header mutated."""
    path = folder(name)
    st = os.path.join(path, "model.safetensors")
    if raw is not None:
        data = raw(open(st, "rb").read())
        open(st, "wb").write(data)
    else:
        header, data = read_st(st)
        mutate(header)
        write_st(st, header, data)
    return path


def first_tensor(header):
    return next(k for k in header if k != "__metadata__")


def to_fp8(h, name, scale_shape=None):
    """Tensor `name` as F8_E4M3 (its first numel bytes), and a F32 block scale
    of `scale_shape` in the bytes it freed (none: no scale)."""
    t = h[name]
    n = 1
    for d in t["shape"]:
        n *= d
    begin = t["data_offsets"][0]
    t.update(dtype="F8_E4M3", data_offsets=[begin, begin + n])
    if scale_shape:
        count = 1
        for d in scale_shape:
            count *= d
        h[name + "_scale_inv"] = {"dtype": "F32", "shape": scale_shape,
                                  "data_offsets": [begin + n, begin + n + 4 * count]}


def fp8_data(name, tensor, edit, base=None):
    """A copy of the FP8 checkpoint (or of `base`) with the data of `tensor`
    changed by edit(bytearray of its bytes, dtype)."""
    path = os.path.join(work, name)
    shutil.rmtree(path, ignore_errors=True)
    shutil.copytree(base or good_fp8, path)
    st = os.path.join(path, "model.safetensors")
    header, data = read_st(st)
    data = bytearray(data)
    begin, end = header[tensor]["data_offsets"]
    view = bytearray(data[begin:end])
    edit(view, header[tensor]["dtype"])
    data[begin:end] = view
    write_st(st, header, bytes(data))
    return path


def sharded(name, index):
    path = folder(name)
    open(os.path.join(path, "model.safetensors.index.json"), "w").write(json.dumps(index))
    os.remove(os.path.join(path, "model.safetensors"))
    return path


def qnx(name, edit):
    """A copy of the good artifact with bytes changed by edit(bytearray)."""
    path = os.path.join(work, name + ".qnx")
    b = bytearray(open(artifact, "rb").read())
    edit(b)
    open(path, "wb").write(bytes(b))
    return path


def poke(offset, data):
    def f(b):
        b[offset:offset + len(data)] = data
    return f


section_table = 64  # header size; each entry is 48 bytes
manifest_offset = struct.unpack_from("<Q", open(artifact, "rb").read(), section_table + 16)[0]

cases = []


def case(name, argv, expect, output=None, stdin=b"", env=None, protect=(), fsize=None):
    """protect: files (or device nodes) the run must leave exactly as they were;
    fsize: the largest file the run may write (RLIMIT_FSIZE), a full disk's
    stand-in: a longer write fails (EFBIG) as ENOSPC would."""
    cases.append((name, argv, expect, output, stdin, env, protect, fsize))


def snapshot(path):
    st = os.lstat(path)
    if stat.S_ISREG(st.st_mode):
        return ("file", open(path, "rb").read())
    return ("node", stat.S_IFMT(st.st_mode), st.st_rdev)


out = os.path.join(work, "out.qnx")  # must survive every failing compile

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

# The artifact
for name, edit, expect in [
    ("artifact: bad magic", poke(0, b"XXXX"), r"bad magic"),
    ("artifact: other version", poke(8, struct.pack("<I", 99)), r"version 99"),
    ("artifact: section count 0", poke(12, struct.pack("<I", 0)), r"section count"),
    ("artifact: section count huge", poke(12, struct.pack("<I", 1 << 30)), r"section count"),
    ("artifact: table checksum", poke(section_table + 30, b"\xff"), r"section table checksum"),
    ("artifact: manifest corrupt", poke(manifest_offset + 3, b"#"), r"manifest section checksum"),
    ("artifact: file size field", poke(16, struct.pack("<Q", 12)), r"truncated or extended"),
]:
    n = name.replace(" ", "_").replace(":", "")
    case(name, [run, qnx(n, edit), "--tokens", "1"], r"\.qnx: .*" + expect)
# Artifacts that lie behind valid checksums (qnext-reseal recomputes them, as
# anyone writing a hostile file would): the manifest against the code, the
# manifest's types and sizes, a code section that is not qnext's.
def table_entries(b):
    count = struct.unpack_from("<I", b, 12)[0]
    return [(section_table + 48 * i, b[section_table + 48 * i:section_table + 48 * i + 16].rstrip(b"\0"))
            for i in range(count)]


def replace_section(b, name, data):
    """Puts `data` where section `name` is (it must fit before the next one)."""
    for at, n in table_entries(b):
        if n == name:
            offset, size = struct.unpack_from("<QQ", b, at + 16)
            room = min([struct.unpack_from("<Q", b, a + 16)[0] for a, _ in table_entries(b)
                        if struct.unpack_from("<Q", b, a + 16)[0] > offset] + [len(b)]) - offset
            assert len(data) <= room, f"{name}: {len(data)} bytes do not fit in {room}"
            b[offset:offset + room] = data + b"\0" * (room - len(data))
            struct.pack_into("<Q", b, at + 24, len(data))
            return
    raise KeyError(name)


def section_bytes(b, name):
    for at, n in table_entries(b):
        if n == name:
            offset, size = struct.unpack_from("<QQ", b, at + 16)
            return bytes(b[offset:offset + size])
    raise KeyError(name)


def resealed(name, edit):
    path = qnx(name, edit)
    sh(reseal, path)
    return path


def manifest_edit(change):
    def f(b):
        m = json.loads(section_bytes(b, b"manifest"))
        change(m)
        replace_section(b, b"manifest", json.dumps(m).encode())
    return f


def code_edit(change):
    def f(b):
        replace_section(b, b"code", change(section_bytes(b, b"code")))
    return f


def set_state(i, shape):
    return lambda m: m["states"][i].update(shape=shape)


def shared_object(name, source):
    c = os.path.join(work, name + ".c")
    open(c, "w").write(source)
    so = os.path.join(work, name + ".so")
    sh("cc", "-shared", "-fPIC", "-o", so, c)
    return open(so, "rb").read()


def variant(**fields):
    """One entry of a fat artifact's target.variants: the good code, for any x86-64."""
    v = {"name": "x86-64", "section": "code", "features": "+64bit", "activations": "f32"}
    v.update(fields)
    return v


def set_variants(variants):
    return lambda m: m["target"].update(variants=variants)


foreign = shared_object("foreign", "int answer(void) { return 42; }\n")
# The entry points without the record: what code compiled before the record
# existed looks like.
older = shared_object(
    "older", "void qnext_prefill(void **a) {}\nvoid qnext_decode(void **a) {}\n"
    "void qnext_decode_batch(void **a) {}\nvoid qnext_prefill_batch(void **a) {}\n")
for name, edit, expect in [
    ("manifest lies: a larger vocabulary", manifest_edit(lambda m: m["model"].update(vocab_size=1024)),
     r"the manifest does not describe its code: the code was compiled for 'vocab=512', "
     r"the manifest says 'vocab=1024'"),
    ("manifest lies: a vocabulary of 2^40", manifest_edit(lambda m: m["model"].update(vocab_size=1 << 40)),
     r"manifest: model\.vocab_size 1099511627776 is outside \[1, 2147483647\]"),
    ("manifest lies: a smaller state", manifest_edit(set_state(1, [4, 32, 16])),
     r"the manifest does not describe its code: state 1 is 4x32x32 in the code, 4x32x16 in the manifest"),
    ("manifest lies: a state fewer", manifest_edit(lambda m: m["states"].pop()),
     r"the manifest does not describe its code: the code has 8 states, the manifest 7"),
    ("manifest lies: taps the code has not",
     manifest_edit(lambda m: m["entry_points"].update(taps={"rows": 8, "hidden_size": 128})),
     r"the code section: not qnext's code: it defines no qnext_taps"),
    ("manifest lies: an MTP head the code has not",
     manifest_edit(lambda m: m["entry_points"].update(mtp={"hidden_size": 128})),
     r"the code section: not qnext's code: it defines no qnext_mtp"),
    ("manifest lies: an MTP head of another width",
     manifest_edit(lambda m: m["entry_points"].update(mtp={"hidden_size": 64})),
     r"manifest: entry_points\.mtp\.hidden_size 64 is not model\.hidden_size 128"),
    ("manifest types: entry_points.mtp.hidden_size a string",
     manifest_edit(lambda m: m["entry_points"].update(mtp={"hidden_size": "128"})),
     r"manifest: entry_points\.mtp\.hidden_size missing or not an integer"),
    ("manifest lies: a CUDA artifact", manifest_edit(lambda m: m["target"].update(kind="cuda")),
     r"the manifest does not describe its code: the code was compiled for 'cpu', the manifest says 'cuda'"),
    ("manifest types: weights.size a string", manifest_edit(lambda m: m["weights"].update(size="12")),
     r"manifest: weights\.size missing or not an integer"),
    ("manifest types: target.triple a number", manifest_edit(lambda m: m["target"].update(triple=7)),
     r"manifest: target\.triple is not a string"),
    ("manifest types: target an array", manifest_edit(lambda m: m.update(target=[1])),
     r"manifest: target missing or not an object"),
    ("manifest types: a state's shape a string", manifest_edit(set_state(0, "3x256")),
     r"manifest: a state's shape is not a list of 1 to 8 dimensions"),
    ("manifest types: hidden_size a float", manifest_edit(lambda m: m["model"].update(hidden_size=1.5)),
     r"manifest: model\.hidden_size missing or not an integer"),
    # A fat artifact's list of codes (qnext-compile --cpu=portable): each
    # variant's fields checked, its section one of the file's code sections.
    ("manifest types: target.variants a number", manifest_edit(set_variants(7)),
     r"manifest: target\.variants is not a list of 1 to 16 codes"),
    ("manifest types: target.variants empty", manifest_edit(set_variants([])),
     r"manifest: target\.variants is not a list of 1 to 16 codes"),
    ("manifest types: a variant's features a number", manifest_edit(set_variants([variant(features=7)])),
     r"manifest: target\.variants\[0\]\.features missing or not a string"),
    ("manifest lies: a variant's section absent", manifest_edit(set_variants([variant(section="code.3")])),
     r"manifest: target\.variants\[0\]\.section 'code\.3' is not a code section of the file"),
    ("manifest lies: a variant's section the manifest",
     manifest_edit(set_variants([variant(), variant(section="manifest")])),
     r"manifest: target\.variants\[1\]\.section 'manifest' is not a code section of the file"),
    ("manifest lies: a variant's activations unknown", manifest_edit(set_variants([variant(activations="fp4")])),
     r"manifest: target\.variants\[0\]\.activations 'fp4' is none of f32, int8, bf16"),
    ("manifest lies: no variant this CPU runs",
     manifest_edit(set_variants([variant(name="a", features="+64bit,+nosuch"),
                                 variant(name="b", features="+amx-tile,+amx-fp8")])),
     r"no code variant runs on this CPU: a needs features qnext cannot check: nosuch; b lacks (amx-tile, )?amx-fp8"),
    ("manifest lies: activations unknown", manifest_edit(lambda m: m.update(activations="fp4")),
     r"manifest: activations 'fp4' is none of f32, int8, bf16"),
    ("manifest types: activations a number", manifest_edit(lambda m: m.update(activations=8)),
     r"manifest: activations is not a string"),
    ("code: not ELF", code_edit(lambda c: b"#!/bin/sh\necho hi\n"), r"the code section: not an ELF file"),
    ("code: ELF for another machine", code_edit(lambda c: c[:18] + struct.pack("<H", 183) + c[20:]),
     r"the code section: ELF code for machine 183, not x86-64"),
    ("code: a library that is not qnext's", code_edit(lambda c: foreign),
     r"the code section: not qnext's code: it defines no qnext_prefill, qnext_decode, "
     r"qnext_decode_batch, qnext_prefill_batch, qnext_abi"),
    ("code: entry points without the ABI record", code_edit(lambda c: older),
     r"the code section: it defines the entry points but no qnext_abi record: code from an older "
     r"qnext-compile \(recompile the checkpoint\)"),
    ("code: section headers past the end", code_edit(lambda c: c[:40] + struct.pack("<Q", 1 << 40) + c[48:]),
     r"the code section: its section headers lie outside it"),
]:
    n = re.sub(r"[^a-z0-9]+", "_", name.lower())
    case("artifact " + name, [run, resealed(n, edit), "--tokens", "1"], r"\.qnx: " + expect)
dr = os.path.join(work, "diamondrapids.qnx")
sh(compile_, good, "--parallel=false", "--cpu=diamondrapids", "-o", dr)
case("artifact: compiled for a newer CPU (diamondrapids)", [run, dr, "--tokens", "1"],
     r"diamondrapids\.qnx: compiled for CPU 'diamondrapids'; this CPU lacks .*amx")
case("artifact: truncated", [run, qnx("truncated", lambda b: b.__delitem__(slice(len(b) // 2, None))),
                              "--tokens", "1"], r"\.qnx: truncated")
case("artifact: extended", [run, qnx("extended", lambda b: b.extend(b"\0" * 100)), "--tokens", "1"],
     r"\.qnx: truncated or extended")
case("artifact: shorter than a header", [run, qnx("tiny", lambda b: b.__delitem__(slice(10, None))),
                                         "--tokens", "1"], r"\.qnx: truncated: 10 bytes")
case("artifact: weights corrupt (--verify)",
     [run, qnx("weights", lambda b: b.__setitem__(len(b) - 1, b[-1] ^ 0xFF)), "--tokens", "1", "--verify"],
     r"\.qnx: weights section checksum")
# Code for a CPU this one is not: refused before any of it runs (a CPU
# without AVX-512 simulated by hiding the feature from the runtime's check).
v4 = os.path.join(work, "v4.qnx")
sh(compile_, good, "--parallel=false", "--cpu=x86-64-v4", "-o", v4)
# (The list names every instruction set missing: on a CPU without AVX-512
# the others too.)
case("artifact: AVX-512 code on a CPU without it", [run, v4, "--tokens", "1"],
     r"v4\.qnx: compiled for CPU 'x86-64-v4'; this CPU lacks (avx512\w+, )*avx512f"
     r"(, avx512\w+)* \(recompile",
     env={"QNEXT_HIDE_CPU_FEATURES": "avx512f"})
case("artifact: AVX-512 code on a CPU without AVX2 and FMA", [run, v4, "--tokens", "1"],
     r"this CPU lacks avx2, (avx512\w+, )*fma \(recompile",
     env={"QNEXT_HIDE_CPU_FEATURES": "fma,avx2"})
case("artifact: a directory", [run, work, "--tokens", "1"], r"not a regular file")
case("artifact: missing", [run, os.path.join(work, "none.qnx"), "--tokens", "1"],
     r"none\.qnx: No such file")

# Requests
vocab = 512
for name, args, expect in [
    ("tokens: id past the vocabulary", ["--tokens", f"1,{vocab}"], rf"token id {vocab} .*vocabulary"),
    ("tokens: negative id", ["--tokens", "1,-3"], r"token id -3 \(index 1\) is outside the vocabulary"),
    ("tokens: not a number", ["--tokens", "1,x"], r"--tokens"),
    ("tokens: empty list", ["--tokens", ","], r"--tokens"),
    ("tokens: file missing", ["--tokens", "@" + work + "/none.txt"], r"none\.txt"),
    ("tokens: prompt beyond the context", ["--tokens", "1,2,3", "--max-new", "2", "--max-context", "4"],
     r"exceed --max-context 4"),
    ("cli: --max-new negative", ["--tokens", "1", "--max-new", "-1"], r"must not be negative"),
    ("cli: --threads negative", ["--tokens", "1", "--threads", "-2"], r"must not be negative"),
    ("cli: --max-context beyond the model", ["--tokens", "1", "--max-context", "1000000000000"],
     r"max context 1000000000000 is beyond the model's 4096 positions"),
    ("cli: --max-context near 2^62", ["--tokens", "1", "--max-context", str(1 << 62)],
     r"is beyond the model's 4096 positions"),
    ("cli: --max-new past the model's positions", ["--tokens", "1,2", "--max-new", "4095"],
     r"prompt \(2 tokens\) \+ --max-new \(4095\) exceed the model's 4096 positions"),
    ("cli: --max-new 2^63-1", ["--tokens", "1", "--max-new", str((1 << 63) - 1)],
     r"--max-new \(9223372036854775807\) exceed the model's 4096 positions"),
    ("tokens: a prompt longer than the model's positions", ["--tokens", ",".join(["1"] * 4097)],
     r"--tokens: 4097 tokens, beyond the model's 4096 positions"),
    ("cli: --logits-out in a missing folder", ["--tokens", "1", "--logits-out", work + "/no/dir/l.f32"],
     r"l\.f32"),
]:
    case(name, [run, artifact] + args, expect)
# A model with 2^31-1 positions: a context that fits them but not memory.
long_ckpt = folder("long", setcfg(max_position_embeddings=(1 << 31) - 1))
long_qnx = os.path.join(work, "long.qnx")
sh(compile_, long_ckpt, "--parallel=false", "-o", long_qnx)
case("cli: --max-context beyond memory", [run, long_qnx, "--tokens", "1", "--max-context", "2000000000"],
     r"max context 2000000000 needs \d+ MiB of caches, more than half of this machine's memory")
# The checkpoint's text files (checked by qnext-compile before it compiles).
tok = json.load(open(os.path.join(good, "tokenizer.json")))


def tokenizer(edit):
    t = json.loads(json.dumps(tok))
    edit(t)
    return json.dumps(t)


for name, file, text, expect in [
    ("tokenizer: not JSON", "tokenizer.json", "{", r"tokenizer\.json: not valid JSON"),
    ("tokenizer: not BPE", "tokenizer.json",
     tokenizer(lambda t: t["model"].update(type="WordPiece")), r"tokenizer\.json: model\.type"),
    ("tokenizer: merge of unknown tokens", "tokenizer.json",
     tokenizer(lambda t: t["model"]["merges"].insert(0, ["zz", "qq"])),
     r"tokenizer\.json: model\.merges\[0\]"),
    ("tokenizer: vocab entry without an id", "tokenizer.json",
     tokenizer(lambda t: t["model"]["vocab"].update(x="7")), r"tokenizer\.json: model\.vocab: 'x'"),
    ("tokenizer: ids beyond vocab_size", "tokenizer.json",
     tokenizer(lambda t: t["added_tokens"].append({"id": 600, "content": "<|extra|>"})),
     r"tokenizer\.json: token ids reach 600, beyond config\.json vocab_size 512"),
    ("tokenizer: split regex does not compile", "tokenizer.json",
     tokenizer(lambda t: t["pre_tokenizer"]["pretokenizers"][0]["pattern"].update(Regex="(\\p{L")),
     r"tokenizer\.json: pre_tokenizer: split regex does not compile"),
    ("tokenizer: empty added token", "tokenizer.json",
     tokenizer(lambda t: t["added_tokens"][0].update(content="")),
     r"tokenizer\.json: added_tokens\[0\]\.content"),
    ("tokenizer: byte fallback", "tokenizer.json",
     tokenizer(lambda t: t["model"].update(byte_fallback=True)), r"model\.byte_fallback"),
    ("chat template: not a string", "tokenizer_config.json", '{"chat_template": [1]}',
     r"tokenizer_config\.json: chat_template is not a string"),
    ("chat template: not ChatML", "tokenizer_config.json", '{"chat_template": "[INST]"}',
     r"tokenizer_config\.json: chat_template is not ChatML"),
    ("generation config: top_p 0", "generation_config.json", '{"top_p": 0}',
     r"generation_config\.json: top-p must be in"),
    ("generation config: eos beyond the vocabulary", "generation_config.json",
     '{"eos_token_id": [99999]}', r"generation_config\.json: eos_token_id 99999 is beyond"),
    ("generation config: top_k a string", "generation_config.json", '{"top_k": "20"}',
     r"generation_config\.json: top_k is not an integer"),
]:
    n = re.sub(r"[^a-z0-9]+", "_", name.lower())
    case(name, [compile_, folder(n, files={file: text}), "-o", out], expect, out)

# Text requests and the tokenizer tool.
for name, args, expect in [
    ("text: --prompt not UTF-8", ["--prompt", b"ok\xff"], r"--prompt: not valid UTF-8 at byte 2"),
    ("text: chat beyond the context", ["--chat", "--prompt", "hello there", "--max-context", "8"],
     r"exceed --max-context 8"),
    ("text: negative thinking budget", ["--chat", "--prompt", "x", "--thinking-budget", "-5"],
     r"--thinking-budget must be >= 0"),
    ("text: --top-p 2", ["--prompt", "x", "--top-p", "2"], r"top-p must be in \(0, 1\]"),
    ("text: --repetition-penalty 0", ["--prompt", "x", "--repetition-penalty", "0"],
     r"repetition penalty must be"),
    ("text: --think without --chat", ["--prompt", "x", "--think"], r"need --chat"),
]:
    case(name, [run, artifact] + args, expect)
for name, args, stdin, expect in [
    ("tokenize: decode an id past the vocabulary", ["--decode"], b"[1, 5000]\n",
     r"<stdin>:1: 5000 is not a token id"),
    ("tokenize: a line that is not a string", [], b'"a"\n{"b": 1}\n', r"<stdin>:2: not a JSON string"),
    ("tokenize: decode a non-integer", ["--decode"], b"[1.5]\n", r"<stdin>:1: 1.5 is not a token id"),
    ("tokenize: tokenizer missing", ["--tokenizer", work + "/none"], b"", r"none: No such file"),
]:
    extra = [] if "--tokenizer" in args else ["--tokenizer", artifact]
    case(name, [tokenize] + extra + args, expect, stdin=stdin)
case("bench: --prompts 0", [bench, artifact, "--prompts", "0"], r"--prompts")
case("compile: unknown --compile-to", [compile_, good, "--compile-to=nothing", "-o", out],
     r"compile-to", out)
# Inputs that are no regular files: a FIFO would block the open forever, a
# link to /dev/zero be read until memory runs out. Refused before reading.
def fifo_in(name, rel):
    path = folder(name)
    os.remove(os.path.join(path, rel))
    os.mkfifo(os.path.join(path, rel))
    return path
case("input: config.json a FIFO", [compile_, fifo_in("fifo_config", "config.json"), "-o", out],
     r"config\.json: not a regular file", out)
case("input: a shard a FIFO", [compile_, fifo_in("fifo_shard", "model.safetensors"), "-o", out],
     r"model\.safetensors: not a regular file", out)
case("input: tokenizer.json a FIFO", [compile_, fifo_in("fifo_tok", "tokenizer.json"), "-o", out],
     r"tokenizer\.json: not a regular file", out)
zero = folder("zero_shard")
os.remove(os.path.join(zero, "model.safetensors"))
os.symlink("/dev/zero", os.path.join(zero, "model.safetensors"))
case("input: a shard linked to /dev/zero", [compile_, zero, "-o", out],
     r"model\.safetensors: not a regular file", out)
fifo_qnx = os.path.join(work, "fifo.qnx")
if not os.path.exists(fifo_qnx):
    os.mkfifo(fifo_qnx)
case("input: the artifact a FIFO", [run, fifo_qnx, "--tokens", "1"], r"fifo\.qnx: not a regular file")
case("input: --tokenizer a FIFO", [tokenize, "--tokenizer", os.path.join(fifo_in("fifo_tok2", "tokenizer.json"), "tokenizer.json")],
     r"tokenizer\.json: not a regular file")

# Outputs that must not be written: an input of the run (by any name), a FIFO
# (opening it would block), and, for an artifact (a temporary file renamed
# into place), a device node, which renaming would destroy.
config_json = os.path.join(good, "config.json")
case("output: -o the checkpoint's own config.json",
     [compile_, good, "--compile-to=fused", "-o", config_json],
     r"config\.json: is an input of this run", protect=[config_json])
fifo = os.path.join(work, "fifo")
if not os.path.exists(fifo):
    os.mkfifo(fifo)
case("output: -o a FIFO", [compile_, good, "--compile-to=fused", "-o", fifo],
     r"fifo: not a regular file", protect=[fifo])
case("output: --logits-out the artifact itself",
     [run, artifact, "--tokens", "1", "--logits-out", artifact],
     r"--logits-out .*good\.qnx: is an input of this run", protect=[artifact])
if os.geteuid() == 0:  # mknod needs root (CI and the project's machines are)
    device = os.path.join(work, "null-device")
    if not os.path.exists(device):
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    case("output: an artifact to a device node", [compile_, good, "-o", device],
         r"null-device: not a regular file; an artifact is written whole", protect=[device])
case("compile: unknown --cpu", [compile_, good, "--cpu=nonsense", "-o", out],
     r"unknown --cpu 'nonsense'", out)
case("compile: misspelt --cpu", [compile_, good, "--cpu=skylake-avx51", "-o", out],
     r"did you mean 'skylake-avx512'", out)
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
# A full disk: a 64 KiB tmpfs where one can be mounted (root), else a file
# size limit (RLIMIT_FSIZE, EFBIG) in its place. One line naming the output,
# the previous output untouched, no temporary file left beside it.
full = os.path.join(work, "full-disk")
os.makedirs(full, exist_ok=True)
if os.path.ismount(full):
    subprocess.run(["umount", full])
mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", full],
                         stderr=subprocess.DEVNULL).returncode == 0
if mounted:  # unmounted however the script ends, or `rm -rf` fails on it
    atexit.register(subprocess.run, ["umount", full])
    # Nearly full already: 8 KiB left, far below any output below.
    open(os.path.join(full, "filler"), "wb").write(b"\0" * (56 << 10))
full_out = os.path.join(full if mounted else work, "out.qnx")
no_space = r"out\.qnx: (No space left on device|File too large)"
case("output: the artifact on a full disk", [compile_, good, "-o", full_out], no_space, full_out,
     fsize=None if mounted else 2000000)
case("output: text on a full disk", [compile_, good, "--compile-to=fused", "-o", full_out], no_space,
     full_out, fsize=None if mounted else 20000)
case("output: --logits-out on a full disk",
     [run, artifact, "--tokens", ",".join(["1"] * 1000), "--logits-out", full_out], no_space, full_out,
     fsize=None if mounted else 1500000)
# A file-size limit (RLIMIT_FSIZE: EFBIG) on every machine: the tools turn
# it into the same one line (they ignore SIGXFSZ). The limit counts the
# memory file qnext-run loads the code from too (0.8 MB here): the logits
# (1000 rows of 512 floats) go past it, the code does not.
case("output: text past a file-size limit", [compile_, good, "--compile-to=fused", "-o", out],
     r"out\.qnx: File too large", out, fsize=20000)
case("output: --logits-out past a file-size limit",
     [run, artifact, "--tokens", ",".join(["1"] * 1000), "--logits-out", out], r"out\.qnx: File too large",
     out, fsize=1500000)
if os.path.exists("/dev/full"):
    case("output: -o /dev/full", [compile_, good, "--compile-to=fused", "-o", "/dev/full"],
         r"/dev/full: No space left on device", protect=["/dev/full"])
dump_file = os.path.join(work, "a-file")
open(dump_file, "w").write("x")
case("compile: --dump-phases-to a file", [compile_, good, "--compile-to=fused", "--dump-phases-to", dump_file,
                                          "-o", out],
     r"--dump-phases-to .*a-file: is a file, not a folder", out, protect=[dump_file])
case("synth: unknown preset", [synth, "--preset", "huge", "-o", work + "/synth-out"],
     r"preset")

failed = 0
def limit_file_size(n):
    def f():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
    return f


for name, argv, expect, output, stdin, env, protect, fsize in cases:
    before = {p: snapshot(p) for p in protect}
    sentinel = b"an existing file that a failed run must not touch"
    if output:
        open(output, "wb").write(sentinel)
    p = subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=300, env=dict(os.environ, **(env or {})),
                       preexec_fn=limit_file_size(fsize) if fsize else None)
    err = p.stderr.decode(errors="replace")
    errors = [l for l in err.splitlines() if l.strip()]
    problems = []
    if p.returncode != 1:
        problems.append(f"exit status {p.returncode}")
    if len(errors) != 1:
        problems.append(f"{len(errors)} lines on stderr, not one")
    if not re.search(expect, err):
        problems.append(f"message does not match /{expect}/")
    if output and open(output, "rb").read() != sentinel:
        problems.append("the existing output was changed")
    for p in protect:
        if not os.path.lexists(p) or snapshot(p) != before[p]:
            problems.append(f"{p} was changed")
    leftovers = [f for f in os.listdir(os.path.dirname(output)) if f.startswith("out.qnx.") or f.startswith("out-")] if output else []
    if leftovers:
        problems.append(f"temporary files left: {leftovers}")
    status = "ok" if not problems else "FAIL (" + "; ".join(problems) + ")"
    failed += bool(problems)
    first = errors[0].strip() if errors else err.strip()[:200]
    print(f"{status}: {name}: {first}")
print(f"bad inputs: {len(cases)} cases, {failed} failed")
sys.exit(1 if failed else 0)
