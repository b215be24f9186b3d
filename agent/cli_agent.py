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
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tools import workspace
from tools.errors import InputError, shown

if TYPE_CHECKING:
    from agent.brief import RiskBrief
    from agent.config import AgentContext
    from agent.review import ReviewDecision

CHECKPOINTS = "checkpoints.sqlite"


class BriefFormat(StrEnum):
    md = "md"
    json = "json"


class ListFormat(StrEnum):
    table = "table"
    json = "json"


class TriageChoice(StrEnum):
    investigate = "investigate"
    escalate = "escalate"
    save_play = "save_play"
    monitor = "monitor"
    dismiss = "dismiss"


HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="Workspace folder (default: $RISKBRIEF_HOME, else ./.riskbrief).", show_default=False),
]


def _set_home(home: Path | None) -> None:
    if home is not None:
        workspace.set_home(home)


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"--as-of: '{value}' is not a date (expected YYYY-MM-DD)") from None


def _data_dir(value: str | None) -> Path:
    if value is None:
        raise InputError("--data DIR is required (a portfolio folder; `--data sample` uses the bundled sample)")
    if value == "sample":
        from tools.sample import portfolio_dir

        return portfolio_dir()
    path = Path(value)
    if not path.is_dir():
        raise InputError(f"{path}: not a portfolio directory (expected a folder of CSV files)")
    return path


# ---------------------------------------------------------------------------------- the steps, no CLI


@dataclass
class BriefRun:
    """A brief paused at the review step."""

    review_id: str
    brief: RiskBrief
    seconds: float


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
) -> BriefRun:
    """Run the graph for one account up to the review interrupt; the state is checkpointed in the workspace."""
    from agent.brief import RiskBrief
    from agent.config import new_review_id
    from agent.graph import sqlite_graph
    from agent.state import InputState

    started = time.perf_counter()
    context = context or default_context(data_dir, config_file)
    review_id = review_id or new_review_id(account_id)
    config: Any = {"configurable": {"thread_id": review_id}}
    with sqlite_graph(workspace.sqlite_path(CHECKPOINTS)) as graph:
        start = InputState(
            account_id=account_id,
            data_dir=str(data_dir),
            as_of=as_of.isoformat() if as_of else None,
            config_file=str(config_file) if config_file else None,
        )
        graph.invoke(start, config, context=context)
        values = graph.get_state(config).values
    return BriefRun(review_id, RiskBrief.model_validate(values["brief"]), time.perf_counter() - started)


def paused_brief(review_id: str) -> tuple[RiskBrief, tuple[str, ...]]:
    """The brief of a review as checkpointed (edited, if it was) and the graph's next steps."""
    from agent.brief import RiskBrief
    from agent.graph import sqlite_graph
    from agent.review import get_review

    get_review(review_id)  # InputError for an unknown id
    config: Any = {"configurable": {"thread_id": review_id}}
    with sqlite_graph(workspace.sqlite_path(CHECKPOINTS)) as graph:
        snapshot = graph.get_state(config)
    if not snapshot.values.get("brief"):
        raise InputError(f"review {review_id}: no checkpointed brief in {workspace.sqlite_path(CHECKPOINTS)}")
    return RiskBrief.model_validate(snapshot.values["brief"]), tuple(snapshot.next)


@dataclass
class DecideResult:
    """What a decision did."""

    review_id: str
    decision: ReviewDecision
    applied: list[str]
    event_logged: bool


