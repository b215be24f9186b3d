"""A validated columnar snapshot of a portfolio, kept in the workspace (issue 13).

Parsing and validating every CSV cell costs seconds on a large portfolio (100,000 accounts, 756 MB: about
5 s on two cores); reading the same validated tables back from Parquet costs a fifth of a second. The
first load of a portfolio writes each validated table to `<workspace>/snapshots/<portfolio>/` as Parquet;
later loads read a table from there while its file is unchanged and re-read and re-validate only the files
that changed (tools.portfolio.load_portfolio).

When is a table's snapshot still valid? Its entry in `manifest.json` records the key it was read under
(this module's format version, a digest of the loader's own source, the polars version, the table's
declaration and its reader: riskbrief.toml's `[formats]`, `[mapping.<table>]` and `[limits]`), the
xxh3-128 hash of the file's content and the file's stat (size, mtime_ns, inode, ctime_ns) when it was hashed.

- Same key and same stat, and the file was already older than RACY_NS when hashed: trusted without reading
  the file (git's index works the same way). The ctime cannot be set back by a user, so a content change
  that restores size and mtime (`touch -d`, `cp -p`, rsync -t) still changes the stat.
- Any stat field differs, or the file was written just before it was hashed (a second write in the same
  timestamp tick would not change mtime): the file is read and hashed. The same hash (a `touch`, a copy of
  the same bytes) keeps the snapshot and records the new stat; another hash (an edit, or a revert to an
  older version) re-reads the CSV.
- Another key (settings or code changed): the CSV is re-read.

Hashing is only paid for files whose stat changed: xxh3 runs at about 10 GB/s, so what such a file costs is
reading it, which re-validating it needs anyway.

Writing costs about a second (1.5 s of CPU) on that portfolio: it runs on one background thread, so a first
run's detection, search and imports go on meanwhile; the process waits for it before it exits, and the next
load in the same process waits for it before reading the manifest (`wait`).

Safety: every file is written to a temporary name and moved into place (`os.replace`), so two processes
writing the same snapshot leave one complete version; a table's file name holds its content hash and key,
so the manifest never points at another version's bytes. Each entry records its Parquet file's own hash
and row count: a truncated or corrupted file is detected, and the table is read from the CSV again (and
rewritten). Nothing here ever fails a load: a workspace that cannot be written just means no snapshot.
Files are private (0600), like everything in the workspace.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from tools import workspace

if TYPE_CHECKING:
    from tools.portfolio import TableReader, TableSpec

SNAPSHOT_VERSION = 1  # bump when the snapshot's layout or meaning changes
RACY_NS = 3_000_000_000  # a file modified this soon before it was hashed is hashed again next time
STALE_NS = 600_000_000_000  # unreferenced or temporary files older than this are removed
# lz4 rather than zstd: on the 100k-account portfolio (2 cores) it writes with 25% less CPU (1.5 s, not 2.0 s)
# and reads back in half the time (0.17 s, not 0.35 s), for files 2.3x larger (87 MB, not 38 MB; the CSV
# files are 760 MB). Arrow IPC writes cheaper still but reads slower than either (0.5 s).
COMPRESSION: Final = "lz4"

try:  # a dependency of langgraph; hashlib's blake2b is 20x slower but always there
    import xxhash

    def content_hash(data: bytes) -> str:
        """A 128-bit digest of `data` (xxh3), to tell one version of a file from another."""
        return "xxh3:" + xxhash.xxh3_128_hexdigest(data)

except ImportError:  # pragma: no cover - xxhash ships with langgraph

    def content_hash(data: bytes) -> str:
        """A 128-bit digest of `data` (blake2b), to tell one version of a file from another."""
        return "b2:" + hashlib.blake2b(data, digest_size=16).hexdigest()


def _loader_digest() -> str:
    """The loader's own source: any change to how files are parsed or validated makes a new key."""
    from tools import portfolio

    parts = []
    for module in (portfolio.__file__, __file__):
        try:
            parts.append(Path(module).read_bytes())
        except OSError:  # no source (a frozen build): the version constants still key the snapshot
            parts.append(b"")
    return content_hash(b"\0".join(parts))


def table_key(spec: TableSpec, reader: TableReader) -> str:
    """What a table's snapshot depends on besides its file's content."""
    settings = json.dumps(dataclasses.asdict(reader), sort_keys=True, default=str)
    text = "\n".join((str(SNAPSHOT_VERSION), _LOADER.digest(), pl.__version__, repr(spec), settings))
    return content_hash(text.encode())


class _Lazy:
    """The loader digest, computed once per process."""

    _value: str | None = None

    def digest(self) -> str:
        if self._value is None:
            self._value = _loader_digest()
        return self._value


