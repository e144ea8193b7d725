# -*- Python -*-
# lit configuration of the qnext suite: every *.mlir under test/ is a test.
import os
import re

import lit.formats
from lit.llvm import llvm_config

config.name = "qnext"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qnext_obj_root, "test")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Unit", "Model", "Fuzz"]

config.substitutions.append(("%PATH%", config.environment["PATH"]))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()  # FileCheck, not, count
# A leading `not` is found on PATH (the substitutions only cover `| not`).
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

tool_dirs = [os.path.join(config.qnext_obj_root, "bin"), config.llvm_tools_dir]
llvm_config.add_tool_substitutions(
    ["qnext-opt", "qnext-compile", "qnext-synth", "qnext-run", "qnext-bench",
     "qnext-tokenize", "qnext-serve", "qnext-gpu-golden", "qnext-cuda-runtime-test",
     "qnext-reseal"], tool_dirs)

# QNEXT_CODE_CACHE: the suite's compiles share one code cache
# (include/qnext/Target/CodeCache.h), build/code-cache, with ctest's
# fixtures (test/Unit/CMakeLists.txt): a model compiled again with the same
# options, by a qnext-compile built from the same sources, takes its code
# from there instead of optimizing and compiling the same LLVM module again.
# In this build's own folder, the entries are removed when the sources
# changed since they were made (the folder's `sources` file holds the
# identity they were made with, qnext/SourceIdentity.h's): they could not
# match again. A build configured with another folder
# (QNEXT_TEST_CODE_CACHE: scripts/sanitize names the plain build's) uses it
# and removes nothing. A test of the cache itself names a folder of its own.
# `lit --param code-cache=off` runs the suite without it.
_own = os.path.join(config.qnext_obj_root, "code-cache")
_cache = getattr(config, "qnext_code_cache", "") or _own
_identity_header = os.path.join(config.qnext_obj_root, "qnext", "SourceIdentity.h")
if lit_config.params.get("code-cache") != "off" and os.path.exists(_identity_header):
    if os.path.realpath(_cache) == os.path.realpath(_own):
        with open(_identity_header) as _header:
            _identity = "".join(re.findall(r'"([0-9a-f]+)"', _header.read()))
        _stamp = os.path.join(_own, "sources")
        try:
            with open(_stamp) as _file:
                _made_by = _file.read().strip()
        except OSError:
            _made_by = None
        if _made_by != _identity:
            os.makedirs(_own, exist_ok=True)
            for _entry in os.listdir(_own):
                if _entry.endswith(".so"):
                    try:
                        os.remove(os.path.join(_own, _entry))
                    except OSError:
                        pass
            with open(_stamp, "w") as _file:
                _file.write(_identity + "\n")
    config.environment["QNEXT_CODE_CACHE"] = _cache

# %models: checked-in model configs; %golden: ../shared/golden beside the
# checkout, when there (CI has it; the tests that need it say REQUIRES: golden).
config.substitutions.append(("%models", os.path.join(config.qnext_src_root, "test", "Model")))
golden = os.path.join(os.path.dirname(config.qnext_src_root), "shared", "golden")
if os.path.isdir(golden):
    config.available_features.add("golden")
    config.substitutions.append(("%golden", golden))

# %tokenizer: ../shared/tokenizer (Qwen's real tokenizer files and golden ids).
tokenizer = os.path.join(os.path.dirname(config.qnext_src_root), "shared", "tokenizer")
if os.path.isdir(tokenizer):
    config.available_features.add("qwen-tokenizer")
    config.substitutions.append(("%tokenizer", tokenizer))

# cuda-toolkit: ptxas, fatbinary and libdevice for --target=cuda (the
# compiler's side; CUDA 13 at $CUDA_HOME or /usr/local/cuda).
# cuda-device: a GPU and its driver, to run the GPU artifacts; without one the
# GPU-run tests report UNSUPPORTED (requires cuda-device).
import shutil
import subprocess
cuda_home = os.environ.get("CUDA_HOME") or "/usr/local/cuda"
if os.path.exists(os.path.join(cuda_home, "bin", "ptxas")):
    config.available_features.add("cuda-toolkit")
    config.environment["CUDA_HOME"] = cuda_home
