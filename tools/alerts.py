"""Alert state, suppression and the per-CSM digest (spec/signals.md, "Suppression" and "Digest").

State lives in SQLite in the workspace (`alerts.sqlite`), one row per (channel, account, signal), so a
second run on the same day does not re-alert. The queue and the digest are separate channels: the
digest reports what is new *since the last digest*, whatever the queue showed in between.

An already-alerted signal is alerted again only when its severity rose, a new signal appeared on the
same account, or `suppression_days` passed without acknowledgement.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

from tools.models import QueueEntry

AlertKind = Literal["new", "escalated", "new_signal_on_account", "reminder", "suppressed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS alerts (
    channel TEXT NOT NULL,
    account_id TEXT NOT NULL,
    signal TEXT NOT NULL,
    severity INTEGER NOT NULL,
    first_alerted TEXT NOT NULL,
    last_alerted TEXT NOT NULL,
    acknowledged_on TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    resolved_on TEXT,
    PRIMARY KEY (channel, account_id, signal)
);
CREATE TABLE IF NOT EXISTS runs (
    channel TEXT NOT NULL,
    as_of TEXT NOT NULL,
    active_signals INTEGER NOT NULL,
    PRIMARY KEY (channel, as_of)
);
"""


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
        with closing(self._connect()) as db:
            db.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def record(
        self,
        channel: str,
        entries: Iterable[QueueEntry],
        as_of: date,
        suppression_days: int = 14,
        scope: set[str] | None = None,
    ) -> AlertRun:
        """Compare this run's active signals with the stored state, update it, and say what to alert.

        `scope` limits resolution to those accounts (e.g. one CSM's): signals of other accounts are
        neither alerted nor resolved by this run.
        """
        run = AlertRun(as_of=as_of)
        entries = list(entries)
        today = as_of.isoformat()
        with closing(self._connect()) as db, db:
            stored = {
                (r[0], r[1]): r
                for r in db.execute(
                    "SELECT account_id, signal, severity, last_alerted, acknowledged_on, active FROM alerts "
                    "WHERE channel = ?",
                    (channel,),
                )
            }
            seen: set[tuple[str, str]] = set()
            for entry in entries:
                keys = [(entry.account_id, s.signal) for s in entry.active_signals]
                fresh_on_account = any(k not in stored or not stored[k][5] for k in keys)
                for sig in entry.active_signals:
                    key = (entry.account_id, sig.signal)
                    seen.add(key)
                    row = stored.get(key)
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
                    if kind == "suppressed":
                        continue
                    db.execute(
                        "INSERT INTO alerts (channel, account_id, signal, severity, first_alerted, last_alerted, "
                        "active) VALUES (?, ?, ?, ?, ?, ?, 1) ON CONFLICT (channel, account_id, signal) DO UPDATE "
                        "SET severity = excluded.severity, last_alerted = excluded.last_alerted, active = 1, "
                        "resolved_on = NULL, acknowledged_on = CASE WHEN alerts.active = 0 THEN NULL "
                        "ELSE alerts.acknowledged_on END",
                        (channel, entry.account_id, sig.signal, sig.severity, today, today),
                    )
            for key, row in stored.items():
                if row[5] and key not in seen and (scope is None or key[0] in scope):
                    run.resolved.append(key)
                    db.execute(
                        "UPDATE alerts SET active = 0, resolved_on = ? WHERE channel = ? AND account_id = ? "
                        "AND signal = ?",
                        (today, channel, key[0], key[1]),
                    )
            db.execute(
                "INSERT OR REPLACE INTO runs (channel, as_of, active_signals) VALUES (?, ?, ?)",
                (channel, today, sum(len(e.active_signals) for e in entries)),
            )
        return run

    def acknowledge(self, account_id: str, signal: str | None, on: date) -> int:
        """Mark an account's alerts (or one signal's) as acknowledged; returns how many rows changed."""
        with closing(self._connect()) as db, db:
            query = "UPDATE alerts SET acknowledged_on = ? WHERE account_id = ? AND active = 1"
            args: tuple[str, ...] = (on.isoformat(), account_id)
            if signal:
                query += " AND signal = ?"
                args += (signal,)
            return db.execute(query, args).rowcount