_LOADER = _Lazy()


@dataclass(frozen=True)
class Stat:
    size: int
    mtime_ns: int
    ino: int
    ctime_ns: int

    @classmethod
    def of(cls, path: Path) -> Stat:
        st = path.stat()
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)


@dataclass
class Entry:
    """One table's snapshot: what it was read from and under which key, and where it is."""

    key: str
    content: str  # hash of the CSV's content
    stat: Stat  # the CSV's stat when `content` was computed
    hashed_ns: int  # when `content` was computed (wall clock)
    file: str  # the Parquet file, in the snapshot folder
    file_hash: str  # hash of the Parquet file's bytes
    rows: int
    accounts: str = ""  # content hash of the accounts.csv its account ids were checked against

    def trusted(self, stat: Stat) -> bool:
        """The file's stat is the one hashed, and the file was not written just before it was hashed."""
        return stat == self.stat and self.hashed_ns - stat.mtime_ns > RACY_NS

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(**{**data, "stat": Stat(**data["stat"])})


@dataclass
class Loaded:
    """A table from the snapshot or from its CSV."""

    frame: pl.DataFrame
    content: str  # hash of the CSV content the frame holds
    fresh: bool  # read and validated from the CSV in this load
    checked_against: str = ""  # accounts content its ids were checked against ("" when not known)


_writer: ThreadPoolExecutor | None = None
_writer_lock = threading.Lock()


