"""Redaction before a model call (tools.redact, and the prompt renderers of agent.llm): contact data and,
when configured, people's names become stable placeholders; nothing else in the prompt changes; a
placeholder in model prose fails verification."""

from __future__ import annotations

import pytest
from brief_fixtures import ENTRY, NAMES, POOL, facts, note, survey

from agent import llm
from agent.brief import BriefDraft
from tools.evidence import ContactFields, EvidenceRecord, email_record
from tools.redact import PLACEHOLDER, Redactor, find_sensitive, luhn_ok, names_enabled, redact
from tools.rulebook import ProseContext, check_prose

# --------------------------------------------------------------------------------------------- patterns


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("Write to dana.reyes+csm@quill-analytics.co.uk today", "EMAIL", "dana.reyes+csm@quill-analytics.co.uk"),
        ("Call +44 20 7946 0958 after lunch", "PHONE", "+44 20 7946 0958"),
        ("Call +1 (415) 555-0199 after lunch", "PHONE", "+1 (415) 555-0199"),
        ("Her line is (415) 555-0199.", "PHONE", "(415) 555-0199"),
        ("Her line is 415-555-0199.", "PHONE", "415-555-0199"),
        ("Her line is 415.555.0199.", "PHONE", "415.555.0199"),
        ("Office 020 7946 0958, ask for billing", "PHONE", "020 7946 0958"),
        ("Mobile 07700 900123 after five", "PHONE", "07700 900123"),
        ("Paris: 01 23 45 67 89", "PHONE", "01 23 45 67 89"),
        ("tel: 5550199", "PHONE", "5550199"),
        ("Card 4111 1111 1111 1111 on file", "CARD", "4111 1111 1111 1111"),
        ("Card 4111-1111-1111-1111 on file", "CARD", "4111-1111-1111-1111"),
        ("Card 5500005555555559 on file", "CARD", "5500005555555559"),
        ("Amex 3782 822463 10005 on file", "CARD", "3782 822463 10005"),
        ("SSN 078-05-1120 was read out", "ID", "078-05-1120"),
        ("ssn: 078051120", "ID", "078051120"),
        ("NI number AB 12 34 56 C for payroll", "ID", "AB 12 34 56 C"),
        ("NI number JG103759A for payroll", "ID", "JG103759A"),
        ("passport no. X1234567 attached", "ID", "X1234567"),
        ("DNI 12345678Z", "ID", "12345678Z"),
    ],
)
def test_sensitive_values_are_found(text: str, kind: str, value: str) -> None:
    found = find_sensitive(text)
    assert [(f.kind, text[f.start : f.end]) for f in found] == [(kind, value)]
    assert value not in redact(text) and f"[{kind}-1]" in redact(text)


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1112 failed the checksum",  # not Luhn-valid: no card
        "usage:A-017:dau:2026-08-01 and ticket:T-0123456 and survey:A-1:2026-11-01:nps",
        "Renewal on 2026-11-20, ARR $85,000, 10k rows, release 4.2.1, 0.123456789",
        "Invoice INV-2026-000123 for 120000 USD, PO 4500012345",
        "SSN-like 666-12-3456 and 123-00-4567 and 912-34-5678 are never issued",
        "ids NA-1, TA-3, O-17, M-2; score 58 of 100; 3 tickets in 30 days",
        "The build 20261120093000 ran",
    ],
)
def test_ordinary_numbers_and_ids_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_luhn() -> None:
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005")
    assert not luhn_ok("4111111111111112") and not luhn_ok("41111x")


# ------------------------------------------------------------------------------------------ placeholders


def test_placeholders_are_stable_per_brief_and_numbered_per_kind() -> None:
    r = Redactor()
    first = r.redact("Mail a@x.io or b@x.io, call 415-555-0199.")
    again = r.redact("Again: b@x.io, A@X.IO and (415) 555-0199 once more")
    assert first == "Mail [EMAIL-1] or [EMAIL-2], call [PHONE-1]."
    assert again == "Again: [EMAIL-2], [EMAIL-1] and [PHONE-1] once more"  # same value, same placeholder
    assert r.originals["[EMAIL-1]"] == "a@x.io"
    assert r.redact(first) == first  # placeholders stay as they are
    assert all(PLACEHOLDER.fullmatch(p) for p in r.originals)
    # a fresh redactor starts again: placeholders belong to one brief
    assert Redactor().redact("b@x.io") == "[EMAIL-1]"


def test_names_only_when_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    text = "Dana Reyes said Dana's team and dana reyes agree; Whitlock too. May will mark the renewal."
    people = ["Dana Reyes", "Owen Whitlock", "May Chen", "Mark Stone"]
    monkeypatch.delenv("RISKBRIEF_REDACT_NAMES", raising=False)
    assert not names_enabled() and Redactor.for_brief(people).redact(text) == text
    for value in ("1", "true", "yes", "on"):
        monkeypatch.setenv("RISKBRIEF_REDACT_NAMES", value)
        assert names_enabled()
    monkeypatch.setenv("RISKBRIEF_REDACT_NAMES", "0")
    assert not names_enabled()
    redacted = Redactor.for_brief(people, redact_names=True).redact(text)
    assert redacted == "[NAME-1] said [NAME-1]'s team and [NAME-1] agree; [NAME-2] too. May will mark the renewal."


