"""Accounts as they were: the renewal date, ARR, segment and licences in force at a past as-of date.

An `accounts.csv` exported from a CRM is a snapshot of the day it was exported: its renewal date and ARR
are that day's. Read at an earlier as-of date it would put every renewal a year or more away, so renewal
proximity would read as zero throughout history and a model fitted on history would learn nothing from it.

Two remedies, both applied by `accounts_in_force`:
- an optional `account_history.csv` (account_id, valid_from, arr, renewal_date, segment, licenses): the
  newest row with `valid_from` on or before the as-of date overrides the snapshot's values (an empty
  cell keeps the snapshot's value);
- at an as-of date before the snapshot, the renewal then in force is derived from `contract_start` and
  the contract term (`contract_term_months`, 12 when the column or the cell is empty): the first term
  anniversary of the start after the as-of date, never later than the snapshot's renewal. Without a
  start date the snapshot's renewal is stepped back by whole terms instead.
"""

from __future__ import annotations

from datetime import date

import polars as pl

HISTORY_TABLE = "account_history"
TERM_COLUMN = "contract_term_months"
HISTORY_FIELDS = ("arr", "renewal_date", "segment", "licenses")
DEFAULT_TERM_MONTHS = 12


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
    every = max(1, int(every_months))
    months = (on_or_after.year - start.year) * 12 + on_or_after.month - start.month
    k = max(1, months // every - 1)
    while add_months(start, k * every) < on_or_after:
        k += 1
    return add_months(start, k * every)


def renewal_in_force(renewal: date | None, start: date | None, term_months: int, as_of: date) -> date | None:
    """The renewal date in force at `as_of` for a contract of `term_months` (see module docstring)."""
    if renewal is None:
        return None
    if renewal > as_of and add_months(renewal, -term_months) <= as_of:
        return renewal  # the snapshot's contract period already covers as-of
    if start is not None and start <= as_of:
        derived = next_anniversary(start, date.fromordinal(as_of.toordinal() + 1), term_months)
        return min(derived, renewal) if renewal > as_of else derived
    k = 0
    day = renewal
    while day > as_of and add_months(renewal, -(k + 1) * term_months) > as_of:
        k += 1
        day = add_months(renewal, -k * term_months)
    while day <= as_of:
        k -= 1
        day = add_months(renewal, -k * term_months)
    return day


def accounts_in_force(
    accounts: pl.DataFrame, history: pl.DataFrame | None, as_of: date, snapshot: date | None
) -> pl.DataFrame:
    """`accounts` with the values in force at `as_of`: the account history first, then (at an as-of date
    before `snapshot`) the renewal derived from the contract start and term. Same columns and order."""
    out = accounts
    if history is not None and history.height:
        latest = (
            history.filter(pl.col("valid_from") <= as_of)
            .sort("account_id", "valid_from")
            .group_by("account_id", maintain_order=True)
            .last()
        )
        fields = [f for f in HISTORY_FIELDS if f in latest.columns and f in out.columns]
        if latest.height and fields:
            renamed = latest.select("account_id", *[pl.col(f).alias(f"__h_{f}") for f in fields])
            out = (
                out.join(renamed, on="account_id", how="left")
                .with_columns([pl.coalesce(pl.col(f"__h_{f}").cast(out.schema[f]), pl.col(f)).alias(f) for f in fields])
                .select(accounts.columns)
            )
    if snapshot is None or as_of >= snapshot or "renewal_date" not in out.columns:
        return out
    starts = out["contract_start"].to_list() if "contract_start" in out.columns else [None] * out.height
    terms: list[object] = out[TERM_COLUMN].to_list() if TERM_COLUMN in out.columns else [None] * out.height
    renewals = [
        renewal_in_force(r, s, _term(t), as_of)
        for r, s, t in zip(out["renewal_date"].to_list(), starts, terms, strict=True)
    ]
    return out.with_columns(pl.Series("renewal_date", renewals, dtype=pl.Date))


def _term(value: object) -> int:
    try:
        term = int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return DEFAULT_TERM_MONTHS
    return term if term >= 1 else DEFAULT_TERM_MONTHS
