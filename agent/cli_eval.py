"""`riskbrief eval`, `riskbrief backtest` and `riskbrief calibrate`: measuring the agent and the queue.

Heavy imports happen inside the commands so the rest of the CLI starts fast.
"""

from __future__ import annotations

import json
import os
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from agent.cli_options import (
    AsOfOpt,
    ConfigOpt,
    DataOpt,
    HomeOpt,
    TableOrJson,
    TableOrJsonOpt,
    out,
    parse_date,
    resolve_data,
    set_home,
)
from tools.errors import InputError

if TYPE_CHECKING:
    from agent.config import ModelSettings
    from evals.adversarial.run import AdversarialReport
    from evals.runner import EvalReport, SuiteReport
    from tools.backtest import BacktestReport
    from tools.calibration import ModelCalibrationReport
    from tools.config import Config

class FlagLevel(StrEnum):
    any = "any"
    medium = "medium"
    high = "high"
    critical = "critical"


class ScoreChoice(StrEnum):
    risk_score = "risk_score"
    churn_probability = "churn_probability"


def _pct(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


# ------------------------------------------------------------------------------------------------- eval


def _drafters(models: list[str], offline: bool) -> list[ModelSettings | None]:
    """The drafters to compare: the offline one, the configured model, or each `--model`."""
    from agent.config import model_settings
    from tools.config import load_config

    if offline:
        if models:
            raise InputError("--offline and --model exclude each other")
        return [None]
    config = load_config(None)
    if not models:
        return [model_settings(config)]
    drafters: list[ModelSettings | None] = []
    for name in models:
        settings = model_settings(config, {**os.environ, "RISKBRIEF_MODEL": name})
        if settings is None:
            raise InputError(f"--model {name}: no model endpoint configured (set OPENAI_BASE_URL or OPENAI_API_KEY)")
        drafters.append(settings)
    return drafters


def _suite_table(report: SuiteReport) -> Table:
    table = Table(
        title=f"{report.suite} · drafter {report.drafter} · {len(report.cases)} briefs in {report.seconds:.1f} s"
    )
    for col in ("scorer", "value", "cases", "threshold", "", "failing cases"):
        table.add_column(col, overflow="fold")
    for s in report.scorers:
        value = "n/a" if s.value is None else (f"{s.value:g}" if s.aggregate == "sum" else f"{s.value:.3f}")
        mark = "[green]pass[/green]" if s.passed else "[bold red]FAIL[/bold red]"
        shown = s.failing[:3] + ([f"… {len(s.failing) - 3} more"] if len(s.failing) > 3 else [])
        table.add_row(s.scorer, value, str(s.cases), s.threshold, mark, "\n".join(shown))
    return table


def _comparison(report: EvalReport) -> Table | None:
    drafters = sorted({s.drafter for s in report.suites})
    if len(drafters) < 2:
        return None
    table = Table(title="Drafters compared (mean over suites; counts summed)")
    table.add_column("scorer")
    for d in drafters:
        table.add_column(d)
    names = [s.scorer for s in report.suites[0].scorers]
    for name in names:
        cells = []
        for d in drafters:
            values = [
                sc.value
                for s in report.suites
                if s.drafter == d
                for sc in s.scorers
                if sc.scorer == name and sc.value is not None
            ]
            total = sum(values) if values else None
            is_sum = any(sc.aggregate == "sum" for s in report.suites for sc in s.scorers if sc.scorer == name)
            cells.append("n/a" if total is None else f"{total:g}" if is_sum else f"{total / len(values):.3f}")
        table.add_row(name, *cells)
    return table


# ------------------------------------------------------------------- eval: the adversarial suite
# `--suite adversarial` (and the default, all suites) also runs `evals.adversarial`: hostile drafts
# from a scripted fake endpoint, offline; `--model` and `--offline` do not apply to it.

ADVERSARIAL = "adversarial"


def _split_adversarial(names: list[str]) -> tuple[list[str], bool]:
    """(the other suite names, whether the adversarial suite runs): it runs when asked or by default."""
    others = [n for n in names if n != ADVERSARIAL]
    return others, not names or ADVERSARIAL in names


def _run_adversarial() -> AdversarialReport:
    from evals.adversarial.run import run_adversarial

    return run_adversarial()


def _write_adversarial(report: AdversarialReport) -> Path:
    """`<workspace>/evals/adversarial-<timestamp>.json`, beside the eval report."""
    from evals.adversarial.run import write_adversarial_report

    return write_adversarial_report(report)


def _json_with_adversarial(report: EvalReport, adversarial: AdversarialReport | None) -> str:
    if adversarial is None:
        return report.model_dump_json(indent=2)
    payload = report.model_dump(mode="json")
    payload["adversarial"] = adversarial.model_dump(mode="json", by_alias=True)
    return json.dumps(payload, indent=2)


def _print_adversarial(report: AdversarialReport) -> None:
    from evals.adversarial.run import report_tables

    for item in report_tables(report):
        out.print(item)


def eval_command(
    suite: Annotated[
        list[str] | None,
        typer.Option(
            "--suite",
            help="Suite name (latest version), name.vN, or a folder; repeatable; `adversarial` for the "
            "scripted-endpoint suite. Default: all.",
        ),
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", help="Draft with this model (repeatable, to compare); needs an endpoint."),
    ] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Use the embedded offline drafter.")] = False,
    model_graded: Annotated[
        bool,
        typer.Option("--model-graded", help="Also ask the configured model whether causes are supported."),
    ] = False,
    fmt: TableOrJsonOpt = TableOrJson.table,
    home: HomeOpt = None,
) -> None:
    """Score briefs against the labelled scenario suites; exit 1 when a suite is below its thresholds."""
    from agent.config import model_settings
    from evals.runner import (
        EvalReport,
        load_suite,
        model_judge,
        now_stamp,
        resolve_suites,
        run_suite,
        write_report,
    )
    from tools.config import load_config

    set_home(home)
    names, adversarial = _split_adversarial(suite or [])
    folders = resolve_suites(names) if names or not suite else []
    drafters = _drafters(model or [], offline) if folders else []
    judge = None
    if model_graded and folders:
        settings = next((d for d in drafters if d is not None), None) or model_settings(load_config(None))
        if settings is None:
            raise InputError("--model-graded needs a model endpoint (set OPENAI_BASE_URL or OPENAI_API_KEY)")
        judge = model_judge(settings)
    suites = [load_suite(f) for f in folders]
    reports = [run_suite(s, d, judge) for d in drafters for s in suites]
    adversarial_report = _run_adversarial() if adversarial else None
    report = EvalReport(
        created_at=now_stamp(),
        model_graded=model_graded,
        passed=all(r.passed for r in reports) and (adversarial_report is None or adversarial_report.passed),
        suites=reports,
    )
    paths = [write_report(report)] if reports or adversarial_report is None else []
    if adversarial_report is not None:
        paths.append(_write_adversarial(adversarial_report))
    if fmt == TableOrJson.json:
        typer.echo(_json_with_adversarial(report, adversarial_report))
    else:
        for r in reports:
            out.print(_suite_table(r))
            for case in r.cases:
                if case.error:
                    out.print(f"[red]error[/red] {r.suite} {case.account_id}: {case.error}")
        comparison = _comparison(report)
        if comparison is not None:
            out.print(comparison)
        if adversarial_report is not None:
            _print_adversarial(adversarial_report)
        verdict = "[green]all suites pass[/green]" if report.passed else "[bold red]below thresholds[/bold red]"
        out.print(f"{verdict} · report: {', '.join(str(p) for p in paths)}")
    if not report.passed:
        raise typer.Exit(1)


# --------------------------------------------------------------------------------------------- backtest


def _backtest_table(r: BacktestReport) -> Table:
    table = Table(title=f"Backtest as of {r.as_of}, churn in the next {r.horizon_days} days (ranked by {r.score})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("accounts active at as-of", str(r.n_accounts)),
        ("churned in the horizon", f"{r.n_churned} ({_pct(r.base_rate)} base rate)"),
        ("AUC", _pct(r.auc)),
        ("precision@10%", _pct(r.precision_at_10pct)),
        ("precision@20%", _pct(r.precision_at_20pct)),
        (f"flagged ({r.flag_level} or above)", str(r.n_flagged)),
        ("recall of flagged", _pct(r.recall)),
        ("revenue-weighted recall", _pct(r.revenue_weighted_recall)),
        (
            "median lead time (days)",
            "-" if r.median_lead_time_days is None else f"{r.median_lead_time_days:g}",
        ),
        ("share flagged 90+ days ahead", _pct(r.share_flagged_90d_ahead)),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


def backtest_command(
    data: DataOpt = None,
    as_of: AsOfOpt = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Days after as-of in which churn counts.")] = 90,
    flag_level: Annotated[FlagLevel, typer.Option("--flag-level", help="Lowest risk level that counts as flagged.")] = (
        FlagLevel.high
    ),
    score: Annotated[
        ScoreChoice | None,
        typer.Option("--score", help="What ranks accounts (default: churn_probability once calibrated)."),
    ] = None,
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Time-split comparison of every method on the same held-out rows (rule score, calibrated "
            "model, training rate, health formula, raw-column LR and GBM); --as-of ends the history.",
        ),
    ] = False,
    test_dates: Annotated[int, typer.Option("--test-dates", help="With --compare: month ends held out.")] = 3,
    fmt: TableOrJsonOpt = TableOrJson.table,
    config_file: ConfigOpt = None,
) -> None:
    """Rank as of D and compare with outcomes after D: AUC, precision@k, recall, lead time."""
    from tools.backtest import run_backtest
    from tools.config import load_config

    root = resolve_data(data)
    config = load_config(root, config_file)
    if compare:
        _compare(root, config, parse_date(as_of), horizon, test_dates, fmt)
        return
    if score is None:
        score = ScoreChoice.churn_probability if config.calibration is not None else ScoreChoice.risk_score
    day = parse_date(as_of) or config.as_of
    if day is None:
        raise InputError("--as-of D is required (or as_of in riskbrief.toml)")
    report = run_backtest(root, day, horizon, config, flag_level=flag_level.value, score=score.value)
    if fmt == TableOrJson.json:
        typer.echo(report.model_dump_json(indent=2))
        return
    out.print(_backtest_table(report))
    for note in report.notes:
        out.print(f"[yellow]note:[/yellow] {escape(note)}")
    if report.missed:
        out.print(f"churned but not flagged (first {len(report.missed)}): {', '.join(report.missed)}")


def _compare(root: Path, config: Config, end: date | None, horizon: int, test_dates: int, fmt: TableOrJson) -> None:
    from evals.converters.compare import print_table
    from tools.churn_eval import compare_portfolio

    if horizon <= 0 or test_dates < 1:
        raise InputError("--horizon must be positive and --test-dates >= 1")
    result = compare_portfolio(root, config, horizon, test_dates, end)
    if fmt == TableOrJson.json:
        typer.echo(json.dumps({"portfolio": result}, indent=2, sort_keys=True))
        return
    print_table({"portfolio": result}, out)


# -------------------------------------------------------------------------------------------- calibrate


def _calibration_tables(r: ModelCalibrationReport) -> list[Table]:
    summary = Table(
        title=f"Churn models (the queue shows the {r.primary_horizon_days}-day one); fitted {r.fitted_as_of}"
    )
    for col in (
        "horizon",
        "chosen (inner split)",
        "written",
        "test dates",
        "test rows",
        "churn rate",
        "AUC model",
        "AUC rule score",
        "P@10% model",
        "Brier",
        "Brier base rate",
        "ECE",
    ):
        summary.add_column(col, justify="left" if col.startswith("chosen") else "right")
    for h in r.horizons:
        o = h.held_out
        summary.add_row(
            f"{h.horizon_days} d",
            h.chosen,
            h.written,
            f"{h.test_dates[0]}..{h.test_dates[-1]}",
            str(o.n),
            _pct(o.churn_rate),
            _pct(o.auc),
            _pct(h.rule_score_auc),
            _pct(o.precision_at_10pct),
            _pct(o.brier, 4),
            _pct(o.base_rate_brier, 4),
            _pct(o.expected_calibration_error, 4),
        )
    columns = Table(title="What the model reads")
    columns.add_column("kind")
    columns.add_column("columns")
    columns.add_row(
        "always",
        "signal indicators, signal count, rule score, tenure, days to renewal, proximity band, "
        "renewal within the horizon, ARR, licences, segment",
    )
    columns.add_row("extra numeric (accounts.csv)", ", ".join(r.extra_numeric) or "-")
    columns.add_row("extra categorical (accounts.csv)", ", ".join(r.extra_categorical) or "-")
    columns.add_row("not read", ", ".join(r.ignored_columns) or "-")
    return [summary, columns]


def calibrate_command(
    data: DataOpt = None,
    as_of: AsOfOpt = None,
    horizon: Annotated[
        list[int] | None,
        typer.Option(
            "--horizon", help="Days after each as-of date in which churn counts; repeatable (default 30, 90, 180)."
        ),
    ] = None,
    primary: Annotated[int, typer.Option("--primary", help="The horizon whose probability the queue shows.")] = 90,
    write: Annotated[
        Path | None,
        typer.Option(
            "--write", help="Write the \\[calibration] table into this riskbrief.toml (model file beside it)."
        ),
    ] = None,
    test_dates: Annotated[int, typer.Option("--test-dates", help="Newest month-end as-of dates held out.")] = 3,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="With --write: write the models even when the queue's horizon did not beat the rule score "
            "and the base rate on the held-out dates.",
        ),
    ] = False,
    fmt: TableOrJsonOpt = TableOrJson.table,
    config_file: ConfigOpt = None,
) -> None:
    """Fit churn models (30/90/180 days) on outcome history, time split; report held-out accuracy and
    calibration; optionally write them for the queue's churn_probability, arr_at_risk and factors."""
    from tools.calibration import calibrate_models, write_models
    from tools.config import load_config

    if test_dates < 1:
        raise InputError("--test-dates must be >= 1")
    root = resolve_data(data)
    config = load_config(root, config_file)
    report = calibrate_models(
        root,
        as_of=parse_date(as_of),
        horizons=horizon or (30, 90, 180),
        primary=primary,
        n_test_dates=test_dates,
        config=config,
    )
    weak = model_falls_short(report)
    model_path = write_models(write, report) if write is not None and (force or weak is None) else None
    if write is not None and model_path is None:
        typer.echo(
            f"warning: nothing written to {write}: {weak}; the queue keeps the rule score (--force writes it anyway)",
            err=True,
        )
    if fmt == TableOrJson.json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    for table in _calibration_tables(report):
        out.print(table)
    for note in report.notes:
        out.print(f"[yellow]note:[/yellow] {escape(note)}")
    if model_path is not None:
        out.print(
            f"wrote the \\[calibration] table to {write} and the models to {model_path}: the queue shows "
            "churn_probability, arr_at_risk and the top factors"
        )


def model_falls_short(report: ModelCalibrationReport) -> str | None:
    """Why the queue's model should not be put in force, or None: on its held-out dates it must rank
    better than the rule score and be better calibrated than predicting the training churn rate."""
    primary = next((h for h in report.horizons if h.horizon_days == report.primary_horizon_days), None)
    if primary is None:
        return None
    held = primary.held_out
    label = f"the {primary.horizon_days}-day model"
    if held.auc is None:
        return f"{label} could not be scored on the held-out dates (one class only)"
    if primary.rule_score_auc is not None and held.auc <= primary.rule_score_auc:
        return (
            f"{label} ranked no better than the rule score on the held-out dates "
            f"(AUC {held.auc:.3f} vs {primary.rule_score_auc:.3f})"
        )
    if held.brier >= held.base_rate_brier:
        return (
            f"{label} was no better calibrated than the base rate on the held-out dates "
            f"(Brier {held.brier:.4f} vs {held.base_rate_brier:.4f})"
        )
    return None
