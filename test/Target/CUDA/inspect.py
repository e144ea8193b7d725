"""Prints what a .qnx artifact built for CUDA holds (for cuda.test): the
manifest's target, and what its code section is and does: an ELF shared
object that calls the mgpu* runtime ABI and embeds the kernels."""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Utils"))
from qnx_sections import read_sections  # noqa: E402

sections = read_sections(sys.argv[1])
target = json.loads(sections["manifest"])["target"]
print("target:", target["kind"], target.get("gpu_arch"), target["cpu"])
code = sections["code"]
kind = "ELF shared object" if code[:4] == b"\x7fELF" and code[16] == 3 else "not a shared object"
calls = [f for f in (b"mgpuModuleLoad", b"mgpuModuleGetFunction", b"mgpuLaunchKernel",
                     b"mgpuMemAlloc", b"mgpuStreamSynchronize") if f in code]
fatbin = struct.pack("<I", 0xBA55ED50) in code
print("code:", kind + ";", "calls", ", ".join(c.decode() for c in calls) + ";",
      "embeds a fatbin" if fatbin else "no fatbin",
      "(" + target.get("gpu_arch", "") + ")" if target.get("gpu_arch", "").encode() in code else "")
