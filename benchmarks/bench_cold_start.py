"""Benchmark: cold start of the `riskbrief` command (each run in a fresh process).

    python -m benchmarks.bench_cold_start            # 5 runs of each command
    python -m benchmarks.bench_cold_start -n 10

Times `riskbrief --help`, `riskbrief signals` and `riskbrief queue --data sample --format json`, the
import of `agent.cli` (`python -X importtime`, total microseconds) and, as the baseline in the same run,
`python -c "import agent.cli_agent, agent.graph, tools.retrieval"` (what an eager CLI used to load).

Then the cold brief on the bundled sample with its evidence store built (budget: under 2 s):
`riskbrief brief A-001 --data sample --format json`, each run in a fresh process on a workspace holding
a copy of the built store and snapshot and nothing else (so every run drafts anew). Its baseline, in the
same run: the same brief as before issue 13, with the model client and import profiles imported at start,
every CSV parsed, the collector left to walk the imports and the heap at exit, chromadb's override checks
on and the brief's questions embedded (benchmarks.cli_runs, mode `eager,csv,collector,checks,embedq`).

Prints a table, then one JSON line with the median wall seconds of each. Every run uses a throwaway
workspace (RISKBRIEF_HOME), so nothing is recorded in yours, and bytecode caching on (as installed).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BASELINE_IMPORT = "import agent.cli_agent, agent.graph, tools.retrieval"
BRIEF_ACCOUNT = "A-001"
BRIEF_BUDGET_S = 2.0
BASELINE_BRIEF = "eager,csv,collector,checks,embedq"  # benchmarks.cli_runs: everything the new start-up replaced


def riskbrief_cmd() -> list[str]:
    """The installed console script beside this interpreter, else `python -m agent.cli`."""
    script = Path(sys.executable).with_name("riskbrief")
    if script.is_file():
        return [str(script)]
    found = shutil.which("riskbrief")
    return [found] if found else [sys.executable, "-m", "agent.cli"]


def wall(cmd: list[str], env: dict[str, str], repeats: int) -> float:
    """Median wall seconds of `cmd` over `repeats` fresh processes; fails loudly if it fails."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def import_us(code: str, env: dict[str, str], repeats: int) -> int:
    """Median total import time in microseconds (sum of the top-level modules' cumulative times)."""
    totals = []
    for _ in range(repeats):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", code], env=env, check=True, capture_output=True, text=True
        )
        total = 0
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "cumulative" in line:
                continue
            _, cumulative, name = line.split("|", 2)
            if not name.startswith("  "):  # a top-level import, not one nested in another
                total += int(cumulative)
        totals.append(total)
    return int(statistics.median(totals))


def bench_brief(workdir: Path, repeats: int) -> dict[str, float | int | bool]:
    """The cold sample brief with a built store against the previous start-up and CSV load."""
    from benchmarks.cli_runs import fresh_home, run_cli

    built = fresh_home(workdir / "built")
    run_cli(["ingest", "--data", "sample"], built)  # the store, and the portfolio's snapshot
    args = ["brief", BRIEF_ACCOUNT, "--data", "sample", "--format", "json"]
    home = workdir / "brief-home"
    for mode in ("new", BASELINE_BRIEF):  # warm the bytecode cache and the page cache
        run_cli(args, fresh_home(home, like=built, parts=("chroma", "snapshots")), mode)
    runs: dict[str, list[float]] = {"new": [], BASELINE_BRIEF: []}
    for _ in range(repeats):
        for mode, times in runs.items():
            times.append(run_cli(args, fresh_home(home, like=built, parts=("chroma", "snapshots")), mode).seconds)
    new, baseline = statistics.median(runs["new"]), statistics.median(runs[BASELINE_BRIEF])
    return {
        "brief_sample_s": round(new, 3),
        "brief_sample_best_s": round(min(runs["new"]), 3),
        "baseline_brief_sample_s": round(baseline, 3),
        "brief_budget_s": BRIEF_BUDGET_S,
        "brief_met": new < BRIEF_BUDGET_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repeats", type=int, default=5, help="Runs of each command (default 5).")
    parser.add_argument("--no-brief", action="store_true", help="Skip the sample brief (it builds a store first).")
    args = parser.parse_args()
    repeats = max(1, args.repeats)

    cli = riskbrief_cmd()
    with tempfile.TemporaryDirectory(prefix="riskbrief-bench-") as home:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["RISKBRIEF_HOME"] = home
        commands = {
            "help_s": [*cli, "--help"],
            "signals_s": [*cli, "signals"],
            "queue_json_s": [*cli, "queue", "--data", "sample", "--format", "json"],
            "baseline_import_s": [sys.executable, "-c", BASELINE_IMPORT],
        }
        for cmd in commands.values():  # warm the bytecode cache: measure start-up, not compilation
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result: dict[str, Any] = {name: round(wall(cmd, env, repeats), 3) for name, cmd in commands.items()}
        result["import_agent_cli_us"] = import_us("import agent.cli", env, repeats)
        result["baseline_import_us"] = import_us(BASELINE_IMPORT, env, repeats)
        if not args.no_brief:
            result.update(bench_brief(Path(home), repeats))
    result["repeats"] = repeats
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    result["cpus"] = os.cpu_count() or 0

    print(f"{'measure':<48} {'median':>12}")
    labels = {
        "help_s": "riskbrief --help (s)",
        "signals_s": "riskbrief signals (s)",
        "queue_json_s": "riskbrief queue --data sample --format json (s)",
        "baseline_import_s": "baseline: eager imports (s)",
        "import_agent_cli_us": "import agent.cli, -X importtime (us)",
        "baseline_import_us": "baseline eager imports, -X importtime (us)",
        "brief_sample_s": f"riskbrief brief {BRIEF_ACCOUNT} --data sample, store built (s)",
        "baseline_brief_sample_s": "baseline: before issue 13 (s)",
    }
    for key, label in labels.items():
        if key in result:
            print(f"{label:<48} {result[key]:>12}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
