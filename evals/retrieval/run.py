"""Retrieval quality on the sample portfolio: recall@5 and MRR for vector, BM25 and hybrid search.

    python -m evals.retrieval.run [--store DIR] [--min-recall 0.8] [--method hybrid]

Ingests the sample portfolio into a store kept in the temp folder (ingest is incremental, so later
runs only check hashes), runs every labelled query of `queries.json` with each method, prints a table
and, last, one JSON line. Any hit from another account or dated after the query's as-of date is a
leak and fails the run, as does a recall@5 below `--min-recall` for the default method.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

from rich.console import Console
from rich.table import Table

from tools.portfolio import load_portfolio
from tools.retrieval import DEFAULT_METHOD, SearchMethod, evidence_rows, ingest, search
from tools.sample import portfolio_dir

QUERIES = Path(__file__).with_name("queries.json")
METHODS: tuple[SearchMethod, ...] = ("vector", "bm25", "hybrid")
DEPTH = 10  # results fetched per query: recall uses the top 5, MRR the top 10


@dataclass(frozen=True)
class Case:
    """One labelled query."""

    account_id: str
    query: str
    relevant: frozenset[str]
    as_of: date
    category: str = "paraphrase"


def load_cases(path: Path = QUERIES) -> tuple[list[Case], int]:
    """The labelled queries and the cut-off k of recall@k."""
    spec = json.loads(path.read_text(encoding="utf-8"))
    default_as_of = date.fromisoformat(spec["as_of"])
    cases = [
        Case(
            q["account_id"],
            q["query"],
            frozenset(q["relevant"]),
            date.fromisoformat(q["as_of"]) if "as_of" in q else default_as_of,
            q.get("category", "paraphrase"),
        )
        for q in spec["queries"]
    ]
    return cases, int(spec.get("k", 5))


def recall_at(ranked: list[str], relevant: frozenset[str], k: int) -> float:
    """Share of the relevant ids found in the top k, out of at most k (so k hits of 6 relevant score 1)."""
    return len(set(ranked[:k]) & relevant) / min(len(relevant), k)


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def reciprocal_rank(ranked: list[str], relevant: frozenset[str]) -> float:
    return next((1.0 / rank for rank, hit in enumerate(ranked, start=1) if hit in relevant), 0.0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--store",
        type=Path,
        default=Path(tempfile.gettempdir()) / "riskbrief-eval-retrieval",
        help="Chroma folder to (re)use for the sample portfolio",
    )
    parser.add_argument(
        "--min-recall", type=float, default=0.0, help="fail when the default method scores less"
    )
    parser.add_argument(
        "--method", choices=METHODS, default=DEFAULT_METHOD, help="the method --min-recall gates"
    )
    args = parser.parse_args(argv)
    console = Console(stderr=True, highlight=False)

    cases, k = load_cases()
    portfolio = load_portfolio(portfolio_dir())
    known = {(e.evidence_id, e.account_id): e.day for e in evidence_rows(portfolio)}
    for case in cases:  # labels drift when the sample is regenerated: say so instead of scoring nonsense
        for rid in case.relevant:
            if (rid, case.account_id) not in known or known[(rid, case.account_id)] > case.as_of:
                raise SystemExit(
                    f"queries.json: {rid} is not evidence of {case.account_id} as of {case.as_of}"
                )
    report = ingest(portfolio, progress=sys.stderr.isatty(), store_path=args.store)
    console.print(
        f"store {report.store}: {report.chunks} chunks, {report.embedded} embedded in {report.seconds:.1f}s"
    )

    results: dict[str, dict[str, Any]] = {}
    leaks: list[str] = []
    for method in METHODS:
        recalls: list[float] = []
        rrs: list[float] = []
        latencies: list[float] = []
        misses: list[str] = []
        for case in cases:
            started = time.perf_counter()
            hits = search(
                case.account_id,
                case.query,
                as_of=case.as_of,
                k=DEPTH,
                portfolio=portfolio,
                store_path=args.store,
                method=method,
            )
            latencies.append(time.perf_counter() - started)
            leaks += [
                f"{method}: {case.query!r} -> {h.id} ({h.account_id}, {h.date})"
                for h in hits
                if h.account_id != case.account_id or h.date > case.as_of.isoformat()
            ]
            ranked = [h.id for h in hits]
            recalls.append(recall_at(ranked, case.relevant, k))
            rrs.append(reciprocal_rank(ranked, case.relevant))
            if recalls[-1] < 1.0:
                misses.append(f"{case.account_id} {case.query!r}: recall {recalls[-1]:.2f}, top {ranked[:k]}")
        latencies.sort()
        results[method] = {
            f"recall@{k}": _mean(recalls),
            "mrr": _mean(rrs),
            "p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
            "by_category": {
                cat: {
                    f"recall@{k}": _mean(
                        [r for r, c in zip(recalls, cases, strict=True) if c.category == cat]
                    ),
                    "mrr": _mean([r for r, c in zip(rrs, cases, strict=True) if c.category == cat]),
                }
                for cat in sorted({c.category for c in cases})
            },
            "misses": misses,
        }

    table = Table(
        title=f"Retrieval on the sample portfolio: {len(cases)} labelled queries", title_justify="left"
    )
    categories = sorted({c.category for c in cases})
    columns = [
        "method",
        f"recall@{k}",
        "MRR",
        *(f"{cat} R@{k} / MRR" for cat in categories),
        "p50 ms",
        "imperfect",
    ]
    for col in columns:
        table.add_column(col, justify="left" if col == "method" else "right")
    for name, r in results.items():
        per_cat = [
            f"{r['by_category'][cat][f'recall@{k}']:.3f} / {r['by_category'][cat]['mrr']:.3f}"
            for cat in categories
        ]
        table.add_row(
            name,
            f"{r[f'recall@{k}']:.3f}",
            f"{r['mrr']:.3f}",
            *per_cat,
            f"{r['p50_ms']:.0f}",
            str(len(r["misses"])),
        )
    Console(highlight=False).print(table)
    for name, r in results.items():
        for miss in cast(list[str], r["misses"]):
            console.print(f"[dim]{name}: {miss}[/dim]", soft_wrap=True)
    for leak in leaks:
        console.print(f"[bold red]leak[/bold red] {leak}", soft_wrap=True)
    gate = results[args.method][f"recall@{k}"]
    passed = not leaks and gate >= args.min_recall
    summary = {
        "suite": "retrieval",
        "queries": len(cases),
        "k": k,
        "model": report.model,
        "leaks": len(leaks),
        "passed": passed,
        "methods": {m: {key: v for key, v in r.items() if key != "misses"} for m, r in results.items()},
    }
    print(json.dumps(summary))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
