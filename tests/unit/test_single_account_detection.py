"""Detection over one account's view (tools.signals.account_view) gives exactly that account's rows of the
detection over the whole portfolio: for every account of the bundled sample and of a small synthetic
portfolio (benchmarks/synth.py) with an account history, at the configured date and at an earlier one."""

from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from conftest import load_benchmark

from tools.churn_rows import in_force
from tools.config import Config, load_config
from tools.portfolio import Portfolio, load_portfolio
from tools.sample import portfolio_dir
from tools.scoring import assess_account
from tools.signals import Detection, account_view, detect, segment_benchmarks

AS_OF = date(2026, 11, 20)  # the sample's and the synthetic portfolio's as_of
EARLIER = date(2026, 6, 1)  # before it: accounts in force then (history, renewals derived from the term)
SEGMENTS = ("enterprise", "mid-market", "smb")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 synthetic accounts, a third of them with an account history that moves their segment (so the
    segment benchmarks differ by date and must be read from the accounts in force)."""
    root = tmp_path_factory.mktemp("synth") / "portfolio"
    load_benchmark("synth").generate(root, n_accounts=300)
    ids = pl.read_csv(root / "accounts.csv", columns=["account_id"])["account_id"].to_list()
    with (root / "account_history.csv").open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["account_id", "valid_from", "segment", "arr"])
        for i, account_id in enumerate(ids):
            if i % 3 == 0:
                writer.writerow([account_id, "2025-01-01", SEGMENTS[i % 2], ""])
                writer.writerow([account_id, "2026-09-01", SEGMENTS[(i + 1) % 3], str(10_000 + i)])
    return root


def _whole(root: Path, as_of: date) -> tuple[Portfolio, Config, Detection]:
    """The portfolio as loaded, its settings, and the detection over all of it as `assess_account` runs it."""
    portfolio = load_portfolio(root, as_of, snapshot=False)
    config = load_config(root)
    return portfolio, config, detect(in_force(portfolio, as_of, config.as_of), config, as_of)


def _one(view: Portfolio, config: Config, as_of: date) -> Detection:
    return detect(in_force(view, as_of, config.as_of), config, as_of)


def _rows(detection: Detection, account_id: str) -> pl.DataFrame:
    return detection.for_account(account_id).sort("signal")


@pytest.mark.parametrize(("which", "as_of"), [("sample", AS_OF), ("synthetic", AS_OF), ("synthetic", EARLIER)], ids=str)
def test_single_account_detection_matches_the_whole_portfolio_for_every_account(
    which: str, as_of: date, synthetic: Path
) -> None:
    root = portfolio_dir() if which == "sample" else synthetic
    portfolio, config, whole = _whole(root, as_of)
    # account_view's benchmarks, computed once here (they are the same for every account: see the next test).
    benchmarks = segment_benchmarks(in_force(portfolio, as_of, config.as_of), config, as_of)
    assert set(benchmarks.frames) == {"survey_decline", "adoption_plateau"}
    fired = set(whole.signals["signal"].to_list())
    assert {"survey_decline", "adoption_plateau"} <= fired  # the benchmarked detectors are exercised
    ids = portfolio.accounts["account_id"].to_list()
    assert len(ids) >= 200
    for account_id in ids:
        one = _one(replace(portfolio.only(account_id), benchmarks=benchmarks), config, as_of)
        assert one.signals.select(pl.col("account_id").unique()).to_series().to_list() in ([], [account_id])
        assert_frame_equal(_rows(one, account_id), _rows(whole, account_id), account_id)
        assert one.missing_for(account_id) == whole.missing_for(account_id), account_id


def assert_frame_equal(got: pl.DataFrame, want: pl.DataFrame, account_id: str) -> None:
    assert got.schema == want.schema, account_id
    assert got.to_dicts() == want.to_dicts(), account_id


@pytest.mark.parametrize(("which", "as_of"), [("sample", AS_OF), ("synthetic", EARLIER)], ids=str)
def test_single_account_assessment_matches_the_whole_portfolio(which: str, as_of: date, synthetic: Path) -> None:
    """`account_view` itself, through `assess_account` (the brief's detect_signals node): the same queue
    entry, for accounts with each benchmarked signal, a quiet account and a few others."""
    root = portfolio_dir() if which == "sample" else synthetic
    portfolio, config, whole = _whole(root, as_of)
    signals = whole.signals
    picked: list[str] = []
    for signal in ("survey_decline", "adoption_plateau"):
        picked += signals.filter(pl.col("signal") == signal)["account_id"].head(3).to_list()
    ids = portfolio.accounts["account_id"].to_list()
    quiet = [a for a in ids if a not in set(signals["account_id"].to_list())]
    picked += quiet[:1] + ids[:3]
    for account_id in dict.fromkeys(picked):
        view = account_view(portfolio, config, as_of, account_id)
        got = assess_account(view, config, as_of, account_id)
        want = assess_account(portfolio, config, as_of, account_id)
        assert got.model_dump() == want.model_dump(), account_id


def test_single_account_detection_needs_the_whole_portfolio_benchmarks(synthetic: Path) -> None:
    """Without the whole portfolio's benchmarks a one-account view compares the account with itself: some
    account's signals differ (what the test above guards against)."""
    portfolio, config, whole = _whole(synthetic, AS_OF)
    differs = [
        account_id
        for account_id in whole.signals.filter(pl.col("signal").is_in(["survey_decline", "adoption_plateau"]))[
            "account_id"
        ].to_list()
        if not _rows(_one(portfolio.only(account_id), config, AS_OF), account_id).equals(_rows(whole, account_id))
    ]
    assert differs


def test_single_account_view_refuses_benchmarks_of_another_date_or_setting(synthetic: Path) -> None:
    portfolio, config, _ = _whole(synthetic, AS_OF)
    account_id = portfolio.accounts["account_id"][0]
    view = account_view(portfolio, config, AS_OF, account_id)
    with pytest.raises(ValueError, match="another date or settings"):
        detect(view, config, EARLIER)
    other = config.model_copy(update={"history_days": config.history_days + 1})
    with pytest.raises(ValueError, match="another date or settings"):
        detect(view, other, AS_OF)
    with pytest.raises(ValueError, match="already a one-account view"):
        account_view(view, config, AS_OF, account_id)


def test_single_account_view_keeps_the_account_rows_and_missing_tables(tmp_path: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(portfolio_dir(), root)
    (root / "notes.csv").unlink()
    portfolio = load_portfolio(root, AS_OF, snapshot=False)
    view = portfolio.only("A-017")
    assert view.missing == portfolio.missing and "notes" in view.missing
    assert set(view.tables) == set(portfolio.tables)
    for name, frame in portfolio.tables.items():
        assert view.tables[name].equals(frame.filter(pl.col("account_id") == "A-017")), name
    assert view.accounts["account_id"].to_list() == ["A-017"]
    assert view.account("A-017") == portfolio.account("A-017")
    # The last cut is kept (a brief asks for it at each step); another account's is cut anew, and correct.
    assert portfolio.only("A-017") is view
    other = portfolio.only("A-001")
    assert other is not view and other.accounts["account_id"].to_list() == ["A-001"]
    for name, frame in portfolio.tables.items():
        assert other.tables[name].equals(frame.filter(pl.col("account_id") == "A-001")), name
    assert portfolio.only("A-017") is not view and portfolio.only("A-017").tables.keys() == view.tables.keys()


def test_a_repeated_usage_period_reads_the_same_in_both_paths(synthetic: Path, tmp_path: Path) -> None:
    """Each account's latest usage periods written twice, the repeat with a fifth of the value: the later row
    counts, in the whole portfolio's detection and in the segment median a one-account view is compared with."""
    root = tmp_path / "portfolio"
    shutil.copytree(synthetic, root)
    usage = pl.read_csv(root / "usage.csv")
    newest = pl.col("period_start") == pl.col("period_start").max().over("account_id", "metric")
    repeated = usage.filter(newest).with_columns((pl.col("value") * 0.2).round(2))
    pl.concat([usage, repeated]).write_csv(root / "usage.csv")
    portfolio, config, whole = _whole(root, AS_OF)
    _, _, plain = _whole(synthetic, AS_OF)
    assert not whole.signals.equals(plain.signals)  # the repeats count: usage fell by four fifths
    benchmarks = segment_benchmarks(in_force(portfolio, AS_OF, config.as_of), config, AS_OF)
    for account_id in portfolio.accounts["account_id"].to_list():
        one = _one(replace(portfolio.only(account_id), benchmarks=benchmarks), config, AS_OF)
        assert_frame_equal(_rows(one, account_id), _rows(whole, account_id), account_id)
