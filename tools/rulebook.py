"""One rulebook for the offline drafter and the verifier alike.

- **What may confirm a cause**: a span in the customer's voice (a ticket, an objection on the opportunity,
  a survey comment, a note quoting or reporting the customer), not hedged, not instruction-like, not
  itself a resolution, from a record that is current (dated within `recency_days` of the as-of date, or
  a ticket or opportunity still open), and not settled by a later record. A CSM's own sentence never
  confirms, whatever its wording: the voice decides, not a word list.
- **What may back a suspected cause**: any span of the account's own records that is not another
  party's, not instruction-like, not a resolution and not settled since.
- **What model-written prose may say** (`check_prose`): no numbers, number words, dates, ids, names,
  quotes or reported speech of its own (facts come in as `{fact}` references the tools render); no
  stance that contradicts the tools (a risk level, "no action needed", "the renewal is safe"); no
  commitments (discounts, fix dates, promises) and no instructions found in the data.
- **Which option needs whose approval**: the catalogue below.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from tools import text as lang
from tools.evidence import EvidenceRecord, Fact, Span, SurveyFields
from tools.redact import PLACEHOLDER
from tools.registry import RISK_CATEGORIES, RiskCategory

__all__ = ["RISK_CATEGORIES", "RiskCategory"]  # re-exported: the categories are the registry's

CONFIRMING_KINDS = ("ticket", "opportunity", "survey", "note")
# Survey scores at or above these are praise: their comments explain no risk.
_PROMOTER: dict[str, float] = {"nps": 9, "csat": 5}
DEFAULT_RECENCY_DAYS = 180


# ------------------------------------------------------------------------------- the options catalogue

ActionKind = Literal[
    "usage_review",
    "enablement_session",
    "success_plan_refresh",
    "champion_check_in",
    "stakeholder_mapping",
    "executive_outreach",
    "support_escalation_review",
    "product_feedback_loop",
    "billing_follow_up",
    "commercial_review",
    "competitive_response",
    "renewal_strategy_call",
    "monitor",
]
Approver = Literal["csm", "cs_manager", "cs_leadership", "account_executive", "finance"]


class CatalogueEntry(BaseModel):
    """An allowed next-action option: its wording, owner and timing, what it touches, who approves it."""

    kind: ActionKind
    title: str
    owner: str
    timing: str
    customer_facing: bool
    affects_budget: bool = False
    approver: Approver = "csm"


def _entry(
    kind: ActionKind,
    title: str,
    owner: str,
    timing: str,
    customer: bool,
    budget: bool = False,
    approver: Approver = "csm",
) -> CatalogueEntry:
    return CatalogueEntry(
        kind=kind,
        title=title,
        owner=owner,
        timing=timing,
        customer_facing=customer,
        affects_budget=budget,
        approver=approver,
    )


ACTION_CATALOGUE: dict[str, CatalogueEntry] = {
    e.kind: e
    for e in (
        _entry("usage_review", "Review the usage trend with the champion", "csm", "within 5 business days", True),
        _entry("enablement_session", "Offer a training or enablement session", "csm", "within 2 weeks", True),
        _entry(
            "success_plan_refresh",
            "Re-anchor the success plan to the customer's goals",
            "csm",
            "before the next QBR",
            True,
        ),
        _entry("champion_check_in", "Check-in call with the champion", "csm", "within 3 business days", True),
        _entry(
            "stakeholder_mapping",
            "Map current stakeholders and find a new champion (internal)",
            "csm",
            "within 1 week",
            False,
        ),
        _entry(
            "executive_outreach",
            "Executive-to-executive outreach to the sponsor",
            "cs_leadership",
            "within 1 week",
            True,
            approver="cs_leadership",
        ),
        _entry(
            "support_escalation_review",
            "Review open and escalated tickets with the support lead (internal)",
            "support_lead",
            "within 2 business days",
            False,
        ),
        _entry(
            "product_feedback_loop",
            "Take the recurring product issues to product management (internal)",
            "product_manager",
            "within 2 weeks",
            False,
        ),
        _entry(
            "billing_follow_up",
            "Follow up on the overdue invoices",
            "finance",
            "within 1 week",
            True,
            approver="finance",
        ),
        _entry(
            "commercial_review",
            "Review commercial terms or a save offer with the account executive",
            "account_executive",
            "before the renewal negotiation",
            False,
            True,
            approver="account_executive",
        ),
        _entry(
            "competitive_response", "Prepare a competitive value comparison (internal)", "csm", "within 1 week", False
        ),
        _entry(
            "renewal_strategy_call",
            "Internal renewal strategy call with the account executive",
            "cs_manager",
            "within 1 week",
            False,
        ),
        _entry("monitor", "Monitor: re-check the signals at the next digest", "csm", "next weekly digest", False),
    )
}


def approval_needed(kind: str) -> str | None:
    """Who beyond the account's CSM must approve this option: anything commercial or customer-facing
    owned by someone else needs its owner; None when the CSM's own approval is enough."""
    entry = ACTION_CATALOGUE[kind]
    if entry.approver != "csm" and (entry.customer_facing or entry.affects_budget):
        return entry.approver
    return None


