"""Calibration: fitting churn models on outcome history and saying how well they did on later dates.

`calibrate_models` builds, for month-end as-of dates whose label window is observed, each account's row
(tools.churn_rows: signals and account attributes as of that date) and its label (churned in
(D, D + horizon]); splits by time, so the models are chosen and fitted on dates whose labels were known
before the first test date and evaluated on the later ones (nothing leaks backwards); chooses and fits one
model per horizon (tools.churn_model); and writes them as JSON beside riskbrief.toml with a
`[calibration]` table pointing at them (`write_models`).

Also here: the metrics (Brier, log loss, reliability bins), the hand-written L2 logistic regression that
the tests compare with scikit-learn's, and `churn_probability()`, which still reads an older
`[calibration]` table of signal weights.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from pydantic import BaseModel, Field

from tools.backtest import auc, precision_at_k
from tools.errors import InputError

if TYPE_CHECKING:
    from tools.config import Config
    from tools.portfolio import Portfolio

# The continuous feature next to the signal indicators; tools.scoring reads its weight by this name.
PROXIMITY_FEATURE = "temporal_adjustment"

# --------------------------------------------------------------------------------------------- the model


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function, stable for large |z|."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


@dataclass(frozen=True)
class LogisticModel:
    """A fitted logistic regression: p = sigmoid(intercept + X @ coef)."""

    intercept: float
    coef: np.ndarray
    feature_names: tuple[str, ...]
    iterations: int = 0

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Probability of the positive class for each row of `x`."""
        return sigmoid(self.intercept + np.asarray(x, dtype=float) @ self.coef)

    def weights(self) -> dict[str, float]:
        """Coefficients by feature name."""
        return {n: float(c) for n, c in zip(self.feature_names, self.coef, strict=True)}


def _penalised_loss(design: np.ndarray, y: np.ndarray, w: np.ndarray, penalty: np.ndarray) -> float:
    """Negative log-likelihood plus the L2 penalty, computed without overflow."""
    z = design @ w
    nll = float(np.sum(y * np.logaddexp(0.0, -z) + (1 - y) * np.logaddexp(0.0, z)))
    return nll + 0.5 * float(np.sum(penalty * w * w))


def fit_logistic(
    x: np.ndarray,
    y: np.ndarray,
    feature_names: Sequence[str] | None = None,
    *,
    l2: float = 1.0,
    max_iter: int = 100,
    tol: float = 1e-9,
) -> LogisticModel:
    """Fit by Newton/IRLS with an L2 penalty `l2 * |coef|^2 / 2` (the intercept is not penalised).

    Each Newton step is halved until the penalised loss decreases (a full step from far away can
    overshoot and diverge). The penalty keeps weights finite when a feature separates the classes.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError("x must be 2-D with one row per label")
    n, d = x.shape
    names = tuple(feature_names) if feature_names is not None else tuple(f"x{i}" for i in range(d))
    design = np.hstack([np.ones((n, 1)), x])
    penalty = np.full(d + 1, float(l2))
    penalty[0] = 0.0
    rate = float(np.clip(y.mean() if n else 0.5, 1e-6, 1 - 1e-6))
    w = np.zeros(d + 1)
    w[0] = math.log(rate / (1 - rate))
    loss = _penalised_loss(design, y, w, penalty)
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        p = sigmoid(design @ w)
        gradient = design.T @ (p - y) + penalty * w
        curvature = p * (1 - p)
        hessian = (design.T * curvature) @ design + np.diag(penalty) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hessian, gradient)
        t = 1.0
        while True:
            candidate = w - t * step
            new_loss = _penalised_loss(design, y, candidate, penalty)
            if new_loss <= loss - 1e-4 * t * float(gradient @ step) or t < 1e-10:
                break
            t *= 0.5
        w, loss = candidate, new_loss
        if float(np.max(np.abs(t * step))) < tol:
            break
    return LogisticModel(intercept=float(w[0]), coef=w[1:].copy(), feature_names=names, iterations=iterations)


@dataclass(frozen=True)
class Standardizer:
    """Centre and scale columns with statistics of the training rows only."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardizer:
        x = np.asarray(x, dtype=float)
        scale = x.std(axis=0)
        return cls(mean=x.mean(axis=0), scale=np.where(scale > 0, scale, 1.0))

    def transform(self, x: np.ndarray) -> np.ndarray:
        return (np.asarray(x, dtype=float) - self.mean) / self.scale


# ------------------------------------------------------------------------------------ calibration metrics


