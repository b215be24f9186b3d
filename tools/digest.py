"""The per-CSM digest: new, escalated and resolved alerts since the last digest, and the trend."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from tools.alerts import Alert, AlertStore
from tools.config import Config
from tools.errors import InputError, shown
from tools.models import QueueEntry
from tools.portfolio import load_portfolio
from tools.scoring import build_queue
from tools.signals import detect


@dataclass
class Digest:
    csm: str
    as_of: date
    new: list[Alert] = field(default_factory=list)
    escalated: list[Alert] = field(default_factory=list)
    reminders: list[Alert] = field(default_factory=list)
    resolved: list[tuple[str, str, str]] = field(default_factory=list)  # account_id, account name, signal
    suppressed: int = 0
    signals_this_week: int = 0
    signals_last_week: int = 0
    accounts: int = 0
    queue: list[QueueEntry] = field(default_factory=list)
    recorded: bool = True
    """False for a digest dated before this CSM's latest one: compared with its state, not stored."""

    @property
    def trend(self) -> str:
        delta = self.signals_this_week - self.signals_last_week
        word = "up" if delta > 0 else "down" if delta < 0 else "flat"
        return f"{word} ({self.signals_last_week} → {self.signals_this_week} active signals week on week)"


def _active_count(data_dir: Path, config: Config, as_of: date, account_ids: set[str]) -> int:
    portfolio = load_portfolio(data_dir, as_of)
    signals = detect(portfolio, config, as_of).signals
    return signals.filter(pl.col("account_id").is_in(list(account_ids))).height


def build_digest(data_dir: Path, config: Config, as_of: date, csm: str, store: AlertStore) -> Digest:
    """Run the queue for one CSM and compare with the state left by their previous digest of this
    portfolio (a digest dated before that one reads the state and leaves it as it was)."""
    portfolio = load_portfolio(data_dir, as_of)
    owners = portfolio.accounts.filter(pl.col("csm_owner").str.to_lowercase() == csm.lower())
    if owners.height == 0:
        known = sorted({o for o in portfolio.accounts["csm_owner"].to_list() if o})
        raise InputError(
            f"no accounts owned by '{shown(csm)}' in {data_dir / 'accounts.csv'} (owners: {', '.join(known)})"
        )
    ids = set(owners["account_id"].to_list())
    names = dict(zip(portfolio.accounts["account_id"], portfolio.accounts["name"], strict=True))
    queue = build_queue(portfolio, config, as_of, csm=csm)
    # Keyed by portfolio: another portfolio's digest for a CSM of the same name is another state.
    run = store.record(f"digest:{csm.lower()}", queue, as_of, config.suppression_days, scope=ids, portfolio=portfolio)
    return Digest(
        csm=str(owners["csm_owner"][0]),
        as_of=as_of,
        new=run.of_kind("new", "new_signal_on_account"),
        escalated=run.of_kind("escalated"),
        reminders=run.of_kind("reminder"),
        resolved=[(a, names.get(a, a), s) for a, s in run.resolved],
        suppressed=len(run.of_kind("suppressed")),
        signals_this_week=sum(len(e.active_signals) for e in queue),
        signals_last_week=_active_count(data_dir, config, as_of - timedelta(days=7), ids),
        accounts=len(ids),
        queue=queue,
        recorded=run.recorded,
    )
