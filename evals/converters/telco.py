"""IBM Telco Customer Churn (one snapshot row per customer) to the portfolio format.

`python -m evals.converters.telco --src DIR --out DIR [--snapshot YYYY-MM-DD]`
The dataset has no dates: the snapshot day is chosen (default 2018-01-31) and everything is placed
relative to it. What that means for the signals is in evals/converters/MAPPING.md.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from evals.converters import add_months, next_anniversary, write_tables

SOURCE_FILE = "Telco-Customer-Churn.csv"
DEFAULT_SNAPSHOT = date(2018, 1, 31)
# The churn label means "left within the last month" of the snapshot.
CHURN_WINDOW_DAYS = 30
# A renewal due in the label window is placed at its middle, not on its last day: on the last day it sat
# exactly 30 days after the as-of date, on the edge of the < 30-day proximity band, so a one-day change of
# the window or the snapshot moved every month-to-month customer across the band.
RENEWAL_OFFSET_DAYS = 15
CONTRACT_MONTHS = {"Month-to-month": 1, "One year": 12, "Two year": 24}


def read_source(src: Path) -> pl.DataFrame:
    """The customer table; TotalCharges is blank for tenure 0 and becomes null."""
    path = src / SOURCE_FILE if src.is_dir() else src
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found")
    frame = pl.read_csv(path, infer_schema_length=0)
    return frame.with_columns(
        pl.col("tenure").cast(pl.Int64),
        pl.col("SeniorCitizen").cast(pl.Int64),
        pl.col("MonthlyCharges").cast(pl.Float64),
        pl.col("TotalCharges").str.strip_chars().cast(pl.Float64, strict=False),
    )


def feature_as_of(snapshot: date) -> date:
    """The as-of date whose (as_of, as_of + 30 days] window holds the churn label."""
    return snapshot - timedelta(days=CHURN_WINDOW_DAYS)


def convert_accounts(customers: pl.DataFrame, snapshot: date) -> pl.DataFrame:
    """accounts.csv: ARR = 12 x monthly charges; start = tenure months before the middle of the label
    window; renewal at the next contract-term anniversary after the as-of date; the term is written as
    `contract_term_months` (1, 12 or 24)."""
    as_of = feature_as_of(snapshot)
    middle = as_of + timedelta(days=RENEWAL_OFFSET_DAYS)
    starts = [add_months(middle, -int(t)) for t in customers["tenure"].to_list()]
    renewals = [
        next_anniversary(start, as_of + timedelta(days=1), CONTRACT_MONTHS.get(kind, 1))
        for start, kind in zip(starts, customers["Contract"].to_list(), strict=True)
    ]
    extras = [c for c in customers.columns if c not in ("customerID", "Churn")]
    return customers.select(
        pl.col("customerID").alias("account_id"),
        pl.concat_str(pl.lit("Customer "), pl.col("customerID")).alias("name"),
        (pl.col("MonthlyCharges") * 12).round(2).alias("arr"),
        pl.Series("renewal_date", renewals, dtype=pl.Date),
        pl.lit(None, dtype=pl.Utf8).alias("segment"),
        pl.lit(None, dtype=pl.Utf8).alias("csm_owner"),
        pl.lit(None, dtype=pl.Float64).alias("licenses"),
        pl.Series("contract_start", starts, dtype=pl.Date),
        pl.lit(None, dtype=pl.Utf8).alias("goals"),
        pl.col("Contract").replace_strict(CONTRACT_MONTHS, default=1).alias("contract_term_months"),
        *[pl.col(c) for c in extras],
    )


def convert_outcomes(customers: pl.DataFrame, snapshot: date) -> pl.DataFrame:
    """outcomes.csv: Churn=Yes -> churned, else renewed (stayed), both dated on the snapshot day."""
    return customers.select(
        pl.col("customerID").alias("account_id"),
        pl.lit(snapshot).alias("date"),
        pl.when(pl.col("Churn") == "Yes").then(pl.lit("churned")).otherwise(pl.lit("renewed")).alias("outcome"),
    )


def convert(src: Path, out: Path, snapshot: date = DEFAULT_SNAPSHOT) -> dict[str, int]:
    """Write accounts.csv and outcomes.csv; no other file can be derived (see MAPPING.md)."""
    customers = read_source(src)
    counts = write_tables(
        out,
        {
            "accounts": convert_accounts(customers, snapshot),
            "outcomes": convert_outcomes(customers, snapshot),
        },
    )
    (out / "SOURCE.txt").write_text(
        "Converted from IBM Telco Customer Churn (IBM sample data, Apache-2.0 repository). No dates in the\n"
        f"source: snapshot {snapshot.isoformat()}, label window ({feature_as_of(snapshot).isoformat()}, "
        f"{snapshot.isoformat()}]. Mapping and gaps: evals/converters/MAPPING.md in riskbrief.\n",
        encoding="utf-8",
    )
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--src", type=Path, required=True, help="folder (or file) with Telco-Customer-Churn.csv")
    parser.add_argument("--out", type=Path, required=True, help="portfolio folder to write")
    parser.add_argument("--snapshot", type=date.fromisoformat, default=DEFAULT_SNAPSHOT, help="snapshot day")
    args = parser.parse_args(argv)
    print(json.dumps(convert(args.src, args.out, args.snapshot)))


if __name__ == "__main__":
    main()
