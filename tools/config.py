"""`riskbrief.toml`: one settings object with defaults, file overrides and environment overrides.

Read from `--config FILE`, else `riskbrief.toml` in the portfolio directory, else in the working
directory (docs/data-format.md). Every key is type- and range-checked: an unknown key or a bad value is
an error naming it (exit 2). No value is coerced: a string where a number belongs, a number where a
date belongs, a list where a number belongs are all errors.

Besides detection settings, three tables govern how the portfolio's files are read (tools.portfolio):
`[formats]` (declared date formats and number separators), `[mapping.<table>]` (column and value
mapping of exports, their delimiter) and `[limits]` (file and cell sizes).
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.errors import InputError, shown
from tools.registry import REGISTRY, SignalSpec

FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2100, 12, 31)
MAX_DAYS = 3660  # ten years: the longest window any setting may span
MAX_CONFIG_BYTES = 1 << 20
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def iso_date(value: object, what: str = "date") -> date:
    """A date written exactly `YYYY-MM-DD` (or a TOML date) between 1900 and 2100; else ValueError."""
    if isinstance(value, datetime):
        raise ValueError(f"expected a {what} (YYYY-MM-DD), got a date and time {value.isoformat()}")
    if isinstance(value, date):
        parsed = value
    elif isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise ValueError(f"'{shown(value)}' is not a valid {what}") from None
    else:
        raise ValueError(f"expected a {what} written YYYY-MM-DD, got {shown(repr(value))}")
    if not FIRST_DATE <= parsed <= LAST_DATE:
        raise ValueError(f"{parsed.isoformat()} is out of range (years {FIRST_DATE.year}–{LAST_DATE.year})")
    return parsed


def _as_of(value: object) -> date | None:
    return None if value is None else iso_date(value, "date")


Days = Annotated[int, Field(ge=1, le=MAX_DAYS)]


class SignalOverride(BaseModel):
    """Per-signal table: `enabled`, `severity`, and any of the signal's parameters."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    enabled: bool = True
    severity: int | None = Field(default=None, ge=1, le=5)


class ProximityBand(BaseModel):
    """Renewal proximity: accounts renewing in fewer than `max_days` days get `adjustment`."""

    model_config = _STRICT

    max_days: int = Field(ge=0, le=MAX_DAYS)
    adjustment: float = Field(ge=-10, le=10)


class RiskLevels(BaseModel):
    model_config = _STRICT

    critical: float = Field(default=5.5, ge=0, le=100)
    high: float = Field(default=4.0, ge=0, le=100)
    medium: float = Field(default=2.5, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> RiskLevels:
        if not self.critical >= self.high >= self.medium:
            raise ValueError("risk_levels: expected critical >= high >= medium")
        return self


class ModelSettings(BaseModel):
    """The chat model; environment variables win (OPENAI_BASE_URL, RISKBRIEF_MODEL)."""

    model_config = _STRICT

    name: str | None = None
    base_url: str | None = None
    temperature: float = Field(default=0.0, ge=0, le=2)
    structured_method: str | None = None


class StoreSettings(BaseModel):
    """Where state lives. Embedded by default (a workspace folder of SQLite files and a local Chroma
    store); a team points `database_url` at Postgres and `chroma_url` at a Chroma server."""

    model_config = _STRICT

    home: str | None = None
    database_url: str | None = Field(default=None, pattern=r"^postgres(ql)?://", max_length=2000)
    chroma_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)


class PrivacySettings(BaseModel):
    """What may leave the machine. Contact data (e-mails, phones, cards, national ids) is always replaced
    by placeholders before a model call; `redact_names` replaces people's names too."""

    model_config = _STRICT

    redact_names: bool = False


