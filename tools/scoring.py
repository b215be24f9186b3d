"""Combining signals per account: clustering, renewal proximity, risk level, order, routing.

All of it is vectorised over the portfolio (`rank_frame`); `QueueEntry` records are built only for
the rows a caller asks for, so ranking 100k accounts stays fast.
"""

from __future__ import annotations

import functools
import math
from datetime import date
from typing import Any

import polars as pl
from pydantic import TypeAdapter

from tools.config import Config
from tools.memory import gc_paused
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
    cal = config.calibration
    if cal is None:
        return frame.with_columns(
            pl.lit(None, pl.Float64).alias("churn_probability"),
            pl.lit(None, pl.Float64).alias("arr_at_risk"),
            pl.lit(None, pl.Utf8).alias("churn_factors"),
        )
    from tools.churn_model import configured_models, score_rows  # imports numpy: only with a calibration

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


@functools.lru_cache(maxsize=4096)
def _routing(signal_ids: tuple[str, ...], clustered: bool) -> tuple[str, tuple[str, ...]]:
    """Handoff urgency and who it goes to, for an account's signals (in queue order); a queue repeats the
    same few combinations thousands of times."""
    routes = [ROUTES.get(s, DEFAULT_ROUTE) for s in signal_ids]
    if clustered:
        routes.append(CLUSTER_ROUTE)
    urgency = min((r[0] for r in routes), key=lambda u: URGENCY_RANK[u]) if routes else DEFAULT_ROUTE[0]
    routed: list[str] = []
    for r in routes:
        if URGENCY_RANK[r[0]] == URGENCY_RANK[urgency]:
            routed.extend(x for x in r[1] if x not in routed)
    return urgency, tuple(routed)


_ENTRIES: TypeAdapter[list[QueueEntry]] = TypeAdapter(list[QueueEntry])
_ISO_DATE = "%Y-%m-%d"


def account_signals(signals: pl.DataFrame) -> dict[str, list[Signal]]:
    """Detector rows (`Detection.signals`) as validated `Signal`s per account, in the queue's order."""
    listed = _signal_dicts(signals, signals.select("account_id").unique())
    return {account: [Signal.model_validate(s) for s in rows] for account, rows in listed.items()}