def decide_review(review_id: str, decision: ReviewDecision, context: AgentContext | None = None) -> DecideResult:
    """Resume the paused graph with the reviewer's decision, from any process.

    The steps (agent.review.DECIDE_STEPS): claim the review atomically with the decision, so two
    deciders can't both act; run the graph's apply and event steps, each keyed by the review and
    checkpointed before the next starts; then, last, mark the review approved or rejected. A crash at
    any step leaves the review 'deciding', and any later decide finishes *that* decision without
    applying or logging anything twice. A decided review refuses further decisions (InputError naming
    who decided and when), also a different decision that arrives while the first is half-done.
    """
    from agent.review import ReviewDecision, check_decision, claim_review, crash_point, finish_review, get_review

    row = get_review(review_id)
    if row.status not in ("awaiting_review", "deciding"):
        raise InputError(row.decided_message())
    from langgraph.types import Command

    from agent.config import AgentContext
    from agent.graph import sqlite_graph

    brief, _ = paused_brief(review_id)
    check_decision(brief, decision)
    context = context or AgentContext()
    config: Any = {"configurable": {"thread_id": review_id}}
    if row.status == "awaiting_review" and claim_review(review_id, decision):
        pending = decision
        crash_point("claim")
    else:
        row = get_review(review_id)
        if row.status != "deciding" or not row.decision_json:
            raise InputError(row.decided_message())
        # A decide that stopped half-way: finish *its* decision, whoever asks now.
        pending = ReviewDecision.model_validate_json(row.decision_json)
    with sqlite_graph(workspace.sqlite_path(CHECKPOINTS)) as graph:
        snapshot = graph.get_state(config)
        # durability="sync": each step's checkpoint is on disk before the next step starts, so a crash
        # leaves the graph at the step it was in and a retry runs that step again (its writes are idempotent).
        if snapshot.next == ("request_review",):
            graph.invoke(Command(resume=pending.model_dump(mode="json")), config, context=context, durability="sync")
        elif snapshot.next:  # interrupted mid-way (a crash after the decision): finish the remaining steps
            graph.invoke(None, config, context=context, durability="sync")
        values = graph.get_state(config).values
    crash_point("checkpoint")
    if not values.get("event_logged"):  # the graph ended without its last step: a bug, not the user's input
        raise RuntimeError(f"review {review_id}: the graph stopped before logging the event")
    # The graph's decision is the one its steps applied (the claimed one, unless resumed elsewhere too).
    done = ReviewDecision.model_validate(values["decision"])
    finish_review(review_id, done)
    if done.comparable() != decision.comparable():
        raise InputError(get_review(review_id).decided_message())
    return DecideResult(review_id, done, list(values.get("applied") or []), bool(values.get("event_logged")))


def decide_command_line(review_id: str) -> str:
    """The exact command that approves this review."""
    home = workspace.home().resolve()
    where = "" if home == Path(".riskbrief").resolve() else f" --home {shlex.quote(str(home))}"
    return f'riskbrief review decide {review_id} --approve --reviewer "YOUR NAME" --triage investigate{where}'


# ------------------------------------------------------------------------------------------ commands


def brief(
    account_id: Annotated[str, typer.Argument(help="The account to review (accounts.csv account_id).")],
    data: Annotated[
        str | None, typer.Option("--data", help="Portfolio directory; `sample` for the bundled one.")
    ] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="As-of date YYYY-MM-DD.", show_default=False)] = None,
    fmt: Annotated[BriefFormat, typer.Option("--format", help="md for people, json for scripts.")] = BriefFormat.md,
    config_file: Annotated[Path | None, typer.Option("--config", help="riskbrief.toml to use.")] = None,
    home: HomeOpt = None,
) -> None:
    """Run the agent for one account up to the review step: prints the draft and its review id."""
    from agent.brief import to_markdown

    _set_home(home)
    run = run_brief(account_id, _data_dir(data), as_of=_parse_date(as_of), config_file=config_file)
    drafter = run.brief.drafter
    if drafter.fallback:
        # The brief is complete (exit 0), but the person should know the model's draft was not used.
        typer.echo(
            f"warning: the model's draft was not used ({drafter.fallback_reason}); the offline drafter wrote "
            f"this brief after {drafter.model_calls} model call(s)",
            err=True,
        )
    if fmt == BriefFormat.json:
        payload = {"review_id": run.review_id, "status": "awaiting_review", "brief": run.brief.model_dump(mode="json")}
        typer.echo(json.dumps(payload, indent=2))
        return
    typer.echo(to_markdown(run.brief))
    typer.echo(f"review_id: {run.review_id} (awaiting review; nothing happens before a decision)")
    typer.echo(f"approve:   {decide_command_line(run.review_id)}")
    typer.echo(f'reject:    riskbrief review decide {run.review_id} --reject --reviewer "YOUR NAME" --reason "..."')


review_app = typer.Typer(help="The human step: list, show and decide briefs paused for review.", no_args_is_help=True)


