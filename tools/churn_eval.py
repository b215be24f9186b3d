"""Honest held-out comparison: every method ranks the same test rows in one run.

Metrics per method (`method_metrics`): AUC with a 95% bootstrap interval resampled by account (an account's
rows stay together, since its rows at neighbouring dates are not independent), precision among the top
10% and 20% of rows, recall and revenue-weighted recall of the flagged rows (the top 20% of each as-of
date: the same review budget for every method), median lead time (days from the first as-of date at
which a churner was flagged to its churn), the Brier score of probabilities (None for a score that is
not one) and, once per dataset, the Brier score of predicting the training churn rate.

Methods (`compare_methods`): the rule score; the calibrated model (tools.churn_model, chosen and fitted
on training rows only); the training churn rate; the fixed health formula 0.4 usage + 0.3 support +
0.3 engagement (its components are built per dataset, see tools.churn_rows.health_components); and a
logistic regression and a gradient-boosted model on the dataset's raw columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from tools.backtest import precision_at_k
from tools.churn_model import GBM_DEFAULTS, choose_and_fit, fit_logistic_part, fit_tree_part, sigmoid
from tools.churn_rows import health_risk

FLAG_SHARE = 0.2
BOOTSTRAP = 300
SEED = 7


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), digits)


def auc_with_interval(
    scores: np.ndarray, y: np.ndarray, groups: Sequence[str], n_boot: int = BOOTSTRAP, seed: int = SEED
) -> tuple[float | None, list[float | None]]:
    """AUC and its 95% percentile interval over bootstrap resamples of accounts (weights = draws)."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(y)) < 2:
        return None, [None, None]
    point = float(roc_auc_score(y, scores))
    ids, inverse = np.unique(np.asarray(groups), return_inverse=True)
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n_boot):
        draws = np.bincount(rng.integers(0, len(ids), len(ids)), minlength=len(ids))
        w = draws[inverse].astype(float)
        keep = w > 0
        yk = y[keep]
        if yk.all() or not yk.any():
            continue
        values.append(float(roc_auc_score(yk, scores[keep], sample_weight=w[keep])))
    if not values:
        return point, [None, None]
    lo, hi = np.percentile(values, [2.5, 97.5])
    return point, [round(float(lo), 4), round(float(hi), 4)]


def flagged(scores: np.ndarray, as_of: Sequence[date], share: float = FLAG_SHARE) -> np.ndarray:
    """The top `share` of rows of each as-of date by score (ties broken by row order, deterministically)."""
    days = np.asarray([d.toordinal() for d in as_of])
    out = np.zeros(len(scores), dtype=bool)
    for d in np.unique(days):
        idx = np.flatnonzero(days == d)
        k = int(np.ceil(share * len(idx)))
        order = idx[np.argsort(-scores[idx], kind="stable")]
        out[order[:k]] = True
    return out


def method_metrics(
    scores: np.ndarray, test: pl.DataFrame, *, probabilistic: bool, n_boot: int = BOOTSTRAP
) -> dict[str, Any]:
    """The metrics of one method's scores on the test rows (columns account_id, as_of, label, arr, next_churn)."""
    y = np.asarray(test["label"].to_list(), dtype=bool)
    arr = np.asarray(test["arr"].cast(pl.Float64).fill_null(0.0).to_list(), dtype=float)
    as_of = test["as_of"].to_list()
    ids = test["account_id"].to_list()
    point, interval = auc_with_interval(scores, y, ids, n_boot)
    flags = flagged(scores, as_of)
    churned_arr = float(arr[y].sum())
    first_flag: dict[tuple[str, date], date] = {}
    for a, d, c, f, lab in zip(ids, as_of, test["next_churn"].to_list(), flags, y, strict=True):
        if f and lab:
            key = (a, c)
            first_flag[key] = min(first_flag.get(key, d), d)
    leads = [(c - d).days for (_, c), d in first_flag.items()]
    return {
        "auc": _round(point),
        "auc_ci": interval,
        "precision_at_10": _round(precision_at_k(scores, y, 0.1)),
        "precision_at_20": _round(precision_at_k(scores, y, 0.2)),
        "recall": _round(float((flags & y).sum() / y.sum())) if y.any() else None,
        "revenue_weighted_recall": _round(float(arr[flags & y].sum() / churned_arr)) if churned_arr > 0 else None,
        "median_lead_time_days": float(np.median(leads)) if leads else None,
        "brier": _round(float(np.mean((scores - y) ** 2))) if probabilistic else None,
        "n_test": len(y),
    }


def _raw_matrix(frame: pl.DataFrame, names: Sequence[str]) -> np.ndarray:
    return frame.select([pl.col(c).cast(pl.Float64) for c in names]).to_numpy().astype(float)


