"""`riskbrief brief`, `riskbrief review ...` and `riskbrief demo`: the agent on the command line.

`run_brief` and `decide_review` are the same steps without the CLI, for tests and scripts. Heavy
imports (LangGraph, the model client, the vector store) happen inside the commands so the other
`riskbrief` commands start fast.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from agent.cli_options import (
    AsOfOpt,
    ConfigOpt,
    DataOpt,
    HomeOpt,
    MdOrJson,
    MdOrJsonOpt,
    TableMdOrJson,
    TableMdOrJsonOpt,
    TableOrJson,
    TableOrJsonOpt,
    as_of_date,
    data_dir,
    out,
    parse_date,
    set_home,
)
from tools import workspace
from tools.errors import InputError, shown
from tools.memory import loading_modules

if TYPE_CHECKING:
    from agent.brief import RiskBrief
    from agent.config import AgentContext
    from agent.review import ReviewDecision
    from tools.evidence import EvidenceRecord

CHECKPOINTS = "checkpoints.sqlite"
BRIEF_WAIT = 600
"""Seconds a `brief` run waits for another drafting the same account and day (a model call can be slow)."""


class TriageChoice(StrEnum):
    investigate = "investigate"
    escalate = "escalate"
    save_play = "save_play"
    monitor = "monitor"
    dismiss = "dismiss"


TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        envvar="RISKBRIEF_TOKEN",
        help="Your sign-in token (from `reviewers add`): decides as its reviewer. Also RISKBRIEF_TOKEN.",
        show_default=False,
        show_envvar=False,
    ),
]


# ---------------------------------------------------------------------------------- the steps, no CLI


@dataclass
class BriefRun:
    """A brief paused at the review step."""

    review_id: str
    brief: RiskBrief
    seconds: float
    reused: bool = False
    """The account's pending review for this as-of date, returned instead of a new draft."""
    superseded: list[str] = field(default_factory=list)
    """Pending reviews this fresh draft superseded."""


def default_context(data_dir: Path | None, config_file: Path | None = None, *, offline: bool = False) -> AgentContext:
    """The run context from the environment and `riskbrief.toml`."""
    from agent.config import AgentContext, model_settings
    from tools.config import load_config

    settings = None if offline else model_settings(load_config(data_dir, config_file))
    return AgentContext(model=settings)


def run_brief(
    account_id: str,
    data_dir: Path,
    *,
    as_of: date | None = None,
    config_file: Path | None = None,
    context: AgentContext | None = None,
    review_id: str | None = None,
    pending: Literal["draft", "reuse", "fresh"] = "draft",
) -> BriefRun:
    """Run the graph for one account up to the review interrupt; the state is checkpointed in the workspace
    (or the team's Postgres).

    `pending` says what an existing pending review of the account for the same as-of date does: "draft"
    ignores it (a new review beside it); "reuse" returns it (`BriefRun.reused`) without drafting, so an
    account keeps one pending review per day (`riskbrief brief`); "fresh" drafts anew and, once the new
    review is registered, marks the old one superseded by it. "reuse" and "fresh" hold a lock on the
    account and day while they run: concurrent runs, from any process or machine, wait and find the first."""
    from agent.brief import RiskBrief
    from agent.config import new_review_id
    from agent.state import InputState

    started = time.perf_counter()
    context = context or default_context(data_dir, config_file)
    review_id = review_id or new_review_id(account_id)
    config: Any = {"configurable": {"thread_id": review_id}}

    def draft() -> BriefRun:
        with loading_modules():
            from agent.graph import checkpointed_graph
            from tools import retrieval  # noqa: F401  (the retrieval step's store client, loaded with the graph)

        with checkpointed_graph() as graph:
            start = InputState(
                account_id=account_id,
                data_dir=str(data_dir),
                as_of=as_of.isoformat() if as_of else None,
                config_file=str(config_file) if config_file else None,
            )
            graph.invoke(start, config, context=context)
            values = graph.get_state(config).values
        return BriefRun(review_id, RiskBrief.model_validate(values["brief"]), time.perf_counter() - started)

    if pending == "draft":
        return draft()
    from agent import review
    from tools import db
    from tools.config import load_config

    day = (as_of or load_config(data_dir, config_file).as_of or context.now().date()).isoformat()
    with db.exclusive(f"brief:{account_id}:{day}", timeout=BRIEF_WAIT):
        found = review.pending_review(account_id, day)
        if found is not None and pending == "reuse":
            kept = review.stored_brief(found.review_id) or load_review(found.review_id).brief
            return BriefRun(found.review_id, kept, time.perf_counter() - started, reused=True)
        if found is not None and found.status == "deciding":
            raise review.ReviewConflict(
                f"review {found.review_id} of {account_id} as of {day} is being decided: "
                "a fresh draft can follow its decision"
            )
        run = draft()
        run.superseded = review.supersede_pending(account_id, day, run.review_id)
        return run


