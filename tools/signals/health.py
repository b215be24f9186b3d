"""Health-score signals: below threshold, rapid decline."""

from __future__ import annotations

import polars as pl

from tools.evidence import evidence_id_expr
from tools.signals.base import Context, days_between, evidence, iso, num, ordered_series

BASE_COLUMNS = {"account_id", "date", "score"}


def _components(frame: pl.DataFrame) -> list[str]:
    return [c for c, t in frame.schema.items() if c not in BASE_COLUMNS and t.is_numeric()]


def _health_id() -> pl.Expr:
    return evidence_id_expr("health", pl.col("account_id"), iso(pl.col("date")))


def health_below_threshold(ctx: Context) -> pl.DataFrame | None:
    health = ctx.table("health_scores")
    if health is None:
        return None
    threshold = float(ctx.params("health_below_threshold")["threshold"])
    # A score older than the history window is stale: it neither fires nor clears (see not_evaluated).
    recent = health.filter(pl.col("date") >= ctx.since)
    latest = recent.filter(pl.col("date") == pl.col("date").max().over("account_id")).unique(
        "account_id", keep="last", maintain_order=True
    )
    fired = latest.filter(pl.col("score") < threshold)
    comps = _components(fired)
    breakdown = (
        pl.concat_str(
            [pl.concat_str([pl.lit(f"{c} "), num(pl.col(c))]) for c in comps],
            separator=", ",
            ignore_nulls=True,
        )
        if comps
        else pl.lit("")
    )
    text = pl.concat_str(
        [
            pl.lit("health score "),
            num(pl.col("score")),
            pl.lit(" on "),
            iso(pl.col("date")),
            pl.lit(f" (threshold {num_text(threshold)})"),
            pl.when(breakdown != "").then(pl.concat_str([pl.lit("; components: "), breakdown])).otherwise(pl.lit("")),
        ]
    )
    return evidence(
        fired, detected=pl.col("date"), ev_id=_health_id(), ev_text=text, ev_date=pl.col("date"), summary=text
    )


def health_rapid_decline(ctx: Context) -> pl.DataFrame | None:
    health = ctx.table("health_scores")
    if health is None:
        return None
    p = ctx.params("health_rapid_decline")
    window, points, lookback = int(p["window_days"]), float(p["points"]), int(p["lookback_days"])
    recent = health.filter(days_between(ctx.as_of, pl.col("date")) <= lookback + window)
    ordered = ordered_series(recent, ["account_id"], "date")
    # The highest score in the `window` days before each row: up to window+1 earlier rows of the same
    # series (exact with at most one score per day, the usual export).
    highs = [
        pl.when(
            (pl.col("series").shift(k) == pl.col("series"))
            & (days_between(pl.col("date"), pl.col("date").shift(k)) <= window)
        ).then(pl.col("score").shift(k))
        for k in range(1, window + 2)
    ]
    windowed = ordered.with_columns(pl.max_horizontal(pl.col("score"), *highs).alias("window_max"))
    drops = windowed.filter(
        (pl.col("window_max") - pl.col("score") > points) & (days_between(ctx.as_of, pl.col("date")) <= lookback)
    )
    if drops.height == 0:
        return _empty_from(ordered)
    # The latest qualifying drop per account, paired with the high score it fell from.
    latest = drops.group_by("account_id").agg(pl.all().sort_by("date", maintain_order=True).last())
    comps = _components(recent)
    earlier = ordered.select(
        "account_id",
        pl.col("date").alias("from_date"),
        pl.col("score").alias("from_score"),
        *[pl.col(c).alias(f"from_{c}") for c in comps],
    )
    pairs = (
        latest.join(earlier, on="account_id")
        .filter(
            (pl.col("from_date") < pl.col("date"))
            & (days_between(pl.col("date"), pl.col("from_date")) <= window)
            & (pl.col("from_score") == pl.col("window_max"))
        )
        .sort("from_date", maintain_order=True)
        .group_by("account_id", maintain_order=True)
        .last()
    )
    moved = [
        pl.when(pl.col(f"from_{c}") != pl.col(c)).then(
            pl.concat_str([pl.lit(f"{c} "), num(pl.col(f"from_{c}")), pl.lit("→"), num(pl.col(c))])
        )
        for c in comps
    ]
    moved_text = pl.concat_str(moved, separator=", ", ignore_nulls=True) if moved else pl.lit("")
    delta = pl.col("score") - pl.col("from_score")
    summary = pl.concat_str(
        [
            pl.lit("health "),
            num(pl.col("from_score")),
            pl.lit(" on "),
            iso(pl.col("from_date")),
            pl.lit(" → "),
            num(pl.col("score")),
            pl.lit(" on "),
            iso(pl.col("date")),
            pl.lit(" ("),
            num(delta),
            pl.lit(" points in "),
            days_between(pl.col("date"), pl.col("from_date")).cast(pl.Utf8),
            pl.lit(" days)"),
            pl.when(moved_text != "").then(pl.concat_str([pl.lit("; moved: "), moved_text])).otherwise(pl.lit("")),
        ]
    )
    pairs = pairs.with_columns(summary.alias("summary_text"))
    before = evidence(
        pairs,
        detected=pl.col("date"),
        ev_id=evidence_id_expr("health", pl.col("account_id"), iso(pl.col("from_date"))),
        ev_text=pl.concat_str(
            [pl.lit("health score "), num(pl.col("from_score")), pl.lit(" on "), iso(pl.col("from_date"))]
        ),
        ev_date=pl.col("from_date"),
        summary=pl.col("summary_text"),
        order=pl.lit(0),
    )
    after = evidence(
        pairs,
        detected=pl.col("date"),
        ev_id=_health_id(),
        ev_text=pl.concat_str(
            [
                pl.lit("health score "),
                num(pl.col("score")),
                pl.lit(" on "),
                iso(pl.col("date")),
                pl.lit(" ("),
                num(delta),
                pl.lit(" points)"),
            ]
        ),
        ev_date=pl.col("date"),
        summary=pl.col("summary_text"),
        order=pl.lit(1),
    )
    return pl.concat([before, after])


def num_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _empty_from(frame: pl.DataFrame) -> pl.DataFrame:
    return evidence(
        frame.head(0), detected=pl.col("date"), ev_id=pl.lit(""), ev_text=pl.lit(""), ev_date=pl.col("date")
    )
