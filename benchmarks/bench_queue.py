"""Benchmark: the morning queue over a large synthetic portfolio, cold and in process.

    python -m benchmarks.bench_queue                          # 100,000 accounts, two years of weekly data
    python -m benchmarks.bench_queue --only in_process --accounts 20000 --scaling   # also 1/2 and 1/4 size

Generates the portfolio once into --workdir (benchmarks.synth, not timed), then:

1. `cold`: `riskbrief queue --data <portfolio> --format json` in a fresh process (median of --repeats):
   with the validated snapshot in the workspace (budget: under 5 s on 2 cores), and, as the baseline it
   replaces, the same command parsing and validating every CSV (benchmarks.cli_runs, mode `csv`), plus
   the first run on a fresh workspace (CSV read + snapshot written). Each run starts from a workspace
   holding nothing else, so alert state is the same for all; peak RSS of each.
2. `in_process`: loading (snapshot and CSV, each the best of --repeats), detection + ranking, and building
   the validated queue entries of the ranked rows (each the best of --repeats) in this process.

Prints a table, then one JSON line: {"benchmark": "queue", "cold": {...}, "in_process": {...}}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.cli_runs import folder_mb, fresh_home, run_cli
from benchmarks.synth import ensure

AS_OF = date(2026, 11, 20)
BUDGET_S = 5.0


def cold(folder: Path, workdir: Path, repeats: int) -> dict[str, Any]:
    args = ["queue", "--data", str(folder), "--format", "json"]
    template = fresh_home(workdir / "queue-home-template")
    run_cli(args, template)  # writes the snapshot (and warms the bytecode cache)
    home = workdir / "queue-home"
    runs: dict[str, list[Any]] = {"snapshot": [], "csv": [], "first": []}
    for _ in range(repeats):  # alternating, so other load on the machine falls on all three alike
        runs["snapshot"].append(run_cli(args, fresh_home(home, like=template, parts=("snapshots",))))
        runs["csv"].append(run_cli(args, fresh_home(home), "csv"))
        runs["first"].append(run_cli(args, fresh_home(home)))
    median = {k: round(statistics.median(r.seconds for r in v), 2) for k, v in runs.items()}
    return {
        "command": "riskbrief queue --data <portfolio> --format json",
        "snapshot_s": median["snapshot"],
        "baseline_csv_s": median["csv"],
        "first_run_s": median["first"],
        "snapshot_runs_s": [r.seconds for r in runs["snapshot"]],
        "baseline_csv_runs_s": [r.seconds for r in runs["csv"]],
        "snapshot_peak_rss_mb": max(r.peak_rss_mb for r in runs["snapshot"]),
        "baseline_csv_peak_rss_mb": max(r.peak_rss_mb for r in runs["csv"]),
        "snapshot_mb": folder_mb(template / "snapshots"),
        "budget_s": BUDGET_S,
        "met": median["snapshot"] < BUDGET_S,
    }


def in_process(folder: Path, repeats: int) -> dict[str, Any]:
    from tools import workspace
    from tools.config import Config
    from tools.portfolio import load_portfolio
    from tools.scoring import account_frame, entries, rank_frame
    from tools.signals import detect

    rows = sum(sum(1 for _ in p.open("rb")) - 1 for p in folder.glob("*.csv"))
    usage_rows = sum(1 for _ in (folder / "usage.csv").open("rb")) - 1
    loads: dict[str, list[float]] = {"snapshot": [], "csv": []}
    with tempfile.TemporaryDirectory(prefix="riskbrief-bench-") as home, workspace.using(Path(home)):
        load_portfolio(folder, AS_OF)  # writes the snapshot
        for _ in range(repeats):
            for kind in loads:
                started = time.perf_counter()
                portfolio = load_portfolio(folder, AS_OF, snapshot=kind == "snapshot")
                loads[kind].append(time.perf_counter() - started)
    config = Config(competitors=["Gainsight", "ChurnZero", "Totango", "Vitally"])
    timings: list[float] = []
    detect_only: list[float] = []
    entries_only: list[float] = []
    queued = signals = 0
    for _ in range(repeats):
        started = time.perf_counter()
        detection = detect(portfolio, config, AS_OF)
        middle = time.perf_counter()
        accounts = account_frame(portfolio, detection.signals.get_column("account_id"))  # as build_queue
        ranked = rank_frame(detection, accounts, config)
        timings.append(time.perf_counter() - started)
        detect_only.append(middle - started)
        queued, signals = ranked.height, detection.signals.height
        started = time.perf_counter()
        built = entries(ranked, detection)
        entries_only.append(time.perf_counter() - started)
        del built
    best = min(timings)
    return {
        "rows": rows,
        "usage_rows": usage_rows,
        "load_snapshot_s": round(min(loads["snapshot"]), 2),
        "baseline_load_csv_s": round(min(loads["csv"]), 2),
        "detect_s": round(min(detect_only), 3),
        "detect_rank_s": round(best, 3),
        "detect_rank_ns_per_row": round(best / rows * 1e9, 1),
        "entries_s": round(min(entries_only), 3),
        "signals": int(signals),
        "accounts_in_queue": int(queued),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; medians (cold) and bests (in process)")
    parser.add_argument("--only", nargs="+", choices=("cold", "in_process"), default=["cold", "in_process"])
    parser.add_argument("--scaling", action="store_true", help="in process: also 1/4 and 1/2 size (linearity)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "riskbrief-bench")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)

    folder = ensure(args.workdir, args.accounts, args.weeks)
    result: dict[str, Any] = {
        "benchmark": "queue",
        "accounts": args.accounts,
        "portfolio_mb": round(sum(p.stat().st_size for p in folder.glob("*.csv")) / 1e6),
    }
    if "cold" in args.only:
        result["cold"] = cold(folder, args.workdir, args.repeats)
        c = result["cold"]
        print(f"{'cold queue (median of ' + str(args.repeats) + ')':<40} {'seconds':>8} {'peak MB':>8}")
        print(f"{'  with the snapshot':<40} {c['snapshot_s']:>8} {c['snapshot_peak_rss_mb']:>8}")
        baseline = "  baseline: CSV parsed and validated"
        print(f"{baseline:<40} {c['baseline_csv_s']:>8} {c['baseline_csv_peak_rss_mb']:>8}")
        print(f"{'  first run (CSV + snapshot written)':<40} {c['first_run_s']:>8}")
    if "in_process" in args.only:
        sizes = [args.accounts // 4, args.accounts // 2, args.accounts] if args.scaling else [args.accounts]
        measured = [(n, in_process(ensure(args.workdir, n, args.weeks), args.repeats)) for n in sizes]
        print(
            f"{'accounts':>9} {'rows':>11} {'snapshot s':>10} {'CSV s':>6} {'detect s':>9} {'detect+rank s':>14} "
            f"{'entries s':>10} {'in queue':>9}"
        )
        for n, r in measured:
            print(
                f"{n:>9,} {r['rows']:>11,} {r['load_snapshot_s']:>10} {r['baseline_load_csv_s']:>6} "
                f"{r['detect_s']:>9} {r['detect_rank_s']:>14} {r['entries_s']:>10} {r['accounts_in_queue']:>9,}"
            )
        result["in_process"] = measured[-1][1]
        if args.scaling:
            result["scaling"] = [{"accounts": n, **r} for n, r in measured]
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