@dataclass
class PausedReview:
    """A review's brief as it stands, with what an edit may cite and where its graph's state lives."""

    brief: RiskBrief
    next: tuple[str, ...]
    evidence: dict[str, EvidenceRecord]
    local: bool
    """True when the graph's checkpoints are in this workspace; False for a review whose graph runs
    elsewhere (e.g. under `langgraph dev`), known here from what its review step registered."""


def load_review(review_id: str) -> PausedReview:
    """The review's brief: as checkpointed here (edited, if it was), else as its review step registered it."""
    from agent.brief import RiskBrief
    from agent.review import get_review, stored_brief, stored_evidence
    from tools.evidence import EvidenceRecord

    with loading_modules():
        from agent.graph import checkpointed_graph

    get_review(review_id)  # InputError for an unknown id
    config: Any = {"configurable": {"thread_id": review_id}}
    with checkpointed_graph() as graph:
        snapshot = graph.get_state(config)
    if snapshot.values.get("brief"):
        pool = snapshot.values.get("evidence") or {}
        return PausedReview(
            RiskBrief.model_validate(snapshot.values["brief"]),
            tuple(snapshot.next),
            {k: EvidenceRecord.model_validate(v) for k, v in pool.items()},
            True,
        )
    brief = stored_brief(review_id)
    if brief is None:
        raise InputError(f"review {review_id}: no checkpointed brief in {workspace.sqlite_path(CHECKPOINTS)}")
    return PausedReview(brief, (), stored_evidence(review_id), False)


def paused_brief(review_id: str) -> tuple[RiskBrief, tuple[str, ...]]:
    """The brief of a review as checkpointed (edited, if it was) and the graph's next steps."""
    paused = load_review(review_id)
    return paused.brief, paused.next


@dataclass
class DecideResult:
    """What a decision did."""

    review_id: str
    decision: ReviewDecision
    applied: list[str]
    event_logged: bool
    local_mode: bool = False
    """No reviewers configured: whoever uses the workspace decides (said on every decision)."""
    unacknowledged: list[str] = field(default_factory=list)
    """Stop reasons of a "not ready" brief approved without acknowledging them (local mode only)."""
    graph_elsewhere: bool = False
    """The review's graph runs elsewhere (`langgraph dev`): the decision was applied here, from the store."""
    server_note: str | None = None
    """For a graph on LangGraph Server named by RISKBRIEF_LANGGRAPH_URL: what resuming its thread did."""


def decide_review(
    review_id: str,
    decision: ReviewDecision,
    context: AgentContext | None = None,
    *,
    require_ack: bool | None = None,
) -> DecideResult:
    """The one decision function: `review decide`, the inbox and scripts all decide through it.

    First the decision is validated (`agent.review.validate_decision`: edits re-verified, the option, who
    may decide, and the stop reasons acknowledged when `require_ack`, or reviewers configured, say so).
    Then the steps (agent.review.DECIDE_STEPS): claim the review atomically with the decision, so two
    deciders can't both act; run the graph's apply and event steps, each keyed by the review and
    checkpointed before the next starts; then, last, mark the review approved or rejected. A crash at
    any step leaves the review 'deciding', and any later decide finishes *that* decision without
    applying or logging anything twice. A decided review refuses further decisions (ReviewConflict, an
    InputError naming who decided and when: exit 2, HTTP 409), also a different decision that arrives while
    the first is half-done. Deciders of one review take turns (`tools.db.exclusive`, across processes and
    machines sharing the store), so of two concurrent decides one applies and the other is refused.

    A review whose graph runs elsewhere (its checkpoints are not in this workspace: `langgraph dev`) is
    decided from the store with the same steps; its review node, when that graph is resumed, picks the
    decision up from the store and applies nothing twice.
    """
    from agent.config import AgentContext
    from agent.review import ReviewConflict, get_review, validate_decision
    from tools import db

    row = get_review(review_id)
    if row.status not in ("awaiting_review", "deciding"):
        raise ReviewConflict(row.decided_message())
    paused = load_review(review_id)
    validate_decision(paused.brief, decision, evidence=paused.evidence, require_ack=require_ack)
    context = context or AgentContext()
    config: Any = {"configurable": {"thread_id": review_id}}
    # One decider of this review at a time, on any machine (released if it dies): a second one waits, then
    # finds the review decided (ReviewConflict) or, if the first died part-way, finishes its decision.
    with db.exclusive(f"decide:{review_id}"):
        return _decide_claimed(review_id, decision, paused, context, config)


