"""The validated snapshot (tools.snapshot): later loads read it, and a changed file, a reverted file, a
changed setting or a damaged snapshot is read from the CSV again, with the same errors as without one."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from builder import AS_OF, account, day, write_portfolio

import tools.portfolio as portfolio_module
from tools import snapshot as snapshots
from tools import workspace
from tools.errors import InputError
from tools.portfolio import Portfolio, load_portfolio

TICKETS = [
    {"ticket_id": "T-1", "account_id": "A-1", "opened_at": day(-9), "priority": "P2", "subject": "Login fails"},
    {"ticket_id": "T-2", "account_id": "A-2", "opened_at": day(-3), "priority": "P3", "subject": "Export slow"},
]


def make(root: Path, **tables: list[dict[str, Any]]) -> Path:
    """A two-account portfolio; files dated a minute ago, so their stat can be trusted (not racy)."""
    tables.setdefault("accounts", [account("A-1"), account("A-2")])
    tables.setdefault("tickets", TICKETS)
    write_portfolio(root, **tables)
    age(root)
    return root


def age(root: Path, seconds: int = 60) -> None:
    """Date every file of the portfolio `seconds` ago (a freshly written file is hashed on every load)."""
    then = time.time_ns() - seconds * 1_000_000_000
    for path in root.iterdir():
        os.utime(path, ns=(then, then))


class Reads:
    """Which tables were parsed and validated from CSV, and which files were opened at all."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.parsed: list[str] = []
        self.opened: list[str] = []
        read_table, read_bytes = portfolio_module.read_table, portfolio_module._read_bytes

        def counting_read(path: Path, spec: Any, *args: Any, **kwargs: Any) -> pl.DataFrame:
            self.parsed.append(spec.name)
            return read_table(path, spec, *args, **kwargs)

        def counting_bytes(path: Path, file: str, reader: Any) -> bytes:
            self.opened.append(file)
            return read_bytes(path, file, reader)

        monkeypatch.setattr(portfolio_module, "read_table", counting_read)
        monkeypatch.setattr(portfolio_module, "_read_bytes", counting_bytes)

    def reset(self) -> None:
        self.parsed.clear()
        self.opened.clear()


def same(a: Portfolio, b: Portfolio) -> bool:
    return (
        a.accounts.equals(b.accounts)
        and a.tables.keys() == b.tables.keys()
        and all(a.tables[n].equals(b.tables[n]) for n in a.tables)
        and a.missing == b.missing
    )


def snapshot_folder() -> Path:
    snapshots.wait()  # written on a background thread
    (folder,) = (workspace.home() / "snapshots").iterdir()
    return folder


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((snapshot_folder() / "manifest.json").read_text())
    return data


def error_of(load: Callable[[], object]) -> str:
    with pytest.raises(InputError) as info:
        load()
    return str(info.value)


def test_second_load_reads_the_snapshot_not_the_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make(tmp_path / "p")
    reads = Reads(monkeypatch)
    first = load_portfolio(root, AS_OF)
    assert sorted(reads.parsed) == ["accounts", "tickets"]
    reads.reset()
    second = load_portfolio(root, AS_OF)
    assert reads.parsed == [] and reads.opened == []  # unchanged files are not even read
    assert same(first, second)
    assert same(second, load_portfolio(root, AS_OF, snapshot=False))
    assert second.tables["tickets"].schema == first.tables["tickets"].schema
    folder = snapshot_folder()
    assert manifest()["portfolio"] == str(root.absolute())
    assert sorted(manifest()["tables"]) == ["accounts", "tickets"]
    for path in [folder, *folder.iterdir()]:  # private, like the rest of the workspace
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (workspace.FOLDER_MODE if path.is_dir() else workspace.FILE_MODE), path


def test_a_changed_file_is_read_again_and_only_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make(tmp_path / "p")
    load_portfolio(root, AS_OF)
    reads = Reads(monkeypatch)
    path = root / "tickets.csv"
    before = path.stat()
    path.write_bytes(path.read_bytes().replace(b"Login fails", b"Login FAILS"))  # same size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the same mtime: only ctime moves
    assert path.stat().st_size == before.st_size
    changed = load_portfolio(root, AS_OF)
    assert reads.parsed == ["tickets"]
    assert changed.tables["tickets"]["subject"].to_list() == ["Login FAILS", "Export slow"]
    assert same(changed, load_portfolio(root, AS_OF, snapshot=False))


