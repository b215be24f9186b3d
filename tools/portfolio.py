"""Loading and validating a portfolio directory of CSV files (docs/data-format.md).

Validation is vectorised per column with polars, so a 10M-row usage file loads in seconds: one typed
read, then one pass that converts every column and flags every bad cell. Only when something is wrong
does the error path re-read the file with the csv module to name the exact physical line. Every problem
stops the load with one message naming file, line, column and the offending value (escaped and cut
short): an `InputError`, exit 2. Nothing is guessed: dates are ISO `YYYY-MM-DD` unless a format is
declared for the column in riskbrief.toml (`[formats]`), numbers use `.` decimals and no thousands
separator unless declared, and an export's own column names and values are read only through a
declared `[mapping.<table>]` (see `TableReader`).

Time travel: with an `as_of` date every row dated after it is hidden, and facts that became true later
(a ticket closed later, an invoice paid later) are unset, so detection as of D sees what was known on D.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import polars as pl
from pydantic import BaseModel

from tools.config import FIRST_DATE, LAST_DATE
from tools.errors import InputError, located, shown

if TYPE_CHECKING:
    from tools.config import Config
    from tools.signals.base import SegmentBenchmarks
    from tools.snapshot import Loaded, Snapshot

Kind = Literal["str", "date", "float", "bool", "enum"]

MAX_NUMBER = 1e15  # larger than any real amount, count or score: a bigger figure is a typo or an overflow
MB = 1 << 20
KB = 1 << 10


@dataclass(frozen=True)
class Column:
    """One column of a table: its type, whether it is required, allowed values for enums, and the
    range of a number (`low`..`high`, both inclusive; every number is also finite)."""

    name: str
    kind: Kind = "str"
    required: bool = False
    choices: tuple[str, ...] = ()
    low: float = -MAX_NUMBER
    high: float = MAX_NUMBER

    def normalize(self, value: str) -> str:
        """An enum value as the loader reads it: `P1` in any case, categories lower-case with `_`
        (segments with `-`)."""
        if self.name == "priority":
            return value.strip().upper()
        norm = value.strip().lower().replace(" ", "_")
        return norm.replace("_", "-") if self.name == "segment" else norm


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

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


def _c(
    name: str,
    kind: Kind = "str",
    required: bool = False,
    choices: tuple[str, ...] = (),
    low: float = -MAX_NUMBER,
    high: float = MAX_NUMBER,
) -> Column:
    return Column(name, kind, required, choices, low, high)


ROLES = ("champion", "executive_sponsor", "admin", "user", "billing")
SURVEY_SCALES = {"nps": (0.0, 10.0), "csat": (1.0, 5.0)}

TABLES: dict[str, TableSpec] = {
    t.name: t
    for t in (
        TableSpec(
            "accounts",
            (
                _c("account_id", required=True),
                _c("name", required=True),
                _c("arr", "float", True, low=0),
                _c("renewal_date", "date", True),
                _c("segment", "enum", choices=("enterprise", "mid-market", "smb")),
                _c("csm_owner"),
                _c("licenses", "float", low=0),
                _c("contract_start", "date"),
                _c("goals"),
            ),
            id_column="account_id",
        ),
        TableSpec(
            "health_scores",
            (_c("account_id", required=True), _c("date", "date", True), _c("score", "float", True, low=0, high=100)),
            date_column="date",
        ),
        TableSpec(
            "usage",
            (
                _c("account_id", required=True),
                _c("period_start", "date", True),
                _c("metric", required=True),
                _c("value", "float", True, low=0),
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
                _c("score", "float", True, low=0, high=10),  # and within its kind's scale (SURVEY_SCALES)
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
                _c("amount", "float", True, low=0),
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
                _c("amount", "float", low=0),
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
        # Accounts as they were (tools.churn_accounts): values in force from `valid_from` on.
        TableSpec(
            "account_history",
            (
                _c("account_id", required=True),
                _c("valid_from", "date", True),
                _c("arr", "float", low=0),
                _c("renewal_date", "date"),
                _c("segment", "enum", choices=("enterprise", "mid-market", "smb")),
                _c("licenses", "float", low=0),
            ),
            date_column="valid_from",
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
    # On a one-account view cut for detection (tools.signals.account_view): the segment benchmarks of the
    # whole portfolio it was cut from, which the account is compared against. None on a whole portfolio.
    benchmarks: SegmentBenchmarks | None = None
    _last_cut: tuple[str, Portfolio] | None = field(default=None, init=False, repr=False, compare=False)

    def table(self, name: str) -> pl.DataFrame | None:
        """The table's frame, or None when its file is absent."""
        return self.tables.get(name)

    def has(self, name: str) -> bool:
        return name in self.tables

    @property
    def account_ids(self) -> set[str]:
        return set(self.accounts["account_id"].to_list())

    def only(self, account_id: str) -> Portfolio:
        """The portfolio cut down to one account: its row of accounts and its rows of every table, in file
        order, with the same tables present and missing. What is read per account reads the same here.
        The last cut is kept: a brief asks for its account's rows at each step (a pass over every row of a
        100k-account portfolio each time, about 20 ms)."""
        if self._last_cut is not None and self._last_cut[0] == account_id:
            return self._last_cut[1]
        mine = pl.col("account_id") == account_id
        cut = Portfolio(
            root=self.root,
            as_of=self.as_of,
            accounts=self.accounts.filter(mine),
            tables={name: frame.filter(mine) for name, frame in self.tables.items()},
            missing=set(self.missing),
        )
        self._last_cut = (account_id, cut)
        return cut

    def account(self, account_id: str) -> Account:
        """The typed record of one account; an unknown id is an InputError naming it."""
        rows = self.accounts.filter(pl.col("account_id") == account_id)
        if rows.height == 0:
            raise InputError(f"unknown account '{shown(account_id)}': not in {self.root / 'accounts.csv'}")
        return Account.model_validate(rows.row(0, named=True))


