"""What every `riskbrief` command shares, defined once: the consoles, the `--data`, `--as-of`,
`--home`, `--config` and `--format` options, and how their values are read.

The as-of default is the same everywhere: `--as-of`, else `as_of` in riskbrief.toml, else today by the
clock (`tools.clock`, fixed for a run with RISKBRIEF_NOW).
"""

from __future__ import annotations

import re
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tools import clock, workspace
from tools.errors import InputError

if TYPE_CHECKING:
    from tools.config import Config

# Piped output is read in files and CI logs: give tables room instead of the 80-column default.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, highlight=False)


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


class TableMdOrJson(StrEnum):
    table = "table"
    md = "md"
    json = "json"


class MdOrJson(StrEnum):
    md = "md"
    json = "json"


DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="Portfolio directory of CSV files (format: docs/data-format.md); `sample` for the bundled sample.",
        show_default=False,
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="As of this date (YYYY-MM-DD); rows dated later are hidden. Default: as_of in riskbrief.toml, "
        "else today (RISKBRIEF_NOW fixes today).",
        show_default=False,
    ),
]
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Workspace folder (store, checkpoints, alerts, reviews, events). Default: $RISKBRIEF_HOME, "
        "else \\[store] home in riskbrief.toml, else ./.riskbrief",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="riskbrief.toml to use (default: the one in --data, else ./riskbrief.toml).",
        show_default=False,
    ),
]
TableOrJsonOpt = Annotated[TableOrJson, typer.Option("--format", help="table for people, json for scripts.")]
TableMdOrJsonOpt = Annotated[
    TableMdOrJson, typer.Option("--format", help="table for people, md for a document, json for scripts.")
]
MdOrJsonOpt = Annotated[MdOrJson, typer.Option("--format", help="md for people, json for scripts.")]

_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_YEAR, LAST_YEAR = 1900, 2100  # as tools.config.FIRST_DATE / LAST_DATE (not imported: it loads pydantic)


_local_read = False


def set_home(home: Path | None) -> None:
    """`--home`, given before or after the command name; and the `[store]` settings (home, database_url,
    chroma_url) of ./riskbrief.toml, for the commands that read no portfolio (review, reviewers, serve,
    outcome, report, db). A command with `--data` reads that folder's riskbrief.toml after this."""
    global _local_read
    if home is not None:
        workspace.set_home(home)
    if not _local_read and Path("riskbrief.toml").is_file():
        from tools.config import load_config

        load_config(None)
    _local_read = True


def parse_date(value: str | None, option: str = "--as-of") -> date | None:
    """A date option: exactly YYYY-MM-DD with a year in 1900..2100, else InputError (exit 2)."""
    if value is None:
        return None
    try:
        if not _YMD.fullmatch(value):
            raise ValueError
        parsed = date.fromisoformat(value)
    except ValueError:
        raise InputError(f"{option}: '{value}' is not a date (expected YYYY-MM-DD)") from None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise InputError(f"{option}: '{value}' is out of range (years {FIRST_YEAR}–{LAST_YEAR})")
    return parsed


def resolve_data(value: str | None) -> Path:
    """`--data`: a portfolio folder, or `sample` for the bundled one. Required."""
    if value is None:
        raise InputError("--data DIR is required (a portfolio folder; `--data sample` uses the bundled sample)")
    if value == "sample":
        from tools.sample import portfolio_dir

        return portfolio_dir()
    return Path(value)


def data_dir(value: str | None) -> Path:
    """`--data` that must name an existing folder."""
    path = resolve_data(value)
    if not path.is_dir():
        raise InputError(f"{path}: not a portfolio directory (expected a folder of CSV files)")
    return path


def as_of_date(value: str | None, config: Config | None = None) -> date:
    """`--as-of`, else `as_of` in riskbrief.toml, else today by the clock."""
    return parse_date(value) or (config.as_of if config is not None else None) or clock.today()


def today_or(value: str | None, option: str) -> date:
    """A date option that defaults to today by the clock (`--on`)."""
    return parse_date(value, option) or clock.today()
