"""Prints an artifact's section names, then per code variant of its manifest
(target.variants) its name, section, CPU, activations, amx flag and which
of the instruction sets that tell the levels apart its features name, then
the manifest's top-level keys after target.

Usage: manifest_variants.py ARTIFACT.qnx
"""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Utils"))
from qnx_sections import read_sections  # noqa: E402

sections = read_sections(sys.argv[1])
print("sections:", " ".join(sections))
manifest = json.loads(sections["manifest"])
LEVELS = ["avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512bf16", "avx512vnni",
          "amx-tile", "amx-bf16"]
for v in manifest["target"].get("variants", []):
    features = {f.lstrip("+") for f in v["features"].split(",") if f.startswith("+")}
    print(v["name"], v["section"], v["cpu"], v["activations"], f"amx={v.get('amx', False)}",
          "features:", " ".join(f for f in LEVELS if f in features))
keys = list(manifest)
print("top level:", " ".join(keys[keys.index("target") + 1:]))
