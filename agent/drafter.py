"""The offline drafter: a deterministic `BriefDraft` with no model, by the same rulebook the verifier applies.

It is the default when no endpoint is configured and the fallback when a model is unavailable or its
draft fails verification twice. It writes exactly what a model may write — spans chosen from the
evidence, catalogue kinds, hedged hypotheses and `{fact}` references — and is verified like one.

Selection (which of the allowed statements matter; the rulebook decides which are allowed):
- confirmed: the customer's words about a problem in current notes, objections on the opportunity,
  survey comments behind a signal, and the most telling tickets (P1, escalated, frustrated, or cited by a
  signal), one cause per repeated ticket subject;
- suspected: every hedged statement in a current note about the account's own situation, whatever its
  topic, and the CSM's guesses, unless settled since or another party's; patterns across signals; and
  earlier customer statements, older than the recency window, that may still hold — each with what would
  confirm it.
"""

from __future__ import annotations

from typing import cast

from agent.brief import (
    OPTIONS_BY_CATEGORY,
    RISK_CATEGORIES,
    SIGNAL_CATEGORY,
    AccountBlock,
    BriefDraft,
    ConfirmedCauseDraft,
    OptionChoice,
    RiskCategory,
    SuspectedCauseDraft,
    category_scores,
)
from tools import text as lang
from tools.evidence import EvidenceRecord, Span, TicketFields
from tools.models import QueueEntry, Signal
from tools.rulebook import DEFAULT_RECENCY_DAYS, Rulebook

MAX_CONFIRMED = 6
MAX_SUSPECTED = 4
MAX_TICKET_CAUSES = 3
CAUSE_RECENCY_DAYS = DEFAULT_RECENCY_DAYS

_HYPOTHESIS: dict[str, str] = {
    "commercial/financial": "Budget or pricing pressure may be behind the risk.",
    "competitive": "The customer may be weighing an alternative to the product.",
    "relationship/stakeholder": "A change among the customer's stakeholders may have weakened the relationship.",
    "support/product": "Product or support problems may be pushing users away.",
    "adoption/value": "Users may not be getting enough value from the product.",
    "renewal/contract": "The renewal terms may be in question.",
}
_TEST: dict[str, str] = {
    "commercial/financial": "Ask the sponsor about budget plans for the renewal; an objection on the opportunity "
    "would confirm it.",
    "competitive": "Ask the champion whether they are evaluating alternatives; a competitor named by the customer "
    "confirms it.",
    "relationship/stakeholder": "Confirm the contact change with the customer and update the contact records.",
}
_DEFAULT_TEST = "Ask the customer directly; a ticket, survey comment or objection stating it would confirm it."
_FLAG_WEIGHT = {"p1": 3, "frustrated": 2, "negative": 1, "open": 1, "pending": 1}


def _about(text: str, fallback: RiskCategory) -> RiskCategory:
    found = lang.topic_categories(text)
    return cast(RiskCategory, found[0]) if found else fallback  # topic_categories names only risk categories


def _ticket_weight(record: EvidenceRecord) -> int:
    f = record.fields
    if not isinstance(f, TicketFields):
        return 0
    flags = [(f.priority or "").lower(), (f.status or "").lower(), (f.sentiment or "").lower()]
    return sum(_FLAG_WEIGHT.get(x, 0) for x in flags) + (2 if f.escalated else 0)


def _confirmed(rules: Rulebook, signalled: set[str]) -> list[ConfirmedCauseDraft]:
    """The customer's own words first, then objections, survey comments behind a signal, then tickets."""
    quotes: list[ConfirmedCauseDraft] = []
    objections: list[ConfirmedCauseDraft] = []
    comments: list[ConfirmedCauseDraft] = []
    records = sorted(rules.records.values(), key=lambda r: (r.date or "", r.id), reverse=True)
    for record in records:
        spans = rules.confirming_spans(record)
        if record.kind == "note":
            for span in spans:
                if record.id in signalled or lang.is_trouble(span.text):
                    quotes.append(ConfirmedCauseDraft(span_id=span.id, category=_about(span.text, "adoption/value")))
        elif record.kind == "opportunity":
            objections += [
                ConfirmedCauseDraft(span_id=s.id, category=_about(s.text, "renewal/contract")) for s in spans
            ]
        elif record.kind == "survey" and record.id in signalled:
            comments += [ConfirmedCauseDraft(span_id=s.id, category=_about(s.text, "adoption/value")) for s in spans]
    return quotes + objections + comments + _ticket_causes(rules, records, signalled)


