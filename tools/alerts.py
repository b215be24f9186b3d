"""Alert state, suppression and the per-CSM digest (spec/signals.md, "Suppression" and "Digest").

State lives in SQLite in the workspace (`alerts.sqlite`), one row per (portfolio, channel, account,
signal), so a second run on the same day does not re-alert. The queue and the digest are separate
channels: the digest reports what is new *since the last digest*, whatever the queue showed in between.

An already-alerted signal is alerted again only when its severity rose, a new signal appeared on the
same account, or `suppression_days` passed without acknowledgement.

Nothing a run does loses state another run recorded:
- State is keyed by portfolio (`portfolio_key`: the data folder's absolute path), so a queue over
  another portfolio in the same workspace neither resolves nor re-alerts this one's alerts.
- A run dated before the latest recorded run of its portfolio and channel reads the state but does not
  change it (`AlertRun.recorded` is False): looking back never resolves, re-opens or un-acknowledges.
- Each run is one SQLite transaction taken before reading (`BEGIN IMMEDIATE`): concurrent runs are
  serialised and a killed run changes nothing.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tools.models import QueueEntry

if TYPE_CHECKING:
    from tools.portfolio import Portfolio

AlertKind = Literal["new", "escalated", "new_signal_on_account", "reminder", "suppressed"]

UNKEYED = ""
"""The portfolio key of state recorded before alerts were keyed by portfolio (and of callers naming none)."""

SCHEMA = """
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
);
"""
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
    """The persisted alert state of a workspace."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self._transaction() as db:
            columns = {row[1] for row in db.execute("PRAGMA table_info(alerts)")}
            if columns and "portfolio" not in columns:
                _migrate_unkeyed(db)
            _create_tables(db)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before the first read: runs are serialised, a killed run
        leaves the state as it was."""
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

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
        with self._transaction() as db:
            latest = db.execute(
                "SELECT MAX(as_of) FROM runs WHERE portfolio = ? AND channel = ?", (key, channel)
            ).fetchone()[0]
            if latest is None and key != UNKEYED:
                latest = _adopt_unkeyed(db, key, channel, account_ids)
            run.latest_run = date.fromisoformat(latest) if latest else None
            run.recorded = run.latest_run is None or as_of >= run.latest_run
            stored = {
                (r[0], r[1]): r
                for r in db.execute(
                    "SELECT account_id, signal, severity, last_alerted, acknowledged_on, active FROM alerts "
                    "WHERE portfolio = ? AND channel = ?",
                    (key, channel),
                )
            }
            seen: set[tuple[str, str]] = set()
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
                    if kind == "suppressed" or not run.recorded:
                        continue
                    db.execute(
                        "INSERT INTO alerts (portfolio, channel, account_id, signal, severity, first_alerted, "
                        "last_alerted, active) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
                        "ON CONFLICT (portfolio, channel, account_id, signal) DO UPDATE "
                        "SET severity = excluded.severity, last_alerted = excluded.last_alerted, active = 1, "
                        "resolved_on = NULL, acknowledged_on = CASE WHEN alerts.active = 0 THEN NULL "
                        "ELSE alerts.acknowledged_on END",
                        (key, channel, entry.account_id, sig.signal, sig.severity, today, today),
                    )
            for signal_key, row in stored.items():
                if row[5] and signal_key not in seen and (scope is None or signal_key[0] in scope):
                    run.resolved.append(signal_key)
                    if run.recorded:
                        db.execute(
                            "UPDATE alerts SET active = 0, resolved_on = ? WHERE portfolio = ? AND channel = ? "
                            "AND account_id = ? AND signal = ?",
                            (today, key, channel, signal_key[0], signal_key[1]),
                        )
            if run.recorded:
                db.execute(
                    "INSERT OR REPLACE INTO runs (portfolio, channel, as_of, active_signals) VALUES (?, ?, ?, ?)",
                    (key, channel, today, sum(len(e.active_signals) for e in entries)),
                )
        return run

    def acknowledge(
        self, account_id: str, signal: str | None, on: date, *, portfolio: Portfolio | str | None = None
    ) -> int:
        """Mark an account's active alerts (or one signal's) as acknowledged, in every channel; in every
        portfolio holding that account id unless `portfolio` names one. Returns how many rows changed."""
        with self._transaction() as db:
            query = "UPDATE alerts SET acknowledged_on = ? WHERE account_id = ? AND active = 1"
            args: tuple[str, ...] = (on.isoformat(), account_id)
            if signal:
                query += " AND signal = ?"
                args += (signal,)
            if portfolio is not None:
                query += " AND portfolio = ?"
                args += (_key_of(portfolio)[0],)
            return db.execute(query, args).rowcount


def _key_of(portfolio: Portfolio | str | None) -> tuple[str, frozenset[str] | None]:
    """The state key, and the portfolio's account ids when known (to adopt unkeyed state)."""
    if portfolio is None:
        return UNKEYED, None
    if isinstance(portfolio, str):
        return portfolio, None
    return portfolio_key(portfolio.root), frozenset(portfolio.account_ids)


def _create_tables(db: sqlite3.Connection) -> None:
    # Statement by statement: `executescript` would commit the caller's transaction first.
    for statement in SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)


def _migrate_unkeyed(db: sqlite3.Connection) -> None:
    """A store from before alerts were keyed by portfolio: keep every row, under the unkeyed portfolio."""
    db.execute("ALTER TABLE alerts RENAME TO alerts_unkeyed")
    db.execute("ALTER TABLE runs RENAME TO runs_unkeyed")
    _create_tables(db)
    db.execute(f"INSERT INTO alerts ({_ALERT_COLUMNS}) SELECT {_ALERT_COLUMNS} FROM alerts_unkeyed")
    db.execute(f"INSERT INTO runs ({_RUN_COLUMNS}) SELECT {_RUN_COLUMNS} FROM runs_unkeyed")
    db.execute("DROP TABLE alerts_unkeyed")
    db.execute("DROP TABLE runs_unkeyed")


def _adopt_unkeyed(db: sqlite3.Connection, key: str, channel: str, account_ids: frozenset[str] | None) -> str | None:
    """A portfolio's first keyed run takes over the unkeyed state of its accounts in this channel (all of
    it when its accounts are unknown), with the unkeyed run dates. Returns the latest adopted run date."""
    if account_ids is None:
        db.execute("UPDATE alerts SET portfolio = ? WHERE portfolio = ? AND channel = ?", (key, UNKEYED, channel))
    else:
        db.executemany(
            "UPDATE alerts SET portfolio = ? WHERE portfolio = ? AND channel = ? AND account_id = ?",
            [(key, UNKEYED, channel, a) for a in sorted(account_ids)],
        )
    db.execute(
        "INSERT OR IGNORE INTO runs (portfolio, channel, as_of, active_signals) "
        "SELECT ?, channel, as_of, active_signals FROM runs WHERE portfolio = ? AND channel = ?",
        (key, UNKEYED, channel),
    )
    latest: str | None = db.execute(
        "SELECT MAX(as_of) FROM runs WHERE portfolio = ? AND channel = ?", (key, channel)
    ).fetchone()[0]
    return latest
