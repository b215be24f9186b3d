"""Sensitive text stays in: a brief drafted with a model against a local stub endpoint that records every
request body. E-mail addresses, phone numbers, card numbers and SSNs from the portfolio never reach the
endpoint (placeholders do), and, with `RISKBRIEF_REDACT_NAMES=1`, neither do people's names; the brief
itself is rendered from the original records, and a model citing a record whose id holds a redacted name
still gets it right."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tiny_portfolio

from agent.cli_agent import run_brief
from agent.config import AgentContext, ModelSettings
from evals.fake_openai import FakeOpenAI, Reply
from tools import retrieval
from tools.portfolio import load_portfolio

CLOCK = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
EMAIL = "lena.ortiz@techstart.example"
PHONE = "+1 (415) 555-0142"
CARD = "4111 1111 1111 1111"
SSN = "078-05-1120"
SENSITIVE = [EMAIL, PHONE, CARD, SSN, "4111111111111111", "415) 555-0142", "078-05-1120"]
NAMES = ["Lena Ortiz", "Lena", "Ortiz", "Priya Patel", "Priya", "Patel", "Marco Bellini", "Bellini"]
CONTACT_ID = "contact:A-017:2026-11-02:Marco Bellini"


def _append(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open(newline="", encoding="utf-8") as fh:
        columns = list(csv.DictReader(fh).fieldnames or [])
    columns += [k for r in rows for k in r if k not in columns]
    existing = list(csv.DictReader(path.open(newline="", encoding="utf-8")))
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows([*existing, *rows])


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny portfolio, plus a note full of contact data and a champion who left (a contact id holds a
    name)."""
    root = write_tiny_portfolio(tmp_path_factory.mktemp("sensitive") / "portfolio")
    _append(
        root / "notes.csv",
        [
            {
                "note_id": "N-5",
                "account_id": "A-017",
                "date": "2026-11-16",
                "author": "Priya Patel",
                "text": f"Lena Ortiz asked us to use {EMAIL} or call {PHONE} about billing. "
                f"She read out card {CARD} and her SSN {SSN} on the call; both are in the CRM now.",
            }
        ],
    )
    (root / "contact_events.csv").write_text(
        "account_id,date,contact_name,role,event,title\n"
        "A-017,2024-01-10,Marco Bellini,champion,joined,Head of Sales Ops\n"
        "A-017,2026-11-02,Marco Bellini,champion,departed,Head of Sales Ops\n",
        encoding="utf-8",
    )
    return root


