"""The offline drafter: a deterministic, evidence-grounded `BriefDraft` with no model.

It is the default when no endpoint is configured and the fallback when a model is unavailable or
its draft fails verification twice. It only quotes evidence verbatim and takes figures from the
tools' facts, so its drafts pass the verifier by construction.

Classification (spec/brief.md):
- confirmed: the customer's words (quoted speech or "customer said" in a note), a ticket, an
  objection on the opportunity, a survey comment;
- suspected: a CSM's hedged guess ("my guess", "may", "might", "not confirmed", "I think"...) and
  patterns across signals, each with what would confirm it;
- instruction-like text in the evidence never becomes a cause or an action (the brief flags it).
"""

from __future__ import annotations

import re

from agent.brief import (
    OPTIONS_BY_CATEGORY,
    RISK_CATEGORIES,
    SIGNAL_CATEGORY,
    AccountBlock,
    BriefDraft,
    CauseDraft,
    OptionChoice,
    RiskCategory,
    category_scores,
)
from tools.models import QueueEntry, Signal
from tools.verify import (
    EvidenceRecord,
    can_confirm,
    find_injections,
    is_hedged,
    quoted_speech,
    quotes_customer,
    sentences,
)

MAX_CONFIRMED = 6
MAX_SUSPECTED = 4
MAX_TICKET_CAUSES = 3

_BUDGET = re.compile(r"\b(budget|price|pricing|cost|costs|expensive|discount|cut|cuts|spend)\b", re.IGNORECASE)
_COMPETITOR = re.compile(r"\b(competitors?|alternatives?|switch\w*|evaluat\w+|rfp|trial\w*|pilot\w*)\b", re.IGNORECASE)
_PEOPLE = re.compile(r"\b(champion|sponsor|left|leaving|departed|reorg|new (vp|cto|cfo|ceo|director))\b", re.IGNORECASE)
_TROUBLE = re.compile(
    r"\b(slow\w*|fail\w*|bugs?|errors?|broken|crash\w*|outage|time[sd]? out|timing out|blank|missing|problems?|"
    r"issues?|frustrat\w*|unhappy|disappoint\w*|gave up|give up|stopped|not using|no longer|spreadsheets?|"
    r"cancel\w*|churn\w*|downgrad\w*|too \w+|can't|cannot|won't|doesn't|don't|never|worse|hard to|difficult|"
    r"confus\w*|late|delay\w*|waiting|consolidat\w*|replac\w*|review\w* all tools)\b",
    re.IGNORECASE,
)


def _is_trouble(text: str) -> bool:
    """Whether a statement is about a problem: "the report builder saves us hours" explains no risk."""
    return any(p.search(text) for p in (_TROUBLE, _BUDGET, _COMPETITOR, _PEOPLE))


_TICKET_SUBJECT = re.compile(r"subject: (.+?)(?:\n|$)")
_OBJECTION = re.compile(r"objection: (.+?)(?:\n|$)")
_COMMENT = re.compile(r"comment: (.+?)(?:\n|$)")
# What a confirmed cause is about, by its words: first match wins.
_CAUSE_CATEGORY: tuple[tuple[RiskCategory, re.Pattern[str]], ...] = (
    (
        "support/product",
        re.compile(
            r"\b(bugs?|errors?|fail\w*|slow\w*|crash\w*|outage|time[sd]? out|timing out|broken|blank|missing)\b",
            re.IGNORECASE,
        ),
    ),
    ("commercial/financial", _BUDGET),
    ("competitive", _COMPETITOR),
    ("relationship/stakeholder", _PEOPLE),
    ("adoption/value", re.compile(r"\b(value|adoption|using|use|training|onboard\w*)\b", re.IGNORECASE)),
)


def _what_would_confirm(text: str) -> str:
    if _BUDGET.search(text):
        return "Ask the sponsor about budget plans for the renewal; an objection on the opportunity would confirm it."
    if _COMPETITOR.search(text):
        return (
            "Ask the champion whether they are evaluating alternatives; a competitor named by the customer confirms it."
        )
    if _PEOPLE.search(text):
        return "Confirm the contact change with the customer and update the contact records."
    return "Ask the customer directly; a ticket, survey comment or objection stating it would confirm it."


