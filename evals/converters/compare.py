"""Backtest the signal engine on the converted public datasets and compare it with baselines.

`python -m evals.converters.compare [--ravenstack DIR] [--telco DIR] [--work DIR]` (at least one)

Per dataset, on one split, three scores rank the same held-out rows:
(a) the queue's default-weights rule score (`risk_score`, 0 outside the queue);
(b) the calibrated signal model (`tools.calibration`: signal indicators + renewal proximity);
(c) a logistic regression on the dataset's own raw columns (as of each date, standardised).
RavenStack is split by time (month-end as-of dates; training labels closed before the first test date).
Telco has one snapshot, so it is split by customer (seeded 70/30). Prints a table, then one JSON line.
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
from tools.backtest import auc, precision_at_k, run_backtest
from tools.calibration import (
    PROXIMITY_FEATURE,
    Standardizer,
    brier_score,
    design_matrix,
    feature_rows,
    fit_logistic,
    fit_rows,
    labelled_dates,
    labels_of,
    time_split,
)
from tools.config import load_config

HORIZON_DAYS = 90
SEED = 7


def scores_summary(scores: np.ndarray, y: np.ndarray, probabilistic: bool) -> dict[str, Any]:
    """AUC, precision at 10% and 20%, and the Brier score for probabilities."""
    return {
        "auc": _round(auc(scores, y)),
        "precision_at_10pct": _round(precision_at_k(scores, y, 0.1)),
        "precision_at_20pct": _round(precision_at_k(scores, y, 0.2)),
        "brier": _round(brier_score(scores, y)) if probabilistic else None,
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 4)


def signal_model(train: pl.DataFrame, test: pl.DataFrame) -> np.ndarray:
    """(b): the calibration model fitted on train rows, probabilities for test rows."""
    names = [*sorted({s for lst in train["signals"].to_list() for s in lst}), PROXIMITY_FEATURE]
    return fit_rows(train, names, 1.0).predict_proba(design_matrix(test, names))


def raw_model(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray) -> np.ndarray:
    """(c): standardised logistic regression on raw columns (statistics from training rows only)."""
    scaler = Standardizer.fit(x_train)
    model = fit_logistic(scaler.transform(x_train), y_train, l2=1.0)
    return model.predict_proba(scaler.transform(x_test))


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
            (truthy("upgrade_flag") & (pl.col("start_date") > since_90))
            .sum()
            .cast(pl.Float64)
            .alias("upgrades_90d"),
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
            pl.col("resolution_time_hours")
            .filter(closed)
            .mean()
            .cast(pl.Float64)
            .alias("mean_resolution_hours"),
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
            ((pl.lit(day) - pl.col("signup_date")).dt.total_days().cast(pl.Float64) / 365).alias(
                "tenure_years"
            ),
            pl.col("mean_satisfaction").is_null().cast(pl.Float64).alias("no_satisfaction"),
        ).drop("signup_date")
        out.append(frame)
    raw = pl.concat(out, how="diagonal")
    names = [c for c in raw.columns if c not in ("as_of", "account_id")]
    # unknown averages take the training-free neutral value 0 after their missing indicator
    raw = raw.with_columns([pl.col(c).fill_null(0.0) for c in names])
    return raw, names


def compare_ravenstack(src: Path, work: Path) -> dict[str, Any]:
    """Convert, split by time, and score (a), (b), (c) on the same held-out rows."""
    root = work / "ravenstack"
    ravenstack.convert(src, root)
    config = load_config(root)
    outcomes = pl.read_csv(root / "outcomes.csv", try_parse_dates=True)
    end = outcomes["date"].max()
    assert isinstance(end, date)
    train_dates, test_dates = time_split(
        labelled_dates(end, HORIZON_DAYS, date(2023, 1, 31)), HORIZON_DAYS, 3
    )
    rows = feature_rows(root, config, [*train_dates, *test_dates], HORIZON_DAYS)
    raw, names = ravenstack_raw_features(src, rows.select("as_of", "account_id"))
    rows = rows.join(raw, on=["as_of", "account_id"], how="left")
    train = rows.filter(pl.col("as_of").is_in(train_dates))
    test = rows.filter(pl.col("as_of").is_in(test_dates))
    y_test = labels_of(test)
    results = {
        "rule_score": scores_summary(np.asarray(test["risk_score"].to_list(), dtype=float), y_test, False),
        "signal_model": scores_summary(signal_model(train, test), y_test, True),
        "raw_feature_lr": scores_summary(
            raw_model(train.select(names).to_numpy(), labels_of(train), test.select(names).to_numpy()),
            y_test,
            True,
        ),
    }
    backtest = run_backtest(root, test_dates[-1], HORIZON_DAYS, config)
    return {
        "split": "time",
        "train_dates": f"{train_dates[0]}..{train_dates[-1]} ({len(train_dates)} month ends)",
        "test_dates": ", ".join(d.isoformat() for d in test_dates),
        "n_train": train.height,
        "n_test": test.height,
        "test_churn_rate": round(float(y_test.mean()), 4),
        "results": results,
        "backtest": backtest.model_dump(mode="json", exclude={"scan_dates", "missed"}),
    }


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


def compare_telco(src: Path, work: Path) -> dict[str, Any]:
    """Convert, split customers 70/30 (seeded, stratified), and score (a), (b), (c)."""
    root = work / "telco"
    telco.convert(src, root)
    config = load_config(root)
    as_of = telco.feature_as_of(telco.DEFAULT_SNAPSHOT)
    rows = feature_rows(root, config, [as_of], telco.CHURN_WINDOW_DAYS)
    raw, names = telco_raw_features(telco.read_source(src))
    rows = rows.join(raw, on="account_id", how="left")
    rng = np.random.default_rng(SEED)
    y = labels_of(rows)
    is_test = np.zeros(rows.height, dtype=bool)
    for cls in (True, False):
        idx = np.flatnonzero(y == cls)
        is_test[rng.choice(idx, size=round(0.3 * len(idx)), replace=False)] = True
    rows = rows.with_columns(pl.Series("is_test", is_test))
    train, test = rows.filter(~pl.col("is_test")), rows.filter(pl.col("is_test"))
    y_test = labels_of(test)
    queue_size = int((rows["risk_score"] > 0).sum())
    results = {
        "rule_score": scores_summary(np.asarray(test["risk_score"].to_list(), dtype=float), y_test, False),
        "signal_model": scores_summary(signal_model(train, test), y_test, True),
        "raw_feature_lr": scores_summary(
            raw_model(train.select(names).to_numpy(), labels_of(train), test.select(names).to_numpy()),
            y_test,
            True,
        ),
    }
    return {
        "split": f"customers 70/30, seed {SEED}",
        "as_of": as_of.isoformat(),
        "horizon_days": telco.CHURN_WINDOW_DAYS,
        "n_train": train.height,
        "n_test": test.height,
        "test_churn_rate": round(float(y_test.mean()), 4),
        "accounts_in_queue": queue_size,
        "results": results,
    }


# ------------------------------------------------------------------------------------------------- main


def print_table(report: dict[str, Any], console: Console) -> None:
    table = Table(title=f"Backtest vs baselines (horizon: RavenStack {HORIZON_DAYS} days, Telco 30 days)")
    for col in ("dataset", "score", "AUC", "P@10%", "P@20%", "Brier", "test rows", "churn rate"):
        table.add_column(col)
    for dataset, block in report.items():
        for name, r in block["results"].items():
            table.add_row(
                dataset,
                name,
                *(
                    f"{v:.3f}" if v is not None else "-"
                    for v in (r["auc"], r["precision_at_10pct"], r["precision_at_20pct"], r["brier"])
                ),
                str(block["n_test"]),
                f"{block['test_churn_rate']:.3f}",
            )
    console.print(table)
    bt = report.get("ravenstack", {}).get("backtest")
    if bt:
        console.print(
            f"RavenStack backtest as of {bt['as_of']}: recall {bt['recall']:.2f} "
            f"at level {bt['flag_level']}+ "
            f"({bt['n_flagged']} of {bt['n_accounts']} flagged), revenue-weighted recall "
            f"{bt['revenue_weighted_recall']:.2f}, median lead time {bt['median_lead_time_days']} days, "
            f"flagged 90+ days ahead {bt['share_flagged_90d_ahead']:.2f}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--ravenstack", type=Path, default=None, help="folder of the ravenstack_*.csv files")
    parser.add_argument("--telco", type=Path, default=None, help="folder with Telco-Customer-Churn.csv")
    parser.add_argument("--work", type=Path, default=None, help="where to write converted portfolios")
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
            report["ravenstack"] = compare_ravenstack(args.ravenstack, work)
        if args.telco is not None:
            if not (args.telco / telco.SOURCE_FILE).is_file():
                parser.error(f"--telco {args.telco}: {telco.SOURCE_FILE} not found")
            report["telco"] = compare_telco(args.telco, work)
        print_table(report, Console(width=120))
        print(json.dumps(report, sort_keys=True))


if __name__ == "__main__":
    main()