# ------------------------------------------------------------------------------------- how to read


def fold(text: str) -> str:
    """A header or value as mappings match it: surrounding and repeated spaces ignored, any case."""
    return " ".join(text.split()).lower()


@dataclass(frozen=True)
class TableReader:
    """How one table's file is read: its delimiter, declared formats and column/value mapping.

    The default reads the canonical format. `columns` maps folded source headers to canonical column
    names; `values` maps, per canonical column, folded source values to canonical ones (others pass
    through unchanged, so they are validated as written). `date_formats` holds a declared format per
    date column (else ISO `YYYY-MM-DD`); `decimal`/`thousands` the declared number separators."""

    delimiter: str = ","
    columns: Mapping[str, str] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    date_formats: Mapping[str, str] = field(default_factory=dict)
    decimal: str = "."
    thousands: str | None = None
    max_file_bytes: int = 1024 * MB
    max_cell_bytes: int = 100 * KB
    # Where declared mappings and formats come from, for hints in errors: "config" (riskbrief.toml), or
    # how to change them otherwise (an import profile's `--date-format`).
    origin: str = "config"
    mapped: bool = False  # a mapping was declared for this table

    @property
    def plain_numbers(self) -> bool:
        return self.decimal == "." and self.thousands is None


DEFAULT_READER = TableReader()


def readers(config: Config | None) -> dict[str, TableReader]:
    """One TableReader per table from riskbrief.toml's `[formats]`, `[mapping.*]` and `[limits]`."""
    if config is None:
        return {name: DEFAULT_READER for name in TABLES}
    formats = config.formats
    per_column = formats.column_formats()
    out: dict[str, TableReader] = {}
    for name, spec in TABLES.items():
        mapping = config.mapping.get(name)
        dates = {c.name: formats.date for c in spec.columns if c.kind == "date" and formats.date}
        dates.update(per_column.get(name, {}))
        out[name] = TableReader(
            delimiter=mapping.delimiter if mapping else ",",
            columns={fold(k): v for k, v in mapping.columns.items()} if mapping else {},
            values={c: {fold(k): v for k, v in vals.items()} for c, vals in mapping.values.items()} if mapping else {},
            date_formats=dates,
            decimal=formats.decimal,
            thousands=formats.thousands,
            max_file_bytes=config.limits.max_file_mb * MB,
            max_cell_bytes=config.limits.max_cell_kb * KB,
            mapped=mapping is not None,
        )
    return out


# ------------------------------------------------------------------------------------------- reading

BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
# Free text is kept as written; identifiers and categories are trimmed so joins and checks are exact.
FREE_TEXT = {"name", "goals", "subject", "body", "comment", "detail", "title", "text", "objection", "attendees"}
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%T", "%z", "%:z", "%p", "%f", "%.")


@dataclass
class SourceFile:
    """The bytes of one file being read, to name the physical line of a bad row."""

    file: str
    data: bytes
    delimiter: str = ","
    _text: str | None = None
    _starts: list[int] | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = self.data.decode("utf-8", errors="replace")
        return self._text

    def _reader(self) -> Iterator[tuple[int, list[str]]]:
        """(physical line, fields) of every data row, counting quoted multi-line fields."""
        reader = csv.reader(io.StringIO(self.text, newline=""), delimiter=self.delimiter)
        try:
            next(reader, None)
            previous_end = reader.line_num
            for fields in reader:
                yield previous_end + 1, fields
                previous_end = reader.line_num
        except csv.Error:
            return

    def row(self, row_index: int) -> tuple[int, list[str]]:
        """Physical line and fields of data row `row_index` (0-based)."""
        for i, (line, fields) in enumerate(self._reader()):
            if i == row_index:
                return line, fields
        return row_index + 2, []

    def line_of(self, row_index: int) -> int:
        if self._starts is not None:
            return self._starts[row_index] if row_index < len(self._starts) else row_index + 2
        return self.row(row_index)[0]

    def index_lines(self) -> None:
        """Remember the line of every row (before naming many rows' lines)."""
        if self._starts is None:
            self._starts = [line for line, _ in self._reader()]

    def written(self, row_index: int, column_index: int) -> str | None:
        """The cell as written in the file (for typed columns, whose text polars does not keep)."""
        fields = self.row(row_index)[1]
        return fields[column_index] if column_index < len(fields) else None

    def fail(self, mask: pl.Series, column: str | None, message: str | Callable[[int], str]) -> InputError:
        """The error for the first row flagged in `mask`."""
        row = int(mask.fill_null(False).arg_true()[0])
        text = message(row) if callable(message) else message
        return located(self.file, self.line_of(row), column, text)