def _decide_claimed(
    review_id: str, decision: ReviewDecision, paused: PausedReview, context: AgentContext, config: Any
) -> DecideResult:
    """`decide_review`'s steps, under its lock: claim (or take over a stopped claim), apply, finish."""
    from langgraph.types import Command

    from agent import reviewers
    from agent.graph import checkpointed_graph  # loaded already, by the load_review that gave `paused`
    from agent.review import (
        ReviewConflict,
        ReviewDecision,
        claim_review,
        crash_point,
        finish_review,
        get_review,
        release_claim,
        unacknowledged,
    )

    row = get_review(review_id)
    if row.status == "awaiting_review" and claim_review(review_id, decision):
        pending = decision
        crash_point("claim")
    else:
        row = get_review(review_id)
        if row.status != "deciding" or not row.decision_json:
            raise ReviewConflict(row.decided_message())
        # A decide that stopped half-way: finish *its* decision, whoever asks now.
        pending = ReviewDecision.model_validate_json(row.decision_json)
    if not paused.local:
        applied = _decide_in_store(review_id, paused.brief, pending, context)
        crash_point("checkpoint")
        finish_review(review_id, pending)
        if pending.comparable() != decision.comparable():
            raise ReviewConflict(get_review(review_id).decided_message())
        return DecideResult(
            review_id,
            pending,
            applied,
            True,
            local_mode=not reviewers.team_mode(),
            unacknowledged=unacknowledged(paused.brief, pending) if pending.approved else [],
            graph_elsewhere=True,
            server_note=resume_on_server(review_id, pending),
        )
    with checkpointed_graph() as graph:
        snapshot = graph.get_state(config)
        # durability="sync": each step's checkpoint is on disk before the next step starts, so a crash
        # leaves the graph at the step it was in and a retry runs that step again (its writes are idempotent).
        if snapshot.next == ("request_review",):
            graph.invoke(Command(resume=pending.model_dump(mode="json")), config, context=context, durability="sync")
        elif snapshot.next:  # interrupted mid-way (a crash after the decision): finish the remaining steps
            graph.invoke(None, config, context=context, durability="sync")
        after = graph.get_state(config)
        values = after.values
    crash_point("checkpoint")
    if not values.get("event_logged"):
        refused = [i.value.get("error") for i in after.interrupts if isinstance(i.value, dict)]
        if after.next == ("request_review",) and any(refused):  # the review step refused it: nothing was done
            release_claim(review_id)
            raise InputError(str(next(r for r in refused if r)))
        # the graph ended without its last step: a bug, not the user's input
        raise RuntimeError(f"review {review_id}: the graph stopped before logging the event")
    # The graph's decision is the one its steps applied (the claimed one, unless resumed elsewhere too).
    done = ReviewDecision.model_validate(values["decision"])
    finish_review(review_id, done)
    if done.comparable() != decision.comparable():
        raise ReviewConflict(get_review(review_id).decided_message())
    return DecideResult(
        review_id,
        done,
        list(values.get("applied") or []),
        bool(values.get("event_logged")),
        local_mode=not reviewers.team_mode(),
        unacknowledged=unacknowledged(paused.brief, done) if done.approved else [],
    )


