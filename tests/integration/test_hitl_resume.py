"""The review step speaks LangChain's human-in-the-loop shape too, and a bad resume never fails the thread.

In-process, with the compiled graph and a SqliteSaver: the interrupt carries `action_request`, `config`
and `description` beside riskbrief's own payload; accept / edit / respond / ignore resume it; a resume
with invalid input interrupts again with the error; reviews of a graph whose checkpoints live elsewhere
(as under `langgraph dev`) are listed, shown and decided from the workspace store, and resuming that
graph later picks the decision up without applying anything twice; the workspace is found from
riskbrief.toml's `[store] home` when nothing else names it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command
from pg import backend, postgres_server, postgres_url  # noqa: F401  (fixtures)

from agent import review, reviewers
from agent.cli_agent import decide_review, load_review, run_brief
from agent.config import AgentContext
from agent.graph import Compiled, checkpointed_graph, sqlite_graph
from agent.review import HITL_DEFAULT_REVIEWER, ReviewDecision
from agent.state import InputState
from tools import workspace
from tools.errors import InputError

pytestmark = pytest.mark.usefixtures("backend")  # every test: on SQLite, then on Postgres


def config(thread: str) -> Any:
    return {"configurable": {"thread_id": thread}}


@contextmanager
def local_graph() -> Iterator[Compiled]:
    with checkpointed_graph() as graph:
        yield graph


def pending(graph: Compiled, thread: str) -> dict[str, Any]:
    """The payload of the thread's pending interrupt."""
    snapshot = graph.get_state(config(thread))
    assert snapshot.next == ("request_review",)
    [item] = snapshot.interrupts
    assert isinstance(item.value, dict)
    return item.value


def resume(graph: Compiled, thread: str, value: Any, context: AgentContext) -> dict[str, Any]:
    graph.invoke(Command(resume=value), config(thread), context=context)
    return graph.get_state(config(thread)).values


