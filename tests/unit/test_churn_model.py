"""The churn model: hand-written maths against scikit-learn, exported trees, constraints, factors, storage,
accounts as they were, and calibrate -> queue end to end on a small synthetic portfolio."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tools.backtest import auc
from tools.calibration import brier_score, fit_logistic
from tools.churn_accounts import accounts_in_force, renewal_in_force
from tools.churn_eval import auc_with_interval, flagged
from tools.churn_model import (
    ChurnModel,
    ChurnModelSet,
    FeatureSpec,
    choose_and_fit,
    fit_logistic_part,
    fit_offset,
    fit_tree_part,
    sigmoid,
)


def test_hand_written_maths_match_scikit_learn() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss, roc_auc_score

    rng = np.random.default_rng(3)
    x = rng.normal(size=(400, 3))
    y = rng.random(400) < sigmoid(x @ np.array([1.0, -0.5, 0.0]))
    scores = np.round(rng.random(400), 1)  # ties
    assert auc(scores, y) == pytest.approx(roc_auc_score(y, scores))
    p = rng.random(400)
    assert brier_score(p, y) == pytest.approx(brier_score_loss(y, p))
    ours = fit_logistic(x, y, l2=1.0)
    theirs = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(x, y)
    assert ours.coef == pytest.approx(theirs.coef_[0], abs=1e-4)
    assert ours.intercept == pytest.approx(theirs.intercept_[0], abs=1e-4)


def test_exported_trees_reproduce_scikit_learn_and_contributions_add_up() -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    x[rng.random(600) < 0.1, 1] = np.nan
    y = rng.random(600) < sigmoid(2 * x[:, 0] - np.nan_to_num(x[:, 1]))
    part = fit_tree_part(x, y, [1, 0, 0], max_iter=30)
    ref = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=30, max_depth=3, min_samples_leaf=40, l2_regularization=1.0,
        monotonic_cst=[1, 0, 0], early_stopping=False, random_state=0,
    ).fit(x, y.astype(int))  # fmt: skip
    assert sigmoid(part.logit(x)) == pytest.approx(ref.predict_proba(x)[:, 1], abs=1e-9)
    expected_root = part.baseline + sum(t.expected[0] for t in part.trees)
    assert part.contributions(x).sum(axis=1) + expected_root == pytest.approx(part.logit(x), abs=1e-9)
    # monotone in feature 0: raising it never lowers the score
    grid = np.column_stack([np.linspace(-3, 3, 50), np.zeros(50), np.zeros(50)])
    assert np.all(np.diff(part.logit(grid)) >= -1e-12)


def test_logistic_drops_a_coefficient_against_its_known_direction() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 2))
    y = rng.random(500) < sigmoid(1.5 * x[:, 0] + x[:, 1])  # x0 raises risk, but is declared "never raises"
    part = fit_logistic_part(x, y, [-1, 0])
    assert part.coef[0] == 0.0 and part.coef[1] > 0.5
    contrib = part.contributions(x)
    assert contrib.sum(axis=1) + part.intercept == pytest.approx(part.logit(x))


def test_offset_matches_the_rate_of_the_window() -> None:
    logit = np.zeros(100)
    y = np.arange(100) < 30
    b = fit_offset(logit, y)
    assert sigmoid(np.asarray(b)) == pytest.approx(0.3, abs=1e-6)


def _rows(n: int, seed: int = 0) -> pl.DataFrame:
    """Synthetic rows over 12 month ends: short tenure and a champion departure raise churn."""
    rng = np.random.default_rng(seed)
    days = [date(2024, m, 28) for m in range(1, 13)]
    as_of = [days[i % 12] for i in range(n)]
    tenure = rng.integers(30, 2000, n)
    signal = rng.random(n) < 0.2
    logit = -1.0 - 0.0015 * (tenure - 600) + 1.5 * signal
    y = rng.random(n) < sigmoid(logit)
    return pl.DataFrame(
        {
            "as_of": as_of,
            "account_id": [f"A-{i % (n // 12)}" for i in range(n)],
            "arr": rng.integers(1_000, 100_000, n).astype(float),
            "renewal_date": [d + timedelta(days=int(k)) for d, k in zip(as_of, rng.integers(1, 365, n), strict=True)],
            "contract_start": [d - timedelta(days=int(t)) for d, t in zip(as_of, tenure, strict=True)],
            "segment": rng.choice(["smb", "enterprise"], n).tolist(),
            "licenses": rng.integers(1, 50, n).astype(float),
            "region": rng.choice(["north", "south"], n).tolist(),
            "score_x": rng.normal(size=n).astype(str).tolist(),
            "signals": [["champion_departure"] if s else [] for s in signal],
            "risk_score": np.where(signal, 5.0, 0.0),
            "label": y,
        }
    )


ACCOUNT_COLUMNS = ["account_id", "arr", "renewal_date", "contract_start", "segment", "licenses", "region", "score_x"]
BANDS = [(30, 1.5), (90, 1.0), (181, 0.5)]


def test_choose_fit_store_and_explain() -> None:
    rows = _rows(2400)
    model = choose_and_fit(rows, 90, BANDS, ACCOUNT_COLUMNS)
    assert model.spec.extra_categorical == ["region"] and model.spec.extra_numeric == ["score_x"]
    assert set(model.about["inner_auc"]) == {"logistic C=1", "logistic C=0.1", "gbm depth 2", "gbm depth 3"}
    assert "time" in model.about["inner_split"]
    test = _rows(1200, seed=5)
    p = model.predict(test)
    assert auc(p, test["label"].to_numpy()) > 0.7
    stored = ChurnModelSet(models={90: model}, primary=90)
    again = ChurnModelSet.from_json(stored.to_json()).model
    assert again.predict(test) == pytest.approx(p)
    probs, factors = again.explain(test.head(5))
    assert probs == pytest.approx(p[:5])
    assert all(len(f) <= 3 for f in factors)
    assert any(f["factor"] == "tenure_days" for fs in factors for f in fs)
    # longer tenure never raises the probability
    one = test.head(1)
    longer = one.with_columns((pl.col("contract_start") - pl.duration(days=1500)).alias("contract_start"))
    assert model.predict(longer)[0] <= model.predict(one)[0] + 1e-12


def test_feature_spec_round_trip() -> None:
    spec = FeatureSpec(signals=["a"], numeric=["tenure_days"], categorical={"segment": ["smb"]})
    assert FeatureSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert spec.names() == ["signal:a", "tenure_days", "segment=smb"]
    assert spec.monotone() == [1, -1, 0]


def test_model_file_of_a_newer_format_is_refused() -> None:
    with pytest.raises(ValueError, match="format 3"):
        ChurnModelSet.from_json(json.dumps({"format": 3, "primary_horizon_days": 90, "models": []}))
    assert isinstance(ChurnModel, type)


def test_bootstrap_interval_and_flags() -> None:
    rng = np.random.default_rng(2)
    y = rng.random(300) < 0.3
    scores = y + rng.normal(size=300)
    point, (lo, hi) = auc_with_interval(scores, y, [f"A{i % 100}" for i in range(300)], n_boot=100)
    assert lo is not None and hi is not None and lo < point < hi
    days = [date(2024, 1, 31)] * 5 + [date(2024, 2, 29)] * 5
    flags = flagged(np.arange(10, dtype=float), days, 0.2)
    assert flags.tolist() == [False] * 4 + [True] + [False] * 4 + [True]  # ceil(0.2 * 5) = 1 per date


def test_renewal_in_force_at_a_past_date() -> None:
    # the snapshot's contract covers as-of: kept
    assert renewal_in_force(date(2025, 6, 1), date(2020, 6, 1), 12, date(2025, 1, 1)) == date(2025, 6, 1)
    # a year earlier: the anniversary of the start then in force
    assert renewal_in_force(date(2025, 6, 1), date(2020, 6, 1), 12, date(2023, 1, 1)) == date(2023, 6, 1)
    # monthly term
    assert renewal_in_force(date(2025, 6, 1), date(2020, 6, 1), 1, date(2023, 1, 10)) == date(2023, 2, 1)
    # no start: step back from the snapshot's renewal by whole terms
    assert renewal_in_force(date(2025, 6, 1), None, 12, date(2023, 1, 1)) == date(2023, 6, 1)
    accounts = pl.DataFrame(
        {
            "account_id": ["A", "B"],
            "arr": [100.0, 200.0],
            "renewal_date": [date(2027, 12, 5), date(2025, 6, 1)],
            "contract_start": [date(2023, 12, 5), None],
            "contract_term_months": ["48", None],
        }
    )
    # at or after the snapshot nothing changes (a four-year contract stays four years)
    same = accounts_in_force(accounts, None, date(2026, 11, 20), snapshot=date(2026, 11, 20))
    assert same.equals(accounts)
    history = pl.DataFrame(
        {"account_id": ["B"], "valid_from": [date(2022, 1, 1)], "arr": [50.0], "renewal_date": [None]},
        schema_overrides={"renewal_date": pl.Date},
    )
    then = accounts_in_force(accounts, history, date(2023, 1, 1), snapshot=date(2026, 11, 20))
    assert then["arr"].to_list() == [100.0, 50.0]
    assert then["renewal_date"].to_list() == [date(2023, 12, 5), date(2023, 6, 1)]


def _portfolio(root: Path) -> Path:
    """Every account gets a P1 ticket some day; churners' stay open and they leave 20 days later."""
    accounts = ["account_id,name,arr,renewal_date,contract_start,region"]
    tickets = ["ticket_id,account_id,opened_at,closed_at,priority,status,escalated,subject"]
    outcomes = ["account_id,date,outcome"]
    start = date(2024, 1, 1)
    for i in range(90):
        accounts.append(f"A{i},Account {i},{10_000 + i},2026-06-30,2023-06-01,{'north' if i % 3 else 'south'}")
        opened = start + timedelta(days=7 * i)
        if i < 80 and i % 2 == 0:
            tickets.append(f"T{i},A{i},{opened},,P1,open,false,Outage {i}")
            outcomes.append(f"A{i},{opened + timedelta(days=20)},churned")
        elif i < 80:
            tickets.append(f"T{i},A{i},{opened},{opened + timedelta(days=5)},P1,closed,false,Outage {i}")
        else:
            outcomes.append(f"A{i},{start + timedelta(days=15 * (i - 79))},churned")
    root.mkdir(parents=True, exist_ok=True)
    for name, lines in (("accounts", accounts), ("tickets", tickets), ("outcomes", outcomes)):
        (root / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_calibrate_write_and_queue_shows_factors(tmp_path: Path) -> None:
    from tools.calibration import calibrate_models, write_models
    from tools.config import load_config
    from tools.portfolio import load_portfolio
    from tools.scoring import assess_account, build_queue

    root = _portfolio(tmp_path / "p")
    report = calibrate_models(root, as_of=date(2025, 7, 31), horizons=(30,), primary=30, n_test_dates=4)
    (h,) = report.horizons
    assert all(d + timedelta(days=30) <= h.test_dates[0] for d in h.train_dates)
    assert h.held_out.auc is not None and h.held_out.auc > 0.7
    assert "region" in report.extra_categorical
    write_models(root / "riskbrief.toml", report)
    config = load_config(root)
    assert config.calibration is not None and config.calibration.model_extra["format"] == 2
    day = date(2024, 3, 1)
    entries = build_queue(load_portfolio(root, as_of=day), config, day)
    assert entries and all(e.churn_probability is not None for e in entries)
    dumped = entries[0].model_dump(mode="json")
    assert dumped["churn_horizon_days"] == 30 and dumped["churn_factors"]
    assert any(f["factor"] == "signal:p1_escalation" for e in entries for f in e.model_dump()["churn_factors"])
    quiet = assess_account(load_portfolio(root, as_of=day), config, day, "A89")
    assert quiet.churn_probability is not None


def test_old_calibration_tables_still_work_and_newer_ones_are_refused(tmp_path: Path) -> None:
    from tools.churn_model import configured_models
    from tools.config import load_config
    from tools.errors import InputError

    (tmp_path / "riskbrief.toml").write_text(
        "[calibration]\nintercept = -2.0\n\n[calibration.weights]\np1_escalation = 1.0\n", encoding="utf-8"
    )
    assert configured_models(load_config(tmp_path)) is None  # the signal-weights path of tools.scoring
    (tmp_path / "riskbrief.toml").write_text('[calibration]\nformat = 3\nmodel_file = "x.json"\n', encoding="utf-8")
    with pytest.raises(InputError, match="newer"):
        configured_models(load_config(tmp_path))
    (tmp_path / "riskbrief.toml").write_text('[calibration]\nformat = 2\nmodel_file = "gone.json"\n', encoding="utf-8")
    with pytest.raises(InputError, match="missing"):
        configured_models(load_config(tmp_path))