class Calibration(BaseModel):
    """A fitted churn model: logistic regression over signal indicators (see tools.calibration)."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    intercept: float = Field(default=0.0, ge=-50, le=50)
    weights: dict[str, Annotated[float, Field(ge=-50, le=50)]] = Field(default_factory=dict)


# ------------------------------------------------------------------------------------ reading the data

# Directives a declared date format may use (chrono's, as polars reads them). Two-digit years (%y) are
# never accepted: 01/02/03 has no single reading.
_DIRECTIVE = re.compile(r"%(\.\d?f|:z|[YmdbBeHIMSpzfaAT%])")
_ANY_DIRECTIVE = re.compile(r"%(\.\d?f|:z|.)")


def check_date_format(fmt: str) -> str:
    """A declared date format, or ValueError saying what is wrong with it."""
    found = [m.group(0) for m in _ANY_DIRECTIVE.finditer(fmt)]
    bad = [d for d in found if not _DIRECTIVE.fullmatch(d)]
    if "%y" in found:
        raise ValueError(f"'{shown(fmt)}': two-digit years (%y) are ambiguous; use %Y")
    if bad:
        raise ValueError(f"'{shown(fmt)}': unsupported directive {bad[0]} (use %Y %m %d %b %B %H %M %S %z …)")
    if "%Y" not in found or not {"%m", "%b", "%B"} & set(found) or not {"%d", "%e"} & set(found):
        raise ValueError(f"'{shown(fmt)}': a date format needs a four-digit year %Y, a month and a day")
    import polars as pl

    sample = pl.Series([datetime(2026, 3, 27, 14, 5, 9)])
    try:
        written = sample.dt.strftime(fmt) if "%z" not in fmt and "%:z" not in fmt else None
        if written is not None:
            back = written.str.strptime(pl.Datetime, fmt, strict=False)
            if back.is_null().any() or back.dt.date()[0] != date(2026, 3, 27):
                raise ValueError
    except (ValueError, pl.exceptions.PolarsError):
        raise ValueError(f"'{shown(fmt)}' cannot be used to read dates") from None
    return fmt


class Formats(BaseModel):
    """`[formats]`: how dates and numbers are written in the portfolio's files, when not the default
    (ISO dates, `.` decimals, no thousands separator). Per-column date formats are tables:
    `tickets.opened_at = "%m/%d/%Y"`; `date = "%d.%m.%Y"` applies to every date column."""

    model_config = ConfigDict(extra="allow", strict=True)

    decimal: Literal[".", ","] = "."
    thousands: Literal[",", ".", " ", "'", "_", "\u00a0", "\u202f"] | None = None
    date: str | None = None

    @field_validator("date")
    @classmethod
    def _date_format(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return check_date_format(value)
        except ValueError as exc:
            raise ValueError(f"formats.date: {exc}") from None

    @model_validator(mode="after")
    def _columns(self) -> Formats:
        from tools.portfolio import TABLES

        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError("formats.thousands: the thousands separator must differ from the decimal separator")
        for table, columns in (self.model_extra or {}).items():
            if table not in TABLES:
                raise ValueError(
                    f"formats.{table}: unknown key (a table name: {', '.join(TABLES)}; or decimal, thousands, date)"
                )
            if not isinstance(columns, dict):
                raise ValueError(f'formats.{table}: expected a table of column = "format", got {shown(repr(columns))}')
            dates = {c.name for c in TABLES[table].columns if c.kind == "date"}
            for column, fmt in columns.items():
                if column not in dates:
                    raise ValueError(
                        f"formats.{table}.{column}: not a date column of {table}.csv "
                        f"(date columns: {', '.join(sorted(dates))})"
                    )
                if not isinstance(fmt, str):
                    raise ValueError(f"formats.{table}.{column}: expected a format string, got {shown(repr(fmt))}")
                try:
                    check_date_format(fmt)
                except ValueError as exc:
                    raise ValueError(f"formats.{table}.{column}: {exc}") from None
        return self

    def column_formats(self) -> dict[str, dict[str, str]]:
        """{table: {column: format}} as declared."""
        return {t: dict(c) for t, c in (self.model_extra or {}).items()}


class TableMapping(BaseModel):
    """`[mapping.<table>]`: how an export's file is read as `<table>.csv`: its `delimiter`, `columns`
    (`{"Ticket ID" = "ticket_id", ...}`, header matched ignoring case and surrounding spaces) and
    `values` per canonical column (`values.priority = {Urgent = "P1", ...}`, matched ignoring case)."""

    model_config = _STRICT

    delimiter: str = ","
    columns: dict[str, str] = Field(default_factory=dict)
    values: dict[str, dict[str, str]] = Field(default_factory=dict)

    @field_validator("delimiter")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1 or value in '"\r\n' or value.isalnum():
            raise ValueError(f'expected one separator character such as "," ";" or "\\t", got {shown(repr(value))}')
        return value


class Limits(BaseModel):
    """`[limits]`: the largest input file and the largest cell read (bigger is an error, never a hang)."""

    model_config = _STRICT

    max_file_mb: int = Field(default=1024, ge=1, le=1_000_000)
    max_cell_kb: int = Field(default=100, ge=1, le=1_000_000)


def _check_mapping(mapping: dict[str, TableMapping]) -> dict[str, TableMapping]:
    from tools.portfolio import TABLES

    for table, m in mapping.items():
        if table not in TABLES:
            raise ValueError(f"mapping.{table}: unknown table (known: {', '.join(TABLES)})")
        spec = TABLES[table]
        known = {c.name: c for c in spec.columns}
        seen: dict[str, str] = {}
        for source, target in m.columns.items():
            if not source.strip():
                raise ValueError(f"mapping.{table}.columns: a source column name is empty")
            if target not in known:
                raise ValueError(
                    f"mapping.{table}.columns.{source}: '{shown(target)}' is not a column of "
                    f"{table}.csv (columns: {', '.join(known)})"
                )
            key = " ".join(source.split()).casefold()
            if key in seen:
                raise ValueError(f"mapping.{table}.columns: '{shown(source)}' is given twice")
            seen[key] = target
        targets = list(m.columns.values())
        twice = sorted({t for t in targets if targets.count(t) > 1})
        if twice:
            raise ValueError(f"mapping.{table}.columns: several columns map to {twice[0]}")
        for column, values in m.values.items():
            if column not in known:
                raise ValueError(f"mapping.{table}.values.{column}: not a column of {table}.csv")
            col = known[column]
            for source, target in values.items():
                if col.kind == "enum" and target.strip() and col.normalize(target) not in col.choices:
                    raise ValueError(
                        f"mapping.{table}.values.{column}.{source}: '{shown(target)}' is not one of "
                        f"{', '.join(col.choices)}"
                    )
    return mapping


class Config(BaseModel):
    """All settings. Signal parameters are resolved against the registry with `params(signal_id)`."""

    model_config = _STRICT

    as_of: Annotated[date | None, BeforeValidator(_as_of)] = None
    competitors: list[str] = Field(default_factory=list)
    cluster_window_days: int = Field(default=14, ge=1, le=365)
    cause_recency_days: int = Field(
        default=180,
        ge=1,
        le=MAX_DAYS,
        description="a note or survey older than this (days) cannot confirm a current cause",
    )
    history_days: int = Field(
        default=182, ge=30, le=MAX_DAYS, description="how far back usage and health series are read for trends (days)"
    )
    cluster_cap: float = Field(default=5.0, ge=0, le=100)
    score_cap: float = Field(default=6.5, ge=0, le=100)
    renewal_proximity: list[ProximityBand] = Field(
        default_factory=lambda: [
            ProximityBand(max_days=30, adjustment=1.5),
            ProximityBand(max_days=90, adjustment=1.0),
            ProximityBand(max_days=181, adjustment=0.5),
        ],
        max_length=20,
    )
    risk_levels: RiskLevels = Field(default_factory=RiskLevels)
    suppression_days: int = Field(default=14, ge=0, le=365)
    signals: dict[str, SignalOverride] = Field(default_factory=dict)
    model: ModelSettings = Field(default_factory=ModelSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    calibration: Calibration | None = None
    formats: Formats = Field(default_factory=Formats)
    mapping: dict[str, TableMapping] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    source: str | None = Field(default=None, description="the file these settings came from")

    @field_validator("competitors")
    @classmethod
    def _names(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if len(name) > 200:
                raise ValueError(f"competitors.{i}: a name is at most 200 characters")
        return value

    @field_validator("signals")
    @classmethod
    def _known_signals(cls, value: dict[str, SignalOverride]) -> dict[str, SignalOverride]:
        for key, override in value.items():
            if key not in REGISTRY:
                raise ValueError(f"unknown signal '{shown(key)}' (known: {', '.join(REGISTRY)})")
            spec = REGISTRY[key]
            for param, given in (override.model_extra or {}).items():
                if param not in spec.params:
                    allowed = ", ".join(["enabled", "severity", *spec.params])
                    raise ValueError(f"signals.{key}: unknown key '{shown(param)}' (allowed: {allowed})")
                problem = _param_problem(param, spec.params[param], given)
                if problem:
                    raise ValueError(f"signals.{key}.{param}: {problem}")
        return value

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: dict[str, TableMapping]) -> dict[str, TableMapping]:
        return _check_mapping(value)

    @model_validator(mode="after")
    def _bands_sorted(self) -> Config:
        self.renewal_proximity = sorted(self.renewal_proximity, key=lambda b: b.max_days)
        return self

    def spec(self, signal_id: str) -> SignalSpec:
        return REGISTRY[signal_id]

    def enabled(self, signal_id: str) -> bool:
        override = self.signals.get(signal_id)
        return override.enabled if override else True

    def severity(self, signal_id: str) -> int:
        override = self.signals.get(signal_id)
        if override and override.severity is not None:
            return override.severity
        return REGISTRY[signal_id].severity

    def params(self, signal_id: str) -> dict[str, Any]:
        merged: dict[str, Any] = dict(REGISTRY[signal_id].params)
        override = self.signals.get(signal_id)
        if override and override.model_extra:
            merged.update(override.model_extra)
        return merged

    def proximity_adjustment(self, days_to_renewal: int) -> float:
        for band in self.renewal_proximity:
            if days_to_renewal < band.max_days:
                return band.adjustment
        return 0.0

    def model_name(self) -> str | None:
        return os.environ.get("RISKBRIEF_MODEL") or self.model.name

    def base_url(self) -> str | None:
        return os.environ.get("OPENAI_BASE_URL") or self.model.base_url


def _param_problem(name: str, default: float | int | str, given: object) -> str | None:
    """Why `given` cannot stand for a signal parameter whose default is `default`, or None."""
    if isinstance(default, str):
        if not isinstance(given, str) or not given.strip() or len(given) > 200:
            return f"expected a non-empty str, got {shown(repr(given), 60)}"
        return None
    if isinstance(given, bool) or not isinstance(given, int | float):
        return f"expected a {type(default).__name__}, got {shown(repr(given), 60)}"
    if isinstance(default, int) and not isinstance(given, int):
        return f"expected a whole number, got {given!r}"
    if not math.isfinite(given):
        return f"expected a finite number, got {given!r}"
    low, high = _param_range(name, default)
    if not low <= given <= high:
        return f"{given!r} is out of range ({low:g} to {high:g})"
    return None


def _param_range(name: str, default: float | int) -> tuple[float, float]:
    if name == "percentile":
        return 0.0, 1.0
    if name.endswith("days"):
        return 1, MAX_DAYS
    if isinstance(default, int):
        return 1, 1_000_000
    return 0.0, 1_000_000.0


def _format_error(path: Path, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if p != "__root__")
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    if where and message.startswith((f"{where}.", f"{where}:")):  # the validator named the key itself
        where = ""
    if first["type"] not in ("extra_forbidden", "missing") and "input" in first and not message.startswith("'"):
        given = first["input"]
        if not isinstance(given, dict) and first["type"] != "value_error":
            message += f" (got {shown(repr(given), 60)})"
    return f"{path}: {where + ': ' if where else ''}{message}"


def _validate(data: dict[str, Any], path: Path) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise InputError(_format_error(path, exc)) from None
    config.source = str(path)
    return config


def parse_config(data: dict[str, Any], path: Path) -> Config:
    config = _validate(data, path)
    if config.store.home:
        from tools import workspace

        # Relative to the config file, so the same file works from any working directory.
        workspace.set_config_home((path.parent / config.store.home).resolve())
    from tools import redact

    redact.set_config_names(config.privacy.redact_names)
    if config.store.database_url or config.store.chroma_url:
        from tools import workspace

        workspace.set_config_servers(config.store.database_url, config.store.chroma_url)
    return config


def find_config(data_dir: Path | None, config_file: Path | None = None) -> Path | None:
    if config_file is not None:
        if not Path(config_file).is_file():
            raise InputError(f"{shown(config_file)}: config file not found")
        return Path(config_file)
    for candidate in ([Path(data_dir) / "riskbrief.toml"] if data_dir else []) + [Path("riskbrief.toml")]:
        if candidate.is_file():
            return candidate
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise InputError(f"{path}: {size} bytes is too large for a settings file (limit {MAX_CONFIG_BYTES})")
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({shown(exc, 200)})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read ({exc.strerror or exc})") from None


# The settings file a command named with --config for a data directory, so that reading that
# directory later in the same process (tools.portfolio) follows the same [formats] and [mapping].
_named_for: dict[Path, Path] = {}


def load_config(data_dir: Path | None, config_file: Path | None = None) -> Config:
    """Settings from the first config file found (see module doc), or the defaults."""
    path = find_config(data_dir, config_file)
    if data_dir is not None:
        key = Path(data_dir).absolute()
        if config_file is not None:
            _named_for[key] = Path(config_file).absolute()
        else:
            _named_for.pop(key, None)
    if path is None:
        return Config()
    return parse_config(_read_toml(path), path)


def data_config(data_dir: Path) -> Config:
    """The settings that govern reading `data_dir`: the file a command named for it with --config, else
    the one `load_config(data_dir)` finds, else the defaults. Has no side effect on the workspace."""
    named = _named_for.get(Path(data_dir).absolute())
    path = named if named is not None and named.is_file() else find_config(data_dir)
    if path is None:
        return Config()
    return _validate(_read_toml(path), path)
