"""The bundled sample portfolio: files, columns, ids, the TechStart demo account, deterministic regeneration."""

from __future__ import annotations

import csv
import tomllib
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from tools.sample import SAMPLE_AS_OF, portfolio_dir
from tools.sample.generate import write

# Column lists of spec/data-format.md, in order (health components are the sample's extra columns).


def _words(text: str) -> list[str]:
    return text.split()


SPEC_COLUMNS: dict[str, list[str]] = {
    "accounts": _words("account_id name arr renewal_date segment csm_owner licenses contract_start goals"),
    "health_scores": _words("account_id date score usage support engagement sentiment"),
    "usage": _words("account_id period_start metric value"),
    "tickets": _words("ticket_id account_id opened_at closed_at priority status escalated sentiment subject body"),
    "surveys": _words("account_id date kind score respondent comment"),
    "contact_events": _words("account_id date contact_name role event title detail source"),
    "meetings": _words("meeting_id account_id date kind status attendees attendee_roles"),
    "emails": _words("email_id account_id sent_at direction contact_name contact_role subject"),
    "invoices": _words("invoice_id account_id issued_on due_on paid_on amount currency"),
    "opportunities": _words("opportunity_id account_id kind stage stage_entered_on close_date amount objection"),
    "notes": _words("note_id account_id date author text"),
    "outcomes": _words("account_id date outcome"),
}
ID_COLUMNS = {
    "accounts": "account_id",
    "tickets": "ticket_id",
    "meetings": "meeting_id",
    "emails": "email_id",
    "invoices": "invoice_id",
    "opportunities": "opportunity_id",
    "notes": "note_id",
}
DATE_COLUMNS = {
    "accounts": "renewal_date",
    "health_scores": "date",
    "usage": "period_start",
    "tickets": "opened_at",
    "surveys": "date",
    "contact_events": "date",
    "meetings": "date",
    "emails": "sent_at",
    "invoices": "issued_on",
    "opportunities": "stage_entered_on",
    "notes": "date",
    "outcomes": "date",
}
TECHSTART = "A-017"


