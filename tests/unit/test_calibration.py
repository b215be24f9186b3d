"""Logistic regression, calibration metrics, the time split and the TOML written for the queue."""

from __future__ import annotations

import math
import tomllib
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest

from tools.calibration import (
    Standardizer,
    brier_score,
    churn_probability,
    expected_calibration_error,
    fit_logistic,
    labelled_dates,
    log_loss,
    month_end,
    reliability_bins,
    replace_calibration_table,
    sigmoid,
    time_split,
)


def test_unpenalised_fit_matches_closed_form() -> None:
    # one binary feature: P(churn | x=0) = 2/10, P(churn | x=1) = 6/10
    x = np.array([[0.0]] * 10 + [[1.0]] * 10)
    y = np.array([1] * 2 + [0] * 8 + [1] * 6 + [0] * 4, dtype=bool)
    model = fit_logistic(x, y, ["flag"], l2=0.0)
    assert model.intercept == pytest.approx(math.log(0.2 / 0.8), abs=1e-6)
    assert model.weights()["flag"] == pytest.approx(math.log(0.6 / 0.4) - math.log(0.2 / 0.8), abs=1e-6)
    assert model.predict_proba(np.array([[0.0], [1.0]])) == pytest.approx([0.2, 0.6], abs=1e-6)


def test_rare_strong_feature_converges_instead_of_overshooting() -> None:
    # 26 of 32 flagged rows churn against 23 of 1,615 others: a full Newton step from the base rate
    # overshoots; the damped step must still reach the closed-form optimum.
    x = np.array([[0.0, 0.0]] * 1615 + [[1.0, 0.0]] * 32)
    y = np.array([False] * 1592 + [True] * 23 + [True] * 26 + [False] * 6)
    model = fit_logistic(x, y, l2=0.0)
    assert model.intercept == pytest.approx(math.log(23 / 1592), abs=1e-6)
    assert model.coef[0] == pytest.approx(math.log(26 / 6) - math.log(23 / 1592), abs=1e-6)
    assert model.iterations < 50


def test_penalised_fit_is_stationary() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    y = rng.random(300) < sigmoid(x @ np.array([1.0, -2.0, 0.0]) - 0.5)
    model = fit_logistic(x, y, l2=5.0)
    p = model.predict_proba(x)
    # gradient of the penalised log-likelihood is zero at the optimum (intercept unpenalised)
    assert float(np.sum(p - y)) == pytest.approx(0.0, abs=1e-6)
    assert x.T @ (p - y) + 5.0 * model.coef == pytest.approx(np.zeros(3), abs=1e-6)


def test_fit_recovers_known_weights() -> None:
    rng = np.random.default_rng(1)
    x = (rng.random((20_000, 2)) < 0.3).astype(float)
    truth = np.array([1.5, -0.7])
    y = rng.random(20_000) < sigmoid(-2.0 + x @ truth)
    model = fit_logistic(x, y, l2=0.01)
    assert model.intercept == pytest.approx(-2.0, abs=0.1)
    assert model.coef == pytest.approx(truth, abs=0.1)


def test_separable_data_stays_finite_with_penalty() -> None:
    x = np.array([[0.0], [0.0], [1.0], [1.0]])
    y = np.array([False, False, True, True])
    model = fit_logistic(x, y, l2=1.0)
    assert np.isfinite(model.coef).all()
    assert model.coef[0] > 0


def test_standardizer_uses_training_statistics() -> None:
    s = Standardizer.fit(np.array([[1.0, 5.0], [3.0, 5.0]]))
    assert s.transform(np.array([[2.0, 5.0]])).tolist() == [[0.0, 0.0]]


def test_brier_log_loss_and_bins_by_hand() -> None:
    p = [0.1, 0.1, 0.8, 0.9]
    y = [False, True, True, True]
    assert brier_score(p, y) == pytest.approx((0.01 + 0.81 + 0.04 + 0.01) / 4)
    assert log_loss([0.5, 0.5], [True, False]) == pytest.approx(math.log(2))
    bins = reliability_bins(p, y, n_bins=10)
    assert [(b.lower, b.count) for b in bins] == [(0.1, 2), (0.8, 1), (0.9, 1)]
    assert bins[0].observed_rate == 0.5
    assert bins[0].mean_predicted == pytest.approx(0.1)
    ece = expected_calibration_error(bins)
    assert ece == pytest.approx((2 * 0.4 + 1 * 0.2 + 1 * 0.1) / 4)
    assert reliability_bins([1.0], [True])[0].upper == 1.0


def test_churn_probability_applies_weights() -> None:
    weights = {"champion_departure": 2.0, "temporal_adjustment": 0.5}
    assert churn_probability([], 0.0, weights, -2.0) == pytest.approx(sigmoid(np.asarray(-2.0)))
    # a repeated signal counts once; adjustment 1.5 adds 0.75
    assert churn_probability(
        ["champion_departure", "champion_departure"], 1.5, weights, -2.0
    ) == pytest.approx(sigmoid(np.asarray(0.75)))
    assert churn_probability(["unknown_signal"], 0.0, weights, -2.0) == pytest.approx(
        sigmoid(np.asarray(-2.0))
    )


def test_month_end() -> None:
    assert month_end(date(2024, 2, 10)) == date(2024, 2, 29)
    assert month_end(date(2024, 12, 31)) == date(2024, 12, 31)


def test_time_split_has_no_label_leakage() -> None:
    end = date(2024, 12, 31)
    dates = labelled_dates(end, 90, earliest=date(2023, 1, 1))
    # the newest as-of date whose 90-day window is observed by the end, snapped to a month end
    assert dates[0] == date(2024, 9, 30)
    assert all(d == month_end(d) for d in dates)
    train, test = time_split(dates, 90, 3)
    assert test == [date(2024, 7, 31), date(2024, 8, 31), date(2024, 9, 30)]
    assert train[-1] == date(2024, 4, 30)
    # every training label window closes before the first test as-of date
    assert all(d + timedelta(days=90) <= test[0] for d in train)
    # every test label window is observed by the end of history
    assert all(d + timedelta(days=90) <= end for d in test)


def test_the_calibration_table_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "riskbrief.toml"
    path.write_text(
        'as_of = "2024-06-30"\ncompetitors = ["Orbitly"]\n\n[calibration]\nintercept = 9.0\n\n'
        "[calibration.weights]\nold_signal = 1.0\n\n[signals.usage_sudden_drop]\nthreshold = 0.3\n",
        encoding="utf-8",
    )
    table = '[calibration]\nformat = 2\nmodel_file = "riskbrief.churn.json"\nhorizon_days = 90\n'
    replace_calibration_table(path, table)
    replace_calibration_table(path, table)  # idempotent
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["as_of"] == "2024-06-30"
    assert data["signals"]["usage_sudden_drop"]["threshold"] == 0.3
    assert data["calibration"] == {"format": 2, "model_file": "riskbrief.churn.json", "horizon_days": 90}
    assert path.read_text(encoding="utf-8").count("[calibration]") == 1
