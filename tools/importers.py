"""Imports from the tools CS teams export from: built-in profiles and `riskbrief import`.

A profile says how one kind of export becomes one portfolio table (docs/data-format.md): which of the
export's columns gives each canonical column (the first of its candidate headers the export has, matched
ignoring case and surrounding spaces), how its values map to canonical ones (Zendesk's `urgent` is `P1`),
the date format of each date column (declared, never guessed: Salesforce's report exports write
`3/27/2027`), its number separators, and when the export names an account rather than identifying it,
the column holding the account's name (looked up in the portfolio's accounts.csv, exactly, ignoring
case).

`import_export` converts an export and merges it into the portfolio folder's canonical CSV: rows with
an id already in the file replace it, the others are added. Nothing is written unless every row is
valid; each bad row is reported with its line, column and value.
"""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tools.errors import InputError, located, shown

if TYPE_CHECKING:  # polars, the loader and the settings are imported by the functions that use them, so
    # registering `riskbrief import` costs the CLI's start-up nothing (about half a second otherwise)
    import polars as pl

    from tools.config import Config
    from tools.portfolio import SourceFile, TableReader, TableSpec

Derive = Callable[["pl.DataFrame"], "pl.DataFrame"]


@dataclass(frozen=True)
class Profile:
    """How one kind of export becomes one portfolio table."""

    name: str
    table: str
    title: str
    # canonical column -> the export's headers that may hold it, in order of preference
    columns: Mapping[str, tuple[str, ...]]
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # canonical column -> value map
    formats: Mapping[str, str] = field(default_factory=dict)  # the export's header -> date format
    thousands: str | None = None
    decimal: str = "."
    delimiter: str = ","
    account_names: tuple[str, ...] = ()  # headers holding the account's name, when no id column is present
    text: tuple[tuple[str, str], ...] = ()  # (label, header) pieces joined into the `text` column
    derive: Derive | None = None  # columns computed from others (Zendesk's escalation tag)
    aliases: tuple[str, ...] = ()

    @property
    def spec(self) -> TableSpec:
        from tools.portfolio import TABLES

        return TABLES[self.table]


