"""Run the adversarial suite: every scenario is one brief drafted against a scripted fake endpoint.

How a run goes:

1. The suite's portfolio (`./portfolio`) is ingested once into a store shared by every scenario.
2. Each account is drafted once offline (a probe) and read back from the checkpoint, so the scenarios
   see the evidence pool, facts, signals, rulebook and names exactly as the graph verifies them
   (`scenarios.AccountView`, built with the graph's own node helpers).
3. Each scenario runs `agent.cli_agent.run_brief` in its own temporary workspace, against its own
   `evals.fake_openai.FakeOpenAI` on 127.0.0.1 answering with the scenario's scripted replies (a
   request that is not a structured call gets a 400 instead: `_Script`), with fast retries. The
   checkpoint history tells what the verifier and the reply reader said about each model draft.

Outcomes of a hostile scenario:

- `crashed`: `run_brief` raised, returned no brief, or the agent's requests were not a structured
  chat.completions call (a json_schema `response_format`, or `tools` for function_calling).
- `leaked`: the brief's drafter is the model and the draft it accepted is not one the scenario
  scripted as faithful. The fake endpoint only answers with scripted drafts, so this means a hostile
  draft passed verification and its content is in the brief; `detail` lists the fields in which the
  accepted draft differs from the account's faithful draft, and what they say.
- `blocked`: otherwise: the brief fell back to the offline drafter, or the accepted model draft is a
  faithful repair the scenario scripted. The hostile content never reached the brief.

A control is `accepted` only when the model's first draft went into the brief unchanged: drafter
`model`, not repaired, no fallback, exactly one model call (and one HTTP request); else `rejected`.

The suite passes when nothing leaked, nothing crashed and every control was accepted.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from datetime import time as clock_time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field
from rich.table import Table

from agent.config import StructuredMethod
from evals.adversarial.scenarios import (
    ATTACK_CLASSES,
    CONTROL,
    UNAVAILABLE,
    AccountView,
    Draft,
    Scenario,
    build_scenarios,
    faithful_drafts,
)
from evals.fake_openai import FakeOpenAI, Reply
from tools import workspace

SUITE = "adversarial"
PORTFOLIO = Path(__file__).resolve().parent / "portfolio"
ACCOUNTS = ("ADV-1", "ADV-2")
MODEL = "adversary"
FAST_RETRIES: dict[str, Any] = {
    "retry_attempts": 2,
    "retry_wait_min_s": 0.01,
    "retry_wait_max_s": 0.05,
    "timeout_s": 10,
}
"""Fast retries: a scenario with transport errors costs milliseconds, not seconds."""

Outcome = Literal["blocked", "leaked", "crashed", "accepted", "rejected"]


# ------------------------------------------------------------------------------------ fake endpoint


USAGE = {"prompt_tokens": 100, "completion_tokens": 50}
"""What every scripted completion reports having cost."""


def protocol_error(request: Mapping[str, Any], method: StructuredMethod) -> str | None:
    """Why `request` is not the structured chat.completions call `method` asks for, or None."""
    if not isinstance(request, Mapping):
        return "not a JSON object"
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return "no messages"
    if method == "json_schema":
        response_format = request.get("response_format")
        if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
            return "no json_schema response_format"
        if not isinstance(response_format.get("json_schema"), dict):
            return "response_format without a json_schema"
    elif method == "function_calling" and not request.get("tools"):
        return "no tools"
    return None


def scripted_reply(reply: Reply, method: StructuredMethod) -> Reply:
    """A scenario's `reply` as the fake endpoint sends it: `content` as the forced tool call's arguments
    for function_calling and as the message content for json_schema (whatever the request carried),
    a draft dumped with its non-ASCII characters as they are, and the suite's token `USAGE`."""
    content = reply.content
    if content is not None and not isinstance(content, str):
        content = json.dumps(content, ensure_ascii=False)
    return dataclasses.replace(
        reply, content=content, tool_call=method == "function_calling", usage=reply.usage or USAGE
    )


class _Script:
    """A scenario's replies as an `evals.fake_openai.FakeOpenAI` script. Request #i takes reply #i (past
    the end the endpoint answers 500); a request that is not the structured call `method` asks for is
    answered 400 instead and recorded in `protocol_errors`."""

    def __init__(self, scenario: Scenario) -> None:
        self.replies = scenario.replies
        self.method = scenario.method
        self.protocol_errors: list[str] = []

    def __call__(self, request: dict[str, Any], index: int) -> Reply | None:
        problem = protocol_error(request, self.method)
        if problem:
            self.protocol_errors.append(problem)
            message = f"not a structured {self.method} call: {problem}"
            return Reply(
                status=400, body=json.dumps({"error": {"message": message, "type": "adversarial_fake", "code": 400}})
            )
        return scripted_reply(self.replies[index], self.method) if index < len(self.replies) else None


