#!/usr/bin/env python3
"""Per-kernel sums of an Nsight Compute CSV of gpu__time_duration.sum (profile-step.sh): launches, total and mean
microseconds, largest first, and the total. Usage: ncu_sums.py FILE.csv"""
import csv
import sys
from collections import defaultdict


def main(path):
    with open(path, newline="") as f:
        lines = [line for line in f if line.startswith('"')]
    rows = list(csv.DictReader(lines))
    total = defaultdict(float)
    count = defaultdict(int)
    for row in rows:
        if row.get("Metric Name") != "gpu__time_duration.sum":
            continue
        value = float(row["Metric Value"].replace(",", ""))
        unit = row.get("Metric Unit", "ns")
        us = value / 1000 if unit in ("nsecond", "ns") else value * 1000 if unit in ("msecond", "ms") else value
        name = row["Kernel Name"].split("(")[0]
        total[name] += us
        count[name] += 1
    grand = sum(total.values())
    print(f"{'kernel':48} {'launches':>8} {'total us':>10} {'mean us':>8} {'share':>6}")
    for name in sorted(total, key=total.get, reverse=True):
        print(f"{name[:48]:48} {count[name]:8d} {total[name]:10.1f} {total[name] / count[name]:8.2f} "
              f"{100 * total[name] / grand:5.1f}%")
    print(f"{'all':48} {sum(count.values()):8d} {grand:10.1f}")


if __name__ == "__main__":
    main(sys.argv[1])
