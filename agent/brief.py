"""The risk brief (spec/brief.md): the draft a drafter writes, the brief a reviewer sees, and how one
becomes the other.

Two models on purpose. `BriefDraft` is the only thing a model (or the offline drafter) writes: prose,
the cause classification and option choices, each citing evidence ids. `RiskBrief` is the contract
(`brief --format json`): account facts, scores and signals are copied from the tools, never produced
by a model; owners and timings come from the options catalogue.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, Field

from tools.contacts import KeyContact
from tools.evidence import EvidenceRecord, Fact, Span, describe, short_id
from tools.models import ChurnFactor, QueueEntry, RiskLevel, Signal
from tools.registry import REGISTRY, RISK_CATEGORIES, RiskCategory, limits_in_force
from tools.rulebook import (
    ACTION_CATALOGUE,
    ActionKind,
    CatalogueEntry,
    approval_needed,
    render_refs,
)
from tools.verify import VerificationReport

__all__ = ["ACTION_CATALOGUE", "RISK_CATEGORIES", "ActionKind", "CatalogueEntry", "RiskCategory"]

# Preferred options per category, best first; the drafter and the prompt both read this.
OPTIONS_BY_CATEGORY: dict[str, tuple[str, ...]] = {
    "adoption/value": ("usage_review", "enablement_session", "success_plan_refresh"),
    "relationship/stakeholder": ("champion_check_in", "stakeholder_mapping", "executive_outreach"),
    "support/product": ("support_escalation_review", "product_feedback_loop", "champion_check_in"),
    "commercial/financial": ("billing_follow_up", "renewal_strategy_call", "commercial_review"),
    "competitive": ("competitive_response", "champion_check_in", "executive_outreach"),
    "renewal/contract": ("renewal_strategy_call", "success_plan_refresh", "commercial_review"),
}

# Signal id -> the risk category it points at (the registry is the one source).
SIGNAL_CATEGORY: dict[str, RiskCategory] = {sid: spec.risk_category for sid, spec in REGISTRY.items()}

# ----------------------------------------------------------------------------- what a drafter writes
#
# The model selects, classifies, orders and explains; the tools state the facts. Nothing here can carry
# a number, a date, a name, a quote or an id of the model's own: prose references tool facts as `{key}`,
# a confirmed cause is a span chosen from the evidence, an option is a catalogue kind. Sizes are capped.

SUMMARY_CHARS = 600
HYPOTHESIS_CHARS = 300
CONFIRM_TEST_CHARS = 300
ASSUMPTION_CHARS = 240


class ConfirmedCauseDraft(BaseModel):
    """A cause the customer or a record states: a span chosen from the evidence, never a restatement."""

    span_id: str = Field(
        max_length=200,
        description="id of the evidence span that states the cause, e.g. note:N-3#s1 (a customer span only)",
    )
    same_in: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="ids of other spans saying the same words (repeated tickets, say); usually empty",
    )
    category: RiskCategory = Field(description="what the cause is about")


class SuspectedCauseDraft(BaseModel):
    """A cause inferred from patterns or guesses: a hedged hypothesis and how to settle it."""

    hypothesis: str = Field(
        max_length=HYPOTHESIS_CHARS,
        description="one hedged sentence (may, might, could); facts only as {fact} references",
    )
    evidence_ids: list[str] = Field(min_length=1, max_length=6, description="ids of the evidence that suggests it")
    lead_span_id: str | None = Field(
        default=None, max_length=200, description="the span that suggests it most directly (e.g. a CSM's guess)"
    )
    what_would_confirm: str = Field(
        min_length=1, max_length=CONFIRM_TEST_CHARS, description="what would confirm or rule it out"
    )
    category: RiskCategory


class OptionChoice(BaseModel):
    """A next-action option: a catalogue kind and the signals it answers. Its wording, owner, timing and
    approver come from the catalogue."""

    kind: ActionKind = Field(description="one of the allowed option kinds")
    signals: list[str] = Field(default_factory=list, max_length=3, description="ids of the active signals it answers")


class BriefDraft(BaseModel):
    """What a drafter produces (the model or the offline drafter): choices and short explanations.

    Account facts, numbers, signals, quotes and option wording are not here: the brief takes them from the tools.
    """

    summary: str = Field(
        max_length=SUMMARY_CHARS,
        description="2-3 sentences on why the account is at risk, anchored to the customer's goals; "
        "facts only as {fact} references",
    )
    summary_evidence_ids: list[str] = Field(default_factory=list, max_length=12)
    risk_category: RiskCategory = Field(description="the most likely risk category; it needs a signal behind it")
    confirmed_causes: list[ConfirmedCauseDraft] = Field(default_factory=list, max_length=8)
    suspected_causes: list[SuspectedCauseDraft] = Field(default_factory=list, max_length=6)
    next_action_options: list[OptionChoice] = Field(max_length=3, description="2 or 3 options from the catalogue")
    assumptions: list[str] = Field(
        default_factory=list, max_length=4, description="assumptions nobody has verified; facts only as {fact}"
    )


# ------------------------------------------------------------------------------------ the brief itself


class AccountBlock(BaseModel):
    """Account facts, copied from the portfolio and the signal engine."""

    account_id: str
    name: str
    arr: float
    days_to_renewal: int
    renewal_date: str | None = None
    health_score: float | None = None
    csm_owner: str | None = None
    segment: str | None = None
    goals: str | None = None
    as_of: str
    churn_probability: float | None = None
    """P(churn) from the calibrated model, when one is in force (tools.churn_model)."""
    churn_horizon_days: int | None = None
    churn_factors: list[ChurnFactor] | None = None
    """The top factors behind churn_probability, largest push first."""


class Cause(BaseModel):
    """A confirmed or suspected cause with the evidence behind it, rendered by the tools."""

    cause: str
    evidence_ids: list[str] = Field(min_length=1)
    what_would_confirm: str | None = None
    category: RiskCategory | None = None
    quote: str | None = Field(default=None, description="the span's own words, verbatim")
    span_id: str | None = None
    speaker: str | None = Field(default=None, description="who said the quoted words, as the record tells")


class Flag(BaseModel):
    """Something the reviewer must not miss."""

    kind: Literal["stakeholder_silence", "unresolved_support", "shared_root_cause", "ignored_instruction"]
    detail: str
    signals: list[str] = Field(default_factory=list)
    evidence_ids: list[str] = Field(default_factory=list)
    check: str | None = Field(default=None, description="how a reviewer can settle it")


class Assumption(BaseModel):
    """An assumption the brief rests on; an unverified one stops the brief from being ready."""

    statement: str
    verified: bool = False
    how_to_verify: str | None = None


class ActionOption(BaseModel):
    """A recommended next-action option (options only: nothing happens before approval)."""

    number: int
    kind: ActionKind
    title: str
    why: str
    owner: str
    timing: str
    customer_facing: bool
    affects_budget: bool
    evidence_ids: list[str] = Field(default_factory=list)
    needs_approval_from: str | None = None


class ReviewTask(BaseModel):
    """The CSM review task created once the brief is approved."""

    title: str
    assignee: str
    reviewer_role: Literal["csm", "cs_manager"]
    due: str = Field(description="when the review is due: from the drafting day (never in the past), by urgency")
    next_review: str | None = Field(default=None, description="when to look at the account again, by risk level")
    checklist: list[str]


class EscalationStep(BaseModel):
    """Who to go to, in order, and why."""

    role: str
    who: str | None = None
    why: str


class MeasurementEvent(BaseModel):
    """The event logged when the review is decided; outcome fields are filled in later."""

    event: Literal["risk_review"] = "risk_review"
    account_id: str
    risk_level: RiskLevel
    signals: list[str]
    logged_fields: list[str] = Field(
        default_factory=lambda: [
            "account_id",
            "signals",
            "risk_level",
            "reviewer",
            "decision",
            "triage",
            "action_taken",
            "created_at",
            "decided_at",
        ]
    )
    outcome_fields: list[str] = Field(
        default_factory=lambda: ["responded", "saved", "churned", "false_positive", "unresolved_reason"]
    )


class DrafterInfo(BaseModel):
    """Which drafter wrote the prose, whether a fallback happened and why, and what the model cost."""

    name: Literal["offline", "model"] = "offline"
    model: str | None = None
    prompt_version: str | None = None
    fallback: bool = False
    fallback_reason: str | None = None
    repaired: bool = False
    model_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


class IgnoredText(BaseModel):
    """Instruction-like text found in the evidence and ignored: it is data, never an instruction."""

    evidence_id: str
    text: str


class RiskBrief(BaseModel):
    """One account's risk brief: the JSON contract of `riskbrief brief --format json`."""

    schema_version: Literal[1] = 1
    account: AccountBlock
    key_contacts: list[KeyContact] = Field(
        default_factory=list, description="champions and sponsors, and when we last heard from each"
    )
    risk_level: RiskLevel
    risk_score: float
    base_score: float
    temporal_adjustment: float
    cluster_amplification: bool
    cluster_signals: list[str]
    handoff_urgency: str
    routed_to: list[str]
    risk_category: RiskCategory
    summary: str
    summary_evidence_ids: list[str]
    signals: list[Signal]
    confirmed_causes: list[Cause]
    suspected_causes: list[Cause]
    flags: list[Flag]
    ignored_instructions: list[IgnoredText]
    assumptions: list[Assumption]
    missing_data: list[str]
    next_action_options: list[ActionOption]
    review_task: ReviewTask
    escalation_path: list[EscalationStep] = Field(default_factory=list)
    measurement_event: MeasurementEvent
    limits: list[str]
    status: Literal["ready", "not ready"]
    stop_reasons: list[str]
    drafter: DrafterInfo
    verification: VerificationReport
    evidence: list[EvidenceRecord] = Field(description="the evidence this brief cites, quoted in full")


