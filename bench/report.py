"""Print a pytest-benchmark JSON file as a Markdown table (case, backend, median, IQR, first call).

    python bench/report.py .benchmarks/<machine>/<run>.json
"""

import json
import re
import sys


def rows(path):
    data = json.load(open(path))
    for bench in data["benchmarks"]:
        match = re.match(r".*\[(.+)-(\w+)\]$", bench["name"])
        case, backend = match.groups() if match else (bench["name"], "")
        stats = bench["stats"]
        first = bench.get("extra_info", {}).get("first_call_ms")
        yield case, backend, stats["median"] * 1e3, stats["iqr"] * 1e3, first


def main(path):
    data = json.load(open(path))
    info = data["machine_info"]
    print(f"Machine: {info.get('cpu', {}).get('brand_raw', '?')}, {info.get('cpu', {}).get('count', '?')} cores; "
          f"Python {info.get('python_version')}; {data['datetime']}\n")
    print("| case | backend | median (ms) | IQR (ms) | first call (ms) |")
    print("|---|---|---:|---:|---:|")
    for case, backend, median, iqr, first in sorted(rows(path)):
        first = "" if first is None else f"{first:.1f}"
        print(f"| {case} | {backend} | {median:.3f} | {iqr:.3f} | {first} |")


if __name__ == "__main__":
    main(sys.argv[1])
