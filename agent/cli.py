"""The `riskbrief` command.

Errors the user can act on print one line (`error: ...`) and exit with the contract's code: 2 for bad
input or usage, 3 for an unavailable dependency, 1 for a finding the caller asked to fail on. A bug
prints one line `internal error: ...` and exits 4 (`--debug` or RISKBRIEF_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import codecs
import json
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from agent.cli_options import (
    AsOfOpt,
    ConfigOpt,
    DataOpt,
    HomeOpt,
    TableMdOrJson,
    TableMdOrJsonOpt,
    TableOrJson,
    TableOrJsonOpt,
    as_of_date,
    err,
    out,
    parse_date,
    resolve_data,
    set_home,
    today_or,
)
from tools.errors import InputError, RiskbriefError
from tools.registry import REGISTRY, describe

# Heavy modules (polars, pydantic models, LangGraph, the vector store, evals) are imported inside the
# commands that use them, so `--help`, `--version` and the light commands start quickly.
if TYPE_CHECKING:
    from datetime import date
    from pathlib import Path

    from tools.config import Config
    from tools.portfolio import Portfolio

__all__ = ["app", "main", "parse_date", "resolve_data"]

app = typer.Typer(
    name="riskbrief",
    help="Customer-risk reviews for CSMs: a ranked risk queue with evidence, briefs that stop for a person's "
    "approval, and evals that score their faithfulness.\n\nStart with `riskbrief demo` (offline, bundled sample).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("riskbrief")
        except PackageNotFoundError:
            v = "unknown"
        out.print(f"riskbrief {v}", markup=False)
        raise typer.Exit()


@app.callback()
def _root(
    home: HomeOpt = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="On an internal error, print the traceback (also RISKBRIEF_DEBUG=1).")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", help="Print the version and exit.", callback=_version, is_eager=True),
    ] = False,
) -> None:
    global _debug
    _debug = debug
    set_home(home)


def open_portfolio(
    data: str | None, as_of: str | None, config_file: Path | None = None
) -> tuple[Portfolio, Config, date]:
    """Config, as-of date and the portfolio as of that date: the start of every data command."""
    from tools.config import load_config
    from tools.portfolio import load_portfolio

    root = resolve_data(data)
    config = load_config(root if root.is_dir() else None, config_file)
    when = as_of_date(as_of, config)
    with err.status(f"Loading portfolio {root} …"):
        portfolio = load_portfolio(root, when)
    return portfolio, config, when


def queue(
    data: DataOpt = None,
    as_of: AsOfOpt = None,
    csm: Annotated[str | None, typer.Option(help="Only this CSM's accounts.")] = None,
    top: Annotated[int | None, typer.Option(help="Show the first N accounts.", min=1)] = None,
    fmt: TableOrJsonOpt = TableOrJson.table,
    config_file: ConfigOpt = None,
    home: HomeOpt = None,
    record: Annotated[bool, typer.Option(help="Record alerts in the workspace (suppresses repeats next run).")] = True,
) -> None:
    """The ranked risk queue: accounts with active signals, highest risk first, each with its evidence."""
    from tools.memory import gc_paused

    set_home(home)
    portfolio, config, when = open_portfolio(data, as_of, config_file)
    # Tens of thousands of entries, signals and alerts, none of them cyclic garbage: the collector walking them
    # over and over as they pile up cost more than building them (tools.memory.gc_paused). They are all
    # `_queue`'s and freed when it returns, so the collector resumes with little to walk.
    with gc_paused():
        _queue(portfolio, config, when, csm=csm, top=top, fmt=fmt, record=record)


def _queue(
    portfolio: Portfolio,
    config: Config,
    when: date,
    *,
    csm: str | None,
    top: int | None,
    fmt: TableOrJson,
    record: bool,
) -> None:
    """The queue command's work: ranking, recording the alerts, printing."""
    from tools.alerts import AlertStore
    from tools.scoring import build_queue

    with err.status("Detecting signals and ranking …"):
        entries = build_queue(portfolio, config, when, csm=csm)
    statuses: dict[str, str] = {}
    if record:
        store = AlertStore()
        scope = {e.account_id for e in entries} if csm else None
        run = store.record("queue", entries, when, config.suppression_days, scope=scope, portfolio=portfolio)
        statuses = run.account_status()
        for e in entries:
            e.alert = "repeat" if statuses.get(e.account_id) == "reminder" else statuses.get(e.account_id)  # type: ignore[assignment]
    shown = entries[:top] if top else entries
    if fmt == TableOrJson.json:
        from tools.scoring import queue_json

        _write_utf8(queue_json(shown), b"\n")
        return
    from agent.render import limits_note, not_evaluated_note, queue_table

    shared = [r for r in (shown[0].not_evaluated if shown else []) if r.split(":")[0] in REGISTRY]
    shared = [r for r in shared if all(r in e.not_evaluated for e in shown)]
    title = f"Risk queue as of {when.isoformat()} — {len(entries)} of {portfolio.accounts.height} accounts at risk"
    if csm:
        title += f" — {csm}"
    out.print(queue_table(shown, statuses if record else None, title=title))
    note = not_evaluated_note(shown, shared)
    if note:
        out.print(note)
    if top and len(entries) > top:
        out.print(f"[dim]{len(entries) - top} more; drop --top to see all.[/dim]")
    out.print(limits_note(config))


