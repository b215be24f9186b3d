"""One CLI: every command registered in one place, the shared options defined once, one clock."""

from __future__ import annotations

import json
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from agent import cli_options
from agent.cli import app, main

SHARED = {"data": cli_options.DataOpt, "as_of": cli_options.AsOfOpt, "home": cli_options.HomeOpt}


def _help_of(annotated: object) -> str:
    info = annotated.__metadata__[0]  # type: ignore[attr-defined]
    assert isinstance(info, typer.models.OptionInfo)
    return str(info.help)


def _commands() -> dict[str, Any]:
    root = typer.main.get_command(app)
    found: dict[str, Any] = {}
    for name, command in root.commands.items():  # type: ignore[attr-defined]
        if hasattr(command, "commands"):
            found.update({f"{name} {sub}": c for sub, c in command.commands.items()})
        else:
            found[name] = command
    return found


def test_every_command_is_registered_once_in_one_table() -> None:
    names = set(_commands())
    expected = {
        "demo", "queue", "digest", "ack", "signals", "ingest", "search", "brief", "serve", "outcome", "report",
        "eval", "backtest", "calibrate", "import", "review list", "review show", "review decide",
        "reviewers add", "reviewers list", "reviewers remove",
    }  # fmt: skip
    assert expected <= names


@pytest.mark.parametrize("option", sorted(SHARED))
def test_shared_options_have_one_definition(option: str) -> None:
    """A command that takes --data, --as-of or --home takes the shared one: same help, same type."""
    wanted = _help_of(SHARED[option])
    users = []
    for name, command in _commands().items():
        for param in command.params:
            if param.name == option and param.param_type_name == "option":
                users.append(name)
                own = getattr(param, "help", None)
                assert own == wanted, f"`{name}` defines its own {param.opts[0]}"
    assert users, option


@pytest.mark.parametrize(
    "args",
    [
        ["queue", "--data", "sample", "--as-of", "20261120"],
        ["search", "A-017", "price", "--data", "sample", "--as-of", "20261120"],
        ["brief", "A-017", "--data", "sample", "--as-of", "2026-11-20T00:00"],
        ["digest", "--data", "sample", "--csm", "X", "--as-of", "2026-13-01"],
        ["ack", "A-017", "--on", "26-11-20"],
    ],
)
def test_every_date_option_is_strict(args: list[str], tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("RISKBRIEF_HOME", str(tmp_path))
    monkeypatch.setattr("sys.argv", ["riskbrief", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    line = capsys.readouterr().err.strip()
    assert "is not a date" in line and "\n" not in line


def test_default_as_of_comes_from_the_clock(tmp_path, monkeypatch) -> None:
    """With no --as-of and no as_of in riskbrief.toml, "today" is the clock's (RISKBRIEF_NOW)."""
    data = tmp_path / "p"
    data.mkdir()
    from tools.sample import portfolio_dir

    for f in portfolio_dir().glob("*.csv"):
        (data / f.name).write_bytes(f.read_bytes())  # no riskbrief.toml: its as_of would win
    runner = CliRunner()
    env = {"RISKBRIEF_HOME": str(tmp_path / "h")}
    dates = {}
    for today in ("2026-11-20", "2026-06-01"):
        result = runner.invoke(
            app, ["queue", "--data", str(data), "--format", "json", "--no-record"], env={**env, "RISKBRIEF_NOW": today}
        )
        assert result.exit_code == 0, result.output
        dates[today] = {e["account_id"] for e in json.loads(result.stdout)}
    # Rows dated after the clock's today are hidden: an earlier today sees a different queue.
    assert dates["2026-11-20"] != dates["2026-06-01"]
    result = runner.invoke(app, ["queue", "--data", str(data)], env={**env, "RISKBRIEF_NOW": "2026-11-20"})
    assert "as of 2026-11-20" in result.stdout


def test_a_bad_clock_is_named(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("RISKBRIEF_HOME", str(tmp_path))
    monkeypatch.setenv("RISKBRIEF_NOW", "yesterday")
    monkeypatch.setattr("sys.argv", ["riskbrief", "ack", "A-017"])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    assert "RISKBRIEF_NOW" in capsys.readouterr().err
