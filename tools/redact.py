"""Sensitive text stays in: what goes to an external model endpoint carries placeholders, not people's data.

Before a prompt leaves the machine, e-mail addresses, phone numbers, payment card numbers (Luhn-checked),
national id numbers (US SSN, UK National Insurance numbers, and numbers introduced as a passport, tax or
national id) and, when configured, people's names (contacts, note authors, survey respondents, the CSM)
are replaced by stable placeholders: `[EMAIL-1]`, `[PHONE-2]`, `[CARD-1]`, `[ID-1]`, `[NAME-3]`. One
`Redactor` serves one brief: the same value gets the same placeholder everywhere in its prompts (the
draft and the repair), so the model can still tell two contacts apart.

Nothing is mapped back into the brief: the model only chooses span ids and writes `{fact}` references,
and the tools render the brief from the original records. The only values restored are the ids and
`{fact}` keys the prompt showed redacted (a contact's id carries the contact's name), so the model's
citations still resolve (`Redactor.restore_ref`). A placeholder anywhere else in model prose is a
failure (`tools.rulebook.check_prose`).

Pure functions and one small class; no I/O except `names_enabled`, which reads the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from tools import text as lang

Kind = Literal["EMAIL", "PHONE", "CARD", "ID", "NAME"]
KINDS: tuple[Kind, ...] = ("EMAIL", "PHONE", "CARD", "ID", "NAME")

PLACEHOLDER = re.compile(r"\[(EMAIL|PHONE|CARD|ID|NAME)-\d+\]")
"""A redaction placeholder, as the prompt carries it."""

NAMES_ENV = "RISKBRIEF_REDACT_NAMES"
_names_from_config = False


def set_config_names(enabled: bool) -> None:
    """`[privacy] redact_names` from riskbrief.toml (the environment variable wins either way)."""
    global _names_from_config
    _names_from_config = enabled


def names_enabled() -> bool:
    """Whether people's names are redacted too: `RISKBRIEF_REDACT_NAMES=1` (or true/yes/on; 0/false/no/off
    turns it off), else `[privacy] redact_names` in riskbrief.toml."""
    env = os.environ.get(NAMES_ENV, "").strip().casefold()
    if env:
        return env in ("1", "true", "yes", "on")
    return _names_from_config


# ------------------------------------------------------------------------------------------ patterns

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# 13 to 19 digits written as card numbers are: contiguous, in groups of four, or Amex's 4-6-5.
_CARD = re.compile(
    r"(?<![\w-])(?:\d{13,19}|\d{4}(?:[ -]\d{4}){2}[ -]\d{1,7}|\d{4}[ -]\d{6}[ -]\d{5})(?![\w-])"
)
# US Social Security numbers (never 000, 666 or 9xx in the area, 00 in the group, 0000 in the serial).
_SSN = re.compile(r"(?<![\w-])(?!000|666|9\d\d)\d{3}([- ])(?!00)\d{2}\1(?!0000)\d{4}(?![\w-])")
_SSN_LABELLED = re.compile(r"\b(?:ssn|social security(?: number| no\.?)?)\s*[:#]?\s*(\d{9})\b", re.IGNORECASE)
# UK National Insurance numbers: two prefix letters (not BG, GB, KN, NK, NT, TN, ZZ), six digits, A-D.
_NINO = re.compile(
    r"(?<![\w-])(?!BG|GB|KN|NK|NT|TN|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?\d{2} ?\d{2} ?\d{2} ?[A-D](?![\w-])",
    re.IGNORECASE,
)
# Any number introduced as a national, tax or passport id: "passport no. X1234567", "DNI 12345678Z".
_ID_LABELLED = re.compile(
    r"\b(?:national (?:id|identity|insurance)(?: card)?(?: number| no\.?)?|passport(?: number| no\.?)?|"
    r"tax (?:id|number|identification number)|tin|sin|nino|bsn|dni|nie|nif|cpf|codice fiscale|personnummer|"
    r"steuer-?id|sozialversicherungsnummer|id card(?: number| no\.?)?|identity card(?: number| no\.?)?|"
    r"num[ée]ro de s[ée]curit[ée] sociale)\s*[:#]?\s*"
    r"([A-Z]{0,3}\d[\dA-Z./-]{3,20}(?: \d[\dA-Z./-]{0,10}){0,4})",
    re.IGNORECASE,
)
_PHONE_PATTERNS = (
    # international: +44 20 7946 0958, +1 (415) 555-0199, +33 1 23 45 67 89
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?![\w-])"),
    # North American: (415) 555-0199, 415-555-0199, 415.555.0199, 415 555 0199
    re.compile(r"(?<![\w(-])(?:\(\d{3}\)\s?|\d{3}[-. ])\d{3}[-. ]\d{4}(?![\w-])"),
    # national with a trunk 0: 020 7946 0958, 07700 900123, 030 12345678, 01 23 45 67 89
    re.compile(r"(?<![\w-])0\d{1,4}(?:[ .-]?\d{2,8}){1,4}(?![\w-])"),
    # introduced as a phone number: "tel: 5550199", "call me on 555 0199"
    re.compile(
        r"\b(?:phone|tel|telephone|mobile|cell|fax|whatsapp|call (?:me|us|him|her|them) (?:on|at))\s*[.:#]?\s*"
        r"(?P<v>\+?\d[\d ().-]{5,18}\d)(?![\w-])",
        re.IGNORECASE,
    ),
)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum payment card numbers carry."""
    if not digits.isdigit():
        return False
    total = 0
    for n, char in enumerate(reversed(digits)):
        d = int(char)
        if n % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@dataclass(frozen=True)