# ------------------------------------------------------------------------------------- what confirms


@dataclass
class Rulebook:
    """The rules for one brief: the account's records as of a date, and the recency window."""

    records: Mapping[str, EvidenceRecord]
    as_of: date
    recency_days: int = DEFAULT_RECENCY_DAYS
    _settlements: list[tuple[str, str, int, frozenset[str]]] | None = field(default=None, repr=False)

    @property
    def cutoff(self) -> str:
        return (self.as_of - timedelta(days=self.recency_days)).isoformat()

    def outdated(self, record: EvidenceRecord) -> bool:
        return bool(record.date) and str(record.date)[:10] < self.cutoff

    def current(self, record: EvidenceRecord) -> bool:
        return not self.outdated(record) or record.still_open

    def settlements(self) -> list[tuple[str, str, int, frozenset[str]]]:
        """(record id, date, sentence index, topic) of every span stating a resolution, from a record that can
        say so: the CSM's own words in a note, or a ticket whose own status says it is closed. A customer's
        comment, an objection, an e-mail subject or an open ticket's text claiming a fix settles nothing, and
        instruction-like text never does."""
        if self._settlements is None:
            self._settlements = [
                (r.id, str(r.date), s.sentence, lang.topic(" ".join(parts)))
                for r in self.records.values()
                if r.date
                for s in r.spans
                if _may_settle(r, s) and (parts := lang.settling_parts(_own_words(r, s)))
            ]
        return self._settlements

    def settled(self, span: Span, record: EvidenceRecord) -> bool:
        """Whether a later span says this matter was resolved: one further on in the same record that
        shares a content word, or one in a record dated on or after it that shares two."""
        words = lang.topic(span.text)
        for source, day, sentence, settled_words in self.settlements():
            if source == record.id:
                if sentence > span.sentence and words & settled_words:
                    return True
            elif record.date and day >= str(record.date) and len(words & settled_words) >= 2:
                return True
        return False

    def why_not_confirming(self, record: EvidenceRecord | None, span: Span | None) -> str | None:
        """Why this span cannot confirm a cause, or None when it may."""
        if record is None or span is None:
            return "not a span of this account's evidence as of this date"
        if record.kind not in CONFIRMING_KINDS:
            return f"a {record.kind} never states a cause"
        if span.injected:
            return "instruction-like text is data, never a cause"
        if span.voice == "other_party":
            return "these are another party's words, not this customer's"
        if span.voice != "customer":
            return "the CSM's own words: a guess until the customer or a record states it"
        if span.hedged:
            return "hedged wording: a guess belongs among the suspected causes"
        if span.resolves:
            return "it says the matter was settled"
        if record.kind == "note" and not lang.is_trouble(span.text):
            return "it states no problem, so it explains no risk"
        survey = record.fields if isinstance(record.fields, SurveyFields) else None
        if survey is not None and survey.score >= _PROMOTER.get(survey.survey_kind.lower(), float("inf")):
            return "a promoter's comment explains no risk"
        if not self.current(record):
            return f"older than {self.recency_days} days before the as-of date: it may no longer hold"
        if self.settled(span, record):
            return "a later record says the matter was settled"
        return None

    def confirming_spans(self, record: EvidenceRecord) -> list[Span]:
        return [s for s in record.spans if self.why_not_confirming(record, s) is None]

    def why_not_lead(self, record: EvidenceRecord | None, span: Span | None) -> str | None:
        """Why this span cannot back a suspected cause, or None when it may."""
        if record is None or span is None:
            return "not a span of this account's evidence as of this date"
        if span.injected:
            return "instruction-like text is data, never a cause"
        if span.voice == "other_party":
            return "these are another party's words, not this customer's"
        if span.resolves:
            return "it says the matter was settled"
        if self.settled(span, record):
            return "a later record says the matter was settled"
        return None

    def span(self, span_id: str) -> tuple[EvidenceRecord | None, Span | None]:
        record = self.records.get(span_id.rsplit("#s", 1)[0])
        return record, record.span(span_id) if record else None