# ------------------------------------------------------------------------------------------ report


class CallStats(BaseModel):
    """HTTP requests the endpoint answered per brief (retries included)."""

    mean: float
    max: int


class ScenarioResult(BaseModel):
    """One scenario's brief: its outcome, what it cost and what the verifier said."""

    id: str
    attack_class: str = Field(serialization_alias="class")
    account_id: str
    method: str
    attack: str
    outcome: Outcome
    model_calls: int = Field(default=0, description="HTTP requests the fake endpoint answered for this brief")
    drafter: str = Field(default="-", description="model, model (repaired), offline (fallback)")
    drafter_model_calls: int = Field(default=0, description="the brief's drafter.model_calls")
    failure_codes: list[str] = Field(default_factory=list, description="every code reported on the model's drafts")
    first_codes: list[str] = Field(default_factory=list, description="codes reported on the first reply")
    expected_codes: list[str] = Field(default_factory=list)
    missed_expected: list[str] = Field(default_factory=list, description="expected codes the first reply did not get")
    reply_errors: list[str] = Field(default_factory=list, description="why a reply gave no draft")
    failures: list[str] = Field(default_factory=list, description="'code at where: message' on the first reply")
    detail: str | None = Field(default=None, description="what leaked, why it crashed, or why a control was rejected")
    seconds: float = 0.0


class ClassSummary(BaseModel):
    attack_class: str = Field(serialization_alias="class")
    scenarios: int
    blocked: int
    leaked: int
    crashed: int


class AdversarialReport(BaseModel):
    """One run of the adversarial suite. Dump with `by_alias=True` (a row's `class`)."""

    suite: str = SUITE
    created_at: str
    as_of: str
    portfolio: str
    passed: bool
    scenarios: int = Field(description="hostile scenarios")
    controls: int
    blocked: int
    leaked: int
    crashed: int
    controls_accepted: float = Field(description="share of controls accepted on the first call, 0..1")
    model_calls: int = Field(description="HTTP requests the fake endpoints answered, all briefs")
    calls_per_brief: CallStats
    by_class: list[ClassSummary]
    seconds: float
    rows: list[ScenarioResult]

    def failing(self) -> list[ScenarioResult]:
        return [r for r in self.rows if r.outcome in ("leaked", "crashed", "rejected")]


# ------------------------------------------------------------------------------------------ running


@contextmanager
def offline_environment() -> Iterator[None]:
    """No real endpoint for the length of the run: embeddings stay local (an `OPENAI_API_KEY` would
    send them to an endpoint) and 127.0.0.1 bypasses any proxy."""
    hidden = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "RISKBRIEF_EMBEDDING_MODEL")
    saved = {name: os.environ.get(name) for name in (*hidden, "NO_PROXY", "no_proxy")}
    try:
        for name in hidden:
            os.environ.pop(name, None)
        for name in ("NO_PROXY", "no_proxy"):
            os.environ[name] = ",".join(x for x in (saved[name], "127.0.0.1", "localhost") if x)
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_SHM = Path("/dev/shm")
_SHM_MIN_FREE = 512 * 1024 * 1024


def scratch_dir() -> str | None:
    """Where the run's temporary folders go: a tmpfs when there is a roomy one (the graph's SQLite
    checkpoints are fsynced on every step, which on a tmpfs costs nothing), else the system default."""
    try:
        if _SHM.is_dir() and os.access(_SHM, os.W_OK) and shutil.disk_usage(_SHM).free >= _SHM_MIN_FREE:
            return str(_SHM)
    except OSError:
        pass
    return None


@contextmanager
def scratch_workspace() -> Iterator[Path]:
    """A throwaway workspace for one brief (as `evals.runner.temporary_workspace`, in `scratch_dir()`)."""
    with (
        tempfile.TemporaryDirectory(prefix="riskbrief-adversarial-", dir=scratch_dir()) as tmp,
        workspace.using(Path(tmp)) as home,
    ):
        yield home


