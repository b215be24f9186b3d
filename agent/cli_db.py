"""`riskbrief db upgrade` and `riskbrief db status`: the stores' schema versions.

With a team database (`[store] database_url` in riskbrief.toml, or RISKBRIEF_DATABASE_URL) this is how
the schema is created and migrated: the review store, the alert state and the LangGraph checkpointer's
tables. Other commands refuse a database whose schema is behind (exit 3, one line). The embedded SQLite
files are migrated on first use as always; `db upgrade` on them does it now.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from agent.cli_options import ConfigOpt, HomeOpt, set_home
from tools import workspace

if TYPE_CHECKING:
    from tools.db import Schema

db_app = typer.Typer(
    help="The stores' schema: create or migrate it (`upgrade`), or see its version (`status`).", no_args_is_help=True
)


def stores() -> list[Schema]:
    """Every versioned store, in upgrade order."""
    from agent.review import SCHEMA as REVIEW
    from tools.alerts import SCHEMA as ALERTS

    return [REVIEW, ALERTS]


def _where() -> str:
    from tools.db import describe_url

    url = workspace.database_url()
    return f"database {describe_url(url)}" if url else f"workspace {workspace.home()}"


def _settings(home: Path | None, config_file: Path | None) -> None:
    """--home, and `[store]` of riskbrief.toml (--config, else ./riskbrief.toml): where the stores are."""
    from tools.config import find_config, load_config

    set_home(home)
    if find_config(None, config_file) is not None:
        load_config(None, config_file)


def upgrade_stores() -> list[str]:
    """Bring every store up to date where this workspace keeps its state (and, on Postgres, the
    checkpointer's tables); returns what was done, a line per store."""
    from tools import db

    lines: list[str] = []
    for schema in stores():
        before, applied = db.upgrade(schema)
        if not applied:
            lines.append(f"{schema.name}: at version {before}, current")
        lines += [f"{schema.name}: applied {m.version} ({m.description})" for m in applied]
    url = workspace.database_url()
    if url:
        from agent.graph import setup_checkpoints

        setup_checkpoints(url)
        lines.append("checkpoints: LangGraph checkpointer tables current")
    return lines


@db_app.command("upgrade")
def upgrade(config_file: ConfigOpt = None, home: HomeOpt = None) -> None:
    """Create the schema, or apply its pending migrations; prints what it did (nothing, when current)."""
    _settings(home, config_file)
    for line in upgrade_stores():
        typer.echo(line)
    typer.echo(f"schema current in {_where()}")


@db_app.command("status")
def status(config_file: ConfigOpt = None, home: HomeOpt = None) -> None:
    """Each store's schema version, and whether `db upgrade` has something to do (exit 3 when it has)."""
    from tools import db
    from tools.errors import DependencyError

    _settings(home, config_file)
    behind = []
    for schema in stores():
        version = db.version_of(schema)
        state = "current" if version >= schema.version else f"behind: {schema.version} needed"
        typer.echo(f"{schema.name}: version {version} ({state})")
        if version < schema.version:
            behind.append(schema.name)
    if behind:
        raise DependencyError(f"{_where()}: {', '.join(behind)} behind: run `riskbrief db upgrade`")