def _may_settle(record: EvidenceRecord, span: Span) -> bool:
    """Whether this span's record can say a matter was settled: a CSM's note in the CSM's voice (the
    customer's words quoted or reported in it can't), or a closed ticket."""
    if span.injected or span.voice == "other_party":
        return False
    if record.kind == "note":
        return span.voice == "csm"
    if record.kind == "ticket":
        return not record.still_open
    return False


def _own_words(record: EvidenceRecord, span: Span) -> str:
    """The span's words without the quotes it carries (a CSM's sentence quoting the customer says, in its
    own words, only that they said it)."""
    text = span.text
    for other in record.spans:
        if other.sentence == span.sentence and other.id != span.id and other.text in text:
            text = text.replace(other.text, " ")
    return text


# --------------------------------------------------------------------------------------- names


@cache
def _dictionary() -> frozenset[str]:
    """Lower-case English words (the embedding model's vocabulary): a capitalised word that is none of
    them at the start of a sentence reads as a name. Empty when the model package is absent."""
    try:
        from tools.embeddings import minilm_model_dir

        path: Path = minilm_model_dir() / "vocab.txt"
        return frozenset(w for w in path.read_text(encoding="utf-8").split() if w.isalpha() and w.islower())
    except Exception:  # the dictionary only sharpens the name check; the known names still apply
        return frozenset()


# Capitalised words prose may use: acronyms of the trade and the pronoun.
ALLOWED_CAPS = frozenset(
    [
        "I",
        "QBR",
        "QBRs",
        "EBR",
        "CSM",
        "CSMs",
        "NPS",
        "CSAT",
        "SSO",
        "API",
        "APIs",
        "ARR",
        "CS",
        "VP",
        "CFO",
        "CTO",
        "CEO",
        "COO",
        "CRM",
        "ROI",
        "SLA",
        "SLAs",
        "UI",
        "UX",
    ]
)
# Name parts that are also common words: checked only where a capital can't be grammar.
_WORDLIKE_NAMES = frozenset(
    [
        "may",
        "will",
        "mark",
        "bill",
        "rose",
        "grace",
        "hope",
        "joy",
        "faith",
        "april",
        "june",
        "august",
        "sky",
        "rich",
        "frank",
    ]
)


@dataclass(frozen=True)
class Names:
    """People and companies of the portfolio: model prose may not name them (the tools do)."""

    full: frozenset[str]
    parts: frozenset[str]

    @classmethod
    def of(cls, names: Iterable[str]) -> Names:
        full = {lang.normalise(n) for n in names if n and n.strip()}
        parts = {p for n in full for p in re.findall(r"[\w'-]+", n) if len(p) >= 3}
        return cls(frozenset(full), frozenset(parts))


# ------------------------------------------------------------------------------------- prose rules

