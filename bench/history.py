"""The kept benchmark runs side by side, oldest first, so a change shows as a row that moved.

Reads bench/results/load-*.json (each file is one run of bench/load.py) and growth-*.json
(bench/growth.py) and prints, per run, the numbers the targets are about: accepted uploads per
second and upload p95 at each N, page rates, errors and peak memory; and each growth request's
median per size. Runs of one machine compare; runs of different machines do not.
Run from the project root: .venv/bin/python bench/history.py [--last N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load_runs(pattern: str) -> list[tuple[str, dict]]:
    """(run name, data) for every kept result file matching `pattern`, oldest first."""
    runs = []
    for path in sorted(RESULTS.glob(pattern), key=lambda p: p.name.rsplit("-", 1)[-1]):
        try:
            runs.append((path.stem, json.loads(path.read_text())))
        except (OSError, ValueError) as why:
            print(f"skipped {path.name}: {why}", file=sys.stderr)
    return runs


def print_load(runs: list[tuple[str, dict]]) -> None:
    print("Load (bench/load.py): accepted uploads/s, upload p95 ms, GET / and receipt per s")
    print(
        f"{'run':<34}{'backend':<18}{'N':>4}{'up/s':>7}{'p95 ms':>8}{'/ per s':>9}"
        f"{'rcpt/s':>8}{'err':>5}{'peak MB':>9}"
    )
    for name, data in runs:
        backend = data.get("backend", {}).get("database", "sqlite")
        if data.get("backend", {}).get("queue") == "redis":
            backend += "+redis"
        by_clients: dict[int, dict[str, dict]] = {}
        for row in data["rows"]:
            by_clients.setdefault(row["clients"], {})[_REQUESTS.get(row["what"], row["what"])] = row
        for clients, rows in sorted(by_clients.items()):
            upload, landing, receipt = (rows.get(k, {}) for k in ("upload", "landing", "receipt"))
            errors = sum(r.get("errors", 0) for r in rows.values())
            print(
                f"{name:<34}{backend:<18}{clients:>4}{upload.get('per_second', ''):>7}"
                f"{upload.get('p95_ms', ''):>8}{landing.get('per_second', ''):>9}"
                f"{receipt.get('per_second', ''):>8}{errors:>5}"
                f"{upload.get('memory', {}).get('sum_mb', 0):>9.0f}"
            )


# The request names bench/load.py writes, by what this table calls them.
_REQUESTS = {
    "upload (GET /submit + POST)": "upload",
    "GET /": "landing",
    "GET /receipt/<code>": "receipt",
}


def print_growth(runs: list[tuple[str, dict]]) -> None:
    print("\nGrowth (bench/growth.py): median ms per request and number of entries")
    for name, data in runs:
        sizes = [str(s) for s in data["sizes"]]
        print(f"{name}:  " + "".join(f"{int(s):>12,}" for s in sizes))
        shown = set()
        for row in data["rows"]:
            # The first timing of each request is without the ad hoc candidate indexes.
            if row["request"] in shown:
                continue
            shown.add(row["request"])
            medians = row["median_ms"]
            print(
                f"  {row['request'][:40]:<40}"
                + "".join(f"{medians.get(s, 0):>12.1f}" for s in sizes)
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--last", type=int, default=10, help="show the newest N runs of each")
    args = parser.parse_args()
    loads, growths = (
        load_runs("load-*.json")[-args.last :],
        load_runs("growth-*.json")[-args.last :],
    )
    if not loads and not growths:
        print(f"No kept runs in {RESULTS}: run `make bench` first.")
        return 0
    if loads:
        print_load(loads)
    if growths:
        print_growth(growths)
    return 0


if __name__ == "__main__":
    sys.exit(main())