# Fields a reviewer may change with `review decide --edit FILE`; the rest come from the tools.
EDITABLE_FIELDS = (
    "summary",
    "risk_category",
    "confirmed_causes",
    "suspected_causes",
    "assumptions",
    "next_action_options",
    "flags",
)


# ------------------------------------------------------------------------------------------ assembly

_SILENCE = ("stakeholder_silence", "no_reply_streak", "declined_meetings", "champion_departure", "sponsor_change")
_SUPPORT = ("unresolved_support", "p1_escalation")
_USAGE = ("usage_sudden_drop", "usage_gradual_decline", "adoption_plateau")
_DUE_DAYS = {"immediate": 0, "same_day": 0, "next_business_day": 1, "weekly": 7}
# How soon to look at the account again after this review, by risk level.
_REVIEW_CADENCE_DAYS = {"critical": 7, "high": 14, "medium": 30, "low": 90}


def _business_days_after(day: date, n: int) -> date:
    while n > 0 or day.weekday() >= 5:
        day += timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def escalation_path(
    account: AccountBlock, entry: QueueEntry, options: list[ActionOption], escalate: bool
) -> list[EscalationStep]:
    """The CSM owns the review; a manager takes escalations; each option's named approver approves it."""
    steps = [EscalationStep(role="csm", who=account.csm_owner, why="owns the account and this review")]
    if escalate:
        why = "critical risk" if entry.risk_level == "critical" else "the champion left"
        steps.append(EscalationStep(role="cs_manager", why=f"reviews this brief: {why}"))
    for option in options:
        if option.needs_approval_from and option.needs_approval_from not in {s.role for s in steps}:
            steps.append(
                EscalationStep(role=option.needs_approval_from, why=f"approves option {option.number} ({option.kind})")
            )
    return steps