def test_a_reverted_file_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make(tmp_path / "p")
    path = root / "tickets.csv"
    original = path.read_bytes()
    first = load_portfolio(root, AS_OF)
    path.write_bytes(original.replace(b"P2", b"P1"))
    age(root, 30)
    assert load_portfolio(root, AS_OF).tables["tickets"]["priority"].to_list() == ["P1", "P3"]
    reads = Reads(monkeypatch)
    path.write_bytes(original)  # back to the first version's bytes, with a new mtime
    reverted = load_portfolio(root, AS_OF)
    assert reads.parsed == ["tickets"]
    assert reverted.tables["tickets"]["priority"].to_list() == ["P2", "P3"]
    assert same(reverted, first)


def test_a_touched_file_is_hashed_not_validated_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make(tmp_path / "p")
    load_portfolio(root, AS_OF)
    age(root, 10)  # new mtimes, same bytes
    reads = Reads(monkeypatch)
    load_portfolio(root, AS_OF)
    assert reads.parsed == [] and sorted(reads.opened) == ["accounts.csv", "tickets.csv"]
    reads.reset()
    load_portfolio(root, AS_OF)  # the new stat was recorded: trusted again
    assert reads.opened == []


def test_a_file_written_just_before_it_was_read_is_hashed_next_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = make(tmp_path / "p")
    os.utime(root / "tickets.csv")  # now: within the racy window (a second write could keep this mtime)
    load_portfolio(root, AS_OF)
    reads = Reads(monkeypatch)
    load_portfolio(root, AS_OF)
    assert reads.opened == ["tickets.csv"] and reads.parsed == []


def test_a_changed_setting_reads_the_csv_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tickets = [{**TICKETS[0], "priority": "urgent"}, TICKETS[1]]
    root = make(tmp_path / "p", tickets=tickets)
    toml = root / "riskbrief.toml"
    toml.write_text('[mapping.tickets]\nvalues.priority = {urgent = "P1"}\n')
    assert load_portfolio(root, AS_OF).tables["tickets"]["priority"].to_list() == ["P1", "P3"]
    reads = Reads(monkeypatch)
    toml.write_text('[mapping.tickets]\nvalues.priority = {urgent = "P2"}\n')
    assert load_portfolio(root, AS_OF).tables["tickets"]["priority"].to_list() == ["P2", "P3"]
    assert reads.parsed == ["tickets"]  # accounts are read the same way under both settings
    reads.reset()
    toml.write_text("[limits]\nmax_cell_kb = 50\n")  # a limit applies to every table
    error = error_of(lambda: load_portfolio(root, AS_OF))
    assert error.startswith("tickets.csv line 2, column priority: 'urgent' is not one of P1, P2, P3, P4")
    assert sorted(reads.parsed) == ["accounts", "tickets"]


def test_a_new_loader_version_reads_the_csv_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make(tmp_path / "p")
    load_portfolio(root, AS_OF)
    monkeypatch.setattr(snapshots, "SNAPSHOT_VERSION", snapshots.SNAPSHOT_VERSION + 1)
    reads = Reads(monkeypatch)
    load_portfolio(root, AS_OF)
    assert sorted(reads.parsed) == ["accounts", "tickets"]


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "manifest"])
def test_a_damaged_snapshot_falls_back_to_the_csv_and_is_rewritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    root = make(tmp_path / "p")
    expected = load_portfolio(root, AS_OF)
    table = snapshot_folder() / manifest()["tables"]["tickets"]["file"]
    data = table.read_bytes()
    if damage == "truncate":
        table.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        middle = len(data) // 2
        table.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    elif damage == "delete":
        table.unlink()
    else:
        (snapshot_folder() / "manifest.json").write_text('{"version": 1, "tables": {"tick')
    reads = Reads(monkeypatch)
    assert same(load_portfolio(root, AS_OF), expected)
    assert "tickets" in reads.parsed
    reads.reset()
    assert same(load_portfolio(root, AS_OF), expected)  # rewritten: read from the snapshot again
    assert reads.parsed == []


