"""riskbrief.toml: every key type- and range-checked, never coerced; an error names the key (exit 2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tools.config import Config, check_date_format, load_config
from tools.errors import InputError


def error(tmp_path: Path, text: str) -> str:
    (tmp_path / "riskbrief.toml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert "\n" not in message
    return message.split("riskbrief.toml: ", 1)[1]


def loads(tmp_path: Path, text: str) -> Config:
    (tmp_path / "riskbrief.toml").write_text(text, encoding="utf-8")
    return load_config(tmp_path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("as_of = 0", "as_of: expected a date written YYYY-MM-DD, got 0"),
        ("as_of = 0001-01-01", "as_of: 0001-01-01 is out of range (years 1900–2100)"),
        ('as_of = "2026-1-5"', "as_of: expected a date written YYYY-MM-DD, got '2026-1-5'"),
        ('as_of = "2026-02-30"', "as_of: '2026-02-30' is not a valid date"),
        ("as_of = 2026-11-20T10:00:00", "as_of: expected a date (YYYY-MM-DD), got a date and time 2026-11-20T10:00:00"),
        ('as_of = ["2026-11-20"]', "as_of: expected a date written YYYY-MM-DD, got ['2026-11-20']"),
        ("history_days = 3000000", "history_days: Input should be less than or equal to 3660 (got 3000000)"),
        ("history_days = 29", "history_days: Input should be greater than or equal to 30 (got 29)"),
        ("history_days = [1]", "history_days: Input should be a valid integer (got [1])"),
        ("history_days = 1.5", "history_days: Input should be a valid integer (got 1.5)"),
        ('history_days = "182"', "history_days: Input should be a valid integer (got '182')"),
        ("cluster_cap = nan", "cluster_cap: Input should be a finite number (got nan)"),
        ("cluster_cap = true", "cluster_cap: Input should be a valid number (got True)"),
        ("score_cap = -1", "score_cap: Input should be greater than or equal to 0 (got -1)"),
        ("competitors = 5", "competitors: Input should be a valid list (got 5)"),
        ("competitors = [1]", "competitors.0: Input should be a valid string (got 1)"),
        ("[risk_levels]\ncritical = 1.0\nhigh = 2.0", "risk_levels: expected critical >= high >= medium"),
        ("[[renewal_proximity]]\nmax_days = 10\nadjustment = 100", "renewal_proximity.0.adjustment: Input should"),
        ("[calibration]\nintercept = 1e300", "calibration.intercept: Input should be less than or equal to 50"),
        ("[signals.usage_sudden_drop]\nthreshold = [1]", "signals.usage_sudden_drop.threshold: expected a float"),
        ("[signals.usage_sudden_drop]\nthreshold = nan", "signals.usage_sudden_drop.threshold: expected a finite"),
        ("[signals.usage_sudden_drop]\nthreshold = true", "signals.usage_sudden_drop.threshold: expected a float"),
        (
            "[signals.survey_decline]\npercentile = 2.0",
            "signals.survey_decline.percentile: 2.0 is out of range (0 to 1)",
        ),
        ("[signals.survey_decline]\nlookback_days = 1e9", "signals.survey_decline.lookback_days: expected a whole"),
        ("[signals.survey_decline]\nlookback_days = 99999", "signals.survey_decline.lookback_days: 99999 is out of"),
        ("[signals.usage_sudden_drop]\nseverity = 9", "signals.usage_sudden_drop.severity: Input should be less"),
        ("[signals.usage_sudden_drop]\nenabled = 1", "signals.usage_sudden_drop.enabled: Input should be a valid bool"),
        ("[store]\nhome = 5", "store.home: Input should be a valid string (got 5)"),
        ("[model]\ntemperature = 9", "model.temperature: Input should be less than or equal to 2 (got 9)"),
        ("[limits]\nmax_file_mb = 0", "limits.max_file_mb: Input should be greater than or equal to 1 (got 0)"),
        ("[limits]\nmax_cell_kb = 1.5", "limits.max_cell_kb: Input should be a valid integer (got 1.5)"),
        ("[limits]\nfoo = 1", "limits.foo: unknown key"),
    ],
)
def test_every_key_is_type_and_range_checked(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text).startswith(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[formats]\ntickets.opened_at = "%m/%d/%y"', "formats.tickets.opened_at: '%m/%d/%y': two-digit years"),
        ('[formats]\ntickets.opened_at = "%d/%m"', "formats.tickets.opened_at: '%d/%m': a date format needs a four"),
        ('[formats]\ntickets.opened_at = "%Q/%m/%Y"', "formats.tickets.opened_at: '%Q/%m/%Y': unsupported directive"),
        ('[formats]\ntickets.subject = "%m/%d/%Y"', "formats.tickets.subject: not a date column of tickets.csv"),
        ('[formats]\nnope.x = "%Y-%m-%d"', "formats.nope: unknown key"),
        ("[formats]\ntickets.opened_at = 5", "formats.tickets.opened_at: expected a format string, got 5"),
        ('[formats]\ndate = "%y-%m-%d"', "formats.date: '%y-%m-%d': two-digit years"),
        ('[formats]\ndecimal = ";"', "formats.decimal: Input should be '.' or ','"),
        ('[formats]\ndecimal = ","\nthousands = ","', "formats.thousands: the thousands separator must differ"),
        ('[mapping.nope]\ndelimiter = ";"', "mapping.nope: unknown table"),
        ('[mapping.tickets]\ndelimiter = ";;"', "mapping.tickets.delimiter: expected one separator character"),
        ('[mapping.tickets]\ncolumns = {"Ticket ID" = "id"}', "mapping.tickets.columns.Ticket ID: 'id' is not a"),
        (
            '[mapping.tickets]\ncolumns = {"A" = "ticket_id", "B" = "ticket_id"}',
            "mapping.tickets.columns: several columns map to ticket_id",
        ),
        ('[mapping.tickets]\nvalues.priority = {High = "P9"}', "mapping.tickets.values.priority.High: 'P9' is not one"),
        ('[mapping.tickets]\nvalues.nope = {a = "b"}', "mapping.tickets.values.nope: not a column of tickets.csv"),
        ("[mapping.tickets]\nprofile = 1", "mapping.tickets.profile: unknown key"),
    ],
)
def test_formats_and_mappings_are_checked(tmp_path: Path, text: str, expected: str) -> None:
    assert error(tmp_path, text).startswith(expected)


def test_valid_settings_load(tmp_path: Path) -> None:
    config = loads(
        tmp_path,
        'as_of = 2026-11-20\ncompetitors = ["Gainsight"]\nhistory_days = 365\n'
        '[formats]\ndecimal = ","\nthousands = "."\ndate = "%d.%m.%Y"\ntickets.opened_at = "%m/%d/%Y %H:%M"\n'
        '[mapping.tickets]\ndelimiter = ";"\ncolumns = {"Ticket ID" = "ticket_id"}\n'
        'values.priority = {Urgent = "P1", High = "p2"}\n[limits]\nmax_file_mb = 2048\n',
    )
    assert config.as_of == date(2026, 11, 20) and config.history_days == 365
    assert config.formats.column_formats() == {"tickets": {"opened_at": "%m/%d/%Y %H:%M"}}
    assert config.mapping["tickets"].values["priority"] == {"Urgent": "P1", "High": "p2"}
    assert loads(tmp_path, 'as_of = "2026-11-20"').as_of == date(2026, 11, 20)


def test_not_toml_and_too_large(tmp_path: Path) -> None:
    assert error(tmp_path, "this is not toml").startswith("not valid TOML (")
    assert "too large for a settings file" in error(tmp_path, "# " + "x" * (1 << 20))


def test_date_formats_are_tried_before_use() -> None:
    assert check_date_format("%Y-%m-%dT%H:%M:%S%.fZ") == "%Y-%m-%dT%H:%M:%S%.fZ"
    assert check_date_format("%d %B %Y") == "%d %B %Y"
    with pytest.raises(ValueError, match="two-digit years"):
        check_date_format("%d/%m/%y")