def _zendesk_escalated(frame: pl.DataFrame) -> pl.DataFrame:
    """`escalated` is true when the ticket's tags include one starting with `escalat`."""
    import polars as pl

    if "tags" not in frame.columns:
        return frame
    tags = pl.col("tags").str.to_lowercase()
    flag = tags.str.contains(r"(^|[\s,;])escalat").cast(pl.String)
    return frame.with_columns(pl.when(tags.is_null()).then(None).otherwise(flag).alias("escalated"))


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "salesforce-accounts",
            "accounts",
            "Salesforce accounts: a report export (Details Only, CSV), dates as M/D/YYYY, amounts like 85,000.00",
            {
                "account_id": ("Account ID", "Account ID (18)", "Id"),
                "name": ("Account Name", "Name"),
                "arr": ("ARR", "Annual Recurring Revenue", "ARR (converted)"),
                "renewal_date": ("Renewal Date", "Contract End Date"),
                "segment": ("Segment", "Customer Segment"),
                "csm_owner": ("Customer Success Manager", "CSM", "Account Owner"),
                "licenses": ("Licenses", "Seats", "Number of Licenses"),
                "contract_start": ("Contract Start Date", "Customer Since"),
                "goals": ("Customer Goals", "Goals", "Success Criteria"),
            },
            values={"segment": {"midmarket": "mid-market", "small business": "smb"}},
            formats={
                "renewal date": "%m/%d/%Y",
                "contract end date": "%m/%d/%Y",
                "contract start date": "%m/%d/%Y",
                "customer since": "%m/%d/%Y",
            },
            thousands=",",
        ),
        Profile(
            "salesforce-opportunities",
            "opportunities",
            "Salesforce opportunities: a report export (Details Only, CSV) with Type, Stage and Last Stage "
            "Change Date; dates as M/D/YYYY",
            {
                "opportunity_id": ("Opportunity ID", "Opportunity ID (18)", "Id"),
                "account_id": ("Account ID", "Account ID (18)", "AccountId"),
                "kind": ("Type", "Opportunity Type"),
                "stage": ("Stage", "StageName"),
                "stage_entered_on": ("Last Stage Change Date", "Stage Change Date"),
                "close_date": ("Close Date", "CloseDate"),
                "amount": ("Amount",),
                "objection": ("Objection", "Customer Objection", "Risk Reason"),
            },
            values={
                "kind": {
                    "renewal": "renewal",
                    "existing customer - replacement": "renewal",
                    "existing customer - downgrade": "renewal",
                    "existing customer - upgrade": "expansion",
                    "existing business": "expansion",
                    "upsell": "expansion",
                    "cross-sell": "expansion",
                    "add-on business": "expansion",
                }
            },
            formats={
                "last stage change date": "%m/%d/%Y",
                "stage change date": "%m/%d/%Y",
                "close date": "%m/%d/%Y",
                "closedate": "%m/%d/%Y",
            },
            thousands=",",
        ),
        Profile(
            "hubspot-companies",
            "accounts",
            "HubSpot companies: an export of the Companies view (CSV) with ARR and renewal-date properties; "
            "date properties as YYYY-MM-DD, date-and-time properties as YYYY-MM-DD HH:MM",
            {
                "account_id": ("Record ID", "Company ID"),
                "name": ("Company name", "Name"),
                "arr": ("Annual recurring revenue", "ARR", "Recurring revenue amount"),
                "renewal_date": ("Renewal date", "Contract end date", "Next renewal date"),
                "segment": ("Segment", "Customer segment"),
                "csm_owner": ("Customer success manager", "CSM", "Company owner"),
                "licenses": ("Licenses", "Seats", "Number of licenses"),
                "contract_start": ("Contract start date", "Became a customer date"),
                "goals": ("Customer goals", "Goals"),
            },
            values={"segment": {"midmarket": "mid-market", "small business": "smb"}},
            formats={
                "renewal date": "%Y-%m-%d",
                "contract end date": "%Y-%m-%d",
                "next renewal date": "%Y-%m-%d",
                "contract start date": "%Y-%m-%d",
                "became a customer date": "%Y-%m-%d %H:%M",
            },
        ),
        Profile(
            "zendesk",
            "tickets",
            "Zendesk tickets: the CSV data export (Created at / Solved at as YYYY-MM-DD HH:MM:SS +ZZZZ) or an "
            "Explore export (Ticket created - Date as YYYY-MM-DD); accounts by Organization name, or by an "
            "'Organization external ID' column holding the account id",
            {
                "ticket_id": ("Id", "Ticket ID"),
                "account_id": ("Organization external ID", "Account ID"),
                "opened_at": ("Created at", "Ticket created - Date"),
                "closed_at": ("Solved at", "Ticket solved - Date"),
                "priority": ("Priority", "Ticket priority"),
                "status": ("Status", "Ticket status"),
                "sentiment": ("Satisfaction Score", "Ticket satisfaction rating"),
                "subject": ("Subject", "Ticket subject"),
                "body": ("Description", "Ticket description"),
                "tags": ("Tags", "Ticket tags"),
            },
            values={
                "priority": {"urgent": "P1", "high": "P2", "normal": "P3", "low": "P4", "-": ""},
                "status": {
                    "new": "open",
                    "open": "open",
                    "pending": "pending",
                    "hold": "pending",
                    "on-hold": "pending",
                    "solved": "closed",
                    "closed": "closed",
                },
                "sentiment": {"good": "positive", "bad": "negative", "offered": "", "unoffered": "", "-": ""},
            },
            formats={
                "created at": "%Y-%m-%d %H:%M:%S %z",
                "solved at": "%Y-%m-%d %H:%M:%S %z",
                "ticket created - date": "%Y-%m-%d",
                "ticket solved - date": "%Y-%m-%d",
            },
            account_names=("Organization", "Ticket organization name"),
            derive=_zendesk_escalated,
            aliases=("zendesk-tickets",),
        ),
        Profile(
            "gainsight-health",
            "health_scores",
            "Gainsight health scores: a scorecard history report (CSV), scores 0-100, dates as M/D/YYYY; "
            "measure columns kept as components",
            {
                "account_id": ("Company ID", "SFDC Account ID", "Account ID"),
                "date": ("Score Date", "Scorecard Date", "Snapshot Date", "Date"),
                "score": ("Overall Score", "Current Score", "Score"),
                "usage": ("Adoption", "Product Usage", "Usage"),
                "support": ("Support",),
                "engagement": ("Engagement",),
                "sentiment": ("Sentiment", "CSM Sentiment"),
            },
            formats={
                "score date": "%m/%d/%Y",
                "scorecard date": "%m/%d/%Y",
                "snapshot date": "%m/%d/%Y",
                "date": "%m/%d/%Y",
            },
            account_names=("Company Name", "Company"),
            aliases=("gainsight-health-scores",),
        ),
        Profile(
            "gainsight-ctas",
            "notes",
            "Gainsight CTAs (calls to action): a CTA report (CSV), dates as M/D/YYYY; each CTA becomes a note "
            "whose text names the CTA, its type, reason, priority and status, then its comments",
            {
                "note_id": ("CTA ID", "Call To Action ID", "GSID"),
                "account_id": ("Company ID", "SFDC Account ID", "Account ID"),
                "date": ("Created Date", "Created On"),
                "author": ("Owner", "Owner Name", "CTA Owner"),
            },
            formats={"created date": "%m/%d/%Y", "created on": "%m/%d/%Y"},
            account_names=("Company Name", "Company"),
            text=(
                ("CTA", "Name"),
                ("Type", "Type"),
                ("Reason", "Reason"),
                ("Priority", "Priority"),
                ("Status", "Status"),
                ("", "Comments"),
            ),
        ),
    )
}
_BY_ALIAS = {alias: p for p in PROFILES.values() for alias in (p.name, *p.aliases)}