def _ticket_causes(rules: Rulebook, records: list[EvidenceRecord], signalled: set[str]) -> list[ConfirmedCauseDraft]:
    """Tickets that show trouble, one cause per subject (repeats listed in `same_in`), heaviest first. A
    ticket counts when a signal cites it or its flags are heavy, and it reads as a problem."""
    groups: dict[str, list[tuple[EvidenceRecord, Span]]] = {}
    for record in records:
        if record.kind != "ticket" or not record.spans:
            continue
        subject = record.spans[0]
        weight = _ticket_weight(record)
        relevant = record.id in signalled or weight >= 2
        if not relevant or not (weight >= 1 or lang.is_trouble(subject.text)):
            continue
        if rules.why_not_confirming(record, subject) is not None:
            continue
        groups.setdefault(lang.normalise(subject.text), []).append((record, subject))
    ranked = sorted(groups.values(), key=lambda g: (-max(_ticket_weight(r) for r, _ in g), -len(g)))
    return [
        ConfirmedCauseDraft(
            span_id=group[0][1].id,
            same_in=[s.id for _, s in group[1:5]],
            category=_about(group[0][1].text, "support/product"),
        )
        for group in ranked[:MAX_TICKET_CAUSES]
    ]


def _suspected_from_records(rules: Rulebook) -> tuple[list[SuspectedCauseDraft], list[SuspectedCauseDraft]]:
    """(current leads, earlier statements): hedged statements and guesses about the account's own situation."""
    current: list[SuspectedCauseDraft] = []
    earlier: list[SuspectedCauseDraft] = []
    records = sorted(rules.records.values(), key=lambda r: (r.date or "", r.id), reverse=True)
    for record in records:
        if record.kind not in ("note", "survey", "opportunity", "ticket"):
            continue
        for span in record.spans:
            if rules.why_not_lead(record, span) is not None:
                continue
            guess = span.voice == "csm" and span.hedged and record.kind == "note"
            customer_hedge = span.voice == "customer" and span.hedged and lang.is_trouble(span.text)
            outdated_statement = (
                rules.outdated(record)
                and not record.still_open
                and span.voice == "customer"
                and not span.hedged
                and lang.is_trouble(span.text)
                and record.kind in ("note", "survey")
            )
            if rules.outdated(record) and not record.still_open:
                if outdated_statement:
                    earlier.append(
                        SuspectedCauseDraft(
                            hypothesis="An earlier statement by the customer may still hold.",
                            evidence_ids=[record.id],
                            lead_span_id=span.id,
                            what_would_confirm="Ask the customer whether it still holds; it is older than the "
                            "recency window, so only a recent statement, ticket or survey comment would confirm it.",
                            category=_about(span.text, "adoption/value"),
                        )
                    )
                continue
            if guess or customer_hedge:
                category = _about(span.text, "adoption/value")
                hypothesis = (
                    _HYPOTHESIS[category]
                    if lang.topic_categories(span.text)
                    else "The note points at a cause that may not be confirmed yet."
                )
                current.append(
                    SuspectedCauseDraft(
                        hypothesis=hypothesis,
                        evidence_ids=[record.id],
                        lead_span_id=span.id,
                        what_would_confirm=_TEST.get(category, _DEFAULT_TEST),
                        category=category,
                    )
                )
    return current, earlier


def _ids(signal: Signal, n: int = 3) -> list[str]:
    return [e.id for e in signal.evidence[:n]]


def _pattern_causes(signals: list[Signal]) -> list[SuspectedCauseDraft]:
    """Suspected causes inferred from combinations of signals: never confirmed, always with a test."""
    by_id = {s.signal: s for s in signals}
    usage = [by_id[s] for s in ("usage_sudden_drop", "usage_gradual_decline", "adoption_plateau") if s in by_id]
    support = [by_id[s] for s in ("support_volume_spike", "p1_escalation", "unresolved_support") if s in by_id]
    people = [
        by_id[s]
        for s in ("champion_departure", "sponsor_change", "stakeholder_silence", "declined_meetings", "no_reply_streak")
        if s in by_id
    ]
    causes: list[SuspectedCauseDraft] = []
    if usage and support:
        causes.append(
            SuspectedCauseDraft(
                hypothesis="A product or support problem may be driving the usage decline.",
                evidence_ids=_ids(usage[0], 2) + _ids(support[0], 2),
                what_would_confirm="Compare the ticket subjects with the teams and features whose usage fell; "
                "ask the champion whether the problems stopped people using the product.",
                category="support/product",
            )
        )
    elif usage:
        causes.append(
            SuspectedCauseDraft(
                hypothesis="Users may not be getting enough value to keep using the product.",
                evidence_ids=_ids(usage[0]),
                what_would_confirm="Review the decline by team and feature with the champion against the "
                "customer's goals; a customer statement about value would confirm it.",
                category="adoption/value",
            )
        )
    if people:
        causes.append(
            SuspectedCauseDraft(
                hypothesis="The relationship with the customer's stakeholders may have weakened.",
                evidence_ids=[i for s in people[:2] for i in _ids(s, 2)],
                what_would_confirm="Reach the sponsor or champion directly; a held meeting or a reply would "
                "rule it out, a stated change of priorities would confirm it.",
                category="relationship/stakeholder",
            )
        )
    if "health_rapid_decline" in by_id and not usage and not support:
        causes.append(
            SuspectedCauseDraft(
                hypothesis="Something may have changed that the health score registers but no other signal explains.",
                evidence_ids=_ids(by_id["health_rapid_decline"]),
                what_would_confirm="Check which health components moved and ask the champion what changed.",
                category="adoption/value",
            )
        )
    return causes