def _decide_in_store(review_id: str, brief: RiskBrief, decision: ReviewDecision, context: AgentContext) -> list[str]:
    """The graph's apply and event steps for a review whose graph runs elsewhere (each idempotent, keyed
    by the review, as in the graph)."""
    from agent import review

    if decision.edits:
        edited, fields = review.apply_edits(brief, decision.edits)
        review.record_edits(review_id, brief, edited, fields, decision)
        brief = edited
    applied = review.apply_approved(review_id, brief, decision) if decision.approved else []
    review.log_event(review_id, brief, decision, applied, context.now().isoformat())
    return applied


def decide_command_line(review_id: str, brief: RiskBrief | None = None) -> str:
    """The exact command that approves this review (acknowledging the stop reasons of a "not ready" brief)."""
    home = workspace.home().resolve()
    where = "" if home == Path(".riskbrief").resolve() else f" --home {shlex.quote(str(home))}"
    ack = " --ack-stops" if brief is not None and brief.status == "not ready" else ""
    return f'riskbrief review decide {review_id} --approve --reviewer "YOUR NAME" --triage investigate{ack}{where}'


# ------------------------------------------------------------------------------------------ commands


def brief(
    account_id: Annotated[str, typer.Argument(help="The account to review (accounts.csv account_id).")],
    data: DataOpt = None,
    as_of: AsOfOpt = None,
    fmt: MdOrJsonOpt = MdOrJson.md,
    config_file: ConfigOpt = None,
    fresh: Annotated[
        bool,
        typer.Option(
            "--fresh",
            help="Draft anew even if the account has a pending review for this as-of date (which it supersedes).",
        ),
    ] = False,
    home: HomeOpt = None,
) -> None:
    """Run the agent for one account up to the review step: prints the draft and its review id. An account
    has one pending review per as-of date: a second run prints that one, unless --fresh."""
    from agent.brief import to_markdown

    set_home(home)
    run = run_brief(
        account_id,
        data_dir(data),
        as_of=parse_date(as_of),
        config_file=config_file,
        pending="fresh" if fresh else "reuse",
    )
    if run.reused:
        typer.echo(
            f"note: {account_id} already has a pending review for this as-of date ({run.review_id}): shown "
            "below; --fresh drafts anew and supersedes it",
            err=True,
        )
    if run.superseded:
        typer.echo(f"note: superseded by this draft: {', '.join(run.superseded)}", err=True)
    drafter = run.brief.drafter
    if drafter.fallback and not run.reused:
        # The brief is complete (exit 0), but the person should know the model's draft was not used.
        typer.echo(
            f"warning: the model's draft was not used ({drafter.fallback_reason}); the offline drafter wrote "
            f"this brief after {drafter.model_calls} model call(s)",
            err=True,
        )
    if fmt == MdOrJson.json:
        payload = {"review_id": run.review_id, "status": "awaiting_review", "brief": run.brief.model_dump(mode="json")}
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(to_markdown(run.brief))
    typer.echo(f"review_id: {run.review_id} (awaiting review; nothing happens before a decision)")
    typer.echo(f"approve:   {decide_command_line(run.review_id, run.brief)}")
    typer.echo(f'reject:    riskbrief review decide {run.review_id} --reject --reviewer "YOUR NAME" --reason "..."')


review_app = typer.Typer(help="The human step: list, show and decide briefs paused for review.", no_args_is_help=True)


@review_app.command("list")
def review_list(
    fmt: TableOrJsonOpt = TableOrJson.table,
    home: HomeOpt = None,
) -> None:
    """Reviews in the workspace, newest first."""
    from rich.table import Table

    from agent.review import list_reviews

    set_home(home)
    rows = list_reviews()
    if fmt == TableOrJson.json:
        typer.echo(json.dumps([r.model_dump(exclude={"decision_json"}) for r in rows], indent=2))
        return
    table = Table(title=f"Reviews in {workspace.home()}", title_justify="left", header_style="bold")
    for column in ("review_id", "account", "risk", "brief", "created", "status", "by"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            r.review_id,
            f"{r.account_name} ({r.account_id})",
            r.risk_level or "",
            r.brief_status or "",
            r.created_at[:16],
            r.status,
            r.reviewer or "",
        )
    # Piped output lands in files and logs: give the table room instead of 80 columns.
    console = out
    console.print(table if rows else "No reviews yet: run `riskbrief brief ACCOUNT_ID --data DIR`.")


