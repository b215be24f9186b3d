"""The graph under a real LangGraph Server (`langgraph dev`), driven through the LangGraph SDK.

One `langgraph dev` subprocess serves the module, started offline (tests/servers.py) with RISKBRIEF_HOME
naming a temporary workspace and the bundled sample portfolio as data. Through the SDK: a run stops at
the review interrupt; a malformed resume leaves the thread interrupted with the error in the new
interrupt; a well-formed one completes it and logs the decision. The CLI, in the same workspace, lists
the review the server started, and decides one: the decision goes through the review store's single
decision path, and the server's thread, resumed afterwards with anything, finishes with that decision
and applies nothing twice.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_sync_client
from langgraph_sdk.client import SyncLangGraphClient
from servers import BIN, free_port, langgraph_server, offline_env

from agent import review
from agent.review import HITL_DEFAULT_REVIEWER
from tools import workspace
from tools.sample import portfolio_dir

GRAPH = "riskbrief"  # the graph id in langgraph.json: also the assistant id the server creates for it
AS_OF = "2026-11-20"


@pytest.fixture(scope="module")
def team_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("team") / "home"


@pytest.fixture(scope="module")
def server(team_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("langgraph")
    # A model endpoint where nothing listens: the server's runs draft with the model its environment names
    # (as `riskbrief brief` would), find it unavailable, and fall back to the offline drafter at once.
    env = {
        "RISKBRIEF_HOME": str(team_home),
        "OPENAI_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
        "RISKBRIEF_RETRY_ATTEMPTS": "1",
    }
    with langgraph_server(env, folder) as (url, seconds):
        print(f"\nlanggraph dev answered /ok after {seconds:.1f} s")
        yield url


@pytest.fixture
def client(server: str, team_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncLangGraphClient]:
    """An SDK client of the server; this process (and the CLI it runs) uses the server's workspace."""
    monkeypatch.setenv("RISKBRIEF_HOME", str(team_home))
    workspace.set_home(team_home)
    with get_sync_client(url=server) as sdk:
        yield sdk


def start_review(client: SyncLangGraphClient, account_id: str, **context: Any) -> str:
    """What a user does: a thread, then a run of the graph for one account until the review interrupt."""
    thread_id = str(client.threads.create()["thread_id"])
    client.runs.wait(
        thread_id,
        GRAPH,
        input={"account_id": account_id, "data_dir": str(portfolio_dir()), "as_of": AS_OF},
        context=context or None,
    )
    return thread_id


def pending(client: SyncLangGraphClient, thread_id: str) -> dict[str, Any]:
    """The payload of the thread's one pending interrupt (the thread must be interrupted at the review)."""
    assert client.threads.get(thread_id)["status"] == "interrupted"
    state = client.threads.get_state(thread_id)
    assert state["next"] == ["request_review"]
    [item] = state["interrupts"]
    return dict(item["value"])


def resume(client: SyncLangGraphClient, thread_id: str, answer: Any) -> dict[str, Any]:
    client.runs.wait(thread_id, GRAPH, command={"resume": answer})
    return dict(client.threads.get_state(thread_id)["values"])


def riskbrief(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "riskbrief"), *args],
        env=offline_env({"RISKBRIEF_HOME": str(home), **env}),
        capture_output=True,
        text=True,
        timeout=120,
    )


def listed(home: Path) -> dict[str, dict[str, Any]]:
    result = riskbrief("review", "list", "--format", "json", home=home)
    assert result.returncode == 0, result.stderr
    return {row["review_id"]: row for row in json.loads(result.stdout)}


