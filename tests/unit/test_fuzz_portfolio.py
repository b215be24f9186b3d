"""Fuzz: a mutated portfolio (cells, columns, rows, bytes, line ends, delimiters, riskbrief.toml) either
loads, and `queue --format json` and `digest --format json` print valid JSON, or is refused with one
`error:` line and exit 2. Never a traceback, never exit 1 or 4.

The engine lives in benchmarks/fuzz_portfolio.py (`python -m benchmarks.fuzz_portfolio --examples N` runs
a larger campaign); this is its bounded run (200 examples, about 30 s).
"""

from __future__ import annotations

from pathlib import Path

from conftest import load_benchmark, write_tiny_portfolio
from hypothesis import HealthCheck, given, settings

fuzz = load_benchmark("fuzz_portfolio")


def test_mutated_portfolios_load_or_fail_with_one_line(tmp_path: Path) -> None:
    base_root = write_tiny_portfolio(tmp_path / "base")
    base = fuzz.read_portfolio(base_root)
    base_toml = (base_root / "riskbrief.toml").read_text(encoding="utf-8")
    case_root = tmp_path / "case"
    case_root.mkdir()
    tally = fuzz.Tally()

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=fuzz.cases(base, base_toml))
    def run(case: object) -> None:
        fuzz.check_case(case, case_root, tally)

    with fuzz.workspace(tmp_path / "home"):
        run()
    # Both outcomes are exercised: mutations that keep the data valid, and ones that break it.
    assert tally.loaded > 0 and tally.refused > 0


def test_the_contract_checker_catches_breaches() -> None:
    """The checker itself: NaN in JSON, a traceback, two error lines, exit 1 and exit 4 are all breaches."""
    ok = fuzz.Outcome("queue", 0, '[{"risk_score": 1.5}]', "")
    assert fuzz.problem(ok) is None
    assert fuzz.problem(fuzz.Outcome("queue", 2, "", "error: accounts.csv line 2: bad\n")) is None
    for broken in (
        fuzz.Outcome("queue", 0, '[{"risk_score": NaN}]', ""),
        fuzz.Outcome("queue", 0, '[{"arr": Infinity}]', ""),
        fuzz.Outcome("queue", 0, "not json", ""),
        fuzz.Outcome("queue", 2, "", "error: one\nerror: two\n"),
        fuzz.Outcome("queue", 2, "", "Traceback (most recent call last):\n"),
        fuzz.Outcome("queue", 1, "", "error: x\n"),
        fuzz.Outcome("queue", 4, "", "internal error: KeyError: 'x'\n"),
    ):
        assert fuzz.problem(broken) is not None, broken


def test_one_known_bad_portfolio_through_the_real_cli(tmp_path: Path) -> None:
    """End to end through `agent.cli.main`: a NaN ARR is refused with one line naming file, line and column."""
    root = write_tiny_portfolio(tmp_path / "p")
    text = (root / "accounts.csv").read_text(encoding="utf-8").replace(",85000,", ",NaN,")
    (root / "accounts.csv").write_text(text, encoding="utf-8")
    with fuzz.workspace(tmp_path / "home"):
        outcome = fuzz.run_cli(["queue", "--data", str(root), "--format", "json", "--no-record"])
    assert outcome.code == 2
    assert outcome.stderr.strip() == "error: accounts.csv line 2, column arr: 'NaN' is not a number"
