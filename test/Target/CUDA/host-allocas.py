"""host-allocas.py HOST.ll: for each entry point of a CUDA artifact's host
code (LLVM IR), how many allocas its entry block holds and how many its later
blocks do (cuda.test: launch arguments are allocated once per call)."""
import re
import sys

counts = {}  # function -> [in the entry block, after it]
function, block = None, 0
for line in open(sys.argv[1]):
    if line.startswith("define"):
        function = re.search(r"@([\w.]+)\(", line).group(1)
        counts[function], block = [0, 0], 0
    elif line.startswith("}"):
        function = None
    elif function and re.match(r"^[\w.]+:", line):
        block = 1
    elif function and " = alloca " in line:
        counts[function][block] += 1
for name in ("prefill", "decode"):
    entry, later = counts[name]
    print(f"{name}: {'some' if entry else 'no'} allocas in the entry block, {later} after it")
