"""The workspace folder: Chroma store, SQLite checkpointer, alert state, measurement events.

Chosen by `--home`, else `RISKBRIEF_HOME`, else `[store] home` in riskbrief.toml, else `./.riskbrief`
(spec/interface.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_override: Path | None = None
_from_config: Path | None = None


def set_home(path: Path | None) -> None:
    """Set the workspace for this process (the CLI's `--home`)."""
    global _override
    _override = path


def set_config_home(path: Path | None) -> None:
    """The workspace named by `[store] home` in riskbrief.toml: used when neither --home nor
    RISKBRIEF_HOME says otherwise."""
    global _from_config
    _from_config = path


def home() -> Path:
    """The workspace folder, created on first use."""
    env = os.environ.get("RISKBRIEF_HOME")
    path = _override or (Path(env) if env else None) or _from_config or Path(".riskbrief")
    path.mkdir(parents=True, exist_ok=True)
    return path


def sqlite_path(name: str) -> Path:
    """A SQLite file inside the workspace, e.g. `alerts.sqlite`, `checkpoints.sqlite`, `events.sqlite`."""
    return home() / name


def chroma_path() -> Path:
    """The persistent Chroma folder inside the workspace."""
    return home() / "chroma"


@contextmanager
def using(path: Path) -> Iterator[Path]:
    """Use `path` as the workspace inside the block, then restore the previous one."""
    previous = _override
    set_home(path)
    try:
        yield home()
    finally:
        set_home(previous)
