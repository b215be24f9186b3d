"""What every detector shares: the detection context and the evidence-row shape.

A detector is a pure function `(Context) -> pl.DataFrame | None` returning *evidence rows* with
columns `account_id, detected, ev_id, ev_text, ev_date` (and optionally `summary`, `order`). Detectors
are vectorised over the whole portfolio; `tools.signals.detect` groups the rows into one signal per
account. None means "not evaluated" (the table it needs is absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cached_property
from typing import Any

import polars as pl

from tools.config import Config
from tools.portfolio import Portfolio

EVIDENCE_COLUMNS = ("account_id", "detected", "ev_id", "ev_text", "ev_date", "summary", "order")


@dataclass(frozen=True)
class SegmentBenchmarks:
    """What the detectors that compare an account with its segment read from the whole portfolio (its
    `frames`, by signal id), computed as of `as_of` with `params` (by signal id, with `history_days`),
    for detection over a one-account view (tools.signals.account_view)."""

    as_of: date
    params: dict[str, dict[str, Any]]
    frames: dict[str, pl.DataFrame]


@dataclass(frozen=True)
class Context:
    """Inputs of one detection run."""

    portfolio: Portfolio
    config: Config
    as_of: date

    def table(self, name: str) -> pl.DataFrame | None:
        return self.portfolio.table(name)

    def params(self, signal_id: str) -> dict[str, Any]:
        return self.config.params(signal_id)

    @cached_property
    def usage_series(self) -> pl.DataFrame | None:
        """Usage rows of the last `history_days`, ordered by (account, metric, period) in one integer sort.

        Adds `idx` (row position), `first`/`last` (series boundaries) and `prior_value`/`prior_date` (the
        previous period of the same series), so the usage detectors need no per-group windows.
        """
        usage = self.table("usage")
        if usage is None:
            return None
        since = self.as_of - timedelta(days=self.config.history_days)
        recent = usage.filter(pl.col("period_start") >= since).select("account_id", "metric", "period_start", "value")
        ordered = ordered_series(recent, ["account_id", "metric"], "period_start")
        first = pl.col("first")
        return ordered.with_columns(
            pl.when(first).then(None).otherwise(pl.col("value").shift(1)).alias("prior_value"),
            pl.when(first).then(None).otherwise(pl.col("period_start").shift(1)).alias("prior_date"),
        )

    def benchmark(self, signal_id: str) -> pl.DataFrame | None:
        """The whole portfolio's segment benchmark for `signal_id` when the portfolio is a one-account view
        carrying them; None on a whole portfolio (the detector computes it). Benchmarks computed as of another
        date or with other settings are refused: they would silently change the signal."""
        benchmarks = self.portfolio.benchmarks
        if benchmarks is None:
            return None
        if (
            benchmarks.as_of != self.as_of
            or benchmarks.params.get(signal_id) != self.benchmark_params(signal_id)
            or signal_id not in benchmarks.frames
        ):
            raise ValueError(f"{signal_id}: the view's segment benchmarks were computed for another date or settings")
        return benchmarks.frames[signal_id]

    def benchmark_params(self, signal_id: str) -> dict[str, Any]:
        """The settings a segment benchmark of `signal_id` depends on."""
        return {**self.params(signal_id), "history_days": self.config.history_days}

    @property
    def since(self) -> date:
        """Start of the history window."""
        return self.as_of - timedelta(days=self.config.history_days)

    @property
    def segments(self) -> pl.DataFrame:
        """account_id → segment (unknown segments form their own group)."""
        return self.portfolio.accounts.select("account_id", pl.col("segment").fill_null("unknown").alias("segment"))


def ordered_series(frame: pl.DataFrame, keys: list[str], date_col: str) -> pl.DataFrame:
    """Rows sorted by `keys` then `date_col`, plus `idx`, `first` and `last` marking series boundaries:
    the cheap alternative to per-group window functions on string keys.

    Keys become categorical codes packed with the day into one int64, so the sort is a single integer
    sort (several times faster than a multi-column sort on 10M rows). Codes need not follow alphabetical
    order: only that each series is contiguous and dated in order. A date repeated within a series keeps
    its later row only.
    """
    codes = frame.select(
        *[pl.col(k).cast(pl.Categorical).to_physical().cast(pl.Int64).alias(f"_c{i}") for i, k in enumerate(keys)],
        (pl.col(date_col).cast(pl.Int32).cast(pl.Int64) + (1 << 23)).alias("_day"),
    )
    spans = codes.select(pl.all().min().name.suffix("_min"), pl.all().max().name.suffix("_max")).row(0, named=True)
    series = pl.lit(0, pl.Int64)
    bits = 0
    for i in range(len(keys)):
        low, high = spans[f"_c{i}_min"] or 0, spans[f"_c{i}_max"] or 0
        width = max(int(high - low).bit_length(), 1)
        series = series * (1 << width) + (pl.col(f"_c{i}") - low)
        bits += width
    with_series = pl.concat([frame, codes], how="horizontal").with_columns(series.alias("series"))
    if bits + 24 <= 62:
        out = with_series.sort(pl.col("series") * (1 << 24) + pl.col("_day"), maintain_order=True)
    else:
        out = with_series.sort(["series", "_day"], maintain_order=True)
    # The format holds one row per series and date; where a file repeats one, its later row counts (the sort
    # is stable, so that is the last of the run), whatever order a parallel sort would give ties.
    repeated = (pl.col("series") == pl.col("series").shift(-1)) & (pl.col("_day") == pl.col("_day").shift(-1))
    out = out.filter(~repeated.fill_null(False))
    first = (pl.col("series") != pl.col("series").shift(1)).fill_null(True)
    return out.drop([f"_c{i}" for i in range(len(keys))] + ["_day"]).with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("idx"),
        first.alias("first"),
        first.shift(-1).fill_null(True).alias("last"),
    )


def num(expr: pl.Expr, decimals: int = 1) -> pl.Expr:
    """A number as text: integers without a decimal point, others rounded."""
    return (
        pl.when(expr == expr.round(0))
        .then(expr.round(0).cast(pl.Int64).cast(pl.Utf8))
        .otherwise(expr.round(decimals).cast(pl.Utf8))
    )


def days_between(later: pl.Expr | date, earlier: pl.Expr | date) -> pl.Expr:
    """Whole days from `earlier` to `later`."""
    a = pl.lit(later) if isinstance(later, date) else later
    b = pl.lit(earlier) if isinstance(earlier, date) else earlier
    return (a - b).dt.total_days()


def iso(expr: pl.Expr) -> pl.Expr:
    return expr.dt.strftime("%Y-%m-%d")


def quote(expr: pl.Expr, width: int = 160) -> pl.Expr:
    """A short quoted excerpt of free text (newlines folded)."""
    flat = expr.fill_null("").str.replace_all(r"\s+", " ").str.strip_chars()
    return (
        pl.when(flat.str.len_chars() > width)
        .then(pl.concat_str([flat.str.slice(0, width - 1), pl.lit("…")]))
        .otherwise(flat)
    )


def evidence(
    frame: pl.DataFrame,
    *,
    detected: pl.Expr,
    ev_id: pl.Expr,
    ev_text: pl.Expr,
    ev_date: pl.Expr,
    summary: pl.Expr | None = None,
    order: pl.Expr | None = None,
) -> pl.DataFrame:
    """Select the evidence-row shape from a frame of hits."""
    return frame.select(
        pl.col("account_id"),
        detected.alias("detected"),
        ev_id.alias("ev_id"),
        ev_text.alias("ev_text"),
        ev_date.alias("ev_date"),
        (summary if summary is not None else pl.lit(None, dtype=pl.Utf8)).alias("summary"),
        (order if order is not None else pl.lit(0)).cast(pl.Int64).alias("order"),
    )
