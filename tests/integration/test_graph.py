"""The graph end to end, offline: pause for review, resume from another process, apply only an approval,
exactly once; and the model path's retries and fallback against a real local HTTP server."""

from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from conftest import TINY_CLOCK

from agent import review
from agent.cli_agent import CHECKPOINTS, decide_review, run_brief
from agent.config import AgentContext, ModelSettings
from agent.graph import sqlite_graph
from agent.review import ReviewDecision
from tools import workspace
from tools.errors import InputError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "tools" / "check_contract.py"
CLOCK = TINY_CLOCK


@pytest.fixture(scope="module")
def portfolio(tiny_portfolio: Path) -> Path:
    return tiny_portfolio


@pytest.fixture(scope="module")
def store(tiny_context: AgentContext) -> str:
    """The module's evidence store (conftest's tiny_context): embedding is the slow part."""
    assert tiny_context.store_path is not None
    return tiny_context.store_path


@pytest.fixture
def context(tiny_context: AgentContext) -> AgentContext:
    """A fresh copy for each test: the tiny portfolio's store, the clock stopped at CLOCK."""
    return dataclasses.replace(tiny_context)


def cli(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`riskbrief ARGS` in a separate process sharing only the workspace folder."""
    env = {**os.environ, "RISKBRIEF_HOME": str(home)}
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RISKBRIEF_MODEL"):
        env.pop(name, None)
    return subprocess.run(
        [sys.executable, "-c", "from agent.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home.parent,
        timeout=120,
    )


def rows(table: str, review_id: str) -> list[sqlite3.Row]:
    with review.connect() as conn:
        return conn.execute(f"SELECT * FROM {table} WHERE review_id = ?", (review_id,)).fetchall()


def decision(kind: str = "approve", **fields: Any) -> ReviewDecision:
    return ReviewDecision.model_validate({"decision": kind, "reviewer": "Priya Patel", "decided_at": "t1", **fields})


def test_brief_pauses_for_review_with_nothing_applied(home: Path, portfolio: Path, context: AgentContext) -> None:
    run = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-00000001")
    brief = run.brief
    assert brief.account.name == "TechStart Solutions" and brief.account.days_to_renewal == 127
    assert brief.verification.passed and brief.drafter.name == "offline" and not brief.drafter.fallback
    assert {"usage_gradual_decline", "support_volume_spike", "declined_meetings"} <= {s.signal for s in brief.signals}
    assert any(c.evidence_ids == ["note:N-1"] for c in brief.confirmed_causes)
    assert all("note:N-2" not in c.evidence_ids for c in brief.confirmed_causes + brief.suspected_causes)
    assert any(f.kind == "ignored_instruction" and f.evidence_ids == ["note:N-2"] for f in brief.flags)
    assert review.get_review(run.review_id).status == "awaiting_review"
    assert review.table_counts(run.review_id) == {"review_tasks": 0, "actions": 0, "edits": 0, "events": 0}
    with sqlite_graph(workspace.sqlite_path(CHECKPOINTS)) as graph:
        assert graph.get_state({"configurable": {"thread_id": run.review_id}}).next == ("request_review",)
    # Same input, clock and store: the same brief.
    again = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-00000002")
    assert again.brief == brief


def test_unknown_account_is_an_input_error(home: Path, portfolio: Path, context: AgentContext) -> None:
    with pytest.raises(InputError, match="unknown account 'A-999'"):
        run_brief("A-999", portfolio, context=context, review_id="rv-A-999-00000001")


def test_cli_brief_then_approve_from_another_process(home: Path, portfolio: Path) -> None:
    made = cli("brief", "A-017", "--data", str(portfolio), "--format", "json", home=home)
    assert made.returncode == 0, made.stderr
    if SHARED.is_file():  # the contract checker lives beside the repository, in shared/
        checked = subprocess.run(
            [sys.executable, str(SHARED), "brief"], input=made.stdout, capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout
    out = json.loads(made.stdout)
    review_id = out["review_id"]
    assert out["status"] == "awaiting_review" and review_id.startswith("rv-A-017-")
    assert review.table_counts(review_id)["actions"] == 0  # the brief process ended: nothing applied

    approved = cli(
        "review",
        "decide",
        review_id,
        "--approve",
        "--ack-stops",
        "--reviewer",
        "Priya Patel",
        "--triage",
        "escalate",
        "--option",
        "1",
        home=home,
    )
    assert approved.returncode == 0, approved.stderr
    assert "Nothing was sent" in approved.stdout
    assert review.table_counts(review_id) == {"review_tasks": 1, "actions": 2, "edits": 0, "events": 1}
    event = rows("events", review_id)[0]
    assert (event["reviewer"], event["decision"], event["triage"], event["risk_level"]) == (
        "Priya Patel",
        "approve",
        "escalate",
        "critical",
    )
    assert "usage_gradual_decline" in json.loads(event["signals_json"])
    assert {r["kind"] for r in rows("actions", review_id)} == {"status_change", "internal_task"}

    again = cli("review", "decide", review_id, "--reject", "--reviewer", "Sam Lee", "--reason", "late", home=home)
    assert again.returncode == 2
    assert f"error: review {review_id} was already decided (approved by Priya Patel at" in again.stderr
    assert review.table_counts(review_id) == {"review_tasks": 1, "actions": 2, "edits": 0, "events": 1}


def test_reject_applies_nothing_and_logs_the_reason(home: Path, portfolio: Path, context: AgentContext) -> None:
    run = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-0000000a")
    result = decide_review(run.review_id, decision("reject", reason="signals are stale"), context)
    assert result.applied == [] and result.event_logged
    assert review.table_counts(run.review_id) == {"review_tasks": 0, "actions": 0, "edits": 0, "events": 1}
    event = rows("events", run.review_id)[0]
    assert (event["decision"], event["reason"], event["action_taken"]) == ("reject", "signals are stale", "none")
    assert review.get_review(run.review_id).status == "rejected"


def test_edit_records_changed_fields(home: Path, portfolio: Path, context: AgentContext) -> None:
    run = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-0000000e")
    with pytest.raises(InputError, match="unknown field 'mood'"):
        decide_review(run.review_id, decision("edit", edits={"mood": "grim"}), context)
    assert review.get_review(run.review_id).status == "awaiting_review"  # a bad edit claims nothing
    edits = {"risk_category": "relationship/stakeholder"}
    result = decide_review(run.review_id, decision("edit", edits=edits, triage="monitor"), context)
    assert result.applied[:2] == ["review_task", "status_change:monitoring"]
    assert [(r["field"], json.loads(r["after_json"])) for r in rows("edits", run.review_id)] == [
        ("risk_category", "relationship/stakeholder")
    ]


def test_a_retried_resume_never_applies_twice(home: Path, portfolio: Path, context: AgentContext) -> None:
    run = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-0000000b")
    decide_review(run.review_id, decision(option=2), context)
    counts = review.table_counts(run.review_id)
    assert counts == {"review_tasks": 1, "actions": 2, "edits": 0, "events": 1}
    config: Any = {"configurable": {"thread_id": run.review_id}}
    with sqlite_graph(workspace.sqlite_path(CHECKPOINTS)) as graph:
        before_apply = next(s for s in graph.get_state_history(config) if s.next == ("apply_decision",))
        graph.invoke(None, before_apply.config, context=context)  # replay apply_decision and log_event
    assert review.table_counts(run.review_id) == counts


def test_a_crash_after_applying_is_finished_by_retrying_the_same_decide(
    home: Path, portfolio: Path, context: AgentContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-0000000c")
    real_log = review.log_event

    def crash(*args: Any) -> None:
        raise RuntimeError("power cut")

    monkeypatch.setattr(review, "log_event", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        decide_review(run.review_id, decision(), context)
    assert review.table_counts(run.review_id) == {"review_tasks": 1, "actions": 1, "edits": 0, "events": 0}
    assert review.get_review(run.review_id).status == "deciding"
    monkeypatch.setattr(review, "log_event", real_log)
    result = decide_review(run.review_id, decision(decided_at="t2"), context)  # the same decision, retried
    assert result.event_logged and result.decision.decided_at == "t1"  # the first attempt's decision
    assert review.table_counts(run.review_id) == {"review_tasks": 1, "actions": 1, "edits": 0, "events": 1}
    with pytest.raises(InputError, match="already decided"):
        decide_review(run.review_id, decision(decided_at="t3"), context)


def test_a_different_decision_cannot_take_over_a_half_done_one(
    home: Path, portfolio: Path, context: AgentContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-00000011")
    real_apply = review.apply_approved

    def crash(*args: Any) -> list[str]:
        raise RuntimeError("killed")

    monkeypatch.setattr(review, "apply_approved", crash)
    with pytest.raises(RuntimeError):
        decide_review(run.review_id, decision(), context)
    assert review.table_counts(run.review_id)["review_tasks"] == 0
    monkeypatch.setattr(review, "apply_approved", real_apply)
    with pytest.raises(InputError, match="already decided \\(approved by Priya Patel at t1\\)"):
        decide_review(run.review_id, decision("reject", reason="no", reviewer="Sam Lee"), context)
    assert rows("events", run.review_id)[0]["decision"] == "approve"  # the first decision was finished
    assert review.table_counts(run.review_id) == {"review_tasks": 1, "actions": 1, "edits": 0, "events": 1}


# ------------------------------------------------------------------------- model path: retries, fallback


class _Script:
    """A local OpenAI-compatible endpoint answering from a script of (status, body) pairs."""

    def __init__(self, replies: list[tuple[int, dict[str, Any]]]) -> None:
        self.replies = replies
        self.requests: list[dict[str, Any]] = []


def _handler(script: _Script) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            script.requests.append(json.loads(body))
            index = min(len(script.requests), len(script.replies)) - 1
            status, payload = script.replies[index]
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if status == 429:
                self.send_header("retry-after-ms", "1")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def endpoint() -> Iterator[Callable[[list[tuple[int, dict[str, Any]]]], tuple[str, _Script]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(replies: list[tuple[int, dict[str, Any]]]) -> tuple[str, _Script]:
        script = _Script(replies)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(script))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1", script

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def settings(base_url: str) -> ModelSettings:
    return ModelSettings(
        model="local-test",
        base_url=base_url,
        api_key="sk-test",
        structured_method="function_calling",
        send_max_tokens_in_body=True,
        max_tokens=300,
        timeout_s=10,
        retry_attempts=3,
        retry_wait_min_s=0.01,
        retry_wait_max_s=0.05,
    )


ERROR = {"error": {"message": "overloaded", "type": "server_error"}}


def tool_call_reply(arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": "local-test",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "BriefDraft", "arguments": json.dumps(arguments)},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 1200, "completion_tokens": 150, "total_tokens": 1350},
    }


FAITHFUL_DRAFT = {
    "summary": "Exports keep failing, {signal:support_volume_spike}, while the team's goals depend on reports.",
    "summary_evidence_ids": ["note:N-1"],
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
        {"kind": "champion_check_in", "signals": ["declined_meetings"]},
    ],
    "assumptions": [],
}


def test_model_path_retries_429_then_uses_the_verified_draft(
    home: Path, portfolio: Path, store: str, endpoint: Any
) -> None:
    url, script = endpoint([(429, ERROR), (200, tool_call_reply(FAITHFUL_DRAFT))])
    context = AgentContext(model=settings(url), now=lambda: CLOCK, store_path=store)
    brief = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-0000000d").brief
    assert len(script.requests) == 2
    assert (
        script.requests[1]["max_tokens"] == 300 and script.requests[1]["tools"][0]["function"]["name"] == "BriefDraft"
    )
    evidence = script.requests[1]["messages"][1]["content"]
    assert '<evidence id="note:N-2"' in evidence  # injected text goes in, quoted as data
    assert brief.drafter.model_dump(include={"name", "fallback", "model_calls", "input_tokens", "output_tokens"}) == {
        "name": "model",
        "fallback": False,
        "model_calls": 1,
        "input_tokens": 1200,
        "output_tokens": 150,
    }
    assert brief.verification.passed
    assert brief.summary.startswith("TechStart Solutions is at")  # the tools' first sentence
    assert "Exports keep failing, support_volume_spike (severity 3" in brief.summary  # the reference, rendered
    assert brief.confirmed_causes[0].quote == (
        "the exports keep timing out and my managers gave up on the dashboards"
    )
    assert brief.signals and brief.account.arr == 85000  # from the tools, not the model


def test_model_path_falls_back_offline_after_the_last_retry(
    home: Path, portfolio: Path, store: str, endpoint: Any
) -> None:
    url, script = endpoint([(500, ERROR)])
    context = AgentContext(model=settings(url), now=lambda: CLOCK, store_path=store)
    brief = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-0000000f").brief
    assert len(script.requests) == 3  # retry_attempts
    assert brief.drafter.name == "offline" and brief.drafter.fallback
    assert brief.drafter.fallback_reason == f"model endpoint {url} unavailable after 3 tries (HTTP 500: overloaded)"
    assert brief.verification.passed and brief.confirmed_causes


def test_unfaithful_model_draft_is_repaired_once_then_falls_back(
    home: Path, portfolio: Path, store: str, endpoint: Any
) -> None:
    unfaithful = {
        **FAITHFUL_DRAFT,
        "summary": "Usage fell sharply after the January release.",
        "summary_evidence_ids": ["note:N-77"],
    }
    url, script = endpoint([(200, tool_call_reply(unfaithful))])
    context = AgentContext(model=settings(url), now=lambda: CLOCK, store_path=store)
    brief = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-00000010").brief
    assert len(script.requests) == 2  # the draft and one repair
    repair_prompt = script.requests[1]["messages"][1]["content"]
    assert "unknown_evidence_id" in repair_prompt and "unsupported_date" in repair_prompt
    assert brief.drafter.fallback and brief.drafter.repaired and brief.drafter.model_calls == 2
    assert "failed verification after one repair" in str(brief.drafter.fallback_reason)
    assert brief.verification.passed  # the offline draft's report
