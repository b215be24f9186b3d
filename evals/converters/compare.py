"""Backtest the product's churn model on the converted public datasets against simple baselines.

`python -m evals.converters.compare [--ravenstack DIR] [--telco DIR] [--work DIR] [--format table|json]`

Per dataset, in one run, every method ranks the same held-out rows (tools.churn_eval): the rule score,
the calibrated model (tools.churn_model: chosen between an L2 logistic regression and shallow boosted trees
on an inner time split of the training dates), the training churn rate, the fixed health formula
0.4 usage + 0.3 support + 0.3 engagement, and a logistic regression and a gradient-boosted model on the
dataset's raw columns. Each gets AUC with a bootstrap interval resampled by account, precision at 10% and
20%, recall and revenue-weighted recall of the top 20% per as-of date, median lead time and Brier score;
the base-rate Brier is given per dataset.

RavenStack is split by time (month-end as-of dates; training labels closed before the first test date),
90-day horizon. Telco has one snapshot, so it is split by customer (seeded, stratified 70/30), 30 days.
`--format json` prints the object fixed in spec/interface.md ("Backtest comparison").
"""

from __future__ import annotations

import argparse
import json
import tempfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from evals.converters import ravenstack, telco
from tools.calibration import labelled_dates, time_split
from tools.churn_eval import compare_methods
from tools.churn_rows import portfolio_rows, with_label
from tools.config import load_config

HORIZON_DAYS = 90
SEED = 7
METHODS = ("rule_score", "calibrated", "training_rate", "health_formula", "raw_logistic", "raw_gbm")


def account_columns(root: Path) -> list[str]:
    from tools.portfolio import load_portfolio

    return load_portfolio(root).accounts.columns


def bands_of(config: Any) -> list[tuple[int, float]]:
    return [(b.max_days, b.adjustment) for b in config.renewal_proximity]


# ------------------------------------------------------------------------------------------- ravenstack


