"""Support signals: volume spike, P1 escalation, unresolved tickets."""

from __future__ import annotations

from datetime import date

import polars as pl

from tools.evidence import evidence_id_expr
from tools.signals.base import Context, days_between, evidence, iso, quote


def _ticket_id() -> pl.Expr:
    return evidence_id_expr("ticket", pl.col("ticket_id"))


def _is_open() -> pl.Expr:
    return (pl.col("status").fill_null("open") != "closed") & pl.col("closed_at").is_null()


def _ticket_line(as_of: date) -> pl.Expr:
    return pl.concat_str(
        [
            pl.col("priority").fill_null("P?"),
            pl.lit(" ticket "),
            pl.col("ticket_id"),
            pl.lit(' "'),
            quote(pl.col("subject"), 100),
            pl.lit('" opened '),
            iso(pl.col("opened_at")),
            pl.when(_is_open())
            .then(
                pl.concat_str(
                    [
                        pl.lit(", open "),
                        days_between(as_of, pl.col("opened_at")).cast(pl.Utf8),
                        pl.lit(" days"),
                    ]
                )
            )
            .otherwise(pl.lit(", closed")),
            pl.when(pl.col("escalated").fill_null(False)).then(pl.lit(", escalated")).otherwise(pl.lit("")),
            pl.when(pl.col("sentiment").is_not_null())
            .then(pl.concat_str([pl.lit(", sentiment "), pl.col("sentiment")]))
            .otherwise(pl.lit("")),
        ]
    )


def support_volume_spike(ctx: Context) -> pl.DataFrame | None:
    tickets = ctx.table("tickets")
    if tickets is None:
        return None
    p = ctx.params("support_volume_spike")
    window, base_days, ratio, min_count = (
        int(p["window_days"]),
        int(p["baseline_days"]),
        float(p["ratio"]),
        int(p["min_count"]),
    )
    age = days_between(ctx.as_of, pl.col("opened_at"))
    counted = tickets.with_columns(
        (age < window).alias("recent"), ((age >= window) & (age < window + base_days)).alias("baseline")
    )
    counts = (
        counted.group_by("account_id")
        .agg(pl.col("recent").sum().alias("n_recent"), pl.col("baseline").sum().alias("n_base"))
        .with_columns((pl.col("n_base") * 30.0 / base_days).alias("monthly_avg"))
    )
    # The k-th recent ticket is the one that made the count cross the line.
    needed = pl.max_horizontal(pl.lit(min_count), (pl.col("monthly_avg") * ratio).floor().cast(pl.Int64) + 1)
    fired = counts.filter((pl.col("n_recent") >= min_count) & (pl.col("n_recent") > pl.col("monthly_avg") * ratio))
    fired = fired.with_columns(needed.alias("needed"))
    recent = counted.filter(pl.col("recent")).join(fired, on="account_id").sort("account_id", "opened_at", "ticket_id")
    recent = recent.with_columns(pl.int_range(1, pl.len() + 1).over("account_id").alias("rank"))
    crossing = recent.filter(pl.col("rank") == pl.col("needed")).select(
        "account_id", pl.col("opened_at").alias("detected")
    )
    mix = (
        recent.group_by("account_id", "priority")
        .len()
        .sort("priority", maintain_order=True)
        .group_by("account_id", maintain_order=True)
        .agg(
            pl.concat_str([pl.col("priority").fill_null("P?"), pl.lit(":"), pl.col("len").cast(pl.Utf8)])
            .str.join(" ")
            .alias("mix")
        )
    )
    recent = recent.join(crossing, on="account_id").join(mix, on="account_id")
    summary = pl.concat_str(
        [
            pl.col("n_recent").cast(pl.Utf8),
            pl.lit(f" tickets in the last {window} days vs a monthly average of "),
            pl.col("monthly_avg").round(1).cast(pl.Utf8),
            pl.lit(f" over the prior {base_days} days ("),
            pl.col("n_base").cast(pl.Utf8),
            pl.lit(" tickets); priority mix "),
            pl.col("mix"),
        ]
    )
    return evidence(
        recent,
        detected=pl.col("detected"),
        ev_id=_ticket_id(),
        ev_text=_ticket_line(ctx.as_of),
        ev_date=pl.col("opened_at"),
        summary=summary,
        order=pl.col("rank"),
    )


def p1_escalation(ctx: Context) -> pl.DataFrame | None:
    tickets = ctx.table("tickets")
    if tickets is None:
        return None
    lookback = int(ctx.params("p1_escalation")["lookback_days"])
    recent = days_between(ctx.as_of, pl.col("opened_at")) <= lookback
    fired = tickets.filter(
        (_is_open() & (pl.col("priority") == "P1")) | (pl.col("escalated").fill_null(False) & (_is_open() | recent))
    ).sort("account_id", "opened_at", maintain_order=True)
    line = _ticket_line(ctx.as_of)
    return evidence(
        fired,
        detected=pl.col("opened_at"),
        ev_id=_ticket_id(),
        ev_text=line,
        ev_date=pl.col("opened_at"),
        summary=line,
    )


def unresolved_support(ctx: Context) -> pl.DataFrame | None:
    tickets = ctx.table("tickets")
    if tickets is None:
        return None
    days = int(ctx.params("unresolved_support")["days"])
    fired = tickets.filter(_is_open() & (days_between(ctx.as_of, pl.col("opened_at")) > days)).sort(
        "account_id", "opened_at", maintain_order=True
    )
    line = _ticket_line(ctx.as_of)
    return evidence(
        fired,
        detected=pl.col("opened_at") + pl.duration(days=days + 1),
        ev_id=_ticket_id(),
        ev_text=line,
        ev_date=pl.col("opened_at"),
        summary=line,
    )
