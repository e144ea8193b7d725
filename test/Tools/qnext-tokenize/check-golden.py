"""Helpers of golden.test: extract the texts or ids of golden.jsonl, compare
qnext-tokenize's output with them (exits 1 naming the first mismatch)."""
import json
import sys

mode, golden = sys.argv[1], [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
if mode == "texts":
    for g in golden:
        print(json.dumps(g["text"]))
elif mode == "golden-ids":
    for g in golden:
        print(json.dumps(g["ids"]))
else:
    got = [json.loads(l) for l in open(sys.argv[3], encoding="utf-8")]
    if len(got) != len(golden):
        sys.exit(f"{len(got)} lines of output for {len(golden)} golden lines")
    key = "ids" if mode == "ids" else "text"
    rows = [(g, o) for g, o in zip(golden, got) if mode == "ids" or g["roundtrip"]]
    for g, o in rows:
        if g[key] != o:
            sys.exit(f"mismatch for {g['text']!r}: want {g[key]!r}, got {o!r}")
    what = "lines: ids match" if mode == "ids" else "round-trip lines: text matches"
    print(f"{len(rows)} of {len(rows)} {what}")