@pytest.fixture(scope="module")
def store(portfolio: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("store") / "chroma"
    retrieval.ingest(load_portfolio(portfolio), progress=False, store_path=path)
    return str(path)


def faithful(prompt: str) -> dict[str, Any]:
    """A faithful draft written against the prompt as sent: it cites the champion's departure by the id
    the prompt shows (a placeholder where the name was, when names are redacted)."""
    shown = re.search(r"contact:A-017:2026-11-02:(?:\[NAME-\d+\]|Marco Bellini)", prompt)
    assert shown is not None, "the departure is in the prompt"
    return {
        "summary": "Exports keep failing, {signal:support_volume_spike}, while the team's goals depend on reports.",
        "summary_evidence_ids": ["note:N-1", shown.group(0)],
        "risk_category": "support/product",
        "confirmed_causes": [{"span_id": "note:N-1#s2", "same_in": [], "category": "support/product"}],
        "suspected_causes": [
            {
                "hypothesis": "A new executive may be reviewing every tool the team pays for.",
                "evidence_ids": ["note:N-1"],
                "lead_span_id": "note:N-1#s3",
                "what_would_confirm": "Ask the champion who owns the tool review.",
                "category": "competitive",
            }
        ],
        "next_action_options": [
            {"kind": "support_escalation_review", "signals": ["support_volume_spike"]},
            {"kind": "stakeholder_mapping", "signals": ["champion_departure"]},
        ],
        "assumptions": [],
    }


def prompt_of(request: dict[str, Any]) -> str:
    return "\n".join(str(m.get("content")) for m in request.get("messages", []))


def settings(fake: FakeOpenAI) -> ModelSettings:
    return ModelSettings(model="fake", base_url=fake.base_url, api_key="x", retry_attempts=1)


def run(
    portfolio: Path, store: str, script: Callable[[dict[str, Any], int], Reply | None], review_id: str
) -> tuple[Any, list[str]]:
    with FakeOpenAI(script) as fake:
        context = AgentContext(model=settings(fake), now=lambda: CLOCK, store_path=store)
        brief = run_brief("A-017", portfolio, context=context, review_id=review_id).brief
        bodies = [json.dumps(r, ensure_ascii=False) for r in fake.requests]
    return brief, bodies


def test_contact_data_never_reaches_the_endpoint(home: Path, portfolio: Path, store: str) -> None:
    brief, bodies = run(
        portfolio, store, lambda request, n: Reply(content=faithful(prompt_of(request))), "rv-A-017-00000101"
    )
    assert len(bodies) == 1
    body = bodies[0]
    for value in SENSITIVE:
        assert value not in body, value
    for placeholder in ("[EMAIL-1]", "[PHONE-1]", "[CARD-1]", "[ID-1]"):
        assert placeholder in body, placeholder
    assert "Lena Ortiz" in body  # names stay unless configured
    # The model's draft is used as is, and the brief is rendered from the original records.
    assert brief.drafter.name == "model" and not brief.drafter.fallback and brief.verification.passed
    assert CONTACT_ID in brief.model_dump_json()


def test_names_are_redacted_when_configured(
    home: Path, portfolio: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKBRIEF_REDACT_NAMES", "1")
    prompts: list[str] = []

    def script(request: dict[str, Any], n: int) -> Reply:
        prompts.append(prompt_of(request))
        return Reply(content=faithful(prompts[-1]))

    brief, bodies = run(portfolio, store, script, "rv-A-017-00000102")
    body = bodies[0]
    for value in [*SENSITIVE, *NAMES]:
        assert not re.search(rf"\b{re.escape(value)}\b", body), value
    assert "[NAME-" in body and "[EMAIL-1]" in body
    shown = re.search(r"contact:A-017:2026-11-02:(\[NAME-\d+\])", prompts[0])
    assert shown is not None  # the contact's id carries a placeholder, not the name ...
    # ... and the model's citation of it was restored: the draft passed, the brief names the real record.
    assert brief.drafter.name == "model" and brief.verification.passed, brief.verification.failures
    assert CONTACT_ID in brief.model_dump_json()
    assert "Priya Patel" in brief.model_dump_json()  # the tools render the brief from the original records


def test_the_repair_prompt_is_redacted_too(
    home: Path, portfolio: Path, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKBRIEF_REDACT_NAMES", "1")

    def script(request: dict[str, Any], n: int) -> Reply:
        draft = faithful(prompt_of(request))
        if n == 0:  # cite the departed champion's record as a confirmed cause, and a placeholder in prose
            contact = draft["summary_evidence_ids"][1]
            draft["confirmed_causes"].append({"span_id": f"{contact}#s0", "category": "relationship/stakeholder"})
            draft["assumptions"] = ["[NAME-1] may have owned the export workflow."]
        return Reply(content=draft)

    brief, bodies = run(portfolio, store, script, "rv-A-017-00000103")
    assert len(bodies) == 2  # the draft and one repair
    repair = bodies[1]
    assert "unsupported_name" in repair and "redaction placeholder" in repair  # the verifier saw the placeholder
    assert "cannot confirm a cause" in repair
    for value in [*SENSITIVE, *NAMES]:
        assert not re.search(rf"\b{re.escape(value)}\b", repair), value
    assert brief.drafter.repaired and not brief.drafter.fallback and brief.verification.passed
