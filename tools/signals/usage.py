"""Usage signals: gradual decline, sudden drop, adoption plateau."""

from __future__ import annotations

import polars as pl

from tools.signals.base import Context, days_between, evidence, iso, num

KEYS = ["account_id", "metric"]


def _usage_id(date_col: str = "period_start") -> pl.Expr:
    return pl.concat_str(
        [
            pl.lit("usage:"),
            pl.col("account_id"),
            pl.lit(":"),
            pl.col("metric"),
            pl.lit(":"),
            iso(pl.col(date_col)),
        ]
    )


def _ordered(ctx: Context) -> pl.DataFrame | None:
    usage = ctx.table("usage")
    if usage is None:
        return None
    return usage.select("account_id", "metric", "period_start", "value").sort("account_id", "metric", "period_start")


def _pct(current: pl.Expr, base: pl.Expr) -> pl.Expr:
    change = ((current - base) / base * 100).round(0).cast(pl.Int64)
    return pl.when(change >= 0).then(pl.concat_str([pl.lit("+"), change.cast(pl.Utf8)])).otherwise(change.cast(pl.Utf8))


def usage_gradual_decline(ctx: Context) -> pl.DataFrame | None:
    usage = _ordered(ctx)
    if usage is None:
        return None
    periods = int(ctx.params("usage_gradual_decline")["periods"])
    # Per (account, metric): the index of the last period that did not decline; the trailing run after it.
    indexed = usage.with_columns(
        pl.int_range(pl.len()).over(KEYS).alias("idx"),
        (pl.col("value") < pl.col("value").shift(1).over(KEYS)).fill_null(False).alias("declined"),
    )
    runs = (
        indexed.group_by(KEYS)
        .agg(
            pl.col("idx").filter(~pl.col("declined")).max().alias("base_idx"),
            pl.col("idx").max().alias("last_idx"),
        )
        .with_columns((pl.col("last_idx") - pl.col("base_idx")).alias("run"))
    )
    fired = runs.filter(pl.col("run") >= periods)
    if fired.height == 0:
        return _empty(usage)
    rows = indexed.join(fired, on=KEYS).filter(
        (pl.col("idx") == pl.col("base_idx"))
        | (pl.col("idx") == pl.col("last_idx"))
        | (pl.col("idx") == pl.col("base_idx") + periods)
    )
    wide = rows.group_by(KEYS).agg(
        pl.col("period_start").filter(pl.col("idx") == pl.col("base_idx")).first().alias("base_date"),
        pl.col("value").filter(pl.col("idx") == pl.col("base_idx")).first().alias("base_value"),
        pl.col("period_start").filter(pl.col("idx") == pl.col("last_idx")).first().alias("period_start"),
        pl.col("value").filter(pl.col("idx") == pl.col("last_idx")).first().alias("value"),
        pl.col("period_start").filter(pl.col("idx") == pl.col("base_idx") + periods).first().alias("detected"),
        pl.col("run").first(),
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
        ev_id=pl.concat_str(
            [
                pl.lit("usage:"),
                pl.col("account_id"),
                pl.lit(":"),
                pl.col("metric"),
                pl.lit(":"),
                iso(pl.col("base_date")),
            ]
        ),
        ev_text=pl.concat_str(
            [
                pl.col("metric"),
                pl.lit(" "),
                num(pl.col("base_value")),
                pl.lit(" for "),
                iso(pl.col("base_date")),
                pl.lit(" (baseline, before the decline)"),
            ]
        ),
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
    usage = _ordered(ctx)
    if usage is None:
        return None
    p = ctx.params("usage_sudden_drop")
    threshold, lookback = float(p["threshold"]), int(p["lookback_days"])
    paired = usage.with_columns(
        pl.col("value").shift(1).over(KEYS).alias("prior_value"),
        pl.col("period_start").shift(1).over(KEYS).alias("prior_date"),
    )
    fired = paired.filter(
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
        ev_text=pl.concat_str(
            [
                pl.col("metric"),
                pl.lit(" "),
                num(pl.col("prior_value")),
                pl.lit(" for "),
                iso(pl.col("prior_date")),
                pl.lit(" (prior period)"),
            ]
        ),
        ev_date=pl.col("prior_date"),
        summary=text,
        order=pl.lit(1),
    )
    return pl.concat([current, prior])


def adoption_plateau(ctx: Context) -> pl.DataFrame | None:
    usage = _ordered(ctx)
    if usage is None:
        return None
    p = ctx.params("adoption_plateau")
    metric, days = str(p["metric"]), int(p["days"])
    series = usage.filter(pl.col("metric") == metric).join(ctx.segments, on="account_id", how="left")
    if series.height == 0:
        return _empty(usage)
    latest = series.group_by("account_id").agg(pl.all().sort_by("period_start").last())
    medians = latest.group_by("segment").agg(pl.col("value").median().alias("median"))
    marked = series.join(medians, on="segment").with_columns((pl.col("value") < pl.col("median")).alias("below"))
    per_account = marked.group_by("account_id").agg(
        pl.col("period_start").filter(~pl.col("below")).max().alias("last_at_or_above"),
        pl.col("period_start").min().alias("first_period"),
        pl.all().sort_by("period_start").last(),
    )
    start = (
        marked.join(per_account.select("account_id", "last_at_or_above"), on="account_id")
        .filter(pl.col("last_at_or_above").is_null() | (pl.col("period_start") > pl.col("last_at_or_above")))
        .group_by("account_id")
        .agg(pl.col("period_start").min().alias("below_since"))
    )
    fired = per_account.join(start, on="account_id").filter(
        pl.col("below") & (days_between(ctx.as_of, pl.col("below_since")) >= days)
    )
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


def _empty(frame: pl.DataFrame) -> pl.DataFrame:
    return evidence(
        frame.head(0),
        detected=pl.col("period_start"),
        ev_id=pl.lit(""),
        ev_text=pl.lit(""),
        ev_date=pl.col("period_start"),
    )