def test_ids_shown_redacted_are_restored() -> None:
    r = Redactor(names=["Kara Kim"])
    contact = "contact:A-1:2026-11-02:Kara Kim"
    shown = r.redact_ref(contact)
    assert shown == "contact:A-1:2026-11-02:[NAME-1]"
    assert r.redact_ref("ticket:T-4") == "ticket:T-4" and "ticket:T-4" not in r.refs
    assert r.restore_ref(shown) == contact
    assert r.restore_ref(f"{shown}#s0") == f"{contact}#s0"
    assert r.restore_ref("note:N-1#s2") == "note:N-1#s2"
    key = r.redact_ref(f"{contact}.summary")
    assert r.restore_refs_in(f"Since {{{key}}}, [NAME-1] is gone.") == f"Since {{{contact}.summary}}, [NAME-1] is gone."


# ---------------------------------------------------------------------------------------------- the prompt


def _contact() -> EvidenceRecord:
    return EvidenceRecord(
        id="contact:A-1:2026-11-02:Kara Kim",
        kind="contact",
        date="2026-11-02",
        account_id="A-1",
        fields=ContactFields(contact_name="Kara Kim", role="champion", event="departed"),
    )


def test_the_prompt_renderers_redact_every_field(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKBRIEF_REDACT_NAMES", "1")
    leaky = note("N-30", "2026-11-15", "Owen Park (owen@techstart.example, 415-555-0199) paid with 4111111111111111.")
    subject = email_record(
        "E-30", "A-1", "2026-11-15", "inbound", "Call me on 07700 900123", contact_name="Kara Kim"
    )
    assert subject is not None
    pool = POOL | {r.id: r for r in (leaky, subject, _contact(), survey("2026-11-16", 4, "SSN 078-05-1120 ok?"))}
    values = llm._common_values(facts(ENTRY, pool), ENTRY.active_signals, pool)
    prompt = "\n".join(values.values())
    for value in (
        "owen@techstart.example", "415-555-0199", "4111111111111111", "07700 900123", "078-05-1120",
        "Owen Park", "Owen", "Kara Kim", "Priya Patel", "Priya",
    ):  # fmt: skip
        assert value not in prompt, value
    assert "contact:A-1:2026-11-02:[NAME-" in prompt and "[CARD-1]" in prompt and "[ID-1]" in prompt
    # the same brief renders the same placeholders every time (the draft and its repair agree)
    assert llm._common_values(facts(ENTRY, pool), ENTRY.active_signals, pool) == values
    # without the switch, names stay and contact data still goes
    monkeypatch.delenv("RISKBRIEF_REDACT_NAMES")
    plain = "\n".join(llm._common_values(facts(ENTRY, pool), ENTRY.active_signals, pool).values())
    assert "Owen Park" in plain and "Kara Kim" in plain and "owen@techstart.example" not in plain
    # nothing else changes: a pool without contact data renders as it did before redaction existed
    assert llm.render_evidence(POOL) == llm.render_evidence(POOL, Redactor())


def test_a_reply_citing_a_redacted_id_is_restored() -> None:
    r = Redactor(names=["Kara Kim"])
    shown = r.redact_ref("contact:A-1:2026-11-02:Kara Kim")
    draft = BriefDraft.model_validate(
        {
            "summary": "The champion left, {signal:champion_departure}; [NAME-1] owned the exports.",
            "summary_evidence_ids": [shown, "note:N-1"],
            "risk_category": "relationship/stakeholder",
            "next_action_options": [{"kind": "stakeholder_mapping", "signals": ["champion_departure"]}],
        }
    )
    reply = llm.ModelReply(draft=draft, error=None, raw="{}", input_tokens=1, output_tokens=1, prompt_version="v")
    restored = llm._restore_refs(reply, r).draft
    assert isinstance(restored, BriefDraft)
    assert restored.summary_evidence_ids == ["contact:A-1:2026-11-02:Kara Kim", "note:N-1"]
    assert "[NAME-1]" in restored.summary  # prose is not un-redacted: the verifier rejects the placeholder


# ------------------------------------------------------------------------------------- the verifier's rule


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Exports keep failing for [NAME-1].", "unsupported_name"),
        ("Billing questions go to [EMAIL-1].", "id_in_prose"),
        ("The team may reach the sponsor on [PHONE-2].", "id_in_prose"),
        ("A payment on [CARD-1] may have failed.", "id_in_prose"),
    ],
)
def test_a_placeholder_in_model_prose_fails(text: str, code: str) -> None:
    failures = check_prose(text, ProseContext(facts=facts(), names=NAMES), max_chars=600)
    assert (code, f"'{PLACEHOLDER.search(text).group(0)}' is a redaction placeholder: the tools render "  # type: ignore[union-attr]
            "names and contact data") in failures
    assert len(failures) == 1, failures  # one failure, not a cascade of name and id ones


def test_names_switched_by_riskbrief_toml(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """`[privacy] redact_names = true` turns name redaction on; the environment variable wins both ways."""
    from tools import redact
    from tools.config import load_config

    monkeypatch.delenv("RISKBRIEF_REDACT_NAMES", raising=False)
    monkeypatch.setattr(redact, "_names_from_config", False)
    (tmp_path / "riskbrief.toml").write_text("[privacy]\nredact_names = true\n")
    load_config(tmp_path)
    assert names_enabled()
    monkeypatch.setenv("RISKBRIEF_REDACT_NAMES", "off")
    assert not names_enabled()
    monkeypatch.delenv("RISKBRIEF_REDACT_NAMES")
    (tmp_path / "riskbrief.toml").write_text("[privacy]\nredact_names = false\n")
    load_config(tmp_path)
    assert not names_enabled()
    (tmp_path / "riskbrief.toml").write_text('[privacy]\nredact_names = "yes"\n')
    with pytest.raises(Exception, match="redact_names"):
        load_config(tmp_path)