@review_app.command("show")
def review_show(
    review_id: Annotated[str, typer.Argument(help="The review id printed by `riskbrief brief`.")],
    fmt: MdOrJsonOpt = MdOrJson.md,
    home: HomeOpt = None,
) -> None:
    """A review's brief and its status."""
    from agent.brief import to_markdown
    from agent.review import event_of, get_review

    set_home(home)
    row = get_review(review_id)
    current = load_review(review_id).brief
    if fmt == MdOrJson.json:
        payload = {"review_id": review_id, "status": row.status, "brief": current.model_dump(mode="json")}
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(to_markdown(current))
    line = f"review {review_id}: {row.status}"
    if row.reviewer:
        line += (
            f" ({row.decision} by {row.reviewer} at {row.decided_at}" + (f"; {row.reason}" if row.reason else "") + ")"
        )
    typer.echo(line)
    event = event_of(review_id)
    if event:
        typer.echo(f"recorded: {event['action_taken']}; measurement event logged at {event['logged_at']}")
    if row.status == "awaiting_review":
        typer.echo(f"approve: {decide_command_line(review_id, current)}")


@review_app.command("decide")
def review_decide(
    review_id: Annotated[str, typer.Argument(help="The review id printed by `riskbrief brief`.")],
    reviewer: Annotated[str | None, typer.Option("--reviewer", help="Who decides (recorded).")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve the brief.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject it (needs --reason).")] = False,
    edit: Annotated[
        Path | None, typer.Option("--edit", help="JSON file of brief fields to change; approves the edited brief.")
    ] = None,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (required to reject; 'not a risk: ...' marks a false positive).")
    ] = None,
    triage: Annotated[
        TriageChoice | None, typer.Option("--triage", help="Triage outcome of an approval (default investigate).")
    ] = None,
    option: Annotated[
        int | None, typer.Option("--option", help="The next-action option chosen (1-based).", min=1)
    ] = None,
    ack_stops: Annotated[
        bool,
        typer.Option(
            "--ack-stops", help="Acknowledge every stop reason of a 'not ready' brief (required to approve one)."
        ),
    ] = False,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Approve, edit or reject a paused brief; resumes the graph (from any process, any day)."""
    from pydantic import ValidationError

    from agent import reviewers
    from agent.config import utc_now
    from agent.review import ReviewDecision, read_edit_file

    set_home(home)
    chosen = [name for name, on in (("--approve", approve), ("--reject", reject), ("--edit", edit is not None)) if on]
    if len(chosen) != 1:
        raise InputError("choose exactly one of --approve, --reject, --edit FILE")
    if reviewer is not None and not reviewer.isprintable():
        # recorded and shown in lists, the inbox and reports: no terminal controls
        raise InputError(f"--reviewer: '{shown(reviewer)}' contains control characters")
    name = reviewers.identify(reviewer, token)
    kind = {"--approve": "approve", "--reject": "reject", "--edit": "edit"}[chosen[0]]
    try:
        decision = ReviewDecision(
            decision=kind,  # type: ignore[arg-type]  # one of the three literals above
            reviewer=name,
            decided_at=utc_now().isoformat(),
            reason=reason,
            triage=triage.value if triage else None,
            option=option,
            edits=read_edit_file(edit) if edit is not None else {},
            acknowledged_stops=list(load_review(review_id).brief.stop_reasons) if ack_stops else [],
        )
    except ValidationError as exc:
        raise InputError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    result = decide_review(review_id, decision, require_ack=True)
    if decision.approved:
        typer.echo(
            f"{review_id}: {'edited and approved' if decision.edits else 'approved'} by {shown(decision.reviewer)} "
            f"(triage {result.decision.triage}); recorded {', '.join(result.applied)}; "
            f"measurement event {'logged' if result.event_logged else 'pending'}. Nothing was sent."
        )
    else:
        typer.echo(
            f"{review_id}: rejected by {shown(decision.reviewer)} ({shown(decision.reason)}); nothing applied; "
            "event logged."
        )
    _decision_notes(result)


LANGGRAPH_GRAPH = "riskbrief"  # the graph id in langgraph.json: also the assistant id the server creates


def resume_on_server(review_id: str, decision: ReviewDecision) -> str | None:
    """After a decision taken here on a review whose graph runs on LangGraph Server: resume its thread there
    (RISKBRIEF_LANGGRAPH_URL), so that it finishes now rather than whenever someone resumes it. Its review
    step finds the decision in the store and applies nothing twice. The decision stands whatever happens
    here: returns what a person should know, or None when no server is named."""
    import os

    url = os.environ.get("RISKBRIEF_LANGGRAPH_URL")
    if not url:
        return None
    try:
        from langgraph_sdk import get_sync_client

        with get_sync_client(url=url) as client:
            client.runs.wait(review_id, LANGGRAPH_GRAPH, command={"resume": decision.model_dump(mode="json")})
            status = client.threads.get(review_id)["status"]
    except Exception as exc:  # the server's to fix; the decision is applied and recorded already
        reason = shown(" ".join(str(exc).split()) or type(exc).__name__, 200)
        return f"its thread on {shown(url)} could not be resumed ({reason}); resuming it there later finishes it"
    return f"its thread on {shown(url)} was resumed and is {status}"


def _decision_notes(result: DecideResult) -> None:
    """What a person should know about a decision, on stderr: local mode, unacknowledged stops, a graph
    that runs elsewhere."""
    from agent.reviewers import LOCAL_MODE_NOTE

    if result.local_mode:
        typer.echo(f"note: {LOCAL_MODE_NOTE}", err=True)
    if result.unacknowledged:
        typer.echo(
            f"note: approved with {len(result.unacknowledged)} stop reason(s) not acknowledged (--ack-stops): "
            + "; ".join(shown(r, 120) for r in result.unacknowledged),
            err=True,
        )
    if result.graph_elsewhere and result.server_note:
        note = f"note: this review's graph runs elsewhere; the decision was applied here, and {result.server_note}"
        typer.echo(note, err=True)
    elif result.graph_elsewhere:
        typer.echo(
            "note: this review's graph runs elsewhere (e.g. langgraph dev); the decision was applied here, and "
            "resuming that thread picks it up without applying anything twice (RISKBRIEF_LANGGRAPH_URL=<server> "
            "resumes it from here)",
            err=True,
        )


def demo(home: HomeOpt = None) -> None:
    """The main job on the bundled sample portfolio, offline: the ranked queue, the store, a brief for the
    top account stopped at review, and the command that approves it."""

    from agent.brief import to_markdown
    from agent.render import queue_table
    from tools import retrieval
    from tools.config import load_config
    from tools.portfolio import load_portfolio
    from tools.sample import portfolio_dir
    from tools.scoring import build_queue

    set_home(home)
    console = out
    data = portfolio_dir()
    config = load_config(data)
    as_of = as_of_date(None, config)
    entries = build_queue(load_portfolio(data, as_of), config, as_of, top=10)
    if not entries:
        raise InputError(f"{data}: the sample portfolio has no account at risk as of {as_of}")
    console.print(queue_table(entries, title=f"Risk queue as of {as_of} (sample portfolio, top 10)"))
    console.print("\nIndexing notes and tickets into the local vector store …")
    retrieval.ingest(load_portfolio(data), progress=True)
    top = entries[0]
    console.print(f"\nDrafting the brief for the top account, {top.account_name} ({top.account_id}), offline …\n")
    run = run_brief(top.account_id, data, as_of=as_of, context=default_context(data, offline=True))
    typer.echo(to_markdown(run.brief))
    typer.echo(f"review_id: {run.review_id} (paused for review; drafted in {run.seconds:.1f} s)")
    typer.echo(f"approve:   {decide_command_line(run.review_id, run.brief)}")


# ------------------------------------------------------------------ team review: reviewers, inbox, outcomes

reviewers_app = typer.Typer(
    help="Who may decide: reviewers of this workspace (csm or manager), each with a sign-in token.",
    no_args_is_help=True,
)


class RoleChoice(StrEnum):
    csm = "csm"
    manager = "manager"


class ResponseChoice(StrEnum):
    replied = "replied"
    no_reply = "no_reply"
    meeting_booked = "meeting_booked"


class ResultChoice(StrEnum):
    saved = "saved"
    renewed = "renewed"
    churned = "churned"
    downgraded = "downgraded"
    open = "open"


@reviewers_app.command("add")
def reviewers_add(
    name: Annotated[str, typer.Argument(help="The reviewer's name (a CSM's as in accounts.csv csm_owner).")],
    role: Annotated[RoleChoice, typer.Option("--role", help="csm: their accounts, internal actions; manager: all.")],
    accounts_of: Annotated[
        str | None,
        typer.Option("--accounts-of", help="A csm who decides for this CSM's accounts (default: their own name)."),
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Add a reviewer and print their sign-in token, once (only its hash is kept)."""
    from agent.reviewers import add_reviewer

    set_home(home)
    reviewer, token = add_reviewer(name, role.value, accounts_of)
    scope = "every account" if reviewer.role == "manager" else " and ".join(reviewer.covers()) + "'s accounts"
    typer.echo(f"added {reviewer.name} ({reviewer.role}; decides for {scope}) in {workspace.home()}")
    typer.echo(f"sign-in token (shown once, keep it secret): {token}")


@reviewers_app.command("list")
def reviewers_list(
    fmt: TableOrJsonOpt = TableOrJson.table,
    home: HomeOpt = None,
) -> None:
    """The reviewers of this workspace (never their tokens)."""
    from agent.reviewers import LOCAL_MODE_NOTE, list_reviewers

    set_home(home)
    rows = list_reviewers()
    if fmt == TableOrJson.json:
        typer.echo(json.dumps([r.model_dump() for r in rows], indent=2))
        return
    if not rows:
        typer.echo(f"No reviewers: {LOCAL_MODE_NOTE}.")
        return
    for r in rows:
        scope = "all accounts" if r.role == "manager" else "accounts of " + " and ".join(r.covers())
        typer.echo(f"{r.name}\t{r.role}\t{scope}\tadded {r.created_at[:10]}")


@reviewers_app.command("remove")
def reviewers_remove(
    name: Annotated[str, typer.Argument(help="The reviewer to remove (their token and sessions stop working).")],
    home: HomeOpt = None,
) -> None:
    """Remove a reviewer: their token and browser sessions stop working at once."""
    from agent.reviewers import list_reviewers, remove_reviewer

    set_home(home)
    remove_reviewer(name)
    left = len(list_reviewers())
    typer.echo(f"removed {shown(name)}" + ("" if left else "; no reviewers left: back to local single-user mode"))


def outcome(
    ref: Annotated[str, typer.Argument(help="A review id, or an account id (its latest approved review).")],
    response: Annotated[ResponseChoice, typer.Option("--response", help="How the customer responded.")],
    result: Annotated[ResultChoice, typer.Option("--result", help="Where the account stands.")],
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (for open, churned, downgraded: the unresolved risk reason).")
    ] = None,
    reviewer: Annotated[
        str | None, typer.Option("--reviewer", help="Who records it (required with reviewers, unless --token).")
    ] = None,
    token: TokenOpt = None,
    home: HomeOpt = None,
) -> None:
    """Record what happened after an approved review: the response and the result."""
    from agent import reviewers
    from agent.config import utc_now
    from agent.review import Outcome, outcome_review, record_outcome, stored_brief

    set_home(home)
    if reason is not None and (not reason.isprintable() or len(reason) > 500):
        raise InputError("--reason: at most 500 printable characters")
    row = outcome_review(ref)
    name: str | None = None
    if reviewers.team_mode() or reviewer or token:
        if reviewer is not None and not reviewer.isprintable():
            raise InputError(f"--reviewer: '{shown(reviewer)}' contains control characters")
        name = reviewers.identify(reviewer, token)
    reviewers.authorize_outcome(name, stored_brief(row.review_id))
    record_outcome(
        Outcome(
            review_id=row.review_id,
            account_id=row.account_id,
            response=response.value,
            result=result.value,
            reason=reason.strip() if reason and reason.strip() else None,
            recorded_by=name,
            recorded_at=utc_now().isoformat(),
        )
    )
    typer.echo(
        f"{row.review_id} ({row.account_name or row.account_id}): outcome recorded, response {response.value}, "
        f"result {result.value}" + (f" ({shown(reason, 120)})" if reason else "")
    )
    if not reviewers.team_mode():
        typer.echo(f"note: {reviewers.LOCAL_MODE_NOTE}", err=True)


