"""Usage signals: gradual decline, sudden drop, adoption plateau.

All three read `Context.usage_series`: the last `history_days` of usage, sorted once by series
(account, metric) and period, with the prior period alongside each row.
"""

from __future__ import annotations

import polars as pl

from tools.evidence import evidence_id_expr
from tools.signals.base import Context, days_between, evidence, iso, num


def _usage_id(date_col: str = "period_start") -> pl.Expr:
    return evidence_id_expr("usage", pl.col("account_id"), pl.col("metric"), iso(pl.col(date_col)))


def _value_line(value: str, when: str, label: str) -> pl.Expr:
    """`dau 78 for 2026-08-24 (baseline, before the decline)`: one usage row as evidence text."""
    return pl.concat_str(
        [pl.col("metric"), pl.lit(" "), num(pl.col(value)), pl.lit(" for "), iso(pl.col(when)), pl.lit(f" ({label})")]
    )


def _pct(current: pl.Expr, base: pl.Expr) -> pl.Expr:
    change = ((current - base) / base * 100).round(0).cast(pl.Int64)
    return pl.when(change >= 0).then(pl.concat_str([pl.lit("+"), change.cast(pl.Utf8)])).otherwise(change.cast(pl.Utf8))


def usage_gradual_decline(ctx: Context) -> pl.DataFrame | None:
    series = ctx.usage_series
    if series is None:
        return None
    periods = int(ctx.params("usage_gradual_decline")["periods"])
    # The first row of a series never declines, so a forward fill of "last non-declining row" stays in-series.
    declined = (pl.col("value") < pl.col("prior_value")).fill_null(False)
    marked = series.with_columns(
        pl.when(~declined).then(pl.col("idx")).otherwise(None).forward_fill().alias("base_idx")
    ).with_columns((pl.col("idx") - pl.col("base_idx")).alias("run"))
    ends = marked.filter(pl.col("last") & (pl.col("run") >= periods))
    if ends.height == 0:
        return _empty(series)
    base = series.select(pl.col("period_start").alias("base_date"), pl.col("value").alias("base_value")).gather(
        ends["base_idx"]
    )
    detected = series.select(pl.col("period_start").alias("detected")).gather(ends["base_idx"] + periods)
    wide = pl.concat(
        [ends.select("account_id", "metric", "period_start", "value", "run"), base, detected], how="horizontal"
    )
    text = pl.concat_str(
        [
            pl.col("metric"),
            pl.lit(" "),
            num(pl.col("value")),
            pl.lit(" for "),
            iso(pl.col("period_start")),
            pl.lit(", baseline "),
            num(pl.col("base_value")),
            pl.lit(" for "),
            iso(pl.col("base_date")),
            pl.lit(" ("),
            _pct(pl.col("value"), pl.col("base_value")),
            pl.lit("%), declined "),
            pl.col("run").cast(pl.Utf8),
            pl.lit(" consecutive periods"),
        ]
    )
    wide = wide.with_columns(text.alias("text"))
    base_rows = evidence(
        wide,
        detected=pl.col("detected"),
        ev_id=_usage_id("base_date"),
        ev_text=_value_line("base_value", "base_date", "baseline, before the decline"),
        ev_date=pl.col("base_date"),
        summary=pl.col("text"),
        order=pl.lit(1),
    )
    last_rows = evidence(
        wide,
        detected=pl.col("detected"),
        ev_id=_usage_id(),
        ev_text=pl.col("text"),
        ev_date=pl.col("period_start"),
        summary=pl.col("text"),
        order=pl.lit(0),
    )
    return pl.concat([last_rows, base_rows])


def usage_sudden_drop(ctx: Context) -> pl.DataFrame | None:
    series = ctx.usage_series
    if series is None:
        return None
    p = ctx.params("usage_sudden_drop")
    threshold, lookback = float(p["threshold"]), int(p["lookback_days"])
    fired = series.filter(
        (days_between(ctx.as_of, pl.col("period_start")) <= lookback)
        & (pl.col("prior_value") > 0)
        & ((pl.col("prior_value") - pl.col("value")) / pl.col("prior_value") > threshold)
    )
    text = pl.concat_str(
        [
            pl.col("metric"),
            pl.lit(" "),
            num(pl.col("prior_value")),
            pl.lit(" for "),
            iso(pl.col("prior_date")),
            pl.lit(" → "),
            num(pl.col("value")),
            pl.lit(" for "),
            iso(pl.col("period_start")),
            pl.lit(" ("),
            _pct(pl.col("value"), pl.col("prior_value")),
            pl.lit("% in one period)"),
        ]
    )
    current = evidence(
        fired,
        detected=pl.col("period_start"),
        ev_id=_usage_id(),
        ev_text=text,
        ev_date=pl.col("period_start"),
        summary=text,
        order=pl.lit(0),
    )
    prior = evidence(
        fired,
        detected=pl.col("period_start"),
        ev_id=_usage_id("prior_date"),
        ev_text=_value_line("prior_value", "prior_date", "prior period"),
        ev_date=pl.col("prior_date"),
        summary=text,
        order=pl.lit(1),
    )
    return pl.concat([current, prior])