def _clean_sentences(record: EvidenceRecord) -> list[str]:
    """Sentences of a record, without the instruction-like ones (those are data to flag, not use)."""
    injected = set(find_injections(record.text))
    return [s for s in sentences(record.text) if s not in injected]


def _customer_statements(record: EvidenceRecord, signalled: bool) -> tuple[list[str], list[str]]:
    """(stated, hedged) sentences of a note: the customer's words versus the CSM's guesses. Only sentences
    about a problem count, unless a signal cites the note (a competitor named in it, say)."""
    stated: list[str] = []
    hedged: list[str] = []
    for sentence in _clean_sentences(record):
        if not (signalled or _is_trouble(sentence)):
            continue
        quotes = quoted_speech(sentence)
        if quotes:
            for quote in quotes:
                (hedged if is_hedged(quote) else stated).append(f'Customer said: "{quote}"')
        elif quotes_customer(sentence) and not is_hedged(sentence):
            stated.append(f'Recorded in a CSM note: "{sentence}"')
        elif is_hedged(sentence):
            hedged.append(f'CSM suspects: "{sentence}"')
    return stated, hedged


_TICKET_FLAGS = re.compile(r"\(([^)]*)\)")
_FLAG_WEIGHT = {"p1": 3, "escalated": 2, "frustrated": 2, "negative": 1, "open": 1, "pending": 1}


def _ticket_weight(record: EvidenceRecord) -> int:
    found = _TICKET_FLAGS.search(record.text)
    flags = {f.strip().lower() for f in found.group(1).split(",")} if found else set()
    return sum(_FLAG_WEIGHT.get(f, 0) for f in flags)


def _record_causes(
    evidence: dict[str, EvidenceRecord], signalled: set[str]
) -> tuple[list[CauseDraft], list[CauseDraft]]:
    """Causes the records state, in order of weight: the customer's words, objections, survey comments
    behind a signal, then the most telling tickets. `signalled`: evidence ids the signals cite."""
    quotes: list[CauseDraft] = []
    objections: list[CauseDraft] = []
    comments: list[CauseDraft] = []
    suspected: list[CauseDraft] = []
    records = sorted(evidence.values(), key=lambda r: (r.date or "", r.id), reverse=True)
    for record in records:
        if record.kind == "opportunity" and can_confirm(record):
            found = _OBJECTION.search(record.text)
            objection = found.group(1).strip() if found else ""
            if objection and not find_injections(objection):
                objections.append(
                    CauseDraft(
                        cause=f'Objection on the renewal opportunity: "{objection}"',
                        evidence_ids=[record.id],
                        what_would_confirm=None,
                    )
                )
        elif record.kind == "survey" and record.id in signalled and can_confirm(record):
            # Only the surveys behind a decline: a happy comment from last spring explains nothing.
            found = _COMMENT.search(record.text)
            comment = found.group(1).strip() if found else ""
            if comment and not find_injections(comment):
                hedged = is_hedged(comment)
                (suspected if hedged else comments).append(
                    CauseDraft(
                        cause=f'Survey comment: "{comment}"',
                        evidence_ids=[record.id],
                        what_would_confirm=_what_would_confirm(comment) if hedged else None,
                    )
                )
        elif record.kind == "note":
            stated, guesses = _customer_statements(record, record.id in signalled)
            quotes += [CauseDraft(cause=s, evidence_ids=[record.id], what_would_confirm=None) for s in stated]
            suspected += [
                CauseDraft(cause=h, evidence_ids=[record.id], what_would_confirm=_what_would_confirm(h))
                for h in guesses
            ]
    return quotes + objections + comments + _ticket_causes(records, signalled), suspected


