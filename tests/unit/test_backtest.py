"""Backtest metrics against hand-computed values and brute force."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.backtest import (
    active_population,
    auc,
    average_ranks,
    churn_labels,
    median_or_none,
    precision_at_k,
    recall,
    revenue_weighted_recall,
)


def brute_force_auc(scores: list[float], labels: list[bool]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_average_ranks_share_ties() -> None:
    assert average_ranks([10, 20, 20, 5]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_auc_hand_computed() -> None:
    # positives 0.35 and 0.8 against negatives 0.1 and 0.4: 3 of 4 pairs ordered correctly.
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)


def test_auc_ties_count_half() -> None:
    # (1 vs 1) tie = .5, (1 vs 0) = 1, (0 vs 1) = 0, (0 vs 0) tie = .5 -> 2 / 4.
    assert auc([1, 1, 0, 0], [True, False, True, False]) == pytest.approx(0.5)
    assert auc([0, 0, 0], [True, False, False]) == pytest.approx(0.5)


def test_auc_perfect_and_inverted() -> None:
    assert auc([3, 2, 1], [True, False, False]) == 1.0
    assert auc([1, 2, 3], [True, False, False]) == 0.0


def test_auc_undefined_with_one_class() -> None:
    assert auc([1, 2], [True, True]) is None
    assert auc([1, 2], [False, False]) is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(min_value=0, max_value=5), st.booleans()), min_size=2, max_size=40).filter(
        lambda rows: 0 < sum(y for _, y in rows) < len(rows)
    )
)
def test_auc_matches_pairwise_count(rows: list[tuple[int, bool]]) -> None:
    scores = [float(s) for s, _ in rows]
    labels = [y for _, y in rows]
    assert auc(scores, labels) == pytest.approx(brute_force_auc(scores, labels))
    # invariant under a strictly increasing transform
    assert auc([s**3 + 1 for s in scores], labels) == pytest.approx(auc(scores, labels))


def test_precision_at_k_without_ties() -> None:
    scores = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    labels = [True, False, True, False, False, False, False, False, False, True]
    assert precision_at_k(scores, labels, 0.1) == 1.0  # k = 1
    assert precision_at_k(scores, labels, 0.2) == 0.5  # k = 2
    assert precision_at_k(scores, labels, 0.3) == pytest.approx(2 / 3)


def test_precision_at_k_ties_enter_in_proportion() -> None:
    # k = 2: the 3 sits above; one slot is shared by three 2s, one of which churned.
    scores = [3, 2, 2, 2, 0, 0, 0, 0, 0, 0]
    labels = [True, True, False, False, False, False, False, False, False, False]
    assert precision_at_k(scores, labels, 0.2) == pytest.approx((1 + 1 / 3) / 2)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans()), min_size=1, max_size=30), st.randoms())
def test_precision_at_k_ignores_input_order(rows: list[tuple[int, bool]], rnd: object) -> None:
    shuffled = list(rows)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    a = precision_at_k([s for s, _ in rows], [y for _, y in rows], 0.2)
    b = precision_at_k([s for s, _ in shuffled], [y for _, y in shuffled], 0.2)
    assert a == pytest.approx(b)


def test_precision_at_k_rejects_bad_fraction() -> None:
    with pytest.raises(ValueError):
        precision_at_k([1.0], [True], 0)


def test_recall_and_revenue_weighted_recall() -> None:
    flags = [True, False, True, False]
    labels = [True, True, False, False]
    arr = [100_000, 10_000, 50_000, 1]
    assert recall(flags, labels) == 0.5
    # flagged churned ARR 100K of 110K churned
    assert revenue_weighted_recall(flags, labels, arr) == pytest.approx(100 / 110)
    assert recall([True], [False]) is None
    assert revenue_weighted_recall([True], [False], [5.0]) is None


def test_median_or_none() -> None:
    assert median_or_none([30, 10, 20]) == 20
    assert median_or_none([10, 20]) == 15
    assert median_or_none([]) is None


def _portfolio(accounts: pl.DataFrame) -> object:
    class _P:
        def __init__(self, frame: pl.DataFrame) -> None:
            self.accounts = frame

    return _P(accounts)


def test_population_and_labels_respect_dates() -> None:
    accounts = pl.DataFrame(
        {
            "account_id": ["A", "B", "C", "D"],
            "arr": [1.0, 2.0, 3.0, 4.0],
            "contract_start": [date(2024, 1, 1), date(2024, 1, 1), date(2024, 9, 1), None],
        }
    )
    outcomes = pl.DataFrame(
        {
            "account_id": ["A", "B", "D", "D"],
            "date": [date(2024, 5, 1), date(2024, 7, 15), date(2024, 8, 1), date(2024, 12, 1)],
            "outcome": ["churned", "churned", "renewed", "churned"],
        }
    )
    as_of = date(2024, 6, 30)
    population = active_population(_portfolio(accounts), outcomes, as_of)  # type: ignore[arg-type]
    # A churned before as-of (gone); C has not started yet.
    assert sorted(population["account_id"].to_list()) == ["B", "D"]
    # B churns inside the 90-day window; D's churn is after it; the renewal is not churn.
    assert churn_labels(outcomes, as_of, 90) == {"B": date(2024, 7, 15)}
    # the window is (as_of, as_of + horizon]: a churn on as-of itself is not a future label
    assert churn_labels(outcomes, date(2024, 7, 15), 30) == {}


def test_numpy_inputs_are_accepted() -> None:
    assert auc(np.array([0.2, 0.9]), np.array([0, 1])) == 1.0


def test_run_backtest_end_to_end(tmp_path: Path) -> None:
    """A: open P1 since D-40, churns D+20 (flagged; lead time from the first flagged scan).
    B: quiet, stays. C: quiet, churns D+50 (missed). D: churned before D. E: starts after D."""
    from tools.backtest import run_backtest

    (tmp_path / "accounts.csv").write_text(
        "account_id,name,arr,renewal_date,contract_start\n"
        "A,Alpha,100000,2027-01-01,2023-01-01\n"
        "B,Beta,50000,2027-01-01,2023-01-01\n"
        "C,Gamma,25000,2027-01-01,2023-01-01\n"
        "D,Delta,10000,2027-01-01,2023-01-01\n"
        "E,Epsilon,10000,2027-01-01,2026-06-01\n",
        encoding="utf-8",
    )
    (tmp_path / "tickets.csv").write_text(
        "ticket_id,account_id,opened_at,closed_at,priority,status,escalated,subject\n"
        "T-1,A,2026-02-19,,P1,open,false,Orders not syncing\n",
        encoding="utf-8",
    )
    (tmp_path / "outcomes.csv").write_text(
        "account_id,date,outcome\nA,2026-04-20,churned\nC,2026-05-20,churned\nD,2026-01-15,churned\n"
        "B,2026-06-01,renewed\n",
        encoding="utf-8",
    )
    report = run_backtest(tmp_path, date(2026, 3, 31), 90)
    assert report.n_accounts == 3 and report.n_churned == 2
    # A ranks first, C ties with B at 0: (1 + 0.5) / 2
    assert report.auc == pytest.approx(0.75)
    assert report.n_flagged == 1 and report.recall == 0.5
    assert report.revenue_weighted_recall == pytest.approx(100 / 125)
    # scans every 14 days: flagged on D-28 (ticket opened D-40), not on D-42 -> 28 + 20 days
    assert report.median_lead_time_days == 48
    assert report.share_flagged_90d_ahead == 0.0
    assert report.missed == ["C"]


def test_run_backtest_needs_outcomes(tmp_path: Path) -> None:
    from tools.backtest import run_backtest
    from tools.errors import InputError

    (tmp_path / "accounts.csv").write_text(
        "account_id,name,arr,renewal_date\nA,Alpha,1,2027-01-01\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match=r"outcomes\.csv"):
        run_backtest(tmp_path, date(2026, 3, 31), 90)


def test_backtest_says_so_when_no_signal_fired(tmp_path: Path) -> None:
    from builder import AS_OF, account, day, write_portfolio

    from tools.backtest import run_backtest

    root = write_portfolio(
        tmp_path / "p",
        accounts=[account("A-1"), account("A-2")],
        outcomes=[{"account_id": "A-1", "date": day(20), "outcome": "churned"}],
    )
    report = run_backtest(root, AS_OF, 30)
    assert report.n_churned == 1 and report.auc == 0.5
    assert any("no account had an active signal" in n for n in report.notes)