# The key that identifies a row of each table, for merging into an existing file.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "health_scores": ("account_id", "date"),
    "usage": ("account_id", "metric", "period_start"),
    "surveys": ("account_id", "date", "kind", "respondent"),
    "contact_events": ("account_id", "date", "contact_name", "event"),
    "outcomes": ("account_id", "date"),
}


def profile(name: str) -> Profile:
    found = _BY_ALIAS.get(name.strip().lower())
    if found is None:
        raise InputError(f"--profile: unknown profile {_q(name)} (profiles: {', '.join(PROFILES)})")
    return found


def _q(value: object) -> str:
    return f"'{shown(value)}'"


def key_of(spec: TableSpec) -> tuple[str, ...]:
    return (spec.id_column,) if spec.id_column else NATURAL_KEYS[spec.name]


@dataclass
class ImportResult:
    profile: str
    table: str
    source: Path
    target: Path
    rows: int  # rows read from the export
    added: int
    updated: int
    total: int  # rows in the target file afterwards
    written: bool


# ---------------------------------------------------------------------------------------- converting


def _resolve(p: Profile, source: SourceFile, names: list[str]) -> dict[str, str]:
    """canonical column -> the export's header that gives it (required ones must be found)."""
    from tools.portfolio import fold

    present = {fold(n): n for n in names}
    found: dict[str, str] = {}
    for canonical, candidates in p.columns.items():
        for candidate in candidates:
            if fold(candidate) in present:
                found[canonical] = present[fold(candidate)]
                break
    for label, header in p.text:
        if fold(header) in present:
            found[f"text:{label}:{header}"] = present[fold(header)]
    names_column = next((present[fold(h)] for h in p.account_names if fold(h) in present), None)
    if names_column is not None and "account_id" not in found:
        found["account_name"] = names_column
    derived = {"escalated"} if p.derive else set()
    for col in p.spec.columns:
        if not col.required or col.name in found or col.name in derived:
            continue
        if col.name == "account_id" and "account_name" in found:
            continue
        if col.name == "text" and p.text and fold(p.text[0][1]) in present:
            continue
        wanted = list(p.columns.get(col.name, ()))
        if col.name == "account_id":
            wanted += list(p.account_names)
        if col.name == "text":
            wanted = [p.text[0][1]]
        raise located(
            source.file,
            1,
            col.name,
            f"no column for {col.name} (expected one of {', '.join(_q(w) for w in wanted)}; the export has "
            f"{', '.join(_q(n) for n in names[:12])}{' …' if len(names) > 12 else ''})" + _delimiter_hint(source, p),
        )
    return found


