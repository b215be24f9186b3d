"""The workspace is private: folders 0700 and files 0600 whatever the umask, wider ones tightened on open."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import review
from agent.cli_agent import CHECKPOINTS
from agent.graph import sqlite_graph
from tools import workspace
from tools.alerts import AlertStore
from tools.errors import InputError


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The loosest umask: whatever is private below was made so by riskbrief, not by the umask."""
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_a_new_workspace_and_its_stores_are_private(tmp_path: Path, open_umask: None) -> None:
    home = tmp_path / "new" / "ws"
    with workspace.using(home):
        assert mode(home) == 0o700
        AlertStore(workspace.sqlite_path("alerts.sqlite"))
        review.list_reviews()  # creates riskbrief.sqlite
        with sqlite_graph(workspace.sqlite_path(CHECKPOINTS)) as graph:
            graph.get_state({"configurable": {"thread_id": "t"}})
            files = sorted(p.name for p in home.iterdir() if p.is_file())
            # Journal and WAL files, while they exist, take the database file's mode.
            assert {"alerts.sqlite", "riskbrief.sqlite", "checkpoints.sqlite"} <= set(files)
            assert {f: mode(home / f) for f in files} == dict.fromkeys(files, 0o600)
        assert mode(workspace.chroma_path()) == 0o700


def test_an_existing_workspace_is_tightened_when_opened(tmp_path: Path) -> None:
    home = tmp_path / "old"
    (home / "chroma" / "index").mkdir(parents=True)
    for folder in (home, home / "chroma", home / "chroma" / "index"):
        folder.chmod(0o755)
    for file in (home / "riskbrief.sqlite", home / "chroma" / "chroma.sqlite3", home / "chroma" / "index" / "data.bin"):
        file.write_bytes(b"")
        file.chmod(0o644)
    read_only = home / "alerts.sqlite"
    read_only.write_bytes(b"")
    read_only.chmod(0o444)
    with workspace.using(home):
        assert mode(home) == 0o700
        assert mode(workspace.sqlite_path("riskbrief.sqlite")) == 0o600
        assert mode(workspace.sqlite_path("alerts.sqlite")) == 0o400  # tightened, never loosened
        chroma = workspace.chroma_path()
    assert [mode(p) for p in (chroma, chroma / "index")] == [0o700, 0o700]
    assert [mode(p) for p in (chroma / "chroma.sqlite3", chroma / "index" / "data.bin")] == [0o600, 0o600]


def test_files_made_by_sqlite_in_the_workspace_stay_private(tmp_path: Path, open_umask: None) -> None:
    with workspace.using(tmp_path / "ws") as home:
        path = workspace.sqlite_path("events.sqlite")
        with sqlite3.connect(path) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE t (x)")
            db.execute("INSERT INTO t VALUES (1)")
            assert {p.name: mode(p) for p in home.iterdir()} == {
                "events.sqlite": 0o600,
                "events.sqlite-wal": 0o600,
                "events.sqlite-shm": 0o600,
            }


def test_a_workspace_that_cannot_be_a_folder_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with (
        pytest.raises(InputError, match=r"^workspace .*/file/ws: Not a directory$"),
        workspace.using(tmp_path / "file" / "ws"),
    ):
        pass