def _write_utf8(*parts: bytes) -> None:
    """UTF-8 text to stdout: straight to its byte stream when the text layer would write these very bytes
    (a UTF-8 stream, no newline translation), sparing tens of MB of decoding and re-encoding; else through it."""
    stream = sys.stdout
    buffer = getattr(stream, "buffer", None)
    try:
        utf8 = codecs.lookup(getattr(stream, "encoding", None) or "").name == "utf-8"
    except LookupError:
        utf8 = False
    if buffer is None or not utf8 or os.linesep != "\n":
        for part in parts:
            stream.write(part.decode())
        return
    stream.flush()
    for part in parts:
        buffer.write(part)
    buffer.flush()


def digest(
    data: DataOpt = None,
    csm: Annotated[str | None, typer.Option(help="The CSM whose digest to write.", show_default=False)] = None,
    as_of: AsOfOpt = None,
    fmt: TableMdOrJsonOpt = TableMdOrJson.table,
    config_file: ConfigOpt = None,
    home: HomeOpt = None,
) -> None:
    """One CSM's digest: new, escalated and resolved alerts since their last digest, and the trend."""
    from agent.render import digest_markdown, digest_view
    from tools.alerts import AlertStore
    from tools.config import load_config
    from tools.digest import build_digest

    set_home(home)
    if not csm:
        raise InputError("--csm NAME is required (the owner in accounts.csv's csm_owner column)")
    root = resolve_data(data)
    config = load_config(root if root.is_dir() else None, config_file)
    when = as_of_date(as_of, config)
    store = AlertStore()
    with err.status("Building digest …"):
        d = build_digest(root, config, when, csm, store)
    if fmt == TableMdOrJson.json:
        payload = {
            "csm": d.csm,
            "as_of": d.as_of.isoformat(),
            "accounts": d.accounts,
            "new": [vars(a) for a in d.new],
            "escalated": [vars(a) for a in d.escalated],
            "reminders": [vars(a) for a in d.reminders],
            "resolved": [{"account_id": a, "account_name": n, "signal": s} for a, n, s in d.resolved],
            "suppressed": d.suppressed,
            "trend": {"this_week": d.signals_this_week, "last_week": d.signals_last_week},
        }
        print(json.dumps(payload, indent=2))
    elif fmt == TableMdOrJson.md:
        print(digest_markdown(d), end="")
    else:
        out.print(digest_view(d))


