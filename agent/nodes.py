"""One function per node. Each reads the state and the injected context and returns a partial update."""

from __future__ import annotations

import json
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent import review
from agent.brief import (
    SIGNAL_CATEGORY,
    AccountBlock,
    BriefDraft,
    DrafterInfo,
    RiskBrief,
    account_block,
    assemble_brief,
)
from agent.config import AgentContext, ModelSettings, model_settings
from agent.drafter import draft_offline
from agent.state import State
from tools.config import Config, load_config
from tools.contacts import key_contacts
from tools.errors import DependencyError, InputError
from tools.evidence import EvidenceRecord, Fact, account_evidence, fact_table, text_records
from tools.models import QueueEntry
from tools.portfolio import Portfolio, load_portfolio
from tools.rulebook import Names, Rulebook
from tools.scoring import assess_account
from tools.signals import account_view
from tools.verify import (
    VerificationFailure,
    VerificationReport,
    invalid_draft_report,
    verify_draft,
)

if TYPE_CHECKING:  # the model client (openai, langchain_openai) is imported only when a model drafts
    from agent.llm import ModelReply

# ------------------------------------------------------------------------------------------ helpers


def _portfolio(data_dir: str, as_of: str | None) -> Portfolio:
    """The portfolio as of a date, loaded once per process while its files are unchanged."""
    files = tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(Path(data_dir).glob("*.csv")) if p.is_file()
    )
    return _load_portfolio(data_dir, as_of, files)


@lru_cache(maxsize=4)
def _load_portfolio(data_dir: str, as_of: str | None, files: tuple[tuple[str, int, int], ...]) -> Portfolio:
    # `files` is only part of the cache key: an edited CSV means a fresh load.
    return load_portfolio(Path(data_dir), date.fromisoformat(as_of) if as_of else None)


def _config(state: State) -> Config:
    return load_config(Path(state.data_dir), Path(state.config_file) if state.config_file else None)


def account_records(portfolio: Portfolio, account_id: str) -> dict[str, EvidenceRecord]:
    """The account's text records, as-of filtered, typed (tools.evidence)."""
    return {r.id: r for r in text_records(portfolio, account_id)}


def _text(*parts: Any) -> str:
    return "\n".join(str(p) for p in parts if p not in (None, ""))


def _known_names(portfolio: Portfolio, config: Config) -> list[str]:
    names: set[str] = set(config.competitors)
    columns = {
        "contact_events": "contact_name",
        "emails": "contact_name",
        "notes": "author",
        "surveys": "respondent",
    }
    for table, column in columns.items():
        frame = portfolio.table(table)
        if frame is not None and column in frame.columns:
            names.update(v for v in frame[column].drop_nulls().unique().to_list() if v)
    names.update(v for v in portfolio.accounts["name"].to_list() if v)
    if "csm_owner" in portfolio.accounts.columns:
        names.update(v for v in portfolio.accounts["csm_owner"].drop_nulls().unique().to_list() if v)
    return sorted(names)


def _entry(state: State) -> QueueEntry:
    return QueueEntry.model_validate(state.assessment)


def _evidence(state: State) -> dict[str, EvidenceRecord]:
    return {k: EvidenceRecord.model_validate(v) for k, v in state.evidence.items()}


def _facts(state: State) -> dict[str, Fact]:
    """Every fact prose may reference, rendered by the tools (tools.evidence.fact_table)."""
    account = dict(state.account)
    return fact_table(
        account, _entry(state).active_signals, _evidence(state).values(), date.fromisoformat(str(state.as_of))
    )


def _rulebook(state: State) -> Rulebook:
    return Rulebook(_evidence(state), date.fromisoformat(str(state.as_of)), _config(state).cause_recency_days)


def _people(state: State) -> list[str]:
    """The portfolio's people and companies: redacted from prompts when names are redacted."""
    return _known_names(_portfolio(state.data_dir, state.as_of), _config(state))


def _names(state: State) -> Names:
    # From the (cached) portfolio rather than the state: a large portfolio's names would bloat checkpoints.
    return Names.of(_known_names(_portfolio(state.data_dir, state.as_of), _config(state)))


def _reply_update(info: DrafterInfo, reply: ModelReply, *, repair: bool) -> dict[str, Any]:
    info = info.model_copy()
    info.model_calls += 1
    info.input_tokens += reply.input_tokens
    info.output_tokens += reply.output_tokens
    info.prompt_version = reply.prompt_version
    info.repaired = info.repaired or repair
    return {
        "draft": reply.draft.model_dump(mode="json") if reply.draft else None,
        "draft_error": None if reply.draft else {"kind": "invalid", "message": reply.error or "no draft"},
        "raw_draft": reply.raw,
        "drafter": info.model_dump(mode="json"),
        "verification": None
        if reply.draft
        else invalid_draft_report(reply.error or "no draft").model_dump(mode="json"),
    }