MAX_ERRORS = 100  # when every bad row is reported (imports), the first ones


@dataclass
class _Failures:
    """Bad cells found while converting and validating: the first raised at once (loading), or every
    one collected, one per row and column (importing, which reports every bad row)."""

    source: SourceFile
    errors: list[tuple[int, InputError]] | None = None  # (row, error) when collecting
    seen: set[tuple[int, str | None]] = field(default_factory=set)

    def report(self, mask: pl.Series, column: str | None, message: str | Callable[[int], str]) -> None:
        rows = mask.fill_null(False).arg_true()
        if rows.len() == 0:
            return
        if self.errors is None:
            raise self.source.fail(mask, column, message)
        self.source.index_lines()
        for row in rows.to_list():
            if len(self.errors) >= MAX_ERRORS:
                return
            if (row, column) in self.seen or (row, None) in self.seen:
                continue
            self.seen.add((row, column))
            text = message(row) if callable(message) else message
            self.errors.append((row, located(self.source.file, self.source.line_of(row), column, text)))


def _quoted(value: object) -> str:
    return f"'{shown(value)}'"


def _read_bytes(path: Path, file: str, reader: TableReader) -> bytes:
    try:
        size = path.stat().st_size
        if size > reader.max_file_bytes:
            raise located(
                file,
                None,
                None,
                f"{size / MB:,.1f} MB is over the {reader.max_file_bytes // MB:,} MB limit for one input file "
                "(raise [limits] max_file_mb in riskbrief.toml to read it)",
            )
        data = path.read_bytes()
    except OSError as exc:
        raise located(file, None, None, f"cannot be read ({exc.strerror or exc})") from None
    data = data.removeprefix(b"\xef\xbb\xbf")
    if data.endswith((b"\n\n", b"\n\r\n")):  # blank lines at the very end carry nothing
        data = data.rstrip(b"\r\n") + b"\n"
    return data


def _header(source: SourceFile) -> list[str]:
    data = source.data
    end = data.find(b"\n")
    first = data if end < 0 else data[:end]
    try:
        line = first.decode("utf-8").removesuffix("\r")
    except UnicodeDecodeError as exc:
        raise located(
            source.file, 1, None, f"not UTF-8 (byte 0x{first[exc.start]:02x}); save the file as UTF-8"
        ) from None
    if not line.strip():
        if not data.strip():
            raise located(source.file, 1, None, "the file is empty; expected a header row")
        raise located(source.file, 1, None, "the first line is blank; expected the header row")
    if "\r" in line:
        raise located(source.file, 1, None, "lines end with a bare CR (old Mac format); save with LF or CRLF line ends")
    try:
        return next(csv.reader([line], delimiter=source.delimiter))
    except (csv.Error, StopIteration):
        raise located(source.file, 1, None, f"the header cannot be parsed as CSV: {_quoted(line)}") from None


def _columns(source: SourceFile, spec: TableSpec, reader: TableReader, header: list[str]) -> list[str]:
    """Canonical column names for the header: trimmed, mapped, checked for gaps and repeats."""
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(header, start=1):
        name = raw.strip()
        if not name:
            raise located(source.file, 1, None, f"column {i} of the header has no name")
        if len(name.encode()) > min(reader.max_cell_bytes, 1000):
            raise located(source.file, 1, None, f"column {i} of the header is too long ({_quoted(name)})")
        canonical = reader.columns.get(fold(name), name)
        if canonical in seen:
            first = header[seen[canonical] - 1].strip()
            what = (
                f"duplicate column name {_quoted(name)}"
                if first == name
                else (f"columns {_quoted(first)} and {_quoted(name)} both give {canonical}")
            )
            raise located(source.file, 1, canonical, f"{what} (columns {seen[canonical]} and {i})")
        seen[canonical] = i
        names.append(canonical)
    for col in spec.columns:
        if col.required and col.name not in seen:
            raise located(
                source.file,
                1,
                col.name,
                "required column is missing from the header" + _hint(source, spec, reader, header, col.name),
            )
    return names


