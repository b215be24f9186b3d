"""Clustering, renewal proximity, levels and queue order against hand-computed examples; suppression."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from builder import AS_OF, account, day, write_portfolio

from tools.alerts import AlertStore
from tools.config import Config
from tools.models import QueueEntry, Signal
from tools.portfolio import load_portfolio
from tools.scoring import assess_account, build_queue, cluster_frame


def frame(*rows: tuple[str, str, str]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "account_id": [r[0] for r in rows],
            "signal": [r[1] for r in rows],
            "first_detected": [date.fromisoformat(r[2]) for r in rows],
        }
    )


def test_cluster_is_the_largest_group_within_fourteen_days() -> None:
    f = frame(
        ("A", "s1", "2026-11-01"),
        ("A", "s2", "2026-11-14"),
        ("A", "s3", "2026-11-15"),
        ("A", "s4", "2026-11-27"),
        ("B", "s1", "2026-10-01"),
        ("B", "s2", "2026-10-15"),
    )
    out = {r["account_id"]: r for r in cluster_frame(f, 14).iter_rows(named=True)}
    # A: s2, s3, s4 fall in 14 days (Nov 14–27); s1..s3 too (Nov 1–14). Largest = 3.
    assert out["A"]["cluster_size"] == 3
    # B: Oct 1 and Oct 15 are 14 days apart: not in one 14-day window.
    assert out["B"]["cluster_size"] == 1


def usage_drop(account_id: str) -> list[dict[str, object]]:
    return [
        {"account_id": account_id, "period_start": day(-7), "metric": "dau", "value": 100},
        {"account_id": account_id, "period_start": day(0), "metric": "dau", "value": 50},
    ]


def invoice(account_id: str, i: int) -> dict[str, object]:
    return {
        "invoice_id": f"I-{i}",
        "account_id": account_id,
        "issued_on": day(-60),
        "due_on": day(-40),
        "amount": 100,
    }


def overdue(account_id: str, i: int, days_late: int) -> dict[str, object]:
    return {
        "invoice_id": f"I-{i}",
        "account_id": account_id,
        "issued_on": day(-days_late - 30),
        "due_on": day(-days_late),
        "amount": 100,
    }


@pytest.fixture
def portfolio(tmp_path: Path) -> Path:
    accounts = [
        account("A-1", renewal_date=day(200), arr=10000),  # usage drop (4) alone: 4.0 high
        account("A-2", renewal_date=day(100), arr=10000),  # drop (4) + overdue (3) within 14 d: 4+1+0.5 = 5.5
        account("A-3", renewal_date=day(20), arr=10000),  # overdue (3) alone + 1.5 = 4.5 high
        account("A-4", renewal_date=day(20), arr=90000),  # same score as A-3, more ARR, same renewal → first
        account("A-5", renewal_date=day(60), arr=10000),  # drop + overdue + silence: 4+2 = 6 → capped at 5, +1 = 6
        account("A-6", renewal_date=day(400), arr=10000),  # nothing: not in the queue
    ]
    meetings = [{"meeting_id": "M-1", "account_id": "A-5", "date": day(-63), "status": "held"}] + [
        {"meeting_id": f"M-{i}", "account_id": a, "date": day(-3), "status": "held"}
        for i, a in enumerate(["A-1", "A-2", "A-3", "A-4", "A-6"], start=2)
    ]
    return write_portfolio(
        tmp_path / "p",
        accounts=accounts,
        usage=usage_drop("A-1") + usage_drop("A-2") + usage_drop("A-5"),
        invoices=[
            overdue("A-2", 1, 40),
            overdue("A-3", 2, 200),
            overdue("A-4", 3, 200),
            overdue("A-5", 4, 35),
        ],
        meetings=meetings,
    )


def test_queue_scores_levels_and_order(portfolio: Path) -> None:
    q = build_queue(load_portfolio(portfolio, AS_OF), Config(), AS_OF)
    got = [(e.account_id, e.risk_score, e.risk_level, e.temporal_adjustment, e.cluster_amplification) for e in q]
    assert got == [
        ("A-5", 6.0, "critical", 1.0, True),
        ("A-2", 5.5, "critical", 0.5, True),
        ("A-4", 4.5, "high", 1.5, False),
        ("A-3", 4.5, "high", 1.5, False),
        ("A-1", 4.0, "high", 0.0, False),
    ]


def test_cluster_needs_first_detection_within_the_window(portfolio: Path) -> None:
    q = {e.account_id: e for e in build_queue(load_portfolio(portfolio, AS_OF), Config(), AS_OF)}
    # overdue first detected on day -9 (due day -40, + 31), the drop on day 0: 9 days apart, one cluster
    # of 2 → highest severity 4 + 1 = 5, renewal in 100 days + 0.5 = 5.5.
    a2 = q["A-2"]
    dates = sorted(s.first_detected for s in a2.active_signals)
    assert dates == [day(-9), day(0)]
    assert a2.cluster_amplification and a2.base_score == 5.0 and a2.risk_score == 5.5


def test_assess_quiet_account_and_unknown(portfolio: Path) -> None:
    p = load_portfolio(portfolio, AS_OF)
    quiet = assess_account(p, Config(), AS_OF, "A-6")
    assert quiet.risk_level == "low" and quiet.active_signals == [] and quiet.risk_score == 0
    from tools.errors import InputError

    with pytest.raises(InputError, match="unknown account 'A-404'"):
        assess_account(p, Config(), AS_OF, "A-404")


def test_routing(portfolio: Path) -> None:
    q = {e.account_id: e for e in build_queue(load_portfolio(portfolio, AS_OF), Config(), AS_OF)}
    assert q["A-5"].handoff_urgency == "same_day" and "manager review" in q["A-5"].routed_to
    assert q["A-1"].handoff_urgency == "next_business_day"


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


def test_suppression_across_runs(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    first = store.record("queue", [entry("A", ("usage_sudden_drop", 4))], AS_OF)
    assert [a.kind for a in first.alerts] == ["new"]
    again = AlertStore(tmp_path / "alerts.sqlite").record("queue", [entry("A", ("usage_sudden_drop", 4))], AS_OF)
    assert [a.kind for a in again.alerts] == ["suppressed"]
    worse = store.record("queue", [entry("A", ("usage_sudden_drop", 5))], AS_OF)
    assert [a.kind for a in worse.alerts] == ["escalated"]
    more = store.record("queue", [entry("A", ("usage_sudden_drop", 5), ("payment_overdue", 3))], AS_OF)
    assert sorted(a.kind for a in more.alerts) == ["new", "new_signal_on_account"]
    later = date(2026, 12, 4)  # 14 days on, never acknowledged
    reminded = store.record("queue", [entry("A", ("usage_sudden_drop", 5), ("payment_overdue", 3))], later)
    assert {a.kind for a in reminded.alerts} == {"reminder"}
    store.acknowledge("A", None, later)
    quiet = store.record("queue", [entry("A", ("usage_sudden_drop", 5), ("payment_overdue", 3))], date(2026, 12, 30))
    assert {a.kind for a in quiet.alerts} == {"suppressed"}
    gone = store.record("queue", [entry("A", ("payment_overdue", 3))], date(2026, 12, 31))
    assert gone.resolved == [("A", "usage_sudden_drop")]
