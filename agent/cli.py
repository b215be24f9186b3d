"""The `riskbrief` command.

Errors the user can act on print one line (`error: ...`) and exit with the contract's code: 2 for bad
input or usage, 3 for an unavailable dependency, 1 for a finding the caller asked to fail on. A bug
prints one line `internal error: ...` and exits 4 (`--debug` or RISKBRIEF_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from tools import workspace
from tools.errors import InputError, RiskbriefError
from tools.registry import REGISTRY, describe

# Heavy modules (polars, pydantic models, LangGraph, the vector store, evals) are imported inside the
# commands that use them, so `--help`, `--version` and the light commands start quickly.
if TYPE_CHECKING:
    from tools.config import Config
    from tools.portfolio import Portfolio

# Piped output is read in files and CI logs: give tables room instead of the 80-column default.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, highlight=False)

app = typer.Typer(
    name="riskbrief",
    help="Customer-risk reviews for CSMs: a ranked risk queue with evidence, briefs that stop for a person's "
    "approval, and evals that score their faithfulness.\n\nStart with `riskbrief demo` (offline, bundled sample).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


class TableOrJson(StrEnum):
    table = "table"
    json = "json"


class TableMdOrJson(StrEnum):
    table = "table"
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
        help="Detect as of this date (YYYY-MM-DD); rows dated later are hidden. Default: "
        "as_of in riskbrief.toml, else today.",
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
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Workspace folder (store, checkpoints, alerts, events). Default: $RISKBRIEF_HOME, else ./.riskbrief",
            show_default=False,
        ),
    ] = None,
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
    if home is not None:
        workspace.set_home(home)


_YMD = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
FIRST_YEAR, LAST_YEAR = 1900, 2100  # as tools.config.FIRST_DATE / LAST_DATE (not imported: it loads pydantic)


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
    if value is None:
        raise InputError("--data DIR is required (a portfolio folder; `--data sample` uses the bundled sample)")
    if value == "sample":
        from tools.sample import portfolio_dir

        return portfolio_dir()
    return Path(value)


def open_portfolio(
    data: str | None, as_of: str | None, config_file: Path | None = None
) -> tuple[Portfolio, Config, date]:
    """Config, as-of date and the portfolio as of that date: the start of every data command."""
    from tools.config import load_config
    from tools.portfolio import load_portfolio

    root = resolve_data(data)
    config = load_config(root if root.is_dir() else None, config_file)
    when = parse_date(as_of) or config.as_of or date.today()
    with err.status(f"Loading portfolio {root} …"):
        portfolio = load_portfolio(root, when)
    return portfolio, config, when


@app.command()
def queue(
    data: DataOpt = None,
    as_of: AsOfOpt = None,
    csm: Annotated[str | None, typer.Option(help="Only this CSM's accounts.")] = None,
    top: Annotated[int | None, typer.Option(help="Show the first N accounts.", min=1)] = None,
    fmt: Annotated[
        TableOrJson, typer.Option("--format", help="table for people, json for scripts.")
    ] = TableOrJson.table,
    config_file: ConfigOpt = None,
    record: Annotated[bool, typer.Option(help="Record alerts in the workspace (suppresses repeats next run).")] = True,
) -> None:
    """The ranked risk queue: accounts with active signals, highest risk first, each with its evidence."""
    from agent.render import limits_note, not_evaluated_note, queue_table
    from tools.alerts import AlertStore
    from tools.scoring import build_queue

    portfolio, config, when = open_portfolio(data, as_of, config_file)
    with err.status("Detecting signals and ranking …"):
        entries = build_queue(portfolio, config, when, csm=csm)
    statuses: dict[str, str] = {}
    if record:
        store = AlertStore(workspace.sqlite_path("alerts.sqlite"))
        scope = {e.account_id for e in entries} if csm else None
        run = store.record("queue", entries, when, config.suppression_days, scope=scope, portfolio=portfolio)
        statuses = run.account_status()
        for e in entries:
            e.alert = "repeat" if statuses.get(e.account_id) == "reminder" else statuses.get(e.account_id)  # type: ignore[assignment]
    shown = entries[:top] if top else entries
    if fmt == TableOrJson.json:
        print(json.dumps([e.model_dump(mode="json") for e in shown], indent=2))
        return
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
    out.print(limits_note())


@app.command()
def digest(
    data: DataOpt = None,
    csm: Annotated[str | None, typer.Option(help="The CSM whose digest to write.", show_default=False)] = None,
    as_of: AsOfOpt = None,
    fmt: Annotated[TableMdOrJson, typer.Option("--format", help="table, md or json.")] = TableMdOrJson.table,
    config_file: ConfigOpt = None,
) -> None:
    """One CSM's digest: new, escalated and resolved alerts since their last digest, and the trend."""
    from agent.render import digest_markdown, digest_view
    from tools.alerts import AlertStore
    from tools.config import load_config
    from tools.digest import build_digest

    if not csm:
        raise InputError("--csm NAME is required (the owner in accounts.csv's csm_owner column)")
    root = resolve_data(data)
    config = load_config(root if root.is_dir() else None, config_file)
    when = parse_date(as_of) or config.as_of or date.today()
    store = AlertStore(workspace.sqlite_path("alerts.sqlite"))
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


@app.command()
def ack(
    account_id: Annotated[str, typer.Argument(help="The account whose alerts to acknowledge.")],
    signal: Annotated[str | None, typer.Option(help="Only this signal.")] = None,
    on: Annotated[str | None, typer.Option(help="Date of acknowledgement (default today).")] = None,
) -> None:
    """Acknowledge an account's alerts: they stop coming back as reminders until something changes."""
    from tools.alerts import AlertStore

    if signal is not None and signal not in REGISTRY:
        raise InputError(f"--signal: unknown signal '{signal}' (see `riskbrief signals`)")
    store = AlertStore(workspace.sqlite_path("alerts.sqlite"))
    changed = store.acknowledge(account_id, signal, parse_date(on, "--on") or date.today())
    if not changed:
        raise InputError(f"no active alert for account '{account_id}'{' and ' + signal if signal else ''}")
    out.print(f"Acknowledged {changed} alert(s) on {account_id}.")


@app.command()
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


def _register_optional() -> None:
    """Commands that live beside this module (store, agent, evals)."""
    import importlib

    for name in ("agent.cli_store", "agent.cli_agent", "agent.cli_eval", "tools.importers"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(app)


_register_optional()


_debug = False  # `--debug`: an internal error prints its traceback


def main() -> None:
    """Entry point: run the app, turn known errors into one line and an exit code."""
    import traceback

    from rich.text import Text

    from tools.errors import INTERNAL_ERROR_EXIT, shown

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