def account_block(entry: QueueEntry, as_of: date, segment: str | None, goals: str | None) -> AccountBlock:
    return AccountBlock(
        account_id=entry.account_id,
        name=entry.account_name,
        arr=entry.arr,
        days_to_renewal=entry.days_to_renewal,
        renewal_date=entry.renewal_date,
        health_score=entry.health_score,
        csm_owner=entry.csm_owner,
        segment=segment or entry.segment,
        goals=goals,
        as_of=as_of.isoformat(),
        churn_probability=entry.churn_probability,
        churn_horizon_days=entry.churn_horizon_days,
        churn_factors=entry.churn_factors,
    )


def category_scores(signals: list[Signal]) -> dict[str, int]:
    """Severity summed per risk category; the drafter and evals rank categories by it."""
    scores: dict[str, int] = dict.fromkeys(RISK_CATEGORIES, 0)
    for s in signals:
        category = SIGNAL_CATEGORY.get(s.signal)
        if category:
            scores[category] += s.severity
    return scores


def _days_apart(a: str, b: str) -> int:
    return abs((date.fromisoformat(a[:10]) - date.fromisoformat(b[:10])).days)


def detect_flags(signals: list[Signal], evidence: dict[str, EvidenceRecord]) -> list[Flag]:
    """Stakeholder silence, unresolved support, signals that may share a root cause, injected text."""
    by_id = {s.signal: s for s in signals}
    flags: list[Flag] = []
    silent = [by_id[s] for s in _SILENCE if s in by_id]
    if silent:
        flags.append(
            Flag(
                kind="stakeholder_silence",
                detail="; ".join(s.summary or s.signal for s in silent),
                signals=[s.signal for s in silent],
                evidence_ids=[e.id for s in silent for e in s.evidence][:6],
            )
        )
    support = [by_id[s] for s in _SUPPORT if s in by_id]
    if support:
        flags.append(
            Flag(
                kind="unresolved_support",
                detail="; ".join(s.summary or s.signal for s in support),
                signals=[s.signal for s in support],
                evidence_ids=[e.id for s in support for e in s.evidence][:6],
            )
        )
    usage = [by_id[s] for s in _USAGE if s in by_id]
    tickets = [by_id[s] for s in ("support_volume_spike", "p1_escalation") if s in by_id]
    pairs = [(u, t) for u in usage for t in tickets if _days_apart(u.first_detected, t.first_detected) <= 14]
    if pairs:
        names = sorted({p.signal for pair in pairs for p in pair})
        flags.append(
            Flag(
                kind="shared_root_cause",
                detail=(
                    f"{' and '.join(names)} started within 14 days of each other: one problem (an outage, a "
                    "broken release) may drive both, so clustering may overstate severity"
                ),
                signals=names,
                check="check whether they started with the same incident (release notes, outage log, ticket subjects)",
            )
        )
    relationship = [s for s in silent if s.signal in ("stakeholder_silence", "no_reply_streak", "declined_meetings")]
    if len(relationship) >= 2:
        flags.append(
            Flag(
                kind="shared_root_cause",
                detail=(
                    f"{' and '.join(s.signal for s in relationship)} may all reflect one disengaged contact, "
                    "not separate problems"
                ),
                signals=[s.signal for s in relationship],
                check="check who declined and who went quiet: one contact or several",
            )
        )
    for record in evidence.values():
        injected: list[str] = []
        for span in record.spans:  # flagged when the record was built (tools.evidence)
            if span.injected and not any(span.text in t for t in injected):
                injected.append(span.text)
        if injected:
            flags.append(
                Flag(
                    kind="ignored_instruction",
                    detail=f"instruction-like text in {record.id} was ignored: "
                    + " ".join(f'"{t[:160]}"' for t in injected),
                    evidence_ids=[record.id],
                )
            )
    return flags


