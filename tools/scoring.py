"""Combining signals per account: clustering, renewal proximity, risk level, order, routing.

All of it is vectorised over the portfolio (`rank_frame`); `QueueEntry` records are built only for
the rows a caller asks for, so ranking 100k accounts stays fast.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import polars as pl
from pydantic import TypeAdapter

from tools.config import Config
from tools.models import QueueEntry, Signal
from tools.portfolio import Portfolio
from tools.registry import CLUSTER_ROUTE, DEFAULT_ROUTE, REGISTRY, ROUTES, URGENCY_RANK
from tools.signals import Detection, detect


def cluster_frame(signals: pl.DataFrame, window_days: int) -> pl.DataFrame:
    """Per account: the largest group of signals whose first-detected dates fall in one window.

    A window of N days holds dates at most N-1 days apart. Returns account_id, cluster_size,
    cluster_signals (sorted ids).
    """
    left = signals.select("account_id", pl.col("signal").alias("anchor"), pl.col("first_detected").alias("start"))
    right = signals.select("account_id", "signal", "first_detected")
    pairs = left.join(right, on="account_id").filter(
        (pl.col("first_detected") >= pl.col("start"))
        & ((pl.col("first_detected") - pl.col("start")).dt.total_days() < window_days)
    )
    groups = pairs.group_by("account_id", "anchor").agg(
        pl.len().alias("cluster_size"), pl.col("signal").sort().alias("cluster_signals")
    )
    return (
        groups.sort("account_id", "cluster_size", "anchor", descending=[False, True, False])
        .group_by("account_id", maintain_order=True)
        .first()
        .select("account_id", "cluster_size", "cluster_signals")
    )


def _urgency_exprs(signals: pl.DataFrame) -> pl.DataFrame:
    route_rank = {sid: URGENCY_RANK[ROUTES.get(sid, DEFAULT_ROUTE)[0]] for sid in REGISTRY}
    return (
        signals.with_columns(pl.col("signal").replace_strict(route_rank, return_dtype=pl.Int64).alias("urgency_rank"))
        .group_by("account_id")
        .agg(pl.col("urgency_rank").min())
    )


def rank_frame(
    detection: Detection, accounts: pl.DataFrame, config: Config, *, with_probability: bool = True
) -> pl.DataFrame:
    """The ranked queue as a frame: one row per account with at least one active signal.

    With a calibrated model (`[calibration]` in riskbrief.toml) each row also gets churn_probability,
    arr_at_risk and churn_factors (JSON: the model's top factors); the order stays the rule score's."""
    signals = detection.signals
    as_of = detection.as_of
    if signals.height == 0:
        return pl.DataFrame()
    base = signals.group_by("account_id").agg(
        pl.col("severity").max().alias("max_severity"), pl.len().alias("n_signals")
    )
    clusters = cluster_frame(signals, config.cluster_window_days)
    bands = config.renewal_proximity
    days = (pl.col("renewal_date") - pl.lit(as_of)).dt.total_days()
    adjustment: pl.Expr = pl.lit(0.0)
    for band in reversed(bands):  # innermost band last so it wins
        adjustment = pl.when(days < band.max_days).then(pl.lit(band.adjustment)).otherwise(adjustment)
    amplified = pl.min_horizontal(
        pl.col("max_severity").cast(pl.Float64)
        + pl.when(pl.col("cluster_size") >= 3).then(2.0).when(pl.col("cluster_size") == 2).then(1.0).otherwise(0.0),
        pl.max_horizontal(pl.lit(config.cluster_cap), pl.col("max_severity").cast(pl.Float64)),
    )
    levels = config.risk_levels
    score = pl.col("risk_score")
    frame = (
        base.join(clusters, on="account_id")
        .join(accounts, on="account_id")
        .join(_urgency_exprs(signals), on="account_id")
        .with_columns(
            days.alias("days_to_renewal"),
            adjustment.alias("temporal_adjustment"),
            amplified.alias("base_score"),
            (pl.col("cluster_size") >= 2).alias("cluster_amplification"),
        )
        .with_columns(
            pl.min_horizontal(pl.col("base_score") + pl.col("temporal_adjustment"), pl.lit(config.score_cap)).alias(
                "risk_score"
            ),
            pl.when(pl.col("cluster_size") >= 3)
            .then(pl.min_horizontal(pl.col("urgency_rank"), pl.lit(URGENCY_RANK[CLUSTER_ROUTE[0]])))
            .otherwise(pl.col("urgency_rank"))
            .alias("urgency_rank"),
        )
        .with_columns(
            pl.when(score >= levels.critical)
            .then(pl.lit("critical"))
            .when(score >= levels.high)
            .then(pl.lit("high"))
            .when(score >= levels.medium)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
            .alias("risk_level")
        )
    )
    if with_probability:
        frame = _with_probability(frame, signals, config, as_of)
    return frame.sort(["risk_score", "days_to_renewal", "arr", "account_id"], descending=[True, False, True, False])


def _with_probability(frame: pl.DataFrame, signals: pl.DataFrame, config: Config, as_of: date) -> pl.DataFrame:
    """Churn probability and ARR at risk when a calibrated model is configured."""
    from tools.churn_model import configured_models, score_rows

    cal = config.calibration
    if cal is None:
        return frame.with_columns(
            pl.lit(None, pl.Float64).alias("churn_probability"),
            pl.lit(None, pl.Float64).alias("arr_at_risk"),
            pl.lit(None, pl.Utf8).alias("churn_factors"),
        )
    models = configured_models(config)
    if models is not None:
        lists = signals.group_by("account_id").agg(pl.col("signal").sort().alias("signals"))
        rows = frame.join(lists, on="account_id", how="left").with_columns(pl.lit(as_of).alias("as_of"))
        return score_rows(rows, models).drop("signals", "as_of")
    weights = {k: v for k, v in cal.weights.items() if k in REGISTRY}
    logit = (
        signals.with_columns(pl.col("signal").replace_strict(weights, default=0.0, return_dtype=pl.Float64).alias("w"))
        .group_by("account_id")
        .agg(pl.col("w").sum().alias("signal_logit"))
    )
    extra = pl.lit(cal.intercept)
    for key in ("temporal_adjustment", "risk_score", "base_score"):
        if key in cal.weights:
            extra = extra + pl.col(key) * cal.weights[key]
    return (
        frame.join(logit, on="account_id", how="left")
        .with_columns(
            (1.0 / (1.0 + (-(pl.col("signal_logit").fill_null(0.0) + extra)).exp())).alias("churn_probability")
        )
        .with_columns(
            (pl.col("arr") * pl.col("churn_probability")).alias("arr_at_risk"),
            pl.lit(None, pl.Utf8).alias("churn_factors"),
        )
        .drop("signal_logit")
    )


def probability_for_quiet_account(config: Config, temporal_adjustment: float) -> float | None:
    """Churn probability of an account with no active signal: intercept and renewal proximity only."""
    if config.calibration is None:
        return None
    logit = config.calibration.intercept + config.calibration.weights.get("temporal_adjustment", 0.0) * (
        temporal_adjustment
    )
    return 1.0 / (1.0 + math.exp(-logit))


def _urgency_and_routes(signal_ids: list[str], cluster_size: int) -> tuple[str, list[str]]:
    routes = [ROUTES.get(s, DEFAULT_ROUTE) for s in signal_ids]
    if cluster_size >= 3:
        routes.append(CLUSTER_ROUTE)
    urgency = min((r[0] for r in routes), key=lambda u: URGENCY_RANK[u]) if routes else DEFAULT_ROUTE[0]
    routed: list[str] = []
    for r in routes:
        if URGENCY_RANK[r[0]] == URGENCY_RANK[urgency]:
            routed.extend(x for x in r[1] if x not in routed)
    return urgency, routed


def signal_dict(row: dict[str, Any]) -> dict[str, Any]:
    """A detector row in the shape of a `Signal` (validated with its queue entry, see `entries`)."""
    evidence = row["evidence"] or []
    return {
        "signal": row["signal"],
        "severity": row["severity"],
        "first_detected": row["first_detected"].isoformat(),
        "summary": row.get("summary") or "",
        "evidence": [
            {"id": e["id"], "text": e["text"], "date": e["date"].isoformat() if e["date"] else None}
            for e in evidence
        ],
    }


def to_signal(row: dict[str, Any]) -> Signal:
    return Signal.model_validate(signal_dict(row))


_ENTRIES: TypeAdapter[list[QueueEntry]] = TypeAdapter(list[QueueEntry])


def entries(frame: pl.DataFrame, detection: Detection) -> list[QueueEntry]:
    """QueueEntry records for the rows of a ranked frame (in its order). Built as plain data and validated
    in one call: on a 100k-account portfolio that is tens of thousands of signals, and per-object model
    construction in Python cost seconds."""
    from tools.churn_model import parse_factors

    if frame.height == 0:
        return []
    wanted = frame.select("account_id")
    sig_rows = detection.signals.join(wanted, on="account_id").sort(
        ["account_id", "severity", "first_detected", "signal"], descending=[False, True, False, False]
    )
    by_account: dict[str, list[dict[str, Any]]] = {}
    for row in sig_rows.iter_rows(named=True):
        by_account.setdefault(row["account_id"], []).append(signal_dict(row))
    out: list[dict[str, Any]] = []
    for row in frame.iter_rows(named=True):
        sigs = by_account.get(row["account_id"], [])
        urgency, routed = _urgency_and_routes([s["signal"] for s in sigs], int(row["cluster_size"]))
        out.append(
            {
                "account_id": row["account_id"],
                "account_name": row["name"],
                "risk_score": round(float(row["risk_score"]), 2),
                "risk_level": row["risk_level"],
                "arr": float(row["arr"]),
                "days_to_renewal": int(row["days_to_renewal"]),
                "health_score": row.get("health_score"),
                "active_signals": sigs,
                "not_evaluated": detection.missing_for(row["account_id"]),
                "cluster_amplification": bool(row["cluster_amplification"]),
                "cluster_signals": list(row["cluster_signals"]) if row["cluster_amplification"] else [],
                "base_score": float(row["base_score"]),
                "temporal_adjustment": float(row["temporal_adjustment"]),
                "handoff_urgency": urgency,
                "routed_to": routed,
                "csm_owner": row.get("csm_owner"),
                "segment": row.get("segment"),
                "renewal_date": row["renewal_date"].isoformat() if row.get("renewal_date") else None,
                "churn_probability": None
                if row.get("churn_probability") is None
                else round(row["churn_probability"], 4),
                "arr_at_risk": None if row.get("arr_at_risk") is None else round(row["arr_at_risk"], 2),
                "churn_horizon_days": row.get("churn_horizon_days"),
                "churn_factors": parse_factors(row.get("churn_factors")),
            }
        )
    return _ENTRIES.validate_python(out)


def latest_health(portfolio: Portfolio) -> pl.DataFrame:
    health = portfolio.table("health_scores")
    if health is None:
        return portfolio.accounts.select("account_id", pl.lit(None, pl.Float64).alias("health_score"))
    return health.group_by("account_id").agg(pl.col("score").get(pl.col("date").arg_max()).alias("health_score"))


def account_frame(portfolio: Portfolio) -> pl.DataFrame:
    """Accounts with their latest health score (the columns the queue shows)."""
    return portfolio.accounts.join(latest_health(portfolio), on="account_id", how="left")


def build_queue(
    portfolio: Portfolio,
    config: Config,
    as_of: date,
    *,
    csm: str | None = None,
    top: int | None = None,
    snapshot: date | None = None,
) -> list[QueueEntry]:
    """The ranked risk queue (highest risk first), optionally one CSM's accounts and the top N.

    At an as-of date before `snapshot` (default: `as_of` in riskbrief.toml), accounts are read as they
    were then (tools.churn_accounts)."""
    from tools.churn_rows import in_force

    portfolio = in_force(portfolio, as_of, snapshot or config.as_of)
    detection = detect(portfolio, config, as_of)
    frame = rank_frame(detection, account_frame(portfolio), config)
    if frame.height and csm is not None:
        frame = frame.filter(pl.col("csm_owner").str.to_lowercase() == csm.lower())
    if top is not None:
        frame = frame.head(top)
    return entries(frame, detection)


def assess_account(portfolio: Portfolio, config: Config, as_of: date, account_id: str) -> QueueEntry:
    """One account's queue entry; an account with no active signal is `low` with no signals."""
    from tools.churn_model import configured_models, parse_factors, score_rows
    from tools.churn_rows import in_force

    portfolio = in_force(portfolio, as_of, config.as_of)
    account = portfolio.account(account_id)  # InputError for an unknown id
    detection = detect(portfolio, config, as_of)
    frame = rank_frame(detection, account_frame(portfolio), config)
    if frame.height:
        frame = frame.filter(pl.col("account_id") == account_id)
    if frame.height:
        return entries(frame, detection)[0]
    health = latest_health(portfolio).filter(pl.col("account_id") == account_id)
    days = (account.renewal_date - as_of).days
    adjustment = config.proximity_adjustment(days)
    probability = probability_for_quiet_account(config, adjustment)
    factors = None
    horizon = None
    models = configured_models(config)
    if models is not None:
        rows = account_frame(portfolio).filter(pl.col("account_id") == account_id).with_columns(
            pl.lit(as_of).alias("as_of"),
            pl.lit([], dtype=pl.List(pl.Utf8)).alias("signals"),
            pl.lit(0.0).alias("risk_score"),
        )
        scored = score_rows(rows, models)
        probability = round(float(scored["churn_probability"][0]), 4)
        factors = parse_factors(scored["churn_factors"][0])
        horizon = int(scored["churn_horizon_days"][0])
    return QueueEntry(
        account_id=account.account_id,
        account_name=account.name,
        risk_score=0.0,
        risk_level="low",
        arr=account.arr,
        days_to_renewal=days,
        health_score=health["health_score"][0] if health.height else None,
        active_signals=[],
        not_evaluated=detection.missing_for(account_id),
        cluster_amplification=False,
        temporal_adjustment=adjustment,
        handoff_urgency="weekly",
        routed_to=["weekly digest"],
        csm_owner=account.csm_owner,
        segment=account.segment,
        renewal_date=account.renewal_date.isoformat(),
        churn_probability=probability,
        arr_at_risk=None if probability is None else round(account.arr * probability, 2),
        churn_horizon_days=horizon,
        churn_factors=factors,
    )