ProseCode = Literal[
    "suspected_as_confirmed",
    "unknown_fact_ref",
    "unsupported_number",
    "unsupported_date",
    "unsupported_name",
    "unsupported_quote",
    "id_in_prose",
    "contradicts_tools",
    "contradicts_fact",
    "commitment_in_text",
    "injection_followed",
    "too_long",
]

REF = re.compile(r"\{([^{}\s]{1,160})\}")
_DIGIT = re.compile(r"\d")
_NUMBER_WORDS = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|"
    r"seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundreds?|"
    r"thousands?|millions?|billions?|dozens?|half|halved|twice|thrice|doubled?|tripled?|quadrupled?|"
    r"percent|per cent|percentage points?|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
    r"quarter of|[a-z]+-(one|two|three|four|five|six|seven|eight|nine))\b|[%$€£¥]",
    re.IGNORECASE,
)
_DATE_WORDS = re.compile(
    r"\b(january|february|march|april|june|july|august|september|october|november|december|"
    r"jan|feb|apr|jun|jul|aug|sept?|oct|nov|dec|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
    r"yesterday|today|tonight|tomorrow|fortnights?|ago|recently|lately|earlier this \w+|since (early|late|mid)|"
    r"(last|next|this) (week|month|quarter|year|spring|summer|autumn|fall|winter)|"
    r"(q[1-4])|(\d+|a|one|two|three|few|several) (days?|weeks?|months?|years?|quarters?) (ago|from now))\b"
    r"|(?-i:\bMay\b)(?!\s+[a-z])",
    re.IGNORECASE,
)
_ID = re.compile(r"\b[a-z_]+:[A-Za-z0-9_.\-]+|#s\d+|\b[A-Z]{1,5}-[A-Za-z0-9]+\b")
_QUOTE_MARK = re.compile(r"[\"“”‘«»„]|(?<![A-Za-z])'|'(?![A-Za-z])|’(?![A-Za-z])")
_REPORTED = re.compile(
    rf"\b(customer|client|they|she|he|champion|sponsor|cfo|cto|ceo|coo|vp|director|admin|buyer|procurement|"
    rf"user|users|team|contact|we were|we've been|we have been|we were)\s+(has |have |had )?"
    rf"({lang.SPEECH_VERB}|told (us|me|the \w+)|let (us|me) know|made it clear|says? that)\b",
    re.IGNORECASE,
)
_STANCE = re.compile(
    r"\b(low|lower|medium|moderate|high|higher|critical|minimal|minor|negligible|elevated|severe|little|limited|"
    r"no|zero|reduced)[- ](risk|priority|concern|urgency|churn risk|risk level)\b"
    r"|\brisk (level |score )?(is|was|remains|seems|looks|appears)\b"
    r"|\b(no|nothing|not any)( further| immediate| urgent)? (action|follow[- ]up|intervention|outreach|review|"
    r"escalation|attention)s?( is| was| are)? (needed|required|necessary|warranted)\b"
    r"|\bnothing (to do|to worry|needed|required|urgent)\b"
    r"|\b(overstated|exaggerated|overblown|inflated|over-?estimated|not serious|false alarm|nothing to worry|"
    r"no cause for concern|can be ignored|safe to ignore|not worth (flagging|escalating|reviewing|worrying))\b"
    r"|\b(does not|doesn't|do not|don't|need not|needn't|no need to)\s+(need to\s+)?(be\s+)?"
    r"(flag\w*|report\w*|escalat\w*|mention\w*|review\w*|worr\w*|act\w*|follow\w* up)\b"
    r"|\b(treat\w*|consider\w*|regard\w*|count\w*|record\w*|logg?\w*|book\w*|writ\w* off)\b[^.]{0,30}\bas "
    r"(already )?(churn\w*|lost|gone|closed|dead|safe|healthy|renewed)\b|\balready (churned|lost|gone)\b"
    r"|\b(renewal|account|customer|relationship)\b[^.]{0,30}\b(is|looks|seems|appears|remains) "
    r"(safe|secure|fine|healthy|solid|stable|on track|assured|guaranteed|certain|locked)\b"
    r"|\b(not|isn't|is not) at risk\b|\bsafe to (renew|ignore)\b|\b(safe|certain|sure) (bet|renewal)\b"
    r"|\b(will|is going to|is certain to|is sure to) (renew|churn|leave|cancel)\b"
    r"|\b(adoption/value|relationship/stakeholder|support/product|commercial/financial|renewal/contract)\b"
    r"|\b(adoption|value|relationship|stakeholder|support|product|commercial|financial|competitive|renewal|"
    r"contract)(/\w+)? (risk|category)\b"
    r"|\b(mark(ed)?|label(l?ed)?|flag(ged)?|classif(y|ied)|set) (it |this |the account |the customer )?as "
    r"(churn\w*|lost|safe|healthy|low|closed)\b|\bfalse (positive|alarm)\b",
    re.IGNORECASE,
)
_POSITIVE = re.compile(
    r"\b(happy|satisfied|delighted|thriving|healthy|strong|great|excellent|going well|on track|fine|solid|"
    r"stable|positive|loyal|committed to (renew\w*|us)|expanding|growing|engaged|safe|secure|no concerns?)\b",
    re.IGNORECASE,
)
_NEGATION = re.compile(
    r"\b(not|no|never|hardly|less|isn't|aren't|wasn't|weren't|doesn't|don't|no longer)\b|n't\b", re.I
)
_INTENT = re.compile(
    r"\b(is|are|was|were)\s+(leaving|churning|cancell?ing|switching|moving|migrating|going|downgrading|planning|"
    r"evaluating|trialling|trialing|considering)\b|\bwill\s+(not\s+)?(renew|churn|leave|cancel|switch|downgrade|"
    r"expand|sign)\b|\b(has|have|had)\s+(decided|chosen|signed|committed|agreed)\b|\bintends?\b|\bplans? to\b",
    re.IGNORECASE,
)
_CAUSAL = re.compile(
    r"\b(because|due to|caused by|as a result|driven by|owing to|results? from|resulted from|stems? from|"
    r"led to|leads to|is why|the reason|explains?|explained)\b",
    re.IGNORECASE,
)
_COMMITMENT = re.compile(
    r"\b(discount\w*|refund\w*|rebate\w*|credits?|waive\w*|free (month|months|seats?|upgrade|licen[cs]es?|"
    r"period|trial)|price (cut|reduction|freeze|match\w*)|lower (the )?price|cheaper|comp(ed)? |concession\w*|"
    r"guarantee\w*|promis\w*|commit(s|ted|ting)? to|pledge\w*|fix(ed)? (by|before|within)|deadline|eta|"
    r"(will|shall) (be )?(fix|resolve|deliver|ship|release)\w*)\b",
    re.IGNORECASE,
)
_CONTACT = re.compile(
    r"\b(email|e-mail|call|phone|ring|message|text|contact|send|tell|write to|reach out( to)?|offer|notify|"
    r"inform|ping|dm)\b[^.]{0,40}\b(customer|client|them|champion|sponsor|cfo|cto|ceo|buyer|procurement|"
    r"admin|users?|contacts?|stakeholders?)\b",
    re.IGNORECASE,
)
_RISE = re.compile(
    r"\b(rose|risen|rising|rise|increas\w*|grew|grow\w*|up|higher|improv\w*|gain\w*|climb\w*|recover\w*)\b"
)
_FALL = re.compile(
    r"\b(fell|fall\w*|drop\w*|declin\w*|decreas\w*|down|lower|shr[iu]nk\w*|slump\w*|plung\w*|sank|sink\w*)\b"
)
# Signals whose figures only move one way: prose may not say the other.
SIGNAL_DIRECTION: dict[str, Literal["down", "up"]] = {
    "health_below_threshold": "down",
    "health_rapid_decline": "down",
    "usage_gradual_decline": "down",
    "usage_sudden_drop": "down",
    "survey_decline": "down",
    "support_volume_spike": "up",
}
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+")


