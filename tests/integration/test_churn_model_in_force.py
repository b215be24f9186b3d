"""`calibrate --write` puts a model in force only when it beat the rule score and the base rate on held-out
dates; the sample portfolio's 90-day model does not, so nothing is written unless forced."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

from typer.testing import CliRunner

from agent.cli import app
from tools.sample import portfolio_dir


def test_a_model_that_loses_to_the_rule_score_is_not_put_in_force(tmp_path: Path) -> None:
    data = tmp_path / "p"
    shutil.copytree(portfolio_dir(), data)
    toml = data / "riskbrief.toml"
    before = toml.read_text()
    runner = CliRunner()
    env = {"RISKBRIEF_HOME": str(tmp_path / "home")}
    refused = runner.invoke(app, ["calibrate", "--data", str(data), "--write", str(toml)], env=env)
    assert refused.exit_code == 0, refused.output
    assert "nothing written" in refused.stderr and "ranked no better than the rule score" in refused.stderr
    assert toml.read_text() == before and not list(data.glob("*.churn.json"))

    forced = runner.invoke(app, ["calibrate", "--data", str(data), "--write", str(toml), "--force"], env=env)
    assert forced.exit_code == 0, forced.output
    written = tomllib.loads(toml.read_text())["calibration"]
    assert (data / written["model_file"]).is_file()
    queue = runner.invoke(app, ["queue", "--data", str(data), "--format", "json", "--no-record"], env=env)
    assert queue.exit_code == 0, queue.output
    entries = json.loads(queue.stdout)
    assert entries and all(e["churn_probability"] is not None and e["churn_factors"] for e in entries)
    table = runner.invoke(app, ["queue", "--data", str(data), "--no-record", "--top", "3"], env=env)
    assert "Why (model)" in table.stdout and "calibrated" in table.stdout

    # The brief carries the model's probability and the factors behind it, in its JSON and for people.
    top = entries[0]
    env = {**env, "RISKBRIEF_DRAFTER": "offline"}
    brief = runner.invoke(app, ["brief", top["account_id"], "--data", str(data), "--format", "json"], env=env)
    assert brief.exit_code == 0, brief.output
    account = json.loads(brief.stdout)["brief"]["account"]
    assert account["churn_probability"] == top["churn_probability"]
    assert account["churn_factors"] == top["churn_factors"]
    shown = runner.invoke(app, ["brief", top["account_id"], "--data", str(data)], env=env)
    assert f"P(churn) within {top['churn_horizon_days']} days: {top['churn_probability']:.0%}" in shown.stdout
    assert f"why: {top['churn_factors'][0]['factor']}" in shown.stdout