def compare_methods(
    train: pl.DataFrame,
    test: pl.DataFrame,
    horizon_days: int,
    bands: Sequence[tuple[int, float]],
    raw_names: Sequence[str],
    account_columns: Sequence[str],
    *,
    n_boot: int = BOOTSTRAP,
) -> dict[str, Any]:
    """Every method fitted on `train` and scored on the same `test` rows (see module docstring).

    Both frames carry the portfolio rows (tools.churn_rows) with `label`, the health components, and the
    raw columns `raw_names` (numbers; NaN where unknown)."""
    y_train = np.asarray(train["label"].to_list(), dtype=bool)
    y_test = np.asarray(test["label"].to_list(), dtype=bool)
    rate = float(y_train.mean()) if len(y_train) else 0.0
    model = choose_and_fit(train, horizon_days, bands, account_columns)
    x_train = _raw_matrix(train, raw_names)
    x_test = _raw_matrix(test, raw_names)
    raw_lr = fit_logistic_part(x_train, y_train, [0] * len(raw_names), c=1.0)
    raw_gbm = fit_tree_part(x_train, y_train, None, **GBM_DEFAULTS)
    scores: dict[str, tuple[np.ndarray, bool]] = {
        "rule_score": (np.asarray(test["risk_score"].to_list(), dtype=float), False),
        "calibrated": (model.predict(test), True),
        "training_rate": (np.full(test.height, rate), True),
        "health_formula": (test.select(health_risk(test)).to_series().to_numpy().astype(float), False),
        "raw_logistic": (np.asarray(sigmoid(raw_lr.logit(x_test))), True),
        "raw_gbm": (np.asarray(sigmoid(raw_gbm.logit(x_test))), True),
    }
    out: dict[str, Any] = {
        name: method_metrics(s, test, probabilistic=prob, n_boot=n_boot) for name, (s, prob) in scores.items()
    }
    out["base_rate_brier"] = _round(float(np.mean((rate - y_test) ** 2))) if len(y_test) else None
    out["test_churn_rate"] = _round(float(y_test.mean())) if len(y_test) else None
    out["calibrated_model"] = f"{model.kind} ({model.about.get('chosen')}; {model.about.get('inner_split')})"
    return out


def raw_account_columns(
    train: pl.DataFrame,
    test: pl.DataFrame,
    horizon_days: int,
    bands: Sequence[tuple[int, float]],
    account_columns: Sequence[str],
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """A portfolio's raw columns for the raw-column baselines: its accounts.csv attributes as of each date
    (tenure, days to renewal, ARR, licences, numeric extras, one-hot categories), without any signal."""
    from tools.churn_model import build_spec, encode, feature_frame

    spec = build_spec(feature_frame(train, horizon_days, bands), account_columns)
    spec.signals = []
    spec.numeric = [c for c in spec.numeric if c not in ("n_signals", "rule_score", "renewal_band")]
    names = [f"raw:{n}" for n in spec.names()]

    def add(frame: pl.DataFrame) -> pl.DataFrame:
        x = encode(feature_frame(frame, horizon_days, bands), spec)
        return frame.with_columns([pl.Series(n, x[:, j], dtype=pl.Float64) for j, n in enumerate(names)])

    return add(train), add(test), names


def compare_portfolio(
    root: Any, config: Any, horizon_days: int, n_test_dates: int = 3, as_of: date | None = None, n_boot: int = BOOTSTRAP
) -> dict[str, Any]:
    """`riskbrief backtest --compare`: every method on the same held-out rows of one portfolio (time split)."""
    from tools.calibration import history_span, labelled_dates, time_split
    from tools.churn_rows import portfolio_rows, with_label
    from tools.errors import InputError
    from tools.portfolio import load_portfolio

    full = load_portfolio(root, include_outcomes=True)
    earliest, latest = history_span(full, "a backtest")
    end = as_of or latest
    train_dates, test_dates = time_split(labelled_dates(end, horizon_days, earliest), horizon_days, n_test_dates)
    if len(train_dates) < 2 or not test_dates:
        raise InputError(f"{root}: too little outcome history for a time split at {horizon_days} days")
    rows = with_label(portfolio_rows(root, config, [*train_dates, *test_dates], snapshot=end), horizon_days)
    train = rows.filter(pl.col("as_of").is_in(train_dates))
    test = rows.filter(pl.col("as_of").is_in(test_dates))
    bands = [(b.max_days, b.adjustment) for b in config.renewal_proximity]
    columns = full.accounts.columns
    train, test, names = raw_account_columns(train, test, horizon_days, bands, columns)
    result = compare_methods(train, test, horizon_days, bands, names, columns, n_boot=n_boot)
    result["split"] = (
        f"time: train {len(train_dates)} month ends {train_dates[0]}..{train_dates[-1]} ({train.height} rows), "
        f"test {', '.join(d.isoformat() for d in test_dates)} ({test.height} rows)"
    )
    result["horizon_days"] = horizon_days
    return result
