"""The offline eval end to end: suites as generated, labels as the engine sees them, every brief scored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.runner import SuiteReport, load_suite, resolve_suites, run_suite
from evals.suites import build
from tools import workspace
from tools.config import load_config
from tools.errors import InputError
from tools.portfolio import load_portfolio
from tools.scoring import assess_account


def test_committed_suites_match_the_generator() -> None:
    assert build.check() == []


def test_enough_labelled_accounts() -> None:
    suites = [load_suite(f) for f in resolve_suites([])]
    assert {s.name for s in suites} >= {"core", "faithfulness", "missing_data"}
    assert sum(len(s.labels) for s in suites) >= 40


@pytest.mark.parametrize("folder", resolve_suites([]), ids=lambda p: p.name)
def test_labels_match_the_signal_engine(folder: Path) -> None:
    suite = load_suite(folder)
    config = load_config(suite.portfolio)
    portfolio = load_portfolio(suite.portfolio, suite.as_of)
    for label in suite.labels:
        entry = assess_account(portfolio, config, suite.as_of, label["account_id"])
        assert sorted(s.signal for s in entry.active_signals) == sorted(label["expected_signals"]), label
        missing = {m.split(":", 1)[0] for m in entry.not_evaluated}
        assert set(label["expected_not_evaluated"]) <= missing, label


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, SuiteReport]]:
    patch = pytest.MonkeyPatch()
    patch.setenv("RISKBRIEF_DRAFTER", "offline")
    home = tmp_path_factory.mktemp("home")
    workspace.set_home(home)
    try:
        yield {s.name: run_suite(s) for s in (load_suite(f) for f in resolve_suites([]))}
    finally:
        workspace.set_home(None)
        patch.undo()
    # the eval ran in throwaway workspaces: the user's holds no review, checkpoint or store
    assert not any(home.iterdir())


def _value(report: SuiteReport, scorer: str) -> float | None:
    return next(s.value for s in report.scorers if s.scorer == scorer)


def test_every_brief_is_drafted(reports: dict[str, SuiteReport]) -> None:
    for report in reports.values():
        assert report.errors == 0, [c.error for c in report.cases if c.error]
        assert all(c.drafter == "offline" for c in report.cases)


def test_hard_guarantees_hold_on_every_suite(reports: dict[str, SuiteReport]) -> None:
    for name, report in reports.items():
        assert _value(report, "approval_gate") == 1.0, name
        assert _value(report, "citation_validity") == 1.0, name
        assert _value(report, "signal_precision") == 1.0, name
        assert _value(report, "signal_recall") == 1.0, name
        assert _value(report, "suspected_as_confirmed") == 0, name
    assert _value(reports["missing_data"], "missing_data_reported") == 1.0


def test_core_and_missing_data_suites_pass(reports: dict[str, SuiteReport]) -> None:
    for name in ("core", "missing_data"):
        failing = {s.scorer: s.failing for s in reports[name].scorers if not s.passed}
        assert reports[name].passed, failing


def test_faithfulness_suite_passes(reports: dict[str, SuiteReport]) -> None:
    failing = {s.scorer: s.failing for s in reports["faithfulness"].scorers if not s.passed}
    assert reports["faithfulness"].passed, failing


def test_eval_command_reports_and_sets_the_exit_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli import app

    monkeypatch.setenv("RISKBRIEF_DRAFTER", "offline")
    runner = CliRunner()
    try:
        result = runner.invoke(app, ["--home", str(tmp_path), "eval", "--suite", "missing_data", "--format", "json"])
        assert result.exit_code == 0, result.output
        payload = json.loads(result.output)
        assert payload["passed"] is True and payload["suites"][0]["suite"] == "missing_data.v1"
        assert len(list((tmp_path / "evals").glob("report-*.json"))) == 1

        unknown = runner.invoke(app, ["--home", str(tmp_path), "eval", "--suite", "no_such_suite"])
        assert isinstance(unknown.exception, InputError)
    finally:
        workspace.set_home(None)
