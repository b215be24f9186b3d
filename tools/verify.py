"""Verification of a drafted brief against the rulebook (spec/brief.md), for the model's drafts and the
offline drafter's alike.

Most unfaithful drafts cannot be written at all: the draft schema has no place for a number, a quote or
an option's wording (see `agent.brief.BriefDraft`). What remains is checked here, deterministically:
cited ids and spans exist for this account as of the date; a confirmed cause is a span the rulebook
allows to confirm, about what its category says; a suspected cause is hedged, cited and testable; every
`{fact}` reference is a fact of this brief; model prose states no number, date, name, quote, id, stance
or commitment of its own (`tools.rulebook.check_prose`); options come from the catalogue and answer
active signals; the category has a signal behind it.

The draft is read as a plain mapping (the keys of `BriefDraft`), so this module does not depend on the
agent's models and a malformed draft is a failure, never an exception.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from tools import text as lang
from tools.evidence import EvidenceRecord, Fact, kind_of, record_of_span
from tools.models import Signal
from tools.registry import REGISTRY, RISK_CATEGORIES
from tools.rulebook import (
    ACTION_CATALOGUE,
    Names,
    ProseContext,
    Rulebook,
    check_prose,
    lower_case_words,
)

__all__ = ["EvidenceRecord", "VerificationFailure", "VerificationReport", "evidence_kind", "verify_draft"]

FailureCode = Literal[
    "unknown_evidence_id",
    "unknown_span",
    "unknown_fact_ref",
    "unknown_signal",
    "missing_citation",
    "unsupported_number",
    "unsupported_date",
    "unsupported_quote",
    "unsupported_name",
    "id_in_prose",
    "contradicts_tools",
    "contradicts_fact",
    "commitment_in_text",
    "too_long",
    "suspected_as_confirmed",
    "stale_confirmation",
    "settled_cause",
    "other_party_words",
    "category_mismatch",
    "category_without_signal",
    "unhedged_hypothesis",
    "missing_confirm_test",
    "duplicate",
    "signal_without_evidence",
    "action_not_allowed",
    "option_count",
    "injection_followed",
    "invalid_draft",
]


class VerificationFailure(BaseModel):
    """One failed check: a stable code, where in the draft, and a message a reviewer can act on."""

    code: FailureCode
    where: str
    message: str


class VerificationReport(BaseModel):
    """The verifier's verdict on one draft."""

    passed: bool
    failures: list[VerificationFailure] = Field(default_factory=list)
    checked_statements: int = 0
    cited_ids: int = 0

    def codes(self) -> list[str]:
        return sorted({f.code for f in self.failures})


def evidence_kind(evidence_id: str) -> str:
    """`ticket:T-9` -> `ticket` (kept for callers of the earlier name)."""
    return kind_of(evidence_id)


def signal_categories(signals: Sequence[Signal]) -> set[str]:
    return {REGISTRY[s.signal].risk_category for s in signals if s.signal in REGISTRY}


def _confirm_code(reason: str) -> FailureCode:
    if "older than" in reason:
        return "stale_confirmation"
    if "settled" in reason:
        return "settled_cause"
    if "another party" in reason:
        return "other_party_words"
    if "instruction-like" in reason:
        return "injection_followed"
    if "not a span" in reason:
        return "unknown_span"
    return "suspected_as_confirmed"


