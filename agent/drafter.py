"""The offline drafter: a deterministic, evidence-grounded `BriefDraft` with no model.

It is the default when no endpoint is configured and the fallback when a model is unavailable or
its draft fails verification twice. It only quotes evidence verbatim and takes figures from the
tools' facts, so its drafts pass the verifier by construction.

Classification (spec/brief.md):
- confirmed: the customer's words (quoted speech or "customer said" in a note), a ticket, an
  objection on the opportunity, a survey comment — when they are current: dated within the recency
  window before the as-of date (an open ticket or an open opportunity stays current), and not
  settled since (a later note saying it was fixed, resolved or signed);
- not this customer's: words a note attributes to another customer ("X Foods told their CSM ...",
  "that is a different customer") confirm nothing for this account;
- suspected: a CSM's hedged guess ("my guess", "may", "might", "not confirmed", "I think"...),
  patterns across signals, and an outdated customer statement not settled since, each with what
  would confirm it;
- instruction-like text in the evidence never becomes a cause or an action (the brief flags it), and
  option rationales carry signal ids and the tools' figures, never free text from the data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

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
    DISCLAIMER,
    OTHER_PARTY,
    EvidenceRecord,
    can_confirm,
    find_injections,
    is_hedged,
    quoted_speech,
    quotes_customer,
    sentences,
    speaker_is_other,
)

MAX_CONFIRMED = 6
MAX_SUSPECTED = 4
MAX_TICKET_CAUSES = 3
CAUSE_RECENCY_DAYS = 180
"""A record dated more than this many days before the as-of date no longer confirms a current cause."""

_BUDGET = re.compile(r"\b(budget|price|pricing|cost|costs|expensive|discount|cut|cuts|spend)\b", re.IGNORECASE)
_COMPETITOR = re.compile(
    r"\b(competitors?|alternatives?|switch\w*|evaluat\w+|rfp|trial\w*|pilot\w*|"
    r"(other|different|another) (vendors?|tools?|providers?|platforms?))\b",
    re.IGNORECASE,
)
_PEOPLE = re.compile(r"\b(champion|sponsor|left|leaving|departed|reorg|new (vp|cto|cfo|ceo|director))\b", re.IGNORECASE)
# A contact lost is a problem; a new executive is only a change until someone says it is a problem.
_PEOPLE_LOST = re.compile(r"\b(champion|sponsor|left|leaving|departed|reorg)\b", re.IGNORECASE)
_TROUBLE = re.compile(
    r"\b(slow\w*|fail\w*|bugs?|errors?|broken|crash\w*|outage|time[sd]? out|timing out|blank|missing|problems?|"
    r"issues?|frustrat\w*|unhappy|disappoint\w*|gave up|give up|stopped|not using|no longer|spreadsheets?|"
    r"cancel\w*|churn\w*|downgrad\w*|too \w+|can't|cannot|won't|doesn't|don't|never|worse|hard to|difficult|"
    r"confus\w*|complain\w*|unusable|useless|unreliable|late|delay\w*|waiting|consolidat\w*|replac\w*|"
    r"review\w* all tools)\b",
    re.IGNORECASE,
)


def _is_trouble(text: str) -> bool:
    """Whether a statement is about a problem: "the report builder saves us hours" explains no risk."""
    return any(p.search(text) for p in (_TROUBLE, _BUDGET, _COMPETITOR, _PEOPLE_LOST))


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


# ------------------------------------------------------------------------------- whose words, and when

# Resolution language: the matter was settled. Not when negated, conditional or still to come
# ("not fixed", "until T-31 is fixed", "will be resolved"), nor the words' other senses ("a fixed price",
# "signed with a competitor", "settled on another tool").
_RESOLUTION = re.compile(
    r"\b((?<!\ba )(?<!\bthe )fixed(?! (price|fee|cost|term|rate|amount|budget|seats?|date))|resolved|solved|"
    r"(is|was|been|got|now) (settled|sorted)|sorted out|works now|working (again|now)|"
    r"no longer an? (issue|problem|concern|blocker)|"
    r"(renewal|extension) (was |is |has been |got )?signed|signed (the|their|our|a) (renewal|extension)|"
    r"renewed (for|early|through|until)|(objection|complaint|escalation) (was |has been )?withdrawn)\b",
    re.IGNORECASE,
)
_NOT_SETTLED = re.compile(
    r"\b(not|never|no|nothing|until|unless|once|when|if|before|will|would|should|could|must|needs?|to be|yet|"
    r"wait\w*|hope\w*|expect\w*|promised?|planned|eta)\b|n't\b",
    re.IGNORECASE,
)
# Where a sentence turns from one matter to another: "SSO fixed, but reports are still slow".
_CONTRAST = re.compile(r";|\b(?:but|however|though|although|whereas|yet)\b", re.IGNORECASE)


def states_resolution(text: str) -> bool:
    """Whether `text` says a matter was settled: "fixed in release 4.2", "renewal signed"."""
    for match in _RESOLUTION.finditer(text):
        clause = re.split(r"[,;:(—–]", text[: match.start()])[-1]
        if not _NOT_SETTLED.search(" ".join(clause.split()[-6:])):
            return True
    return False


def _settling_parts(text: str) -> list[str]:
    """The parts of a sentence that state a resolution (the rest may still be a live complaint)."""
    return [part for part in _CONTRAST.split(text) if states_resolution(part)]


def _only_settles(text: str) -> bool:
    """Whether a statement is about settled matters only: no part of it is a problem still open."""
    parts = [part for part in _CONTRAST.split(text) if part.strip()]
    return any(states_resolution(p) for p in parts) and not any(
        _is_trouble(p) and not states_resolution(p) for p in parts
    )


# Words too common to tie a resolution to a complaint.
_COMMON_WORDS = (
    "the and for with that this they them their there have has had was were will would could should been from "
    "into about after before since because which what when while also just only than then very more most some "
    "such your our you she him her his its are not but all any can may might must unless said says told "
    "customer customers client account team users user note call meeting week weeks month months year years "
    "issue issues problem problems still now two three"
)
_STOPWORDS = frozenset(_COMMON_WORDS.split())
_SUFFIXES = ("ations", "ation", "ings", "ing", "ness", "ment", "als", "al", "ers", "er", "ed", "es", "s", "e", "y")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _topic(text: str) -> set[str]:
    """The content words of a statement, crudely stemmed: "pricing" and "price" meet at "pric"."""
    return {_stem(w) for w in re.findall(r"[a-z]{3,}", text.lower()) if w not in _STOPWORDS}


@dataclass(frozen=True)
class _Currency:
    """Whether a record still speaks for the account on the as-of date."""

    cutoff: str
    """ISO date: records dated before it are outdated."""
    settlements: tuple[tuple[str, str, int, frozenset[str]], ...]
    """(record id, date, sentence index, topic) of every sentence stating a resolution."""

    @classmethod
    def of(cls, evidence: dict[str, EvidenceRecord], as_of: str, recency_days: int) -> _Currency:
        cutoff = (date.fromisoformat(as_of[:10]) - timedelta(days=recency_days)).isoformat()
        settlements = tuple(
            (record.id, record.date, n, frozenset().union(*(_topic(part) for part in parts)))
            for record in evidence.values()
            if record.kind in ("note", "ticket", "survey", "email") and record.date
            for n, sentence in enumerate(_clean_sentences(record))
            if (parts := _settling_parts(sentence))
        )
        return cls(cutoff, settlements)

    def outdated(self, record: EvidenceRecord) -> bool:
        return bool(record.date) and str(record.date)[:10] < self.cutoff

    def settled(self, text: str, record: EvidenceRecord, sentence_index: int | None = None) -> bool:
        """Whether a later sentence says this matter was resolved: one further on in the same note that
        shares a content word, or one in a record dated on or after it that shares two."""
        topic = _topic(text)
        for source, day, n, words in self.settlements:
            if source == record.id:
                if sentence_index is not None and n > sentence_index and topic & words:
                    return True
            elif record.date and day >= record.date and len(topic & words) >= 2:
                return True
        return False


# ---------------------------------------------------------------------------------------- the causes


@dataclass(frozen=True)
class _Statement:
    """One thing a note says about a problem: the cause as drafted, the words it rests on, and whether
    the customer stated it (else it is the CSM's guess)."""

    cause: str
    words: str
    stated: bool
    sentence_index: int


def _note_statements(record: EvidenceRecord, signalled: bool, account_name: str) -> list[_Statement]:
    """The customer's words versus the CSM's guesses in a note. Only sentences about a problem count,
    unless a signal cites the note (a competitor named in it, say); resolutions and another customer's
    words never count."""
    clean = _clean_sentences(record)
    disclaimed = {n - 1 for n, sentence in enumerate(clean) if DISCLAIMER.search(sentence)}
    out: list[_Statement] = []
    for n, sentence in enumerate(clean):
        # A guess may rest on a change (a new VP); a statement confirms only a problem.
        relevant = signalled or _is_trouble(sentence) or (is_hedged(sentence) and bool(_PEOPLE.search(sentence)))
        if n in disclaimed or not relevant or _only_settles(sentence):
            continue
        quotes = quoted_speech(sentence)
        if quotes:
            context = sentence[: sentence.find(quotes[0])]
            if speaker_is_other(context, account_name):
                continue
            for quote in quotes:
                if not _only_settles(quote):
                    out.append(_Statement(f'Customer said: "{quote}"', quote, not is_hedged(quote), n))
        elif quotes_customer(sentence) and not is_hedged(sentence):
            if not speaker_is_other(sentence, account_name):
                out.append(_Statement(f'Recorded in a CSM note: "{sentence}"', sentence, True, n))
        elif is_hedged(sentence) and not OTHER_PARTY.search(sentence):
            out.append(_Statement(f'CSM suspects: "{sentence}"', sentence, False, n))
    return out


def _earlier(statement: _Statement, record: EvidenceRecord) -> CauseDraft:
    """An outdated statement, kept as a lead to check: it may no longer hold."""
    who = "the customer said" if statement.stated else "the CSM suspected"
    return CauseDraft(
        cause=f'Earlier, may no longer hold ({record.kind} of {record.date}): {who} "{statement.words}"',
        evidence_ids=[record.id],
        what_would_confirm="Ask the customer whether it still holds; it is older than the recency window, so only "
        "a recent statement, ticket or survey comment would confirm it.",
    )


_TICKET_FLAGS = re.compile(r"\(([^)]*)\)")
_FLAG_WEIGHT = {"p1": 3, "escalated": 2, "frustrated": 2, "negative": 1, "open": 1, "pending": 1}
_STAGE = re.compile(r"\bstage (\S+)")


def _ticket_flags(record: EvidenceRecord) -> set[str]:
    found = _TICKET_FLAGS.search(record.text)
    return {f.strip().lower() for f in found.group(1).split(",")} if found else set()


def _ticket_weight(record: EvidenceRecord) -> int:
    return sum(_FLAG_WEIGHT.get(f, 0) for f in _ticket_flags(record))


def _still_open(record: EvidenceRecord) -> bool:
    """An open ticket or an opportunity not closed stays current however old it is."""
    if record.kind == "ticket":
        return bool({"open", "pending"} & _ticket_flags(record))
    if record.kind == "opportunity":
        stage = _STAGE.search(record.text)
        return stage is not None and not stage.group(1).lower().startswith(("closed", "won", "lost"))
    return False


@dataclass(frozen=True)
class _Causes:
    confirmed: list[CauseDraft]
    suspected: list[CauseDraft]
    earlier: list[CauseDraft]
    """Outdated statements not settled since: suspected at most, after the current leads."""


def _record_causes(
    evidence: dict[str, EvidenceRecord], signalled: set[str], account_name: str, currency: _Currency
) -> _Causes:
    """Causes the records state, in order of weight: the customer's words, objections, survey comments
    behind a signal, then the most telling tickets. `signalled`: evidence ids the signals cite. Only
    current records confirm; a matter settled since is left out."""
    quotes: list[CauseDraft] = []
    objections: list[CauseDraft] = []
    comments: list[CauseDraft] = []
    suspected: list[CauseDraft] = []
    earlier: list[CauseDraft] = []
    records = sorted(evidence.values(), key=lambda r: (r.date or "", r.id), reverse=True)
    current = [r for r in records if not currency.outdated(r) or _still_open(r)]
    for record in current:
        if record.kind == "opportunity" and can_confirm(record):
            found = _OBJECTION.search(record.text)
            objection = found.group(1).strip() if found else ""
            if objection and not find_injections(objection) and not currency.settled(objection, record):
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
            if comment and not find_injections(comment) and not currency.settled(comment, record):
                hedged = is_hedged(comment)
                (suspected if hedged else comments).append(
                    CauseDraft(
                        cause=f'Survey comment: "{comment}"',
                        evidence_ids=[record.id],
                        what_would_confirm=_what_would_confirm(comment) if hedged else None,
                    )
                )
    for record in records:
        if record.kind != "note":
            continue
        for statement in _note_statements(record, record.id in signalled, account_name):
            if currency.settled(statement.words, record, statement.sentence_index):
                continue
            if currency.outdated(record):
                earlier.append(_earlier(statement, record))
            elif statement.stated:
                quotes.append(CauseDraft(cause=statement.cause, evidence_ids=[record.id], what_would_confirm=None))
            else:
                suspected.append(
                    CauseDraft(
                        cause=statement.cause,
                        evidence_ids=[record.id],
                        what_would_confirm=_what_would_confirm(statement.words),
                    )
                )
    tickets = [r for r in current if r.kind != "ticket" or not currency.settled(_subject(r), r)]
    confirmed = quotes + objections + comments + _ticket_causes(tickets, signalled)
    return _Causes(confirmed, suspected, earlier)


def _subject(record: EvidenceRecord) -> str:
    match = _TICKET_SUBJECT.search(record.text)
    return match.group(1).strip() if match else ""


def _ticket_causes(records: list[EvidenceRecord], signalled: set[str]) -> list[CauseDraft]:
    """Tickets that show trouble, one cause per subject citing every ticket that repeats it; heaviest first.
    A ticket counts when a signal cites it or its flags are heavy (P1, escalated, frustrated), and it reads
    as a problem (negative sentiment or a problem word in the subject)."""
    groups: dict[str, list[EvidenceRecord]] = {}
    subjects: dict[str, str] = {}
    for record in records:
        if record.kind != "ticket":
            continue
        subject = _subject(record)
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


_LABELLED_QUOTE = re.compile(r"\b[\w-]+:\s*[\"“]")
_QUOTED = re.compile(r"[\"“]([^\"“”]*)[\"”]")
_DIGIT = re.compile(r"\d")


def signal_figures(summary: str) -> str:
    """A signal summary without the free text it copies from the data: labelled quotes (`comment: "..."`,
    `objection: "..."`) and everything after them, quoted subjects, and unlabelled reasons ("departed on
    2026-03-16: left the company"). What is left are the tools' figures, dates and ids."""
    labelled = _LABELLED_QUOTE.search(summary)
    text = summary[: labelled.start()] if labelled else summary
    text = _QUOTED.sub(lambda m: m.group(1) if len(m.group(1).split()) <= 2 else " ", text)
    text = re.split(r"[\"“”]", text)[0]  # an unbalanced quote: free text from there on
    clauses = []
    for clause in re.split(r";\s+|\s+[—–]\s+", text):
        head, colon, tail = clause.partition(": ")
        if colon and not _DIGIT.search(tail):
            clause = head
        clause = " ".join(clause.split()).strip(" ,:;")
        if _DIGIT.search(clause):
            clauses.append(clause)
    figures = "; ".join(clauses)
    return "" if find_injections(figures) else figures


def _carries_injection(text: str, injected: set[str]) -> bool:
    """Whether `text` holds instruction-like wording, its own or a flagged sentence of the evidence."""
    flat = " ".join(text.split()).casefold()
    return bool(find_injections(text)) or any(sentence in flat for sentence in injected)


def _injected_sentences(evidence: dict[str, EvidenceRecord]) -> set[str]:
    return {
        " ".join(sentence.split()).casefold()
        for record in evidence.values()
        for found in find_injections(record.text)
        for sentence in [found.split(": ", 1)[-1]]  # "comment: NEW INSTRUCTIONS: ..." -> the words themselves
        if len(sentence) > 12
    }


def _signal_reason(signal: Signal) -> str:
    """A signal by its id and the tools' figures, never the data's free text."""
    figures = signal_figures(signal.summary)
    return f"{signal.signal} ({figures or f'severity {signal.severity}, since {signal.first_detected}'})"


def choose_options(signals: list[Signal], category: RiskCategory) -> list[OptionChoice]:
    """Two options for the main category and one for the runner-up (or a third for the main one). Each
    option's reason names its signal and the tools' figures only: free text from the data (a survey
    comment, a ticket subject, a note) never reaches a recommendation."""
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
            why = f"Addresses the {reason_category} risk: {_signal_reason(lead)}."
            ids = _ids(lead)
        options.append(OptionChoice(kind=kind, why=why, evidence_ids=ids))  # type: ignore[arg-type]
    return options


def _summary(account: AccountBlock, entry: QueueEntry, category: str, injected: set[str]) -> tuple[str, list[str]]:
    signals = entry.active_signals
    if not signals:
        return (
            f"{account.name} has no active risk signal as of {account.as_of} (risk level {entry.risk_level}).",
            [],
        )
    lead = _lead_signals(signals, category)[0]
    # The lead's own summary reads best; when it carries instruction-like data, only its figures.
    described = _signal_reason(lead) if _carries_injection(lead.summary, injected) else f"{lead.signal}: {lead.summary}"
    text = (
        f"{account.name} is at {entry.risk_level} risk (score {entry.risk_score:g}) with "
        f"{len(signals)} active signals, most likely {category}; the strongest is {described}."
        f" Renewal is {account.days_to_renewal} days away."
    )
    if account.goals:
        text += f" Weigh this against the customer's goals: {account.goals}."
    return text, _ids(lead)


def draft_offline(
    account: AccountBlock,
    entry: QueueEntry,
    evidence: dict[str, EvidenceRecord],
    *,
    recency_days: int = CAUSE_RECENCY_DAYS,
) -> BriefDraft:
    """A deterministic draft from the signals and the evidence pool (signal evidence + retrieved text).
    `recency_days`: how far before the as-of date a record may be dated and still confirm a cause."""
    signalled = {e.id for s in entry.active_signals for e in s.evidence}
    currency = _Currency.of(evidence, account.as_of, recency_days)
    causes = _record_causes(evidence, signalled, account.name, currency)
    confirmed = _dedupe(causes.confirmed)[:MAX_CONFIRMED]
    suspected = _dedupe(causes.suspected + _pattern_causes(entry.active_signals, confirmed) + causes.earlier)
    category = choose_category(entry.active_signals, confirmed)
    summary, summary_ids = _summary(account, entry, category, _injected_sentences(evidence))
    return BriefDraft(
        summary=summary,
        summary_evidence_ids=summary_ids,
        risk_category=category,
        confirmed_causes=confirmed,
        suspected_causes=suspected[:MAX_SUSPECTED],
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
