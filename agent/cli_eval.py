"""`riskbrief eval`, `riskbrief backtest` and `riskbrief calibrate`: measuring the agent and the queue.

Heavy imports happen inside the commands so the rest of the CLI starts fast.
"""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tools import workspace
from tools.errors import InputError

if TYPE_CHECKING:
    from agent.config import ModelSettings
    from evals.adversarial.run import AdversarialReport
    from evals.runner import EvalReport, SuiteReport
    from tools.backtest import BacktestReport
    from tools.calibration import CalibrationReport

out = Console(highlight=False, width=None if sys.stdout.isatty() else 150)


class Format(StrEnum):
    table = "table"
    json = "json"


class FlagLevel(StrEnum):
    any = "any"
    medium = "medium"
    high = "high"
    critical = "critical"


class ScoreChoice(StrEnum):
    risk_score = "risk_score"
    churn_probability = "churn_probability"


HomeOpt = Annotated[
    Path | None,
    typer.Option(
        "--home", help="Workspace folder (default: $RISKBRIEF_HOME, else ./.riskbrief).", show_default=False
    ),
]
DataOpt = Annotated[
    str | None,
    typer.Option(
        "--data",
        help="Portfolio directory with outcomes.csv; `sample` for the bundled one.",
        show_default=False,
    ),
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="riskbrief.toml to use.", show_default=False)
]
FormatOpt = Annotated[Format, typer.Option("--format", help="table for people, json for scripts.")]


def _set_home(home: Path | None) -> None:
    if home is not None:
        workspace.set_home(home)


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
            raise InputError(
                f"--model {name}: no model endpoint configured (set OPENAI_BASE_URL or OPENAI_API_KEY)"
            )
        drafters.append(settings)
    return drafters


def _suite_table(report: SuiteReport) -> Table:
    table = Table(
        title=f"{report.suite} · drafter {report.drafter} · "
        f"{len(report.cases)} briefs in {report.seconds:.1f} s"
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
            is_sum = any(
                sc.aggregate == "sum" for s in report.suites for sc in s.scorers if sc.scorer == name
            )
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
    fmt: FormatOpt = Format.table,
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

    _set_home(home)
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
        passed=all(r.passed for r in reports)
        and (adversarial_report is None or adversarial_report.passed),
        suites=reports,
    )
    paths = [write_report(report)] if reports or adversarial_report is None else []
    if adversarial_report is not None:
        paths.append(_write_adversarial(adversarial_report))
    if fmt == Format.json:
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
        verdict = (
            "[green]all suites pass[/green]" if report.passed else "[bold red]below thresholds[/bold red]"
        )
        out.print(f"{verdict} · report: {', '.join(str(p) for p in paths)}")
    if not report.passed:
        raise typer.Exit(1)


# --------------------------------------------------------------------------------------------- backtest


def _data(data: str | None) -> Path:
    from agent.cli import resolve_data

    return resolve_data(data)


def _backtest_table(r: BacktestReport) -> Table:
    table = Table(
        title=f"Backtest as of {r.as_of}, churn in the next {r.horizon_days} days (ranked by {r.score})"
    )
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
    as_of: Annotated[str | None, typer.Option("--as-of", help="Rank as of this date (YYYY-MM-DD).")] = None,
    horizon: Annotated[int, typer.Option("--horizon", help="Days after as-of in which churn counts.")] = 90,
    flag_level: Annotated[
        FlagLevel, typer.Option("--flag-level", help="Lowest risk level that counts as flagged.")
    ] = (FlagLevel.high),
    score: Annotated[
        ScoreChoice, typer.Option("--score", help="What ranks accounts.")
    ] = ScoreChoice.risk_score,
    fmt: FormatOpt = Format.table,
    config_file: ConfigOpt = None,
) -> None:
    """Rank as of D and compare with outcomes after D: AUC, precision@k, recall, lead time."""
    from agent.cli import parse_date
    from tools.backtest import run_backtest
    from tools.config import load_config

    root = _data(data)
    config = load_config(root, config_file)
    day = parse_date(as_of) or config.as_of
    if day is None:
        raise InputError("--as-of D is required (or as_of in riskbrief.toml)")
    report = run_backtest(root, day, horizon, config, flag_level=flag_level.value, score=score.value)
    if fmt == Format.json:
        typer.echo(report.model_dump_json(indent=2))
        return
    out.print(_backtest_table(report))
    for note in report.notes:
        out.print(f"[yellow]note:[/yellow] {escape(note)}")
    if report.missed:
        out.print(f"churned but not flagged (first {len(report.missed)}): {', '.join(report.missed)}")


