"""Bad requests and files for the tools: token ids and command-line values, a
context beyond memory, the checkpoint's text files (tokenizer, chat template,
generation config), text requests, inputs that are no regular files, outputs
that must not be written, a full disk and a file-size limit.
"""

import atexit
import json
import os
import re
import stat
import subprocess

from harness import *  # the tools, the good inputs, the helpers, case()

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
