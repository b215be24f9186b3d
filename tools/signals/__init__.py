"""All detectors of the registry, run together: one vectorised pass over the portfolio.

`detect(portfolio, config, as_of)` returns a `Detection`: one row per (account, signal) with its
severity, first-detected date and evidence, plus what could not be evaluated and why.

One account's signals (a brief) need no pass over every account: `account_view` cuts the portfolio down to
the account's rows and attaches what two detectors compare it with, its segment's survey percentile and
adoption median over the whole portfolio; `detect` over that view returns exactly the account's rows of a
detection over the whole portfolio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import polars as pl

from tools.config import Config
from tools.portfolio import Portfolio
from tools.registry import REGISTRY
from tools.signals import commercial, health, relationship, support, usage
from tools.signals.base import Context, SegmentBenchmarks

Detector = Callable[[Context], pl.DataFrame | None]

DETECTORS: dict[str, Detector] = {
    "health_below_threshold": health.health_below_threshold,
    "health_rapid_decline": health.health_rapid_decline,
    "usage_gradual_decline": usage.usage_gradual_decline,
    "usage_sudden_drop": usage.usage_sudden_drop,
    "adoption_plateau": usage.adoption_plateau,
    "support_volume_spike": support.support_volume_spike,
    "survey_decline": relationship.survey_decline,
    "champion_departure": relationship.champion_departure,
    "sponsor_change": relationship.sponsor_change,
    "declined_meetings": relationship.declined_meetings,
    "no_reply_streak": relationship.no_reply_streak,
    "p1_escalation": support.p1_escalation,
    "competitor_mention": commercial.competitor_mention,
    "contract_objection": commercial.contract_objection,
    "payment_overdue": commercial.payment_overdue,
    "stakeholder_silence": relationship.stakeholder_silence,
    "unresolved_support": support.unresolved_support,
}
assert set(DETECTORS) == set(REGISTRY), "every registry signal needs a detector"

# Detectors that compare an account with its segment over the whole portfolio: how to compute that benchmark.
BENCHMARKS: dict[str, Callable[[Context], pl.DataFrame | None]] = {
    "survey_decline": relationship.survey_benchmark,
    "adoption_plateau": usage.adoption_benchmark,
}

SIGNAL_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.Utf8(),
    "signal": pl.Utf8(),
    "severity": pl.Int64(),
    "first_detected": pl.Date(),
    "summary": pl.Utf8(),
    "evidence": pl.List(pl.Struct({"id": pl.Utf8, "text": pl.Utf8, "date": pl.Date})),
}


@dataclass
class Detection:
    """Signals of one run. `signals` has the columns of SIGNAL_SCHEMA, one row per (account, signal)."""

    as_of: date
    signals: pl.DataFrame
    not_evaluated: list[str] = field(default_factory=list)  # for every account: 'signal: reason'
    not_evaluated_by_account: dict[str, list[str]] = field(default_factory=dict)

    def for_account(self, account_id: str) -> pl.DataFrame:
        return self.signals.filter(pl.col("account_id") == account_id)

    def missing_for(self, account_id: str) -> list[str]:
        return [*self.not_evaluated, *self.not_evaluated_by_account.get(account_id, [])]


def _group(signal_id: str, rows: pl.DataFrame, severity: int) -> pl.DataFrame:
    """Evidence rows → one signal per account (earliest detection, evidence in detector order)."""
    rows = rows.unique(subset=["account_id", "ev_id"], keep="first", maintain_order=True)
    return (
        rows.sort("account_id", "order", "ev_date", "ev_id")
        .group_by("account_id", maintain_order=True)
        .agg(
            pl.col("detected").min().alias("first_detected"),
            pl.col("summary").drop_nulls().first().alias("summary"),
            pl.struct(
                pl.col("ev_id").alias("id"), pl.col("ev_text").alias("text"), pl.col("ev_date").alias("date")
            ).alias("evidence"),
        )
        .select(
            "account_id",
            pl.lit(signal_id).alias("signal"),
            pl.lit(severity, pl.Int64).alias("severity"),
            "first_detected",
            pl.col("summary").fill_null(""),
            "evidence",
        )
    )


def _table_reason(signal_id: str, portfolio: Portfolio, config: Config) -> str | None:
    spec = REGISTRY[signal_id]
    if not config.enabled(signal_id):
        return f"{signal_id}: disabled in configuration"
    if all(not portfolio.has(t) for t in spec.needs):
        files = " or ".join(f"{t}.csv" for t in spec.needs)
        return f"{signal_id}: no {files}"
    if signal_id == "competitor_mention" and not [n for n in config.competitors if n.strip()]:
        return f"{signal_id}: no competitors configured (set competitors in riskbrief.toml)"
    return None


def _per_account_gaps(portfolio: Portfolio, config: Config, skip: set[str], since: date) -> dict[str, list[str]]:
    """Signals an account's own data cannot decide (the file exists, but has no rows for it)."""
    ids = portfolio.accounts.select("account_id")
    gaps: list[pl.DataFrame] = []

    def lacking(present: pl.DataFrame, reason: str, signals: tuple[str, ...]) -> None:
        absent = ids.join(present, on="account_id", how="anti")
        for s in signals:
            if s not in skip and absent.height:
                gaps.append(absent.with_columns(pl.lit(f"{s}: {reason}").alias("reason")))

    health_rows = portfolio.table("health_scores")
    if health_rows is not None:
        recent = health_rows.filter(pl.col("date") >= since).select("account_id").unique()
        lacking(
            recent,
            f"no health score since {since.isoformat()} for this account",
            ("health_below_threshold", "health_rapid_decline"),
        )
    usage_rows = portfolio.table("usage")
    if usage_rows is not None:
        metric = str(config.params("adoption_plateau")["metric"])
        per_account = (
            usage_rows.filter(pl.col("period_start") >= since)
            .group_by("account_id")
            .agg((pl.col("metric") == metric).any().alias("has_metric"))
        )
        lacking(
            per_account.select("account_id"),
            f"no usage rows since {since.isoformat()} for this account",
            ("usage_gradual_decline", "usage_sudden_drop"),
        )
        lacking(
            per_account.filter("has_metric").select("account_id"),
            f"no {metric} usage rows since {since.isoformat()} for this account",
            ("adoption_plateau",),
        )
    contact_frames = [
        f.select("account_id").unique()
        for f in (portfolio.table("meetings"), portfolio.table("emails"))
        if f is not None
    ]
    if contact_frames:
        lacking(
            pl.concat(contact_frames).unique(),
            "no meetings or emails on record for this account",
            ("stakeholder_silence",),
        )
    if not gaps:
        return {}
    grouped = pl.concat(gaps).group_by("account_id").agg(pl.col("reason"))
    return dict(zip(grouped["account_id"].to_list(), grouped["reason"].to_list(), strict=True))