def _delimiter_hint(source: SourceFile, p: Profile) -> str:
    first = source.text.split("\n", 1)[0]
    for sep, name in ((";", "semicolon"), ("\t", "tab"), ("|", "pipe")):
        if sep != source.delimiter and first.count(sep) >= max(first.count(source.delimiter), 1):
            flag = "\\t" if sep == "\t" else sep
            return f"; the file looks {name}-separated: pass --delimiter '{flag}'"
    return ""


def _canonical(p: Profile, frame: pl.DataFrame, found: Mapping[str, str]) -> pl.DataFrame:
    """The export's rows under canonical column names (text still as written)."""
    import polars as pl

    exprs = [pl.col(src).alias(canon) for canon, src in found.items() if not canon.startswith("text:")]
    pieces = [(label, found[f"text:{label}:{h}"]) for label, h in p.text if f"text:{label}:{h}" in found]
    if pieces:
        parts = []
        for label, src in pieces:
            value = pl.col(src).str.strip_chars()
            written = pl.concat_str([pl.lit(f"{label}: "), value]) if label else value
            parts.append(pl.when(value.is_null() | (value == "")).then(None).otherwise(written))
        exprs.append(pl.concat_str(parts, separator=". ", ignore_nulls=True).alias("text"))
    out = frame.select(exprs)
    return p.derive(out) if p.derive is not None else out


def _reader(p: Profile, found: Mapping[str, str], date_format: str | None, delimiter: str) -> TableReader:
    from tools.portfolio import TableReader, fold

    formats: dict[str, str] = {}
    for canonical, src in found.items():
        col = p.spec.column(canonical)
        if col is None or col.kind != "date":
            continue
        fmt = date_format or p.formats.get(fold(src))
        if fmt is not None:
            formats[canonical] = fmt
    return TableReader(
        delimiter=delimiter,
        values={c: {fold(k): v for k, v in m.items()} for c, m in p.values.items()},
        date_formats=formats,
        decimal=p.decimal,
        thousands=p.thousands,
        origin=f"the {p.name} profile's; pass --date-format if the export writes dates otherwise",
        mapped=True,
    )


def _accounts(out: Path, config: Config) -> pl.DataFrame | None:
    from tools.portfolio import TABLES, read_table, readers

    path = out / "accounts.csv"
    if not path.is_file():
        return None
    return read_table(path, TABLES["accounts"], readers(config)["accounts"])


def _account_ids(
    source: SourceFile,
    frame: pl.DataFrame,
    accounts: pl.DataFrame,
    errors: list[InputError],
    reported: set[tuple[int, str | None]],
) -> pl.DataFrame:
    """Account names (column `account_name`) to account ids, by the exact name ignoring case and spaces."""
    import polars as pl

    from tools.portfolio import fold

    by_name: dict[str, list[str]] = {}
    for account_id, name in accounts.select("account_id", "name").iter_rows():
        by_name.setdefault(fold(str(name)), []).append(str(account_id))
    source.index_lines()
    ids: list[str | None] = []
    for row, name in enumerate(frame["account_name"].to_list()):
        if name is None or not str(name).strip():
            ids.append(None)  # reported as an empty required value
            continue
        match = by_name.get(fold(str(name)), [])
        if len(match) != 1:
            why = (
                "no account of that name in accounts.csv" if not match else f"several accounts ({', '.join(match[:3])})"
            )
            errors.append(located(source.file, source.line_of(row), "account_id", f"{_q(name)}: {why}"))
            reported.add((row, "account_id"))
            ids.append(None)
            continue
        ids.append(match[0])
    return frame.with_columns(pl.Series("account_id", ids, dtype=pl.String)).drop("account_name")


