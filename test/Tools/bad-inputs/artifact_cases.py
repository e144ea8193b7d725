"""Bad artifacts for the runtime: bytes broken, artifacts that lie behind valid
checksums (the manifest against the code, types and sizes, foreign code), code
from before the entry-point record, code for a CPU this one is not.
"""

import json
import os
import re
import struct

from harness import *  # the tools, the good inputs, the helpers, case()

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
