"""The bad-input table: every case hands a tool one broken input (config.json,
safetensors, index, artifact, tokenizer.json, chat template, generation
config, token ids, text, command-line values) and asserts
that it exits with status 1 (not a signal, not a crash), prints exactly one
error line, that the line matches the expected message (naming the file and
the field), and that no output was created or overwritten.

Usage: bad_inputs.py WORKDIR QNEXT_SYNTH QNEXT_COMPILE QNEXT_RUN QNEXT_BENCH QNEXT_TOKENIZE
Prints one line per case and "bad inputs: N cases, N failed".
"""

import json
import os
import re
import shutil
import stat
import struct
import subprocess
import sys

work, synth, compile_, run, bench, tokenize = sys.argv[1:7]
os.makedirs(work, exist_ok=True)
good = os.path.join(work, "good")      # a tiny checkpoint
artifact = os.path.join(work, "good.qnx")


def sh(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


sh(synth, "--preset", "tiny", "--set", "num_hidden_layers=4", "--force", "-o", good)
sh(compile_, good, "--parallel=false", "-o", artifact)


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


def case(name, argv, expect, output=None, stdin=b"", env=None, protect=()):
    """protect: files (or device nodes) the run must leave exactly as they were."""
    cases.append((name, argv, expect, output, stdin, env, protect))


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
    ("config: no hidden_size", delcfg("hidden_size"), r"config\.json: .*'hidden_size'"),
    ("config: zero layers", setcfg(num_hidden_layers=0), r"config\.json: num_hidden_layers"),
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
    ("safetensors: offsets overlap",
     lambda h: h[sorted(k for k in h if k != "__metadata__")[1]].update(
         data_offsets=h[sorted(k for k in h if k != "__metadata__")[0]]["data_offsets"]),
     r"model\.safetensors: .*"),
]:
    n = name.replace(" ", "_").replace(":", "")
    case(name, [compile_, safetensors(n, mutate), "-o", out], expect, out)
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
case("artifact: AVX-512 code on a CPU without it", [run, v4, "--tokens", "1"],
     r"v4\.qnx: compiled for CPU 'x86-64-v4'; this CPU lacks avx512f \(recompile",
     env={"QNEXT_HIDE_CPU_FEATURES": "avx512f"})
case("artifact: AVX2 code on a CPU without FMA", [run, v4, "--tokens", "1"],
     r"this CPU lacks avx2, fma", env={"QNEXT_HIDE_CPU_FEATURES": "fma,avx2"})
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
    ("cli: --max-context beyond memory", ["--tokens", "1", "--max-context", "1000000000000"],
     r"(memory|too large|exceed)"),
    ("cli: --logits-out in a missing folder", ["--tokens", "1", "--logits-out", work + "/no/dir/l.f32"],
     r"l\.f32"),
]:
    case(name, [run, artifact] + args, expect)
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
case("synth: unknown preset", [synth, "--preset", "huge", "-o", work + "/synth-out"],
     r"preset")

failed = 0
for name, argv, expect, output, stdin, env, protect in cases:
    before = {p: snapshot(p) for p in protect}
    sentinel = b"an existing file that a failed run must not touch"
    if output:
        open(output, "wb").write(sentinel)
    p = subprocess.run(argv, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       timeout=300, env=dict(os.environ, **(env or {})))
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
