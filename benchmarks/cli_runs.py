"""Running `riskbrief` in fresh processes for the benchmarks: wall seconds and peak memory of each run, and
the baselines the current code replaces, measured the same way in the same run.

A run starts `python -c CHILD MODE ARGS...`; MODE `new` is the command as shipped, and flags in MODE turn
it into a baseline: `csv` loads every portfolio from its CSV files (no validated snapshot, as before
issue 13), `eager` imports the model client and the import profiles first (what start-up used to load),
`collector` leaves the garbage collector running through the imports and at exit (no
tools.memory.loading_modules, no exit freeze), `checks` imports chromadb with its override checks (no
tools.chromadb_import), and `embedq` embeds the brief's questions instead of reading the store's vectors.
Children run with bytecode caching on (`PYTHONDONTWRITEBYTECODE` removed), as an installed package does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

CHILD = """
import sys
mode = sys.argv.pop(1)
if "eager" in mode:
    import agent.llm, tools.importers, tools.portfolio, tools.config
if "csv" in mode:
    import tools.portfolio
    tools.portfolio.load_portfolio.__kwdefaults__["snapshot"] = False
if "collector" in mode:
    import contextlib, tools.memory
    tools.memory.loading_modules = contextlib.nullcontext
    tools.memory.exit_without_collecting = lambda: None
if "checks" in mode:
    import chromadb, chromadb.api.rust
if "embedq" in mode:
    import tools.retrieval
    tools.retrieval._known_query_vectors = lambda *_: {}
sys.argv[0] = "riskbrief"
from agent.cli import main
main()
"""


@dataclass
class Run:
    seconds: float
    peak_rss_mb: float
    code: int


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["RISKBRIEF_HOME"] = str(home)
    return env


def run_cli(args: list[str], home: Path, mode: str = "new", *, check: bool = True) -> Run:
    """One `riskbrief ARGS` in a fresh process with workspace `home`: wall seconds, peak RSS (MB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, *args],
        env=env_for(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    stderr = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if check and proc.returncode != 0:
        raise SystemExit(f"riskbrief {' '.join(args)} failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    return Run(round(seconds, 3), round(usage.ru_maxrss / 1024, 1), proc.returncode)


def fresh_home(path: Path, *, like: Path | None = None, parts: tuple[str, ...] = ()) -> Path:
    """An empty workspace at `path`, holding copies of `parts` (e.g. "chroma", "snapshots") of `like`."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)
    for part in parts:
        assert like is not None
        shutil.copytree(like / part, path / part)
    return path


def folder_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)