class _Checker:
    def __init__(self, rulebook: Rulebook, prose: ProseContext) -> None:
        self.rulebook = rulebook
        self.prose = prose
        self.failures: list[VerificationFailure] = []
        self.statements = 0
        self.cited: set[str] = set()

    def fail(self, code: FailureCode, where: str, message: str) -> None:
        self.failures.append(VerificationFailure(code=code, where=where, message=message))

    def ids(self, value: Any, where: str) -> list[EvidenceRecord]:
        records = []
        for evidence_id in _strings(value):
            self.cited.add(evidence_id)
            record = self.rulebook.records.get(evidence_id)
            if record is None:
                self.fail(
                    "unknown_evidence_id",
                    where,
                    f"cites '{evidence_id[:80]}', not evidence of this account as of this date",
                )
            else:
                records.append(record)
        return records

    def text(self, value: Any, where: str, *, max_chars: int, **rules: bool) -> str:
        text = value if isinstance(value, str) else ""
        if not text.strip():
            return ""
        self.statements += 1
        for code, message in check_prose(text, self.prose, max_chars=max_chars, **rules):
            self.fail(code, where, message)
        return text


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def verify_draft(
    draft: Mapping[str, Any],
    *,
    rulebook: Rulebook,
    facts: Mapping[str, Fact],
    names: Names,
    signals: Sequence[Signal],
    allowed_actions: Collection[str] = tuple(ACTION_CATALOGUE),
    option_range: tuple[int, int] = (2, 3),
) -> VerificationReport:
    """Check a draft against the account's evidence as of the date, with the rulebook the drafter follows."""
    injected = frozenset(
        sentence
        for r in rulebook.records.values()
        for s in r.spans
        if s.injected and len(sentence := lang.normalise(s.text.split(": ", 1)[-1])) > 12
    )
    vocabulary = lower_case_words([*(r.text for r in rulebook.records.values()), *(f.text for f in facts.values())])
    check = _Checker(rulebook, ProseContext(facts=facts, names=names, injected=injected, vocabulary=vocabulary))
    active = {s.signal for s in signals}
    if not isinstance(draft, Mapping):
        return invalid_draft_report("the draft is not a JSON object")

    check.text(draft.get("summary"), "summary", max_chars=600)
    check.ids(draft.get("summary_evidence_ids"), "summary")

    confirmed_categories: set[str] = set()
    seen_spans: set[str] = set()
    for n, cause in enumerate(_items(draft.get("confirmed_causes"))):
        where = f"confirmed_causes[{n}]"
        check.statements += 1
        category = cause.get("category")
        if category not in RISK_CATEGORIES:
            check.fail("invalid_draft", where, f"category {str(category)[:40]!r} is not a risk category")
        spans = [cause.get("span_id"), *_strings(cause.get("same_in"))]
        for k, span_id in enumerate(spans):
            label = where if k == 0 else f"{where}.same_in[{k - 1}]"
            if not isinstance(span_id, str) or not span_id:
                check.fail("missing_citation", label, "a confirmed cause must choose the span that states it")
                continue
            check.cited.add(record_of_span(span_id))
            if span_id in seen_spans:
                check.fail("duplicate", label, f"span {span_id[:80]} is already a cause")
            seen_spans.add(span_id)
            record, span = rulebook.span(span_id)
            reason = rulebook.why_not_confirming(record, span)
            if reason is not None:
                check.fail(_confirm_code(reason), label, f"{span_id[:80]} cannot confirm a cause: {reason}")
                continue
            assert span is not None
            if k == 0:
                about = lang.topic_categories(span.text)
                if about and category not in about:
                    check.fail("category_mismatch", label, f"the span is about {' or '.join(about)}, not {category}")
                elif isinstance(category, str):
                    confirmed_categories.add(category)
            else:
                first = rulebook.span(str(spans[0]))[1]
                if first is not None and lang.normalise(first.text) != lang.normalise(span.text):
                    check.fail("duplicate", label, "same_in must list spans with the same words")

    for n, cause in enumerate(_items(draft.get("suspected_causes"))):
        where = f"suspected_causes[{n}]"
        records = check.ids(cause.get("evidence_ids"), where)
        if not _strings(cause.get("evidence_ids")):
            check.fail("missing_citation", where, "a suspected cause must cite what suggests it")
        hypothesis = check.text(cause.get("hypothesis"), where, max_chars=300)
        if not hypothesis:
            check.fail("missing_citation", where, "a suspected cause needs a hypothesis")
        elif not lang.is_hedged(hypothesis):
            check.fail("unhedged_hypothesis", where, "a suspected cause must read as one (may, might, could ...)")
        test = check.text(
            cause.get("what_would_confirm"),
            f"{where}.what_would_confirm",
            max_chars=300,
            speech_allowed=True,
            contact_allowed=True,
        )
        if not test:
            check.fail("missing_confirm_test", where, "say what would confirm or rule it out")
        lead = cause.get("lead_span_id")
        if isinstance(lead, str) and lead:
            record, span = rulebook.span(lead)
            reason = rulebook.why_not_lead(record, span)
            if reason is not None:
                check.fail(_confirm_code(reason), f"{where}.lead_span_id", f"{lead[:80]}: {reason}")
            elif record is not None and record.id not in {r.id for r in records}:
                check.fail("missing_citation", f"{where}.lead_span_id", "the lead's record must be cited too")

    category = draft.get("risk_category")
    if category not in RISK_CATEGORIES:
        check.fail("invalid_draft", "risk_category", f"{str(category)[:40]!r} is not a risk category")
    elif signals and category not in signal_categories(signals):
        check.fail("category_without_signal", "risk_category", f"no active signal points at {category}")
    elif not signals and confirmed_categories and category not in confirmed_categories:
        check.fail("category_without_signal", "risk_category", f"nothing in this brief points at {category}")

    options = _items(draft.get("next_action_options"))
    low, high = option_range
    if not low <= len(options) <= high:
        check.fail("option_count", "next_action_options", f"{len(options)} options; expected {low} to {high}")
    kinds: set[str] = set()
    for n, option in enumerate(options):
        where = f"next_action_options[{n}]"
        kind = option.get("kind")
        if kind not in allowed_actions:
            check.fail("action_not_allowed", where, f"{str(kind)[:40]!r} is not in the options catalogue")
        elif kind in kinds:
            check.fail("duplicate", where, f"{kind} is chosen twice")
        kinds.add(str(kind))
        if active and kind != "monitor" and not _strings(option.get("signals")):
            check.fail("missing_citation", where, "an option must name the active signals it answers")
        for named in _strings(option.get("signals")):
            if named not in active:
                check.fail("unknown_signal", where, f"{named[:60]!r} is not an active signal of this account")

    assumptions = draft.get("assumptions")
    if assumptions is not None and not isinstance(assumptions, list):
        check.fail("invalid_draft", "assumptions", "assumptions must be a list of sentences")
    for n, assumption in enumerate(_strings(assumptions)):
        check.text(assumption, f"assumptions[{n}]", max_chars=240)

    for signal in signals:
        if not signal.evidence:
            check.fail("signal_without_evidence", f"signals.{signal.signal}", "a signal must carry evidence")

    return VerificationReport(
        passed=not check.failures,
        failures=check.failures,
        checked_statements=check.statements,
        cited_ids=len(check.cited),
    )


def invalid_draft_report(message: str) -> VerificationReport:
    """The report for a draft that could not even be parsed into the draft schema."""
    return VerificationReport(
        passed=False, failures=[VerificationFailure(code="invalid_draft", where="draft", message=message[:500])]
    )
