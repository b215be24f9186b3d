"""Alert runs over many accounts: a portfolio's first keyed run adopts the unkeyed state of exactly its own
accounts (looked up, not updated account by account), on SQLite and Postgres; a run leaves the garbage
collector as it found it, and a failed run changes nothing."""

from __future__ import annotations

import gc
from datetime import date
from pathlib import Path

import pytest
from builder import AS_OF, account, day, write_portfolio
from pg import backend, postgres_server, postgres_url  # noqa: F401  (fixtures)

from tools.alerts import AlertStore, portfolio_key
from tools.models import QueueEntry, Signal
from tools.portfolio import load_portfolio

pytestmark = pytest.mark.usefixtures("backend")  # every test: on SQLite, then on Postgres


def entry(account_id: str, *signals: tuple[str, int]) -> QueueEntry:
    return QueueEntry(
        account_id=account_id,
        account_name=account_id,
        risk_score=3,
        risk_level="medium",
        arr=1,
        days_to_renewal=100,
        health_score=None,
        not_evaluated=[],
        cluster_amplification=False,
        temporal_adjustment=0,
        handoff_urgency="next_business_day",
        active_signals=[Signal(signal=s, severity=v, evidence=[], first_detected=day(0)) for s, v in signals],
    )


def rows(store: AlertStore) -> list[tuple[object, ...]]:
    return [(r["portfolio"], r["channel"], r["account_id"], r["signal"], r["active"]) for r in store.rows()]


def test_the_first_keyed_run_adopts_the_unkeyed_state_of_its_own_accounts(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    unkeyed = [
        entry("A-1", ("usage_sudden_drop", 4)),
        entry("A-7", ("payment_overdue", 3)),
        entry("Z", ("p1_escalation", 5)),
    ]
    store.record("queue", unkeyed, AS_OF)  # no portfolio named: the unkeyed state
    store.record("digest:dana", [entry("A-2", ("payment_overdue", 3))], AS_OF)  # another channel: not adopted
    root = write_portfolio(tmp_path / "p", accounts=[account(f"A-{i}") for i in range(1, 400)])
    portfolio = load_portfolio(root)
    key = portfolio_key(root)

    run = store.record("queue", [entry("A-1", ("usage_sudden_drop", 4))], date(2026, 11, 21), portfolio=portfolio)
    assert [a.kind for a in run.alerts] == ["suppressed"]  # alerted the day before, under the unkeyed state
    assert run.latest_run == AS_OF and run.resolved == [("A-7", "payment_overdue")]
    assert rows(store) == [
        ("", "digest:dana", "A-2", "payment_overdue", 1),
        ("", "queue", "Z", "p1_escalation", 1),  # not this portfolio's account: left unkeyed
        (key, "queue", "A-1", "usage_sudden_drop", 1),
        (key, "queue", "A-7", "payment_overdue", 0),
    ]
    again = store.record("queue", [entry("A-3", ("payment_overdue", 3))], date(2026, 11, 22), portfolio=portfolio)
    assert [a.kind for a in again.alerts] == ["new"] and again.resolved == [("A-1", "usage_sudden_drop")]


def test_a_run_leaves_the_collector_as_it_was_and_a_failed_run_changes_nothing(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    many = [entry(f"A-{i}", ("usage_sudden_drop", 4), ("payment_overdue", 3)) for i in range(3000)]
    assert gc.isenabled()
    run = store.record("queue", many, AS_OF, portfolio="p")
    assert gc.isenabled() and len(run.alerts) == 6000 and len(store.rows()) == 6000
    gc.disable()
    try:
        store.record("queue", many[:10], AS_OF, portfolio="p")
        assert not gc.isenabled()
    finally:
        gc.enable()
    before = store.rows()

    broken = entry("B").model_copy(update={"active_signals": [None]})  # fails mid-run, after C was compared
    with pytest.raises(AttributeError):
        store.record("queue", [entry("C", ("p1_escalation", 5)), broken], date(2026, 11, 21), portfolio="p")
    assert gc.isenabled() and store.rows() == before
