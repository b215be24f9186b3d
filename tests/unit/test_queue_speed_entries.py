"""The queue's entries, built column by column with the collector paused (tools.scoring.entries), are exactly
what the row-by-row construction they replace made: the same validated models, field for field and type for
type, the same fields set, the same JSON. On the bundled sample, a small synthetic portfolio, a calibrated
configuration and frames carrying a churn model's columns."""

from __future__ import annotations

import gc
import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from conftest import load_benchmark
from pydantic import BaseModel, TypeAdapter

from tools.churn_model import parse_factors
from tools.config import Calibration, Config, load_config
from tools.models import QueueEntry
from tools.portfolio import Portfolio, load_portfolio
from tools.registry import CLUSTER_ROUTE, DEFAULT_ROUTE, ROUTES, URGENCY_RANK
from tools.sample import portfolio_dir
from tools.scoring import account_frame, entries, queue_json, rank_frame
from tools.signals import Detection, detect

AS_OF = date(2026, 11, 20)
_ENTRIES: TypeAdapter[list[QueueEntry]] = TypeAdapter(list[QueueEntry])


# --- the construction `entries` replaced, verbatim: one dict per polars row, validated in one call -----------


def _reference_routes(signal_ids: list[str], cluster_size: int) -> tuple[str, list[str]]:
    routes = [ROUTES.get(s, DEFAULT_ROUTE) for s in signal_ids]
    if cluster_size >= 3:
        routes.append(CLUSTER_ROUTE)
    urgency = min((r[0] for r in routes), key=lambda u: URGENCY_RANK[u]) if routes else DEFAULT_ROUTE[0]
    routed: list[str] = []
    for r in routes:
        if URGENCY_RANK[r[0]] == URGENCY_RANK[urgency]:
            routed.extend(x for x in r[1] if x not in routed)
    return urgency, routed


def _reference_signal(row: dict[str, Any]) -> dict[str, Any]:
    evidence = row["evidence"] or []
    return {
        "signal": row["signal"],
        "severity": row["severity"],
        "first_detected": row["first_detected"].isoformat(),
        "summary": row.get("summary") or "",
        "evidence": [
            {"id": e["id"], "text": e["text"], "date": e["date"].isoformat() if e["date"] else None} for e in evidence
        ],
    }


def reference_entries(frame: pl.DataFrame, detection: Detection) -> list[QueueEntry]:
    if frame.height == 0:
        return []
    wanted = frame.select("account_id")
    sig_rows = detection.signals.join(wanted, on="account_id").sort(
        ["account_id", "severity", "first_detected", "signal"], descending=[False, True, False, False]
    )
    by_account: dict[str, list[dict[str, Any]]] = {}
    for row in sig_rows.iter_rows(named=True):
        by_account.setdefault(row["account_id"], []).append(_reference_signal(row))
    out: list[dict[str, Any]] = []
    for row in frame.iter_rows(named=True):
        sigs = by_account.get(row["account_id"], [])
        urgency, routed = _reference_routes([s["signal"] for s in sigs], int(row["cluster_size"]))
        out.append(
            {
                "account_id": row["account_id"],
                "account_name": row["name"],
                "risk_score": round(float(row["risk_score"]), 2),
                "risk_level": row["risk_level"],
                "arr": float(row["arr"]),
                "days_to_renewal": int(row["days_to_renewal"]),
                "health_score": row.get("health_score"),
                "active_signals": sigs,
                "not_evaluated": detection.missing_for(row["account_id"]),
                "cluster_amplification": bool(row["cluster_amplification"]),
                "cluster_signals": list(row["cluster_signals"]) if row["cluster_amplification"] else [],
                "base_score": float(row["base_score"]),
                "temporal_adjustment": float(row["temporal_adjustment"]),
                "handoff_urgency": urgency,
                "routed_to": routed,
                "csm_owner": row.get("csm_owner"),
                "segment": row.get("segment"),
                "renewal_date": row["renewal_date"].isoformat() if row.get("renewal_date") else None,
                "churn_probability": None
                if row.get("churn_probability") is None
                else round(row["churn_probability"], 4),
                "arr_at_risk": None if row.get("arr_at_risk") is None else round(row["arr_at_risk"], 2),
                "churn_horizon_days": row.get("churn_horizon_days"),
                "churn_factors": parse_factors(row.get("churn_factors")),
            }
        )
    return _ENTRIES.validate_python(out)


# --- comparing models exactly ---------------------------------------------------------------------------------