def detect(portfolio: Portfolio, config: Config, as_of: date, only: set[str] | None = None) -> Detection:
    """Run every enabled detector as of `as_of` (the portfolio should already be loaded as of it)."""
    ctx = Context(portfolio=portfolio, config=config, as_of=as_of)
    frames: list[pl.DataFrame] = []
    global_gaps: list[str] = []
    skipped: set[str] = set()
    for signal_id, detector in DETECTORS.items():
        if only is not None and signal_id not in only:
            continue
        reason = _table_reason(signal_id, portfolio, config)
        if reason:
            global_gaps.append(reason)
            skipped.add(signal_id)
            continue
        rows = detector(ctx)
        if rows is None:
            global_gaps.append(f"{signal_id}: required data is absent")
            skipped.add(signal_id)
            continue
        if rows.height:
            frames.append(_group(signal_id, rows, config.severity(signal_id)))
    signals = pl.concat(frames) if frames else pl.DataFrame(schema=SIGNAL_SCHEMA)
    return Detection(
        as_of=as_of,
        signals=signals,
        not_evaluated=global_gaps,
        not_evaluated_by_account=_per_account_gaps(portfolio, config, skipped, ctx.since),
    )


def segment_benchmarks(portfolio: Portfolio, config: Config, as_of: date) -> SegmentBenchmarks:
    """The segment benchmarks of the whole `portfolio` (accounts as in force at `as_of`), as of `as_of`."""
    ctx = Context(portfolio=portfolio, config=config, as_of=as_of)
    frames: dict[str, pl.DataFrame] = {}
    for signal_id, compute in BENCHMARKS.items():
        frame = compute(ctx)
        if frame is not None:
            frames[signal_id] = frame
    return SegmentBenchmarks(as_of=as_of, params={s: ctx.benchmark_params(s) for s in frames}, frames=frames)


def account_view(portfolio: Portfolio, config: Config, as_of: date, account_id: str) -> Portfolio:
    """`portfolio` cut down to one account (`Portfolio.only`) with the segment benchmarks of the whole
    portfolio, for `tools.scoring.assess_account`: its detection over the view returns the account's rows of
    the detection over the whole portfolio, in a fraction of the time.

    The benchmarks are computed over the accounts in force at `as_of` as `assess_account` reads them
    (tools.churn_rows.in_force, with `config.as_of` as the snapshot date); the view is cut from `portfolio`
    as given, which `assess_account` reads the same way (every rule of `in_force` reads one account's rows)."""
    from tools.churn_rows import in_force

    if portfolio.benchmarks is not None:
        raise ValueError("account_view: the portfolio is already a one-account view")
    population = in_force(portfolio, as_of, config.as_of)
    return replace(portfolio.only(account_id), benchmarks=segment_benchmarks(population, config, as_of))
