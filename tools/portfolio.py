"""Loading and validating a portfolio directory of CSV files (spec/data-format.md).

Validation is vectorised per column with polars, so a 10M-row usage file loads in seconds; the error
path alone re-reads the file with the csv module to name the exact physical line. Every problem stops
the load with one message naming file, line and column (an `InputError`, exit 2).

Time travel: with an `as_of` date every row dated after it is hidden, and facts that became true later
(a ticket closed later, an invoice paid later) are unset, so detection as of D sees what was known on D.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal

import polars as pl
from pydantic import BaseModel

from tools.errors import InputError, located

Kind = Literal["str", "date", "float", "bool", "enum"]


@dataclass(frozen=True)
class Column:
    """One column of a table: its type, whether it is required, and allowed values for enums."""

    name: str
    kind: Kind = "str"
    required: bool = False
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableSpec:
    """One CSV file of the portfolio."""

    name: str
    columns: tuple[Column, ...]
    id_column: str | None = None
    date_column: str | None = None  # rows dated after as-of are hidden

    @property
    def file(self) -> str:
        return f"{self.name}.csv"


def _c(name: str, kind: Kind = "str", required: bool = False, choices: tuple[str, ...] = ()) -> Column:
    return Column(name, kind, required, choices)


ROLES = ("champion", "executive_sponsor", "admin", "user", "billing")

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "accounts",
            (
                _c("account_id", required=True),
                _c("name", required=True),
                _c("arr", "float", True),
                _c("renewal_date", "date", True),
                _c("segment", "enum", choices=("enterprise", "mid-market", "smb")),
                _c("csm_owner"),
                _c("licenses", "float"),
                _c("contract_start", "date"),
                _c("goals"),
            ),
            id_column="account_id",
        ),
        TableSpec(
            "health_scores",
            (_c("account_id", required=True), _c("date", "date", True), _c("score", "float", True)),
            date_column="date",
        ),
        TableSpec(
            "usage",
            (
                _c("account_id", required=True),
                _c("period_start", "date", True),
                _c("metric", required=True),
                _c("value", "float", True),
            ),
            date_column="period_start",
        ),
        TableSpec(
            "tickets",
            (
                _c("ticket_id", required=True),
                _c("account_id", required=True),
                _c("opened_at", "date", True),
                _c("closed_at", "date"),
                _c("priority", "enum", choices=("P1", "P2", "P3", "P4")),
                _c("status", "enum", choices=("open", "pending", "closed")),
                _c("escalated", "bool"),
                _c("sentiment", "enum", choices=("positive", "neutral", "negative", "frustrated")),
                _c("subject"),
                _c("body"),
            ),
            id_column="ticket_id",
            date_column="opened_at",
        ),
        TableSpec(
            "surveys",
            (
                _c("account_id", required=True),
                _c("date", "date", True),
                _c("kind", "enum", True, ("nps", "csat")),
                _c("score", "float", True),
                _c("respondent"),
                _c("comment"),
            ),
            date_column="date",
        ),
        TableSpec(
            "contact_events",
            (
                _c("account_id", required=True),
                _c("date", "date", True),
                _c("contact_name", required=True),
                _c("role", "enum", True, ROLES),
                _c("event", "enum", True, ("joined", "departed", "role_changed")),
                _c("title"),
                _c("detail"),
                _c("source"),
            ),
            date_column="date",
        ),
        TableSpec(
            "meetings",
            (
                _c("meeting_id", required=True),
                _c("account_id", required=True),
                _c("date", "date", True),
                _c("kind", "enum", choices=("qbr", "ebr", "check_in", "training", "onboarding")),
                _c("status", "enum", True, ("held", "declined", "cancelled", "no_show", "scheduled")),
                _c("attendees"),
                _c("attendee_roles"),
            ),
            id_column="meeting_id",
            date_column="date",
        ),
        TableSpec(
            "emails",
            (
                _c("email_id", required=True),
                _c("account_id", required=True),
                _c("sent_at", "date", True),
                _c("direction", "enum", True, ("outbound", "inbound")),
                _c("contact_name"),
                _c("contact_role"),
                _c("subject"),
            ),
            id_column="email_id",
            date_column="sent_at",
        ),
        TableSpec(
            "invoices",
            (
                _c("invoice_id", required=True),
                _c("account_id", required=True),
                _c("issued_on", "date", True),
                _c("due_on", "date", True),
                _c("paid_on", "date"),
                _c("amount", "float", True),
                _c("currency"),
            ),
            id_column="invoice_id",
            date_column="issued_on",
        ),
        TableSpec(
            "opportunities",
            (
                _c("opportunity_id", required=True),
                _c("account_id", required=True),
                _c("kind", "enum", True, ("renewal", "expansion")),
                _c("stage", required=True),
                _c("stage_entered_on", "date", True),
                _c("close_date", "date"),
                _c("amount", "float"),
                _c("objection"),
            ),
            id_column="opportunity_id",
            date_column="stage_entered_on",
        ),
        TableSpec(
            "notes",
            (
                _c("note_id", required=True),
                _c("account_id", required=True),
                _c("date", "date", True),
                _c("author"),
                _c("text", required=True),
            ),
            id_column="note_id",
            date_column="date",
        ),
        TableSpec(
            "outcomes",
            (
                _c("account_id", required=True),
                _c("date", "date", True),
                _c("outcome", "enum", True, ("renewed", "churned", "contracted", "expanded")),
            ),
            date_column="date",
        ),
    )
}

OPTIONAL_TABLES = tuple(name for name in TABLES if name not in ("accounts", "outcomes"))


class Account(BaseModel):
    """One row of accounts.csv, as a typed record (for briefs and per-account views)."""

    account_id: str
    name: str
    arr: float
    renewal_date: date
    segment: str | None = None
    csm_owner: str | None = None
    licenses: float | None = None
    contract_start: date | None = None
    goals: str | None = None


@dataclass
class Portfolio:
    """A validated portfolio: typed polars frames, as-of filtered. Absent optional files are `missing`."""

    root: Path
    as_of: date | None
    accounts: pl.DataFrame
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    missing: set[str] = field(default_factory=set)

    def table(self, name: str) -> pl.DataFrame | None:
        """The table's frame, or None when its file is absent."""
        return self.tables.get(name)

    def has(self, name: str) -> bool:
        return name in self.tables

    @property
    def account_ids(self) -> set[str]:
        return set(self.accounts["account_id"].to_list())

    def account(self, account_id: str) -> Account:
        """The typed record of one account; an unknown id is an InputError naming it."""
        rows = self.accounts.filter(pl.col("account_id") == account_id)
        if rows.height == 0:
            raise InputError(f"unknown account '{account_id}': not in {self.root / 'accounts.csv'}")
        return Account.model_validate(rows.row(0, named=True))