def _signal_dicts(signals: pl.DataFrame, wanted: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    """Per account of `wanted`: its signals in the shape of `Signal` (validated with their queue entries,
    see `entries`), highest severity first, then earliest, then by id. Dates become ISO strings in polars,
    and the rows come out column by column rather than row by row."""
    rows = (
        signals.join(wanted, on="account_id")
        .sort(["account_id", "severity", "first_detected", "signal"], descending=[False, True, False, False])
        .select(
            "account_id",
            "signal",
            "severity",
            pl.col("first_detected").dt.to_string(_ISO_DATE),
            pl.col("summary").fill_null(""),
            pl.col("evidence").list.eval(pl.element().struct.with_fields(pl.field("date").dt.to_string(_ISO_DATE))),
        )
    )
    by_account: dict[str, list[dict[str, Any]]] = {}
    columns = [rows.get_column(c).to_list() for c in rows.columns]
    for account_id, signal, severity, first_detected, summary, evidence in zip(*columns, strict=True):
        record = {
            "signal": signal,
            "severity": severity,
            "first_detected": first_detected,
            "summary": summary,
            "evidence": evidence or [],
        }
        listed = by_account.get(account_id)
        if listed is None:
            by_account[account_id] = [record]
        else:
            listed.append(record)
    return by_account


def entry_dicts(frame: pl.DataFrame, detection: Detection) -> list[dict[str, Any]]:
    """The rows of a ranked frame (in its order) as plain data in the shape of `QueueEntry`."""
    if frame.height == 0:
        return []
    n = frame.height

    def column(name: str) -> list[Any]:
        return frame.get_column(name).to_list() if name in frame.columns else [None] * n

    factors: list[Any] = column("churn_factors")
    if any(f is not None for f in factors):
        from tools.churn_model import parse_factors  # imports numpy: only for a calibrated model's factors

        factors = [parse_factors(f) for f in factors]
    else:
        factors = [None] * n
    signals = _signal_dicts(detection.signals, frame.select("account_id"))
    amplified = column("cluster_amplification")
    out: list[dict[str, Any]] = []
    for (
        account_id,
        name,
        risk_score,
        risk_level,
        arr,
        days_to_renewal,
        health_score,
        cluster_size,
        is_amplified,
        cluster_signals,
        base_score,
        temporal_adjustment,
        csm_owner,
        segment,
        renewal_date,
        churn_probability,
        arr_at_risk,
        churn_horizon_days,
        churn_factors,
    ) in zip(
        column("account_id"),
        column("name"),
        column("risk_score"),
        column("risk_level"),
        column("arr"),
        column("days_to_renewal"),
        column("health_score"),
        column("cluster_size"),
        amplified,
        column("cluster_signals"),
        column("base_score"),
        column("temporal_adjustment"),
        column("csm_owner"),
        column("segment"),
        column("renewal_date"),
        column("churn_probability"),
        column("arr_at_risk"),
        column("churn_horizon_days"),
        factors,
        strict=True,
    ):
        sigs = signals.get(account_id, [])
        urgency, routed = _routing(tuple(s["signal"] for s in sigs), int(cluster_size) >= 3)
        out.append(
            {
                "account_id": account_id,
                "account_name": name,
                "risk_score": round(float(risk_score), 2),
                "risk_level": risk_level,
                "arr": float(arr),
                "days_to_renewal": int(days_to_renewal),
                "health_score": health_score,
                "active_signals": sigs,
                "not_evaluated": detection.missing_for(account_id),
                "cluster_amplification": bool(is_amplified),
                "cluster_signals": list(cluster_signals) if is_amplified else [],
                "base_score": float(base_score),
                "temporal_adjustment": float(temporal_adjustment),
                "handoff_urgency": urgency,
                "routed_to": list(routed),
                "csm_owner": csm_owner,
                "segment": segment,
                "renewal_date": renewal_date.isoformat() if renewal_date else None,
                "churn_probability": None if churn_probability is None else round(churn_probability, 4),
                "arr_at_risk": None if arr_at_risk is None else round(arr_at_risk, 2),
                "churn_horizon_days": churn_horizon_days,
                "churn_factors": churn_factors,
            }
        )
    return out


def queue_json(queue: list[QueueEntry]) -> bytes:
    """The queue as `riskbrief queue --format json` prints it (the models' own JSON, indented; UTF-8)."""
    return _ENTRIES.dump_json(queue, indent=2)


def entries(frame: pl.DataFrame, detection: Detection) -> list[QueueEntry]:
    """QueueEntry records for the rows of a ranked frame (in its order). Built as plain data, column by
    column, and validated in one call: on a 100k-account portfolio that is tens of thousands of signals, and
    per-object model construction in Python cost seconds. The garbage collector is paused meanwhile
    (`gc_paused`): with it running, walking the growing heap cost several times the validation itself."""
    if frame.height == 0:
        return []
    with gc_paused():
        return _ENTRIES.validate_python(entry_dicts(frame, detection))


def latest_health(portfolio: Portfolio, only: pl.Series | None = None) -> pl.DataFrame:
    """Each account's latest health score (of the accounts in `only`, when given); a date the file repeats
    reads its later row, as the detectors do."""
    health = portfolio.table("health_scores")
    if health is None:
        return _only(portfolio.accounts, only).select("account_id", pl.lit(None, pl.Float64).alias("health_score"))
    return (
        _only(health, only)
        .group_by("account_id")
        .agg(pl.col("score").filter(pl.col("date") == pl.col("date").max()).last().alias("health_score"))
    )


def account_frame(portfolio: Portfolio, only: pl.Series | None = None) -> pl.DataFrame:
    """Accounts with their latest health score (the columns the queue shows). `only`: just these account
    ids (the queue needs only the accounts with a signal: a fraction of the health rows to go through)."""
    if only is not None:
        only = only.unique()
    return _only(portfolio.accounts, only).join(latest_health(portfolio, only), on="account_id", how="left")


def _only(rows: pl.DataFrame, account_ids: pl.Series | None) -> pl.DataFrame:
    """The rows of these accounts, in their order (all rows for None)."""
    if account_ids is None:
        return rows
    return rows.filter(pl.col("account_id").is_in(account_ids.implode()))


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
    frame = rank_frame(detection, account_frame(portfolio, detection.signals.get_column("account_id")), config)
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
        rows = (
            account_frame(portfolio)
            .filter(pl.col("account_id") == account_id)
            .with_columns(
                pl.lit(as_of).alias("as_of"),
                pl.lit([], dtype=pl.List(pl.Utf8)).alias("signals"),
                pl.lit(0.0).alias("risk_score"),
            )
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
