"""`riskbrief ingest` and `riskbrief search`: build the evidence store and search one account's evidence.

Errors are raised as tools.errors exceptions; the main entry point prints them as one line and exits
with their code.
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from agent.cli_options import (
    AsOfOpt,
    DataOpt,
    HomeOpt,
    TableOrJson,
    TableOrJsonOpt,
    as_of_date,
    err,
    out,
    resolve_data,
    set_home,
)

if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path


class SearchMethodOpt(StrEnum):
    hybrid = "hybrid"
    vector = "vector"
    bm25 = "bm25"


def _as_of(value: str | None, root: Path) -> date:
    from tools.config import load_config

    return as_of_date(value, load_config(root if root.is_dir() else None))


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
    from tools.config import load_config
    from tools.portfolio import load_portfolio
    from tools.retrieval import ingest

    set_home(home)
    root = resolve_data(data)
    load_config(root if root.is_dir() else None)  # its [store] settings (home, chroma_url) apply here too
    with err.status(f"Loading portfolio {root} …"):
        portfolio = load_portfolio(root)  # every row: searches filter by date later
    report = ingest(portfolio, progress=sys.stderr.isatty(), rebuild=rebuild)
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
    as_of: AsOfOpt = None,
    k: Annotated[int, typer.Option("--k", help="How many hits.", min=1)] = 5,
    fmt: TableOrJsonOpt = TableOrJson.table,
    method: Annotated[
        SearchMethodOpt, typer.Option("--method", help="hybrid (vector + BM25 fused), vector or bm25.")
    ] = SearchMethodOpt.hybrid,
    home: HomeOpt = None,
) -> None:
    """Search one account's evidence (notes, tickets, surveys, objections, emails) as of a date."""
    from tools.portfolio import load_portfolio
    from tools.retrieval import search

    set_home(home)
    root = resolve_data(data)
    when = _as_of(as_of, root)
    portfolio = load_portfolio(root)
    hits = search(account_id, query, as_of=when, k=k, portfolio=portfolio, method=method.value)
    if fmt == TableOrJson.json:
        print(json.dumps([h.model_dump() for h in hits], indent=2))
        return
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
