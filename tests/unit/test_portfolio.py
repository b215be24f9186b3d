"""Loading: bad input stops with file, line and column; as-of hides later rows; config errors name the key."""

from __future__ import annotations

import re
import string
from datetime import date
from pathlib import Path

import polars as pl
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
        "tickets.csv line 4, column opened_at: '03/11/2026' is not a date (expected YYYY-MM-DD); if the file "
        'uses another format, declare it: [formats] tickets.opened_at = "%m/%d/%Y"'
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


# ------------------------------------------------------------------------------ strict, explicit parsing


def accounts_error(tmp_path: Path, **fields: object) -> str:
    write_portfolio(tmp_path, accounts=[account("A-1", **fields)])
    return error_of(tmp_path)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("12/01/2026", "is not a date (expected YYYY-MM-DD)"),
        ("2026/01/05", "is not a date (expected YYYY-MM-DD)"),
        ("2026-1-5", "is not a date (expected YYYY-MM-DD)"),
        ("+2026-01-05", "is not a date (expected YYYY-MM-DD)"),
        ("2026- 1-05", "is not a date (expected YYYY-MM-DD)"),
        ("27-03-27", "is not a date (expected YYYY-MM-DD); two-digit years are never accepted"),
        ("2026-02-30", "is not a date (expected YYYY-MM-DD)"),
        ("0001-01-01", "is out of range (years 1900–2100)"),
        ("2101-01-01", "is out of range (years 1900–2100)"),
    ],
)
def test_dates_are_iso_only(tmp_path: Path, value: str, problem: str) -> None:
    message = accounts_error(tmp_path, renewal_date=value)
    assert message.startswith(f"accounts.csv line 2, column renewal_date: '{value}' {problem}")


def test_iso_dates_may_have_spaces_around_them(tmp_path: Path) -> None:
    write_portfolio(tmp_path, accounts=[account("A-1", renewal_date=" 2027-01-05 ")])
    assert load_portfolio(tmp_path, AS_OF).accounts["renewal_date"][0] == date(2027, 1, 5)


def test_a_declared_date_format_reads_that_column_only(tmp_path: Path) -> None:
    write_portfolio(
        tmp_path,
        tickets=[{"ticket_id": "T-1", "account_id": "A-1", "opened_at": "03/11/2026", "closed_at": "2026-03-12"}],
    )
    (tmp_path / "riskbrief.toml").write_text('[formats]\ntickets.opened_at = "%m/%d/%Y"\n')
    tickets = load_portfolio(tmp_path).table("tickets")
    assert tickets is not None
    assert tickets["opened_at"][0] == date(2026, 3, 11) and tickets["closed_at"][0] == date(2026, 3, 12)
    # A two-digit year is out of range with %Y (year 26), never read as 2026.
    write_portfolio(tmp_path, tickets=[{"ticket_id": "T-1", "account_id": "A-1", "opened_at": "3/11/26"}])
    assert error_of(tmp_path).startswith("tickets.csv line 2, column opened_at: '3/11/26' is out of range")


def test_a_default_date_format_for_every_date_column(tmp_path: Path) -> None:
    write_portfolio(tmp_path, accounts=[account("A-1", renewal_date="27.03.2027", contract_start="28.03.2024")])
    (tmp_path / "riskbrief.toml").write_text('[formats]\ndate = "%d.%m.%Y"\n')
    accounts = load_portfolio(tmp_path).accounts
    assert accounts["renewal_date"][0] == date(2027, 3, 27) and accounts["contract_start"][0] == date(2024, 3, 28)
    write_portfolio(tmp_path, accounts=[account("A-1", renewal_date="2027-03-27")])
    assert "is not a date in the declared format %d.%m.%Y (formats.accounts.renewal_date" in error_of(tmp_path)


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("arr", "NaN", "'NaN' is not a number"),
        ("arr", "inf", "'inf' is not a number"),
        ("arr", "1e400", "'1e400' is not a finite number"),
        ("arr", "-5", "'-5' is out of range (arr cannot be negative)"),
        ("arr", "1e16", "'1e16' is out of range (larger than 1e+15)"),
        ("arr", "85.000,50", "'85.000,50' is not a number (thousands separators and decimal commas are read"),
        ("arr", "1,2,3", "'1,2,3' is not a number (thousands separators"),
        ("arr", "85,000", "'85,000' is not a number (thousands separators"),
        ("arr", "$85000", "'$85000' is not a number"),
        ("licenses", "-1", "'-1' is out of range (licenses cannot be negative)"),
    ],
)
def test_numbers_are_finite_in_range_and_plain(tmp_path: Path, field: str, value: str, problem: str) -> None:
    assert accounts_error(tmp_path, **{field: value}).startswith(f"accounts.csv line 2, column {field}: {problem}")