def _signal_reason(signal: Signal) -> str:
    return f"{signal.signal} (severity {signal.severity}, since {signal.first_detected})"


def _options(draft: BriefDraft, csm_owner: str | None, signals: list[Signal]) -> list[ActionOption]:
    """The chosen catalogue kinds, worded by the catalogue; the reason names the signals they answer."""
    by_id = {s.signal: s for s in signals}
    options = []
    for n, choice in enumerate(draft.next_action_options, start=1):
        entry = ACTION_CATALOGUE[choice.kind]
        answered = [by_id[s] for s in choice.signals if s in by_id]
        why = (
            "Answers " + "; ".join(_signal_reason(s) for s in answered) + "."
            if answered
            else "No active signal: keep watching the account."
        )
        options.append(
            ActionOption(
                number=n,
                kind=choice.kind,
                title=entry.title,
                why=why,
                owner=csm_owner if entry.owner == "csm" and csm_owner else entry.owner,
                timing=entry.timing,
                customer_facing=entry.customer_facing,
                affects_budget=entry.affects_budget,
                evidence_ids=[e.id for s in answered for e in s.evidence[:3]],
                needs_approval_from=approval_needed(choice.kind),
            )
        )
    return options


def who_says(record: EvidenceRecord, span: Span) -> str:
    """Who said a span's words, as the record tells: the tools attribute quotes, never the model."""
    source = describe(record)
    if span.voice == "customer":
        if record.kind == "note":
            return f"The customer, as recorded in {source}"
        if span.speaker:
            return f"{span.speaker}, in {source}"
        return f"The customer, in {source}"
    if span.voice == "csm":
        return f"The CSM ({record.author or 'unknown'}), in {source}" if record.kind == "note" else f"In {source}"
    return f"Another party, in {source}"


