"""Alert state, suppression and the per-CSM digest (spec/signals.md, "Suppression" and "Digest").

State lives in SQLite in the workspace (`alerts.sqlite`), or in the team's Postgres when a database_url
is configured (`tools.db`), one row per (portfolio, channel, account, signal), so a second run on the same
day does not re-alert. The queue and the digest are separate
channels: the digest reports what is new *since the last digest*, whatever the queue showed in between.

An already-alerted signal is alerted again only when its severity rose, a new signal appeared on the
same account, or `suppression_days` passed without acknowledgement.

Nothing a run does loses state another run recorded:
- State is keyed by portfolio (`portfolio_key`: the data folder's absolute path), so a queue over
  another portfolio in the same workspace neither resolves nor re-alerts this one's alerts.
- A run dated before the latest recorded run of its portfolio and channel reads the state but does not
  change it (`AlertRun.recorded` is False): looking back never resolves, re-opens or un-acknowledges.
- Each run is one transaction holding the store's write lock before reading (SQLite `BEGIN IMMEDIATE`; a
  Postgres advisory lock): concurrent runs, from any process or machine, are serialised and a killed run
  changes nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tools import db, workspace
from tools.memory import gc_paused
from tools.models import QueueEntry

if TYPE_CHECKING:
    from tools.portfolio import Portfolio

AlertKind = Literal["new", "escalated", "new_signal_on_account", "reminder", "suppressed"]

UNKEYED = ""
"""The portfolio key of state recorded before alerts were keyed by portfolio (and of callers naming none)."""

_TABLES = """
CREATE TABLE IF NOT EXISTS alerts (
    portfolio TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    account_id TEXT NOT NULL,
    signal TEXT NOT NULL,
    severity INTEGER NOT NULL,
    first_alerted TEXT NOT NULL,
    last_alerted TEXT NOT NULL,
    acknowledged_on TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    resolved_on TEXT,
    PRIMARY KEY (portfolio, channel, account_id, signal)
);
CREATE TABLE IF NOT EXISTS runs (
    portfolio TEXT NOT NULL DEFAULT '',
    channel TEXT NOT NULL,
    as_of TEXT NOT NULL,
    active_signals INTEGER NOT NULL,
    PRIMARY KEY (portfolio, channel, as_of)
)
"""
ALERTS_FILE = "alerts.sqlite"
LOCK = "riskbrief:alerts"
"""What every alert transaction holds on Postgres (SQLite's BEGIN IMMEDIATE does the same): runs are serialised."""
_ALERT_COLUMNS = (
    "channel, account_id, signal, severity, first_alerted, last_alerted, acknowledged_on, active, resolved_on"
)
_RUN_COLUMNS = "channel, as_of, active_signals"


def portfolio_key(data_dir: Path | str) -> str:
    """The key alert state is stored under: the data folder's absolute, normalised path.

    A path, not a digest of the accounts: a portfolio gains and loses accounts every month and its state
    must follow it, which a hash of account ids would not. Symlinks are not followed, so a stable link
    (`current -> exports/2026-11-20`) keeps one state across dated exports; moving the folder itself
    starts a new state.
    """
    return os.path.abspath(os.fspath(data_dir))


@dataclass
class Alert:
    account_id: str
    account_name: str
    csm_owner: str | None
    signal: str
    severity: int
    kind: AlertKind
    previous_severity: int | None = None


@dataclass
class AlertRun:
    """What one run alerted, suppressed and found resolved."""

    as_of: date
    alerts: list[Alert] = field(default_factory=list)
    resolved: list[tuple[str, str]] = field(default_factory=list)  # (account_id, signal)
    recorded: bool = True
    """False when the run was dated before the latest recorded run: compared with the state, not stored."""
    latest_run: date | None = None
    """The latest as-of date recorded for this portfolio and channel, before this run."""

    def of_kind(self, *kinds: AlertKind) -> list[Alert]:
        return [a for a in self.alerts if a.kind in kinds]

    def account_status(self) -> dict[str, str]:
        """Per account: the strongest alert kind of its signals (for the queue's alert column)."""
        order = ["escalated", "new", "new_signal_on_account", "reminder", "suppressed"]
        out: dict[str, str] = {}
        for a in self.alerts:
            if a.account_id not in out or order.index(a.kind) < order.index(out[a.account_id]):
                out[a.account_id] = a.kind
        return out


class AlertStore:
    """The persisted alert state: in the team's Postgres when a database_url is configured, else in the
    SQLite file `path` (default: the workspace's `alerts.sqlite`)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = None if workspace.database_url() else (path or workspace.sqlite_path(ALERTS_FILE))
        with self._transaction():  # the schema: migrated (SQLite) or checked current (Postgres)
            pass

    @contextmanager
    def _transaction(self) -> Iterator[db.Connection]:
        """One write transaction, holding the write lock before the first read: runs are serialised, a
        killed run leaves the state as it was."""
        with db.transaction(SCHEMA, path=self.path) as conn:
            conn.serialize(LOCK)
            yield conn

    def rows(self) -> list[dict[str, object]]:
        """Every alert row, ordered by portfolio, channel, account and signal (for tests and inspection)."""
        with self._transaction() as conn:
            return [dict(r) for r in conn.execute("SELECT * FROM alerts ORDER BY 1, 2, 3, 4")]

    def record(
        self,
        channel: str,
        entries: Iterable[QueueEntry],
        as_of: date,
        suppression_days: int = 14,
        scope: set[str] | None = None,
        *,
        portfolio: Portfolio | str | None = None,
    ) -> AlertRun:
        """Compare this run's active signals with the stored state of its portfolio, update it, and say
        what to alert.

        `portfolio` (the loaded Portfolio, or a key from `portfolio_key`) keys the state; without it the
        run shares the unkeyed state. `scope` limits resolution to those accounts (e.g. one CSM's):
        signals of other accounts are neither alerted nor resolved by this run. A run dated before the
        latest recorded run of the portfolio and channel is compared with the state but stores nothing.
        """
        key, account_ids = _key_of(portfolio)
        run = AlertRun(as_of=as_of)
        entries = list(entries)
        today = as_of.isoformat()
        with self._transaction() as conn, gc_paused():
            latest = conn.scalar("SELECT MAX(as_of) FROM runs WHERE portfolio = ? AND channel = ?", (key, channel))
            if latest is None and key != UNKEYED:
                latest = _adopt_unkeyed(conn, key, channel, account_ids)
            run.latest_run = date.fromisoformat(latest) if latest else None
            run.recorded = run.latest_run is None or as_of >= run.latest_run
            stored = {
                (r[0], r[1]): r
                for r in conn.execute(
                    "SELECT account_id, signal, severity, last_alerted, acknowledged_on, active FROM alerts "
                    "WHERE portfolio = ? AND channel = ?",
                    (key, channel),
                )
            }
            seen: set[tuple[str, str]] = set()
            upserts: list[tuple[object, ...]] = []
            for entry in entries:
                keys = [(entry.account_id, s.signal) for s in entry.active_signals]
                fresh_on_account = any(k not in stored or not stored[k][5] for k in keys)
                for sig in entry.active_signals:
                    signal_key = (entry.account_id, sig.signal)
                    seen.add(signal_key)
                    row = stored.get(signal_key)
                    previous = int(row[2]) if row else None
                    if row is None or not row[5]:
                        kind: AlertKind = "new"
                    elif sig.severity > int(row[2]):
                        kind = "escalated"
                    elif fresh_on_account:
                        kind = "new_signal_on_account"
                    elif row[4] is None and as_of - date.fromisoformat(row[3]) >= timedelta(days=suppression_days):
                        kind = "reminder"
                    else:
                        kind = "suppressed"
                    run.alerts.append(
                        Alert(
                            entry.account_id,
                            entry.account_name,
                            entry.csm_owner,
                            sig.signal,
                            sig.severity,
                            kind,
                            previous,
                        )
                    )
                    if kind != "suppressed" and run.recorded:
                        upserts.append((key, channel, entry.account_id, sig.signal, sig.severity, today, today))
            conn.executemany(
                "INSERT INTO alerts (portfolio, channel, account_id, signal, severity, first_alerted, "
                "last_alerted, active) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
                "ON CONFLICT (portfolio, channel, account_id, signal) DO UPDATE "
                "SET severity = excluded.severity, last_alerted = excluded.last_alerted, active = 1, "
                "resolved_on = NULL, acknowledged_on = CASE WHEN alerts.active = 0 THEN NULL "
                "ELSE alerts.acknowledged_on END",
                upserts,
            )
            resolved: list[tuple[object, ...]] = []
            for signal_key, row in stored.items():
                if row[5] and signal_key not in seen and (scope is None or signal_key[0] in scope):
                    run.resolved.append(signal_key)
                    if run.recorded:
                        resolved.append((today, key, channel, signal_key[0], signal_key[1]))
            conn.executemany(
                "UPDATE alerts SET active = 0, resolved_on = ? WHERE portfolio = ? AND channel = ? "
                "AND account_id = ? AND signal = ?",
                resolved,
            )
            if run.recorded:
                conn.execute(
                    "INSERT INTO runs (portfolio, channel, as_of, active_signals) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (portfolio, channel, as_of) DO UPDATE SET active_signals = excluded.active_signals",
                    (key, channel, today, sum(len(e.active_signals) for e in entries)),
                )
        return run

    def acknowledge(
        self, account_id: str, signal: str | None, on: date, *, portfolio: Portfolio | str | None = None
    ) -> int:
        """Mark an account's active alerts (or one signal's) as acknowledged, in every channel; in every
        portfolio holding that account id unless `portfolio` names one. Returns how many rows changed."""
        with self._transaction() as conn:
            query = "UPDATE alerts SET acknowledged_on = ? WHERE account_id = ? AND active = 1"
            args: tuple[str, ...] = (on.isoformat(), account_id)
            if signal:
                query += " AND signal = ?"
                args += (signal,)
            if portfolio is not None:
                query += " AND portfolio = ?"
                args += (_key_of(portfolio)[0],)
            return conn.execute(query, args).rowcount


def _key_of(portfolio: Portfolio | str | None) -> tuple[str, frozenset[str] | None]:
    """The state key, and the portfolio's account ids when known (to adopt unkeyed state)."""
    if portfolio is None:
        return UNKEYED, None
    if isinstance(portfolio, str):
        return portfolio, None
    return portfolio_key(portfolio.root), frozenset(portfolio.account_ids)


def _create_tables(conn: db.Connection) -> None:
    for statement in _TABLES.split(";"):
        if statement.strip():
            conn.execute(statement)


def _migrate_unkeyed(conn: db.Connection) -> None:
    """A SQLite store from before alerts were keyed by portfolio (and before versioned migrations): keep
    every row, under the unkeyed portfolio."""
    columns = conn.columns("alerts")
    if not columns or "portfolio" in columns:
        return
    conn.execute("ALTER TABLE alerts RENAME TO alerts_unkeyed")
    conn.execute("ALTER TABLE runs RENAME TO runs_unkeyed")
    _create_tables(conn)
    conn.execute(f"INSERT INTO alerts ({_ALERT_COLUMNS}) SELECT {_ALERT_COLUMNS} FROM alerts_unkeyed")
    conn.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) SELECT {_RUN_COLUMNS} FROM runs_unkeyed")
    conn.execute("DROP TABLE alerts_unkeyed")
    conn.execute("DROP TABLE runs_unkeyed")


