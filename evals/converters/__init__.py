"""Converters from public churn datasets to the portfolio format (see MAPPING.md)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl


def add_months(day: date, months: int) -> date:
    """`day` moved by whole months, clamped to the month's last day (Jan 31 + 1 month = Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(f"cannot move {day} by {months} months")


def next_anniversary(start: date, on_or_after: date, every_months: int) -> date:
    """First date `start + k * every_months` (k >= 1) that falls on or after `on_or_after`."""
    k = 1
    while add_months(start, k * every_months) < on_or_after:
        k += 1
    return add_months(start, k * every_months)


def write_tables(out: Path, tables: dict[str, pl.DataFrame]) -> dict[str, int]:
    """Write each frame as `<name>.csv` with ISO dates; returns rows written per file."""
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in tables.items():
        frame.write_csv(out / f"{name}.csv", date_format="%Y-%m-%d")
        counts[name] = frame.height
    return counts
