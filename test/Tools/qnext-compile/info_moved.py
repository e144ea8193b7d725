#!/usr/bin/env python3
"""Checks that between two `qnext-run --info` listings `tensors` tensors of
`values` values moved from one format's row to another's: A's FROM row holds
that many more than B's, and B's TO row that many more than A's.

    info_moved.py A.info FROM B.info TO TENSORS VALUES
"""
import sys


def rows(path):
    """{format: (tensors, values)} of one --info listing (0, 0 if absent)."""
    out = {}
    for line in open(path):
        fields = line.split()
        if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
            out[fields[0]] = (int(fields[1]), int(fields[2]))
    return out


def main():
    a_path, source, b_path, target = sys.argv[1:5]
    tensors, values = int(sys.argv[5]), int(sys.argv[6])
    a, b = rows(a_path), rows(b_path)
    zero = (0, 0)
    moved_out = tuple(x - y for x, y in zip(a.get(source, zero), b.get(source, zero)))
    moved_in = tuple(y - x for x, y in zip(a.get(target, zero), b.get(target, zero)))
    ok = moved_out == (tensors, values) and moved_in == (tensors, values)
    totals = a.get("all"), b.get("all")
    ok = ok and totals[0] is not None and totals[0] == totals[1]
    if not ok:
        sys.exit(f"expected {tensors} tensors of {values} values moved {source} -> {target}: "
                 f"left {source} {moved_out}, reached {target} {moved_in}, totals {totals}")


if __name__ == "__main__":
    main()