def test_scores_stay_on_their_scales(tmp_path: Path) -> None:
    write_portfolio(tmp_path, health_scores=[{"account_id": "A-1", "date": day(-1), "score": 101}])
    assert error_of(tmp_path) == "health_scores.csv line 2, column score: '101' is out of range (score is 0 to 100)"
    for kind, score, scale in (("nps", 11, "score is 0 to 10"), ("csat", 0, "a csat score is 1 to 5")):
        root = write_portfolio(
            tmp_path / kind, surveys=[{"account_id": "A-1", "date": day(-1), "kind": kind, "score": score}]
        )
        assert error_of(root) == f"surveys.csv line 2, column score: '{score}' is out of range ({scale})"
    root = write_portfolio(
        tmp_path / "ok", surveys=[{"account_id": "A-1", "date": day(-1), "kind": "csat", "score": 5}]
    )
    load_portfolio(root, AS_OF)


def test_declared_separators(tmp_path: Path) -> None:
    write_portfolio(tmp_path, accounts=[account("A-1", arr="85,000.50"), account("A-2", arr="1200")])
    (tmp_path / "riskbrief.toml").write_text('[formats]\nthousands = ","\n')
    assert load_portfolio(tmp_path).accounts["arr"].to_list() == [85000.5, 1200.0]
    write_portfolio(tmp_path, accounts=[account("A-1", arr="1,2,3")])
    assert error_of(tmp_path).startswith("accounts.csv line 2, column arr: '1,2,3' is not a number (declared:")
    # European: decimal comma, dot thousands, semicolon-separated.
    (tmp_path / "accounts.csv").write_text(
        "account_id;name;arr;renewal_date\nA-1;Acme;85.000,50;2027-01-05\nA-2;Beta;12,5;2027-01-05\n"
    )
    (tmp_path / "riskbrief.toml").write_text(
        '[formats]\ndecimal = ","\nthousands = "."\n[mapping.accounts]\ndelimiter = ";"\n'
    )
    assert load_portfolio(tmp_path).accounts["arr"].to_list() == [85000.5, 12.5]


def test_booleans(tmp_path: Path) -> None:
    rows = [
        {"ticket_id": f"T-{i}", "account_id": "A-1", "opened_at": day(-1), "escalated": v}
        for i, v in enumerate(["TRUE", "no", "1", ""])
    ]
    write_portfolio(tmp_path, tickets=rows)
    tickets = load_portfolio(tmp_path, AS_OF).table("tickets")
    assert tickets is not None and tickets["escalated"].to_list() == [True, False, True, None]
    write_portfolio(
        tmp_path, tickets=[{"ticket_id": "T", "account_id": "A-1", "opened_at": day(-1), "escalated": "maybe"}]
    )
    assert error_of(tmp_path) == "tickets.csv line 2, column escalated: 'maybe' is not true/false (or yes/no, 1/0)"


def test_the_fast_path_types_every_column(tmp_path: Path) -> None:
    write_portfolio(
        tmp_path, tickets=[{"ticket_id": "T-1", "account_id": "A-1", "opened_at": day(-1), "escalated": "true"}]
    )
    p = load_portfolio(tmp_path, AS_OF)
    tickets = p.table("tickets")
    assert tickets is not None
    assert p.accounts.schema["arr"] == pl.Float64 and p.accounts.schema["renewal_date"] == pl.Date
    assert tickets.schema["opened_at"] == pl.Date and tickets.schema["escalated"] == pl.Boolean