def _adopt_unkeyed(conn: db.Connection, key: str, channel: str, account_ids: frozenset[str] | None) -> str | None:
    """A portfolio's first keyed run takes over the unkeyed state of its accounts in this channel (all of
    it when its accounts are unknown), with the unkeyed run dates. Returns the latest adopted run date."""
    if account_ids is None:
        conn.execute("UPDATE alerts SET portfolio = ? WHERE portfolio = ? AND channel = ?", (key, UNKEYED, channel))
    else:
        # Only the accounts holding unkeyed state (usually none): one statement per portfolio account would
        # be 100,000 of them on a large portfolio.
        unkeyed = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT account_id FROM alerts WHERE portfolio = ? AND channel = ?", (UNKEYED, channel)
            )
        }
        conn.executemany(
            "UPDATE alerts SET portfolio = ? WHERE portfolio = ? AND channel = ? AND account_id = ?",
            [(key, UNKEYED, channel, a) for a in sorted(unkeyed & account_ids)],
        )
    conn.execute(
        "INSERT INTO runs (portfolio, channel, as_of, active_signals) "
        "SELECT ?, channel, as_of, active_signals FROM runs WHERE portfolio = ? AND channel = ? "
        "ON CONFLICT DO NOTHING",
        (key, UNKEYED, channel),
    )
    latest: str | None = conn.scalar("SELECT MAX(as_of) FROM runs WHERE portfolio = ? AND channel = ?", (key, channel))
    return latest


SCHEMA = db.Schema(
    name="alerts",
    sqlite_file=ALERTS_FILE,
    migrations=(db.Migration(1, "alert and digest state, keyed by portfolio", (_create_tables,)),),
    sqlite_prepare=_migrate_unkeyed,
)
"""The alert store's tables and their versions (`riskbrief db upgrade`; a SQLite file is migrated on first use)."""
