"""`riskbrief ingest` and `riskbrief search`: build the evidence store and search one account's evidence.

Errors are raised as tools.errors exceptions; the main entry point prints them as one line and exits
with their code.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tools import workspace
from tools.errors import InputError


class SearchFormat(StrEnum):
    table = "table"
    json = "json"


class SearchMethodOpt(StrEnum):
    hybrid = "hybrid"
    vector = "vector"
    bm25 = "bm25"


DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="Portfolio directory of CSV files; `sample` for the bundled sample portfolio.",
        show_default=False,
    ),
]
HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Workspace folder holding the store (default: $RISKBRIEF_HOME, else ./.riskbrief).",
        show_default=False,
    ),
]


def _data_dir(value: str | None) -> Path:
    if value is None:
        raise InputError(
            "--data DIR is required (a portfolio folder; `--data sample` uses the bundled sample)"
        )
    if value == "sample":
        from tools.sample import portfolio_dir

        return portfolio_dir()
    return Path(value)


def _as_of(value: str | None, root: Path) -> date:
    """--as-of, else `as_of` in riskbrief.toml, else today (the same default as the other commands)."""
    if value is not None:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise InputError(f"--as-of: '{value}' is not a date (expected YYYY-MM-DD)") from None
    from tools.config import load_config

    return load_config(root if root.is_dir() else None).as_of or date.today()


def ingest_command(
    data: DataOpt = None,
    rebuild: Annotated[
        bool,
        typer.Option(
            "--rebuild",
            help="Drop the store and index everything again (needed after changing the embedding model).",
        ),
    ] = False,
    home: HomeOpt = None,
) -> None:
    """Index notes, ticket text, survey comments, objections and email subjects into the evidence store.

    Idempotent: rows whose text is unchanged are skipped; changed rows replace their old chunks.
    """
    from tools.portfolio import load_portfolio
    from tools.retrieval import ingest

    if home is not None:
        workspace.set_home(home)
    err = Console(stderr=True, highlight=False)
    root = _data_dir(data)
    with err.status(f"Loading portfolio {root} …"):
        portfolio = load_portfolio(root)  # every row: searches filter by date later
    report = ingest(portfolio, progress=sys.stderr.isatty(), rebuild=rebuild)
    out = Console(highlight=False)
    out.print(
        f"Indexed {report.evidence} evidence rows ({report.chunks} chunks) into {report.store} "
        f"with {report.model}: "
        f"{report.embedded} chunks embedded, {report.unchanged} rows unchanged, {report.replaced} replaced, "
        f"{report.relabelled} relabelled, {report.removed} stale chunks removed in {report.seconds:.1f}s."
    )


def search_command(
    account_id: Annotated[
        str, typer.Argument(help="The account whose evidence to search.", show_default=False)
    ],
    query: Annotated[str, typer.Argument(help="What to look for, in plain words.", show_default=False)],
    data: DataOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option(
            "--as-of",
            help="Only evidence dated on or before this date "
            "(YYYY-MM-DD). Default: as_of in riskbrief.toml, else today.",
            show_default=False,
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", help="How many hits.", min=1)] = 5,
    fmt: Annotated[SearchFormat, typer.Option("--format", help="table for people, json for scripts.")] = (
        SearchFormat.table
    ),
    method: Annotated[
        SearchMethodOpt, typer.Option("--method", help="hybrid (vector + BM25 fused), vector or bm25.")
    ] = SearchMethodOpt.hybrid,
    home: HomeOpt = None,
) -> None:
    """Search one account's evidence (notes, tickets, surveys, objections, emails) as of a date."""
    from tools.portfolio import load_portfolio
    from tools.retrieval import search

    if home is not None:
        workspace.set_home(home)
    root = _data_dir(data)
    when = _as_of(as_of, root)
    portfolio = load_portfolio(root)
    hits = search(account_id, query, as_of=when, k=k, portfolio=portfolio, method=method.value)
    if fmt == SearchFormat.json:
        print(json.dumps([h.model_dump() for h in hits], indent=2))
        return
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
    table = Table(
        title=f"{account_id}: “{query}” as of {when.isoformat()} ({method.value})",
        title_justify="left",
        header_style="bold",
    )
    for col in ("#", "evidence", "kind", "date", "score", "text"):
        table.add_column(col, overflow="fold")
    for rank, hit in enumerate(hits, start=1):
        snippet = hit.text if len(hit.text) <= 300 else hit.text[:297] + "…"
        table.add_row(str(rank), hit.id, hit.kind, hit.date, f"{hit.score:.3f}", snippet)
    out.print(table)
    if not hits:
        out.print(f"[dim]No evidence for {account_id} dated on or before {when.isoformat()} matches.[/dim]")


def register(app: typer.Typer) -> None:
    """Add `ingest` and `search` to the `riskbrief` app."""
    app.command("ingest")(ingest_command)
    app.command("search")(search_command)