def report_markdown(data: dict[str, Any]) -> str:
    """The report for people (Markdown; also the `table` format's text)."""
    hours = data["median_hours_to_decision"]
    lines = [
        "# Risk review report" + (f" since {data['since']}" if data["since"] else ""),
        "",
        "| measure | value |",
        "|---|---|",
        f"| accounts reviewed | {data['accounts_reviewed']} |",
        f"| risks confirmed | {data['risks_confirmed']} |",
        f"| actions taken | {data['actions_taken']} |",
        f"| responses | {data['responses']} |",
        f"| saved accounts | {data['saved_accounts']} |",
        f"| false positives | {data['false_positives']} |",
        f"| median hours from draft to decision | {'—' if hours is None else f'{hours:g}'} |",
        f"| decision-packet rate (high and critical) | {data['decision_packet_rate']:.0%} "
        f"({data['decision_packet_complete']} of {data['decision_packet_accounts']}) |",
        "",
        "## Unresolved risk reasons",
    ]
    lines += [f"- {r['reason']}: {r['count']}" for r in data["unresolved_risk_reasons"]] or ["- none recorded"]
    states = ", ".join(f"{k} {v}" for k, v in sorted(data["reviews"].items())) or "none"
    lines += ["", f"Reviews by state: {states}."]
    missing = {k: v for k, v in data["decision_packet_missing"].items() if v}
    if missing:
        lines.append("Decision packets lack: " + ", ".join(f"{k.replace('_', ' ')} ({v})" for k, v in missing.items()))
    return "\n".join(lines) + "\n"


