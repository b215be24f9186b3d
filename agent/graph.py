"""The agent's graph: wiring only. Nodes live in `agent.nodes`, state in `agent.state`.

collect_account → detect_signals → retrieve_context → draft_brief → verify_brief
  → (repair_brief once → verify_brief) → (fallback_draft → verify_brief) → assemble_brief
  → request_review (interrupt) → apply_decision → log_event

`builder` is exported so tests and the CLI compile with their own checkpointer; `graph` (no
checkpointer) is what `langgraph.json` serves, where the server provides persistence. `checkpointed_graph`
is the CLI's: checkpoints in the workspace's SQLite file, or in the team's Postgres when a database_url is set.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agent import nodes
from agent.config import AgentContext
from agent.state import InputState, State
from tools import db, workspace

Compiled = CompiledStateGraph[State, AgentContext, InputState, Any]


def route_after_draft(state: State) -> Literal["verify_brief", "repair_brief", "fallback_draft"]:
    """An unavailable model goes straight to the fallback; an unparseable draft gets its repair pass."""
    if state.draft is not None:
        return "verify_brief"
    if state.draft_error and state.draft_error.get("kind") == "invalid" and not state.repair_attempted:
        return "repair_brief"
    return "fallback_draft"


def route_after_verify(state: State) -> Literal["assemble_brief", "repair_brief", "fallback_draft"]:
    """Passed: assemble. A model draft that failed: one repair, then the offline drafter. An offline
    draft that failed still goes to review, marked not ready with the failures."""
    if state.verification and state.verification.get("passed"):
        return "assemble_brief"
    if state.drafter.get("name") != "model":
        return "assemble_brief"
    return "fallback_draft" if state.repair_attempted else "repair_brief"


builder = StateGraph(State, context_schema=AgentContext, input_schema=InputState)
builder.add_node("collect_account", nodes.collect_account)
builder.add_node("detect_signals", nodes.detect_signals)
builder.add_node("retrieve_context", nodes.retrieve_context)
builder.add_node("draft_brief", nodes.draft_brief)
builder.add_node("repair_brief", nodes.repair_brief)
builder.add_node("fallback_draft", nodes.fallback_draft)
builder.add_node("verify_brief", nodes.verify_brief)
builder.add_node("assemble_brief", nodes.assemble_brief_node)
builder.add_node("request_review", nodes.request_review)
builder.add_node("apply_decision", nodes.apply_decision)
builder.add_node("log_event", nodes.log_event)

builder.add_edge(START, "collect_account")
builder.add_edge("collect_account", "detect_signals")
builder.add_edge("detect_signals", "retrieve_context")
builder.add_edge("retrieve_context", "draft_brief")
builder.add_conditional_edges("draft_brief", route_after_draft)
builder.add_conditional_edges("repair_brief", route_after_draft)
builder.add_edge("fallback_draft", "verify_brief")
builder.add_conditional_edges("verify_brief", route_after_verify)
builder.add_edge("assemble_brief", "request_review")
builder.add_edge("request_review", "apply_decision")
builder.add_edge("apply_decision", "log_event")
builder.add_edge("log_event", END)

graph = builder.compile()
graph.name = "riskbrief"


CHECKPOINTS_FILE = "checkpoints.sqlite"


@contextmanager
def sqlite_graph(path: Path) -> Iterator[Compiled]:
    """The graph with its state checkpointed in the SQLite file `path` (shared across processes)."""
    with SqliteSaver.from_conn_string(str(path)) as saver:
        yield builder.compile(checkpointer=saver)


@contextmanager
def checkpointed_graph() -> Iterator[Compiled]:
    """The graph checkpointed where this workspace keeps its state: the team's Postgres when a database_url
    is configured (`workspace.database_url()`), else the workspace's `checkpoints.sqlite`."""
    url = workspace.database_url()
    if url:
        yield builder.compile(checkpointer=postgres_saver(url))
        return
    with sqlite_graph(workspace.sqlite_path(CHECKPOINTS_FILE)) as graph:
        yield graph


def postgres_saver(url: str) -> BaseCheckpointSaver[Any]:
    """The checkpointer over the team's Postgres (langgraph-checkpoint-postgres), on this process's pool.
    Its tables are created by `riskbrief db upgrade` (`setup_checkpoints`)."""
    from langgraph.checkpoint.postgres import PostgresSaver

    return PostgresSaver(db.checkpoint_pool(url))


def setup_checkpoints(url: str) -> None:
    """Create or migrate the checkpointer's tables in the team's Postgres (idempotent)."""
    from langgraph.checkpoint.postgres import PostgresSaver

    PostgresSaver(db.checkpoint_pool(url)).setup()
