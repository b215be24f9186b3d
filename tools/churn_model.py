"""The churn model: what it reads, how it is chosen and fitted, how it is stored and why it says what it says.

Features of an account as of D (`feature_frame`): the indicator of each active signal, their count and the
rule score (0 outside the queue); tenure from `contract_start`, days to renewal, the renewal-proximity band
and whether the renewal falls inside the horizon; log ARR, licences, segment; and every extra column of
accounts.csv, detected as numeric or categorical when the model is fitted (`detect_extras`).

Two candidates are fitted on an inner time split of the training dates (`choose_and_fit`): an L2 logistic
regression (scikit-learn, standardised, missing values imputed with the training median plus an
indicator) and a shallow gradient-boosted model (scikit-learn's HistGradientBoostingClassifier). The one
with the better inner AUC is refitted on every training row. Where the direction is known the model is
constrained: a longer tenure never raises risk, an active signal, more signals or a higher rule score
never lower it (monotone constraints for the trees; for the regression a coefficient of the wrong sign
is dropped and the model refitted). Finally the intercept is re-fitted on the newest labelled window
(the as-of dates within one horizon of the newest), because base rates drift.

The fitted model is plain JSON (`ChurnModel.to_json`): coefficients, or each tree's splits and leaf
values; no pickle. `explain` splits each account's log-odds into per-factor contributions relative to
the average training account (exactly additive for both kinds: coefficient x standardised value, and
path-wise changes of the expected tree value).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from tools.models import ChurnFactor
from tools.portfolio import TABLES
from tools.registry import REGISTRY

if TYPE_CHECKING:
    from tools.config import Config

FORMAT = 2
HORIZONS = (30, 90, 180)
SIGNAL_PREFIX = "signal:"
# Columns of accounts.csv the model reads in its own way, or never (identifiers, free text, dates).
RESERVED_COLUMNS = frozenset(
    {c.name for c in TABLES["accounts"].columns} | {"health_score", "contract_term_months"}
)
BASE_NUMERIC = (
    "n_signals",
    "rule_score",
    "tenure_days",
    "days_to_renewal",
    "renewal_band",
    "renews_in_horizon",
    "log_arr",
    "licenses",
)
# +1: never lowers risk; -1: never raises it.
MONOTONE = {"tenure_days": -1, "n_signals": 1, "rule_score": 1}
MAX_LEVELS = 30
MIN_LEVEL_COUNT = 10
Kind = Literal["logistic", "gbm"]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(z, dtype=float)))


# ------------------------------------------------------------------------------------------- features


@dataclass
class FeatureSpec:
    """Which columns the model reads and how each is encoded."""

    signals: list[str]
    numeric: list[str]
    categorical: dict[str, list[str]]
    extra_numeric: list[str] = field(default_factory=list)
    extra_categorical: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        """Encoded column names, in matrix order."""
        return [
            *(SIGNAL_PREFIX + s for s in self.signals),
            *self.numeric,
            *(f"{c}={v}" for c, levels in self.categorical.items() for v in levels),
        ]

    def factor_of(self) -> list[str]:
        """The factor (source attribute) of each encoded column: one-hot levels group under their column."""
        return [
            *(SIGNAL_PREFIX + s for s in self.signals),
            *self.numeric,
            *(c for c, levels in self.categorical.items() for _ in levels),
        ]

    def monotone(self) -> list[int]:
        return [
            *(1 for _ in self.signals),
            *(MONOTONE.get(n, 0) for n in self.numeric),
            *(0 for levels in self.categorical.values() for _ in levels),
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "signals": self.signals,
            "numeric": self.numeric,
            "categorical": self.categorical,
            "extra_numeric": self.extra_numeric,
            "extra_categorical": self.extra_categorical,
            "ignored": self.ignored,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            signals=list(d["signals"]),
            numeric=list(d["numeric"]),
            categorical={k: list(v) for k, v in d["categorical"].items()},
            extra_numeric=list(d.get("extra_numeric", [])),
            extra_categorical=list(d.get("extra_categorical", [])),
            ignored=list(d.get("ignored", [])),
        )


def _as_float(series: pl.Series) -> pl.Series:
    if series.dtype.is_numeric():
        return series.cast(pl.Float64)
    if series.dtype == pl.Boolean:
        return series.cast(pl.Float64)
    text = series.cast(pl.Utf8).str.strip_chars()
    return text.replace("", None).cast(pl.Float64, strict=False)


def detect_extras(accounts: pl.DataFrame) -> tuple[list[str], list[str], list[str]]:
    """Extra columns of accounts.csv: (numeric, categorical, ignored). Numeric when every non-empty cell is a
    number; categorical when it has at most MAX_LEVELS distinct values and they repeat; else ignored."""
    numeric: list[str] = []
    categorical: list[str] = []
    ignored: list[str] = []
    for col in accounts.columns:
        if col in RESERVED_COLUMNS or col.startswith("__"):
            continue
        series = accounts[col]
        if series.dtype in (pl.Date, pl.Datetime) or isinstance(series.dtype, pl.List | pl.Struct):
            ignored.append(col)
            continue
        present = series.drop_nulls()
        if series.dtype == pl.Utf8:
            present = present.str.strip_chars().filter(present.str.strip_chars() != "")
        if present.len() == 0:
            ignored.append(col)
            continue
        as_number = _as_float(present)
        if as_number.null_count() == 0:
            numeric.append(col)
            continue
        distinct = present.n_unique()
        if distinct <= MAX_LEVELS and distinct < max(2, present.len() // 5):
            categorical.append(col)
        else:
            ignored.append(col)
    return numeric, categorical, ignored


def feature_frame(rows: pl.DataFrame, horizon_days: int, bands: Sequence[tuple[int, float]]) -> pl.DataFrame:
    """The model's base numeric columns next to `rows`.

    `rows` has as_of, the account columns as of that date, `signals` (list of ids) and `risk_score`.
    `bands` are the renewal-proximity bands (max_days, adjustment), innermost first.
    """
    days = (pl.col("renewal_date") - pl.col("as_of")).dt.total_days()
    band: pl.Expr = pl.lit(0.0)
    for max_days, adjustment in reversed(list(bands)):
        band = pl.when(days < max_days).then(pl.lit(float(adjustment))).otherwise(band)
    tenure = (
        (pl.col("as_of") - pl.col("contract_start")).dt.total_days().cast(pl.Float64)
        if "contract_start" in rows.columns
        else pl.lit(None, pl.Float64)
    )
    licenses = pl.col("licenses").cast(pl.Float64) if "licenses" in rows.columns else pl.lit(None, pl.Float64)
    return rows.with_columns(
        pl.col("signals").list.len().cast(pl.Float64).alias("n_signals"),
        pl.col("risk_score").cast(pl.Float64).alias("rule_score"),
        tenure.alias("tenure_days"),
        days.cast(pl.Float64).alias("days_to_renewal"),
        band.alias("renewal_band"),
        ((days >= 0) & (days <= horizon_days)).cast(pl.Float64).alias("renews_in_horizon"),
        pl.col("arr").cast(pl.Float64).log1p().alias("log_arr"),
        licenses.alias("licenses"),
    )


def build_spec(frame: pl.DataFrame, account_columns: Sequence[str]) -> FeatureSpec:
    """The encoding learned from training rows: signal ids of the registry, the base numeric columns, and
    the extra columns of accounts.csv (`account_columns`) detected as numeric or categorical (levels seen
    at least MIN_LEVEL_COUNT times)."""
    extras = [c for c in account_columns if c in frame.columns and c not in BASE_NUMERIC]
    numeric_extra, categorical_extra, ignored = detect_extras(frame.select(extras))
    categorical: dict[str, list[str]] = {}
    for col in ["segment", *categorical_extra]:
        if col not in frame.columns:
            continue
        counts = frame[col].cast(pl.Utf8).drop_nulls().value_counts()
        levels = sorted(v for v, n in counts.iter_rows() if n >= MIN_LEVEL_COUNT and v != "")
        if levels:
            categorical[col] = levels
    return FeatureSpec(
        signals=sorted(REGISTRY),
        numeric=[*BASE_NUMERIC, *numeric_extra],
        categorical=categorical,
        extra_numeric=numeric_extra,
        extra_categorical=categorical_extra,
        ignored=ignored,
    )


def encode(frame: pl.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """The numeric matrix of `spec.names()` (NaN where a numeric value is missing)."""
    n = frame.height
    parts: list[np.ndarray] = []
    sig = np.zeros((n, len(spec.signals)))
    index = {s: i for i, s in enumerate(spec.signals)}
    for r, lst in enumerate(frame["signals"].to_list()):
        for s in lst or ():
            i = index.get(s)
            if i is not None:
                sig[r, i] = 1.0
    parts.append(sig)
    num = np.full((n, len(spec.numeric)), np.nan)
    for j, col in enumerate(spec.numeric):
        if col in frame.columns:
            num[:, j] = _as_float(frame[col]).fill_null(float("nan")).to_numpy()
    parts.append(num)
    for col, levels in spec.categorical.items():
        block = np.zeros((n, len(levels)))
        if col in frame.columns:
            values = frame[col].cast(pl.Utf8).to_numpy()
            for k, level in enumerate(levels):
                block[:, k] = values == level
        parts.append(block)
    return np.hstack(parts) if parts else np.zeros((n, 0))


# ------------------------------------------------------------------------------------------- the parts


@dataclass
class LogisticPart:
    """L2 logistic regression on standardised columns (missing values: training median + indicator)."""

    medians: np.ndarray
    means: np.ndarray
    scales: np.ndarray
    coef: np.ndarray
    intercept: float
    indicators: list[int]  # encoded columns with a missing-value indicator appended
    indicator_coef: np.ndarray
    c: float

    def transform(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        missing = np.isnan(x)
        filled = np.where(missing, self.medians, x)
        z = (filled - self.means) / self.scales
        miss = missing[:, self.indicators].astype(float) if self.indicators else np.zeros((len(x), 0))
        return z, miss

    def logit(self, x: np.ndarray) -> np.ndarray:
        z, miss = self.transform(x)
        return self.intercept + z @ self.coef + (miss @ self.indicator_coef if len(self.indicators) else 0.0)

    def contributions(self, x: np.ndarray) -> np.ndarray:
        z, miss = self.transform(x)
        out = z * self.coef
        for k, j in enumerate(self.indicators):
            out[:, j] += miss[:, k] * self.indicator_coef[k]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "logistic",
            "c": self.c,
            "medians": self.medians.tolist(),
            "means": self.means.tolist(),
            "scales": self.scales.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "indicators": self.indicators,
            "indicator_coef": self.indicator_coef.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LogisticPart:
        return cls(
            medians=np.asarray(d["medians"], dtype=float),
            means=np.asarray(d["means"], dtype=float),
            scales=np.asarray(d["scales"], dtype=float),
            coef=np.asarray(d["coef"], dtype=float),
            intercept=float(d["intercept"]),
            indicators=[int(i) for i in d["indicators"]],
            indicator_coef=np.asarray(d["indicator_coef"], dtype=float),
            c=float(d["c"]),
        )


def fit_logistic_part(x: np.ndarray, y: np.ndarray, monotone: Sequence[int], c: float = 1.0) -> LogisticPart:
    """Fit with scikit-learn; a coefficient against its known direction is dropped (set to 0) and the rest
    refitted, until every constrained coefficient has the right sign."""
    from sklearn.linear_model import LogisticRegression

    missing = np.isnan(x)
    medians = np.where(missing.all(axis=0), 0.0, np.nanmedian(np.where(missing.all(axis=0), 0.0, x), axis=0))
    filled = np.where(missing, medians, x)
    means = filled.mean(axis=0)
    scales = filled.std(axis=0)
    scales = np.where(scales > 0, scales, 1.0)
    z = (filled - means) / scales
    indicators = [j for j in range(x.shape[1]) if 0 < missing[:, j].sum() < len(x)]
    miss = missing[:, indicators].astype(float)
    design = np.hstack([z, miss])
    d = x.shape[1]
    active = np.ones(design.shape[1], dtype=bool)
    active[:d] &= scales > 0
    signs = np.asarray([*monotone, *([0] * len(indicators))])
    coef = np.zeros(design.shape[1])
    intercept = 0.0
    for _ in range(design.shape[1] + 1):
        coef = np.zeros(design.shape[1])
        if active.any() and len(np.unique(y)) == 2:
            model = LogisticRegression(C=c, max_iter=2000)
            model.fit(design[:, active], y)
            coef[active] = model.coef_[0]
            intercept = float(model.intercept_[0])
        else:
            rate = float(np.clip(np.mean(y), 1e-6, 1 - 1e-6))
            intercept = math.log(rate / (1 - rate))
        wrong = active & (signs * coef < 0)
        if not wrong.any():
            break
        active &= ~wrong
    return LogisticPart(
        medians=medians,
        means=means,
        scales=scales,
        coef=coef[:d],
        intercept=intercept,
        indicators=indicators,
        indicator_coef=coef[d:],
        c=c,
    )


@dataclass
class Tree:
    """One regression tree in array form: x[feature] <= threshold (or missing with missing_left) goes left.
    `expected` is the leaf value at leaves and the count-weighted mean of the leaves below elsewhere."""

    feature: np.ndarray
    threshold: np.ndarray
    missing_left: np.ndarray
    left: np.ndarray
    right: np.ndarray
    leaf: np.ndarray
    expected: np.ndarray

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature.tolist(),
            "threshold": [None if not math.isfinite(t) else t for t in self.threshold.tolist()],
            "missing_left": self.missing_left.astype(int).tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "leaf": self.leaf.astype(int).tolist(),
            "expected": self.expected.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tree:
        return cls(
            feature=np.asarray(d["feature"], dtype=np.int64),
            threshold=np.asarray([math.inf if t is None else t for t in d["threshold"]], dtype=float),
            missing_left=np.asarray(d["missing_left"], dtype=bool),
            left=np.asarray(d["left"], dtype=np.int64),
            right=np.asarray(d["right"], dtype=np.int64),
            leaf=np.asarray(d["leaf"], dtype=bool),
            expected=np.asarray(d["expected"], dtype=float),
        )

    def walk(self, x: np.ndarray, contrib: np.ndarray | None = None) -> np.ndarray:
        """Leaf value per row; when `contrib` is given, add each split's change of expected value to the
        split feature's column."""
        node = np.zeros(len(x), dtype=np.int64)
        rows = np.arange(len(x))
        while True:
            inner = ~self.leaf[node]
            if not inner.any():
                break
            r = rows[inner]
            n = node[inner]
            f = self.feature[n]
            v = x[r, f]
            go_left = np.where(np.isnan(v), self.missing_left[n], v <= self.threshold[n])
            child = np.where(go_left, self.left[n], self.right[n])
            if contrib is not None:
                np.add.at(contrib, (r, f), self.expected[child] - self.expected[n])
            node[inner] = child
        return self.expected[node]