def _ticket_causes(records: list[EvidenceRecord], signalled: set[str]) -> list[CauseDraft]:
    """Tickets that show trouble, one cause per subject citing every ticket that repeats it; heaviest first.
    A ticket counts when a signal cites it or its flags are heavy (P1, escalated, frustrated), and it reads
    as a problem (negative sentiment or a problem word in the subject)."""
    groups: dict[str, list[EvidenceRecord]] = {}
    subjects: dict[str, str] = {}
    for record in records:
        if record.kind != "ticket":
            continue
        match = _TICKET_SUBJECT.search(record.text)
        subject = match.group(1).strip() if match else ""
        weight = _ticket_weight(record)
        relevant = record.id in signalled or weight >= 2
        if not subject or find_injections(subject) or not relevant or not (weight >= 1 or _is_trouble(subject)):
            continue
        key = subject.casefold()
        groups.setdefault(key, []).append(record)
        subjects.setdefault(key, subject)
    ranked = sorted(groups, key=lambda k: (-max(_ticket_weight(r) for r in groups[k]), -len(groups[k])))
    return [
        CauseDraft(
            cause=f'Support problem recorded in {"tickets" if len(groups[k]) > 1 else "a ticket"}: "{subjects[k]}"',
            evidence_ids=[r.id for r in groups[k]][:5],
            what_would_confirm=None,
        )
        for k in ranked[:MAX_TICKET_CAUSES]
    ]


def _ids(signal: Signal, n: int = 3) -> list[str]:
    return [e.id for e in signal.evidence[:n]]


def _pattern_causes(signals: list[Signal], confirmed: list[CauseDraft]) -> list[CauseDraft]:
    """Suspected causes inferred from combinations of signals: never confirmed, always with a test."""
    by_id = {s.signal: s for s in signals}
    usage = [by_id[s] for s in ("usage_sudden_drop", "usage_gradual_decline", "adoption_plateau") if s in by_id]
    support = [by_id[s] for s in ("support_volume_spike", "p1_escalation", "unresolved_support") if s in by_id]
    people = [
        by_id[s]
        for s in ("champion_departure", "sponsor_change", "stakeholder_silence", "declined_meetings", "no_reply_streak")
        if s in by_id
    ]
    causes: list[CauseDraft] = []
    if usage and support:
        causes.append(
            CauseDraft(
                cause="A product or support problem may be driving the usage decline.",
                evidence_ids=_ids(usage[0], 2) + _ids(support[0], 2),
                what_would_confirm="Compare the ticket subjects with the teams and features whose usage fell; "
                "ask the champion whether the problems stopped people using the product.",
            )
        )
    elif usage:
        causes.append(
            CauseDraft(
                cause="Users may not be getting enough value to keep using the product.",
                evidence_ids=_ids(usage[0]),
                what_would_confirm="Review the decline by team and feature with the champion against the "
                "customer's goals; a customer statement about value would confirm it.",
            )
        )
    if people:
        causes.append(
            CauseDraft(
                cause="The relationship with the customer's stakeholders may have weakened.",
                evidence_ids=[i for s in people[:2] for i in _ids(s, 2)],
                what_would_confirm="Reach the sponsor or champion directly; a held meeting or a reply would "
                "rule it out, a stated change of priorities would confirm it.",
            )
        )
    if "health_rapid_decline" in by_id and not usage and not support:
        causes.append(
            CauseDraft(
                cause="Something changed recently that the health score registers but no other signal explains.",
                evidence_ids=_ids(by_id["health_rapid_decline"]),
                what_would_confirm="Check which health components moved and ask the champion what changed.",
            )
        )
    return causes


def choose_category(signals: list[Signal], confirmed: list[CauseDraft]) -> RiskCategory:
    """The category with the most signal severity, plus 2 for each confirmed cause about it (what the
    customer or a record says outweighs a pattern)."""
    scores = category_scores(signals)
    stated: dict[str, int] = dict.fromkeys(RISK_CATEGORIES, 0)
    for cause in confirmed:
        about = next((c for c, pattern in _CAUSE_CATEGORY if pattern.search(cause.cause)), None)
        if about:
            scores[about] += 2
            stated[about] += 1
    top_severity: dict[str, int] = dict.fromkeys(RISK_CATEGORIES, 0)
    for s in signals:
        category = SIGNAL_CATEGORY.get(s.signal)
        if category:
            top_severity[category] = max(top_severity[category], s.severity)
    return max(
        RISK_CATEGORIES,
        key=lambda c: (scores[c], stated[c], top_severity[c], -RISK_CATEGORIES.index(c)),
    )