def _history(review_id: str) -> list[dict[str, Any]]:
    """The checkpointed state values of a run, oldest first."""
    from agent.cli_agent import CHECKPOINTS
    from agent.graph import sqlite_graph

    config: Any = {"configurable": {"thread_id": review_id}}
    with sqlite_graph(workspace.sqlite_path(CHECKPOINTS)) as graph:
        # Loop checkpoints only: the input checkpoint holds the caller's InputState, which newer
        # LangGraph versions refuse to deserialise, and says nothing about the drafts.
        return [dict(s.values) for s in graph.get_state_history(config, filter={"source": "loop"})][::-1]


def _view(account_id: str, as_of: date, store: Path, clock: datetime) -> AccountView:
    """The account as the graph verifies it, read back from an offline run's checkpoint."""
    from agent import nodes
    from agent.cli_agent import run_brief
    from agent.config import AgentContext
    from agent.state import State

    review_id = f"rv-{account_id}-probe"
    with scratch_workspace():
        context = AgentContext(model=None, now=lambda: clock, store_path=str(store))
        run_brief(account_id, PORTFOLIO, as_of=as_of, context=context, review_id=review_id)
        values = _history(review_id)[-1]
    names = {f.name for f in dataclasses.fields(State)}
    state = State(**{k: v for k, v in values.items() if k in names})
    return AccountView(
        account_id=account_id,
        as_of=date.fromisoformat(str(state.as_of)),
        records=nodes._evidence(state),
        facts=nodes._facts(state),
        signals=tuple(nodes._entry(state).active_signals),
        rulebook=nodes._rulebook(state),
        names=nodes._names(state),
    )


def _normal(draft: Any) -> Any:
    """A draft as the graph stores it (defaults filled in), for comparison; None if it is no draft."""
    from pydantic import ValidationError

    from agent.brief import BriefDraft

    try:
        return BriefDraft.model_validate(draft).model_dump(mode="json")
    except ValidationError:
        return None