def _submit(job: Callable[..., Any], *args: Any) -> Future[Any]:
    """Run `job` on the snapshot's writer thread (one, so jobs run in order); at once when it cannot start
    (the interpreter is shutting down)."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="riskbrief-snapshot")
    try:
        return _writer.submit(job, *args)
    except RuntimeError:
        done: Future[Any] = Future()
        done.set_result(job(*args))
        return done


def wait() -> None:
    """Return once every snapshot this process has staged is written (its manifest included)."""
    if _writer is not None:
        _submit(lambda: None).result()


class Snapshot:
    """The snapshot of one portfolio folder. Tables are read with `load`, new versions staged with
    `stage` (after every check has passed) and written by the writer thread, and the manifest updated once
    they are, by `save`."""

    def __init__(self, folder: Path, source: str) -> None:
        self.folder = folder
        self.source = source
        self.entries = self._read_manifest()
        self.staged: dict[str, Entry] = {}
        # Tables read from their CSV in this load, until staged: (key, content, stat or None, hashed_ns).
        self._pending: dict[str, tuple[str, str, Stat | None, int]] = {}
        # Fresh tables to write, held until the whole load has passed (`save`): writing one while the next is
        # parsed would take a core from that parse, on the path to a first result.
        self._to_write: dict[str, tuple[Any, ...]] = {}

    @classmethod
    def open(cls, root: Path) -> Snapshot | None:
        """The snapshot of the portfolio at `root` in the current workspace; None when the workspace cannot
        be used (the portfolio is then read from its CSV files, as always)."""
        from tools.alerts import portfolio_key

        source = portfolio_key(root)
        name = hashlib.blake2b(source.encode(), digest_size=10).hexdigest()
        wait()  # what an earlier load of this process is still writing: cheaper to wait than to parse again
        try:
            base = workspace.private_folder(workspace.home() / "snapshots")
            return cls(workspace.private_folder(base / name), source)
        except Exception:  # a snapshot is an optimisation: never a reason to fail a load
            return None

    # ---------------------------------------------------------------------------------------- reading

    def load(
        self, name: str, path: Path, key: str, raw: Callable[[], bytes], parse: Callable[[bytes], pl.DataFrame]
    ) -> Loaded:
        """Table `name` of the file at `path`: from the snapshot when its entry still holds (see the module
        docstring), else `parse(raw())` (whose errors propagate unchanged)."""
        entry = self.entries.get(name)
        if entry is not None and entry.key != key:
            entry = None
        try:
            before = Stat.of(path)
        except OSError:
            before = None
        if entry is not None and before is not None and entry.trusted(before):
            frame = self._frame(entry)
            if frame is not None:
                return Loaded(frame, entry.content, fresh=False, checked_against=entry.accounts)
        data = raw()  # the loader's own errors (missing, too large, unreadable) as they are
        hashed_ns = time.time_ns()
        content = content_hash(data)
        if entry is not None and entry.content == content:
            frame = self._frame(entry)
            if frame is not None:
                if before is not None and before == _stat_or_none(path):  # remember the new stat
                    self.staged[name] = dataclasses.replace(entry, stat=before, hashed_ns=hashed_ns)
                return Loaded(frame, content, fresh=False, checked_against=entry.accounts)
        frame = parse(data)
        # The stat is kept only when the file did not change while it was read (then the hash is the
        # frame's content); otherwise the table is not recorded.
        self._pending[name] = (key, content, before if before == _stat_or_none(path) else None, hashed_ns)
        return Loaded(frame, content, fresh=True)

    def _frame(self, entry: Entry) -> pl.DataFrame | None:
        """The entry's table, or None when its file is missing, truncated or corrupted."""
        try:
            data = (self.folder / entry.file).read_bytes()
            if content_hash(data) != entry.file_hash:
                return None
            frame = pl.read_parquet(io.BytesIO(data))
        except Exception:  # any unreadable snapshot means: read the CSV
            return None
        return frame if frame.height == entry.rows else None

    # ---------------------------------------------------------------------------------------- writing

    def stage(self, name: str, loaded: Loaded, accounts: str) -> None:
        """Record a table whose every check passed (its account ids against accounts content `accounts`):
        a fresh table is written to Parquet, one from the snapshot only notes the accounts it matches."""
        if not loaded.fresh:
            current = self.staged.get(name) or self.entries.get(name)
            if current is not None and current.accounts != accounts:
                self.staged[name] = dataclasses.replace(current, accounts=accounts)
            return
        pending = self._pending.pop(name, None)
        if pending is None:
            return
        key, content, stat, hashed_ns = pending
        if stat is None:  # the file changed while it was read: nothing trustworthy to record
            return
        self._to_write[name] = (name, loaded.frame, key, content, stat, hashed_ns, accounts)

    def _write(
        self, name: str, frame: pl.DataFrame, key: str, content: str, stat: Stat, hashed_ns: int, accounts: str
    ) -> Entry | None:
        """On the writer thread: the table's Parquet file, and its entry (None when it cannot be written)."""
        try:
            buffer = io.BytesIO()
            frame.write_parquet(buffer, compression=COMPRESSION, statistics=False)
            data = buffer.getvalue()
            file = f"{name}-{content.split(':')[-1][:16]}-{key.split(':')[-1][:8]}.parquet"
            _write_private(self.folder / file, data)
        except Exception:  # a full disk or a read-only workspace: no snapshot of this table
            return None
        return Entry(
            key=key,
            content=content,
            stat=stat,
            hashed_ns=hashed_ns,
            file=file,
            file_hash=content_hash(data),
            rows=frame.height,
            accounts=accounts,
        )

    def save(self) -> None:
        """Update the manifest with what this load staged, once its tables are written (on the writer
        thread, after them)."""
        staged, to_write = self.staged, self._to_write
        self.staged, self._to_write = {}, {}
        writes = {name: _submit(self._write, *args) for name, args in to_write.items()}
        if staged or writes:
            _submit(self._commit, staged, writes)

    def _commit(self, staged: dict[str, Entry], writes: dict[str, Future[Entry | None]]) -> None:
        """Write the manifest with the staged entries (merged over what another process may have written
        meanwhile), then remove files no entry refers to any more."""
        for name, write in writes.items():
            entry = write.result()
            if entry is not None:
                staged[name] = entry
        if not staged:
            return
        try:
            entries = {**self._read_manifest(), **staged}
            manifest = {
                "version": SNAPSHOT_VERSION,
                "portfolio": self.source,
                "tables": {name: e.to_json() for name, e in sorted(entries.items())},
            }
            _write_private(self.folder / "manifest.json", json.dumps(manifest, indent=1).encode())
            self.entries = entries
            self._sweep({e.file for e in entries.values()})
        except Exception:  # the next load reads the CSV again; nothing is lost
            return

    def _read_manifest(self) -> dict[str, Entry]:
        try:
            data = json.loads((self.folder / "manifest.json").read_bytes())
            if data.get("version") != SNAPSHOT_VERSION:
                return {}
            return {name: Entry.from_json(e) for name, e in data["tables"].items()}
        except Exception:  # absent, truncated or foreign: an empty snapshot
            return {}

    def _sweep(self, keep: set[str]) -> None:
        """Old tables and temporary files left by crashed writers. Only old ones: a file just written by a
        concurrent process may not be in its manifest yet."""
        now = time.time_ns()
        for path in self.folder.iterdir():
            if path.name == "manifest.json" or path.name in keep:
                continue
            with suppress(OSError):
                if now - path.stat().st_mtime_ns > STALE_NS:
                    path.unlink()


def _stat_or_none(path: Path) -> Stat | None:
    try:
        return Stat.of(path)
    except OSError:
        return None


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically: a private (0600) temporary file in the same folder, then moved."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{time.monotonic_ns()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, workspace.FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            temporary.unlink()
        raise