@pytest.mark.parametrize(
    "change",
    [
        ("tickets.csv", "Login fails", 'Login "fails', "tickets.csv line 2"),
        ("tickets.csv", "P2", "P7", "tickets.csv line 2, column priority"),
        ("tickets.csv", day(-9), "09/11/2026", "tickets.csv line 2, column opened_at"),
        ("tickets.csv", "T-2", "T-1", "tickets.csv line 3, column ticket_id"),
        ("tickets.csv", "A-2", "A-9", "tickets.csv line 3, column account_id"),
        ("accounts.csv", "A-2", "A-3", "tickets.csv line 3, column account_id"),  # A-2's ticket: unknown account
        ("accounts.csv", "50000", "-5", "accounts.csv line 2, column arr"),
    ],
)
def test_errors_are_the_same_with_and_without_a_snapshot(tmp_path: Path, change: tuple[str, str, str, str]) -> None:
    root = make(tmp_path / "p")
    load_portfolio(root, AS_OF)  # the snapshot holds the good version
    file, old, new, where = change
    path = root / file
    path.write_bytes(path.read_bytes().replace(old.encode(), new.encode(), 1))
    with_snapshot = error_of(lambda: load_portfolio(root, AS_OF))
    assert with_snapshot == error_of(lambda: load_portfolio(root, AS_OF, snapshot=False))
    assert with_snapshot.startswith(where)
    assert with_snapshot == error_of(lambda: load_portfolio(root, AS_OF))  # and again, once it was seen


def test_unknown_accounts_are_checked_again_after_accounts_change(tmp_path: Path) -> None:
    """A table kept from the snapshot is checked against the accounts it was not checked against yet."""
    root = make(tmp_path / "p")
    load_portfolio(root, AS_OF)
    accounts = root / "accounts.csv"
    good = accounts.read_text()
    accounts.write_text(good.replace("A-2", "A-3"))
    expected = "tickets.csv line 3, column account_id: unknown account 'A-2' (not in accounts.csv)"
    assert error_of(lambda: load_portfolio(root, AS_OF)) == expected
    assert error_of(lambda: load_portfolio(root, AS_OF)) == expected  # the new accounts were kept; still checked
    accounts.write_text(good)
    assert load_portfolio(root, AS_OF).tables["tickets"].height == 2


def test_concurrent_loads_leave_one_consistent_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = make(tmp_path / "p", usage=[{"account_id": "A-1", "period_start": day(-i), "metric": "dau", "value": i}
                                       for i in range(200)])  # fmt: skip
    expected = load_portfolio(root, AS_OF, snapshot=False)
    results: list[Portfolio] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(load_portfolio(root, AS_OF))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and all(same(r, expected) for r in results)
    assert not [p for p in snapshot_folder().iterdir() if p.name.endswith(".tmp")]
    reads = Reads(monkeypatch)
    assert same(load_portfolio(root, AS_OF), expected)
    assert reads.parsed == []


def test_an_unusable_workspace_means_no_snapshot_not_a_failure(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the workspace folder should be")
    workspace.set_home(blocked)
    try:
        assert same(load_portfolio(root, AS_OF), load_portfolio(root, AS_OF, snapshot=False))
    finally:
        workspace.set_home(None)


def test_the_as_of_view_is_applied_after_the_snapshot(tmp_path: Path) -> None:
    root = make(tmp_path / "p")
    load_portfolio(root)  # snapshot written from a load with every row
    early = load_portfolio(root, AS_OF - timedelta(days=5))
    assert early.tables["tickets"]["ticket_id"].to_list() == ["T-1"]
    assert load_portfolio(root, AS_OF).tables["tickets"].height == 2


def test_trusted_needs_an_old_enough_file() -> None:
    stat_ = snapshots.Stat(size=10, mtime_ns=1_000, ino=1, ctime_ns=1_000)
    entry = snapshots.Entry(
        key="k", content="c", stat=stat_, hashed_ns=1_000 + snapshots.RACY_NS + 1, file="f", file_hash="h", rows=1
    )
    assert entry.trusted(stat_)
    assert not snapshots.Entry(**{**entry.__dict__, "hashed_ns": 1_000 + snapshots.RACY_NS}).trusted(stat_)
    assert not entry.trusted(snapshots.Stat(size=10, mtime_ns=1_000, ino=1, ctime_ns=2_000))


def test_a_process_exits_only_once_its_snapshot_is_written(tmp_path: Path) -> None:
    """Tables are written on a background thread: the process waits for it before exiting."""
    root = make(tmp_path / "p")
    home = tmp_path / "home"
    code = (
        "import sys; from pathlib import Path; from tools.portfolio import load_portfolio; "
        f"load_portfolio(Path({str(root)!r})); sys.exit(0)"
    )
    env = {**os.environ, "RISKBRIEF_HOME": str(home)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (folder,) = (home / "snapshots").iterdir()
    tables = json.loads((folder / "manifest.json").read_text())["tables"]
    assert sorted(tables) == ["accounts", "tickets"]
    assert all((folder / t["file"]).is_file() for t in tables.values())