def render_confirmed(draft: ConfirmedCauseDraft, evidence: dict[str, EvidenceRecord]) -> Cause | None:
    record = evidence.get(draft.span_id.rsplit("#s", 1)[0])
    span = record.span(draft.span_id) if record else None
    if record is None or span is None:
        return None
    also = [i.rsplit("#s", 1)[0] for i in draft.same_in if i.rsplit("#s", 1)[0] in evidence]
    ids = list(dict.fromkeys([record.id, *also]))
    more = f" (also in {', '.join(short_id(i) for i in ids[1:])})" if len(ids) > 1 else ""
    return Cause(
        cause=f'{who_says(record, span)}: "{span.text}"{more}',
        evidence_ids=ids,
        category=draft.category,
        quote=span.text,
        span_id=span.id,
        speaker=span.speaker or ("customer" if span.voice == "customer" else None),
    )


def render_suspected(draft: SuspectedCauseDraft, evidence: dict[str, EvidenceRecord], facts: dict[str, Fact]) -> Cause:
    text = render_refs(draft.hypothesis, facts)
    quote = speaker = None
    if draft.lead_span_id:
        record = evidence.get(draft.lead_span_id.rsplit("#s", 1)[0])
        span = record.span(draft.lead_span_id) if record else None
        if record is not None and span is not None:
            text += f' Lead: {who_says(record, span)}: "{span.text}"'
            quote, speaker = span.text, span.speaker
    return Cause(
        cause=text,
        evidence_ids=list(dict.fromkeys(draft.evidence_ids)),
        what_would_confirm=render_refs(draft.what_would_confirm, facts),
        category=draft.category,
        quote=quote,
        span_id=draft.lead_span_id,
        speaker=speaker,
    )


def summary_header(account: AccountBlock, entry: QueueEntry, category: str) -> str:
    """The summary's first sentence: the tools' level, score, category and renewal, never the model's."""
    return (
        f"{account.name} is at {entry.risk_level} risk (score {entry.risk_score:g}) with "
        f"{len(entry.active_signals)} active signals, most likely {category}; renewal in "
        f"{account.days_to_renewal} days."
    )


def stop_reasons(
    missing_data: list[str], assumptions: list[Assumption], options: list[ActionOption], report: VerificationReport
) -> list[str]:
    """The stop rules of spec/brief.md: any reason makes the brief "not ready"."""
    reasons = [f"missing data: {m}" for m in missing_data]
    reasons += [f"unverified assumption: {a.statement}" for a in assumptions if not a.verified]
    for option in options:
        if option.needs_approval_from:
            effect = "budget" if option.affects_budget else "the customer"
            reasons.append(
                f"option {option.number} ({option.kind}) affects {effect} and needs "
                f"{option.needs_approval_from}'s approval"
            )
    if not report.passed:
        reasons.append("verification failed: " + ", ".join(report.codes()))
    return reasons