# -------------------------------------------------------------------------------------------- calibrate


def _calibration_tables(r: CalibrationReport) -> list[Table]:
    weights = Table(
        title=f"Churn model (logistic regression, L2 {r.l2:g}; churn within {r.horizon_days} days)"
    )
    weights.add_column("feature")
    weights.add_column("weight", justify="right")
    weights.add_row("intercept", f"{r.intercept:+.3f}")
    for feature, weight in sorted(r.weights.items(), key=lambda kv: -kv[1]):
        weights.add_row(feature, f"{weight:+.3f}")
    h = r.held_out
    held = Table(
        title=f"Held out: fitted on {len(r.train_dates)} as-of dates "
        f"{r.train_dates[0]}..{r.train_dates[-1]}, "
        f"tested on {', '.join(d.isoformat() for d in r.test_dates)}"
    )
    held.add_column("metric")
    held.add_column("value", justify="right")
    for name, value in (
        ("test rows", str(h.n)),
        ("test churn rate", _pct(h.churn_rate)),
        ("AUC (model)", _pct(h.auc)),
        ("AUC (default rule score)", _pct(r.rule_score_auc)),
        ("precision@10% (model)", _pct(h.precision_at_10pct)),
        ("precision@10% (rule score)", _pct(r.rule_score_precision_at_10pct)),
        ("Brier score (model)", _pct(h.brier, 4)),
        ("Brier score (train base rate)", _pct(h.base_rate_brier, 4)),
        ("log loss", _pct(h.log_loss, 4)),
        ("expected calibration error", _pct(h.expected_calibration_error, 4)),
    ):
        held.add_row(name, value)
    bins = Table(title="Reliability (held out)")
    for col in ("predicted", "accounts", "mean predicted", "observed churn"):
        bins.add_column(col, justify="right")
    for b in h.reliability:
        bins.add_row(
            f"{b.lower:.1f}-{b.upper:.1f}", str(b.count), f"{b.mean_predicted:.3f}", f"{b.observed_rate:.3f}"
        )
    return [weights, held, bins]


def calibrate_command(
    data: DataOpt = None,
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="End of the known history (default: the latest outcome date)."),
    ] = None,
    horizon: Annotated[
        int, typer.Option("--horizon", help="Days after each as-of date in which churn counts.")
    ] = 90,
    write: Annotated[
        Path | None, typer.Option("--write", help="Write the \\[calibration] table into this riskbrief.toml.")
    ] = None,
    l2: Annotated[float, typer.Option("--l2", help="L2 penalty of the logistic regression.")] = 1.0,
    test_dates: Annotated[
        int, typer.Option("--test-dates", help="Newest month-end as-of dates held out.")
    ] = 3,
    fmt: FormatOpt = Format.table,
    config_file: ConfigOpt = None,
) -> None:
    """Fit churn probabilities over the signals on outcome history (time split), report calibration,
    and optionally write the model for the queue's churn_probability and arr_at_risk."""
    from agent.cli import parse_date
    from tools.calibration import calibrate, write_calibration
    from tools.config import load_config

    if l2 < 0 or test_dates < 1:
        raise InputError("--l2 must be >= 0 and --test-dates >= 1")
    root = _data(data)
    config = load_config(root, config_file)
    report = calibrate(
        root, as_of=parse_date(as_of), horizon_days=horizon, n_test_dates=test_dates, l2=l2, config=config
    )
    if write is not None:
        write_calibration(write, report)
    if fmt == Format.json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    for table in _calibration_tables(report):
        out.print(table)
    if write is not None:
        out.print(
            f"wrote the \\[calibration] table to {write}: the queue shows churn_probability and arr_at_risk"
        )


def register(app: typer.Typer) -> None:
    """Add `eval`, `backtest` and `calibrate` to the `riskbrief` app."""
    app.command("eval")(eval_command)
    app.command("backtest")(backtest_command)
    app.command("calibrate")(calibrate_command)
