"""Converters on tiny in-test copies of the source schemas (the real files are not needed)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evals.converters import add_months, next_anniversary, ravenstack, telco
from evals.converters.compare import telco_raw_features
from tools.portfolio import load_portfolio


def write(path: Path, text: str) -> None:
    path.write_text(text.strip() + "\n", encoding="utf-8")


@pytest.fixture
def ravenstack_src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    src.mkdir()
    write(
        src / "ravenstack_accounts.csv",
        """
account_id,account_name,industry,country,signup_date,referral_source,plan_tier,seats,is_trial,churn_flag
A-1,Company_1,EdTech,US,2023-01-15,partner,Enterprise,20,False,True
A-2,Company_2,FinTech,IN,2023-06-30,ads,Basic,3,False,False
""",
    )
    write(
        src / "ravenstack_subscriptions.csv",
        """
subscription_id,account_id,start_date,end_date,plan_tier,seats,mrr_amount,arr_amount,is_trial,upgrade_flag,downgrade_flag,churn_flag,billing_frequency,auto_renew_flag
S-1,A-1,2023-01-15,2023-05-01,Enterprise,20,1000,12000,False,False,False,True,monthly,True
S-2,A-1,2023-02-01,,Pro,20,0,0,True,False,False,False,monthly,True
S-3,A-1,2023-06-01,,Pro,20,500,6000,False,False,True,False,annual,True
S-4,A-2,2023-07-01,,Basic,3,100,1200,False,False,False,False,monthly,False
""",
    )
    write(
        src / "ravenstack_feature_usage.csv",
        """
usage_id,subscription_id,usage_date,feature_name,usage_count,usage_duration_secs,error_count,is_beta_feature
U-1,S-1,2023-02-03,feature_1,10,600,0,False
U-2,S-1,2023-02-20,feature_2,5,120,1,False
U-3,S-3,2023-04-10,feature_1,4,60,0,False
U-4,S-4,2023-07-05,feature_3,7,70,0,True
""",
    )
    write(
        src / "ravenstack_support_tickets.csv",
        """
ticket_id,account_id,submitted_at,closed_at,resolution_time_hours,priority,first_response_time_minutes,satisfaction_score,escalation_flag
T-1,A-1,2023-03-01,2023-03-02 10:00:00,34.0,urgent,10,2.0,True
T-2,A-1,2023-03-05,2023-03-05 12:00:00,3.0,low,20,,False
T-3,A-2,2023-07-10,,,medium,30,,False
""",
    )
    write(
        src / "ravenstack_churn_events.csv",
        """