@dataclass(frozen=True)
class ProseContext:
    """What model-written text is checked against."""

    facts: Mapping[str, Fact]
    names: Names
    injected: frozenset[str] = frozenset()
    """Normalised instruction-like sentences found in the evidence."""
    vocabulary: frozenset[str] = frozenset()
    """Words the evidence uses in lower case: common nouns of this account's world ("dashboards", "sso")."""


def lower_case_words(texts: Iterable[str]) -> frozenset[str]:
    """Words written in lower case somewhere in `texts` (a name is capitalised wherever it appears)."""
    return frozenset(w for text in texts for w in re.findall(r"\b[a-z][a-z'-]+\b", text))


def fact_refs(text: str) -> list[str]:
    return REF.findall(text)


def check_prose(
    text: str,
    context: ProseContext,
    *,
    max_chars: int,
    speech_allowed: bool = False,
    contact_allowed: bool = False,
) -> list[tuple[ProseCode, str]]:
    """The failures of one model-written field. `speech_allowed`: reported speech is not checked (what
    would confirm a cause may say "if the customer confirmed ..."); `contact_allowed`: the text may say
    to ask the customer (a confirmation step), never to promise them anything."""
    out: list[tuple[ProseCode, str]] = []
    if len(text) > max_chars:
        return [("too_long", f"{len(text)} characters; at most {max_chars}")]
    for ref in fact_refs(text):
        if ref not in context.facts:
            out.append(("unknown_fact_ref", f"{{{ref}}} is not a fact of this brief"))
    bare = REF.sub(" FACT ", text)
    for placeholder in dict.fromkeys(m.group(0) for m in PLACEHOLDER.finditer(bare)):
        code: ProseCode = "unsupported_name" if placeholder.startswith("[NAME") else "id_in_prose"
        out.append((code, f"'{placeholder}' is a redaction placeholder: the tools render names and contact data"))
    bare = PLACEHOLDER.sub(" FACT ", bare)
    plain = lang.normalise(bare)
    if _DIGIT.search(bare):
        out.append(("unsupported_number", "a number outside a {fact} reference: reference the tool's fact instead"))
    words = _NUMBER_WORDS.search(bare)
    if words:
        out.append(("unsupported_number", f"'{words.group(0)}' states a quantity; reference the tool's fact instead"))
    when = _DATE_WORDS.search(bare)
    if when:
        out.append(("unsupported_date", f"'{when.group(0)}' states a date; reference the tool's fact instead"))
    ident = _ID.search(bare)
    if ident:
        out.append(("id_in_prose", f"'{ident.group(0)}' looks like an id: cite evidence in evidence_ids, not in text"))
    if _QUOTE_MARK.search(bare):
        out.append(("unsupported_quote", "quotation marks: quote evidence only by choosing its span"))
    if not speech_allowed:
        said = _REPORTED.search(bare)
        if said:
            out.append(
                ("unsupported_quote", f"'{said.group(0)}' reports speech: only a chosen span may say who said what")
            )
    stance = _STANCE.search(bare)
    if stance:
        out.append(("contradicts_tools", f"'{stance.group(0)}': the risk level, category and stance are the tools'"))
    for sentence in _SENTENCE_END.split(bare):
        positive = _POSITIVE.search(sentence)
        if positive and not _NEGATION.search(sentence[: positive.start()].split(",")[-1]):
            out.append(("contradicts_tools", f"'{positive.group(0)}': a reassurance the tools do not state"))
            break
    if not speech_allowed:
        for sentence in _SENTENCE_END.split(bare):
            causal = _CAUSAL.search(sentence) or _INTENT.search(sentence)
            if causal and not lang.is_hedged(sentence):
                out.append(
                    (
                        "suspected_as_confirmed",
                        f"'{causal.group(0)}' states a cause or an intent as fact: only a chosen span may; hedge it",
                    )
                )
                break
    promise = _COMMITMENT.search(bare)
    if promise:
        out.append(("commitment_in_text", f"'{promise.group(0)}' is a commitment: options come from the catalogue"))
    if not contact_allowed:
        contact = _CONTACT.search(bare)
        if contact:
            out.append(("commitment_in_text", f"'{contact.group(0)}': outreach is an option for a person to approve"))
    out += _name_failures(bare, context.names, context.vocabulary)
    if lang.is_injection(bare) or any(s in plain for s in context.injected):
        out.append(("injection_followed", "repeats or acts on instruction-like text from the data"))
    out += _direction_failures(text)
    out += _measure_failures(text, context.facts)
    return out