def _read(name: str) -> tuple[list[str], list[dict[str, str]]]:
    with (portfolio_dir() / f"{name}.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _rows(name: str, account_id: str | None = None) -> list[dict[str, str]]:
    rows = _read(name)[1]
    return [r for r in rows if account_id is None or r["account_id"] == account_id]


def _days_before(value: str) -> int:
    return (SAMPLE_AS_OF - date.fromisoformat(value)).days


def test_every_file_is_present() -> None:
    folder = portfolio_dir()
    for name in SPEC_COLUMNS:
        assert (folder / f"{name}.csv").is_file(), name
    assert (folder / "README.md").is_file()
    total = sum(p.stat().st_size for p in folder.iterdir())
    assert total < 5_000_000


def test_config_sets_as_of_and_competitors() -> None:
    config = tomllib.loads((portfolio_dir() / "riskbrief.toml").read_text(encoding="utf-8"))
    assert config == {"as_of": "2026-11-20", "competitors": ["Gainsight", "ChurnZero", "Totango", "Vitally"]}
    assert date.fromisoformat(config["as_of"]) == SAMPLE_AS_OF


@pytest.mark.parametrize("name", list(SPEC_COLUMNS))
def test_columns_ids_dates_and_references(name: str) -> None:
    header, rows = _read(name)
    assert header == SPEC_COLUMNS[name]
    assert rows, f"{name}.csv has no rows"
    assert all(len(r) == len(header) and None not in r.values() for r in rows), "ragged row"
    if name in ID_COLUMNS:
        ids = Counter(r[ID_COLUMNS[name]] for r in rows)
        assert max(ids.values()) == 1, ids.most_common(1)
    for r in rows:
        date.fromisoformat(r[DATE_COLUMNS[name]])
    accounts = {r["account_id"] for r in _rows("accounts")}
    assert {r["account_id"] for r in rows} <= accounts


def test_accounts_shape() -> None:
    accounts = _rows("accounts")
    assert len(accounts) == 200
    assert {r["segment"] for r in accounts} == {"enterprise", "mid-market", "smb"}
    assert len({r["csm_owner"] for r in accounts}) == 8
    days = [(date.fromisoformat(r["renewal_date"]) - SAMPLE_AS_OF).days for r in accounts]
    assert min(days) >= 30 and max(days) <= 460
    assert all(date.fromisoformat(r["contract_start"]) < SAMPLE_AS_OF and r["goals"] for r in accounts)


def test_techstart_account_row() -> None:
    (row,) = [r for r in _rows("accounts") if r["account_id"] == TECHSTART]
    assert row["name"] == "TechStart Solutions"
    assert row["segment"] == "mid-market"
    assert float(row["arr"]) == 85_000
    assert float(row["licenses"]) == 120
    assert row["renewal_date"] == "2027-03-27"
    assert date.fromisoformat(row["renewal_date"]) - SAMPLE_AS_OF == timedelta(days=127)
    assert row["csm_owner"] == "Dana Whitfield"


def test_techstart_story_matches_the_brief_example() -> None:
    usage = {(r["metric"], r["period_start"]): float(r["value"]) for r in _rows("usage", TECHSTART)}
    window_start, latest = "2026-08-24", "2026-11-16"  # first and last weekly periods of the 90 days
    assert (usage[("dau", window_start)], usage[("dau", latest)]) == (78, 52)
    assert (usage[("feature_adoption", window_start)], usage[("feature_adoption", latest)]) == (7.2, 4.8)
    assert usage[("admin_logins", latest)] / usage[("admin_logins", window_start)] == pytest.approx(0.55)

    tickets = _rows("tickets", TECHSTART)
    last_60 = [t for t in tickets if _days_before(t["opened_at"]) < 60]
    assert len(last_60) == 8
    assert sum(t["sentiment"] == "frustrated" for t in last_60) == 3
    assert any(t["status"] != "closed" and _days_before(t["opened_at"]) > 30 for t in tickets)

    meetings = _rows("meetings", TECHSTART)
    held = [m for m in meetings if m["status"] == "held"]
    assert min(_days_before(m["date"]) for m in held) == 73
    declined = [m for m in meetings if m["status"] == "declined" and _days_before(m["date"]) < 30]
    assert [m["kind"] for m in declined] == ["qbr", "qbr"]
    last_training = min(_days_before(m["date"]) for m in held if m["kind"] == "training")
    assert 175 <= last_training <= 190

    assert all(i["paid_on"] and i["paid_on"] <= i["due_on"] for i in _rows("invoices", TECHSTART))
    nps = [int(s["score"]) for s in sorted(_rows("surveys", TECHSTART), key=lambda s: s["date"]) if s["kind"] == "nps"]
    assert nps[-2:] == [8, 5]
    health = sorted(_rows("health_scores", TECHSTART), key=lambda h: h["date"])
    assert float(health[-1]["score"]) == 58
    (renewal,) = [o for o in _rows("opportunities", TECHSTART) if o["kind"] == "renewal"]
    assert "price" in renewal["objection"].lower()
    notes = " ".join(n["text"] for n in _rows("notes", TECHSTART))
    assert "Customer said:" in notes and "my guess" in notes.lower() and "not confirmed" in notes


def test_rows_after_the_as_of_date_exist_for_time_travel() -> None:
    assert any(_days_before(r["date"]) < 0 for r in _rows("notes"))
    assert any(_days_before(r["opened_at"]) < 0 for r in _rows("tickets"))
    assert any(r["paid_on"] and _days_before(r["paid_on"]) < 0 for r in _rows("invoices"))
    outcomes = _rows("outcomes")
    assert any(_days_before(r["date"]) > 0 for r in outcomes)
    assert any(_days_before(r["date"]) < 0 for r in outcomes)


def test_prompt_injection_text_is_present() -> None:
    texts = [r["text"] for r in _rows("notes")] + [r["body"] for r in _rows("tickets")]
    assert (
        sum(
            "ignore previous instructions" in t.lower() or "ignore your previous instructions" in t.lower()
            for t in texts
        )
        == 2
    )


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    write(tmp_path)
    committed = sorted(p.name for p in portfolio_dir().iterdir() if p.is_file())
    generated = sorted(p.name for p in tmp_path.iterdir())
    assert generated == committed
    for name in generated:
        assert (tmp_path / name).read_bytes() == (portfolio_dir() / name).read_bytes(), name