churn_event_id,account_id,churn_date,reason_code,refund_amount_usd,preceding_upgrade_flag,preceding_downgrade_flag,is_reactivation,feedback_text
C-1,A-1,2023-05-01,pricing,0.0,False,False,False,too expensive
C-2,A-1,2023-05-10,support,0.0,False,False,False,
C-3,A-1,2023-09-01,budget,0.0,False,False,True,
""",
    )
    return src


def test_calendar_helpers() -> None:
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2024, 3, 15), -3) == date(2023, 12, 15)
    assert next_anniversary(date(2023, 1, 15), date(2023, 12, 31), 12) == date(2024, 1, 15)
    assert next_anniversary(date(2023, 1, 15), date(2024, 1, 15), 12) == date(2024, 1, 15)
    assert next_anniversary(date(2023, 1, 15), date(2023, 3, 1), 1) == date(2023, 3, 15)


def test_ravenstack_portfolio_loads_and_maps_fields(ravenstack_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "portfolio"
    counts = ravenstack.convert(ravenstack_src, out, renewal_after=date(2023, 12, 31))
    assert counts["accounts"] == 2
    p = load_portfolio(out, include_outcomes=True)
    # no invented files: their signals are reported as not evaluated
    assert {"health_scores", "notes", "invoices", "contact_events", "meetings", "emails"} <= p.missing
    accounts = {r["account_id"]: r for r in p.accounts.iter_rows(named=True)}
    a1 = accounts["A-1"]
    assert a1["segment"] == "enterprise" and accounts["A-2"]["segment"] == "smb"
    assert a1["arr"] == 6000  # latest paid subscription (the trial does not count)
    assert a1["renewal_date"] == date(2024, 1, 15)  # signup anniversary on or after the reference day
    assert a1["contract_start"] == date(2023, 1, 15)
    assert a1["licenses"] == 20

    # accounts as they were: ARR, tier and seats change with each paid subscription start
    history = p.table("account_history")
    assert history is not None
    h1 = history.filter(pl.col("account_id") == "A-1").select("valid_from", "arr", "segment").rows()
    assert h1 == [(date(2023, 1, 15), 12000.0, "enterprise"), (date(2023, 6, 1), 6000.0, "mid-market")]
    from tools.churn_accounts import accounts_in_force

    then = accounts_in_force(p.accounts, history, date(2023, 3, 1), snapshot=date(2024, 12, 31))
    a1_then = then.filter(pl.col("account_id") == "A-1").row(0, named=True)
    assert a1_then["arr"] == 12000.0 and a1_then["segment"] == "enterprise"
    assert a1_then["renewal_date"] == date(2024, 1, 15)  # first signup anniversary after 2023-03-01

    tickets = {r["ticket_id"]: r for r in p.table("tickets").iter_rows(named=True)}  # type: ignore[union-attr]
    assert tickets["T-1"]["priority"] == "P1" and tickets["T-1"]["escalated"] is True
    assert tickets["T-1"]["closed_at"] == date(2023, 3, 2) and tickets["T-1"]["status"] == "closed"
    assert tickets["T-3"]["status"] == "open" and tickets["T-3"]["priority"] == "P3"

    surveys = p.table("surveys")
    assert surveys is not None
    assert surveys.select("account_id", "date", "kind", "score").rows() == [("A-1", date(2023, 3, 2), "csat", 2.0)]


def test_ravenstack_usage_is_monthly_and_zero_filled(ravenstack_src: Path, tmp_path: Path) -> None:
    frames = ravenstack.read_source(ravenstack_src)
    usage = ravenstack.convert_usage(frames["feature_usage"], frames["subscriptions"], date(2023, 8, 20))
    a1 = usage.filter((pl.col("account_id") == "A-1") & (pl.col("metric") == "feature_events"))
    # Feb: 10 + 5; Mar: no events -> 0; Apr: 4; then zero through the last month of the data
    assert dict(zip(a1["period_start"].to_list(), a1["value"].to_list(), strict=True)) == {
        date(2023, 2, 1): 15.0,
        date(2023, 3, 1): 0.0,
        date(2023, 4, 1): 4.0,
        date(2023, 5, 1): 0.0,
        date(2023, 6, 1): 0.0,
        date(2023, 7, 1): 0.0,
        date(2023, 8, 1): 0.0,
    }
    adoption = usage.filter((pl.col("account_id") == "A-1") & (pl.col("metric") == "feature_adoption"))
    assert adoption["value"][0] == 2.0  # two distinct features in February
    # nothing before an account's first active month
    assert usage.filter(pl.col("account_id") == "A-2")["period_start"].min() == date(2023, 7, 1)


def test_ravenstack_outcomes_record_churn_and_return(ravenstack_src: Path) -> None:
    frames = ravenstack.read_source(ravenstack_src)
    outcomes = ravenstack.convert_outcomes(frames["churn_events"], frames["subscriptions"])
    # churned 05-01, the 05-10 churn without a return in between collapses, back with S-3 on 06-01,
    # churned again 09-01
    assert outcomes.rows() == [
        ("A-1", date(2023, 5, 1), "churned"),
        ("A-1", date(2023, 6, 1), "renewed"),
        ("A-1", date(2023, 9, 1), "churned"),
    ]


TELCO_HEADER = (
    "customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,InternetService,"
    "OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,StreamingMovies,Contract,"
    "PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,Churn"
)


@pytest.fixture
def telco_src(tmp_path: Path) -> Path:
    src = tmp_path / "telco"
    src.mkdir()
    no_net = ["No internet service"] * 6
    rows = [
        [
            "0001-A",
            "Female",
            "0",
            "Yes",
            "No",
            "1",
            "No",
            "No phone service",
            "DSL",
            "No",
            "Yes",
            "No",
            "No",
            "No",
            "No",
            "Month-to-month",
            "Yes",
            "Electronic check",
            "29.85",
            "29.85",
            "Yes",
        ],
        [
            "0002-B",
            "Male",
            "1",
            "No",
            "No",
            "34",
            "Yes",
            "No",
            "DSL",
            "Yes",
            "No",
            "Yes",
            "No",
            "No",
            "No",
            "One year",
            "No",
            "Mailed check",
            "56.95",
            "1889.5",
            "No",
        ],
        [
            "0003-C",
            "Male",
            "0",
            "No",
            "No",
            "0",
            "Yes",
            "No",
            "No",
            *no_net,
            "Two year",
            "No",
            "Mailed check",
            "20.25",
            " ",
            "No",
        ],
    ]
    write(src / telco.SOURCE_FILE, "\n".join([TELCO_HEADER, *(",".join(r) for r in rows)]))
    return src


def test_telco_accounts_and_outcomes(telco_src: Path, tmp_path: Path) -> None:
    out = tmp_path / "portfolio"
    snapshot = date(2018, 1, 31)
    telco.convert(telco_src, out, snapshot)
    p = load_portfolio(out, include_outcomes=True)
    # no time series at all: every optional table is missing
    assert p.tables.keys() == {"outcomes"}
    rows = {r["account_id"]: r for r in p.accounts.iter_rows(named=True)}
    assert rows["0001-A"]["arr"] == pytest.approx(358.2)
    # starts are placed tenure months before the middle of the label window (as-of + 15 days), so a renewal
    # due in the window falls inside it and inside the < 30-day band, not on the 30-day edge
    middle = date(2018, 1, 16)
    assert rows["0001-A"]["contract_start"] == date(2017, 12, 16)
    assert rows["0001-A"]["renewal_date"] == middle  # monthly contract
    assert (middle - telco.feature_as_of(snapshot)).days == 15
    assert rows["0001-A"]["contract_term_months"] == "1"
    assert rows["0002-B"]["contract_start"] == date(2015, 3, 16)
    assert rows["0002-B"]["renewal_date"] == date(2018, 3, 16)  # yearly anniversary after the as-of day
    assert rows["0002-B"]["contract_term_months"] == "12"
    assert rows["0003-C"]["contract_start"] == middle  # tenure 0: not yet a customer at the as-of day
    outcomes = p.table("outcomes")
    assert outcomes is not None
    assert dict(outcomes.select("account_id", "outcome").rows()) == {
        "0001-A": "churned",
        "0002-B": "renewed",
        "0003-C": "renewed",
    }
    assert set(outcomes["date"].to_list()) == {snapshot}
    assert telco.feature_as_of(snapshot) == date(2018, 1, 1)


def test_telco_raw_features_one_hot(telco_src: Path) -> None:
    frame, names = telco_raw_features(telco.read_source(telco_src))
    assert "Contract=One year" in names and "Contract=Month-to-month" not in names  # first level dropped
    x = frame.select(names).to_numpy()
    assert np.isfinite(x).all()  # blank TotalCharges becomes 0
    assert frame.filter(pl.col("account_id") == "0002-B")["Contract=One year"][0] == 1.0