def raw_error(tmp_path: Path, text: str | bytes, name: str = "accounts.csv") -> str:
    write_portfolio(tmp_path)
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return error_of(tmp_path)


HEADER = "account_id,name,arr,renewal_date,segment\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            HEADER + "A-1,Acme,5,2027-01-01,smb\nA-2,B,5,2027-01-01\n",
            "accounts.csv line 3: 4 fields, fewer than the header's 5 (a value is missing, or a line break inside "
            "a value is not quoted)",
        ),
        (
            HEADER + 'A-1,"Acme, Inc",5,2027-01-01,smb\nA-2,B,5,2027-01-01\n',
            "accounts.csv line 3: 4 fields, fewer than the header's 5",
        ),
        (HEADER + "A-1,Acme,5,2027-01-01,smb,x\n", "accounts.csv line 2: 6 fields, more than the header's 5"),
        (
            "account_id,name,arr,renewal_date,name\nA-1,Acme,5,2027-01-01,x\n",
            "accounts.csv line 1, column name: duplicate column name 'name' (columns 2 and 5)",
        ),
        (
            "account_id,name,arr,renewal_date, name \nA-1,Acme,5,2027-01-01,x\n",
            "accounts.csv line 1, column name: duplicate column name 'name' (columns 2 and 5)",
        ),
        ("account_id,name,arr,renewal_date,\nA-1,Acme,5,2027-01-01,x\n", "accounts.csv line 1: column 5 of"),
        (HEADER + "A-1,Acme,5,2027-01-01,smb\n\nA-2,B,5,2027-01-01,smb\n", "accounts.csv line 3: the line is blank"),
        (HEADER + 'A-1,Ac"me,5,2027-01-01,smb\n', "accounts.csv line 2: a quote inside a value that is not quoted"),
        ((HEADER + "A-1,Acme,5,2027-01-01,smb\n").replace("\n", "\r"), "accounts.csv line 1: lines end with a bare CR"),
        ("", "accounts.csv line 1: the file is empty; expected a header row"),
    ],
)
def test_malformed_files_name_the_line(tmp_path: Path, text: str, expected: str) -> None:
    assert raw_error(tmp_path, text).startswith(expected)


def test_empty_last_fields_trailing_blank_lines_crlf_and_bom_are_fine(tmp_path: Path) -> None:
    for text in (
        HEADER + "A-1,Acme,5,2027-01-01,\nA-2,B,5,2027-01-01,\n",
        HEADER + "A-1,Acme,5,2027-01-01,smb\n\n\n",
        (HEADER + "A-1,Acme,5,2027-01-01,smb\n").replace("\n", "\r\n"),
        "\ufeff" + HEADER + "A-1,Acme,5,2027-01-01,smb\n",
    ):
        write_portfolio(tmp_path)
        (tmp_path / "accounts.csv").write_text(text, encoding="utf-8", newline="")
        assert load_portfolio(tmp_path, AS_OF).accounts["account_id"][0] == "A-1", repr(text)


def test_values_in_errors_are_escaped_and_cut(tmp_path: Path) -> None:
    message = accounts_error(tmp_path, renewal_date="\x1b[31mred\x1b[0m\u202e")
    assert message == (
        "accounts.csv line 2, column renewal_date: '\\x1b[31mred\\x1b[0m\\u202e' is not a date (expected YYYY-MM-DD)"
    )
    long = accounts_error(tmp_path, arr="9" * 80 + "x")
    assert "'" + "9" * 59 + "…' is not a number" in long and "\n" not in long and len(long) < 200