def assemble_brief(
    *,
    entry: QueueEntry,
    account: AccountBlock,
    draft: BriefDraft,
    evidence: dict[str, EvidenceRecord],
    drafter: DrafterInfo,
    report: VerificationReport,
    facts: dict[str, Fact] | None = None,
    extra_assumptions: list[Assumption] | None = None,
    contacts: list[KeyContact] | None = None,
    today: date | None = None,
) -> RiskBrief:
    """Build the brief: tool facts and signals copied in, the draft's prose and choices mapped on top."""
    flags = detect_flags(entry.active_signals, evidence)
    facts = facts or {}
    assumptions = [Assumption(statement=render_refs(a, facts)) for a in draft.assumptions] + list(
        extra_assumptions or []
    )
    for flag in flags:
        if flag.kind == "shared_root_cause":
            assumptions.append(
                Assumption(
                    statement=f"{' and '.join(flag.signals)} are treated as separate signals when clustering",
                    how_to_verify=flag.check,
                )
            )
    options = _options(draft, account.csm_owner, entry.active_signals)
    confirmed = [c for c in (render_confirmed(d, evidence) for d in draft.confirmed_causes) if c is not None]
    suspected = [render_suspected(d, evidence, facts) for d in draft.suspected_causes if d.evidence_ids]
    missing = list(entry.not_evaluated)
    as_of = date.fromisoformat(account.as_of)
    escalation = entry.risk_level == "critical" or "champion_departure" in {s.signal for s in entry.active_signals}
    # Due from the day the brief is drafted (a brief as of a past date is not due in the past).
    start = max(as_of, today or as_of)
    urgency_days = _DUE_DAYS.get(entry.handoff_urgency, 1)
    due = _business_days_after(start, urgency_days) if urgency_days else start
    task = ReviewTask(
        title=f"Review the risk brief for {account.name} ({account.account_id})",
        assignee=account.csm_owner or "unassigned",
        reviewer_role="cs_manager" if escalation else "csm",
        due=due.isoformat(),
        next_review=(due + timedelta(days=_REVIEW_CADENCE_DAYS.get(entry.risk_level, 30))).isoformat(),
        checklist=[
            "Check each signal's evidence",
            "Confirm or rule out the suspected causes",
            "Choose a triage outcome and at most one option",
        ],
    )
    cited = {
        i
        for i in [
            *draft.summary_evidence_ids,
            *(i for c in confirmed + suspected for i in c.evidence_ids),
            *(i for o in options for i in o.evidence_ids),
            *(i for f in flags for i in f.evidence_ids),
        ]
    }
    reasons = stop_reasons(missing, assumptions, options, report)
    return RiskBrief(
        account=account,
        risk_level=entry.risk_level,
        risk_score=entry.risk_score,
        base_score=entry.base_score,
        temporal_adjustment=entry.temporal_adjustment,
        cluster_amplification=entry.cluster_amplification,
        cluster_signals=entry.cluster_signals,
        handoff_urgency=entry.handoff_urgency,
        routed_to=entry.routed_to,
        risk_category=draft.risk_category,
        summary=(summary_header(account, entry, draft.risk_category) + " " + render_refs(draft.summary, facts)).strip(),
        summary_evidence_ids=draft.summary_evidence_ids,
        signals=entry.active_signals,
        confirmed_causes=confirmed,
        suspected_causes=suspected,
        flags=flags,
        ignored_instructions=[
            IgnoredText(evidence_id=f.evidence_ids[0], text=f.detail) for f in flags if f.kind == "ignored_instruction"
        ],
        assumptions=assumptions,
        missing_data=missing,
        next_action_options=options,
        review_task=task,
        escalation_path=escalation_path(account, entry, options, escalation),
        key_contacts=list(contacts or []),
        measurement_event=MeasurementEvent(
            account_id=account.account_id,
            risk_level=entry.risk_level,
            signals=[s.signal for s in entry.active_signals],
        ),
        limits=limits_in_force(
            f"Prioritisation: P(churn) within {entry.churn_horizon_days} days and its factors come from the "
            "calibrated churn model; the rule score orders the queue."
            if entry.churn_horizon_days
            else None
        ),
        status="not ready" if reasons else "ready",
        stop_reasons=reasons,
        drafter=drafter,
        verification=report,
        evidence=[evidence[i] for i in sorted(cited) if i in evidence],
    )


# ------------------------------------------------------------------------------------------ markdown


def _money(value: float) -> str:
    return f"${value / 1000:,.0f}K" if value >= 1000 else f"${value:,.0f}"


def _cites(ids: list[str]) -> str:
    return " [" + ", ".join(ids) + "]" if ids else ""