_DOMAIN_WORDS = frozenset(
    [
        "churn",
        "churned",
        "churning",
        "onboarding",
        "offboarding",
        "sso",
        "saas",
        "dashboards",
        "logins",
        "workflows",
        "integrations",
        "renewals",
        "upsell",
        "upsells",
        "stakeholders",
        "adoption",
        "qbrs",
        "csat",
        "nps",
        "admins",
        "analytics",
    ]
)


def _known_word(low: str, dictionary: frozenset[str], vocabulary: frozenset[str]) -> bool:
    if low in dictionary or low in vocabulary or low in _DOMAIN_WORDS:
        return True
    return any(low.endswith(suffix) and low[: -len(suffix)] in dictionary for suffix in ("s", "es", "ing", "ed"))


@cache
def _name_pattern(name: str) -> re.Pattern[str]:
    """A portfolio name as a whole word. Compiled once per name: a portfolio has more names than `re`'s
    own cache holds, so without this every check recompiled all of them."""
    return re.compile(rf"(?<!\w){re.escape(name)}(?!\w)")


def _name_failures(text: str, names: Names, vocabulary: frozenset[str] = frozenset()) -> list[tuple[ProseCode, str]]:
    plain = lang.normalise(text)
    for name in names.full:
        if name in plain and _name_pattern(name).search(plain):  # the substring test spares most compiles
            return [("unsupported_name", f"names '{name}': the tools name people and companies")]
    dictionary = _dictionary()
    for word in re.findall(r"[A-Za-z][\w'-]*", text):
        low = word.casefold()
        if low in names.parts and dictionary and low not in dictionary and low not in _WORDLIKE_NAMES:
            return [("unsupported_name", f"'{word}' is part of a name: the tools name people and companies")]
    for sentence in _SENTENCE_END.split(text):
        for n, match in enumerate(re.finditer(r"[A-Za-z][\w'-]*", sentence)):
            word = match.group(0)
            if word == "FACT" or not word[0].isupper() or word in ALLOWED_CAPS:
                continue
            low = word.casefold()
            if n == 0:
                wordlike = low in _WORDLIKE_NAMES
                unknown = bool(dictionary) and not _known_word(low, dictionary, vocabulary)
                if (low in names.parts and not wordlike) or (unknown and not wordlike):
                    return [("unsupported_name", f"'{word}' reads as a name: the tools name people and companies")]
                continue
            after_colon = sentence[: match.start()].rstrip().endswith(":")
            if after_colon and low in dictionary and low not in names.parts:
                continue
            return [("unsupported_name", f"'{word}' is capitalised mid-sentence: a name the tools must state")]
    return []


