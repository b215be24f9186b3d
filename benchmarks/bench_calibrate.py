"""Benchmark: fit the churn model on, and score, a large synthetic portfolio.

    python -m benchmarks.bench_calibrate                   # 100,000 accounts, two years of weekly data
    python -m benchmarks.bench_calibrate --accounts 20000 --weeks 52

Generates the portfolio with benchmarks.synth (not timed; its outcomes.csv holds renewals and churn in
the 180 days after the as-of date), then times:
- rows_s: building one row per account as of the date (load, detection, rule score, account features);
- calibrate_s: choosing and fitting the 90-day model on those rows (four candidates on the inner split,
  then the chosen one refitted on every row and its intercept re-fitted), i.e. `riskbrief calibrate`'s
  work for one as-of date of n accounts;
- score_s: probabilities and the top three factors of every account (`score_rows`);
- queue_s: the queue with the model in force (load, detect, rank, probabilities and factors).
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from benchmarks.synth import generate
from tools.churn_model import ChurnModelSet, choose_and_fit, score_rows
from tools.churn_rows import rows_for_date, with_label
from tools.config import load_config
from tools.portfolio import load_portfolio

AS_OF = date(2026, 11, 20)
HORIZON = 90


def measure(n_accounts: int, weeks: int, workdir: Path) -> dict[str, float | int | str]:
    from tools.backtest import auc
    from tools.calibration import MODEL_FILE
    from tools.scoring import build_queue

    folder = workdir / f"synth-{n_accounts}-{weeks}"
    if not (folder / "accounts.csv").is_file():
        generate(folder, n_accounts, weeks)
    config = load_config(folder)
    t0 = time.perf_counter()
    portfolio = load_portfolio(folder, as_of=AS_OF, include_outcomes=True)
    rows = with_label(rows_for_date(portfolio, config, AS_OF, portfolio.table("outcomes"), None), HORIZON)
    t1 = time.perf_counter()
    # one as-of date: the inner split falls back to accounts; the as-of spread is faked for the window
    model = choose_and_fit(
        rows, HORIZON, [(b.max_days, b.adjustment) for b in config.renewal_proximity], portfolio.accounts.columns
    )
    t2 = time.perf_counter()
    scored = score_rows(rows, ChurnModelSet(models={HORIZON: model}, primary=HORIZON))
    t3 = time.perf_counter()
    (folder / MODEL_FILE).write_text(ChurnModelSet(models={HORIZON: model}, primary=HORIZON).to_json())
    toml = (folder / "riskbrief.toml").read_text().split("[calibration]")[0]
    (folder / "riskbrief.toml").write_text(toml + f'\n[calibration]\nformat = 2\nmodel_file = "{MODEL_FILE}"\n')
    config = load_config(folder)
    t4 = time.perf_counter()
    queue = build_queue(load_portfolio(folder, as_of=AS_OF), config, AS_OF)
    t5 = time.perf_counter()
    y = np.asarray(rows["label"].to_list(), dtype=bool)
    return {
        "accounts": n_accounts,
        "rows": rows.height,
        "churn_rate": round(float(y.mean()), 4),
        "chosen": str(model.about["chosen"]),
        "in_sample_auc": round(auc(scored["churn_probability"].to_numpy(), y) or 0.0, 3),
        "rows_s": round(t1 - t0, 2),
        "calibrate_s": round(t2 - t1, 2),
        "score_s": round(t3 - t2, 2),
        "queue_s": round(t5 - t4, 2),
        "queue_len": len(queue),
        "factors_shown": sum(1 for e in queue if e.model_dump().get("churn_factors")),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(args.accounts, args.weeks, args.workdir or Path(tmp))
    pl.Config.set_tbl_rows(20)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
