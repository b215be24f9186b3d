"""Imports from real exports: built-in profiles (Salesforce, HubSpot, Zendesk, Gainsight) convert and
merge into a portfolio that loads; every bad row is reported and nothing is written."""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

import pytest

from tools.errors import InputError
from tools.importers import PROFILES, import_export, profile
from tools.portfolio import load_portfolio

EXPORTS = Path(__file__).resolve().parents[1] / "fixtures" / "exports"
ACME, NORTHWIND, GLOBEX = "0015g00000A1xYzAAJ", "0015g00000B2yZaAAJ", "0015g00000C3zAbAAJ"


def run(name: str, export: str, out: Path, **options: object) -> None:
    result, errors = import_export(name, EXPORTS / export, out, **options)  # type: ignore[arg-type]
    assert not errors, [str(e) for e in errors]
    assert result.written


@pytest.fixture
def portfolio(tmp_path: Path) -> Path:
    out = tmp_path / "portfolio"
    run("salesforce-accounts", "salesforce_accounts.csv", out)
    return out


def test_salesforce_accounts(portfolio: Path) -> None:
    accounts = load_portfolio(portfolio).accounts
    acme = accounts.row(0, named=True)
    assert acme["account_id"] == ACME and acme["name"] == "Acme Corp" and acme["arr"] == 120000.0
    assert acme["renewal_date"] == date(2027, 3, 27) and acme["contract_start"] == date(2024, 3, 28)
    assert acme["csm_owner"] == "Priya Patel"  # the CSM column wins over the account owner
    assert accounts["segment"].to_list() == ["enterprise", "mid-market", "smb"]


def test_every_profile_imports_into_a_portfolio_that_loads(portfolio: Path) -> None:
    run("salesforce-opportunities", "salesforce_opportunities.csv", portfolio)
    run("zendesk", "zendesk_tickets.csv", portfolio)
    run("zendesk", "zendesk_explore.csv", portfolio)
    run("gainsight-health", "gainsight_health.csv", portfolio)
    run("gainsight-ctas", "gainsight_ctas.csv", portfolio)
    p = load_portfolio(portfolio)
    tickets = p.table("tickets")
    assert tickets is not None
    first = tickets.row(0, named=True)
    assert first["ticket_id"] == "1001" and first["account_id"] == ACME and first["opened_at"] == date(2026, 11, 3)
    assert first["priority"] == "P1" and first["status"] == "open" and first["escalated"] is True
    assert tickets["status"].to_list() == ["open", "closed", "pending", "open", "open", "closed"]
    assert tickets["sentiment"].to_list()[:4] == [None, "positive", "negative", None]
    assert tickets["account_id"][3] == GLOBEX  # "globex": the account's name, any case
    assert "It used to take seconds." in tickets["body"][2]  # a quoted value over two lines
    opportunities = p.table("opportunities")
    assert opportunities is not None
    assert opportunities["kind"].to_list() == ["renewal", "expansion", "renewal"]
    assert opportunities["stage_entered_on"][0] == date(2026, 9, 1) and opportunities["amount"][0] == 120000.0
    health = p.table("health_scores")
    assert health is not None and health["usage"].to_list() == [80.0, 55.0, 85.0, 60.0]
    notes = p.table("notes")
    assert notes is not None
    assert notes["text"][0].startswith("CTA: Usage drop on dashboards. Type: Risk. Reason: Product Adoption.")
    assert notes["text"][1] == "CTA: Renewal kickoff. Type: Renewal. Priority: Medium. Status: Open"


def test_hubspot_companies(tmp_path: Path) -> None:
    run("hubspot-companies", "hubspot_companies.csv", tmp_path)
    accounts = load_portfolio(tmp_path).accounts
    assert accounts["arr"].to_list() == [48000.0, 210000.5, 75000.0]
    assert accounts["contract_start"][0] == date(2024, 5, 1)  # "2024-05-01 09:30", a date-and-time property
    assert accounts["csm_owner"][0] == "Dana Scully"
    assert "Industry" not in accounts.columns  # only the columns the profile maps are written


def test_reimport_replaces_rows_by_id_and_adds_new_ones(portfolio: Path, tmp_path: Path) -> None:
    changed = tmp_path / "changed.csv"
    text = (EXPORTS / "salesforce_accounts.csv").read_text(encoding="utf-8")
    changed.write_text(text.replace('"40,000.00"', '"45,000.00"') + '"0015g00000D4aBcAAJ","Initrode","","Sam Lee",'
                       '"SMB","9,000","1/15/2027","","5",""\n', encoding="utf-8")  # fmt: skip
    result, errors = import_export("salesforce-accounts", changed, portfolio)
    assert not errors and (result.added, result.updated, result.total) == (1, 3, 4)
    accounts = load_portfolio(portfolio).accounts
    assert accounts["arr"].to_list() == [120000.0, 45000.0, 12500.0, 9000.0]


