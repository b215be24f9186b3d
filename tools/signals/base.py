"""What every detector shares: the detection context and the evidence-row shape.

A detector is a pure function `(Context) -> pl.DataFrame | None` returning *evidence rows* with
columns `account_id, detected, ev_id, ev_text, ev_date` (and optionally `summary`, `order`). Detectors
are vectorised over the whole portfolio; `tools.signals.detect` groups the rows into one signal per
account. None means "not evaluated" (the table it needs is absent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from tools.config import Config
from tools.portfolio import Portfolio

EVIDENCE_COLUMNS = ("account_id", "detected", "ev_id", "ev_text", "ev_date", "summary", "order")


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

    @property
    def segments(self) -> pl.DataFrame:
        """account_id → segment (unknown segments form their own group)."""
        return self.portfolio.accounts.select("account_id", pl.col("segment").fill_null("unknown").alias("segment"))


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