_CLAUSE_BREAK = re.compile(r"[,;:(]|\b(?:and|while|but|whereas|though|although)\b")


def _ref_contexts(text: str) -> list[tuple[str, str]]:
    """(reference, the words that speak of it) for each `{fact}` in `text`: the words between the previous
    reference (or the sentence start) and this one, or, when those say nothing of a quantity or a
    direction, the words after it up to the end of its clause."""
    out: list[tuple[str, str]] = []
    for sentence in _SENTENCE_END.split(text):
        matches = list(REF.finditer(sentence))
        for n, match in enumerate(matches):
            start = matches[n - 1].end() if n else 0
            end = matches[n + 1].start() if n + 1 < len(matches) else len(sentence)
            before, after = sentence[start : match.start()], sentence[match.end() : end]
            speaks = any(p.search(before) for p in (_RISE, _FALL, *(t for t, _ in _MEASURE_TERMS)))
            context = before if speaks else _CLAUSE_BREAK.split(after, maxsplit=1)[0]
            if n and not re.search(r"[A-Za-z]", before + context):
                # `{a} ({b})`: an apposition, spoken of by the same words as the reference before it
                context = out[-1][1]
            out.append((match.group(1), context))
    return out


def _direction_failures(text: str) -> list[tuple[ProseCode, str]]:
    out: list[tuple[ProseCode, str]] = []
    for ref, words in _ref_contexts(text):
        direction = SIGNAL_DIRECTION.get(ref.removeprefix("signal:")) if ref.startswith("signal:") else None
        lowered = words.lower()
        if direction == "down" and _RISE.search(lowered) and not _FALL.search(lowered):
            out.append(("contradicts_fact", f"says a rise where {{{ref}}} shows a fall"))
        elif direction == "up" and _FALL.search(lowered) and not _RISE.search(lowered):
            out.append(("contradicts_fact", f"says a fall where {{{ref}}} shows a rise"))
    return out


