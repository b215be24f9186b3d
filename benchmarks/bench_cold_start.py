"""Benchmark: cold start of the `riskbrief` command (each run in a fresh process).

    python -m benchmarks.bench_cold_start            # 5 runs of each command
    python -m benchmarks.bench_cold_start -n 10

Times `riskbrief --help`, `riskbrief signals` and `riskbrief queue --data sample --format json`, the
import of `agent.cli` (`python -X importtime`, total microseconds) and, as the baseline in the same run,
`python -c "import agent.cli_agent, agent.graph, tools.retrieval"` (what an eager CLI used to load).
Prints a table, then one JSON line with the median wall seconds of each.
The queue runs use a throwaway workspace (RISKBRIEF_HOME), so no alerts are recorded in yours.
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

BASELINE_IMPORT = "import agent.cli_agent, agent.graph, tools.retrieval"


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repeats", type=int, default=5, help="Runs of each command (default 5).")
    args = parser.parse_args()
    repeats = max(1, args.repeats)

    cli = riskbrief_cmd()
    with tempfile.TemporaryDirectory(prefix="riskbrief-bench-") as home:
        env = {**os.environ, "RISKBRIEF_HOME": home}
        commands = {
            "help_s": [*cli, "--help"],
            "signals_s": [*cli, "signals"],
            "queue_json_s": [*cli, "queue", "--data", "sample", "--format", "json"],
            "baseline_import_s": [sys.executable, "-c", BASELINE_IMPORT],
        }
        for cmd in commands.values():  # warm the bytecode cache: measure start-up, not compilation
            subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        result: dict[str, float | int] = {name: round(wall(cmd, env, repeats), 3) for name, cmd in commands.items()}
        result["import_agent_cli_us"] = import_us("import agent.cli", env, repeats)
        result["baseline_import_us"] = import_us(BASELINE_IMPORT, env, repeats)
    result["repeats"] = repeats

    print(f"{'measure':<48} {'median':>12}")
    labels = {
        "help_s": "riskbrief --help (s)",
        "signals_s": "riskbrief signals (s)",
        "queue_json_s": "riskbrief queue --data sample --format json (s)",
        "baseline_import_s": "baseline: eager imports (s)",
        "import_agent_cli_us": "import agent.cli, -X importtime (us)",
        "baseline_import_us": "baseline eager imports, -X importtime (us)",
    }
    for key, label in labels.items():
        print(f"{label:<48} {result[key]:>12}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