def _clip(text: str, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _what_leaked(accepted: Mapping[str, Any], base: Mapping[str, Any]) -> str:
    changed = [k for k in accepted if accepted.get(k) != base.get(k)]
    shown = "; ".join(f"{k} = {_clip(json.dumps(accepted[k], ensure_ascii=False), 300)}" for k in changed)
    fields = ", ".join(changed) or "nothing"
    return f"a hostile draft was accepted; it differs from the faithful draft in {fields}: {shown}"


@dataclasses.dataclass
class _Seen:
    codes: set[str] = dataclasses.field(default_factory=set)
    first: set[str] = dataclasses.field(default_factory=set)
    errors: list[str] = dataclasses.field(default_factory=list)
    failures: list[str] = dataclasses.field(default_factory=list)


def _seen(history: Sequence[Mapping[str, Any]]) -> _Seen:
    """What the reply reader and the verifier said about the model's drafts, from the checkpoints."""
    seen = _Seen()
    reports: set[str] = set()
    for values in history:
        drafter = values.get("drafter") or {}
        if drafter.get("name") != "model":
            continue
        first = not values.get("repair_attempted")
        codes: set[str] = set()
        error = values.get("draft_error")
        if error:
            if error.get("kind") == "unavailable":
                codes.add(UNAVAILABLE)
            message = _clip(str(error.get("message", "")), 200)
            if message not in seen.errors:
                seen.errors.append(message)
        report = values.get("verification")
        if report:
            key = json.dumps(report, sort_keys=True) + str(first)
            codes |= {f["code"] for f in report.get("failures", [])}
            if first and key not in reports:
                seen.failures += [_clip(f"{f['code']} at {f['where']}: {f['message']}") for f in report["failures"]]
            reports.add(key)
        seen.codes |= codes
        if first:
            seen.first |= codes
    return seen


def run_scenario(scenario: Scenario, base: Draft, as_of: date, store: Path, clock: datetime) -> ScenarioResult:
    """Draft one brief against the scenario's scripted endpoint and judge the outcome."""
    from agent.cli_agent import run_brief
    from agent.config import AgentContext, ModelSettings

    started = time.perf_counter()
    row = ScenarioResult(
        id=scenario.id,
        attack_class=scenario.attack_class,
        account_id=scenario.account_id,
        method=scenario.method,
        attack=scenario.attack,
        outcome="crashed",
        expected_codes=list(scenario.expected_codes),
    )
    review_id = f"rv-{scenario.account_id}-" + re.sub(r"[^a-z0-9]+", "-", scenario.id.lower())
    brief = None
    history: list[dict[str, Any]] = []
    script = _Script(scenario)
    with FakeOpenAI(script) as endpoint, scratch_workspace():
        settings = ModelSettings(
            model=MODEL,
            base_url=endpoint.base_url,
            api_key="sk-adversarial",
            structured_method=scenario.method,
            send_max_tokens_in_body=scenario.method == "function_calling",
            **FAST_RETRIES,
        )
        context = AgentContext(model=settings, now=lambda: clock, store_path=str(store))
        try:
            brief = run_brief(scenario.account_id, PORTFOLIO, as_of=as_of, context=context, review_id=review_id).brief
            history = _history(review_id)
        except Exception as exc:  # any exception is the finding: the suite reports it as a crash
            row.detail = _clip(f"{type(exc).__name__}: {exc}", 500)
    row.model_calls = endpoint.calls
    row.seconds = round(time.perf_counter() - started, 3)
    seen = _seen(history)
    row.failure_codes = sorted(seen.codes)
    row.first_codes = sorted(seen.first)
    row.missed_expected = [c for c in scenario.expected_codes if c not in seen.first]
    row.reply_errors = seen.errors
    row.failures = seen.failures[:8]
    if brief is None:
        row.detail = row.detail or "no brief"
        return row
    d = brief.drafter
    row.drafter = "offline (fallback)" if d.fallback else d.name + (" (repaired)" if d.repaired else "")
    row.drafter_model_calls = d.model_calls
    if script.protocol_errors:
        row.detail = "the agent's request was not a structured chat.completions call: " + "; ".join(
            sorted(set(script.protocol_errors))
        )
        return row
    accepted = _normal(history[-1].get("draft")) if history else None
    faithful = [_normal(f) for f in scenario.faithful]
    if scenario.control:
        ok = (
            d.name == "model"
            and not d.repaired
            and not d.fallback
            and d.model_calls == 1
            and row.model_calls == 1
            and accepted == faithful[0]
            and brief.verification.passed
        )
        row.outcome = "accepted" if ok else "rejected"
        if not ok:
            row.detail = _clip(
                f"drafter {row.drafter}, {d.model_calls} model calls ({row.model_calls} requests)"
                + (f", fell back: {d.fallback_reason}" if d.fallback_reason else "")
                + ("; first reply: " + " | ".join(seen.failures) if seen.failures else ""),
                2000,
            )
        return row
    if d.name == "model":
        if accepted is not None and accepted in faithful:
            row.outcome = "blocked"
        else:
            row.outcome = "leaked"
            row.detail = _what_leaked(accepted or {}, _normal(base) or {})
    elif d.fallback:
        row.outcome = "blocked"
    else:
        row.detail = "the offline drafter wrote the brief without a fallback: the model was never asked"
    return row


def _summary(rows: Sequence[ScenarioResult]) -> list[ClassSummary]:
    out = []
    for cls in (*ATTACK_CLASSES, CONTROL):
        mine = [r for r in rows if r.attack_class == cls]
        out.append(
            ClassSummary(
                attack_class=cls,
                scenarios=len(mine),
                blocked=sum(r.outcome in ("blocked", "accepted") for r in mine),
                leaked=sum(r.outcome == "leaked" for r in mine),
                crashed=sum(r.outcome == "crashed" for r in mine),
            )
        )
    return out


def suite_as_of() -> date:
    from tools.config import load_config

    as_of = load_config(PORTFOLIO).as_of
    if as_of is None:
        raise ValueError(f"{PORTFOLIO / 'riskbrief.toml'}: as_of is required")
    return as_of


def load_views(store: Path, as_of: date | None = None) -> dict[str, AccountView]:
    """Ingest the suite's portfolio into `store` (once) and probe each account."""
    from tools import retrieval
    from tools.portfolio import load_portfolio

    as_of = as_of or suite_as_of()
    clock = datetime.combine(as_of, clock_time(9, 0), tzinfo=UTC)
    retrieval.ingest(load_portfolio(PORTFOLIO, snapshot=False), progress=False, store_path=store)
    return {account: _view(account, as_of, store, clock) for account in ACCOUNTS}


def run_adversarial(
    only: Sequence[str] = (), progress: Callable[[ScenarioResult], None] | None = None
) -> AdversarialReport:
    """Every scenario (or those whose id starts with one of `only`), each in its own workspace."""
    started = time.perf_counter()
    as_of = suite_as_of()
    clock = datetime.combine(as_of, clock_time(9, 0), tzinfo=UTC)
    with offline_environment(), tempfile.TemporaryDirectory(prefix="riskbrief-adversarial-", dir=scratch_dir()) as tmp:
        store = Path(tmp) / "chroma"
        views = load_views(store, as_of)
        bases = faithful_drafts(views)
        scenarios = [s for s in build_scenarios(views) if not only or s.id.startswith(tuple(only))]
        rows = []
        for scenario in scenarios:
            row = run_scenario(scenario, bases[scenario.account_id], as_of, store, clock)
            rows.append(row)
            if progress is not None:
                progress(row)
    hostile = [r for r in rows if r.attack_class != CONTROL]
    controls = [r for r in rows if r.attack_class == CONTROL]
    calls = [r.model_calls for r in rows]
    leaked = sum(r.outcome == "leaked" for r in rows)
    crashed = sum(r.outcome == "crashed" for r in rows)
    accepted = sum(r.outcome == "accepted" for r in controls) / len(controls) if controls else 0.0
    return AdversarialReport(
        created_at=datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S+0000"),
        as_of=as_of.isoformat(),
        portfolio=str(PORTFOLIO),
        passed=leaked == 0 and crashed == 0 and bool(controls) and accepted >= 1.0,
        scenarios=len(hostile),
        controls=len(controls),
        blocked=sum(r.outcome == "blocked" for r in hostile),
        leaked=leaked,
        crashed=crashed,
        controls_accepted=round(accepted, 4),
        model_calls=sum(calls),
        calls_per_brief=CallStats(mean=round(sum(calls) / len(calls), 3) if calls else 0.0, max=max(calls, default=0)),
        by_class=_summary(rows),
        seconds=round(time.perf_counter() - started, 2),
        rows=rows,
    )


# ------------------------------------------------------------------------------------------ output

_STYLE = {
    "blocked": "green",
    "accepted": "green",
    "leaked": "bold red",
    "crashed": "bold red",
    "rejected": "bold red",
}


def report_tables(report: AdversarialReport) -> list[Table | str]:
    """The run for people: per scenario, per class, then the verdict line."""
    from rich.markup import escape

    rows = Table(
        title=f"adversarial · {report.scenarios} hostile scenarios + {report.controls} controls "
        f"in {report.seconds:.1f} s",
        title_justify="left",
    )
    for column in ("scenario", "outcome", "calls", "drafter", "codes (first reply → repair)"):
        rows.add_column(column, overflow="fold")
    for r in report.rows:
        later = [c for c in r.failure_codes if c not in r.first_codes]
        codes = ", ".join(r.first_codes) + (f" → {', '.join(later)}" if later else "")
        if r.missed_expected:
            codes += f" [yellow](missed {', '.join(r.missed_expected)})[/yellow]"
        style = _STYLE[r.outcome]
        rows.add_row(r.id, f"[{style}]{r.outcome}[/{style}]", str(r.model_calls), r.drafter, codes)
    classes = Table(title="by class", title_justify="left")
    for column in ("class", "scenarios", "blocked/accepted", "leaked", "crashed"):
        classes.add_column(column, justify="left" if column == "class" else "right")
    for c in report.by_class:
        classes.add_row(c.attack_class, str(c.scenarios), str(c.blocked), str(c.leaked), str(c.crashed))
    out: list[Table | str] = [rows, classes]
    for r in report.failing():
        out.append(f"[bold red]{r.outcome}[/bold red] {r.id}: {escape(r.detail or '')}")
    verdict = "[green]pass[/green]" if report.passed else "[bold red]FAIL[/bold red]"
    out.append(
        f"adversarial {verdict}: {report.leaked} leaked, {report.crashed} crashed, controls accepted "
        f"{report.controls_accepted:.0%} · {report.model_calls} model calls, "
        f"{report.calls_per_brief.mean:.2f} per brief (max {report.calls_per_brief.max})"
    )
    return out


def write_adversarial_report(report: AdversarialReport, folder: Path | None = None) -> Path:
    """`<workspace>/evals/adversarial-<timestamp>.json`."""
    folder = folder or workspace.home() / "evals"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = report.created_at.replace("-", "").replace(":", "").replace("+0000", "Z")
    path = folder / f"adversarial-{stamp}.json"
    path.write_text(report.model_dump_json(indent=2, by_alias=True), encoding="utf-8")
    return path


def main() -> None:  # pragma: no cover - a developer's shortcut: python -m evals.adversarial.run [prefix ...]
    import sys

    from rich.console import Console

    console = Console(highlight=False)
    report = run_adversarial(sys.argv[1:])
    for item in report_tables(report):
        console.print(item)
    raise SystemExit(0 if report.passed else 1)


if __name__ == "__main__":  # pragma: no cover
    main()