@review_app.command("list")
def review_list(
    fmt: Annotated[ListFormat, typer.Option("--format", help="table or json.")] = ListFormat.table,
    home: HomeOpt = None,
) -> None:
    """Reviews in the workspace, newest first."""
    from rich.console import Console
    from rich.table import Table

    from agent.review import list_reviews

    _set_home(home)
    rows = list_reviews()
    if fmt == ListFormat.json:
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
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    console.print(table if rows else "No reviews yet: run `riskbrief brief ACCOUNT_ID --data DIR`.")


@review_app.command("show")
def review_show(
    review_id: Annotated[str, typer.Argument(help="The review id printed by `riskbrief brief`.")],
    fmt: Annotated[BriefFormat, typer.Option("--format", help="md or json.")] = BriefFormat.md,
    home: HomeOpt = None,
) -> None:
    """A review's brief and its status."""
    from agent.brief import to_markdown
    from agent.review import event_of, get_review

    _set_home(home)
    row = get_review(review_id)
    current, _ = paused_brief(review_id)
    if fmt == BriefFormat.json:
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
        typer.echo(f"approve: {decide_command_line(review_id)}")


@review_app.command("decide")
def review_decide(
    review_id: Annotated[str, typer.Argument(help="The review id printed by `riskbrief brief`.")],
    reviewer: Annotated[str | None, typer.Option("--reviewer", help="Who decides (recorded).")] = None,
    approve: Annotated[bool, typer.Option("--approve", help="Approve the brief.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Reject it (needs --reason).")] = False,
    edit: Annotated[
        Path | None, typer.Option("--edit", help="JSON file of brief fields to change; approves the edited brief.")
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why (required to reject).")] = None,
    triage: Annotated[
        TriageChoice | None, typer.Option("--triage", help="Triage outcome of an approval (default investigate).")
    ] = None,
    option: Annotated[
        int | None, typer.Option("--option", help="The next-action option chosen (1-based).", min=1)
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Approve, edit or reject a paused brief; resumes the graph (from any process, any day)."""
    from pydantic import ValidationError

    from agent.config import utc_now
    from agent.review import ReviewDecision, read_edit_file

    _set_home(home)
    chosen = [name for name, on in (("--approve", approve), ("--reject", reject), ("--edit", edit is not None)) if on]
    if len(chosen) != 1:
        raise InputError("choose exactly one of --approve, --reject, --edit FILE")
    if not reviewer or not reviewer.strip():
        raise InputError("--reviewer NAME is required (the decision is recorded with who made it)")
    if not reviewer.isprintable():  # recorded and shown in lists, the inbox and reports: no terminal controls
        raise InputError(f"--reviewer: '{shown(reviewer)}' contains control characters")
    kind = {"--approve": "approve", "--reject": "reject", "--edit": "edit"}[chosen[0]]
    try:
        decision = ReviewDecision(
            decision=kind,  # type: ignore[arg-type]  # one of the three literals above
            reviewer=reviewer.strip(),
            decided_at=utc_now().isoformat(),
            reason=reason,
            triage=triage.value if triage else None,
            option=option,
            edits=read_edit_file(edit) if edit is not None else {},
        )
    except ValidationError as exc:
        raise InputError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    result = decide_review(review_id, decision)
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


def demo(home: HomeOpt = None) -> None:
    """The main job on the bundled sample portfolio, offline: the ranked queue, the store, a brief for the
    top account stopped at review, and the command that approves it."""
    from rich.console import Console

    from agent.brief import to_markdown
    from agent.render import queue_table
    from tools import retrieval
    from tools.config import load_config
    from tools.portfolio import load_portfolio
    from tools.sample import portfolio_dir
    from tools.scoring import build_queue

    _set_home(home)
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    data = portfolio_dir()
    config = load_config(data)
    as_of = config.as_of or date.today()
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
    typer.echo(f"approve:   {decide_command_line(run.review_id)}")


def register(app: typer.Typer) -> None:
    """Add `brief`, `review` and `demo` to the `riskbrief` app."""
    app.command("brief")(brief)
    app.add_typer(review_app, name="review")
    app.command("demo")(demo)
