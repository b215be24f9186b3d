"""CLI start-up: importing the CLI loads no heavy dependency; `--version`; strict `--as-of` dates."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = (
    "langgraph", "langchain_openai", "chromadb", "openai", "starlette", "uvicorn", "polars", "numpy", "onnxruntime",
    "tokenizers",
)  # fmt: skip


def run(*args: str, tmp_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = None
    if tmp_path is not None:
        env = {**os.environ, "RISKBRIEF_HOME": str(tmp_path / "home")}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def test_import_cli_loads_no_heavy_module() -> None:
    code = f"import agent.cli, sys; print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    proc = run("-c", code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_version() -> None:
    proc = run("-m", "agent.cli", "--version")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"riskbrief {version('riskbrief')}"


@pytest.mark.parametrize("value", ["20261120", "0999-01-01", "2101-01-01", "2026-1-01", "2026-11-20T00:00"])
def test_as_of_must_be_yyyy_mm_dd_in_range(value: str, tmp_path: Path) -> None:
    proc = run("-m", "agent.cli", "queue", "--data", "sample", "--as-of", value, tmp_path=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:")
    assert "--as-of" in lines[0] and value in lines[0]
    assert proc.stdout == ""


def test_as_of_valid_date_still_accepted(tmp_path: Path) -> None:
    proc = run(
        "-m",
        "agent.cli",
        "queue",
        "--data",
        "sample",
        "--as-of",
        "2026-11-20",
        "--format",
        "json",
        tmp_path=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
