"""The measurement report over the review store (`riskbrief report`), without the graph: reviews, decisions
and outcomes written with the store's own functions, then counted."""

from __future__ import annotations

from pathlib import Path

import pytest
from brief_fixtures import ACCOUNT, ENTRY, POOL, facts, rulebook
from pg import backend, postgres_server, postgres_url  # noqa: F401  (fixtures)

from agent import review
from agent.brief import DrafterInfo, RiskBrief, assemble_brief
from agent.drafter import draft_offline
from agent.review import (
    HITL_DEFAULT_REVIEWER,
    Outcome,
    ReviewDecision,
    build_report,
    is_not_a_risk,
    record_outcome,
    resume_decision,
)
from tools.errors import InputError
from tools.verify import VerificationReport

pytestmark = pytest.mark.usefixtures("backend")  # every test: on SQLite, then on Postgres

KEYS = {
    "accounts_reviewed",
    "risks_confirmed",
    "actions_taken",
    "responses",
    "saved_accounts",
    "false_positives",
    "unresolved_risk_reasons",
    "median_hours_to_decision",
    "decision_packet_rate",
}


def make_brief(account_id: str = "A-1", level: str = "critical") -> RiskBrief:
    entry = ENTRY.model_copy(update={"account_id": account_id, "risk_level": level})
    draft = draft_offline(ACCOUNT, ENTRY, POOL, rulebook=rulebook())
    brief = assemble_brief(
        entry=entry,
        account=ACCOUNT.model_copy(update={"account_id": account_id}),
        draft=draft,
        evidence=POOL,
        drafter=DrafterInfo(),
        report=VerificationReport(passed=True),
        facts=facts(),
    )
    return brief


def decide(
    review_id: str,
    brief: RiskBrief,
    kind: str,
    *,
    drafted: str = "2026-11-20T09:00:00+00:00",
    decided: str = "2026-11-20T13:00:00+00:00",
    **fields: object,
) -> None:
    """Register, claim, apply, log and finish a decision: what the graph's steps do, in order."""
    review.register_review(review_id, brief, drafted)
    decision = ReviewDecision.model_validate({"decision": kind, "reviewer": "Sam", "decided_at": decided, **fields})
    assert review.claim_review(review_id, decision)
    applied = review.apply_approved(review_id, brief, decision) if decision.approved else []
    review.log_event(review_id, brief, decision, applied, decided)
    review.finish_review(review_id, decision)


def outcome(review_id: str, account: str, response: str, result: str, reason: str | None = None) -> None:
    record_outcome(
        Outcome.model_validate(
            {
                "review_id": review_id,
                "account_id": account,
                "response": response,
                "result": result,
                "reason": reason,
                "recorded_at": "2026-12-01T10:00:00+00:00",
            }
        )
    )


def test_an_empty_workspace_reports_zeroes(home: Path) -> None:
    data = build_report()
    assert set(data) >= KEYS
    assert {k: data[k] for k in KEYS} == {
        "accounts_reviewed": 0,
        "risks_confirmed": 0,
        "actions_taken": 0,
        "responses": 0,
        "saved_accounts": 0,
        "false_positives": 0,
        "unresolved_risk_reasons": [],
        "median_hours_to_decision": None,
        "decision_packet_rate": 0.0,
    }