class ReliabilityBin(BaseModel):
    """Predictions falling in [lower, upper): how many, their mean, and the observed churn rate."""

    lower: float
    upper: float
    count: int
    mean_predicted: float
    observed_rate: float


def brier_score(p: Sequence[float] | np.ndarray, y: Sequence[bool] | np.ndarray) -> float:
    """Mean squared difference between predicted probability and outcome (0 is perfect)."""
    pa = np.asarray(p, dtype=float)
    ya = np.asarray(y, dtype=float)
    return float(np.mean((pa - ya) ** 2)) if len(pa) else float("nan")


def log_loss(p: Sequence[float] | np.ndarray, y: Sequence[bool] | np.ndarray, eps: float = 1e-12) -> float:
    """Mean negative log-likelihood of the outcomes."""
    pa = np.clip(np.asarray(p, dtype=float), eps, 1 - eps)
    ya = np.asarray(y, dtype=float)
    return float(-np.mean(ya * np.log(pa) + (1 - ya) * np.log(1 - pa)))


def reliability_bins(
    p: Sequence[float] | np.ndarray, y: Sequence[bool] | np.ndarray, n_bins: int = 10
) -> list[ReliabilityBin]:
    """Equal-width bins over [0, 1]; empty bins are left out. The last bin includes 1.0."""
    pa = np.asarray(p, dtype=float)
    ya = np.asarray(y, dtype=float)
    index = np.minimum((pa * n_bins).astype(int), n_bins - 1)
    bins = []
    for b in range(n_bins):
        mask = index == b
        if mask.any():
            bins.append(
                ReliabilityBin(
                    lower=b / n_bins,
                    upper=(b + 1) / n_bins,
                    count=int(mask.sum()),
                    mean_predicted=float(pa[mask].mean()),
                    observed_rate=float(ya[mask].mean()),
                )
            )
    return bins


def expected_calibration_error(bins: Sequence[ReliabilityBin]) -> float:
    """Count-weighted mean |predicted - observed| over the bins."""
    total = sum(b.count for b in bins)
    if total == 0:
        return float("nan")
    return sum(b.count * abs(b.mean_predicted - b.observed_rate) for b in bins) / total


# --------------------------------------------------------------------------------- features of the queue


def churn_probability(
    signal_ids: Iterable[str], temporal_adjustment: float, weights: Mapping[str, float], intercept: float
) -> float:
    """Churn probability of one account under a calibrated model (features without a weight weigh 0)."""
    z = intercept + sum(weights.get(s, 0.0) for s in set(signal_ids))
    z += weights.get(PROXIMITY_FEATURE, 0.0) * temporal_adjustment
    return float(sigmoid(np.asarray(z)))


class HeldOut(BaseModel):
    """How well probabilities fitted on earlier dates did on later ones."""

    n: int
    churn_rate: float
    auc: float | None
    precision_at_10pct: float | None
    precision_at_20pct: float | None
    brier: float
    base_rate_brier: float = Field(description="Brier score of predicting the training churn rate for everyone")
    log_loss: float
    expected_calibration_error: float
    reliability: list[ReliabilityBin]


def evaluate_probabilities(p: np.ndarray, y: np.ndarray, train_rate: float) -> HeldOut:
    """Discrimination and calibration of held-out probabilities."""
    bins = reliability_bins(p, y)
    return HeldOut(
        n=len(y),
        churn_rate=float(np.mean(y)) if len(y) else 0.0,
        auc=auc(p, y),
        precision_at_10pct=precision_at_k(p, y, 0.1) if len(y) else None,
        precision_at_20pct=precision_at_k(p, y, 0.2) if len(y) else None,
        brier=brier_score(p, y),
        base_rate_brier=brier_score(np.full(len(y), train_rate), y),
        log_loss=log_loss(p, y),
        expected_calibration_error=expected_calibration_error(bins),
        reliability=bins,
    )


def month_end(day: date) -> date:
    """The last day of `day`'s month."""
    first_next = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return first_next - timedelta(days=1)


def labelled_dates(end: date, horizon_days: int, earliest: date, limit: int = 24) -> list[date]:
    """Month-end as-of dates whose whole horizon is observed by `end`, newest first.

    Month ends keep monthly usage periods complete at each as-of date (a period is dated by its start).
    """
    dates: list[date] = []
    day = end - timedelta(days=horizon_days)
    day = day if day == month_end(day) else date(day.year, day.month, 1) - timedelta(days=1)
    while day >= earliest and len(dates) < limit:
        dates.append(day)
        day = date(day.year, day.month, 1) - timedelta(days=1)
    return dates