def adoption_plateau(ctx: Context) -> pl.DataFrame | None:
    series = ctx.usage_series
    if series is None:
        return None
    p = ctx.params("adoption_plateau")
    metric, days = str(p["metric"]), int(p["days"])
    # Re-number the filtered rows so positions can be gathered; boundaries carry over (whole series kept).
    rows = (
        series.filter(pl.col("metric") == metric)
        .with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("idx"))
        .join(ctx.segments, on="account_id", how="left", maintain_order="left")
    )
    if rows.height == 0:
        return _empty(series)
    # The segment's median: of the whole portfolio, also when detecting over one account's view.
    medians = ctx.benchmark("adoption_plateau")
    if medians is None:
        medians = _medians(rows.filter(pl.col("last")))
    rows = rows.join(medians, on="segment", how="left", maintain_order="left").with_columns(
        (pl.col("value") < pl.col("median")).alias("below")
    )
    # Position of the last row at or above the median; before a series' first row when it never was.
    rows = rows.with_columns(
        pl.when(~pl.col("below"))
        .then(pl.col("idx"))
        .when(pl.col("first"))
        .then(pl.col("idx") - 1)
        .otherwise(None)
        .forward_fill()
        .alias("above_idx")
    )
    ends = rows.filter(pl.col("last") & pl.col("below"))
    since = rows.select(pl.col("period_start").alias("below_since")).gather(ends["above_idx"] + 1)
    fired = pl.concat([ends, since], how="horizontal").filter(days_between(ctx.as_of, pl.col("below_since")) >= days)
    text = pl.concat_str(
        [
            pl.col("metric"),
            pl.lit(" "),
            num(pl.col("value")),
            pl.lit(" for "),
            iso(pl.col("period_start")),
            pl.lit(", below the "),
            pl.col("segment"),
            pl.lit(" segment median "),
            num(pl.col("median")),
            pl.lit(" since "),
            iso(pl.col("below_since")),
            pl.lit(" ("),
            days_between(ctx.as_of, pl.col("below_since")).cast(pl.Utf8),
            pl.lit(" days)"),
        ]
    )
    return evidence(
        fired,
        detected=pl.col("below_since") + pl.duration(days=days),
        ev_id=_usage_id(),
        ev_text=text,
        ev_date=pl.col("period_start"),
        summary=text,
    )


def _medians(latest: pl.DataFrame) -> pl.DataFrame:
    """segment → the median of the latest values (`latest`: one row per account with its segment)."""
    return latest.group_by("segment").agg(pl.col("value").median().alias("median"))


def adoption_benchmark(ctx: Context) -> pl.DataFrame | None:
    """adoption_plateau's segment medians over `ctx`'s portfolio, or None without usage: the latest value
    of the metric's series of each account (as in `Context.usage_series`), found without sorting every
    series, which costs a fraction of the detector on the whole portfolio."""
    usage = ctx.table("usage")
    if usage is None:
        return None
    metric = str(ctx.params("adoption_plateau")["metric"])
    rows = usage.filter((pl.col("period_start") >= ctx.since) & (pl.col("metric") == metric))
    # The latest period's value; a period the file repeats reads its later row (as `ordered_series`).
    newest = pl.col("period_start") == pl.col("period_start").max()
    latest = rows.group_by("account_id").agg(pl.col("value").filter(newest).last())
    return _medians(latest.join(ctx.segments, on="account_id", how="left"))


def _empty(frame: pl.DataFrame) -> pl.DataFrame:
    return evidence(
        frame.head(0),
        detected=pl.col("period_start"),
        ev_id=pl.lit(""),
        ev_text=pl.lit(""),
        ev_date=pl.col("period_start"),
    )