def convert(
    p: Profile,
    src: Path,
    out: Path,
    *,
    date_format: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    config: Config | None = None,
) -> tuple[pl.DataFrame, list[InputError]]:
    """The export's rows as the profile's canonical table (validated), and one error per bad row."""
    import polars as pl

    from tools.config import check_date_format, data_config
    from tools.portfolio import TableReader, open_export, readers, validate_rows

    if date_format is not None:
        try:
            check_date_format(date_format)
        except ValueError as exc:
            raise InputError(f"--date-format: {exc}") from None
    config = config or data_config(out)
    sep = delimiter or p.delimiter
    if len(sep) != 1 or sep in '"\r\n':
        raise InputError(f"--delimiter: expected one character, got {_q(sep)}")
    limits = readers(config)[p.table]
    source, raw = open_export(
        src,
        TableReader(delimiter=sep, max_file_bytes=limits.max_file_bytes, max_cell_bytes=limits.max_cell_bytes),
        encoding=encoding,
    )
    found = _resolve(p, source, raw.columns)
    frame = _canonical(p, raw, found)
    errors: list[InputError] = []
    spec = p.spec
    accounts = _accounts(out, config) if p.table != "accounts" else None
    if p.table != "accounts" and accounts is None:
        raise InputError(
            f"{shown(out)}: accounts.csv is missing; import the accounts first "
            "(e.g. --profile salesforce-accounts or hubspot-companies)"
        )
    reported: set[tuple[int, str | None]] = set()
    if "account_name" in frame.columns and accounts is not None:
        frame = _account_ids(source, frame, accounts, errors, reported)
    reader = _reader(p, found, date_format, sep)
    table = validate_rows(source, spec, reader, frame, errors, reported)
    if accounts is not None and table.height:
        unknown = table["account_id"].is_not_null() & ~table["account_id"].is_in(accounts["account_id"].implode())
        for row in unknown.arg_true().to_list():
            errors.append(
                located(
                    source.file,
                    source.line_of(row),
                    "account_id",
                    f"unknown account {_q(table['account_id'][row])} (not in {shown(out)}/accounts.csv)",
                )
            )
    if spec.id_column is None and table.height:
        key = NATURAL_KEYS[spec.name]
        repeated = table.select(pl.struct(list(key)).is_duplicated() & ~pl.struct(list(key)).is_first_distinct())
        for row in repeated.to_series().arg_true().to_list():
            errors.append(located(source.file, source.line_of(row), None, f"repeats an earlier row's {', '.join(key)}"))
    errors.sort(key=lambda e: _line(str(e)))
    return table, errors


def _line(message: str) -> int:
    head = message.split(":", 1)[0]
    if " line " in head:
        try:
            return int(head.split(" line ", 1)[1].split(",", 1)[0])
        except ValueError:
            return 0
    return 0


# ------------------------------------------------------------------------------------------- writing


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _refuse_declared_formats(out: Path, config: Config, table: str) -> None:
    formats = config.formats
    declared = (
        table in config.mapping
        or table in formats.column_formats()
        or formats.date is not None
        or formats.decimal != "."
        or formats.thousands is not None
    )
    if declared:
        raise InputError(
            f"{shown(out)}/riskbrief.toml declares [formats] or [mapping.{table}] for the portfolio's files; "
            "`riskbrief import` writes canonical CSV (ISO dates, plain numbers): import into a folder without "
            "them, or remove them once every file is canonical"
        )


def merge(table: pl.DataFrame, spec: TableSpec, target: Path) -> tuple[list[str], list[dict[str, str]], int, int]:
    """The target file's header and rows with `table`'s rows merged in by key: (columns, rows, added,
    updated). An existing row with the same key is replaced in place; new rows are added at the end."""
    columns = list(table.columns)
    rows: list[dict[str, str]] = []
    if target.is_file():
        with target.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            existing = [h.strip() for h in (reader.fieldnames or [])]
            rows = [{k.strip(): (v or "") for k, v in r.items() if k is not None} for r in reader]
        columns = existing + [c for c in columns if c not in existing]
    key = key_of(spec)
    index = {tuple(r.get(k, "").strip() for k in key): n for n, r in enumerate(rows)}
    added = updated = 0
    for record in table.iter_rows(named=True):
        cells = {c: _cell(v) for c, v in record.items()}
        k = tuple(cells.get(c, "") for c in key)
        if k in index:
            rows[index[k]] = {**rows[index[k]], **cells}
            updated += 1
        else:
            index[k] = len(rows)
            rows.append(cells)
            added += 1
    return columns, rows, added, updated