def choose_category(signals: list[Signal], confirmed: list[ConfirmedCauseDraft]) -> RiskCategory:
    """The category with the most signal severity, plus 2 for each confirmed cause about it (what the
    customer or a record says outweighs a pattern). With signals, only their categories qualify."""
    scores = category_scores(signals)
    stated: dict[str, int] = dict.fromkeys(RISK_CATEGORIES, 0)
    for cause in confirmed:
        scores[cause.category] += 2
        stated[cause.category] += 1
    top_severity: dict[str, int] = dict.fromkeys(RISK_CATEGORIES, 0)
    for s in signals:
        category = SIGNAL_CATEGORY.get(s.signal)
        if category:
            top_severity[category] = max(top_severity[category], s.severity)
    candidates = [c for c in RISK_CATEGORIES if top_severity[c] > 0] or list(RISK_CATEGORIES)
    return max(candidates, key=lambda c: (scores[c], stated[c], top_severity[c], -RISK_CATEGORIES.index(c)))


def _lead_signals(signals: list[Signal], category: str) -> list[Signal]:
    """The category's signals, strongest first; the health score is a composite, so it comes last."""
    in_category = [s for s in signals if SIGNAL_CATEGORY.get(s.signal) == category] or list(signals)
    return sorted(in_category, key=lambda s: (-s.severity, s.signal.startswith("health_"), -len(s.evidence), s.signal))


def choose_options(
    signals: list[Signal], category: RiskCategory, confirmed: list[ConfirmedCauseDraft] | None = None
) -> list[OptionChoice]:
    """Two options for the main category and one for the runner-up (or a third for the main one), each
    answering its category's strongest signal not yet answered. A confirmed commercial cause (a price
    objection, a budget cut) always gets the commercial review, which needs the account executive."""
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
    commercial = any(c.category == "commercial/financial" for c in confirmed or [])
    if commercial and signals and "commercial_review" not in {k for k, _ in picks}:
        reason = next((c for c in ("commercial/financial", "renewal/contract") if scores[c] > 0), category)
        picks[-1] = ("commercial_review", reason)
    options = []
    used: dict[str, int] = {}
    for kind, reason_category in picks:
        leads = _lead_signals(signals, reason_category)
        answered: list[str] = []
        if leads:
            lead = leads[used.get(reason_category, 0) % len(leads)]
            used[reason_category] = used.get(reason_category, 0) + 1
            answered = [lead.signal]
        options.append(OptionChoice(kind=kind, signals=answered))  # type: ignore[arg-type]  # kinds from the catalogue
    return options


def _summary(account: AccountBlock, entry: QueueEntry, category: str) -> tuple[str, list[str]]:
    signals = entry.active_signals
    goals = " Weigh it against {account.goals}." if account.goals else ""
    if not signals:
        return "No signal is active; keep watching the account." + goals, []
    lead = _lead_signals(signals, category)[0]
    return f"The strongest signal is {{signal:{lead.signal}}}." + goals, _ids(lead)


def draft_offline(
    account: AccountBlock,
    entry: QueueEntry,
    evidence: dict[str, EvidenceRecord],
    *,
    recency_days: int = CAUSE_RECENCY_DAYS,
    rulebook: Rulebook | None = None,
) -> BriefDraft:
    """A deterministic draft from the signals and the evidence pool (signal evidence + retrieved text)."""
    from datetime import date

    rules = rulebook or Rulebook(evidence, date.fromisoformat(account.as_of[:10]), recency_days)
    signalled = {e.id for s in entry.active_signals for e in s.evidence}
    confirmed = _dedupe_confirmed(_confirmed(rules, signalled))[:MAX_CONFIRMED]
    leads, earlier = _suspected_from_records(rules)
    suspected = _dedupe_suspected(leads + _pattern_causes(entry.active_signals) + earlier)
    category = choose_category(entry.active_signals, confirmed)
    summary, summary_ids = _summary(account, entry, category)
    return BriefDraft(
        summary=summary,
        summary_evidence_ids=summary_ids,
        risk_category=category,
        confirmed_causes=confirmed,
        suspected_causes=suspected[:MAX_SUSPECTED],
        next_action_options=choose_options(entry.active_signals, category, confirmed),
        assumptions=[],
    )


def _dedupe_confirmed(causes: list[ConfirmedCauseDraft]) -> list[ConfirmedCauseDraft]:
    seen: set[str] = set()
    out = []
    for cause in causes:
        if cause.span_id not in seen:
            seen.add(cause.span_id)
            out.append(cause)
    return out


def _dedupe_suspected(causes: list[SuspectedCauseDraft]) -> list[SuspectedCauseDraft]:
    seen: set[str] = set()
    out = []
    for cause in causes:
        key = cause.lead_span_id or cause.hypothesis
        if key not in seen:
            seen.add(key)
            out.append(cause)
    return out