def test_every_bad_row_is_reported_and_nothing_written(portfolio: Path) -> None:
    run("zendesk", "zendesk_tickets.csv", portfolio)
    before = (portfolio / "tickets.csv").read_bytes()
    result, errors = import_export("zendesk", EXPORTS / "zendesk_bad.csv", portfolio)
    assert [str(e) for e in errors] == [
        "zendesk_bad.csv line 3, column opened_at: '11/03/2026' is not a date in the declared format "
        "%Y-%m-%d %H:%M:%S %z (the zendesk profile's; pass --date-format if the export writes dates otherwise)",
        "zendesk_bad.csv line 4, column priority: 'critical' is not one of P1, P2, P3, P4",
        "zendesk_bad.csv line 5, column account_id: 'Initrode': no account of that name in accounts.csv",
        "zendesk_bad.csv line 6, column ticket_id: duplicate id '3001'",
    ]
    assert not result.written and (portfolio / "tickets.csv").read_bytes() == before


def test_date_format_delimiter_and_encoding_options(portfolio: Path, tmp_path: Path) -> None:
    export = tmp_path / "opps.csv"
    text = (EXPORTS / "salesforce_opportunities.csv").read_text(encoding="utf-8")
    text = text.replace('"9/1/2026"', '"01/09/2026"').replace('"3/27/2027"', '"27/03/2027"')
    text = text.replace('"1/31/2027"', '"31/01/2027"').replace('"10/15/2026"', '"15/10/2026"')
    text = text.replace('"12/15/2026"', '"15/12/2026"').replace('"11/2/2026"', '"02/11/2026"')
    text = text.replace(",", ";").replace("120;000.00", "120000").replace("15;000.00", "15000")
    export.write_bytes(text.replace("12;500.00", "12500").replace("Acme renewal", "Acmé renewal").encode("cp1252"))
    with pytest.raises(InputError, match=r"opps.csv line 2: not UTF-8 \(byte 0xe9\): pass its --encoding"):
        import_export("salesforce-opportunities", export, portfolio, delimiter=";")
    with pytest.raises(
        InputError, match=r"no column for opportunity_id .* looks semicolon-separated: pass --delimiter"
    ):
        import_export("salesforce-opportunities", export, portfolio, encoding="cp1252")
    result, errors = import_export(
        "salesforce-opportunities", export, portfolio, delimiter=";", encoding="cp1252", date_format="%d/%m/%Y"
    )
    assert not errors and result.written
    opportunities = load_portfolio(portfolio).table("opportunities")
    assert opportunities is not None and opportunities["stage_entered_on"][0] == date(2026, 9, 1)


def test_refusals(portfolio: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown profile 'nope'"):
        profile("nope")
    with pytest.raises(InputError, match=r"accounts.csv is missing; import the accounts first"):
        import_export("zendesk", EXPORTS / "zendesk_tickets.csv", tmp_path / "empty")
    with pytest.raises(InputError, match="two-digit years"):
        import_export("zendesk", EXPORTS / "zendesk_tickets.csv", portfolio, date_format="%d/%m/%y")
    (portfolio / "riskbrief.toml").write_text('[formats]\ntickets.opened_at = "%m/%d/%Y"\n')
    with pytest.raises(InputError, match=r"declares \[formats\] or \[mapping.tickets\]"):
        import_export("zendesk", EXPORTS / "zendesk_tickets.csv", portfolio)
    (portfolio / "riskbrief.toml").unlink()
    shutil.copy(EXPORTS / "zendesk_explore.csv", tmp_path / "renamed.csv")
    text = (tmp_path / "renamed.csv").read_text().replace("Ticket ID", "Number")
    (tmp_path / "renamed.csv").write_text(text)
    with pytest.raises(InputError) as info:
        import_export("zendesk", tmp_path / "renamed.csv", portfolio)
    assert str(info.value).startswith(
        "renamed.csv line 1, column ticket_id: no column for ticket_id (expected one of 'Id', 'Ticket ID'; the "
        "export has 'Number', 'Ticket organization name'"
    )


def test_the_import_command(portfolio: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.cli import main

    def cli(*args: str) -> int:
        argv, sys.argv = sys.argv, ["riskbrief", "import", *args]
        try:
            main()
            return 0
        except SystemExit as exc:
            return int(exc.code or 0)
        finally:
            sys.argv = argv

    code = cli("--profile", "zendesk", "--src", str(EXPORTS / "zendesk_bad.csv"), "--out", str(portfolio))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 5 and all(line.startswith("error: zendesk_bad.csv line ") for line in err[:4])
    assert err[-1].startswith("error: 4 problem(s) in zendesk_bad.csv: nothing was written to")
    code = cli("--profile", "zendesk", "--src", str(EXPORTS / "zendesk_tickets.csv"), "--out", str(portfolio))
    assert code == 0 and "Imported 4 row(s) from zendesk_tickets.csv" in capsys.readouterr().out
    assert cli("--list") == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in PROFILES)