# ---------------------------------------------------------------------------------------------- reading


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        message = f"not UTF-8 (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        raise located(path.name, line, None, message) from None


def _physical_line(text: str, row_index: int) -> int:
    """Physical line of data row `row_index` (0-based), counting quoted multi-line fields correctly."""
    reader = csv.reader(io.StringIO(text))
    next(reader, None)
    previous_end = reader.line_num
    for i, _ in enumerate(reader):
        if i == row_index:
            return previous_end + 1
        previous_end = reader.line_num
    return row_index + 2


def _read_raw(path: Path) -> pl.DataFrame:
    text = _decode(path)
    if not text.strip():
        raise located(path.name, 1, None, "the file is empty; expected a header row")
    try:
        frame = pl.read_csv(io.StringIO(text), infer_schema=False)
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise located(path.name, None, None, f"cannot be parsed as CSV ({first})") from None
    header = {c.strip(): c for c in frame.columns}
    return frame.rename({v: k for k, v in header.items() if k != v})


def _fail_at(spec: TableSpec, path: Path, mask: pl.Series, column: str, message: str) -> InputError:
    row = int(mask.arg_true()[0])
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    return located(spec.file, _physical_line(text, row), column, message)


def _convert(spec: TableSpec, raw: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Slow path: every column read as text, converted with a located error for the first bad cell."""
    raw = raw.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in raw.columns)
    converted: list[pl.Series] = []
    for col in spec.columns:
        if col.name not in raw.columns or col.kind not in ("date", "float", "bool"):
            continue
        src = raw[col.name]
        if col.kind == "date":
            parsed = src.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
            expected = "is not a date (expected YYYY-MM-DD)"
        elif col.kind == "float":
            parsed = src.str.replace_all(",", "").str.replace(r"^\$", "").cast(pl.Float64, strict=False)
            parsed = parsed.fill_nan(None)
            expected = "is not a number"
        else:
            parsed = src.str.to_lowercase().replace_strict(BOOLEANS, default=None, return_dtype=pl.Boolean)
            expected = "is not true/false"
        bad = parsed.is_null() & src.is_not_null()
        if bad.any():
            raise _fail_at(spec, path, bad, col.name, f"'{src.filter(bad)[0]}' {expected}")
        converted.append(parsed.alias(col.name))
    return raw.with_columns(converted)


BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
# Free text is kept as written; identifiers and categories are trimmed so joins and checks are exact.
FREE_TEXT = {"name", "goals", "subject", "body", "comment", "detail", "title", "text", "objection", "attendees"}


def _fast_read(path: Path, spec: TableSpec) -> pl.DataFrame | None:
    """Typed read for a well-formed file; None sends it down the slow path, which names the problem."""
    data = path.read_bytes()
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        header = next(csv.reader([data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r")]))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        return None
    if any(h != h.strip() for h in header) or len(set(header)) != len(header):
        return None
    typed = {c.name: _dtype(c.kind) for c in spec.columns if c.name in header and c.kind in ("date", "float", "bool")}
    try:
        frame = pl.read_csv(data, infer_schema=False, schema_overrides=typed)
    except pl.exceptions.PolarsError:
        return None
    strings = [c for c, t in frame.schema.items() if t == pl.Utf8]
    return frame.with_columns(
        (pl.col(c) if c in FREE_TEXT else pl.col(c).str.strip_chars()).replace("", None) for c in strings
    )


def _validate(spec: TableSpec, frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    """Required columns and values, categories, unique ids; the spec's columns in order, extras after."""
    for col in spec.columns:
        if col.required and col.name not in frame.columns:
            raise located(spec.file, 1, col.name, "required column is missing from the header")
    exprs: list[pl.Expr] = []
    for col in spec.columns:
        if col.name not in frame.columns:
            exprs.append(pl.lit(None, dtype=_dtype(col.kind)).alias(col.name))
            continue
        src = frame[col.name]
        if col.required and src.null_count():
            raise _fail_at(spec, path, src.is_null(), col.name, "required value is empty")
        if col.kind == "enum":
            if col.name == "priority":
                norm = src.str.to_uppercase()
            else:
                norm = src.str.to_lowercase().str.replace_all(" ", "_")
                if col.name == "segment":
                    norm = norm.str.replace_all("_", "-")
            bad = ~norm.is_in(list(col.choices)) & norm.is_not_null()
            if bad.any():
                value = src.filter(bad)[0]
                raise _fail_at(spec, path, bad, col.name, f"'{value}' is not one of {', '.join(col.choices)}")
            src = norm
        exprs.append(pl.lit(src).alias(col.name))
    known = {c.name for c in spec.columns}
    extras = [c for c in frame.columns if c not in known]
    out = (
        frame.select(exprs) if not extras else pl.concat([frame.select(exprs), frame.select(extras)], how="horizontal")
    )
    # Keep numeric component columns of health scores numeric (they are evidence of what moved).
    if spec.name == "health_scores":
        for c in extras:
            as_num = out[c].cast(pl.Float64, strict=False)
            if as_num.null_count() == out[c].null_count():
                out = out.with_columns(as_num.alias(c))
    if spec.id_column:
        ids = out[spec.id_column]
        dup = ids.is_duplicated()
        if dup.any():
            first = ids.filter(dup)[0]
            second = (ids == first).arg_true()[1]
            mask = pl.Series([False] * out.height).scatter(second, True)
            raise _fail_at(spec, path, mask, spec.id_column, f"duplicate id '{first}'")
    return out


def _dtype(kind: Kind) -> type[pl.DataType]:
    return {"date": pl.Date, "float": pl.Float64, "bool": pl.Boolean}.get(kind, pl.Utf8)


def _load_table(root: Path, spec: TableSpec) -> pl.DataFrame:
    path = root / spec.file
    frame = _fast_read(path, spec)
    if frame is None:
        frame = _convert(spec, _read_raw(path), path)
    return _validate(spec, frame, path)


def _check_accounts(spec: TableSpec, frame: pl.DataFrame, known: pl.Series, root: Path) -> None:
    unknown = ~frame["account_id"].is_in(known.implode())
    if unknown.any():
        value = frame["account_id"].filter(unknown)[0]
        raise _fail_at(
            spec, root / spec.file, unknown, "account_id", f"unknown account '{value}' (not in accounts.csv)"
        )


def _as_of_view(name: str, frame: pl.DataFrame, as_of: date) -> pl.DataFrame:
    spec = TABLES[name]
    if spec.date_column:
        frame = frame.filter(pl.col(spec.date_column) <= as_of)
    if name == "tickets":
        closed_later = pl.col("closed_at").is_null() | (pl.col("closed_at") > as_of)
        frame = frame.with_columns(
            pl.when(closed_later & (pl.col("status") == "closed"))
            .then(pl.lit("open"))
            .otherwise(pl.col("status"))
            .alias("status"),
            pl.when(pl.col("closed_at") > as_of).then(None).otherwise(pl.col("closed_at")).alias("closed_at"),
        )
    elif name == "invoices":
        frame = frame.with_columns(
            pl.when(pl.col("paid_on") > as_of).then(None).otherwise(pl.col("paid_on")).alias("paid_on")
        )
    return frame


def load_portfolio(root: Path, as_of: date | None = None, *, include_outcomes: bool = False) -> Portfolio:
    """Load and validate every CSV in `root`; hide rows dated after `as_of`.

    `outcomes.csv` is history for backtests and calibration: it is read only with `include_outcomes`.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: not a portfolio directory (expected a folder of CSV files)")
    if not (root / "accounts.csv").is_file():
        raise InputError(f"{root}: accounts.csv is missing (the one required file)")
    accounts = _load_table(root, TABLES["accounts"])
    tables: dict[str, pl.DataFrame] = {}
    missing: set[str] = set()
    names = [*OPTIONAL_TABLES, *(["outcomes"] if include_outcomes else [])]
    for name in names:
        path = root / TABLES[name].file
        if not path.is_file():
            missing.add(name)
            continue
        frame = _load_table(root, TABLES[name])
        _check_accounts(TABLES[name], frame, accounts["account_id"], root)
        tables[name] = _as_of_view(name, frame, as_of) if as_of is not None and name != "outcomes" else frame
    return Portfolio(root=root, as_of=as_of, accounts=accounts, tables=tables, missing=missing)