class Finding:
    """One sensitive value in a text: its kind, where it is, and the key it is known by."""

    kind: Kind
    start: int
    end: int
    key: str


def _overlaps(found: list[Finding], start: int, end: int) -> bool:
    return any(f.start < end and start < f.end for f in found)


def find_sensitive(text: str) -> list[Finding]:
    """E-mail addresses, payment card numbers, national ids and phone numbers in `text`, in order, not
    overlapping (names are the `Redactor`'s: they need the portfolio's list)."""
    found: list[Finding] = []

    def add(kind: Kind, start: int, end: int, key: str) -> None:
        if not _overlaps(found, start, end):
            found.append(Finding(kind, start, end, key))

    for m in _EMAIL.finditer(text):
        add("EMAIL", m.start(), m.end(), m.group(0).casefold())
    for m in _CARD.finditer(text):
        digits = _digits(m.group(0))
        if 13 <= len(digits) <= 19 and luhn_ok(digits) and len(set(digits)) > 1:
            add("CARD", m.start(), m.end(), digits)
    for m in _SSN.finditer(text):
        add("ID", m.start(), m.end(), _digits(m.group(0)))
    for pattern in (_SSN_LABELLED, _ID_LABELLED):
        for m in pattern.finditer(text):
            value = m.group(1).rstrip(".-/ ")
            if len(_digits(value)) >= 5:
                add("ID", m.start(1), m.start(1) + len(value), re.sub(r"[^0-9A-Z]", "", value.upper()))
    for m in _NINO.finditer(text):
        add("ID", m.start(), m.end(), re.sub(r"\s", "", m.group(0).upper()))
    for pattern in _PHONE_PATTERNS:
        for m in pattern.finditer(text):
            group = "v" if "v" in pattern.groupindex else 0
            value = m.group(group).rstrip(" .-(")
            digits = _digits(value)
            if 7 <= len(digits) <= 15 and not _ISO_DATE.match(value):
                add("PHONE", m.start(group), m.start(group) + len(value), digits)
    return sorted(found, key=lambda f: f.start)


# ---------------------------------------------------------------------------------------- the redactor

# Name parts that are also words often capitalised (months, modal verbs at a sentence's start): redacted
# only as part of a full name.
_WORDLIKE = frozenset(
    [
        *("may", "will", "mark", "bill", "rose", "grace", "hope", "joy", "faith", "april", "june", "august"),
        *("rich", "frank", "dawn", "summer", "sky", "art", "chase", "price", "case", "long", "young"),
    ]
)


def _name_keys(name: str) -> tuple[str, list[str]]:
    """The key a person is known by, and the parts of their name that stand for them alone."""
    full = lang.normalise(name)
    parts = [p for p in re.findall(r"[\w'-]+", name) if len(p) >= 3 and p.casefold() not in _WORDLIKE]
    return full, parts