def time_split(dates_newest_first: Sequence[date], horizon_days: int, n_test: int) -> tuple[list[date], list[date]]:
    """Test on the newest `n_test` dates; train on dates whose labels were known before the first of them."""
    test = sorted(dates_newest_first[:n_test])
    if not test:
        return [], []
    cutoff = test[0] - timedelta(days=horizon_days)
    train = sorted(d for d in dates_newest_first if d <= cutoff)
    return train, test


def labels_of(rows: pl.DataFrame) -> np.ndarray:
    return np.asarray(rows["label"].to_list(), dtype=bool)


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
"""A TOML table header line, `[name]` or `[[name]]`."""


def replace_calibration_table(path: Path, table: str) -> None:
    """Write `table` (TOML text) into `path` in place of any earlier `[calibration]` tables, keeping the rest."""
    kept: list[str] = []
    if path.is_file():
        skipping = False
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _HEADER.match(line)
            if match:
                name = match.group(1)
                skipping = name == "calibration" or name.startswith("calibration.")
            if not skipping:
                kept.append(line)
        while kept and not kept[-1].strip():
            kept.pop()
    body = "\n".join(kept) + ("\n\n" if kept else "")
    path.write_text(body + table, encoding="utf-8")


# ------------------------------------------------------------------------- the model per horizon (format 2)


class HorizonReport(BaseModel):
    """One horizon's model: how it was chosen and how it did on the held-out dates."""

    horizon_days: int
    train_dates: list[date]
    test_dates: list[date]
    n_train: int
    train_churn_rate: float
    chosen: str = Field(description="the candidate chosen on the inner split of the training dates")
    written: str = Field(description="the candidate chosen again, on every labelled date, for the written model")
    inner_split: str
    inner_auc: dict[str, float | None]
    intercept_shift: float = Field(description="re-fitted on the newest labelled window of the written model")
    held_out: HeldOut = Field(description="chosen and fitted on train dates only, scored on test dates")
    rule_score_auc: float | None
    rule_score_precision_at_10pct: float | None


class ModelCalibrationReport(BaseModel):
    """Models for each horizon, the columns they read, and their held-out evaluation."""

    primary_horizon_days: int
    fitted_as_of: str
    extra_numeric: list[str] = Field(description="extra accounts.csv columns read as numbers")
    extra_categorical: list[str] = Field(description="extra accounts.csv columns read as categories")
    ignored_columns: list[str] = Field(description="extra accounts.csv columns the model does not read")
    horizons: list[HorizonReport]
    notes: list[str] = Field(default_factory=list)
    model_json: str = Field(default="", exclude=True, repr=False)


def history_span(full: Portfolio, what: str) -> tuple[date, date]:
    """The first and the last date of a portfolio's history (loaded with its outcomes): the earliest
    contract start or outcome, and the latest outcome. InputError when there is no outcome to learn from."""
    outcomes = full.table("outcomes")
    if outcomes is None or outcomes.height == 0:
        raise InputError(f"{full.root}: outcomes.csv is missing or empty; {what} needs outcome history")
    latest = outcomes["date"].max()
    assert isinstance(latest, date)
    starts = full.accounts["contract_start"].drop_nulls() if "contract_start" in full.accounts.columns else None
    candidates = [d for d in (starts.min() if starts is not None and starts.len() else None,) if isinstance(d, date)]
    first = outcomes["date"].min()
    if isinstance(first, date):
        candidates.append(first)
    return max(min(candidates), date(1900, 1, 31)) if candidates else date(1900, 1, 31), latest


