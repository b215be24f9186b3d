"""Loading: bad input stops with file, line and column; as-of hides later rows; config errors name the key."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from builder import AS_OF, account, day, write_portfolio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.config import load_config
from tools.errors import InputError
from tools.portfolio import load_portfolio


def error_of(root: Path) -> str:
    with pytest.raises(InputError) as info:
        load_portfolio(root, AS_OF)
    return str(info.value)


def test_missing_required_column(tmp_path: Path) -> None:
    (tmp_path / "accounts.csv").write_text("account_id,name,renewal_date\nA-1,Acme,2027-01-01\n")
    assert error_of(tmp_path) == "accounts.csv line 1, column arr: required column is missing from the header"


def test_unparsable_date_names_line_and_column(tmp_path: Path) -> None:
    write_portfolio(
        tmp_path,
        tickets=[
            {"ticket_id": "T-1", "account_id": "A-1", "opened_at": day(-3), "body": "two\nlines"},
            {"ticket_id": "T-2", "account_id": "A-1", "opened_at": "03/11/2026"},
        ],
    )
    # The first ticket's body spans two physical lines, so T-2 starts on line 4.
    assert error_of(tmp_path) == (
        "tickets.csv line 4, column opened_at: '03/11/2026' is not a date (expected YYYY-MM-DD)"
    )


def test_unparsable_number(tmp_path: Path) -> None:
    write_portfolio(tmp_path, accounts=[account("A-1"), account("A-2", arr="lots")])
    assert error_of(tmp_path) == "accounts.csv line 3, column arr: 'lots' is not a number"


def test_duplicate_id(tmp_path: Path) -> None:
    write_portfolio(tmp_path, accounts=[account("A-1"), account("A-2"), account("A-1")])
    assert error_of(tmp_path) == "accounts.csv line 4, column account_id: duplicate id 'A-1'"


def test_row_for_unknown_account(tmp_path: Path) -> None:
    write_portfolio(tmp_path, notes=[{"note_id": "N-1", "account_id": "A-9", "date": day(-1), "text": "hi"}])
    assert error_of(tmp_path) == "notes.csv line 2, column account_id: unknown account 'A-9' (not in accounts.csv)"


def test_non_utf8_file(tmp_path: Path) -> None:
    write_portfolio(tmp_path)
    (tmp_path / "notes.csv").write_bytes(b"note_id,account_id,date,text\nN-1,A-1,2026-11-01,caf\xe9\n")
    assert error_of(tmp_path).startswith("notes.csv line 2: not UTF-8 (byte 0xe9)")


def test_empty_required_value_and_bad_enum(tmp_path: Path) -> None:
    write_portfolio(tmp_path, notes=[{"note_id": "N-1", "account_id": "A-1", "date": day(-1), "text": ""}])
    assert error_of(tmp_path) == "notes.csv line 2, column text: required value is empty"
    write_portfolio(
        tmp_path / "b",
        emails=[{"email_id": "E-1", "account_id": "A-1", "sent_at": day(-1), "direction": "sideways"}],
    )
    assert error_of(tmp_path / "b") == "emails.csv line 2, column direction: 'sideways' is not one of outbound, inbound"


def test_missing_accounts_file_and_directory(tmp_path: Path) -> None:
    assert "accounts.csv is missing" in error_of(tmp_path)
    assert "not a portfolio directory" in error_of(tmp_path / "nope")


def test_unknown_columns_are_kept_and_enum_case_forgiven(tmp_path: Path) -> None:
    write_portfolio(tmp_path, accounts=[account("A-1", segment="Enterprise", region="EMEA")])
    p = load_portfolio(tmp_path, AS_OF)
    assert p.accounts["segment"][0] == "enterprise" and p.accounts["region"][0] == "EMEA"


def test_as_of_hides_later_rows_and_later_facts(tmp_path: Path) -> None:
    write_portfolio(
        tmp_path,
        tickets=[
            {
                "ticket_id": "T-1",
                "account_id": "A-1",
                "opened_at": day(-40),
                "closed_at": day(3),
                "status": "closed",
            },
            {"ticket_id": "T-2", "account_id": "A-1", "opened_at": day(2)},
        ],
        invoices=[
            {
                "invoice_id": "I-1",
                "account_id": "A-1",
                "issued_on": day(-60),
                "due_on": day(-40),
                "paid_on": day(1),
                "amount": 10,
            }
        ],
        notes=[{"note_id": "N-1", "account_id": "A-1", "date": day(1), "text": "later"}],
        contact_events=[
            {
                "account_id": "A-1",
                "date": day(5),
                "contact_name": "X",
                "role": "champion",
                "event": "departed",
            }
        ],
        outcomes=[{"account_id": "A-1", "date": day(30), "outcome": "churned"}],
    )
    p = load_portfolio(tmp_path, AS_OF)
    tickets = p.table("tickets")
    assert tickets is not None and tickets["ticket_id"].to_list() == ["T-1"]
    assert tickets["status"][0] == "open" and tickets["closed_at"][0] is None
    invoices = p.table("invoices")
    assert invoices is not None and invoices["paid_on"][0] is None
    assert p.table("notes").height == 0  # type: ignore[union-attr]
    assert p.table("contact_events").height == 0  # type: ignore[union-attr]
    assert p.table("outcomes") is None  # history is read only for backtests
    assert load_portfolio(tmp_path, AS_OF, include_outcomes=True).table("outcomes") is not None


def test_config_unknown_key_and_bad_value(tmp_path: Path) -> None:
    (tmp_path / "riskbrief.toml").write_text("as_of = 2026-11-20\nfoo = 1\n")
    with pytest.raises(InputError, match=r"riskbrief.toml: foo: unknown key"):
        load_config(tmp_path)
    (tmp_path / "riskbrief.toml").write_text("[signals.usage_sudden_drop]\nthreshold = 'big'\n")
    with pytest.raises(InputError, match=r"signals.usage_sudden_drop.threshold: expected a float"):
        load_config(tmp_path)
    (tmp_path / "riskbrief.toml").write_text("[signals.not_a_signal]\nseverity = 2\n")
    with pytest.raises(InputError, match="unknown signal 'not_a_signal'"):
        load_config(tmp_path)
    (tmp_path / "riskbrief.toml").write_text("[signals.payment_overdue]\ndays = 45\nseverity = 4\n")
    config = load_config(tmp_path)
    assert config.params("payment_overdue")["days"] == 45 and config.severity("payment_overdue") == 4


cell = st.text(alphabet=string.ascii_letters + string.digits + "-/.,\"' \n", max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=st.lists(st.lists(cell, min_size=0, max_size=6), min_size=0, max_size=5),
    header=st.lists(st.sampled_from(["account_id", "name", "arr", "renewal_date", "x", ""]), max_size=6),
)
def test_malformed_accounts_never_crash(tmp_path: Path, rows: list[list[str]], header: list[str]) -> None:
    """Whatever the bytes, loading either succeeds or raises one InputError naming accounts.csv."""
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(header)
    writer.writerows(rows)
    (tmp_path / "accounts.csv").write_text(buf.getvalue())
    try:
        load_portfolio(tmp_path, AS_OF)
    except InputError as exc:
        assert str(exc).startswith("accounts.csv")
        assert "\n" not in str(exc).split(":")[0]


def test_store_home_from_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools import workspace

    monkeypatch.delenv("RISKBRIEF_HOME", raising=False)
    (tmp_path / "riskbrief.toml").write_text('[store]\nhome = "ws"\n')
    try:
        load_config(tmp_path)
        assert workspace.home() == (tmp_path / "ws").resolve()
        monkeypatch.setenv("RISKBRIEF_HOME", str(tmp_path / "env"))
        assert workspace.home() == tmp_path / "env"  # the environment wins over the file
    finally:
        workspace.set_config_home(None)