def ravenstack_raw_features(src: Path, keys: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """Raw RavenStack columns for each (as_of, account_id) in `keys`, from source rows dated on or before
    as_of only (a subscription's later end, a ticket's later closing and its score are unseen)."""
    frames = ravenstack.read_source(src)
    accounts, subs = frames["accounts"], frames["subscriptions"]
    usage = frames["feature_usage"].join(subs.select("subscription_id", "account_id"), on="subscription_id")
    tickets, churn = frames["support_tickets"], frames["churn_events"]
    static = accounts.select(
        "account_id",
        pl.col("seats").cast(pl.Float64).log1p().alias("log_seats"),
        *[(pl.col("plan_tier") == t).cast(pl.Float64).alias(f"plan_{t}") for t in ("Pro", "Enterprise")],
        *[
            (pl.col("referral_source") == r).cast(pl.Float64).alias(f"referral_{r}")
            for r in ("organic", "ads", "event", "partner")
        ],
        *[
            (pl.col("industry") == i).cast(pl.Float64).alias(f"industry_{i}")
            for i in sorted(accounts["industry"].unique().to_list())[1:]
        ],
        "signup_date",
    )
    truthy = ravenstack._truthy
    out = []
    for day in sorted(set(keys["as_of"].to_list())):
        ids = keys.filter(pl.col("as_of") == day).select("account_id")
        since_90 = day - timedelta(days=90)
        since_30 = day - timedelta(days=30)
        s = subs.filter(pl.col("start_date") <= day)
        active = s.filter(pl.col("end_date").is_null() | (pl.col("end_date") > day))
        sub_f = s.group_by("account_id").agg(
            pl.len().cast(pl.Float64).log1p().alias("log_subscriptions"),
            (pl.col("end_date") <= day).sum().cast(pl.Float64).alias("ended_subscriptions"),
            (truthy("downgrade_flag") & (pl.col("start_date") > since_90))
            .sum()
            .cast(pl.Float64)
            .alias("downgrades_90d"),
            (truthy("upgrade_flag") & (pl.col("start_date") > since_90)).sum().cast(pl.Float64).alias("upgrades_90d"),
        )
        act_f = active.group_by("account_id").agg(
            pl.col("mrr_amount").sum().cast(pl.Float64).log1p().alias("log_active_mrr"),
            truthy("auto_renew_flag").mean().cast(pl.Float64).alias("auto_renew_share"),
            (pl.col("billing_frequency") == "monthly").mean().cast(pl.Float64).alias("monthly_billing_share"),
            truthy("is_trial").sum().cast(pl.Float64).alias("active_trials"),
        )
        u = usage.filter(pl.col("usage_date") <= day)
        use_f = u.group_by("account_id").agg(
            pl.col("usage_count")
            .filter(pl.col("usage_date") > since_30)
            .sum()
            .cast(pl.Float64)
            .log1p()
            .alias("log_events_30d"),
            pl.col("usage_count")
            .filter(pl.col("usage_date") > since_90)
            .sum()
            .cast(pl.Float64)
            .log1p()
            .alias("log_events_90d"),
            pl.col("feature_name")
            .filter(pl.col("usage_date") > since_90)
            .n_unique()
            .cast(pl.Float64)
            .alias("features_90d"),
            pl.col("error_count")
            .filter(pl.col("usage_date") > since_90)
            .sum()
            .cast(pl.Float64)
            .log1p()
            .alias("log_errors_90d"),
        )
        t = tickets.filter(pl.col("submitted_at") <= day)
        closed = pl.col("closed_at").is_not_null() & (pl.col("closed_at") <= day)
        tic_f = t.group_by("account_id").agg(
            (pl.col("submitted_at") > since_90).sum().cast(pl.Float64).alias("tickets_90d"),
            ((pl.col("submitted_at") > since_90) & (pl.col("priority") == "urgent"))
            .sum()
            .cast(pl.Float64)
            .alias("urgent_90d"),
            truthy("escalation_flag").sum().cast(pl.Float64).alias("escalations"),
            pl.col("satisfaction_score").filter(closed).mean().cast(pl.Float64).alias("mean_satisfaction"),
            pl.col("resolution_time_hours").filter(closed).mean().cast(pl.Float64).alias("mean_resolution_hours"),
            pl.col("first_response_time_minutes").mean().cast(pl.Float64).alias("mean_first_response_min"),
        )
        prior = (
            churn.filter(pl.col("churn_date") <= day)
            .group_by("account_id")
            .agg(pl.len().cast(pl.Float64).alias("prior_churns"))
        )
        frame = ids.join(static, on="account_id", how="left")
        for f in (sub_f, act_f, use_f, tic_f, prior):
            frame = frame.join(f, on="account_id", how="left")
        frame = frame.with_columns(
            pl.lit(day).alias("as_of"),
            ((pl.lit(day) - pl.col("signup_date")).dt.total_days().cast(pl.Float64) / 365).alias("tenure_years"),
            pl.col("mean_satisfaction").is_null().cast(pl.Float64).alias("no_satisfaction"),
        ).drop("signup_date")
        out.append(frame)
    raw = pl.concat(out, how="diagonal")
    names = [c for c in raw.columns if c not in ("as_of", "account_id")]
    # unknown averages take the training-free neutral value 0 after their missing indicator
    raw = raw.with_columns([pl.col(c).fill_null(0.0) for c in names])
    return raw, names


def compare_ravenstack(src: Path, work: Path, n_boot: int = 300) -> dict[str, Any]:
    """Convert, split by time, and compare every method on the same held-out rows."""
    root = work / "ravenstack"
    ravenstack.convert(src, root)
    config = load_config(root)
    outcomes = pl.read_csv(root / "outcomes.csv", try_parse_dates=True)
    end = outcomes["date"].max()
    assert isinstance(end, date)
    train_dates, test_dates = time_split(labelled_dates(end, HORIZON_DAYS, date(2023, 1, 31)), HORIZON_DAYS, 3)
    rows = with_label(portfolio_rows(root, config, [*train_dates, *test_dates], snapshot=end), HORIZON_DAYS)
    raw, names = ravenstack_raw_features(src, rows.select("as_of", "account_id"))
    rows = rows.join(raw, on=["as_of", "account_id"], how="left")
    train = rows.filter(pl.col("as_of").is_in(train_dates))
    test = rows.filter(pl.col("as_of").is_in(test_dates))
    result = compare_methods(train, test, HORIZON_DAYS, bands_of(config), names, account_columns(root), n_boot=n_boot)
    result["split"] = (
        f"time: train {len(train_dates)} month ends {train_dates[0]}..{train_dates[-1]} ({train.height} rows), "
        f"test {', '.join(d.isoformat() for d in test_dates)} ({test.height} rows)"
    )
    result["horizon_days"] = HORIZON_DAYS
    return result


# ------------------------------------------------------------------------------------------------ telco


TELCO_CATEGORICAL = (
    "gender",
    "Partner",
    "Dependents",
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
    "Contract",
    "PaperlessBilling",
    "PaymentMethod",
)


def telco_raw_features(customers: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """One-hot categoricals (first level dropped) and numeric columns, keyed by account_id."""
    exprs = [
        pl.col("customerID").alias("account_id"),
        pl.col("SeniorCitizen").cast(pl.Float64),
        pl.col("tenure").cast(pl.Float64),
        pl.col("MonthlyCharges").cast(pl.Float64),
        pl.col("TotalCharges").fill_null(0.0).cast(pl.Float64),
    ]
    for col in TELCO_CATEGORICAL:
        for level in sorted(customers[col].unique().to_list())[1:]:
            exprs.append((pl.col(col) == level).cast(pl.Float64).alias(f"{col}={level}"))
    frame = customers.select(exprs)
    return frame, [c for c in frame.columns if c != "account_id"]


def telco_health(customers: pl.DataFrame) -> pl.DataFrame:
    """The health formula's components for Telco, each a percentile in [0, 1] (higher is healthier):
    usage = number of the 9 services taken; support = TechSupport (Yes 1, No 0, no internet 0.5);
    engagement = tenure in months."""
    services = [
        pl.col("PhoneService") == "Yes",
        pl.col("MultipleLines") == "Yes",
        pl.col("InternetService") != "No",
        *[
            pl.col(c) == "Yes"
            for c in ("OnlineSecurity", "OnlineBackup", "DeviceProtection", "StreamingTV", "StreamingMovies")
        ],
        pl.col("TechSupport") == "Yes",
    ]
    count = sum((e.cast(pl.Float64) for e in services), start=pl.lit(0.0))

    def pct(e: pl.Expr) -> pl.Expr:
        return (e.rank("average") - 1) / (e.count() - 1)

    return customers.select(
        pl.col("customerID").alias("account_id"),
        pct(count).alias("usage"),
        pl.when(pl.col("TechSupport") == "Yes")
        .then(1.0)
        .when(pl.col("TechSupport") == "No")
        .then(0.0)
        .otherwise(0.5)
        .alias("support"),
        pct(pl.col("tenure").cast(pl.Float64)).alias("engagement"),
    )


def compare_telco(src: Path, work: Path, n_boot: int = 300) -> dict[str, Any]:
    """Convert, split customers 70/30 (seeded, stratified), and compare every method on the test customers."""
    root = work / "telco"
    telco.convert(src, root)
    config = load_config(root)
    as_of = telco.feature_as_of(telco.DEFAULT_SNAPSHOT)
    horizon = telco.CHURN_WINDOW_DAYS
    rows = with_label(portfolio_rows(root, config, [as_of], snapshot=telco.DEFAULT_SNAPSHOT), horizon)
    customers = telco.read_source(src)
    raw, names = telco_raw_features(customers)
    rows = (
        rows.drop("usage", "support", "engagement")
        .join(telco_health(customers), on="account_id", how="left")
        .join(raw, on="account_id", how="left")
    )
    rng = np.random.default_rng(SEED)
    y = np.asarray(rows["label"].to_list(), dtype=bool)
    is_test = np.zeros(rows.height, dtype=bool)
    for cls in (True, False):
        idx = np.flatnonzero(y == cls)
        is_test[rng.choice(idx, size=round(0.3 * len(idx)), replace=False)] = True
    rows = rows.with_columns(pl.Series("is_test", is_test))
    train, test = rows.filter(~pl.col("is_test")), rows.filter(pl.col("is_test"))
    result = compare_methods(train, test, horizon, bands_of(config), names, account_columns(root), n_boot=n_boot)
    result["split"] = f"customers 70/30, seed {SEED}: {train.height} train, {test.height} test, as of {as_of}"
    result["horizon_days"] = horizon
    return result


# ------------------------------------------------------------------------------------------------- main


def _ci(ci: list[float | None]) -> str:
    return "-" if not ci or ci[0] is None else f"{ci[0]:.3f}-{ci[1]:.3f}"


def _f(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def print_table(report: dict[str, Any], console: Console) -> None:
    for dataset, block in report.items():
        table = Table(
            title=f"{dataset}: {block['split']}; horizon {block['horizon_days']} days; "
            f"test churn rate {_f(block['test_churn_rate'])}; base-rate Brier {_f(block['base_rate_brier'])}",
            title_justify="left",
        )
        for col in ("method", "AUC", "95% CI", "P@10%", "P@20%", "recall", "rev. recall", "lead (d)", "Brier"):
            table.add_column(col, justify="left" if col == "method" else "right")
        for name in METHODS:
            r = block[name]
            table.add_row(
                name,
                _f(r["auc"]),
                _ci(r["auc_ci"]),
                _f(r["precision_at_10"]),
                _f(r["precision_at_20"]),
                _f(r["recall"]),
                _f(r["revenue_weighted_recall"]),
                "-" if r["median_lead_time_days"] is None else f"{r['median_lead_time_days']:g}",
                _f(r["brier"]),
            )
        console.print(table)
        console.print(f"calibrated = {block['calibrated_model']}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ravenstack", type=Path, default=None, help="folder of the ravenstack_*.csv files")
    parser.add_argument("--telco", type=Path, default=None, help="folder with Telco-Customer-Churn.csv")
    parser.add_argument("--work", type=Path, default=None, help="where to write converted portfolios")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="table, or one JSON object")
    parser.add_argument("--bootstrap", type=int, default=300, help="bootstrap resamples for the AUC interval")
    args = parser.parse_args(argv)
    if args.ravenstack is None and args.telco is None:
        parser.error("give --ravenstack DIR and/or --telco DIR")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        report: dict[str, Any] = {}
        if args.ravenstack is not None:
            accounts_file = ravenstack.SOURCE_FILES["accounts"]
            if not (args.ravenstack / accounts_file).is_file():
                parser.error(f"--ravenstack {args.ravenstack}: {accounts_file} not found")
            report["ravenstack"] = compare_ravenstack(args.ravenstack, work, args.bootstrap)
        if args.telco is not None:
            if not (args.telco / telco.SOURCE_FILE).is_file():
                parser.error(f"--telco {args.telco}: {telco.SOURCE_FILE} not found")
            report["telco"] = compare_telco(args.telco, work, args.bootstrap)
    if args.format == "json":
        print(json.dumps(report, sort_keys=True))
    else:
        print_table(report, Console(width=160))


if __name__ == "__main__":
    main()
