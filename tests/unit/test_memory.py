"""The collector's housekeeping: paused while many records or modules are built, frozen at exit."""

from __future__ import annotations

import gc
import importlib
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.memory import gc_paused, loading_modules

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def collections() -> Iterator[list[int]]:
    """The generations collected while the test runs."""
    seen: list[int] = []

    def record(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            seen.append(info["generation"])

    gc.callbacks.append(record)
    try:
        yield seen
    finally:
        gc.callbacks.remove(record)


def test_gc_paused_restores_the_collector() -> None:
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()


def test_loading_modules_collects_nothing_then_freezes_what_it_built(collections: list[int]) -> None:
    frozen_before = gc.get_freeze_count()
    sys.modules.pop("tools.sample", None)  # a module to load in the block
    try:
        with loading_modules():
            collections.clear()  # any collection before the block does not count
            importlib.import_module("tools.sample")
            # Ten times the first generation's threshold of new containers: collections would run without the pause.
            built = [{"n": [i]} for i in range(10 * gc.get_threshold()[0])]
            assert not gc.isenabled()
        assert collections == []
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + 2 * len(built)  # each dict and its list
        assert gc.get_count()[0] < 50  # the young generation starts empty
    finally:
        gc.unfreeze()  # the test process goes on collecting as before


def test_loading_modules_restores_the_collector_when_the_import_fails() -> None:
    try:
        with pytest.raises(ModuleNotFoundError), loading_modules():
            import tools.no_such_module  # type: ignore[import-not-found]  # noqa: F401
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def run_child(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return proc.stdout


def test_exit_freezes_the_heap_once_however_often_it_is_asked() -> None:
    out = run_child(
        """
        import atexit, gc
        from tools.memory import exit_without_collecting

        # Registered first, so it runs last: after the freeze, before the interpreter's final collections.
        atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 1000, gc.get_count()[0]))
        registered = []
        register = atexit.register
        atexit.register = lambda fn: registered.append(fn) or register(fn)
        exit_without_collecting()
        exit_without_collecting()
        print("registered:", registered == [gc.freeze])
        print("frozen now:", gc.get_freeze_count())
        """
    )
    assert out.splitlines() == ["registered: True", "frozen now: 0", "frozen at exit: True 0"]


def test_a_command_still_writes_its_output_and_exit_code_with_the_exit_freeze(tmp_path: Path) -> None:
    """The CLI freezes at exit: what it prints and its exit code are unchanged by it."""
    env = {"RISKBRIEF_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    ok = subprocess.run(
        [sys.executable, "-m", "agent.cli", "queue", "--data", "sample", "--format", "json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)) > 10  # the whole document, flushed
    bad = subprocess.run(
        [sys.executable, "-m", "agent.cli", "queue", "--data", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "accounts.csv is missing" in bad.stderr


def test_the_cli_registers_the_exit_freeze() -> None:
    out = run_child(
        """
        import atexit, gc, sys
        from agent import cli

        sys.argv = ["riskbrief", "--help"]
        try:
            cli.main()
        except SystemExit:
            pass
        from tools import memory
        print("freeze registered:", memory._exit_freeze)
        """
    )
    assert out.splitlines()[-1] == "freeze registered: True"


def test_loading_modules_freezes_nothing_when_nothing_new_was_loaded() -> None:
    """A second brief in a long-running process: its imports are lookups, and what else is alive then (a
    request's objects) must stay collectable."""
    importlib.import_module("tools.sample")  # loaded before the block
    frozen_before = gc.get_freeze_count()
    alive = [[i] for i in range(1000)]
    with loading_modules():
        importlib.import_module("tools.sample")
    assert gc.get_freeze_count() == frozen_before and gc.isenabled() and alive