def test_size_limits(tmp_path: Path) -> None:
    write_portfolio(tmp_path, accounts=[account("A-1", goals="x" * 2000)])
    (tmp_path / "riskbrief.toml").write_text("[limits]\nmax_cell_kb = 1\n")
    assert error_of(tmp_path).startswith(
        "accounts.csv line 2, column goals: 'xxxx"
    ) and "is longer than the 1 KB limit for one cell (raise [limits] max_cell_kb in riskbrief.toml)" in error_of(
        tmp_path
    )
    (tmp_path / "riskbrief.toml").write_text("[limits]\nmax_file_mb = 1\n")
    write_portfolio(tmp_path, accounts=[account(f"A-{i}", goals="y" * 900) for i in range(1300)])
    assert re.fullmatch(
        r"accounts.csv: 1\.\d MB is over the 1 MB limit for one input file \(raise \[limits\] max_file_mb in "
        r"riskbrief.toml to read it\)",
        error_of(tmp_path),
    )


def test_hints_for_exports_and_mappings_that_accept_them(tmp_path: Path) -> None:
    assert raw_error(tmp_path, "account_id;name;arr;renewal_date\nA-1;Acme;5;2027-01-01\n") == (
        "accounts.csv line 1, column account_id: required column is missing from the header; the file looks "
        "semicolon-separated ('account_id;name;arr;renewal_date'): declare it in riskbrief.toml with "
        '[mapping.accounts] delimiter = ";", or convert the export with `riskbrief import`'
    )
    assert raw_error(tmp_path, "Account ID,Name,ARR,Renewal Date\nA-1,Acme,5,2027-01-01\n") == (
        "accounts.csv line 1, column account_id: required column is missing from the header; did you mean "
        "account_id? (found 'Account ID'): rename the column, or map it in riskbrief.toml with "
        '[mapping.accounts] columns = {"Account ID" = "account_id"}'
    )
    (tmp_path / "accounts.csv").write_text("Account ID;Account Name;ARR;Renewal Date\nA-1;Acme;5;2027-01-01\n")
    (tmp_path / "riskbrief.toml").write_text(
        '[mapping.accounts]\ndelimiter = ";"\n'
        'columns = {"account id" = "account_id", "Account Name" = "name", ARR = "arr", '
        '"Renewal Date" = "renewal_date"}\n'
    )
    accounts = load_portfolio(tmp_path).accounts
    assert accounts.row(0, named=True)["name"] == "Acme" and accounts["arr"][0] == 5.0


def test_value_mapping(tmp_path: Path) -> None:
    write_portfolio(
        tmp_path,
        tickets=[
            {"ticket_id": "T-1", "account_id": "A-1", "opened_at": day(-1), "priority": "Urgent", "status": "Solved"},
            {"ticket_id": "T-2", "account_id": "A-1", "opened_at": day(-1), "priority": "p2", "status": "open"},
        ],
    )
    (tmp_path / "riskbrief.toml").write_text(
        '[mapping.tickets]\nvalues.priority = {urgent = "P1"}\nvalues.status = {solved = "closed"}\n'
    )
    tickets = load_portfolio(tmp_path).table("tickets")
    assert tickets is not None
    assert tickets["priority"].to_list() == ["P1", "P2"] and tickets["status"].to_list() == ["closed", "open"]
    write_portfolio(
        tmp_path, tickets=[{"ticket_id": "T-1", "account_id": "A-1", "opened_at": day(-1), "priority": "High"}]
    )
    assert error_of(tmp_path) == (
        "tickets.csv line 2, column priority: 'High' is not one of P1, P2, P3, P4 (map it in riskbrief.toml: "
        '[mapping.tickets] values.priority = {"High" = "P1"})'
    )


def test_formats_from_a_named_config_file_govern_the_load(tmp_path: Path) -> None:
    write_portfolio(tmp_path / "p", accounts=[account("A-1", renewal_date="27.03.2027")])
    (tmp_path / "p" / "riskbrief.toml").write_text('[formats]\ndate = "%m/%d/%Y"\n')
    other = tmp_path / "other.toml"
    other.write_text('[formats]\ndate = "%d.%m.%Y"\n')
    load_config(tmp_path / "p", other)  # what `--config other.toml --data p` does first
    assert load_portfolio(tmp_path / "p").accounts["renewal_date"][0] == date(2027, 3, 27)
    load_config(tmp_path / "p")  # without --config: the folder's own riskbrief.toml again
    with pytest.raises(InputError, match="declared format %m/%d/%Y"):
        load_portfolio(tmp_path / "p")


