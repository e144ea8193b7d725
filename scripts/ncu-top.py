#!/usr/bin/env python3
"""ncu-top.py CSV [N]: the kernels that take a step's time, from
`ncu --csv --page raw --metrics gpu__time_duration.sum,dram__bytes_read.sum`
(scripts/device-check writes one for a decode step): total kernel time and
bytes, then the N slowest kernels (default 12) with their grids and the
bandwidth each reached, then the small kernels' share."""
import csv
import sys


def main():
    rows = list(csv.reader(open(sys.argv[1])))
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    # ncu's table starts at its header row; the program's own output may
    # come before it.
    start = next((i for i, r in enumerate(rows) if r and r[0] == "ID"), None)
    if start is None:
        sys.exit(f"{sys.argv[1]}: no ncu table (no 'ID' header row)")
    header = rows[start]
    col = {name: i for i, name in enumerate(header)}
    for needed in ("Kernel Name", "Grid Size", "gpu__time_duration.sum", "dram__bytes_read.sum"):
        if needed not in col:
            sys.exit(f"{sys.argv[1]}: no '{needed}' column")
    units = rows[start + 1]
    if units[col["gpu__time_duration.sum"]] != "ns" or units[col["dram__bytes_read.sum"]] != "byte":
        sys.exit(f"{sys.argv[1]}: expected ns and bytes, got "
                 f"{units[col['gpu__time_duration.sum']]} and {units[col['dram__bytes_read.sum']]}")
    number = lambda r, name: float(r[col[name]].replace(",", ""))
    kernels = [(number(r, "gpu__time_duration.sum"), number(r, "dram__bytes_read.sum"),
                r[col["Kernel Name"]], r[col["Grid Size"]])
               for r in rows[start + 2:] if len(r) == len(header)]
    if not kernels:
        sys.exit(f"{sys.argv[1]}: no kernels")
    total = sum(k[0] for k in kernels)
    print(f"{len(kernels)} kernels, {total / 1e6:.2f} ms, "
          f"{sum(k[1] for k in kernels) / 1e9:.3f} GB read from DRAM")
    print("| kernel | grid | µs | share | MB read | GB/s |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    for t, b, name, grid in sorted(kernels, reverse=True)[:top]:
        print(f"| {name} | {grid} | {t / 1e3:.1f} | {100 * t / total:.1f} % | "
              f"{b / 1e6:.2f} | {b / t:.1f} |")
    small = [k for k in kernels if k[0] < 10e3]
    print(f"{len(small)} kernels under 10 µs: {sum(k[0] for k in small) / 1e6:.2f} ms "
          f"({100 * sum(k[0] for k in small) / total:.0f} %)")


if __name__ == "__main__":
    main()