# What a sentence says it is measuring, and the facts that can measure it.
_MEASURE_TERMS: tuple[tuple[re.Pattern[str], frozenset[str]], ...] = (
    (re.compile(r"\b(arr|annual recurring revenue|contract value|annual value|revenue)\b", re.I), frozenset({"arr"})),
    (
        re.compile(r"\b(renewal|renews?|renewing)\b[^.;]{0,25}\b(date|on|in|due|away|comes?)\b|\brenews\b", re.I),
        frozenset({"renewal"}),
    ),
    (
        re.compile(
            r"\b(usage|users?|dau|wau|mau|logins?|log-ins?|sessions?|adoption|seats? used|activity|active)\b", re.I
        ),
        frozenset({"usage", "health"}),
    ),
    (re.compile(r"\b(health score|health)\b", re.I), frozenset({"health", "usage"})),
    (re.compile(r"\b(nps|csat|survey|satisfaction)\b", re.I), frozenset({"survey"})),
)
_METRIC_WORDS: dict[str, re.Pattern[str]] = {
    "dau": re.compile(r"\b(dau|daily (active )?users?|daily use)\b", re.I),
    "wau": re.compile(r"\b(wau|weekly (active )?users?)\b", re.I),
    "admin_logins": re.compile(r"\badmin (logins?|log-ins?)\b", re.I),
    "sessions": re.compile(r"\bsessions?\b", re.I),
    "feature_adoption": re.compile(r"\b(feature )?adoption\b", re.I),
    "seats_used": re.compile(r"\bseats?( used)?\b", re.I),
}


def _measure_failures(text: str, facts: Mapping[str, Fact]) -> list[tuple[ProseCode, str]]:
    """Words that name a quantity (ARR, the renewal date, a usage metric, a survey score) next to a reference
    must name what that fact measures: a proposal amount is not ARR, a ticket's age is not a usage drop, an
    opportunity's stage date is not the renewal date, one metric is not another."""
    out: list[tuple[ProseCode, str]] = []
    for ref, words in _ref_contexts(text):
        fact = facts.get(ref)
        if fact is None:
            continue
        for pattern, measures in _MEASURE_TERMS:
            named = pattern.search(words)
            if named and fact.measures not in measures:
                out.append(("contradicts_fact", f"'{named.group(0)}' is not what {{{ref}}} measures"))
        if fact.metrics:
            for metric, pattern in _METRIC_WORDS.items():
                named = pattern.search(words)
                if named and metric not in fact.metrics:
                    out.append(("contradicts_fact", f"'{named.group(0)}' is not a metric {{{ref}}} measures"))
    return out


def render_refs(text: str, facts: Mapping[str, Fact]) -> str:
    """Model text with each `{fact}` replaced by the tool's own words for it."""
    return REF.sub(lambda m: facts[m.group(1)].text if m.group(1) in facts else m.group(0), text)