def calibrate_models(
    portfolio_dir: Path,
    *,
    as_of: date | None = None,
    horizons: Sequence[int] = (30, 90, 180),
    primary: int | None = None,
    n_test_dates: int = 3,
    config: Config | None = None,
) -> ModelCalibrationReport:
    """Fit one churn model per horizon (tools.churn_model) on outcome history and evaluate it on held-out
    dates; the models written are refitted on every labelled date of their horizon."""
    from tools.churn_model import ChurnModelSet, choose_and_fit
    from tools.churn_rows import portfolio_rows, with_label
    from tools.config import load_config
    from tools.portfolio import load_portfolio

    if not horizons or any(h <= 0 for h in horizons):
        raise InputError(f"--horizon must be positive numbers of days, got {list(horizons)}")
    root = Path(portfolio_dir)
    config = config or load_config(root)
    full = load_portfolio(root, include_outcomes=True)
    earliest, latest = history_span(full, "calibration")
    end = as_of or latest
    plan: dict[int, tuple[list[date], list[date], list[date]]] = {}
    notes: list[str] = []
    for h in sorted(set(horizons)):
        dates = labelled_dates(end, h, earliest)
        first, held = time_split(dates, h, n_test_dates)
        if len(first) < 2 or not held:
            notes.append(f"{h} days: too little history for a time split ({len(dates)} labelled month ends); skipped")
            continue
        plan[h] = (sorted(dates), first, held)
    if not plan:
        raise InputError(f"{root}: too little outcome history to calibrate any horizon ({'; '.join(notes)})")
    all_dates = sorted({d for dates, _, _ in plan.values() for d in dates})
    rows_all = portfolio_rows(root, config, all_dates, snapshot=end)
    account_columns = full.accounts.columns
    bands = [(b.max_days, b.adjustment) for b in config.renewal_proximity]
    reports: list[HorizonReport] = []
    models = {}
    for h, (dates, train_dates, test_dates) in plan.items():
        rows = with_label(rows_all.filter(pl.col("as_of").is_in(dates)), h)
        train = rows.filter(pl.col("as_of").is_in(train_dates))
        test = rows.filter(pl.col("as_of").is_in(test_dates))
        y_train, y_test = labels_of(train), labels_of(test)
        held_model = choose_and_fit(train, h, bands, account_columns)
        p = held_model.predict(test)
        rule = np.asarray(test["risk_score"].to_list(), dtype=float)
        final = choose_and_fit(rows, h, bands, account_columns)
        final.about["fitted_as_of"] = f"{dates[0].isoformat()}..{dates[-1].isoformat()}"
        final.about["test_auc"] = auc(p, y_test)
        models[h] = final
        reports.append(
            HorizonReport(
                horizon_days=h,
                train_dates=train_dates,
                test_dates=test_dates,
                n_train=len(y_train),
                train_churn_rate=float(y_train.mean()) if len(y_train) else 0.0,
                chosen=str(held_model.about["chosen"]),
                written=str(final.about["chosen"]),
                inner_split=str(held_model.about["inner_split"]),
                inner_auc=dict(held_model.about["inner_auc"]),
                intercept_shift=float(final.offset),
                held_out=evaluate_probabilities(p, y_test, float(y_train.mean()) if len(y_train) else 0.0),
                rule_score_auc=auc(rule, y_test),
                rule_score_precision_at_10pct=precision_at_k(rule, y_test, 0.1) if len(y_test) else None,
            )
        )
    chosen_primary = primary if primary in models else (90 if 90 in models else min(models))
    fitted = f"{min(all_dates).isoformat()}..{max(all_dates).isoformat()}"
    spec = models[chosen_primary].spec
    model_set = ChurnModelSet(models=models, primary=chosen_primary, fitted={"as_of_dates": fitted})
    return ModelCalibrationReport(
        primary_horizon_days=chosen_primary,
        fitted_as_of=fitted,
        extra_numeric=spec.extra_numeric,
        extra_categorical=spec.extra_categorical,
        ignored_columns=spec.ignored,
        horizons=reports,
        notes=notes,
        model_json=model_set.to_json(),
    )


MODEL_FILE = "riskbrief.churn.json"


def model_toml(report: ModelCalibrationReport, model_file: str) -> str:
    """The `[calibration]` table (format 2) naming the model file."""
    lines = [
        "[calibration]",
        "# Churn models from `riskbrief calibrate` (one per horizon, in model_file next to this file).",
        "# The queue shows P(churn) within horizon_days, ARR at risk and the top factors; the rule score",
        "# still orders it. Delete this table to go back to the rule score alone.",
        f"format = {2}",
        f'model_file = "{model_file}"',
        f"horizon_days = {report.primary_horizon_days}",
        f"horizons = [{', '.join(str(h.horizon_days) for h in report.horizons)}]",
        f'fitted_as_of = "{report.fitted_as_of}"',
    ]
    for h in report.horizons:
        a = h.held_out.auc
        lines.append(
            f"# {h.horizon_days} days: {h.chosen}; held-out AUC {'-' if a is None else f'{a:.3f}'}, "
            f"Brier {h.held_out.brier:.4f} (base rate {h.held_out.base_rate_brier:.4f})"
        )
    return "\n".join(lines) + "\n"


def write_models(path: Path, report: ModelCalibrationReport) -> Path:
    """Write the model file beside `path` and the `[calibration]` table into `path` (other tables kept)."""
    model_path = path.parent / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_text(report.model_json, encoding="utf-8")
    replace_calibration_table(path, model_toml(report, MODEL_FILE))
    return model_path
