"""Each detector at its threshold (does not fire) and just past it (fires), with its evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from builder import AS_OF, account, day, write_portfolio

from tools.config import Config
from tools.models import Signal
from tools.portfolio import load_portfolio
from tools.scoring import account_signals, latest_health
from tools.signals import detect


def run(tmp_path: Path, config: Config | None = None, **tables: list[dict[str, Any]]) -> dict[str, Signal]:
    root = write_portfolio(tmp_path / "p", **tables)
    detection = detect(load_portfolio(root, AS_OF), config or Config(), AS_OF)
    return {s.signal: s for listed in account_signals(detection.signals).values() for s in listed}


def health(*points: tuple[int, float], **components: list[float]) -> list[dict[str, Any]]:
    rows = []
    for i, (offset, score) in enumerate(points):
        row: dict[str, Any] = {"account_id": "A-1", "date": day(offset), "score": score}
        row.update({k: v[i] for k, v in components.items()})
        rows.append(row)
    return rows


@pytest.mark.parametrize(("score", "fires"), [(65, False), (64.9, True)])
def test_health_below_threshold(tmp_path: Path, score: float, fires: bool) -> None:
    found = run(tmp_path, health_scores=health((-7, 90), (0, score), usage=[80, 40]))
    assert ("health_below_threshold" in found) is fires
    if fires:
        sig = found["health_below_threshold"]
        assert sig.evidence[0].id == f"health:A-1:{day(0)}"
        assert "64.9" in sig.evidence[0].text and "usage 40" in sig.evidence[0].text


@pytest.mark.parametrize(("drop", "fires"), [(10, False), (10.5, True)])
def test_health_rapid_decline(tmp_path: Path, drop: float, fires: bool) -> None:
    found = run(tmp_path, health_scores=health((-7, 90), (0, 90 - drop), usage=[80, 50], support=[70, 70]))
    assert ("health_rapid_decline" in found) is fires
    if fires:
        sig = found["health_rapid_decline"]
        assert [e.id for e in sig.evidence] == [f"health:A-1:{day(-7)}", f"health:A-1:{day(0)}"]
        assert "usage 80→50" in sig.summary and "support" not in sig.summary


def test_health_rapid_decline_needs_the_drop_within_seven_days(tmp_path: Path) -> None:
    found = run(tmp_path, health_scores=health((-8, 90), (0, 70)))
    assert "health_rapid_decline" not in found


def usage(metric: str, values: list[float], account_id: str = "A-1") -> list[dict[str, Any]]:
    """Weekly values, the last one for AS_OF."""
    n = len(values)
    return [
        {"account_id": account_id, "period_start": day(-7 * (n - 1 - i)), "metric": metric, "value": v}
        for i, v in enumerate(values)
    ]


@pytest.mark.parametrize(("values", "fires"), [([80, 80, 78, 76], False), ([80, 79, 78, 77, 76], True)])
def test_usage_gradual_decline(tmp_path: Path, values: list[float], fires: bool) -> None:
    # [80, 80, 78, 76] declines in 2 consecutive periods; the second declines in 4.
    found = run(tmp_path, usage=usage("dau", values))
    assert ("usage_gradual_decline" in found) is fires
    if fires:
        sig = found["usage_gradual_decline"]
        assert sig.evidence[0].id == f"usage:A-1:dau:{day(0)}"
        assert "baseline 80" in sig.summary and "-5%" in sig.summary and "4 consecutive" in sig.summary
        assert sig.first_detected == day(-7)  # the third decline


def test_usage_gradual_decline_must_reach_the_latest_period(tmp_path: Path) -> None:
    found = run(tmp_path, usage=usage("dau", [80, 78, 76, 74, 75]))
    assert "usage_gradual_decline" not in found


@pytest.mark.parametrize(("current", "fires"), [(75, False), (74, True)])
def test_usage_sudden_drop(tmp_path: Path, current: float, fires: bool) -> None:
    found = run(tmp_path, usage=usage("sessions", [100, 100, current]))
    assert ("usage_sudden_drop" in found) is fires
    if fires:
        ids = [e.id for e in found["usage_sudden_drop"].evidence]
        assert ids == [f"usage:A-1:sessions:{day(0)}", f"usage:A-1:sessions:{day(-7)}"]
        assert "-26%" in found["usage_sudden_drop"].summary


def adoption_rows(weeks_below: int) -> list[dict[str, Any]]:
    # Peers at 6 and 8 (median of the segment's latest values = 6); A-1 at 9 then 3 for `weeks_below` weeks.
    a1 = [9.0] * (12 - weeks_below) + [3.0] * weeks_below
    return (
        usage("feature_adoption", a1)
        + usage("feature_adoption", [6.0] * 12, "A-2")
        + usage("feature_adoption", [8.0] * 12, "A-3")
    )


def test_adoption_plateau_default_sixty_days(tmp_path: Path) -> None:
    accounts = [account("A-1"), account("A-2"), account("A-3")]
    found = run(tmp_path, accounts=accounts, usage=adoption_rows(10))  # below since day -63
    assert "adoption_plateau" in found
    assert "segment median 6" in found["adoption_plateau"].summary
    found = run(tmp_path / "b", accounts=accounts, usage=adoption_rows(9))  # below since day -56
    assert "adoption_plateau" not in found


def tickets(offsets: list[int], **fields: Any) -> list[dict[str, Any]]:
    return [
        {
            "ticket_id": f"T-{i}",
            "account_id": "A-1",
            "opened_at": day(o),
            "priority": "P3",
            "status": "closed",
            "closed_at": day(o + 1) if o + 1 <= 0 else day(0),
            "subject": f"Problem {i}",
            **fields,
        }
        for i, o in enumerate(offsets)
    ]


def test_support_volume_spike_needs_more_than_twice_the_average(tmp_path: Path) -> None:
    # 4 recent vs 6 in the prior 90 days (2/month): 4 is not > 4 → no; 5 recent → fires.
    base = [-35, -45, -55, -65, -75, -85]
    assert "support_volume_spike" not in run(tmp_path / "a", tickets=tickets([-1, -2, -3, -4, *base]))
    found = run(tmp_path / "b", tickets=tickets([-1, -2, -3, -4, -5, *base]))
    sig = found["support_volume_spike"]
    assert len(sig.evidence) == 5 and all(e.id.startswith("ticket:") for e in sig.evidence)
    assert "5 tickets in the last 30 days" in sig.summary and "P3:5" in sig.summary
    assert sig.first_detected == day(-1)  # the 5th recent ticket made it cross


@pytest.mark.parametrize(
    ("priority", "status", "escalated", "fires"),
    [
        ("P1", "closed", "false", False),
        ("P1", "open", "false", True),
        ("P2", "open", "true", True),
        ("P2", "open", "false", False),
    ],
)
def test_p1_escalation(tmp_path: Path, priority: str, status: str, escalated: str, fires: bool) -> None:
    rows = [
        {
            "ticket_id": "T-1",
            "account_id": "A-1",
            "opened_at": day(-40),
            "priority": priority,
            "status": status,
            "closed_at": day(-2) if status == "closed" else None,
            "escalated": escalated,
            "subject": "Outage",
        }
    ]
    found = run(tmp_path, tickets=rows)
    assert ("p1_escalation" in found) is fires
    if fires:
        assert found["p1_escalation"].evidence[0].id == "ticket:T-1"
        assert "open 40 days" in found["p1_escalation"].evidence[0].text


@pytest.mark.parametrize(("age", "fires"), [(30, False), (31, True)])
def test_unresolved_support(tmp_path: Path, age: int, fires: bool) -> None:
    rows = [
        {
            "ticket_id": "T-1",
            "account_id": "A-1",
            "opened_at": day(-age),
            "priority": "P3",
            "status": "open",
            "subject": "Export broken",
        }
    ]
    found = run(tmp_path, tickets=rows)
    assert ("unresolved_support" in found) is fires
    if fires:
        assert f"open {age} days" in found["unresolved_support"].evidence[0].text


@pytest.mark.parametrize(("latest", "fires"), [(7, False), (6, True)])
def test_survey_decline_by_drop(tmp_path: Path, latest: float, fires: bool) -> None:
    # Segment benchmark: A-2..A-4 at 9 keep the 25th percentile high but A-1's own drop decides.
    accounts = [account("A-1", segment="smb")] + [account(f"A-{i}") for i in (2, 3, 4)]
    rows = [
        {"account_id": "A-1", "date": day(-100), "kind": "nps", "score": 8},
        {
            "account_id": "A-1",
            "date": day(-10),
            "kind": "nps",
            "score": latest,
            "comment": "Reports are slow",
        },
    ]
    found = run(tmp_path, accounts=accounts, surveys=rows)
    assert ("survey_decline" in found) is fires
    if fires:
        sig = found["survey_decline"]
        assert sig.evidence[0].id == f"survey:A-1:{day(-10)}:nps"
        assert "prior 8" in sig.summary and "Reports are slow" in sig.summary


def test_survey_decline_below_segment_percentile(tmp_path: Path) -> None:
    accounts = [account(f"A-{i}") for i in range(1, 6)]
    rows = [
        {"account_id": f"A-{i}", "date": day(-5), "kind": "csat", "score": s}
        for i, s in zip(range(1, 6), [2, 4, 4, 5, 5], strict=True)
    ]
    found = run(tmp_path, accounts=accounts, surveys=rows)
    assert "survey_decline" in found  # A-1 at 2 < 25th percentile 4


def contact(offset: int, name: str, role: str, event: str, **extra: Any) -> dict[str, Any]:
    return {
        "account_id": "A-1",
        "date": day(offset),
        "contact_name": name,
        "role": role,
        "event": event,
        **extra,
    }


@pytest.mark.parametrize(("role", "fires"), [("admin", False), ("champion", True)])
def test_champion_departure(tmp_path: Path, role: str, fires: bool) -> None:
    rows = [contact(-12, "Jane Roe", role, "departed", title="VP Ops", source="LinkedIn")]
    found = run(tmp_path, contact_events=rows)
    assert ("champion_departure" in found) is fires
    if fires:
        ev = found["champion_departure"].evidence[0]
        assert ev.id == f"contact:A-1:{day(-12)}:Jane Roe"
        assert "Jane Roe" in ev.text and "VP Ops" in ev.text and day(-12) in ev.text and "LinkedIn" in ev.text


def test_sponsor_change_names_old_and_new(tmp_path: Path) -> None:
    rows = [
        contact(-400, "Sam Old", "executive_sponsor", "joined"),
        contact(-20, "Sam Old", "executive_sponsor", "departed"),
        contact(-5, "Lee New", "executive_sponsor", "joined"),
    ]
    sig = run(tmp_path, contact_events=rows)["sponsor_change"]
    assert "Sam Old" in sig.summary and "Lee New" in sig.summary
    assert not run(tmp_path / "b", contact_events=rows[:1]).get("sponsor_change")


def meeting(i: int, offset: int, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "meeting_id": f"M-{i}",
        "account_id": "A-1",
        "date": day(offset),
        "kind": "qbr",
        "status": status,
        **extra,
    }


@pytest.mark.parametrize(("offsets", "fires"), [([-3, -30], False), ([-3, -29], True)])
def test_declined_meetings(tmp_path: Path, offsets: list[int], fires: bool) -> None:
    rows = [meeting(1, offsets[0], "declined"), meeting(2, offsets[1], "no_show")]
    found = run(tmp_path, meetings=rows)
    assert ("declined_meetings" in found) is fires
    if fires:
        assert {e.id for e in found["declined_meetings"].evidence} == {"meeting:M-1", "meeting:M-2"}


def email(i: int, offset: int, direction: str, **extra: Any) -> dict[str, Any]:
    return {
        "email_id": f"E-{i}",
        "account_id": "A-1",
        "sent_at": day(offset),
        "direction": direction,
        "subject": f"Subject {i}",
        **extra,
    }


@pytest.mark.parametrize(("outbound", "fires"), [(2, False), (3, True)])
def test_no_reply_streak(tmp_path: Path, outbound: int, fires: bool) -> None:
    rows = [email(0, -40, "inbound")] + [email(i, -30 + i * 5, "outbound") for i in range(1, outbound + 1)]
    found = run(tmp_path, emails=rows)
    assert ("no_reply_streak" in found) is fires
    if fires:
        sig = found["no_reply_streak"]
        assert [e.id for e in sig.evidence] == ["email:E-1", "email:E-2", "email:E-3"]
        assert "40 days ago" in sig.summary


@pytest.mark.parametrize(("silent", "fires"), [(59, False), (60, True)])
def test_stakeholder_silence(tmp_path: Path, silent: int, fires: bool) -> None:
    rows = [
        meeting(1, -silent, "held", attendee_roles="champion"),
        meeting(2, -5, "held", attendee_roles="user"),
    ]
    found = run(tmp_path, meetings=rows, emails=[email(1, -10, "inbound", contact_role="user")])
    assert ("stakeholder_silence" in found) is fires
    if fires:
        assert found["stakeholder_silence"].evidence[0].id == "meeting:M-1"
        assert f"for {silent} days" in found["stakeholder_silence"].summary


@pytest.mark.parametrize(
    ("text", "fires"),
    [
        ("We compared Gainsightly reports", False),
        ("They are trialling gainsight next month", True),
    ],
)
def test_competitor_mention_whole_word(tmp_path: Path, text: str, fires: bool) -> None:
    notes = [{"note_id": "N-1", "account_id": "A-1", "date": day(-3), "author": "Dana", "text": text}]
    found = run(tmp_path, Config(competitors=["Gainsight"]), notes=notes)
    assert ("competitor_mention" in found) is fires
    if fires:
        ev = found["competitor_mention"].evidence[0]
        assert ev.id == "note:N-1" and "gainsight" in ev.text and "Gainsight" in ev.text


def test_competitor_mention_not_evaluated_without_names(tmp_path: Path) -> None:
    root = write_portfolio(
        tmp_path / "p", notes=[{"note_id": "N-1", "account_id": "A-1", "date": day(-3), "text": "Gainsight"}]
    )
    detection = detect(load_portfolio(root, AS_OF), Config(), AS_OF)
    assert any(r.startswith("competitor_mention: no competitors configured") for r in detection.missing_for("A-1"))


@pytest.mark.parametrize(
    ("days_in_stage", "objection", "fires"),
    [(29, None, False), (30, None, True), (5, "Budget cut by 20%", True)],
)
def test_contract_objection(tmp_path: Path, days_in_stage: int, objection: str | None, fires: bool) -> None:
    rows = [
        {
            "opportunity_id": "O-1",
            "account_id": "A-1",
            "kind": "renewal",
            "stage": "negotiation",
            "stage_entered_on": day(-days_in_stage),
            "objection": objection,
        }
    ]
    found = run(tmp_path, opportunities=rows)
    assert ("contract_objection" in found) is fires
    if fires and objection:
        assert objection in found["contract_objection"].evidence[0].text


@pytest.mark.parametrize(("days_late", "fires"), [(30, False), (31, True)])
def test_payment_overdue(tmp_path: Path, days_late: int, fires: bool) -> None:
    rows = [
        {
            "invoice_id": "I-1",
            "account_id": "A-1",
            "issued_on": day(-days_late - 30),
            "due_on": day(-days_late),
            "amount": 12000,
            "currency": "USD",
        }
    ]
    found = run(tmp_path, invoices=rows)
    assert ("payment_overdue" in found) is fires
    if fires:
        assert found["payment_overdue"].evidence[0].text.endswith(f"{days_late} days overdue")


def test_missing_files_are_not_evaluated_never_clear(tmp_path: Path) -> None:
    root = write_portfolio(tmp_path / "p")
    detection = detect(load_portfolio(root, AS_OF), Config(competitors=["X"]), AS_OF)
    reasons = detection.missing_for("A-1")
    assert "payment_overdue: no invoices.csv" in reasons
    assert "stakeholder_silence: no meetings.csv or emails.csv" in reasons
    assert len({r.split(":")[0] for r in reasons}) == 17


def test_threshold_override_from_config(tmp_path: Path) -> None:
    config = Config.model_validate({"signals": {"usage_sudden_drop": {"threshold": 0.5, "severity": 5}}})
    assert "usage_sudden_drop" not in run(tmp_path, config, usage=usage("dau", [100, 60]))
    found = run(tmp_path / "b", config, usage=usage("dau", [100, 40]))
    assert found["usage_sudden_drop"].severity == 5


@pytest.mark.parametrize(("repeat_last", "fires"), [(True, False), (False, True)])
def test_a_repeated_usage_period_reads_its_later_row(tmp_path: Path, repeat_last: bool, fires: bool) -> None:
    # Two rows for the latest period (one per account, metric and period is the format): the later row in the
    # file counts, whatever the sort does with ties, so the same file always gives the same signals.
    rows = usage("sessions", [100, 100, 74])
    repeated = {**rows[-1], "value": 100}
    found = run(tmp_path, usage=[*rows, repeated] if repeat_last else [*rows[:-1], repeated, rows[-1]])
    assert ("usage_sudden_drop" in found) is fires


def test_a_repeated_health_date_reads_its_later_row_in_the_signal_and_the_queue(tmp_path: Path) -> None:
    rows = [
        {"account_id": "A-1", "date": day(-7), "score": 80},
        {"account_id": "A-1", "date": day(0), "score": 30},
        {"account_id": "A-1", "date": day(0), "score": 75},  # the later row of the same date
    ]
    found = run(tmp_path, health_scores=rows)
    assert "health_below_threshold" not in found
    root = write_portfolio(tmp_path / "q", accounts=[account("A-1")], health_scores=rows)
    assert latest_health(load_portfolio(root, AS_OF))["health_score"].to_list() == [75]
