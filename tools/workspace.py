"""The workspace folder: Chroma store, SQLite checkpointer, alert state, measurement events.

Chosen by `--home`, else `RISKBRIEF_HOME`, else `[store] home` in riskbrief.toml, else `./.riskbrief`
(spec/interface.md).

Everything in it is private to its owner: folders are created 0700 and files 0600 whatever the umask,
and ones found with wider modes are tightened when first opened by a process (the workspace holds
customer notes, reviewers' decisions and the vector store).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from tools.errors import InputError, shown

FOLDER_MODE = 0o700
FILE_MODE = 0o600

_override: Path | None = None
_from_config: Path | None = None
_servers: dict[str, str | None] = {"database_url": None, "chroma_url": None}
_secured: set[Path] = set()  # paths made private by this process: each is checked once, not per connection


def set_home(path: Path | None) -> None:
    """Set the workspace for this process (the CLI's `--home`)."""
    global _override
    _override = path


def set_config_home(path: Path | None) -> None:
    """The workspace named by `[store] home` in riskbrief.toml: used when neither --home nor
    RISKBRIEF_HOME says otherwise."""
    global _from_config
    _from_config = path


def set_config_servers(database_url: str | None, chroma_url: str | None) -> None:
    """`[store] database_url` and `[store] chroma_url` from riskbrief.toml; the environment wins."""
    _servers["database_url"] = database_url
    _servers["chroma_url"] = chroma_url


def database_url() -> str | None:
    """The team's Postgres (`RISKBRIEF_DATABASE_URL`, else `[store] database_url`), or None for the
    embedded SQLite files in the workspace."""
    return os.environ.get("RISKBRIEF_DATABASE_URL") or _servers["database_url"]


def chroma_url() -> str | None:
    """The team's Chroma server (`RISKBRIEF_CHROMA_URL`, else `[store] chroma_url`), or None for the
    embedded store in the workspace."""
    return os.environ.get("RISKBRIEF_CHROMA_URL") or _servers["chroma_url"]


def chroma_token() -> str | None:
    """A bearer token for the team's Chroma server, when an authenticating proxy stands in front of it
    (`RISKBRIEF_CHROMA_TOKEN`; from the environment only, so the secret never sits in riskbrief.toml).
    It goes into an HTTP header, so it must be printable ASCII without spaces; an error never shows it."""
    token = os.environ.get("RISKBRIEF_CHROMA_TOKEN") or None
    if token is not None and not all("!" <= ch <= "~" for ch in token):
        raise InputError(
            "RISKBRIEF_CHROMA_TOKEN: not a token (expected printable ASCII without spaces or line breaks; "
            "the value is not shown)"
        )
    return token


def home() -> Path:
    """The workspace folder, created private (0700) on first use."""
    env = os.environ.get("RISKBRIEF_HOME")
    path = _override or (Path(env) if env else None) or _from_config or Path(".riskbrief")
    try:
        return private_folder(path)
    except OSError as exc:  # a file in the way, no permission, a read-only disk: the user's to fix
        raise InputError(f"workspace {shown(path, limit=None)}: {exc.strerror or exc}") from None


def sqlite_path(name: str) -> Path:
    """A SQLite file inside the workspace, e.g. `alerts.sqlite`, `checkpoints.sqlite`, `riskbrief.sqlite`;
    created empty and private (0600) if absent, so SQLite never creates it with the umask's mode (its
    journal and WAL files copy the database file's mode)."""
    return private_file(home() / name)


def chroma_path() -> Path:
    """The persistent Chroma folder inside the workspace: private (0700), and what is already in it too."""
    path = home() / "chroma"
    first = path.absolute() not in _secured
    private_folder(path)
    if first:
        # Chroma writes its files with the process umask: the folder's 0700 guards new ones, and those
        # already there are tightened once per process.
        for root, folders, files in os.walk(path):
            for name in folders:
                _tighten(Path(root, name), FOLDER_MODE)
            for name in files:
                _tighten(Path(root, name), FILE_MODE)
    return path


def private_folder(path: Path) -> Path:
    """`path` as a folder only its owner can enter: created 0700, or tightened to 0700 if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)  # the umask can only remove bits from 0700
    if path.absolute() not in _secured:
        _tighten(path, FOLDER_MODE)
        _secured.add(path.absolute())
    return path


def private_file(path: Path) -> Path:
    """`path` as a file only its owner can read: created empty with 0600 if absent (an empty file is an
    empty SQLite database), else tightened to 0600."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    if path.absolute() not in _secured:
        _tighten(path, FILE_MODE)
        _secured.add(path.absolute())
    return path


def _tighten(path: Path, mode: int) -> None:
    """Remove group and other permissions (and any above `mode`) from a path this user owns."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
        if current & ~mode:
            os.chmod(path, current & mode)
    except PermissionError:  # someone else's file (e.g. a shared --home): leave it, SQLite will say if it can't
        pass


@contextmanager
def using(path: Path) -> Iterator[Path]:
    """Use `path` as the workspace inside the block, then restore the previous one."""
    previous = _override
    set_home(path)
    try:
        yield home()
    finally:
        set_home(previous)