def to_markdown(brief: RiskBrief) -> str:
    """The brief for people."""
    a = brief.account
    lines = [
        f"# Risk brief: {a.name} ({a.account_id})",
        "",
        f"**{brief.risk_level.upper()}** risk, score {brief.risk_score:g} · category **{brief.risk_category}** · "
        f"status **{brief.status}** · as of {a.as_of}",
        "",
        f"ARR {_money(a.arr)} · renews in {a.days_to_renewal} days"
        + (f" ({a.renewal_date})" if a.renewal_date else "")
        + (f" · health {a.health_score:g}" if a.health_score is not None else " · health unknown")
        + f" · CSM {a.csm_owner or 'unassigned'}",
    ]
    if a.churn_probability is not None:
        from tools.churn_model import describe_factors

        within = f" within {a.churn_horizon_days} days" if a.churn_horizon_days else ""
        why = describe_factors(a.churn_factors)
        line = f"P(churn){within}: {a.churn_probability:.0%} (calibrated model)"
        lines += ["", line + (f" · why: {why}" if why else "")]
    if a.goals:
        lines += ["", f"Customer goals: {a.goals}"]
    if brief.key_contacts:
        lines += ["", "## Key contacts"]
        for k in brief.key_contacts:
            heard = f"last heard {k.last_heard} ({k.days_silent} days ago)" if k.last_heard else "never heard from"
            title = f", {k.title}" if k.title else ""
            lines.append(f"- **{k.name}** ({k.role}{title}) · {k.status} since {k.since} · {heard}")
    lines += ["", "## Summary", brief.summary + _cites(brief.summary_evidence_ids), "", "## Signals"]
    for s in brief.signals:
        lines.append(f"- **{s.signal}** (severity {s.severity}, since {s.first_detected}): {s.summary}")
        lines += [f"  - `{e.id}` {e.text}" for e in s.evidence[:4]]
        if len(s.evidence) > 4:
            lines.append(f"  - … {len(s.evidence) - 4} more")
    if brief.cluster_amplification:
        lines.append(f"- clustered: {', '.join(brief.cluster_signals)}")
    lines += ["", "## Confirmed causes"]
    lines += [f"- {c.cause}{_cites(c.evidence_ids)}" for c in brief.confirmed_causes] or ["- none confirmed"]
    lines += ["", "## Suspected causes"]
    for c in brief.suspected_causes:
        lines.append(f"- {c.cause}{_cites(c.evidence_ids)}")
        if c.what_would_confirm:
            lines.append(f"  - would confirm: {c.what_would_confirm}")
    if not brief.suspected_causes:
        lines.append("- none")
    if brief.flags:
        lines += ["", "## Flags"] + [f"- {f.kind}: {f.detail}" for f in brief.flags]
    lines += ["", "## Next-action options (nothing happens before approval)"]
    for o in brief.next_action_options:
        approval = f" · needs {o.needs_approval_from}'s approval" if o.needs_approval_from else ""
        lines.append(f"{o.number}. **{o.title}** ({o.kind}) · owner {o.owner} · {o.timing}{approval}")
        lines.append(f"   why: {o.why}{_cites(o.evidence_ids)}")
    lines += ["", "## Assumptions"]
    lines += [
        f"- {'verified' if x.verified else 'unverified'}: {x.statement}"
        + (f" (verify: {x.how_to_verify})" if x.how_to_verify else "")
        for x in brief.assumptions
    ] or ["- none"]
    lines += ["", "## Missing data"] + ([f"- {m}" for m in brief.missing_data] or ["- none"])
    t = brief.review_task
    lines += [
        "",
        "## Review",
        f"- task on approval: {t.title} · {t.assignee} · due {t.due} · reviewer: {t.reviewer_role}"
        + (f" · next review {t.next_review}" if t.next_review else ""),
        "- escalation path: "
        + " → ".join(f"{e.role}{f' ({e.who})' if e.who else ''}: {e.why}" for e in brief.escalation_path),
        f"- measurement event: {brief.measurement_event.event} ({', '.join(brief.measurement_event.logged_fields)})",
        f"- status: {brief.status}",
    ]
    lines += [f"  - stop: {r}" for r in brief.stop_reasons]
    d = brief.drafter
    drafter = f"{d.name}" + (f" ({d.model}, prompt {d.prompt_version})" if d.model else "")
    if d.fallback:
        drafter += f"; fell back to the offline drafter: {d.fallback_reason}"
    v = brief.verification
    lines += [
        f"- drafter: {drafter}",
        f"- verification: {'passed' if v.passed else 'failed'} ({v.checked_statements} statements, "
        f"{v.cited_ids} cited ids)",
    ]
    lines += [f"  - {f.code} at {f.where}: {f.message}" for f in v.failures]
    lines += ["", "## Limits"] + [f"- {x}" for x in brief.limits]
    return "\n".join(lines) + "\n"
