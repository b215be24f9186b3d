"""Backtest: rank accounts as of a date D, then compare with what happened in (D, D + horizon].

The metric functions are pure (numpy in, floats out) so they can be checked by hand. `run_backtest`
builds the queue as of D from rows dated on or before D only; outcomes.csv is read for labels and never
reaches detection. Accounts not in the queue score 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, Field

from tools.errors import InputError

if TYPE_CHECKING:
    from tools.config import Config
    from tools.models import QueueEntry
    from tools.portfolio import Portfolio

FlagLevel = Literal["any", "medium", "high", "critical"]
LEVEL_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
FLAG_MIN_RANK = {"any": 0, "medium": 1, "high": 2, "critical": 3}

# ----------------------------------------------------------------------------------------------- metrics


def average_ranks(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing the average of the ranks they span."""
    x = np.asarray(values, dtype=float)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    ranks = np.empty(len(x), dtype=float)
    start = 0
    while start < len(x):
        end = start
        while end + 1 < len(x) and sorted_x[end + 1] == sorted_x[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2.0 + 1.0
        start = end + 1
    return ranks


def auc(scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float | None:
    """Area under the ROC curve via the Mann-Whitney rank statistic; a tie counts one half.

    None when only one class is present (the AUC is undefined).
    """
    y = np.asarray(labels, dtype=bool)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return None
    ranks = average_ranks(scores)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def precision_at_k(
    scores: Sequence[float] | np.ndarray, labels: Sequence[bool] | np.ndarray, fraction: float
) -> float | None:
    """Share of churners among the top `fraction` of accounts (k = ceil(fraction * n), at least 1).

    Accounts tied at the cut-off enter in proportion, i.e. the expected value under a random tie-break,
    so the result does not depend on input order (many accounts tie at score 0).
    """
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    s = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    if len(s) == 0:
        return None
    k = max(1, math.ceil(fraction * len(s)))
    threshold = np.sort(s)[::-1][k - 1]
    above = s > threshold
    tied = s == threshold
    n_above = int(above.sum())
    hits = float(y[above].sum()) + (k - n_above) * float(y[tied].sum()) / int(tied.sum())
    return hits / k


def recall(flags: Sequence[bool] | np.ndarray, labels: Sequence[bool] | np.ndarray) -> float | None:
    """Share of churned accounts that were flagged; None without churners."""
    f = np.asarray(flags, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    if not y.any():
        return None
    return float((f & y).sum() / y.sum())


def revenue_weighted_recall(
    flags: Sequence[bool] | np.ndarray, labels: Sequence[bool] | np.ndarray, arr: Sequence[float] | np.ndarray
) -> float | None:
    """Share of churned ARR that was flagged; None when churned ARR is 0."""
    f = np.asarray(flags, dtype=bool)
    y = np.asarray(labels, dtype=bool)
    w = np.asarray(arr, dtype=float)
    total = float(w[y].sum())
    if total <= 0:
        return None
    return float(w[f & y].sum() / total)


def median_or_none(values: Sequence[float]) -> float | None:
    """Median, or None for an empty list."""
    return float(np.median(np.asarray(values, dtype=float))) if len(values) else None


# ---------------------------------------------------------------------------------------------- backtest


class BacktestReport(BaseModel):
    """What a queue as of `as_of` predicted about churn in (as_of, as_of + horizon_days]."""

    as_of: date
    horizon_days: int
    score: str = Field(description="what ranked the accounts: risk_score or churn_probability")
    n_accounts: int = Field(description="accounts active at as-of (started, not already churned)")
    n_churned: int
    base_rate: float | None
    auc: float | None
    precision_at_10pct: float | None
    precision_at_20pct: float | None
    flag_level: str = Field(description="lowest risk level that counts as flagged")
    n_flagged: int
    recall: float | None = Field(description="share of churned accounts flagged at as-of")
    revenue_weighted_recall: float | None
    median_lead_time_days: float | None = Field(description="days from the first flag to churn, flagged churners")
    share_flagged_90d_ahead: float | None = Field(description="share of churned accounts flagged 90+ days ahead")
    scan_dates: list[date] = Field(default_factory=list, description="as-of dates scanned for lead time")
    missed: list[str] = Field(default_factory=list, description="churned accounts not flagged (first 20)")
    notes: list[str] = Field(default_factory=list, description="caveats, e.g. an in-sample calibration")


def is_flagged(entry: QueueEntry, flag_level: FlagLevel) -> bool:
    """True when the queue entry's risk level is at least `flag_level`."""
    return LEVEL_RANK[entry.risk_level] >= FLAG_MIN_RANK[flag_level]


def customers_at(
    accounts: pl.DataFrame, outcomes: pl.DataFrame | None, as_of: date, columns: tuple[str, ...] = ("account_id",)
) -> pl.DataFrame:
    """Accounts that are customers at `as_of` (their `columns`): started on or before it (or with no
    contract_start) and not already gone: an account whose latest outcome on or before as-of is `churned`."""
    started = (
        accounts.filter(pl.col("contract_start").is_null() | (pl.col("contract_start") <= as_of))
        if "contract_start" in accounts.columns
        else accounts
    ).select(*columns)
    if outcomes is None or outcomes.height == 0:
        return started
    gone = (
        outcomes.filter(pl.col("date") <= as_of)
        .sort("date")
        .group_by("account_id")
        .agg(pl.col("outcome").last())
        .filter(pl.col("outcome") == "churned")
    )
    return started.join(gone.select("account_id"), on="account_id", how="anti")


def active_population(portfolio: Portfolio, outcomes: pl.DataFrame | None, as_of: date) -> pl.DataFrame:
    """The customers at `as_of` with their account_id and arr (`customers_at`)."""
    return customers_at(portfolio.accounts, outcomes, as_of, ("account_id", "arr"))


def churn_labels(outcomes: pl.DataFrame | None, as_of: date, horizon_days: int) -> dict[str, date]:
    """account_id -> first churn date in (as_of, as_of + horizon]."""
    if outcomes is None:
        return {}
    end = as_of + timedelta(days=horizon_days)
    window = (
        outcomes.filter((pl.col("outcome") == "churned") & (pl.col("date") > as_of) & (pl.col("date") <= end))
        .group_by("account_id")
        .agg(pl.col("date").min())
    )
    return dict(zip(window["account_id"].to_list(), window["date"].to_list(), strict=True))


def _in_sample_note(config: Config, as_of: date, horizon_days: int) -> list[str]:
    """A caveat when the calibrated model was fitted on labels from this backtest's window."""
    cal = config.calibration
    fitted = str((cal.model_extra or {}).get("fitted_as_of", "")) if cal is not None else ""
    if cal is None:
        return ["no [calibration] in the configuration: churn_probability is empty"]
    if ".." not in fitted:
        return []
    first, last = (date.fromisoformat(x) for x in fitted.split("..", 1))
    fitted_horizon = int((cal.model_extra or {}).get("horizon_days", horizon_days))
    if as_of + timedelta(days=horizon_days) > first and as_of < last + timedelta(days=fitted_horizon):
        return [
            f"in-sample: the calibration was fitted on as-of dates {fitted} (labels up to {fitted_horizon} "
            "days later), which overlap this backtest; use `riskbrief calibrate` held-out figures instead"
        ]
    return []


def _quiet_probabilities(portfolio: Portfolio, config: Config, as_of: date) -> dict[str, float]:
    """The calibrated churn probability of accounts without an active signal (renewal proximity only)."""
    from tools.calibration import churn_probability

    cal = config.calibration
    if cal is None:
        return {}
    days = portfolio.accounts.select("account_id", (pl.col("renewal_date") - pl.lit(as_of)).dt.total_days().alias("d"))
    return {
        a: churn_probability([], config.proximity_adjustment(int(d)), cal.weights, cal.intercept)
        for a, d in days.iter_rows()
    }


def queue_at(root: Path, config: Config, as_of: date) -> list[QueueEntry]:
    """The ranked queue as of `as_of`, built from rows dated on or before it (no alert state touched)."""
    from tools.portfolio import load_portfolio
    from tools.scoring import build_queue

    return build_queue(load_portfolio(root, as_of=as_of), config, as_of)


def run_backtest(
    portfolio_dir: Path,
    as_of: date,
    horizon_days: int,
    config: Config | None = None,
    *,
    flag_level: FlagLevel = "high",
    scan_step_days: int = 14,
    scan_back_days: int = 180,
    score: Literal["risk_score", "churn_probability"] = "risk_score",
) -> BacktestReport:
    """Rank as of `as_of`, label churn in (as_of, as_of + horizon], and measure the ranking.

    Lead time: the queue is also built every `scan_step_days` back to `scan_back_days` before as-of;
    a churner's first flag is the start of its unbroken flagged run ending at as-of.
    """
    from tools.config import load_config
    from tools.portfolio import load_portfolio

    if horizon_days <= 0:
        raise InputError(f"--horizon must be a positive number of days, got {horizon_days}")
    root = Path(portfolio_dir)
    config = config or load_config(root)
    full = load_portfolio(root, include_outcomes=True)
    outcomes = full.table("outcomes")
    if outcomes is None:
        raise InputError(f"{root}: outcomes.csv is missing; a backtest needs outcome history")
    population = active_population(full, outcomes, as_of)
    labels_by_id = churn_labels(outcomes, as_of, horizon_days)
    queue = {e.account_id: e for e in queue_at(root, config, as_of)}

    ids = population["account_id"].to_list()
    arr = np.asarray(population["arr"].to_list(), dtype=float)
    y = np.asarray([a in labels_by_id for a in ids], dtype=bool)

    quiet = _quiet_probabilities(full, config, as_of) if score == "churn_probability" else {}

    def value(account_id: str) -> float:
        entry = queue.get(account_id)
        if score == "churn_probability":
            if entry is not None and entry.churn_probability is not None:
                return float(entry.churn_probability)
            return quiet.get(account_id, 0.0)
        return 0.0 if entry is None else float(entry.risk_score)

    scores = np.asarray([value(a) for a in ids], dtype=float)
    flags = np.asarray([a in queue and is_flagged(queue[a], flag_level) for a in ids], dtype=bool)

    scan_dates = sorted({as_of - timedelta(days=d) for d in range(0, scan_back_days + 1, scan_step_days)})
    churners = {a for a, lab in zip(ids, y, strict=True) if lab}
    run_start = {a: as_of for a in churners if a in queue and is_flagged(queue[a], flag_level)}
    unbroken = set(run_start)
    for day in reversed(scan_dates[:-1]):
        if not unbroken:
            break
        earlier = {e.account_id: e for e in queue_at(root, config, day)}
        unbroken = {a for a in unbroken if a in earlier and is_flagged(earlier[a], flag_level)}
        for a in unbroken:
            run_start[a] = day
    leads = [(labels_by_id[a] - start).days for a, start in run_start.items()]
    n_churned = int(y.sum())
    notes = _in_sample_note(config, as_of, horizon_days) if score == "churn_probability" else []
    if not queue:
        notes.append(
            "no account had an active signal as of this date: every score is 0 and the AUC is 0.5 by construction "
            "(check `riskbrief queue` for the signals this data cannot evaluate)"
        )
    missed = sorted(a for a in churners if a not in run_start)[:20]
    return BacktestReport(
        as_of=as_of,
        horizon_days=horizon_days,
        score=score,
        n_accounts=len(ids),
        n_churned=n_churned,
        base_rate=n_churned / len(ids) if ids else None,
        auc=auc(scores, y),
        precision_at_10pct=precision_at_k(scores, y, 0.10) if ids else None,
        precision_at_20pct=precision_at_k(scores, y, 0.20) if ids else None,
        flag_level=flag_level,
        n_flagged=int(flags.sum()),
        recall=recall(flags, y),
        revenue_weighted_recall=revenue_weighted_recall(flags, y, arr),
        median_lead_time_days=median_or_none(leads),
        share_flagged_90d_ahead=(sum(1 for d in leads if d >= 90) / n_churned) if n_churned else None,
        scan_dates=scan_dates,
        missed=missed,
        notes=notes,
    )