@dataclass
class Redactor:
    """Placeholders for one brief. `names`: people's names to redact (empty: none are)."""

    names: Iterable[str] = ()
    placeholders: dict[tuple[Kind, str], str] = field(default_factory=dict)
    """(kind, key) -> placeholder, in the order they were first met."""
    originals: dict[str, str] = field(default_factory=dict)
    """placeholder -> the first text it replaced."""
    refs: dict[str, str] = field(default_factory=dict)
    """redacted id or `{fact}` key -> the original (only those redaction changed)."""

    def __post_init__(self) -> None:
        people: dict[str, list[str]] = {}
        for name in self.names:
            if name and name.strip():
                full, parts = _name_keys(name)
                people.setdefault(full, parts)
        # Longest first, so "Dana Reyes" wins over "Dana"; parts are matched with their capital.
        fulls = sorted(people, key=len, reverse=True)
        self._full = (
            re.compile("|".join(rf"(?<![\w@]){_loose(f)}(?![\w@])" for f in fulls), re.IGNORECASE) if fulls else None
        )
        part_of = {p: full for full in fulls for p in people[full]}
        self._part_of = part_of
        self._part = (
            re.compile("|".join(rf"(?<![\w@]){re.escape(p)}(?![\w@])" for p in sorted(part_of, key=len, reverse=True)))
            if part_of
            else None
        )

    @classmethod
    def for_brief(cls, names: Iterable[str] = (), *, redact_names: bool | None = None) -> Redactor:
        """A redactor for one brief; `names` are redacted only when `redact_names` (default: the
        environment switch, `names_enabled()`)."""
        enabled = names_enabled() if redact_names is None else redact_names
        return cls(names=sorted({n for n in names if n and n.strip()}) if enabled else ())

    def placeholder(self, kind: Kind, key: str, original: str) -> str:
        found = self.placeholders.get((kind, key))
        if found is None:
            count = sum(1 for k, _ in self.placeholders if k == kind) + 1
            found = self.placeholders[(kind, key)] = f"[{kind}-{count}]"
            self.originals[found] = original
        return found

    def _names(self, text: str) -> str:
        if self._full is not None:
            text = self._full.sub(lambda m: self.placeholder("NAME", lang.normalise(m.group(0)), m.group(0)), text)
        if self._part is not None:
            text = self._part.sub(lambda m: self.placeholder("NAME", self._part_of[m.group(0)], m.group(0)), text)
        return text

    def _segment(self, text: str) -> str:
        out, at = [], 0
        for f in find_sensitive(text):
            out += [self._names(text[at : f.start]), self.placeholder(f.kind, f.key, text[f.start : f.end])]
            at = f.end
        out.append(self._names(text[at:]))
        return "".join(out)

    def redact(self, text: str) -> str:
        """`text` with every sensitive value replaced by its placeholder (placeholders already in it stay)."""
        if not text:
            return text
        out, at = [], 0
        for m in PLACEHOLDER.finditer(text):
            out += [self._segment(text[at : m.start()]), m.group(0)]
            at = m.end()
        out.append(self._segment(text[at:]))
        return "".join(out)

    def redact_ref(self, ref: str) -> str:
        """An id or `{fact}` key as the prompt shows it; remembered so the model's citation of it can be
        restored (`restore_ref`)."""
        shown = self.redact(ref)
        if shown != ref:
            self.refs[shown] = ref
        return shown

    def restore_ref(self, ref: str) -> str:
        """The original of an id or key the prompt showed redacted; anything else unchanged."""
        if ref in self.refs:
            return self.refs[ref]
        record, sep, tail = ref.rpartition("#s")  # a span of a redacted record id
        if sep and tail.isdigit() and record in self.refs:
            return f"{self.refs[record]}#s{tail}"
        return ref

    def restore_refs_in(self, text: str) -> str:
        """`text` with each `{key}` the prompt showed redacted restored; placeholders elsewhere stay."""
        if not self.refs:
            return text
        return re.sub(r"\{([^{}\s]{1,160})\}", lambda m: "{" + self.restore_ref(m.group(1)) + "}", text)


def _loose(name: str) -> str:
    """A pattern for a normalised full name that allows any run of spaces between its words."""
    return r"\s+".join(re.escape(w).replace("'", "['’]") for w in name.split())


def redact(text: str, names: Iterable[str] = ()) -> str:
    """`text` with its sensitive values replaced by placeholders (one-off; a brief uses one `Redactor`)."""
    return Redactor(names=names).redact(text)
