"""The bad-input suite's harness: the tools from the command line, the good
checkpoints and artifact every case starts from (built once), the helpers
that break a copy of them, case() that records a case, and run_all() that
runs them all (bad_inputs.py).

A case hands a tool one broken input and asserts that it exits with status 1
(not a signal, not a crash), prints exactly one error line, that the line
matches the expected message (naming the file and the field), and that no
output was created or overwritten.
"""

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


def limit_file_size(n):
    def f():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
        resource.setrlimit(resource.RLIMIT_FSIZE, (n, n))
    return f


def run_all():
    """Runs every recorded case; prints a line each and the summary; exits 1
    if one failed."""
    failed = 0
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