def _lead_signals(signals: list[Signal], category: str) -> list[Signal]:
    """The category's signals, strongest first; the health score is a composite, so it comes last."""
    in_category = [s for s in signals if SIGNAL_CATEGORY.get(s.signal) == category] or list(signals)
    return sorted(in_category, key=lambda s: (-s.severity, s.signal.startswith("health_"), -len(s.evidence), s.signal))


def choose_options(signals: list[Signal], category: RiskCategory) -> list[OptionChoice]:
    """Two options for the main category and one for the runner-up (or a third for the main one)."""
    scores = category_scores(signals)
    ranked = sorted((c for c in RISK_CATEGORIES if c != category and scores[c] > 0), key=lambda c: -scores[c])
    picks: list[tuple[str, str]] = [(kind, category) for kind in OPTIONS_BY_CATEGORY[category][:2]]
    if ranked:
        second = next((k for k in OPTIONS_BY_CATEGORY[ranked[0]] if k not in {p[0] for p in picks}), None)
        if second:
            picks.append((second, ranked[0]))
    if len(picks) < 3:
        picks.append((OPTIONS_BY_CATEGORY[category][2], category))
    if not signals:
        picks = [("monitor", category), (OPTIONS_BY_CATEGORY[category][0], category)]
    options = []
    used: dict[str, int] = {}
    for kind, reason_category in picks:
        leads = _lead_signals(signals, reason_category)
        if not leads:
            why = "No active signal: keep watching the account at the next digest."
            ids: list[str] = []
        else:
            # Give each option of one category its own signal where there are several.
            lead = leads[used.get(reason_category, 0) % len(leads)]
            used[reason_category] = used.get(reason_category, 0) + 1
            why = f"Addresses the {reason_category} risk: {lead.signal} ({lead.summary})."
            ids = _ids(lead)
        options.append(OptionChoice(kind=kind, why=why, evidence_ids=ids))  # type: ignore[arg-type]
    return options


def _summary(account: AccountBlock, entry: QueueEntry, category: str) -> tuple[str, list[str]]:
    signals = entry.active_signals
    if not signals:
        return (
            f"{account.name} has no active risk signal as of {account.as_of} (risk level {entry.risk_level}).",
            [],
        )
    lead = _lead_signals(signals, category)[0]
    text = (
        f"{account.name} is at {entry.risk_level} risk (score {entry.risk_score:g}) with "
        f"{len(signals)} active signals, most likely {category}; the strongest is {lead.signal}: {lead.summary}."
        f" Renewal is {account.days_to_renewal} days away."
    )
    if account.goals:
        text += f" Weigh this against the customer's goals: {account.goals}."
    return text, _ids(lead)


def draft_offline(account: AccountBlock, entry: QueueEntry, evidence: dict[str, EvidenceRecord]) -> BriefDraft:
    """A deterministic draft from the signals and the evidence pool (signal evidence + retrieved text)."""
    signalled = {e.id for s in entry.active_signals for e in s.evidence}
    confirmed, suspected = _record_causes(evidence, signalled)
    confirmed = _dedupe(confirmed)[:MAX_CONFIRMED]
    suspected = (_dedupe(suspected) + _pattern_causes(entry.active_signals, confirmed))[:MAX_SUSPECTED]
    category = choose_category(entry.active_signals, confirmed)
    summary, summary_ids = _summary(account, entry, category)
    return BriefDraft(
        summary=summary,
        summary_evidence_ids=summary_ids,
        risk_category=category,
        confirmed_causes=confirmed,
        suspected_causes=suspected,
        next_action_options=choose_options(entry.active_signals, category),
        assumptions=[],
    )


def _dedupe(causes: list[CauseDraft]) -> list[CauseDraft]:
    seen: set[str] = set()
    out = []
    for cause in causes:
        key = cause.cause.casefold()
        if key not in seen:
            seen.add(key)
            out.append(cause)
    return out