# ------------------------------------------------------------------------------ valid data never crashes


def surveys_of_one_day(tmp_path: Path, respondents: list[str]) -> Path:
    return write_portfolio(
        tmp_path,
        surveys=[
            {"account_id": "A-1", "date": day(-5), "kind": "nps", "score": 4 + i, "respondent": r, "comment": f"c{i}"}
            for i, r in enumerate(respondents)
        ]
        + [{"account_id": "A-1", "date": day(-40), "kind": "nps", "score": 9, "respondent": "Ann", "comment": "ok"}],
    )


@pytest.mark.parametrize(
    ("respondents", "ids"),
    [
        (["Lena Ortiz"], ["survey:A-1:2026-11-15:nps"]),
        (["Lena Ortiz", "Bob Stone"], ["survey:A-1:2026-11-15:nps:lena-ortiz", "survey:A-1:2026-11-15:nps:bob-stone"]),
        (["Lena", "Lena"], ["survey:A-1:2026-11-15:nps:1", "survey:A-1:2026-11-15:nps:2"]),
        (["Lena", ""], ["survey:A-1:2026-11-15:nps:1", "survey:A-1:2026-11-15:nps:2"]),
        (["José", "Jos"], ["survey:A-1:2026-11-15:nps:1", "survey:A-1:2026-11-15:nps:2"]),
    ],
)
def test_survey_ids_are_unique_and_plain_when_alone(tmp_path: Path, respondents: list[str], ids: list[str]) -> None:
    from tools.evidence import survey_ids, text_records

    p = load_portfolio(surveys_of_one_day(tmp_path, respondents), AS_OF)
    records = [r.id for r in text_records(p, "A-1") if r.kind == "survey"]
    assert records == [*ids, "survey:A-1:2026-10-11:nps"]  # the day with one response keeps the plain id
    rows = [{k: ("" if v is None else str(v)) for k, v in r.items()} for r in p.table("surveys").to_dicts()]  # type: ignore[union-attr]
    assert survey_ids(rows) == records


def test_survey_ids_agree_across_detectors_records_and_scorers(tmp_path: Path) -> None:
    from evals.scorers import EvidenceIndex
    from tools.config import Config
    from tools.evidence import text_records
    from tools.signals import detect

    root = surveys_of_one_day(tmp_path, ["Lena Ortiz", "Bob Stone"])
    p = load_portfolio(root, AS_OF)
    records = {r.id for r in text_records(p, None)}
    index = EvidenceIndex.from_portfolio(root, AS_OF)
    assert {i for i in index.records if i.startswith("survey:")} == {i for i in records if i.startswith("survey:")}
    signals = detect(p, Config(competitors=["c1"]), AS_OF).signals.explode("evidence")
    cited = dict(zip(signals["signal"], signals["evidence"].struct.field("id"), strict=True))
    # Bob's comment names the competitor; the day's NPS reading cites the first response with a comment.
    assert cited == {
        "competitor_mention": "survey:A-1:2026-11-15:nps:bob-stone",
        "survey_decline": "survey:A-1:2026-11-15:nps:lena-ortiz",
    }
    assert set(cited.values()) <= records


def test_two_respondents_on_one_day_through_ingest_and_brief(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The crash the fuzzer found: `ingest` and `brief` refused two responses of one day (duplicate ids)."""
    import json
    import sys

    from conftest import write_tiny_portfolio

    from agent.cli import main

    root = write_tiny_portfolio(tmp_path / "p")
    with (root / "surveys.csv").open("a", encoding="utf-8") as fh:
        fh.write("A-017,2026-11-01,nps,3,Bob Stone,Exports are broken for us too\n")

    def run(*args: str) -> tuple[int, str]:
        argv, sys.argv = sys.argv, ["riskbrief", "--home", str(tmp_path / "home"), *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            sys.argv = argv
        return code, capsys.readouterr().out

    assert run("ingest", "--data", str(root))[0] == 0
    code, out = run("brief", "A-017", "--data", str(root), "--format", "json")
    assert code == 0 and json.loads(out)["status"] == "awaiting_review"