def test_counts_outcomes_false_positives_hours_and_decision_packets(home: Path) -> None:
    a1, a2, a3, a4 = make_brief("A-1"), make_brief("A-2", "high"), make_brief("A-3", "medium"), make_brief("A-4")
    decide("rv-1", a1, "approve", triage="escalate", option=1)  # 4 hours, a full decision packet
    decide("rv-2", a2, "approve", triage="monitor", decided="2026-11-20T11:00:00+00:00")  # 2 hours, no option
    decide("rv-3", a3, "approve", triage="dismiss")  # a false positive
    decide("rv-4", a4, "reject", reason="Not a risk: seasonal dip", decided="2026-11-21T09:00:00+00:00")
    review.register_review("rv-5", make_brief("A-5", "low"), "2026-11-20T09:00:00+00:00")  # pending
    outcome("rv-1", "A-1", "no_reply", "open", "champion on leave")
    outcome("rv-1", "A-1", "meeting_booked", "saved")  # the latest outcome counts
    outcome("rv-2", "A-2", "replied", "churned", "budget cut")
    outcome("rv-3", "A-3", "no_reply", "open")

    data = build_report()
    assert data["accounts_reviewed"] == 4
    assert data["risks_confirmed"] == 2  # A-3 was dismissed, A-4 rejected
    assert data["actions_taken"] == 1
    assert data["responses"] == 2  # meeting booked, replied
    assert data["saved_accounts"] == 1
    assert data["false_positives"] == 2
    assert data["unresolved_risk_reasons"] == [
        {"reason": "budget cut", "count": 1},
        {"reason": "no reason given", "count": 1},
    ]
    assert data["median_hours_to_decision"] == 4.0  # 2, 4, 4, 24
    # High and critical accounts: A-1 complete; A-2 lacks a mitigation; A-4 was rejected (no mitigation,
    # no escalation decision).
    assert (data["decision_packet_accounts"], data["decision_packet_complete"]) == (3, 1)
    assert data["decision_packet_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert data["decision_packet_missing"]["mitigation"] == 2
    assert data["decision_packet_missing"]["escalation_decision"] == 1
    assert data["reviews"] == {"approved": 3, "rejected": 1, "awaiting_review": 1}
    assert all(
        isinstance(data[k], int)
        for k in KEYS - {"unresolved_risk_reasons", "median_hours_to_decision", "decision_packet_rate"}
    )

    since = build_report("2026-11-21")
    assert since["accounts_reviewed"] == 1 and since["false_positives"] == 1  # only rv-4 was decided since


def test_event_rows_carry_the_outcome(home: Path) -> None:
    decide("rv-9", make_brief("A-9"), "approve", option=2)
    outcome("rv-9", "A-9", "replied", "downgraded", "seats cut")
    event = review.event_of("rv-9")
    assert event is not None
    assert (event["responded"], event["saved"], event["churned"], event["outcome"], event["unresolved_reason"]) == (
        1,
        0,
        0,
        "downgraded",
        "seats cut",
    )
    assert review.latest_outcome("rv-9") == Outcome.model_validate(
        {
            "review_id": "rv-9",
            "account_id": "A-9",
            "response": "replied",
            "result": "downgraded",
            "reason": "seats cut",
            "recorded_at": "2026-12-01T10:00:00+00:00",
        }
    )


def test_outcomes_follow_an_approval(home: Path) -> None:
    decide("rv-r", make_brief("A-7"), "reject", reason="wrong account")
    with pytest.raises(InputError, match="rv-r was rejected"):
        review.outcome_review("rv-r")
    with pytest.raises(InputError, match="account A-7 has no approved review yet"):
        review.outcome_review("A-7")
    decide("rv-a", make_brief("A-7"), "approve", decided="2026-11-22T09:00:00+00:00")
    assert review.outcome_review("A-7").review_id == "rv-a"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("not a risk", True),
        ("Not a risk: seasonal", True),
        ("false positive", True),
        ("FALSE-POSITIVE, data glitch", True),
        ("no risk here", True),
        ("not a real risk", True),
        ("stale data", False),
        ("the risk is not clear yet", False),
        (None, False),
    ],
)
def test_rejections_that_say_not_a_risk_are_false_positives(reason: str | None, expected: bool) -> None:
    assert is_not_a_risk(reason) is expected


def test_human_in_the_loop_responses_map_to_decisions() -> None:
    brief = make_brief()
    at = "2026-11-20T10:00:00+00:00"
    accept = resume_decision({"type": "accept", "args": None}, brief, at)
    assert (accept.decision, accept.reviewer, accept.triage) == ("approve", HITL_DEFAULT_REVIEWER, "investigate")
    respond = resume_decision([{"type": "response", "args": "wrong account"}], brief, at)
    assert (respond.decision, respond.reason) == ("reject", "wrong account")
    assert resume_decision({"type": "ignore"}, brief, at).reason == "ignored"
    edit = resume_decision(
        {"type": "edit", "args": {"action": "review_risk_brief", "args": {"summary": "Shorter.", "ack_stops": True}}},
        brief,
        at,
    )
    assert edit.decision == "edit" and edit.edits == {"summary": "Shorter."}
    assert edit.acknowledged_stops == brief.stop_reasons
    same = resume_decision({"type": "edit", "args": {"summary": brief.summary, "triage": "monitor"}}, brief, at)
    assert (same.decision, same.triage, same.edits) == ("approve", "monitor", {})
    native = resume_decision({"decision": "approve", "reviewer": "Sam", "decided_at": "t1"}, brief, at)
    assert native.reviewer == "Sam" and native.decided_at == "t1"
    with pytest.raises(InputError, match="unknown response type 'maybe'"):
        resume_decision({"type": "maybe"}, brief, at)
    with pytest.raises(InputError, match="'risk_level' comes from the tools"):
        resume_decision({"type": "edit", "args": {"risk_level": "low"}}, brief, at)
    with pytest.raises(InputError, match="unknown field 'mood'"):
        resume_decision({"type": "edit", "args": {"mood": "grim"}}, brief, at)


def test_a_workspace_from_an_earlier_version_gains_the_new_columns(home: Path) -> None:
    import sqlite3

    path = review.store_path()  # the workspace's store file, empty
    with sqlite3.connect(path) as conn:  # the reviews table as the first release made it
        conn.execute(
            "CREATE TABLE reviews (review_id TEXT PRIMARY KEY, account_id TEXT NOT NULL, account_name TEXT, as_of TEXT,"
            " risk_level TEXT, brief_status TEXT, created_at TEXT NOT NULL, status TEXT NOT NULL DEFAULT"
            " 'awaiting_review', decision TEXT, reviewer TEXT, decided_at TEXT, reason TEXT, triage TEXT,"
            " decision_json TEXT)"
        )
        conn.execute("INSERT INTO reviews (review_id, account_id, created_at) VALUES ('rv-old', 'A-1', 't0')")
    brief = make_brief()
    review.register_review("rv-old", brief, "t0")  # re-entered by a resumed run: the brief is added
    assert review.stored_brief("rv-old") == brief
    assert build_report()["reviews"] == {"awaiting_review": 1}