def test_a_bad_resume_keeps_the_thread_interrupted_and_a_good_one_completes_it(
    client: SyncLangGraphClient, team_home: Path
) -> None:
    thread_id = start_review(client, "A-017", retrieval_k=4)
    payload = pending(client, thread_id)
    assert payload["review_id"] == thread_id and payload["brief"]["account"]["account_id"] == "A-017"
    assert payload["action_request"]["action"] == "review_risk_brief" and "error" not in payload
    drafter = payload["brief"]["drafter"]  # the server's environment named a model, no request did
    assert drafter["fallback"] and drafter["model"] == "gpt-4o-mini" and drafter["name"] == "offline"
    row = listed(team_home)[thread_id]  # the CLI, in the same workspace, sees the server's review
    assert (row["account_id"], row["status"]) == ("A-017", "awaiting_review")

    resume(client, thread_id, {"type": "edit", "args": {"option": 99}})
    again = pending(client, thread_id)  # not failed: interrupted again, saying why
    assert "99" in again["error"] and again["description"].startswith("Your last answer was refused:")
    resume(client, thread_id, "yes")
    assert "not str" in pending(client, thread_id)["error"]
    assert review.get_review(thread_id).status == "awaiting_review"
    assert review.table_counts(thread_id)["events"] == 0

    values = resume(client, thread_id, {"type": "edit", "args": {"triage": "escalate", "option": 1}})
    assert client.threads.get(thread_id)["status"] == "idle"
    assert values["decision"]["decision"] == "approve" and values["decision"]["triage"] == "escalate"
    assert values["decision"]["reviewer"] == HITL_DEFAULT_REVIEWER and values["event_logged"]
    assert review.table_counts(thread_id)["events"] == 1
    row = listed(team_home)[thread_id]
    assert (row["status"], row["triage"]) == ("approved", "escalate")


def test_a_review_started_on_the_server_is_decided_by_the_cli_once(
    client: SyncLangGraphClient, team_home: Path
) -> None:
    thread_id = start_review(client, "A-002")
    pending(client, thread_id)
    shown = riskbrief("review", "show", thread_id, "--format", "json", home=team_home)
    assert shown.returncode == 0 and json.loads(shown.stdout)["brief"]["account"]["account_id"] == "A-002"

    decided = riskbrief(
        "review", "decide", thread_id, "--approve", "--reviewer", "Sam Lee", "--option", "1", "--ack-stops",
        home=team_home,
    )  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    assert "runs elsewhere" in decided.stderr
    counts = review.table_counts(thread_id)
    assert counts["events"] == 1 and counts["review_tasks"] == 1
    assert listed(team_home)[thread_id]["status"] == "approved"
    again = riskbrief(
        "review", "decide", thread_id, "--reject", "--reviewer", "Sam Lee", "--reason", "x", home=team_home
    )
    assert again.returncode == 2 and "already decided" in again.stderr

    # The server's thread still waits at the review step; resumed with anything, it finishes with the
    # store's decision, and nothing is applied or logged twice.
    values = resume(client, thread_id, {"type": "ignore"})
    assert client.threads.get(thread_id)["status"] == "idle"
    assert values["decision"]["decision"] == "approve" and values["decision"]["reviewer"] == "Sam Lee"
    assert values["event_logged"] and review.table_counts(thread_id) == counts


def test_a_cli_decision_resumes_the_server_thread_when_the_server_is_named(
    client: SyncLangGraphClient, server: str, team_home: Path
) -> None:
    thread_id = start_review(client, "A-017")
    pending(client, thread_id)
    decided = riskbrief(
        "review", "decide", thread_id, "--reject", "--reviewer", "Sam Lee", "--reason", "a false alarm",
        home=team_home, RISKBRIEF_LANGGRAPH_URL=server,
    )  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    assert f"its thread on {server} was resumed and is idle" in decided.stderr
    thread = client.threads.get(thread_id)
    assert thread["status"] == "idle"  # finished now, not whenever someone resumes it
    values = client.threads.get_state(thread_id)["values"]
    assert values["decision"]["decision"] == "reject" and values["event_logged"]
    assert review.table_counts(thread_id)["events"] == 1  # logged once, by the CLI's decision

    # A server that does not answer: the decision stands, and the note says the thread waits.
    other = start_review(client, "A-041")
    dead = f"http://127.0.0.1:{free_port()}"
    decided = riskbrief(
        "review", "decide", other, "--reject", "--reviewer", "Sam Lee", "--reason", "a false alarm",
        home=team_home, RISKBRIEF_LANGGRAPH_URL=dead,
    )  # fmt: skip
    assert decided.returncode == 0, decided.stderr
    assert f"its thread on {dead} could not be resumed" in decided.stderr
    assert listed(team_home)[other]["status"] == "rejected"
    assert client.threads.get(other)["status"] == "interrupted"