def report_briefs(review_id: str) -> RiskBrief | None:
    """A brief the store lacks (a review registered by an earlier version), from the checkpoints."""
    try:
        return load_review(review_id).brief
    except InputError:
        return None


def report(
    since: Annotated[
        str | None, typer.Option("--since", help="Only reviews decided (or drafted) on or after D.")
    ] = None,
    fmt: TableMdOrJsonOpt = TableMdOrJson.table,
    home: HomeOpt = None,
) -> None:
    """The measurement report: reviews, confirmed risks, actions, responses, saves, false positives,
    unresolved reasons, hours to decision, and the decision-packet rate."""
    from agent.review import build_report

    set_home(home)
    when = parse_date(since, "--since")
    data = build_report(when.isoformat() if when else None, briefs=report_briefs)
    if fmt == TableMdOrJson.json:
        typer.echo(json.dumps(data, indent=2))
        return
    text = report_markdown(data)
    if fmt == TableMdOrJson.md:
        typer.echo(text, nl=False)
        return
    from rich.console import Console
    from rich.markdown import Markdown

    Console(highlight=False, width=None if sys.stdout.isatty() else 120).print(Markdown(text))


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.", min=1, max=65535)] = 8321,
    home: HomeOpt = None,
) -> None:
    """The review inbox in a browser, over this workspace: pending briefs, the brief, decide, outcomes,
    the report. With reviewers configured each person signs in with their token."""
    import uvicorn

    from agent.reviewers import LOCAL_MODE_NOTE, team_mode
    from agent.web.app import create_app

    set_home(home)
    loopback = host in ("127.0.0.1", "localhost", "::1")
    if not team_mode():
        if not loopback:
            raise InputError(
                f"--host {shown(host)}: with no reviewers configured the inbox serves only this machine "
                "(127.0.0.1); add reviewers (`riskbrief reviewers add`) to serve a team"
            )
        typer.echo(f"note: {LOCAL_MODE_NOTE}", err=True)
    elif not loopback:
        typer.echo(
            "note: serving beyond this machine over plain HTTP: put it behind an HTTPS proxy so tokens and "
            "session cookies are not sent in clear",
            err=True,
        )
    typer.echo(f"riskbrief inbox on http://{host}:{port}/ over {workspace.home()} (Ctrl+C to stop)", err=True)
    uvicorn.run(create_app(), host=host, port=port, log_level="warning", proxy_headers=False)
