"""Converters from public churn datasets to the portfolio format (see MAPPING.md)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from tools.churn_accounts import add_months, next_anniversary

__all__ = ["add_months", "next_anniversary", "write_tables"]


def write_tables(out: Path, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Write each frame as `<name>.csv` with ISO dates; returns rows written per file."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in tables.items():
        frame.write_csv(out / f"{name}.csv", date_format="%Y-%m-%d")
        counts[name] = frame.height
    return counts
