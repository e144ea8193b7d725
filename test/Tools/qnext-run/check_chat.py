"""Helpers of chat.test; each prints one line, or exits 1 saying what is wrong.

budget ERR FORCED CLOSE B: the "ids:" line of ERR holds the forced ids
  (FORCED, a JSON array) starting exactly at index B, with no </think>
  (CLOSE) before it, and more tokens after it.
greedy TEXT TOKENS SIZE: the ids of --prompt at temperature 0 (TEXT) equal
  those of --tokens (TOKENS), greedy over all rows, up to the first id of
  TOKENS >= SIZE (a padding row with no token, never sampled in text mode).
turns ERR NEW: two turns were run and the second prefilled 2 + len(NEW)
  tokens (the first reply's unprocessed last token and <|im_end|>, then NEW).
"""
import json
import re
import sys

mode, err = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
if mode == "greedy":
    text = [int(x) for x in err.strip().split(",")]
    tokens = [int(x) for x in open(sys.argv[3]).read().strip().split(",")]
    size = int(sys.argv[4])
    n = next((i for i, t in enumerate(tokens) if t >= size), len(tokens))
    if text[:n] != tokens[:n] or any(t >= size for t in text):
        sys.exit(f"text-mode greedy ids {text} differ from --tokens ids {tokens}")
    print(f"greedy ids agree for {n} tokens" + (" (then a padding row)" if n < len(tokens) else ""))
elif mode == "budget":
    forced = json.load(open(sys.argv[3]))
    close = json.load(open(sys.argv[4]))[0]
    budget = int(sys.argv[5])
    ids = [int(x) for x in re.search(r"^ids: ([0-9,]+)$", err, re.M).group(1).split(",")]
    at = budget
    if ids[at:at + len(forced)] != forced:
        sys.exit(f"ids {ids[at:at + len(forced)]} at {at}, want the forced {forced}")
    if close in ids[:at]:
        sys.exit(f"</think> ({close}) before the budget ran out: {ids[:at]}")
    if len(ids) <= at + len(forced):
        sys.exit("nothing generated after the forced text")
    print(f"forced ids at {at}..{at + len(forced) - 1}, after {budget} thinking "
          f"tokens; sampling resumed after them")
elif mode == "turns":
    new = json.load(open(sys.argv[3]))
    prefills = [int(n) for n in re.findall(r"^prefill: (\d+) tokens", err, re.M)]
    if len(prefills) != 2:
        sys.exit(f"{len(prefills)} turns, want 2")
    if prefills[1] != 2 + len(new):
        sys.exit(f"second turn prefilled {prefills[1]} tokens, want 2 + {len(new)}")
    print(f"2 turns; the second prefilled {prefills[1]} tokens = 2 + the new turn's {len(new)}")