def exact(value: Any) -> Any:
    """A model as nested plain data that tells 1 from 1.0 and True from 1, with each model's fields set."""
    if isinstance(value, BaseModel):
        return (
            type(value).__name__,
            sorted(value.model_fields_set),
            {k: exact(v) for k, v in value.__dict__.items()},
        )
    if isinstance(value, list):
        return ["list", *(exact(v) for v in value)]
    return (type(value).__name__, value)


def assert_same(got: list[QueueEntry], want: list[QueueEntry]) -> None:
    assert len(got) == len(want)
    assert got == want
    assert [exact(e) for e in got] == [exact(e) for e in want]
    assert queue_json(got) == _ENTRIES.dump_json(want, indent=2)


def ranked(portfolio: Portfolio, config: Config, as_of: date) -> tuple[pl.DataFrame, Detection]:
    detection = detect(portfolio, config, as_of)
    frame = rank_frame(detection, account_frame(portfolio, detection.signals.get_column("account_id")), config)
    # the frame build_queue used to rank: every account, not only those with a signal
    assert frame.equals(rank_frame(detection, account_frame(portfolio), config))
    return frame, detection


def _synthetic(root: Path, accounts: int) -> Path:
    load_benchmark("synth").generate(root, n_accounts=accounts, weeks=30, as_of=AS_OF)
    return root


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _synthetic(tmp_path_factory.mktemp("synth") / "portfolio", 2000)


def test_sample_entries_are_those_of_the_row_by_row_construction() -> None:
    root = portfolio_dir()
    config = load_config(root)
    for as_of in (AS_OF, date(2026, 12, 20), date(2026, 9, 1)):
        frame, detection = ranked(load_portfolio(root, as_of), config, as_of)
        assert frame.height
        assert_same(entries(frame, detection), reference_entries(frame, detection))
        top = frame.filter(pl.col("csm_owner") == frame["csm_owner"][0]).head(3)  # build_queue's --csm and --top
        assert_same(entries(top, detection), reference_entries(top, detection))
        assert entries(frame.head(0), detection) == reference_entries(frame.head(0), detection) == []


def test_synthetic_entries_are_those_of_the_row_by_row_construction(synthetic: Path) -> None:
    config = load_config(synthetic)
    for as_of in (AS_OF, date(2026, 10, 1)):
        frame, detection = ranked(load_portfolio(synthetic, as_of), config, as_of)
        assert frame.height > 100
        got = entries(frame, detection)
        assert_same(got, reference_entries(frame, detection))
        assert any(e.cluster_amplification for e in got) and any(len(e.active_signals) > 2 for e in got)


def test_calibrated_entries_round_like_the_row_by_row_construction(synthetic: Path) -> None:
    """Churn probability and ARR at risk (rounded in Python, as before), from an old-format calibration."""
    config = load_config(synthetic).model_copy(
        update={"calibration": Calibration(intercept=-2.3, weights={"payment_overdue": 1.7, "risk_score": 0.31})}
    )
    frame, detection = ranked(load_portfolio(synthetic, AS_OF), config, AS_OF)
    got = entries(frame, detection)
    assert all(e.churn_probability is not None and e.arr_at_risk is not None for e in got)
    assert_same(got, reference_entries(frame, detection))


def test_model_columns_give_the_same_factors_and_horizon() -> None:
    """A calibrated model's columns (factors as JSON, horizon), and health scores missing for some accounts."""
    root = portfolio_dir()
    frame, detection = ranked(load_portfolio(root, AS_OF), load_config(root), AS_OF)
    factors = [
        json.dumps([{"factor": "signal:p1_escalation", "value": 1.0, "contribution": 0.4 + i / 7}]) if i % 3 else None
        for i in range(frame.height)
    ]
    frame = frame.with_columns(
        pl.Series("churn_factors", factors, dtype=pl.Utf8),
        pl.lit(90, pl.Int64).alias("churn_horizon_days"),
        pl.when(pl.int_range(pl.len()) % 4 == 0).then(None).otherwise(pl.col("health_score")).alias("health_score"),
    )
    got = entries(frame, detection)
    assert any(e.churn_factors for e in got) and any(e.health_score is None for e in got)
    assert_same(got, reference_entries(frame, detection))


def test_invalid_data_is_still_refused() -> None:
    """The entries are still validated: a NaN score stops the queue, as it did."""
    root = portfolio_dir()
    frame, detection = ranked(load_portfolio(root, AS_OF), load_config(root), AS_OF)
    broken = frame.with_columns(pl.when(pl.int_range(pl.len()) == 1).then(float("nan")).otherwise("arr").alias("arr"))
    with pytest.raises(ValueError, match="finite"):
        entries(broken, detection)
    assert gc.isenabled()
