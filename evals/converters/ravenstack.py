"""RavenStack (synthetic multi-table SaaS, by River @ Rivalytics) to the portfolio format.

`python -m evals.converters.ravenstack --src DIR --out DIR [--renewal-after YYYY-MM-DD]`
Every mapping and every gap is documented in evals/converters/MAPPING.md.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import polars as pl

from evals.converters import next_anniversary, write_tables

SOURCE_FILES = {
    "accounts": "ravenstack_accounts.csv",
    "subscriptions": "ravenstack_subscriptions.csv",
    "feature_usage": "ravenstack_feature_usage.csv",
    "support_tickets": "ravenstack_support_tickets.csv",
    "churn_events": "ravenstack_churn_events.csv",
}
SEGMENTS = {"Enterprise": "enterprise", "Pro": "mid-market", "Basic": "smb"}
PRIORITIES = {"urgent": "P1", "high": "P2", "medium": "P3", "low": "P4"}


def read_source(src: Path) -> dict[str, pl.DataFrame]:
    """The five source tables with dates parsed (timestamps cut to their day)."""
    missing = [f for f in SOURCE_FILES.values() if not (src / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{src}: missing {', '.join(missing)}")
    frames = {k: pl.read_csv(src / f, infer_schema_length=10_000) for k, f in SOURCE_FILES.items()}
    day = pl.Utf8

    def to_date(col: str) -> pl.Expr:
        return pl.col(col).cast(day).str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False).alias(col)

    frames["accounts"] = frames["accounts"].with_columns(to_date("signup_date"))
    frames["subscriptions"] = frames["subscriptions"].with_columns(to_date("start_date"), to_date("end_date"))
    frames["feature_usage"] = frames["feature_usage"].with_columns(to_date("usage_date"))
    frames["support_tickets"] = frames["support_tickets"].with_columns(to_date("submitted_at"), to_date("closed_at"))
    frames["churn_events"] = frames["churn_events"].with_columns(to_date("churn_date"))
    return frames


def _truthy(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Utf8).str.to_lowercase().is_in(["true", "1"])


def convert_accounts(accounts: pl.DataFrame, subscriptions: pl.DataFrame, renewal_after: date) -> pl.DataFrame:
    """accounts.csv: ARR of the latest paid subscription started by `renewal_after` (else the first one);
    renewal on the first signup anniversary on or after `renewal_after`."""
    paid = subscriptions.filter(~_truthy("is_trial")).sort("start_date", "subscription_id")
    latest = (
        paid.filter(pl.col("start_date") <= renewal_after)
        .group_by("account_id")
        .agg(pl.col("arr_amount").last().alias("latest_arr"))
    )
    first = paid.group_by("account_id").agg(pl.col("arr_amount").first().alias("first_arr"))
    frame = (
        accounts.join(latest, on="account_id", how="left")
        .join(first, on="account_id", how="left")
        .with_columns(
            pl.coalesce("latest_arr", "first_arr", pl.lit(0)).cast(pl.Float64).alias("arr"),
            pl.col("signup_date")
            .map_elements(lambda d: next_anniversary(d, renewal_after, 12), return_dtype=pl.Date)
            .alias("renewal_date"),
            pl.col("plan_tier").replace_strict(SEGMENTS, default=None).alias("segment"),
        )
    )
    return frame.select(
        "account_id",
        pl.col("account_name").alias("name"),
        "arr",
        "renewal_date",
        "segment",
        pl.lit(None, dtype=pl.Utf8).alias("csm_owner"),
        pl.col("seats").alias("licenses"),
        pl.col("signup_date").alias("contract_start"),
        pl.lit(None, dtype=pl.Utf8).alias("goals"),
        pl.col("industry"),
        pl.col("country"),
        pl.col("referral_source"),
    ).sort("account_id")


def convert_history(accounts: pl.DataFrame, subscriptions: pl.DataFrame) -> pl.DataFrame:
    """account_history.csv: the account as it was. One row at signup (ARR, tier and seats of the first paid
    subscription) and one at each later paid subscription start (its ARR, tier and seats). The renewal date
    is left empty: at each as-of date it is the next signup anniversary (annual term), derived by the loader
    from `contract_start`."""
    paid = subscriptions.filter(~_truthy("is_trial")).sort("start_date", "subscription_id")
    starts = paid.select(
        "account_id",
        pl.col("start_date").alias("valid_from"),
        pl.col("arr_amount").cast(pl.Float64).alias("arr"),
        pl.col("plan_tier").replace_strict(SEGMENTS, default=None).alias("segment"),
        pl.col("seats").cast(pl.Float64).alias("licenses"),
    )
    first = starts.group_by("account_id", maintain_order=True).first()
    at_signup = (
        accounts.select("account_id", pl.col("signup_date").alias("s"))
        .join(first, on="account_id")
        .filter(pl.col("s") < pl.col("valid_from"))
    )
    at_signup = at_signup.with_columns(pl.col("s").alias("valid_from")).drop("s")
    both = pl.concat([at_signup.select(starts.columns), starts])
    return (
        both.unique(subset=["account_id", "valid_from"], keep="last", maintain_order=True)
        .sort("account_id", "valid_from")
        .select(
            "account_id",
            "valid_from",
            "arr",
            pl.lit(None, dtype=pl.Date).alias("renewal_date"),
            "segment",
            "licenses",
        )
    )


def convert_usage(feature_usage: pl.DataFrame, subscriptions: pl.DataFrame, last_day: date) -> pl.DataFrame:
    """usage.csv: monthly totals per account. Months without events from an account's first active month
    to the end of the data are 0 (no recorded use); stopping the fill at the account's last active month
    would leak whether it is active later."""
    events = feature_usage.join(subscriptions.select("subscription_id", "account_id"), on="subscription_id")
    monthly = (
        events.with_columns(pl.col("usage_date").dt.truncate("1mo").alias("period_start"))
        .group_by("account_id", "period_start")
        .agg(
            pl.col("usage_count").sum().cast(pl.Float64).alias("feature_events"),
            pl.col("feature_name").n_unique().cast(pl.Float64).alias("feature_adoption"),
            (pl.col("usage_duration_secs").sum() / 60).round(1).alias("usage_minutes"),
        )
    )
    spans = monthly.group_by("account_id").agg(
        pl.date_ranges(pl.col("period_start").min(), pl.lit(last_day).dt.truncate("1mo"), interval="1mo").alias("p")
    )
    grid = spans.explode("p").rename({"p": "period_start"})
    filled = grid.join(monthly, on=["account_id", "period_start"], how="left").fill_null(0.0)
    return (
        filled.unpivot(
            index=["account_id", "period_start"],
            on=["feature_events", "feature_adoption", "usage_minutes"],
            variable_name="metric",
            value_name="value",
        )
        .sort("account_id", "metric", "period_start")
        .select("account_id", "period_start", "metric", "value")
    )


def convert_tickets(tickets: pl.DataFrame) -> pl.DataFrame:
    """tickets.csv: priority urgent/high/medium/low -> P1..P4; closed when a closing time is given."""
    return tickets.select(
        "ticket_id",
        "account_id",
        pl.col("submitted_at").alias("opened_at"),
        "closed_at",
        pl.col("priority").replace_strict(PRIORITIES, default=None).alias("priority"),
        pl.when(pl.col("closed_at").is_null()).then(pl.lit("open")).otherwise(pl.lit("closed")).alias("status"),
        pl.when(_truthy("escalation_flag")).then(pl.lit("true")).otherwise(pl.lit("false")).alias("escalated"),
        pl.lit(None, dtype=pl.Utf8).alias("sentiment"),
        pl.lit(None, dtype=pl.Utf8).alias("subject"),
        pl.lit(None, dtype=pl.Utf8).alias("body"),
        "resolution_time_hours",
        "first_response_time_minutes",
    ).sort("opened_at", "ticket_id")


def convert_surveys(tickets: pl.DataFrame) -> pl.DataFrame:
    """surveys.csv: a ticket's satisfaction score is a CSAT (1-5) dated on the ticket's closing day."""
    return (
        tickets.filter(pl.col("satisfaction_score").is_not_null())
        .select(
            "account_id",
            pl.coalesce("closed_at", "submitted_at").alias("date"),
            pl.lit("csat").alias("kind"),
            pl.col("satisfaction_score").cast(pl.Float64).alias("score"),
            pl.lit(None, dtype=pl.Utf8).alias("respondent"),
            pl.concat_str(pl.lit("ticket "), pl.col("ticket_id")).alias("comment"),
        )
        # one survey per account, day and kind (the evidence id is account:date:kind): keep the lowest
        .group_by("account_id", "date", "kind")
        .agg(pl.col("score").min(), pl.col("respondent").first(), pl.col("comment").sort().first())
        .sort("account_id", "date")
        .select("account_id", "date", "kind", "score", "respondent", "comment")
    )


def convert_outcomes(churn_events: pl.DataFrame, subscriptions: pl.DataFrame) -> pl.DataFrame:
    """outcomes.csv: each churn event is `churned`; the first paid subscription starting after a churn is a
    return to the customer base, recorded as `renewed` so the account re-enters the active population."""
    churned = churn_events.select("account_id", pl.col("churn_date").alias("date"), pl.lit("churned").alias("outcome"))
    paid_starts = subscriptions.filter(~_truthy("is_trial")).select("account_id", pl.col("start_date").alias("s"))
    returns = (
        churned.join(paid_starts, on="account_id")
        .filter(pl.col("s") > pl.col("date"))
        .group_by("account_id", "date")
        .agg(pl.col("s").min().alias("back"))
    )
    returned = returns.select("account_id", pl.col("back").alias("date"), pl.lit("renewed").alias("outcome")).unique()
    both = pl.concat([churned, returned]).sort("account_id", "date", "outcome")
    # keep state changes only: churned -> renewed -> churned ...
    return (
        both.with_columns(pl.col("outcome").shift(1).over("account_id").alias("prev"))
        .filter(pl.col("prev").is_null() | (pl.col("prev") != pl.col("outcome")))
        .select("account_id", "date", "outcome")
    )


def convert(src: Path, out: Path, renewal_after: date | None = None) -> dict[str, int]:
    """Convert the RavenStack tables in `src` into a portfolio directory `out`; returns rows per file."""
    frames = read_source(src)
    last_day = max(
        d
        for d in (
            frames["subscriptions"]["start_date"].max(),
            frames["feature_usage"]["usage_date"].max(),
            frames["support_tickets"]["submitted_at"].max(),
            frames["churn_events"]["churn_date"].max(),
        )
        if isinstance(d, date)
    )
    tables = {
        "accounts": convert_accounts(frames["accounts"], frames["subscriptions"], renewal_after or last_day),
        "account_history": convert_history(frames["accounts"], frames["subscriptions"]),
        "usage": convert_usage(frames["feature_usage"], frames["subscriptions"], last_day),
        "tickets": convert_tickets(frames["support_tickets"]),
        "surveys": convert_surveys(frames["support_tickets"]),
        "outcomes": convert_outcomes(frames["churn_events"], frames["subscriptions"]),
    }
    counts = write_tables(out, tables)
    (out / "SOURCE.txt").write_text(
        "Converted from RavenStack: Synthetic SaaS Dataset (Multi-Table), by River @ Rivalytics (credit\n"
        "required; MIT-like). Mapping and gaps: evals/converters/MAPPING.md in riskbrief.\n",
        encoding="utf-8",
    )
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--src", type=Path, required=True, help="folder with the ravenstack_*.csv files")
    parser.add_argument("--out", type=Path, required=True, help="portfolio folder to write")
    parser.add_argument("--renewal-after", type=date.fromisoformat, default=None, help="ARR and renewal reference day")
    args = parser.parse_args(argv)
    print(json.dumps(convert(args.src, args.out, args.renewal_after)))


if __name__ == "__main__":
    main()