def ack(
    account_id: Annotated[str, typer.Argument(help="The account whose alerts to acknowledge.")],
    signal: Annotated[str | None, typer.Option(help="Only this signal.")] = None,
    on: Annotated[str | None, typer.Option(help="Date of acknowledgement (default today).")] = None,
    home: HomeOpt = None,
) -> None:
    """Acknowledge an account's alerts: they stop coming back as reminders until something changes."""
    from tools.alerts import AlertStore

    set_home(home)
    if signal is not None and signal not in REGISTRY:
        raise InputError(f"--signal: unknown signal '{signal}' (see `riskbrief signals`)")
    store = AlertStore()
    changed = store.acknowledge(account_id, signal, today_or(on, "--on"))
    if not changed:
        raise InputError(f"no active alert for account '{account_id}'{' and ' + signal if signal else ''}")
    out.print(f"Acknowledged {changed} alert(s) on {account_id}.")


def signals(config_file: ConfigOpt = None, data: DataOpt = None) -> None:
    """The signal registry: every signal, when it fires (with the thresholds in force) and its evidence."""
    from rich.table import Table

    from tools.config import load_config

    root = resolve_data(data) if data else None
    config = load_config(root, config_file)
    table = Table(title="Signal registry", title_justify="left", header_style="bold")
    for col in ("signal", "sev", "fires when", "evidence it carries", "needs"):
        table.add_column(col)
    for sid, spec in REGISTRY.items():
        enabled = "" if config.enabled(sid) else " [dim](disabled)[/dim]"
        table.add_row(
            sid + enabled,
            str(config.severity(sid)),
            describe(spec, config.params(sid)),
            spec.evidence,
            " or ".join(f"{t}.csv" for t in spec.needs),
        )
    out.print(table)


def _register() -> None:
    """Every command, in one place. The modules hold the commands' bodies; their heavy imports happen
    inside the commands, so registering them costs little at start-up."""
    from agent import cli_agent, cli_db, cli_eval, cli_store
    from tools import importers

    for name, command in (
        ("demo", cli_agent.demo),
        ("queue", queue),
        ("digest", digest),
        ("ack", ack),
        ("signals", signals),
        ("ingest", cli_store.ingest_command),
        ("search", cli_store.search_command),
        ("brief", cli_agent.brief),
        ("serve", cli_agent.serve),
        ("outcome", cli_agent.outcome),
        ("report", cli_agent.report),
        ("eval", cli_eval.eval_command),
        ("backtest", cli_eval.backtest_command),
        ("calibrate", cli_eval.calibrate_command),
        ("import", importers.import_command),
    ):
        app.command(name)(command)
    for name, group in (
        ("review", cli_agent.review_app),
        ("reviewers", cli_agent.reviewers_app),
        ("db", cli_db.db_app),
    ):
        app.add_typer(group, name=name)


_register()


_debug = False  # `--debug`: an internal error prints its traceback


def main() -> None:
    """Entry point: run the app, turn known errors into one line and an exit code."""
    import traceback

    from rich.text import Text

    from tools.errors import INTERNAL_ERROR_EXIT, shown
    from tools.memory import exit_without_collecting

    exit_without_collecting()
    global _debug
    _debug = False
    # Messages are printed as plain text, one line: values from files or arguments can't carry rich markup
    # or terminal escape sequences (`shown` writes control characters as escapes).
    try:
        app()
    except RiskbriefError as exc:
        err.print(Text.assemble(("error:", "bold red"), " ", shown(exc, limit=None)), soft_wrap=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # a bug, never "a finding" (exit 1): one line unless asked for the traceback
        if _debug or os.environ.get("RISKBRIEF_DEBUG", "") not in ("", "0"):
            traceback.print_exc()
        else:
            what = shown(f"{type(exc).__name__}: {exc}", limit=200)
            hint = " (run with --debug or RISKBRIEF_DEBUG=1 for the traceback)"
            err.print(Text.assemble(("internal error:", "bold red"), " ", what, hint), soft_wrap=True)
        sys.exit(INTERNAL_ERROR_EXIT)


if __name__ == "__main__":
    main()