RECENT_NOTE_DAYS = 90
RECENT_NOTE_LIMIT = 8


def _retrieve(state: State, context: AgentContext, queries: list[str], records: dict[str, EvidenceRecord]) -> list[Any]:
    """Search the store for this account. First, unless a finished `riskbrief ingest` of these files
    vouches for the store, embed the account's own text the store lacks (all of it on a fresh workspace):
    a brief waits seconds for its account, never for the whole portfolio, whose other accounts are left
    to `riskbrief ingest`. Only hits that are records of this portfolio count: a store last built from
    another portfolio can't slip foreign text in."""
    from tools import retrieval  # imported here: chromadb is slow to load and a resumed review never needs it

    store_path = Path(context.store_path) if context.store_path else None
    portfolio = _portfolio(state.data_dir, state.as_of)
    as_of = date.fromisoformat(str(state.as_of))
    if not retrieval.store_complete(portfolio, store_path=store_path):
        # The portfolio as of the run's date: its rows read as they do in a full load, and later rows
        # are never searched by this brief.
        retrieval.ingest_account(portfolio, state.account_id, progress=context.ingest_progress, store_path=store_path)
    if not queries:
        return []
    found = retrieval.search_many(
        state.account_id,
        queries,
        as_of=as_of,
        k=context.retrieval_k,
        portfolio=portfolio,
        store_path=store_path,
        ensure_indexed=False,
    )
    return [h for hits in found for h in hits if h.account_id == state.account_id and h.id in records]


def _thread_id(runtime: Runtime[AgentContext]) -> str:
    info = runtime.execution_info
    thread = info.thread_id if info is not None else None
    if not thread:
        raise InputError("the review step needs a thread id (run the graph with a checkpointer and thread_id)")
    return str(thread)


# -------------------------------------------------------------------------------------------- nodes