def _tree_from_sklearn(nodes: np.ndarray) -> Tree:
    leaf = nodes["is_leaf"].astype(bool)
    value = nodes["value"].astype(float)
    count = nodes["count"].astype(float)
    left = nodes["left"].astype(np.int64)
    right = nodes["right"].astype(np.int64)
    expected = np.where(leaf, value, 0.0)

    def fill(i: int) -> tuple[float, float]:
        if leaf[i]:
            return float(value[i]) * count[i], count[i]
        a, na = fill(int(left[i]))
        b, nb = fill(int(right[i]))
        total = na + nb
        expected[i] = (a + b) / total if total else 0.0
        return a + b, total

    fill(0)
    if nodes["is_categorical"].any():
        raise ValueError("categorical splits are not supported (features are one-hot encoded)")
    return Tree(
        feature=nodes["feature_idx"].astype(np.int64),
        threshold=np.where(leaf, math.inf, nodes["num_threshold"].astype(float)),
        missing_left=nodes["missing_go_to_left"].astype(bool),
        left=left,
        right=right,
        leaf=leaf,
        expected=expected,
    )


@dataclass
class TreePart:
    """Gradient-boosted trees (scikit-learn HistGradientBoostingClassifier, exported to arrays)."""

    baseline: float
    trees: list[Tree]
    params: dict[str, Any]

    def logit(self, x: np.ndarray) -> np.ndarray:
        out = np.full(len(x), self.baseline)
        for t in self.trees:
            out += t.walk(x)
        return out

    def contributions(self, x: np.ndarray) -> np.ndarray:
        contrib = np.zeros(x.shape)
        for t in self.trees:
            t.walk(x, contrib)
        return contrib

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "gbm",
            "params": self.params,
            "baseline": self.baseline,
            "trees": [t.to_dict() for t in self.trees],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TreePart:
        return cls(
            baseline=float(d["baseline"]), trees=[Tree.from_dict(t) for t in d["trees"]], params=dict(d["params"])
        )


