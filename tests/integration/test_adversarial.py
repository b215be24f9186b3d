"""The adversarial suite: a scripted OpenAI-compatible endpoint answers with plausible but unfaithful drafts
(and broken replies); none may reach a brief, nothing may crash, and every faithful control is accepted
on its first call.

A failure here names the scenario and what got through: a leak is a missing verifier rule, a rejected
control an over-strict one. Only 127.0.0.1 is contacted (these tests carry no `vcr` mark).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.adversarial import run as adversarial
from evals.adversarial.run import AdversarialReport, run_adversarial
from evals.adversarial.scenarios import ATTACK_CLASSES, CONTROL, AccountView, Scenario
from tools import workspace

REPORT_KEYS = {"leaked", "crashed", "controls_accepted", "scenarios", "controls", "model_calls", "calls_per_brief"}
ROW_KEYS = {"id", "class", "outcome", "model_calls", "drafter", "failure_codes"}


@pytest.fixture(scope="module")
def report() -> AdversarialReport:
    return run_adversarial()


def _lines(report: AdversarialReport, outcome: str) -> list[str]:
    return [f"{r.id}: {r.detail}" for r in report.rows if r.outcome == outcome]


def test_no_hostile_draft_reaches_a_brief(report: AdversarialReport) -> None:
    assert report.crashed == 0, _lines(report, "crashed")
    assert report.leaked == 0, _lines(report, "leaked")


def test_every_faithful_control_is_accepted_with_one_call(report: AdversarialReport) -> None:
    controls = [r for r in report.rows if r.attack_class == CONTROL]
    assert len(controls) >= 4 and {r.method for r in controls} == {"json_schema", "function_calling"}
    rejected = [
        f"{r.id}: {r.detail}"
        for r in controls
        if not (r.outcome == "accepted" and r.model_calls == 1 and r.drafter_model_calls == 1 and r.drafter == "model")
    ]
    assert not rejected
    assert report.controls_accepted == 1.0


def test_enough_hostile_scenarios_in_every_class(report: AdversarialReport) -> None:
    assert report.scenarios >= 40
    counts = Counter(r.attack_class for r in report.rows if r.attack_class != CONTROL)
    assert set(counts) == set(ATTACK_CLASSES)
    assert min(counts.values()) >= 3, counts
    assert {r.method for r in report.rows if r.attack_class != CONTROL} == {"json_schema", "function_calling"}


def test_each_attack_is_caught_by_its_own_rule(report: AdversarialReport) -> None:
    """A scenario blocked only for some incidental reason tests nothing: the rule under test must fire on
    the first reply. (Leaks are reported by the test above.)"""
    missed = [
        f"{r.id}: expected {r.missed_expected}, the first reply got {r.first_codes}"
        for r in report.rows
        if r.missed_expected and r.outcome != "leaked"
    ]
    assert not missed


def test_a_brief_costs_at_most_two_calls_with_their_retries(report: AdversarialReport) -> None:
    # The first call and the one repair call, each with retry_attempts=2: never more than 4 requests.
    assert report.calls_per_brief.max <= 4
    assert report.model_calls == sum(r.model_calls for r in report.rows)
    assert 1 <= report.calls_per_brief.mean <= 4


def test_report_json_has_the_keys_scripts_read(report: AdversarialReport) -> None:
    payload = json.loads(report.model_dump_json(by_alias=True))
    assert set(payload) >= REPORT_KEYS and {"mean", "max"} <= set(payload["calls_per_brief"])
    assert all(set(row) >= ROW_KEYS for row in payload["rows"])


def test_cli_prints_the_adversarial_report_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`riskbrief eval --suite adversarial --format json`, on one scenario per class and two controls (the
    full run is the fixture's)."""
    from agent.cli import app

    build = adversarial.build_scenarios

    def sample(views: dict[str, AccountView]) -> list[Scenario]:
        scenarios = build(views)
        controls = [s for s in scenarios if s.control][:2]
        firsts = {s.attack_class: s for s in reversed(scenarios) if not s.control}
        return controls + list(firsts.values())

    monkeypatch.setattr(adversarial, "build_scenarios", sample)
    try:
        result = CliRunner().invoke(
            app, ["--home", str(tmp_path), "eval", "--suite", "adversarial", "--format", "json"]
        )
    finally:
        workspace.set_home(None)
    payload = json.loads(result.stdout)
    assert payload["suites"] == []
    found = payload["adversarial"]
    assert set(found) >= REPORT_KEYS and {"mean", "max"} <= set(found["calls_per_brief"])
    assert found["scenarios"] == len(ATTACK_CLASSES) and found["controls"] == 2
    assert found["model_calls"] == sum(row["model_calls"] for row in found["rows"])
    assert all(set(row) >= ROW_KEYS for row in found["rows"])
    failed = found["leaked"] > 0 or found["crashed"] > 0 or found["controls_accepted"] < 1.0
    assert result.exit_code == (1 if failed else 0), result.stderr[-2000:]
    assert payload["passed"] is not failed
    assert len(list((tmp_path / "evals").glob("adversarial-*.json"))) == 1