def test_the_interrupt_carries_the_human_in_the_loop_request(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    run = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-hitl0001")
    with local_graph() as graph:
        payload = pending(graph, run.review_id)
    assert payload["review_id"] == run.review_id and payload["status"] == "awaiting_review"
    assert payload["brief"]["account"]["account_id"] == "A-017"
    request = payload["action_request"]
    assert request["action"] == "review_risk_brief"
    assert request["args"]["triage"] == "investigate" and request["args"]["option"] is None
    assert request["args"]["summary"] == run.brief.summary  # editable fields, to change in an edit
    assert payload["config"] == {"allow_accept": True, "allow_edit": True, "allow_respond": True, "allow_ignore": True}
    assert "TechStart Solutions" in payload["description"] and "Stop reasons:" in payload["description"]
    assert "error" not in payload
    json.dumps(payload)  # plain JSON: any server can store and show it


def test_accept_approves_and_a_list_of_one_response_works(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    run = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-hitl0002")
    with local_graph() as graph:
        values = resume(graph, run.review_id, [{"type": "accept", "args": None}], tiny_context)
    decision = ReviewDecision.model_validate(values["decision"])
    assert (decision.decision, decision.triage, decision.option) == ("approve", "investigate", None)
    assert decision.reviewer == HITL_DEFAULT_REVIEWER and values["event_logged"]
    assert review.get_review(run.review_id).status == "approved"  # nobody claimed it: the graph marks it


@pytest.mark.parametrize(
    ("response", "reason"),
    [({"type": "response", "args": "signals are stale"}, "signals are stale"), ({"type": "ignore"}, "ignored")],
)
def test_respond_and_ignore_reject(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext, response: dict[str, Any], reason: str
) -> None:
    run = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id=f"rv-A-017-{response['type']}")
    with local_graph() as graph:
        values = resume(graph, run.review_id, response, tiny_context)
    decision = ReviewDecision.model_validate(values["decision"])
    assert (decision.decision, decision.reason) == ("reject", reason)
    assert review.table_counts(run.review_id) == {"review_tasks": 0, "actions": 0, "edits": 0, "events": 1}


def test_edit_changes_fields_and_carries_triage_and_option(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    run = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-hitl0003")
    with local_graph() as graph:
        args = dict(pending(graph, run.review_id)["action_request"]["args"])
        args.update(risk_category="relationship/stakeholder", triage="monitor", option=2, reviewer="Priya Patel")
        values = resume(
            graph, run.review_id, {"type": "edit", "args": {"action": "review_risk_brief", "args": args}}, tiny_context
        )
    decision = ReviewDecision.model_validate(values["decision"])
    assert decision.decision == "edit" and decision.edits == {"risk_category": "relationship/stakeholder"}
    assert (decision.triage, decision.option, decision.reviewer) == ("monitor", 2, "Priya Patel")
    assert values["brief"]["risk_category"] == "relationship/stakeholder"
    assert values["applied"][:2] == ["review_task", "status_change:monitoring"]


def test_an_invalid_resume_interrupts_again_with_the_error(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    run = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-hitl0004")
    thread = run.review_id
    with local_graph() as graph:
        args = dict(pending(graph, thread)["action_request"]["args"])
        bad_option = [{**o, "kind": "send_gift_card"} for o in args["next_action_options"]]
        resume(graph, thread, {"type": "edit", "args": {**args, "next_action_options": bad_option}}, tiny_context)
        first = pending(graph, thread)
        assert "'send_gift_card' is not in the options catalogue" in first["error"]
        assert first["description"].startswith("Your last answer was refused:")
        resume(
            graph,
            thread,
            {"decision": "approve", "reviewer": "Priya Patel", "decided_at": "t1", "option": 9},
            tiny_context,
        )
        assert "--option 9: the brief has 3 next-action options" in pending(graph, thread)["error"]
        resume(graph, thread, {"type": "respond", "args": "  "}, tiny_context)
        assert "args is the reason" in pending(graph, thread)["error"]
        resume(graph, thread, "yes", tiny_context)
        assert "not str" in pending(graph, thread)["error"]
        assert review.get_review(thread).status == "awaiting_review"  # nothing was decided or applied
        assert review.table_counts(thread) == {"review_tasks": 0, "actions": 0, "edits": 0, "events": 0}
        values = resume(graph, thread, {"type": "edit", "args": {"triage": "escalate", "option": 1}}, tiny_context)
    decision = ReviewDecision.model_validate(values["decision"])
    assert (decision.decision, decision.triage, decision.option) == ("approve", "escalate", 1)
    assert values["event_logged"] and review.table_counts(thread)["events"] == 1


def test_an_edit_citing_another_accounts_evidence_is_refused(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    run = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-hitl0005")
    with local_graph() as graph:
        args = dict(pending(graph, run.review_id)["action_request"]["args"])
        cause = {"cause": "They love the reports", "evidence_ids": ["note:N-9"], "quote": "we love the new reports"}
        resume(graph, run.review_id, {"type": "edit", "args": {**args, "confirmed_causes": [cause]}}, tiny_context)
        assert "'note:N-9' is not evidence of account A-017" in pending(graph, run.review_id)["error"]


def test_with_reviewers_a_resume_must_name_one_who_may_decide(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    reviewers.add_reviewer("Morgan Diaz", "manager")
    reviewers.add_reviewer("Sam Lee", "csm")
    run = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-hitl0006")
    thread = run.review_id
    with local_graph() as graph:
        payload = pending(graph, thread)
        assert payload["config"]["allow_accept"] is False  # accept can't say who decides
        resume(graph, thread, {"type": "accept"}, tiny_context)
        assert f"'{HITL_DEFAULT_REVIEWER}' is not a reviewer of this workspace" in pending(graph, thread)["error"]
        resume(graph, thread, {"type": "edit", "args": {"reviewer": "Sam Lee"}}, tiny_context)
        assert "Sam Lee (csm) decides reviews of Sam Lee's accounts" in pending(graph, thread)["error"]
        resume(graph, thread, {"type": "edit", "args": {"reviewer": "Morgan Diaz", "option": 3}}, tiny_context)
        assert "the brief is not ready: acknowledge each stop reason" in pending(graph, thread)["error"]
        values = resume(
            graph,
            thread,
            {"type": "edit", "args": {"reviewer": "Morgan Diaz", "option": 3, "ack_stops": True}},
            tiny_context,
        )
    decision = ReviewDecision.model_validate(values["decision"])
    assert decision.reviewer == "Morgan Diaz" and decision.option == 3
    assert decision.acknowledged_stops == run.brief.stop_reasons


def test_a_review_whose_graph_runs_elsewhere_is_listed_shown_and_decided_once(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext, tmp_path: Path
) -> None:
    """As under `langgraph dev`: the server keeps the checkpoints; the workspace knows the review from its
    review step. `review decide` (or the inbox) decides it from the store; resuming the server's thread
    afterwards, with anything, finishes it with that decision and applies nothing twice."""
    thread = str(uuid.uuid4())
    start = InputState(account_id="A-017", data_dir=str(tiny_portfolio))
    with sqlite_graph(tmp_path / "server-checkpoints.sqlite") as server:
        server.invoke(start, config(thread), context=tiny_context)
        assert server.get_state(config(thread)).next == ("request_review",)
        assert thread in [r.review_id for r in review.list_reviews()]
        paused = load_review(thread)
        assert not paused.local and paused.brief.account.account_id == "A-017" and "note:N-1" in paused.evidence

        decision = ReviewDecision(
            decision="approve", reviewer="Priya Patel", decided_at="2026-11-20T10:00:00+00:00", option=1
        )
        result = decide_review(thread, decision, tiny_context)
        assert result.graph_elsewhere and result.applied[0] == "review_task"
        counts = review.table_counts(thread)
        assert counts == {"review_tasks": 1, "actions": 2, "edits": 0, "events": 1}
        assert review.get_review(thread).status == "approved"
        with pytest.raises(InputError, match="already decided"):
            decide_review(thread, decision.model_copy(update={"decided_at": "later"}), tiny_context)

        values = resume(server, thread, {"type": "ignore"}, tiny_context)  # someone resumes the server's thread
    assert ReviewDecision.model_validate(values["decision"]).decision == "approve"  # the store's decision holds
    assert values["event_logged"] and review.table_counts(thread) == counts


def test_the_workspace_comes_from_store_home_when_nothing_else_names_it(
    tiny_portfolio: Path, tiny_context: AgentContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for csv in tiny_portfolio.glob("*.csv"):
        (data / csv.name).write_bytes(csv.read_bytes())
    toml = (tiny_portfolio / "riskbrief.toml").read_text(encoding="utf-8")
    (data / "riskbrief.toml").write_text(toml + '\n[store]\nhome = "team-ws"\n', encoding="utf-8")
    monkeypatch.delenv("RISKBRIEF_HOME")
    workspace.set_home(None)
    thread = str(uuid.uuid4())
    with sqlite_graph(tmp_path / "server-checkpoints.sqlite") as server:
        server.invoke(InputState(account_id="A-017", data_dir=str(data)), config(thread), context=tiny_context)
        workspace.set_config_home(None)  # a fresh server process: only the review step runs on resume
        resume(server, thread, {"type": "accept"}, tiny_context)
    assert workspace.home() == (data / "team-ws").resolve()
    assert review.store_path() == (data / "team-ws" / "riskbrief.sqlite").resolve()
    assert review.get_review(thread).status == "approved"