GBM_DEFAULTS: dict[str, Any] = {
    "learning_rate": 0.05,
    "max_iter": 200,
    "max_depth": 3,
    "min_samples_leaf": 40,
    "l2_regularization": 1.0,
}


def fit_tree_part(x: np.ndarray, y: np.ndarray, monotone: Sequence[int] | None, **params: Any) -> TreePart:
    from sklearn.ensemble import HistGradientBoostingClassifier

    settings = {**GBM_DEFAULTS, **params}
    x = np.where(np.isnan(x).all(axis=0), 0.0, x)  # a column never known cannot be binned
    model = HistGradientBoostingClassifier(
        **settings,
        monotonic_cst=list(monotone) if monotone is not None else None,
        early_stopping=False,
        random_state=0,
    )
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):  # small tabular data: threads cost more than they save
        model.fit(x, y.astype(int))
    trees = [_tree_from_sklearn(p[0].nodes) for p in model._predictors]
    baseline = float(np.ravel(model._baseline_prediction)[0])
    return TreePart(baseline=baseline, trees=trees, params=settings)


Part = LogisticPart | TreePart


# ------------------------------------------------------------------------------------------- the model


@dataclass
class ChurnModel:
    """A fitted model for one horizon: encoding, the chosen part, and the re-fitted intercept shift."""

    horizon_days: int
    spec: FeatureSpec
    part: Part
    offset: float = 0.0
    bands: list[tuple[int, float]] = field(default_factory=list)
    about: dict[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> Kind:
        return "logistic" if isinstance(self.part, LogisticPart) else "gbm"

    def matrix(self, rows: pl.DataFrame) -> np.ndarray:
        return encode(feature_frame(rows, self.horizon_days, self.bands), self.spec)

    def logit_of(self, x: np.ndarray) -> np.ndarray:
        return self.part.logit(x) + self.offset

    def predict(self, rows: pl.DataFrame) -> np.ndarray:
        return np.asarray(sigmoid(self.logit_of(self.matrix(rows))))

    def explain(self, rows: pl.DataFrame, top: int = 3) -> tuple[np.ndarray, list[list[dict[str, Any]]]]:
        """Probabilities and, per row, the `top` factors by |contribution| (log-odds, vs the average account)."""
        x = self.matrix(rows)
        p = np.asarray(sigmoid(self.logit_of(x)))
        contrib = self.part.contributions(x)
        factors = self.spec.factor_of()
        names = sorted(set(factors))
        col_of = {n: i for i, n in enumerate(names)}
        grouped = np.zeros((len(x), len(names)))
        for j, f in enumerate(factors):
            grouped[:, col_of[f]] += contrib[:, j]
        shown = feature_frame(rows, self.horizon_days, self.bands)
        columns: dict[str, list[Any]] = {}

        def column(name: str) -> dict[str, list[Any]]:
            if name not in columns and (name in shown.columns or name == "signals"):
                columns[name] = shown[name].to_list()
            return columns

        out: list[list[dict[str, Any]]] = []
        for r in range(len(x)):
            order = np.argsort(-np.abs(grouped[r]), kind="stable")[:top]
            items = []
            for k in order:
                value = float(grouped[r, k])
                if abs(value) < 1e-3:
                    continue
                name = names[k]
                key = "signals" if name.startswith(SIGNAL_PREFIX) else name
                shown_value = _shown_value(column(key), r, name)
                label = "arr" if name == "log_arr" else name
                items.append({"factor": label, "value": shown_value, "contribution": round(value, 3)})
            out.append(items)
        return p, out

    def to_dict(self) -> dict[str, Any]:
        return {
            "horizon_days": self.horizon_days,
            "spec": self.spec.to_dict(),
            "part": self.part.to_dict(),
            "offset": self.offset,
            "bands": [list(b) for b in self.bands],
            "about": self.about,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ChurnModel:
        part_d = d["part"]
        part: Part = LogisticPart.from_dict(part_d) if part_d["kind"] == "logistic" else TreePart.from_dict(part_d)
        return cls(
            horizon_days=int(d["horizon_days"]),
            spec=FeatureSpec.from_dict(d["spec"]),
            part=part,
            offset=float(d["offset"]),
            bands=[(int(a), float(b)) for a, b in d["bands"]],
            about=dict(d.get("about", {})),
        )


def _shown_value(columns: Mapping[str, list[Any]], row: int, factor: str) -> str | float | None:
    """The account's value of a factor, for display (signals: 'active' or 'not active')."""
    if factor.startswith(SIGNAL_PREFIX):
        active = factor[len(SIGNAL_PREFIX) :] in (columns["signals"][row] or [])
        return "active" if active else "not active"
    if factor not in columns:
        return None
    value = columns[factor][row]
    if value is None:
        return None
    if factor == "log_arr":
        return round(math.expm1(float(value)), 2)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return round(float(value), 3) if math.isfinite(value) else None
    return str(value)


def fit_offset(logit: np.ndarray, y: np.ndarray) -> float:
    """The shift b maximising the likelihood of y under sigmoid(logit + b) (Newton in one dimension)."""
    if len(y) == 0 or y.all() or not y.any():
        return 0.0
    b = 0.0
    for _ in range(50):
        p = sigmoid(logit + b)
        g = float(np.sum(p - y))
        h = float(np.sum(p * (1 - p))) + 1e-9
        step = g / h
        b -= step
        if abs(step) < 1e-10:
            break
    return float(np.clip(b, -5.0, 5.0))


# --------------------------------------------------------------------------------------- choice and fit


@dataclass
class Candidate:
    name: str
    kind: Kind
    params: dict[str, Any]


CANDIDATES = (
    Candidate("logistic C=1", "logistic", {"c": 1.0}),
    Candidate("logistic C=0.1", "logistic", {"c": 0.1}),
    Candidate("gbm depth 2", "gbm", {"max_depth": 2}),
    Candidate("gbm depth 3", "gbm", {"max_depth": 3}),
)


def fit_part(candidate: Candidate, x: np.ndarray, y: np.ndarray, monotone: Sequence[int]) -> Part:
    if candidate.kind == "logistic":
        return fit_logistic_part(x, y, monotone, c=float(candidate.params["c"]))
    return fit_tree_part(x, y, monotone, **candidate.params)


def inner_split(
    as_of: Sequence[date], accounts: Sequence[str], horizon_days: int, seed: int = 11
) -> tuple[np.ndarray, np.ndarray, str]:
    """(train mask, validation mask, how) inside the training rows: by time when there are enough dates
    (validate on the newest quarter of them, train on dates whose labels closed before), else by account."""
    days = np.asarray([d.toordinal() for d in as_of])
    distinct = sorted(set(days.tolist()))
    n_val = max(1, len(distinct) // 4)
    if len(distinct) >= 4:
        first_val = distinct[-n_val]
        cutoff = first_val - horizon_days
        train = days <= cutoff
        val = days >= first_val
        if train.sum() >= 50 and val.sum() >= 50:
            return train, val, f"time: validate on the newest {n_val} of {len(distinct)} training dates"
    ids = np.asarray(accounts)
    unique = np.unique(ids)
    rng = np.random.default_rng(seed)
    held = set(rng.choice(unique, size=max(1, len(unique) // 4), replace=False).tolist())
    val = np.asarray([a in held for a in ids])
    return ~val, val, "accounts: a seeded quarter of the training accounts (too few dates to split by time)"


def newest_window(as_of: Sequence[date], horizon_days: int) -> np.ndarray:
    """Rows whose as-of date lies within one horizon of the newest (the newest labelled window)."""
    days = np.asarray([d.toordinal() for d in as_of])
    if len(days) == 0:
        return np.zeros(0, dtype=bool)
    return days > days.max() - horizon_days


def choose_and_fit(
    rows: pl.DataFrame,
    horizon_days: int,
    bands: Sequence[tuple[int, float]],
    account_columns: Sequence[str],
    candidates: Sequence[Candidate] = CANDIDATES,
) -> ChurnModel:
    """Choose a candidate on an inner split of `rows` (training rows with `label`), refit it on all of them,
    and re-fit the intercept on the newest labelled window."""
    from sklearn.metrics import roc_auc_score

    frame = feature_frame(rows, horizon_days, bands)
    spec = build_spec(frame, account_columns)
    x = encode(frame, spec)
    y = np.asarray(rows["label"].to_list(), dtype=bool)
    as_of = rows["as_of"].to_list()
    monotone = spec.monotone()
    train, val, how = inner_split(as_of, rows["account_id"].to_list(), horizon_days)
    scores: dict[str, float | None] = {}
    for cand in candidates:
        if len(np.unique(y[train])) < 2 or len(np.unique(y[val])) < 2:
            scores[cand.name] = None
            continue
        part = fit_part(cand, x[train], y[train], monotone)
        scores[cand.name] = round(float(roc_auc_score(y[val], part.logit(x[val]))), 4)
    ranked = [c for c in candidates if scores.get(c.name) is not None]
    best = max(ranked, key=lambda c: scores[c.name] or 0.0) if ranked else candidates[0]
    part = fit_part(best, x, y, monotone)
    window = newest_window(as_of, horizon_days)
    offset = fit_offset(part.logit(x[window]), y[window])
    return ChurnModel(
        horizon_days=horizon_days,
        spec=spec,
        part=part,
        offset=offset,
        bands=[(int(a), float(b)) for a, b in bands],
        about={
            "chosen": best.name,
            "inner_split": how,
            "inner_auc": scores,
            "n_rows": len(y),
            "churn_rate": round(float(y.mean()), 4) if len(y) else None,
            "newest_window_rate": round(float(y[window].mean()), 4) if window.any() else None,
            "intercept_shift": round(offset, 4),
            "monotone": {
                n: s for n, s in zip(spec.names(), monotone, strict=True) if s and not n.startswith(SIGNAL_PREFIX)
            }
            | {"signal:*": 1},
        },
    )


# -------------------------------------------------------------------------------------------- storage


@dataclass
class ChurnModelSet:
    """One model per horizon, and the horizon the queue shows."""

    models: dict[int, ChurnModel]
    primary: int
    fitted: dict[str, Any] = field(default_factory=dict)

    @property
    def model(self) -> ChurnModel:
        return self.models[self.primary]

    def to_json(self) -> str:
        return json.dumps(
            {
                "format": FORMAT,
                "primary_horizon_days": self.primary,
                "fitted": self.fitted,
                "models": [m.to_dict() for m in self.models.values()],
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> ChurnModelSet:
        data = json.loads(text)
        if int(data.get("format", 0)) != FORMAT:
            raise ValueError(f"model format {data.get('format')} is not {FORMAT}: run `riskbrief calibrate` again")
        models = {int(m["horizon_days"]): ChurnModel.from_dict(m) for m in data["models"]}
        return cls(models=models, primary=int(data["primary_horizon_days"]), fitted=dict(data.get("fitted", {})))


_CACHE: dict[tuple[str, float], ChurnModelSet] = {}


def load_model_set(path: Path) -> ChurnModelSet:
    """Read (and cache by path and modification time) a model file written by `riskbrief calibrate`."""
    from tools.errors import InputError

    if not path.is_file():
        raise InputError(f"{path}: the churn model file named in [calibration] model_file is missing")
    key = (str(path.resolve()), path.stat().st_mtime)
    cached = _CACHE.get(key)
    if cached is None:
        try:
            cached = ChurnModelSet.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: not a churn model file ({exc})") from None
        _CACHE.clear()
        _CACHE[key] = cached
    return cached


def configured_models(config: Config) -> ChurnModelSet | None:
    """The model set named by `[calibration] model_file` (relative to the riskbrief.toml), or None for no
    calibration or an old-format one (intercept and signal weights only, read by tools.scoring itself)."""
    from tools.errors import InputError

    cal = config.calibration
    if cal is None:
        return None
    extra = cal.model_extra or {}
    fmt = extra.get("format", 1)
    if not isinstance(fmt, int) or fmt > FORMAT:
        raise InputError(
            f"[calibration] format = {fmt!r} is newer than this riskbrief reads ({FORMAT}); upgrade riskbrief "
            "or run `riskbrief calibrate --write` again"
        )
    name = extra.get("model_file")
    if fmt < FORMAT and name is None:
        return None
    if not isinstance(name, str) or not name:
        raise InputError("[calibration] format = 2 needs model_file, the churn model written by `riskbrief calibrate`")
    path = Path(name)
    source = getattr(config, "source", None)
    if not path.is_absolute() and source:
        path = Path(str(source)).parent / path
    return load_model_set(path)


def score_rows(rows: pl.DataFrame, models: ChurnModelSet, top: int = 3) -> pl.DataFrame:
    """`rows` (as_of, account columns, signals, risk_score) with churn_probability, arr_at_risk,
    churn_factors (JSON) and churn_horizon_days from the primary model."""
    model = models.model
    if rows.height == 0:
        return rows.with_columns(
            pl.lit(None, pl.Float64).alias("churn_probability"),
            pl.lit(None, pl.Float64).alias("arr_at_risk"),
            pl.lit(None, pl.Utf8).alias("churn_factors"),
            pl.lit(None, pl.Int64).alias("churn_horizon_days"),
        )
    p, factors = model.explain(rows, top=top)
    return rows.with_columns(
        pl.Series("churn_probability", p, dtype=pl.Float64),
        (pl.col("arr").cast(pl.Float64) * pl.Series(p)).alias("arr_at_risk"),
        pl.Series("churn_factors", [json.dumps(f) for f in factors], dtype=pl.Utf8),
        pl.lit(model.horizon_days, pl.Int64).alias("churn_horizon_days"),
    )


def parse_factors(text: object) -> list[ChurnFactor] | None:
    if not isinstance(text, str) or not text:
        return None
    return [ChurnFactor.model_validate(f) for f in json.loads(text)]


def describe_factors(factors: Sequence[ChurnFactor] | None, top: int = 3) -> str:
    """'tenure_days 120 (+0.41), …' for tables and briefs."""
    if not factors:
        return ""
    parts = []
    for f in factors[:top]:
        value = "" if f.value is None else f" {f.value:g}" if isinstance(f.value, float) else f" {f.value}"
        parts.append(f"{f.factor}{value} ({f.contribution:+.2f})")
    return ", ".join(parts)


def prioritisation_note(config: Config) -> str:
    """Which score is in force, for the limits text."""
    cal = config.calibration
    if cal is None:
        return (
            "Prioritisation: the rule score (default weights and thresholds); no churn model is calibrated "
            "(`riskbrief calibrate --write riskbrief.toml`)."
        )
    models = configured_models(config)
    if models is None:
        return "Prioritisation: the rule score; P(churn) from an older signal-weights calibration."
    m = models.model
    return (
        f"Prioritisation: the rule score orders the queue; P(churn) within {m.horizon_days} days and its factors "
        f"come from the calibrated {m.kind} model (fitted {models.fitted.get('as_of_dates', '?')})."
    )