def _ident(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")


def _hint(source: SourceFile, spec: TableSpec, reader: TableReader, header: list[str], wanted: str) -> str:
    """Why a required column may look missing: another delimiter, or the export's own header names."""
    line = source.delimiter.join(header)
    for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if sep != source.delimiter and line.count(sep) >= len(header):
            toml = "\\t" if sep == "\t" else sep
            return (
                f"; the file looks {name}-separated ({_quoted(line[:50])}): declare it in riskbrief.toml with "
                f'[mapping.{spec.name}] delimiter = "{toml}", or convert the export with `riskbrief import`'
            )
    near = [h.strip() for h in header if _ident(h) == wanted or _ident(h).replace("_", "") == wanted.replace("_", "")]
    if near:
        return (
            f"; did you mean {wanted}? (found {_quoted(near[0])}): rename the column, or map it in riskbrief.toml "
            f'with [mapping.{spec.name}] columns = {{"{near[0]}" = "{wanted}"}}'
        )
    return ""


def _diagnose(source: SourceFile, width: int, *, quotes: bool = False) -> InputError | None:
    """The first row the csv module finds malformed (wrong number of fields, broken quoting)."""
    try:
        source.data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = source.data.count(b"\n", 0, exc.start) + 1
        byte = source.data[exc.start]
        return located(source.file, line, None, f"not UTF-8 (byte 0x{byte:02x}); save the file as UTF-8")
    reader = csv.reader(io.StringIO(source.text, newline=""), delimiter=source.delimiter, strict=True)
    line = 1
    try:
        next(reader, None)
        line = reader.line_num + 1
        for row in reader:
            if not row:
                return located(source.file, line, None, "the line is blank (remove it)")
            if len(row) != width:
                what = "fewer" if len(row) < width else "more"
                why = (
                    "a value is missing, or a line break inside a value is not quoted"
                    if len(row) < width
                    else f"a {_delimiter_name(source.delimiter)} inside a value must be quoted"
                )
                return located(source.file, line, None, f"{len(row)} fields, {what} than the header's {width} ({why})")
            line = reader.line_num + 1
    except csv.Error as exc:
        return located(source.file, line, None, f"cannot be parsed as CSV ({shown(exc, 80)})")
    if not quotes:
        return None
    # What the csv module forgives and polars does not: a quote inside a value that is not quoted.
    sep = re.escape(source.delimiter)
    stray = re.compile(rf'(^|{sep})[^"{sep}\r\n]+"')
    for number, text in enumerate(source.text.splitlines(), start=1):
        if number > 1 and stray.search(text):
            return located(
                source.file,
                number,
                None,
                "a quote inside a value that is not quoted: quote the whole value and double its quotes",
            )
    return None


def _delimiter_name(sep: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(sep, f"'{shown(sep)}'")


def _polars_read(source: SourceFile, names: list[str], dtypes: list[pl.DataType]) -> pl.DataFrame:
    frame = pl.read_csv(
        source.data,
        separator=source.delimiter,
        infer_schema=False,
        schema_overrides=dtypes,
        new_columns=names,
        truncate_ragged_lines=False,
    )
    if frame.width != len(names):
        raise pl.exceptions.ComputeError("header width differs")
    return frame


def _read_frame(source: SourceFile, spec: TableSpec, reader: TableReader, names: list[str]) -> pl.DataFrame:
    """The file as a frame with canonical names: numbers and booleans typed when they parse as written
    (the fast path), every other column text. A file polars cannot read is diagnosed line by line."""
    dtypes: list[pl.DataType] = []
    for name in names:
        col = spec.column(name)
        if col is None or name in reader.values:
            dtypes.append(pl.String())
        elif col.kind == "float" and reader.plain_numbers:
            dtypes.append(pl.Float64())
        elif col.kind == "bool":  # true/false as polars reads them; yes/no and 1/0 take the text path
            dtypes.append(pl.Boolean())
        else:
            dtypes.append(pl.String())
    try:
        return _polars_read(source, names, dtypes)
    except pl.exceptions.PolarsError:
        pass
    try:  # a number written otherwise (spaces around it, a typo): read as text, converted with a located error
        return _polars_read(source, names, [pl.String()] * len(names))
    except pl.exceptions.PolarsError as exc:
        problem = _diagnose(source, len(names), quotes=True)
        if problem is not None:
            raise problem from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise located(source.file, None, None, f"cannot be parsed as CSV ({shown(first, 120)})") from None


def _check_short_rows(source: SourceFile, frame: pl.DataFrame) -> None:
    """Rows with fewer fields than the header: polars pads them with nulls, so look closer when the last
    column has any null (an empty last field looks the same to polars)."""
    if frame.height == 0 or frame.width < 2 or frame[frame.columns[-1]].null_count() == 0:
        return
    data = source.data
    sep = source.delimiter.encode()
    if b'"' not in data and len(sep) == 1:
        lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
        if lines == frame.height + 1 and data.count(sep) == (frame.height + 1) * (frame.width - 1):
            return
    problem = _diagnose(source, frame.width)
    if problem is not None:
        raise problem


# ------------------------------------------------------------------------------------------ converting


def _date_expr(raw: pl.Expr, fmt: str | None) -> pl.Expr:
    if fmt is None:
        return raw.str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    if any(d in fmt for d in _TIME_DIRECTIVES):
        stamp = raw.str.strptime(pl.Datetime("us"), fmt, strict=False)
        return stamp.dt.date()
    return raw.str.strptime(pl.Date, fmt, strict=False)


def _number_expr(raw: pl.Expr, reader: TableReader) -> pl.Expr:
    """Text to a number by the declared separators, null when it does not follow them."""
    dec = re.escape(reader.decimal)
    if reader.thousands is None:
        pattern = rf"^[+-]?(\d+{dec}?\d*|{dec}\d+)([eE][+-]?\d+)?$"
    else:
        grp = re.escape(reader.thousands)
        pattern = rf"^[+-]?(\d{{1,3}}({grp}\d{{3}})+|\d+)({dec}\d*)?$"
    text = raw
    if reader.thousands is not None:
        text = text.str.replace_all(reader.thousands, "", literal=True)
    if reader.decimal != ".":
        text = text.str.replace(reader.decimal, ".", literal=True)
    return pl.when(raw.str.contains(pattern)).then(text.cast(pl.Float64, strict=False)).otherwise(None)


def _in_range(value: pl.Expr, col: Column) -> pl.Expr:
    return value.is_finite() & (value >= col.low) & (value <= col.high)


def _date_problem(cell: object, fmt: str | None, table: str, column: str, origin: str = "config") -> str:
    value = str(cell).strip()
    if fmt is None:
        parsed = (
            pl.Series([value]).str.strptime(pl.Date, "%Y-%m-%d", strict=False)[0]
            if re.fullmatch(_ISO_DATE, value)
            else None
        )
        if parsed is not None:
            return f"{_quoted(value)} is out of range (years {FIRST_DATE.year}–{LAST_DATE.year})"
        hint = ""
        if re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{4}", value):
            hint = f'; if the file uses another format, declare it: [formats] {table}.{column} = "%m/%d/%Y"'
        elif re.fullmatch(r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2}", value):
            hint = "; two-digit years are never accepted"
        return f"{_quoted(value)} is not a date (expected YYYY-MM-DD){hint}"
    parsed = pl.Series([value]).to_frame("v").select(_date_expr(pl.col("v"), fmt))[0, 0]
    if parsed is not None:
        return f"{_quoted(value)} is out of range (years {FIRST_DATE.year}–{LAST_DATE.year})"
    where = f"formats.{table}.{column} in riskbrief.toml" if origin == "config" else origin
    return f"{_quoted(value)} is not a date in the declared format {shown(fmt)} ({where})"


def _number_problem(value: object, col: Column, reader: TableReader, scale: str = "") -> str:
    if isinstance(value, float):
        text = f"{value:g}"
        number: float | None = value
    else:
        text = str(value).strip()
        number = pl.Series([text]).to_frame("v").select(_number_expr(pl.col("v"), reader))[0, 0]
    if number is None:
        hint = ""
        if reader.plain_numbers and re.fullmatch(r"[+-]?[\d.,' ]*\d[\d.,' ]*", text):
            hint = (
                " (thousands separators and decimal commas are read only when declared: "
                '[formats] thousands = "," or decimal = "," in riskbrief.toml)'
            )
        elif not reader.plain_numbers:
            sep = f"thousands separator {reader.thousands!r}, " if reader.thousands else ""
            hint = f" (declared: {sep}decimal separator {reader.decimal!r})"
        return f"{_quoted(text)} is not a number{hint}"
    if number != number or number in (float("inf"), float("-inf")):
        return f"{_quoted(text)} is not a finite number"
    if col.high == MAX_NUMBER:
        if number < col.low:
            return f"{_quoted(text)} is out of range ({scale or col.name} cannot be negative)"
        return f"{_quoted(text)} is out of range (larger than {MAX_NUMBER:g})"
    return f"{_quoted(text)} is out of range ({scale or col.name} is {col.low:g} to {col.high:g})"


@dataclass
class _Check:
    """One check of a column: `mask` flags its bad cells; `message(row)` says what is wrong with one."""

    column: str
    mask: pl.Expr
    message: Callable[[int], str]
    value: pl.Expr | None = None  # the column's value when the check passes only on a second, trimmed look


def _text(name: str, required: bool = False) -> pl.Expr:
    """A text cell trimmed (free text kept as written), empty as null; required free text of only spaces
    is empty too (optional free text skips that test: it costs a regex per row)."""
    if name in FREE_TEXT:
        if required:
            return pl.when(pl.col(name).str.contains(r"^\s*$")).then(None).otherwise(pl.col(name))
        return pl.col(name).replace("", None)
    return pl.col(name).str.strip_chars().replace("", None)


def _date_check(raw: pl.Expr, fmt: str | None) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    """(parsed date, bad-cell mask, whether any cell is bad) for a text column. The shape test of ISO dates
    runs on the distinct values only (a date column repeats few values)."""
    parsed = _date_expr(raw, fmt)
    unread = raw.is_not_null() & ~parsed.is_between(FIRST_DATE, LAST_DATE).fill_null(False)
    if fmt is None:  # chrono also reads 2026-1-5, +2026-01-05 and spaces inside: only the exact shape passes
        mask = unread | (raw.is_not_null() & ~raw.str.contains(_ISO_DATE))
        anywhere = unread.any() | ~raw.drop_nulls().unique().str.contains(_ISO_DATE).all()
        return parsed, mask, anywhere
    return parsed, unread, unread.any()


def _convert(
    source: SourceFile, spec: TableSpec, reader: TableReader, frame: pl.DataFrame, failures: _Failures
) -> pl.DataFrame:
    """Trim text, map values, convert dates, numbers and booleans, and test every cell in one lazy pass
    (a date is parsed once for its value and its test); then report the bad cells of the columns that
    have any (a bad cell becomes empty)."""
    exprs: list[pl.Expr] = []
    tests: list[pl.Expr] = []
    checks: list[_Check] = []
    raw_frame = frame

    def check(column: str, mask: pl.Expr, describe: Callable[[object], str], anywhere: pl.Expr | None = None) -> None:
        tests.append((mask.any() if anywhere is None else anywhere).alias(f"__bad{len(checks)}"))
        checks.append(_Check(column, mask, lambda row: describe(raw_frame[column][row])))

    strings = [n for n, t in frame.schema.items() if t == pl.String]
    if len(source.data) > reader.max_cell_bytes and strings and frame.height:
        limit = reader.max_cell_bytes
        longest = frame.select(pl.col(n).str.len_bytes().max() for n in strings).row(0)
        for name, size in zip(strings, longest, strict=True):
            if size is not None and size > limit:
                too_long = frame[name].str.len_bytes() > limit
                failures.report(
                    too_long,
                    name,
                    lambda row, n=name: (  # type: ignore[misc]
                        f"{_quoted(raw_frame[n][row])} is longer than the {limit // KB:,} KB limit for one cell "
                        "(raise [limits] max_cell_kb in riskbrief.toml)"
                    ),
                )
                frame = frame.with_columns(pl.when(too_long).then(None).otherwise(pl.col(name)).alias(name))
    for name, dtype in frame.schema.items():
        col = spec.column(name)
        if dtype != pl.String:  # typed by the fast read: numbers must be finite and in range
            if col is not None and col.kind == "float":
                index = frame.columns.index(name)
                tests.append(
                    (pl.col(name).is_not_null() & ~_in_range(pl.col(name), col)).any().alias(f"__bad{len(checks)}")
                )
                checks.append(
                    _Check(
                        name,
                        pl.col(name).is_not_null() & ~_in_range(pl.col(name), col),
                        lambda row, c=col, i=index: _number_problem(  # type: ignore[misc]
                            source.written(row, i) or raw_frame[c.name][row], c, reader
                        ),
                    )
                )
            exprs.append(pl.col(name))
            continue
        describe_date = partial(
            _date_problem, fmt=reader.date_formats.get(name), table=spec.name, column=name, origin=reader.origin
        )
        if col is not None and col.kind == "date" and name not in reader.values:
            # Fast path: the cell as written; a cell with spaces around it gets a second, trimmed look.
            parsed, _, anywhere = _date_check(pl.col(name), reader.date_formats.get(name))
            trimmed, mask, _ = _date_check(_text(name), reader.date_formats.get(name))
            tests.append(anywhere.alias(f"__bad{len(checks)}"))
            checks.append(_Check(name, mask, lambda row, d=describe_date, n=name: d(raw_frame[n][row]), trimmed))  # type: ignore[misc]
            exprs.append(parsed.alias(name))
            continue
        raw = _text(name, col is not None and col.required)
        if name in reader.values:
            table = dict(reader.values[name])
            lower = raw.str.replace_all(r"\s+", " ").str.to_lowercase()
            mapped = lower.replace_strict(table, default=None).replace("", None)
            raw = pl.when(lower.is_in(list(table))).then(mapped).otherwise(raw)
        if col is None or col.kind in ("str", "enum"):
            exprs.append(raw.alias(name))
        elif col.kind == "date":
            parsed, mask, anywhere = _date_check(raw, reader.date_formats.get(name))
            check(name, mask, describe_date, anywhere)
            exprs.append(parsed.alias(name))
        elif col.kind == "float":
            number = _number_expr(raw, reader)
            check(
                name,
                raw.is_not_null() & ~_in_range(number, col).fill_null(False),
                partial(_number_problem, col=col, reader=reader),
            )
            exprs.append(number.alias(name))
        else:
            value = raw.str.to_lowercase().replace_strict(BOOLEANS, default=None, return_dtype=pl.Boolean)
            check(
                name,
                raw.is_not_null() & value.is_null(),
                lambda value: f"{_quoted(str(value).strip())} is not true/false (or yes/no, 1/0)",
            )
            exprs.append(value.alias(name))
    if not tests:
        return frame.lazy().select(*exprs).collect()
    out = frame.lazy().select(*exprs, *tests).collect()
    hits = out.select(pl.col(f"__bad{i}").first() for i in range(len(checks))).row(0)
    out = out.drop([f"__bad{i}" for i in range(len(checks))])
    for found, c in zip(hits, checks, strict=True):
        if not found:
            continue
        looked = (
            frame.lazy()
            .select(c.mask.alias("bad"), *([c.value.alias("value")] if c.value is not None else []))
            .collect()
        )
        if c.value is not None:
            out = out.with_columns(looked["value"].alias(c.column))
        failures.report(looked["bad"], c.column, c.message)
        out = out.with_columns(pl.when(looked["bad"]).then(None).otherwise(pl.col(c.column)).alias(c.column))
    return out


def _validate(
    source: SourceFile, spec: TableSpec, reader: TableReader, frame: pl.DataFrame, failures: _Failures
) -> pl.DataFrame:
    """Required values, categories, scales, unique ids; the spec's columns in order, extras after."""
    exprs: list[pl.Expr] = []
    for col in spec.columns:
        if col.name not in frame.columns:
            exprs.append(pl.lit(None, dtype=_dtype(col.kind)).alias(col.name))
            continue
        src = frame[col.name]
        if col.required and src.null_count():
            failures.report(src.is_null(), col.name, "required value is empty")
        distinct = src.unique() if col.kind == "enum" else None  # a category repeats a few values: look at those
        if distinct is not None and _enum_norm(distinct, col).equals(distinct) and _enum_allowed(distinct, col):
            pass  # every value already canonical and allowed (the usual case): nothing to change or report
        elif col.kind == "enum":
            norm = _enum_norm(src, col)
            bad = ~norm.is_in(list(col.choices)) & norm.is_not_null()
            if bad.any():

                def describe(row: int, src: pl.Series = src, col: Column = col) -> str:
                    value = src[row]
                    hint = ""
                    if reader.mapped and reader.origin == "config":
                        hint = (
                            f" (map it in riskbrief.toml: [mapping.{spec.name}] values.{col.name} = "
                            f'{{"{shown(value, 30)}" = "{col.choices[0]}"}})'
                        )
                    return f"{_quoted(value)} is not one of {', '.join(col.choices)}{hint}"

                failures.report(bad, col.name, describe)
            src = norm
        exprs.append(pl.lit(src).alias(col.name))
    known = {c.name for c in spec.columns}
    extras = [c for c in frame.columns if c not in known]
    out = (
        frame.select(exprs) if not extras else pl.concat([frame.select(exprs), frame.select(extras)], how="horizontal")
    )
    if spec.name == "surveys":
        for kind, (low, high) in SURVEY_SCALES.items():
            score = out["score"]
            bad = (out["kind"] == kind) & ((score < low) | (score > high))
            if bad.any():
                scale = Column("score", "float", low=low, high=high)
                failures.report(
                    bad,
                    "score",
                    lambda row, s=scale, k=kind: _number_problem(  # type: ignore[misc]
                        float(out["score"][row]), s, reader, f"a {k} score"
                    ),
                )
    # Keep numeric component columns of health scores numeric (they are evidence of what moved).
    if spec.name == "health_scores":
        for c in extras:
            if out[c].dtype != pl.String:
                continue
            as_num = (
                out[c].cast(pl.Float64, strict=False)
                if reader.plain_numbers
                else out.select(_number_expr(pl.col(c), reader))[c]
            )
            finite = as_num.is_finite().fill_null(True) & (as_num.abs() <= MAX_NUMBER).fill_null(True)
            if as_num.null_count() == out[c].null_count() and finite.all():
                out = out.with_columns(as_num.alias(c))
    if spec.id_column:
        ids = out[spec.id_column]
        if ids.n_unique() < ids.len() and ids.is_duplicated().any():  # counting distinct ids is cheaper
            later = ids.is_duplicated() & ~ids.is_first_distinct()
            failures.report(later, spec.id_column, lambda row: f"duplicate id {_quoted(ids[row])}")
    return out


def _enum_norm(values: pl.Series, col: Column) -> pl.Series:
    """Category values as the loader reads them (Column.normalize, on a whole column)."""
    if col.name == "priority":
        return values.str.to_uppercase()
    norm = values.str.to_lowercase().str.replace_all(" ", "_")
    return norm.str.replace_all("_", "-") if col.name == "segment" else norm


def _enum_allowed(values: pl.Series, col: Column) -> bool:
    return bool(values.drop_nulls().is_in(list(col.choices)).all())


def _dtype(kind: Kind) -> type[pl.DataType]:
    return {"date": pl.Date, "float": pl.Float64, "bool": pl.Boolean}.get(kind, pl.Utf8)


def read_table(
    path: Path,
    spec: TableSpec,
    reader: TableReader = DEFAULT_READER,
    *,
    file: str | None = None,
    data: bytes | None = None,
) -> pl.DataFrame:
    """One file read and validated as `spec`'s table, through `reader`'s delimiter, formats and mapping.
    Errors name `file` (default: the table's canonical file name). `data`: the file's bytes as
    `_read_bytes` returned them, when already read (the snapshot hashes them first)."""
    name = file or spec.file
    source = SourceFile(name, _read_bytes(path, name, reader) if data is None else data, reader.delimiter)
    header = _header(source)
    names = _columns(source, spec, reader, header)
    frame = _read_frame(source, spec, reader, names)
    _check_short_rows(source, frame)
    failures = _Failures(source)
    return _validate(source, spec, reader, _convert(source, spec, reader, frame, failures), failures)


def open_export(
    path: Path, reader: TableReader, *, file: str | None = None, encoding: str = "utf-8"
) -> tuple[SourceFile, pl.DataFrame]:
    """A CSV export read as text, to be converted to a portfolio table (tools.importers): the file (to
    name lines in errors) and every column as text under its trimmed header name. An encoding other than
    UTF-8 is converted first. Structural problems (encoding, quoting, empty or repeated header names, rows
    of the wrong length) are located errors."""
    name = file or path.name
    data = _read_bytes(path, name, reader)
    if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise located(
                name, line, None, f"not UTF-8 (byte 0x{data[exc.start]:02x}): pass its --encoding (e.g. cp1252)"
            ) from None
    else:
        try:
            data = data.decode(encoding).encode("utf-8")
        except LookupError:
            raise InputError(f"--encoding: unknown encoding {_quoted(encoding)}") from None
        except UnicodeDecodeError as exc:
            line = data.count(b"\n", 0, exc.start) + 1
            raise located(name, line, None, f"not {encoding} (byte 0x{data[exc.start]:02x})") from None
    source = SourceFile(name, data, reader.delimiter)
    names = _columns(source, TableSpec("export", ()), reader, _header(source))
    try:
        frame = _polars_read(source, names, [pl.String()] * len(names))
    except pl.exceptions.PolarsError as exc:
        problem = _diagnose(source, len(names), quotes=True)
        if problem is not None:
            raise problem from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise located(name, None, None, f"cannot be parsed as CSV ({shown(first, 120)})") from None
    _check_short_rows(source, frame)
    return source, frame


def validate_rows(
    source: SourceFile,
    spec: TableSpec,
    reader: TableReader,
    frame: pl.DataFrame,
    errors: list[InputError],
    reported: set[tuple[int, str | None]] | None = None,
) -> pl.DataFrame:
    """Convert and validate text rows already named as `spec`'s columns, collecting one error per bad cell
    (in file order, at most MAX_ERRORS) instead of stopping at the first. Bad cells come back empty. Cells in
    `reported` (row, column) already have an error: they get no second one."""
    failures = _Failures(source, [], set(reported or ()))
    out = _validate(source, spec, reader, _convert(source, spec, reader, frame, failures), failures)
    assert failures.errors is not None
    errors.extend(e for _, e in sorted(failures.errors, key=lambda pair: pair[0]))
    return out


def _check_accounts(spec: TableSpec, frame: pl.DataFrame, known: pl.Series, root: Path, reader: TableReader) -> None:
    unknown = ~frame["account_id"].is_in(known.implode())
    if unknown.any():
        value = frame["account_id"].filter(unknown)[0]
        source = SourceFile(spec.file, _read_bytes(root / spec.file, spec.file, reader), reader.delimiter)
        raise source.fail(unknown, "account_id", f"unknown account {_quoted(value)} (not in accounts.csv)")


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


def _read_cached(root: Path, name: str, reader: TableReader, snap: Snapshot | None) -> Loaded:
    """Table `name` of the portfolio at `root`: from the snapshot while its file is unchanged, else read
    and validated from the CSV (with the same errors either way)."""
    from tools.snapshot import Loaded, table_key

    spec = TABLES[name]
    path = root / spec.file
    if snap is None:
        return Loaded(read_table(path, spec, reader), "", fresh=True)
    return snap.load(
        name,
        path,
        table_key(spec, reader),
        lambda: _read_bytes(path, spec.file, reader),
        lambda data: read_table(path, spec, reader, data=data),
    )


def load_portfolio(
    root: Path,
    as_of: date | None = None,
    *,
    include_outcomes: bool = False,
    config: Config | None = None,
    snapshot: bool = True,
) -> Portfolio:
    """Load and validate every CSV in `root`; hide rows dated after `as_of`.

    Files are read as riskbrief.toml declares (`[formats]`, `[mapping.*]`, `[limits]`): from `config`
    when given, else from the settings that apply to `root` (tools.config.data_config).
    `outcomes.csv` is history for backtests and calibration: it is read only with `include_outcomes`.
    With `snapshot`, validated tables are kept in the workspace and a file unchanged since is read from
    there (tools.snapshot); a changed file is read and validated again, with the same errors.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{shown(root)}: not a portfolio directory (expected a folder of CSV files)")
    if not (root / "accounts.csv").is_file():
        raise InputError(f"{shown(root)}: accounts.csv is missing (the one required file)")
    if config is None:
        from tools.config import data_config

        config = data_config(root)
    how = readers(config)
    from tools.snapshot import Snapshot

    snap = Snapshot.open(root) if snapshot else None
    try:
        read = _read_cached(root, "accounts", how["accounts"], snap)
        accounts, known = read.frame, read.content
        if snap is not None:
            snap.stage("accounts", read, known)
        tables: dict[str, pl.DataFrame] = {}
        missing: set[str] = set()
        names = [*OPTIONAL_TABLES, *(["outcomes"] if include_outcomes else [])]
        for name in names:
            path = root / TABLES[name].file
            if not path.is_file():
                missing.add(name)
                continue
            read = _read_cached(root, name, how[name], snap)
            frame = read.frame
            if not known or read.checked_against != known:  # unless checked against these very accounts
                _check_accounts(TABLES[name], frame, accounts["account_id"], root, how[name])
            if snap is not None:
                snap.stage(name, read, known)
            tables[name] = _as_of_view(name, frame, as_of) if as_of is not None and name != "outcomes" else frame
    finally:
        if snap is not None:
            snap.save()
    return Portfolio(root=root, as_of=as_of, accounts=accounts, tables=tables, missing=missing)
