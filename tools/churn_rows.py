"""Training and test rows for the churn model: one per (as-of date, account active then).

Each row holds the account as it was on that date (tools.churn_accounts), the signals active then, the
rule score (0 outside the queue), the components of the fixed health formula, and `next_churn`, the
first churn after the date (the label of any horizon is `next_churn <= as_of + horizon`). Features come
from rows dated on or before the as-of date only; outcomes are read for labels and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from tools.churn_accounts import HISTORY_TABLE, accounts_in_force

if TYPE_CHECKING:
    from tools.config import Config
    from tools.portfolio import Portfolio

HEALTH_WEIGHTS = {"usage": 0.4, "support": 0.3, "engagement": 0.3}
WINDOW_DAYS = 90


def in_force(portfolio: Portfolio, as_of: date, snapshot: date | None) -> Portfolio:
    """The portfolio with its accounts as they were at `as_of` (see tools.churn_accounts)."""
    from dataclasses import replace

    history = portfolio.table(HISTORY_TABLE)
    if history is None and (snapshot is None or as_of >= snapshot):
        return portfolio
    return replace(portfolio, accounts=accounts_in_force(portfolio.accounts, history, as_of, snapshot))


def next_churn(outcomes: pl.DataFrame | None, as_of: date) -> pl.DataFrame:
    """account_id -> the first churn date after `as_of`."""
    if outcomes is None or outcomes.height == 0:
        return pl.DataFrame(schema={"account_id": pl.Utf8, "next_churn": pl.Date})
    return (
        outcomes.filter((pl.col("outcome") == "churned") & (pl.col("date") > as_of))
        .group_by("account_id")
        .agg(pl.col("date").min().alias("next_churn"))
    )


def _pct(expr: pl.Expr) -> pl.Expr:
    """Percentile rank in [0, 1] among the rows (ties share their average rank); null stays null."""
    return ((expr.rank("average") - 1) / (expr.count() - 1).clip(lower_bound=1)).cast(pl.Float64)


def health_components(portfolio: Portfolio, ids: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """usage, support and engagement in [0, 1] per account (higher is healthier; 0.5 when unknown).

    From `health_scores` when it carries usage/support/engagement columns (latest row, 0-100). Otherwise:
    usage = percentile of the usage of the last 90 days (mean percentile over metrics); support = 1 -
    percentile of tickets opened in the last 90 days; engagement = percentile of meetings, emails and
    contact events of the last 90 days, else of the mean survey score, else unknown.
    """
    since = as_of - timedelta(days=WINDOW_DAYS)
    health = portfolio.table("health_scores")
    out = ids
    if health is not None and all(c in health.columns for c in HEALTH_WEIGHTS):
        latest = (
            health.sort("date")
            .group_by("account_id")
            .last()
            .select(
                "account_id",
                *[(pl.col(c).cast(pl.Float64, strict=False) / 100).alias(c) for c in HEALTH_WEIGHTS],
            )
        )
        return ids.join(latest, on="account_id", how="left").with_columns(
            [pl.col(c).fill_null(0.5).fill_nan(0.5) for c in HEALTH_WEIGHTS]
        )
    usage = portfolio.table("usage")
    if usage is not None and usage.height:
        per_metric = (
            usage.filter(pl.col("period_start") > since).group_by("account_id", "metric").agg(pl.col("value").sum())
        )
        per_metric = (
            ids.join(per_metric.select("metric").unique(), how="cross")
            .join(per_metric, on=["account_id", "metric"], how="left")
            .with_columns(pl.col("value").fill_null(0.0))
        )
        scored = per_metric.with_columns(_pct(pl.col("value")).over("metric").alias("p"))
        out = out.join(
            scored.group_by("account_id").agg(pl.col("p").mean().alias("usage")), on="account_id", how="left"
        )
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("usage"))
    tickets = portfolio.table("tickets")
    if tickets is not None:
        counts = tickets.filter(pl.col("opened_at") > since).group_by("account_id").agg(pl.len().alias("n"))
        out = (
            out.join(counts, on="account_id", how="left")
            .with_columns(pl.col("n").fill_null(0))
            .with_columns((1 - _pct(pl.col("n"))).alias("support"))
            .drop("n")
        )
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("support"))
    touches = []
    for name, col in (("meetings", "date"), ("emails", "sent_at"), ("contact_events", "date")):
        table = portfolio.table(name)
        if table is not None:
            touches.append(table.filter(pl.col(col) > since).select("account_id"))
    surveys = portfolio.table("surveys")
    if touches:
        n = pl.concat(touches).group_by("account_id").agg(pl.len().alias("n"))
        out = (
            out.join(n, on="account_id", how="left")
            .with_columns(pl.col("n").fill_null(0))
            .with_columns(_pct(pl.col("n")).alias("engagement"))
            .drop("n")
        )
    elif surveys is not None and surveys.height:
        mean = surveys.filter(pl.col("date") > since).group_by("account_id").agg(pl.col("score").mean().alias("s"))
        out = out.join(mean, on="account_id", how="left").with_columns(_pct(pl.col("s")).alias("engagement")).drop("s")
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("engagement"))
    return out.with_columns([pl.col(c).cast(pl.Float64).fill_null(0.5).fill_nan(0.5) for c in HEALTH_WEIGHTS])


def health_risk(frame: pl.DataFrame) -> pl.Expr:
    """1 - (0.4 usage + 0.3 support + 0.3 engagement): the fixed health formula as a risk score."""
    return 1.0 - sum((pl.col(c) * w for c, w in HEALTH_WEIGHTS.items()), start=pl.lit(0.0))


def active_ids(accounts: pl.DataFrame, outcomes: pl.DataFrame | None, as_of: date) -> pl.DataFrame:
    """Accounts that are customers at `as_of`: started on or before it and not already churned."""
    from tools.backtest import customers_at

    return customers_at(accounts, outcomes, as_of)


def rows_for_date(
    portfolio: Portfolio,
    config: Config,
    as_of: date,
    outcomes: pl.DataFrame | None,
    snapshot: date | None,
    *,
    only_active: bool = True,
) -> pl.DataFrame:
    """Rows of one as-of date: accounts as of then, signals, rule score, health components, next churn."""
    from tools.scoring import rank_frame
    from tools.signals import detect

    portfolio = in_force(portfolio, as_of, snapshot)
    accounts = portfolio.accounts
    ids = active_ids(accounts, outcomes, as_of) if only_active else accounts.select("account_id")
    detection = detect(portfolio, config, as_of)
    ranked = rank_frame(detection, accounts, config, with_probability=False)
    if ranked.height:
        signals = detection.signals.group_by("account_id").agg(pl.col("signal").sort().alias("signals"))
        queue = ranked.select("account_id", "risk_score").join(signals, on="account_id", how="left")
    else:
        queue = pl.DataFrame(schema={"account_id": pl.Utf8, "risk_score": pl.Float64, "signals": pl.List(pl.Utf8)})
    health = health_components(portfolio, ids, as_of)
    return (
        ids.join(accounts, on="account_id", how="left")
        .join(queue, on="account_id", how="left")
        .join(health, on="account_id", how="left")
        .join(next_churn(outcomes, as_of), on="account_id", how="left")
        .with_columns(
            pl.lit(as_of).alias("as_of"),
            pl.col("risk_score").cast(pl.Float64).fill_null(0.0),
            pl.col("signals").fill_null(pl.lit([], dtype=pl.List(pl.Utf8))),
        )
    )


def portfolio_rows(
    root: Path, config: Config, as_of_dates: Sequence[date], snapshot: date | None = None
) -> pl.DataFrame:
    """Rows for every date (see module docstring). `snapshot` is the day accounts.csv describes (default:
    `as_of` in riskbrief.toml, else the newest outcome): renewals at earlier dates are derived."""
    from tools.portfolio import load_portfolio

    full = load_portfolio(root, include_outcomes=True)
    outcomes = full.table("outcomes")
    if snapshot is None:
        snapshot = config.as_of
    if snapshot is None and outcomes is not None and outcomes.height:
        latest = outcomes["date"].max()
        snapshot = latest if isinstance(latest, date) else None
    frames = [rows_for_date(load_portfolio(root, as_of=day), config, day, outcomes, snapshot) for day in as_of_dates]
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def with_label(rows: pl.DataFrame, horizon_days: int) -> pl.DataFrame:
    """`label`: churned in (as_of, as_of + horizon]."""
    return rows.with_columns(
        (
            pl.col("next_churn").is_not_null()
            & (pl.col("next_churn") <= pl.col("as_of") + pl.duration(days=horizon_days))
        ).alias("label")
    )
