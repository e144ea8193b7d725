#!/usr/bin/env python3
"""Fails unless qnext-run --quality-against's line is within bounds.

usage: check_quality.py FILE --kl-mean MAX --top1 MIN

FILE holds the line "quality of A against B: ... top-1 agreement P % (...),
KL divergence mean K, ..."; the check fails (exit 1, saying which bound)
when K > MAX or P < MIN, or when the line is missing.
"""
import argparse
import re
import sys

parser = argparse.ArgumentParser()
parser.add_argument("file")
parser.add_argument("--kl-mean", type=float, required=True)
parser.add_argument("--top1", type=float, required=True)
args = parser.parse_args()
text = open(args.file).read()
m = re.search(r"top-1 agreement ([0-9.]+) %.*KL divergence mean ([0-9.e+-]+),", text)
if not m:
    sys.exit(f"{args.file}: no quality line in: {text!r}")
top1, kl = float(m.group(1)), float(m.group(2))
if kl > args.kl_mean:
    sys.exit(f"{args.file}: KL divergence mean {kl} > {args.kl_mean}")
if top1 < args.top1:
    sys.exit(f"{args.file}: top-1 agreement {top1} % < {args.top1} %")
print(f"{args.file}: KL divergence mean {kl} <= {args.kl_mean}, top-1 {top1} % >= {args.top1} %")