def collect_account(state: State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Load the portfolio as of the run's date, check the account exists, gather its text records."""
    config = _config(state)
    try:
        as_of = date.fromisoformat(state.as_of) if state.as_of else (config.as_of or runtime.context.now().date())
    except ValueError:
        raise InputError(f"--as-of: '{state.as_of}' is not a date (expected YYYY-MM-DD)") from None
    portfolio = _portfolio(state.data_dir, as_of.isoformat())
    account = portfolio.account(state.account_id)
    # The account's own rows read the same as the whole portfolio's, without a pass over every account.
    records = account_records(portfolio.only(state.account_id), state.account_id)
    return {
        "as_of": as_of.isoformat(),
        "profile": {"segment": account.segment, "goals": account.goals},
        "records": {k: v.model_dump(mode="json") for k, v in records.items()},
    }


def detect_signals(state: State) -> dict[str, Any]:
    """Run the signal engine for this account (deterministic tools, never the model): over the account's
    own rows and its segment's benchmarks (tools.signals.account_view), the same signals as the whole
    portfolio's detection gives it."""
    as_of = date.fromisoformat(str(state.as_of))
    config = _config(state)
    view = account_view(_portfolio(state.data_dir, state.as_of), config, as_of, state.account_id)
    entry = assess_account(view, config, as_of, state.account_id)
    block = account_block(entry, as_of, state.profile.get("segment"), state.profile.get("goals"))
    return {"assessment": entry.model_dump(mode="json"), "account": block.model_dump(mode="json")}


def retrieve_context(state: State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Build the evidence pool: signal evidence plus notes and tickets retrieved for this account only."""
    entry = _entry(state)
    records = {k: EvidenceRecord.model_validate(v) for k, v in state.records.items()}
    typed = account_evidence(
        _portfolio(state.data_dir, state.as_of).only(state.account_id), state.account_id, entry.active_signals
    )
    pool: dict[str, EvidenceRecord] = {
        item.id: typed[item.id] for signal in entry.active_signals for item in signal.evidence if item.id in typed
    }
    # Objections and survey comments are few and state causes outright: always in the pool.
    pool.update({k: r for k, r in records.items() if r.kind in ("opportunity", "survey") and k not in pool})
    # The CSM's latest notes are read whatever the queries find: a review starts from them.
    since = (date.fromisoformat(str(state.as_of)) - timedelta(days=RECENT_NOTE_DAYS)).isoformat()
    recent_notes = sorted(
        (r for r in records.values() if r.kind == "note" and r.date and r.date >= since),
        key=lambda r: (r.date or "", r.id),
        reverse=True,
    )[:RECENT_NOTE_LIMIT]
    pool.update({r.id: r for r in recent_notes if r.id not in pool})
    if records:
        families = {"general"} | {
            SIGNAL_CATEGORY[s.signal] for s in entry.active_signals if s.signal in SIGNAL_CATEGORY
        }
        from tools.retrieval import BRIEF_QUERIES

        queries = [BRIEF_QUERIES[f] for f in sorted(families) if f in BRIEF_QUERIES]
        for hit in _retrieve(state, runtime.context, queries, records):
            pool.setdefault(hit.id, records[hit.id])
    return {"evidence": {k: v.model_dump(mode="json") for k, v in pool.items()}}


def _model(state: State, runtime: Runtime[AgentContext]) -> ModelSettings | None:
    """The context's model. Under LangGraph Server (`langgraph dev`), a run whose context names none drafts
    as `riskbrief brief` would on the server's machine: with the model of its environment and riskbrief.toml
    (none, or RISKBRIEF_DRAFTER=offline: the offline drafter), so a key never travels in a request."""
    model = context_model(runtime.context.model)
    if model is not None or runtime.server_info is None:
        return model
    return model_settings(_config(state))


def context_model(value: object) -> ModelSettings | None:
    """The run context's `model`: settings as given, or an object (a LangGraph Server run's context arrives
    as JSON) checked field by field. The key is never taken from a request: it comes from the environment
    of the process that drafts (OPENAI_API_KEY)."""
    import dataclasses
    import os

    from pydantic import TypeAdapter, ValidationError

    if value is None or isinstance(value, ModelSettings):
        return value
    if not isinstance(value, dict):
        raise InputError(f"context.model: expected an object of model settings, not {type(value).__name__}")
    allowed = [f.name for f in dataclasses.fields(ModelSettings) if f.name != "api_key"]
    unknown = [k for k in value if k not in allowed]
    if unknown:
        hint = " (the key comes from the server's OPENAI_API_KEY)" if unknown[0] == "api_key" else ""
        raise InputError(f"context.model: unknown field '{unknown[0]}'{hint}; fields: {', '.join(allowed)}")
    try:
        settings = TypeAdapter(ModelSettings).validate_python(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "model"
        raise InputError(f"context.model.{where}: {first['msg']}") from None
    return dataclasses.replace(settings, api_key=os.environ.get("OPENAI_API_KEY"))


def draft_brief(state: State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Draft with the configured model, or offline when none is configured."""
    settings = _model(state, runtime)
    if settings is None:
        draft = draft_offline(
            AccountBlock.model_validate(state.account), _entry(state), _evidence(state), rulebook=_rulebook(state)
        )
        return {"draft": draft.model_dump(mode="json"), "drafter": DrafterInfo(name="offline").model_dump()}
    info = DrafterInfo(name="model", model=settings.model)
    from agent.llm import draft_with_model

    try:
        reply = draft_with_model(
            settings, _facts(state), _entry(state).active_signals, _evidence(state), names=_people(state)
        )
    except DependencyError as exc:
        return {
            "drafter": info.model_dump(mode="json"),
            "draft": None,
            "draft_error": {"kind": "unavailable", "message": str(exc)},
        }
    return _reply_update(info, reply, repair=False)


def verify_brief(state: State) -> dict[str, Any]:
    """Check the draft against the evidence pool and the tool facts (tools.verify)."""
    if state.draft is None:
        message = state.draft_error["message"] if state.draft_error else "no draft"
        return {"verification": invalid_draft_report(message).model_dump(mode="json")}
    report = verify_draft(
        state.draft,
        rulebook=_rulebook(state),
        facts=_facts(state),
        names=_names(state),
        signals=_entry(state).active_signals,
    )
    return {"verification": report.model_dump(mode="json")}


def repair_brief(state: State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Give the model its one repair pass, listing what failed."""
    settings = _model(state, runtime)
    assert settings is not None  # routed here only on the model path
    report = VerificationReport.model_validate(state.verification or {"passed": False})
    failures = report.failures or [
        VerificationFailure(code="invalid_draft", where="draft", message=(state.draft_error or {}).get("message", ""))
    ]
    previous = json.dumps(state.draft) if state.draft else state.raw_draft
    from agent.llm import repair_with_model

    try:
        reply = repair_with_model(
            settings,
            _facts(state),
            _entry(state).active_signals,
            _evidence(state),
            failures,
            previous,
            names=_people(state),
        )
    except DependencyError as exc:
        return {"repair_attempted": True, "draft": None, "draft_error": {"kind": "unavailable", "message": str(exc)}}
    return {**_reply_update(DrafterInfo.model_validate(state.drafter), reply, repair=True), "repair_attempted": True}


def fallback_draft(state: State) -> dict[str, Any]:
    """Draft offline after the model was unavailable or failed verification twice; record why."""
    previous = DrafterInfo.model_validate(state.drafter or {})
    if state.draft_error and state.draft_error.get("kind") == "unavailable":
        reason = state.draft_error["message"]
    elif state.draft_error:
        reason = "the model's reply could not be used after one repair: " + str(state.draft_error.get("message"))
    else:
        report = VerificationReport.model_validate(state.verification or {"passed": False})
        reason = "the model's draft failed verification after one repair (" + ", ".join(report.codes()) + ")"
    draft = draft_offline(
        AccountBlock.model_validate(state.account), _entry(state), _evidence(state), rulebook=_rulebook(state)
    )
    info = previous.model_copy(update={"name": "offline", "fallback": True, "fallback_reason": reason})
    return {"draft": draft.model_dump(mode="json"), "draft_error": None, "drafter": info.model_dump(mode="json")}


def assemble_brief_node(state: State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Put the brief together: tool facts, signals and key contacts copied in, the verified draft on top."""
    as_of = date.fromisoformat(str(state.as_of))
    brief = assemble_brief(
        entry=_entry(state),
        account=AccountBlock.model_validate(state.account),
        draft=BriefDraft.model_validate(state.draft),
        evidence=_evidence(state),
        drafter=DrafterInfo.model_validate(state.drafter),
        report=VerificationReport.model_validate(state.verification),
        facts=_facts(state),
        contacts=key_contacts(_portfolio(state.data_dir, state.as_of), state.account_id, as_of),
        today=runtime.context.now().date(),
    )
    return {"brief": brief.model_dump(mode="json")}


def request_review(state: State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Pause for a person. The run resumes, in any process, with `Command(resume=...)`: a `ReviewDecision`,
    or a LangChain human-in-the-loop response (accept / edit / respond / ignore; see
    `agent.review.resume_decision`). A resume that fails validation (`agent.review.validate_decision`: edits,
    option, who may decide, stop reasons) interrupts again with the error instead of failing the thread."""
    from contextlib import suppress

    from pydantic import ValidationError

    review_id = _thread_id(runtime)
    # Under `langgraph dev` nothing else picked the workspace: riskbrief.toml's `[store] home` (or
    # RISKBRIEF_HOME) does, so the review lands where `review list` and the inbox look.
    with suppress(InputError):  # the config was read when the brief was drafted: a later change can't stop this
        _config(state)
    brief = RiskBrief.model_validate(state.brief)
    # Registering is idempotent, so re-running this node on resume is harmless.
    review.register_review(review_id, brief, runtime.context.now().isoformat(), evidence=state.evidence)
    taken = review.claimed_decision(review_id)  # decided in the store (`review decide`, the inbox): that holds
    if taken is not None:
        return {"decision": taken.model_dump(mode="json")}
    evidence = _evidence(state)
    error: str | None = None
    while True:  # each refused answer is one more interrupt; a replay refuses the same answers again
        answer = interrupt(review.interrupt_payload(review_id, brief, error))
        try:
            decision = review.resume_decision(answer, brief, runtime.context.now().isoformat())
            review.validate_decision(brief, decision, evidence=evidence, source="edit")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            error = (f"{where}: " if where else "") + str(first["msg"]).removeprefix("Value error, ")
            continue
        except InputError as exc:
            error = str(exc)
            continue
        return {"decision": decision.model_dump(mode="json")}


def apply_decision(state: State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Act on an approval only, once per review; a rejection records its reason and nothing else."""
    review_id = _thread_id(runtime)
    decision = review.ReviewDecision.model_validate(state.decision)
    brief = RiskBrief.model_validate(state.brief)
    update: dict[str, Any] = {}
    if decision.edits:
        edited, fields = review.apply_edits(brief, decision.edits)
        review.record_edits(review_id, brief, edited, fields, decision)
        brief = edited
        update["brief"] = brief.model_dump(mode="json")
    applied = review.apply_approved(review_id, brief, decision) if decision.approved else []
    return {**update, "applied": applied}


def log_event(state: State, runtime: Runtime[AgentContext]) -> dict[str, Any]:
    """Log the measurement event (account, signals, risk level, reviewer, decision, action, triage)."""
    decision = review.ReviewDecision.model_validate(state.decision)
    brief = RiskBrief.model_validate(state.brief)
    review_id = _thread_id(runtime)
    review.log_event(review_id, brief, decision, state.applied, runtime.context.now().isoformat())
    # A review claimed by `review decide` stays 'deciding' until that decide has this step's checkpoint on disk
    # and marks it (a crash before leaves it 'deciding' and a retry finishes it); one resumed from elsewhere
    # (e.g. Studio) was claimed by nobody and is marked decided here.
    review.finish_unclaimed(review_id, decision)
    return {"event_logged": True}