# %mockcuda: the folder of the mock driver (test/GPU/MockCUDA.cpp), for
# LD_LIBRARY_PATH: the runtime's CUDA path with no GPU.
config.substitutions.append(("%mockcuda", os.path.join(config.qnext_obj_root, "test", "mock-cuda")))
if shutil.which("nvidia-smi"):
    try:
        listed = subprocess.run(["nvidia-smi", "-L"], capture_output=True, timeout=30)
        if listed.returncode == 0 and b"GPU" in listed.stdout:
            config.available_features.add("cuda-device")
    except (OSError, subprocess.TimeoutExpired):
        pass

# npm: Node.js and npm, to install and run the official `openai` client
# against qnext-serve (the npm registry must be reachable).
if shutil.which("npm") and shutil.which("node"):
    config.available_features.add("npm")
# haproxy: the load balancer in front of two qnext-serve replicas
# (docs/haproxy.cfg; scripts/setup installs Debian's package).
if shutil.which("haproxy"):
    config.available_features.add("haproxy")

# cpu-x86-64-v3 / cpu-x86-64-v4: this CPU runs code compiled for that level
# (AVX2 + FMA + BMI; AVX-512 F/BW/CD/DQ/VL), so the golden checks of both
# kernel families run wherever the machine can execute them. (The runtime
# itself decides from CPUID; this only chooses which tests to run.)
try:
    with open("/proc/cpuinfo") as cpuinfo:
        flags = next((l.split(":", 1)[1].split() for l in cpuinfo if l.startswith("flags")), [])
except OSError:
    flags = []
# QNEXT_HIDE_CPU_FEATURES (LLVM's names) simulates an older CPU for compiler
# and runtime alike; the suite then runs as on that CPU.
hidden = set(filter(None, os.environ.get("QNEXT_HIDE_CPU_FEATURES", "").split(",")))
if hidden:
    config.environment["QNEXT_HIDE_CPU_FEATURES"] = ",".join(sorted(hidden))
levels = {  # (cpuinfo's name, LLVM's name)
    "x86-64-v3": [("avx", "avx"), ("avx2", "avx2"), ("bmi1", "bmi"), ("bmi2", "bmi2"),
                  ("f16c", "f16c"), ("fma", "fma"), ("abm", "lzcnt"), ("movbe", "movbe"),
                  ("xsave", "xsave")],
    "x86-64-v4": [("avx512f", "avx512f"), ("avx512bw", "avx512bw"), ("avx512cd", "avx512cd"),
                  ("avx512dq", "avx512dq"), ("avx512vl", "avx512vl")],
}
def runs(level):
    return all(f in flags and llvm not in hidden for f, llvm in levels[level])
if runs("x86-64-v3"):
    config.available_features.add("cpu-x86-64-v3")
    if runs("x86-64-v4"):
        config.available_features.add("cpu-x86-64-v4")
def has(flag, llvm):
    return flag in flags and llvm not in hidden
# cpu-byte-dot: code compiled for this CPU (--cpu=host) multiplies bytes
# (qnext-compile --activations=int8): vpdpbusd or vpmaddubsw, which AVX2 has
# and, for AVX-512 code, AVX512-BW.
if runs("x86-64-v3") and (has("avx512bw", "avx512bw") or not has("avx512f", "avx512f")):
    config.available_features.add("cpu-byte-dot")
# cpu-bf16-dot: code compiled for this CPU has vdpbf16ps (qnext-compile
# --activations=bf16): AVX512-BF16, which implies AVX-512 (with AVX-512
# hidden, no test relies on the 256-bit form).
if runs("x86-64-v4") and "avx512f" not in hidden and has("avx512_bf16", "avx512bf16"):
    config.available_features.add("cpu-bf16-dot")
    # cpu-amx: it also has AMX tiles with bf16 products (qnext-compile
    # --amx): the kernels of several tokens on tdpbf16ps.
    if has("amx_tile", "amx-tile") and has("amx_bf16", "amx-bf16"):
        config.available_features.add("cpu-amx")

# Built with ASan + UBSan (scripts/sanitize): memory figures measure the
# sanitizer's quarantine, not qnext.
if getattr(config, "qnext_sanitize", False):
    config.available_features.add("asan")