def import_export(
    name: str,
    src: Path,
    out: Path,
    *,
    date_format: str | None = None,
    delimiter: str | None = None,
    encoding: str = "utf-8",
    dry_run: bool = False,
) -> tuple[ImportResult, list[InputError]]:
    """Convert `src` with profile `name` and merge it into `out`'s canonical CSV (unless `dry_run` or
    any row is bad: then nothing is written and the errors come back)."""
    from tools.config import data_config
    from tools.portfolio import read_table

    p = profile(name)
    src, out = Path(src), Path(out)
    if not src.is_file():
        raise InputError(f"--src: {shown(src)} is not a file")
    out.mkdir(parents=True, exist_ok=True)
    config = data_config(out)
    _refuse_declared_formats(out, config, p.table)
    target = out / p.spec.file
    if target.is_file():
        read_table(target, p.spec)  # never merge into a file that does not load
    table, errors = convert(p, src, out, date_format=date_format, delimiter=delimiter, encoding=encoding, config=config)
    columns, rows, added, updated = merge(table, p.spec, target)
    result = ImportResult(p.name, p.table, src, target, table.height, added, updated, len(rows), False)
    if errors or dry_run:
        return result, errors
    fd, tmp = tempfile.mkstemp(prefix=f".{p.table}.", suffix=".csv", dir=out)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns, lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        read_table(Path(tmp), p.spec, file=p.spec.file)  # what was written loads
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    result.written = True
    return result, []


# ------------------------------------------------------------------------------------------ the command


_LISTING = "\n".join(f"  {p.name} -> {p.table}.csv\n      {p.title}" for p in PROFILES.values())


def import_command(
    profile_name: Annotated[
        str | None,
        typer.Option("--profile", help=f"The export's kind: {', '.join(PROFILES)}.", show_default=False),
    ] = None,
    src: Annotated[Path | None, typer.Option("--src", help="The export (CSV).", show_default=False)] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Portfolio folder to write or merge into.", show_default=False)
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            help="Date format of the export's date columns when not the profile's, e.g. %d/%m/%Y (never %y).",
            show_default=False,
        ),
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Field separator, when not a comma.", show_default=False)
    ] = None,
    encoding: Annotated[str, typer.Option("--encoding", help="The export's text encoding.")] = "utf-8",
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row; write nothing.")] = False,
    list_profiles: Annotated[bool, typer.Option("--list", help="List the profiles and exit.")] = False,
) -> None:
    """Convert an export (Salesforce, HubSpot, Zendesk, Gainsight) into the portfolio's canonical CSV and merge
    it in: same id replaced, new ids added. Every bad row is reported, and nothing is written unless all rows
    are valid. Profiles and formats: docs/data-format.md."""
    from rich.console import Console
    from rich.text import Text

    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    if list_profiles:
        out.print(Text(f"Profiles (--profile NAME):\n{_LISTING}"), soft_wrap=True)
        return
    if profile_name is None or src is None or out_dir is None:
        raise InputError("--profile, --src and --out are required (see `riskbrief import --list`)")
    result, errors = import_export(
        profile_name, src, out_dir, date_format=date_format, delimiter=delimiter, encoding=encoding, dry_run=dry_run
    )
    for e in errors:
        err.print(Text.assemble(("error:", "bold red"), f" {e}"), soft_wrap=True)
    if errors:
        more = " (the first ones listed)" if len(errors) >= 100 else ""
        raise InputError(
            f"{len(errors)} problem(s) in {shown(src.name)}{more}: nothing was written to {shown(result.target)}"
        )
    verb = "Would import" if dry_run else "Imported"
    out.print(
        Text(
            f"{verb} {result.rows} row(s) from {src.name} into {result.target} "
            f"({result.added} new, {result.updated} updated; {result.total} rows in the file)."
        ),
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add `riskbrief import` to the CLI."""
    app.command("import")(import_command)
