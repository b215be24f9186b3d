"""Evidence-store ingest benchmarks: the first brief on a fresh workspace, one account against the whole
portfolio, full-ingest throughput, and the two embedding runtimes.

    python -m benchmarks.bench_ingest                                  # everything; first brief at 100k
    python -m benchmarks.bench_ingest --only first_brief --accounts 20000
    python -m benchmarks.bench_ingest --only embedding ingest --ingest-accounts 1000

Each measurement prints one JSON line holding the baseline it replaces, measured in the same run:

1. `embedding`: the numpy forward pass against onnxruntime on the same weights, over the bundled sample's
   distinct chunk texts (real lengths) and over full 180-word chunks: docs/s (best of --repeats, the
   runtimes alternating), docs per CPU-second, and the largest difference of any vector component.
2. `first_brief`: `riskbrief brief A-000001` in a fresh process on a fresh workspace over a synthetic
   portfolio of --accounts accounts (benchmarks.synth; generated once into --workdir): seconds, seconds
   per graph node, and what the store holds afterwards; then the next account's brief on that workspace
   (its portfolio read from the validated snapshot the first one wrote). With --brief-repeats N, N fresh
   first briefs alternating with the detection baseline: best, median and every run (`met` holds for the
   median). Baselines: the previous detection (`whole_portfolio_detection`: every detector over the whole
   portfolio, and the account's records built from it, as before tools.signals.account_view), and the
   previous `_retrieve` (which ingested the whole portfolio first), stopped after --baseline-timeout s.
3. `lazy_vs_full`: on fresh stores over a synthetic portfolio of --ingest-accounts accounts, one
   account's `ingest_account` against a full `ingest`, and the full ingest that follows the one account.
4. `ingest`: full-ingest throughput in chunks per second of `ingest` (default runtime) and of the
   previous ingest (benchmarks.baseline_ingest, numpy), each into a fresh store in a fresh process,
   alternating, --repeats times: on the bundled sample (real text: bound by the embedding) and on the
   synthetic portfolio of --ingest-accounts accounts (28 distinct texts: bound by Chroma's writes).

The machine's load average is printed with each line: other work on a small machine moves these figures.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

ACCOUNT = "A-000001"
SECOND = "A-000002"
AS_OF = date(2026, 11, 20)
BRIEF_BUDGET_S = 10.0
NODES = (
    "collect_account",
    "detect_signals",
    "retrieve_context",
    "_retrieve",
    "draft_brief",
    "verify_brief",
    "assemble_brief_node",
    "request_review",
)
MEASUREMENTS = ("embedding", "first_brief", "lazy_vs_full", "ingest")


def emit(record: dict[str, Any]) -> None:
    record["load_average"] = [round(x, 2) for x in os.getloadavg()]
    record["cpus"] = os.cpu_count()
    print(json.dumps(record), flush=True)


def synthetic(workdir: Path, accounts: int) -> Path:
    """The synthetic portfolio of `accounts` accounts (benchmarks.synth), generated once."""
    from benchmarks.synth import ensure

    return ensure(workdir, accounts)


def child_env() -> dict[str, str]:
    """The environment of measured processes: bytecode caching on, as an installed package runs."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def store_count(store: Path) -> int:
    from tools.retrieval import SHARDS, _client, shard_name

    client = _client(store)
    return sum(client.get_collection(shard_name(i), embedding_function=None).count() for i in range(SHARDS))


# ----------------------------------------------------------------------------------------- embedding


def bench_embedding(repeats: int) -> None:
    from benchmarks.bench_retrieval import sentence
    from tools.embeddings import MiniLMEmbeddingFunction, OnnxMiniLMEncoder
    from tools.portfolio import load_portfolio
    from tools.retrieval import chunks_of, evidence_rows
    from tools.sample import portfolio_dir

    numpy_ef = MiniLMEmbeddingFunction(runtime="numpy")
    started = time.perf_counter()
    onnx = OnnxMiniLMEncoder(numpy_ef.encoder)
    session_s = time.perf_counter() - started
    rng = random.Random(7)
    sample = sorted({c.text for r in evidence_rows(load_portfolio(portfolio_dir())) for c in chunks_of(r)})
    sets = {
        "sample_distinct_texts": sample,
        "full_180_word_chunks": [sentence(rng, 180) for _ in range(96)],
    }
    result: dict[str, Any] = {
        "benchmark": "embedding",
        "baseline": "numpy",
        "onnx_session_build_s": round(session_s, 2),
    }
    for label, texts in sets.items():
        runners: dict[str, Callable[[Sequence[str]], Any]] = {
            "numpy": numpy_ef.encoder.encode,
            "onnx": onnx.encode,
            "numpy_1_thread": functools.partial(one_thread, numpy_ef.encoder.encode),
        }
        walls: dict[str, list[float]] = {name: [] for name in runners}
        cpus: dict[str, list[float]] = {name: [] for name in runners}
        vectors: dict[str, Any] = {}
        for run in runners.values():
            run(texts[:8])  # warm up
        for _ in range(repeats):
            for name, run in runners.items():
                wall, cpu = time.perf_counter(), time.process_time()
                vectors[name] = run(texts)
                walls[name].append(time.perf_counter() - wall)
                cpus[name].append(time.process_time() - cpu)
        import numpy as np

        numpy_rate = len(texts) / min(walls["numpy"])
        onnx_rate = len(texts) / min(walls["onnx"])
        result[label] = {
            "texts": len(texts),
            "mean_tokens": round(float(np.mean([len(t) for t in numpy_ef.encoder.tokenize(texts)])), 1),
            "numpy_docs_per_s": round(numpy_rate, 1),
            "onnx_docs_per_s": round(onnx_rate, 1),
            "numpy_median_docs_per_s": round(len(texts) / statistics.median(walls["numpy"]), 1),
            "onnx_median_docs_per_s": round(len(texts) / statistics.median(walls["onnx"]), 1),
            "numpy_docs_per_cpu_s": round(len(texts) / min(cpus["numpy"]), 1),
            "onnx_docs_per_cpu_s": round(len(texts) / min(cpus["onnx"]), 1),
            "speedup": round(onnx_rate / numpy_rate, 2),
            "numpy_1_thread_docs_per_s": round(len(texts) / min(walls["numpy_1_thread"]), 1),
            "max_abs_diff": float(f"{float(np.abs(vectors['onnx'] - vectors['numpy']).max()):.2e}"),
        }
    matches = all(result[k]["max_abs_diff"] <= 1e-5 for k in sets)
    faster = all(result[k]["speedup"] > 1.0 for k in sets)
    result["matches_to_1e-5"] = matches
    result["bulk_default"] = "onnx" if matches and faster else "numpy"
    emit(result)


def one_thread(encode: Callable[[Sequence[str]], Any], texts: Sequence[str]) -> Any:
    """The numpy encoder on one worker thread (RISKBRIEF_EMBED_THREADS=1): what its threads add."""
    previous = os.environ.get("RISKBRIEF_EMBED_THREADS")
    os.environ["RISKBRIEF_EMBED_THREADS"] = "1"
    try:
        return encode(texts)
    finally:
        if previous is None:
            del os.environ["RISKBRIEF_EMBED_THREADS"]
        else:
            os.environ["RISKBRIEF_EMBED_THREADS"] = previous


# --------------------------------------------------------------------------------------- first brief


def child_brief(data: str, home: str, account: str, old: bool, whole: bool = False) -> None:
    """Runs in the measured process: `riskbrief brief` with a timer around each graph node. `old`: the
    previous `_retrieve`; `whole`: the previous detection, over the whole portfolio (no one-account view)."""
    timings: dict[str, float] = {}
    import agent.nodes as nodes
    from tools.portfolio import Portfolio

    if whole:

        def unchanged(portfolio: Portfolio, *_: Any) -> Portfolio:
            return portfolio

        nodes.account_view = unchanged  # type: ignore[assignment]
        Portfolio.only = unchanged  # type: ignore[method-assign]

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timings[name] = round(timings.get(name, 0.0) + time.perf_counter() - started, 3)

        return wrapper

    if old:
        from benchmarks import baseline_ingest

        nodes._retrieve = baseline_ingest.retrieve
    for name in NODES:
        setattr(nodes, name, timed(name, getattr(nodes, name)))
    sys.argv = ["riskbrief", "brief", account, "--data", data, "--home", home, "--format", "json"]
    from agent.cli import main

    code: Any = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code
    print("TIMINGS " + json.dumps(timings), file=sys.stderr, flush=True)
    sys.exit(code or 0)


def run_brief(
    data: Path,
    home: Path,
    *,
    old: bool,
    timeout: float,
    account: str = ACCOUNT,
    keep: bool = False,
    whole: bool = False,
) -> dict[str, Any]:
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    command = [sys.executable, "-m", "benchmarks.bench_ingest", "--child-brief", str(data), str(home), account]
    started = time.perf_counter()
    try:
        done = subprocess.run(
            [*command, *(["--old"] if old else []), *(["--whole-detection"] if whole else [])],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=child_env(),
        )
    except subprocess.TimeoutExpired:
        return {"finished": False, "stopped_after_s": timeout}
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"brief failed ({done.returncode}): {done.stderr[-2000:]}")
    timings = json.loads(done.stderr.rsplit("TIMINGS ", 1)[1])
    status = json.loads(done.stdout)["status"]
    return {"finished": True, "seconds": round(seconds, 2), "status": status, "node_seconds": timings}


def spread(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Best and median seconds of finished runs, and every run's seconds."""
    seconds = [r["seconds"] for r in runs if r.get("finished")]
    if len(runs) < 2 or not seconds:
        return {}
    return {
        "best_s": min(seconds),
        "median_s": round(statistics.median(seconds), 2),
        "runs_s": [r.get("seconds") for r in runs],
    }


def bench_first_brief(workdir: Path, accounts: int, baseline_timeout: float, repeats: int = 1) -> None:
    from tools.retrieval import read_state

    data = synthetic(workdir, accounts)
    size_mb = sum(p.stat().st_size for p in data.glob("*.csv")) / 1e6
    home = workdir / "home-first-brief"
    whole_home = workdir / "home-first-brief-whole"
    limit = max(600.0, baseline_timeout)
    run_brief(data, workdir / "home-warm-up", old=False, timeout=limit)  # bytecode cache
    shutil.rmtree(workdir / "home-warm-up", ignore_errors=True)
    news: list[dict[str, Any]] = []
    wholes: list[dict[str, Any]] = []
    for _ in range(max(1, repeats)):  # alternating: a busy machine slows both alike
        news.append(run_brief(data, home, old=False, timeout=limit))
        wholes.append(run_brief(data, whole_home, old=False, timeout=limit, whole=True))
    shutil.rmtree(whole_home, ignore_errors=True)
    new = {**news[-1], **spread(news)}
    whole = {**wholes[-1], **spread(wholes)}
    whole["what"] = "previous detection: every detector over the whole portfolio for one account's brief"
    new["chunks_in_store"] = store_count(home / "chroma")
    state = read_state(home / "chroma")
    new["store_complete"] = bool(state and state.complete)
    # The next account's brief on the same workspace: the portfolio now comes from its snapshot.
    second = run_brief(data, home, old=False, timeout=max(600.0, baseline_timeout), account=SECOND, keep=True)
    baseline = run_brief(data, workdir / "home-first-brief-old", old=True, timeout=baseline_timeout)
    baseline["what"] = "previous _retrieve: ingest the whole portfolio before the first search"
    emit(
        {
            "benchmark": "first_brief",
            "accounts": accounts,
            "portfolio_mb": round(size_mb),
            "account": ACCOUNT,
            "budget_s": BRIEF_BUDGET_S,
            "met": bool(new.get("median_s", new.get("seconds", 1e9)) < BRIEF_BUDGET_S),
            "new": new,
            "second_account": {"account": SECOND, **second},
            "baseline_whole_portfolio_detection": whole,
            "baseline": baseline,
        }
    )
    shutil.rmtree(workdir / "home-first-brief-old", ignore_errors=True)


# -------------------------------------------------------------------------------- lazy vs full, ingest


def timed_ingest(run: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    report = run()
    return report, time.perf_counter() - started


def bench_lazy_vs_full(workdir: Path, accounts: int) -> None:
    from tools.embeddings import default_embedder
    from tools.portfolio import load_portfolio
    from tools.retrieval import ingest, ingest_account

    data = synthetic(workdir, accounts)
    as_of, full = load_portfolio(data, AS_OF), load_portfolio(data)
    embedder = default_embedder()
    embedder.embed_documents(["warm up"])  # the model's load is not the store's cost
    lazy_store, full_store = workdir / "store-lazy", workdir / "store-full"
    for store in (lazy_store, full_store):
        shutil.rmtree(store, ignore_errors=True)
    one, one_s = timed_ingest(lambda: ingest_account(as_of, ACCOUNT, store_path=lazy_store, embedder=embedder))
    again, again_s = timed_ingest(lambda: ingest_account(as_of, ACCOUNT, store_path=lazy_store, embedder=embedder))
    rest, rest_s = timed_ingest(lambda: ingest(full, progress=False, store_path=lazy_store, embedder=embedder))
    whole, whole_s = timed_ingest(lambda: ingest(full, progress=False, store_path=full_store, embedder=embedder))
    record = {
        "benchmark": "lazy_vs_full",
        "accounts": accounts,
        "one_account": {
            "seconds": round(one_s, 3),
            "chunks": one.embedded,
            "again_s": round(again_s, 3),
            "again_embedded": again.embedded,
        },
        "full_after_one_account": {
            "seconds": round(rest_s, 1),
            "embedded": rest.embedded,
            "unchanged": rest.unchanged,
        },
        "baseline_full_ingest": {"seconds": round(whole_s, 1), "chunks": whole.chunks, "embedded": whole.embedded},
        "full_over_one_account": round(whole_s / max(one_s, 1e-9)),
    }
    emit(record)
    for store in (lazy_store, full_store):
        shutil.rmtree(store, ignore_errors=True)


def child_ingest(which: str, data: str, store: str) -> None:
    """Runs in the measured process: one full ingest into a fresh store, printed as JSON. Timed from
    the call, so the process start and the portfolio's load are left out; the model's load (and the
    onnxruntime session's build, for the new ingest) are in."""
    from benchmarks import baseline_ingest
    from tools.embeddings import MiniLMEmbeddingFunction
    from tools.portfolio import load_portfolio
    from tools.retrieval import ingest

    portfolio = load_portfolio(Path(data))
    started = time.perf_counter()
    if which == "new":
        report = ingest(portfolio, progress=False, store_path=Path(store))
    else:
        report = baseline_ingest.ingest(
            portfolio, store_path=Path(store), embedder=MiniLMEmbeddingFunction(runtime="numpy")
        )
    print(json.dumps({"seconds": time.perf_counter() - started, "chunks": report.chunks}))


def bench_ingest(workdir: Path, accounts: int, repeats: int) -> None:
    from tools.sample import portfolio_dir

    result: dict[str, Any] = {
        "benchmark": "ingest",
        "baseline": "previous ingest (benchmarks.baseline_ingest), numpy",
        "method": f"fresh store, fresh process, new and baseline alternating, best and median of {repeats}",
    }
    for label, data in (("sample", portfolio_dir()), ("synthetic", synthetic(workdir, accounts))):
        runs: dict[str, list[dict[str, float]]] = {"new": [], "baseline": []}
        for n in range(repeats):
            for which in runs:
                store = workdir / f"ingest-{which}-{label}-{n}"
                shutil.rmtree(store, ignore_errors=True)
                command = [
                    sys.executable,
                    "-m",
                    "benchmarks.bench_ingest",
                    "--child-ingest",
                    which,
                    str(data),
                    str(store),
                ]
                done = subprocess.run(command, capture_output=True, text=True, check=True, env=child_env())
                runs[which].append(json.loads(done.stdout.strip().splitlines()[-1]))
                shutil.rmtree(store, ignore_errors=True)
        chunks = runs["new"][0]["chunks"]
        best = {k: min(r["seconds"] for r in v) for k, v in runs.items()}
        median = {k: statistics.median(r["seconds"] for r in v) for k, v in runs.items()}
        result[label] = {
            "chunks": chunks,
            "docs_per_s": round(chunks / best["new"], 1),
            "baseline_docs_per_s": round(chunks / best["baseline"], 1),
            "median_docs_per_s": round(chunks / median["new"], 1),
            "baseline_median_docs_per_s": round(chunks / median["baseline"], 1),
            "seconds": [round(r["seconds"], 1) for r in runs["new"]],
            "baseline_seconds": [round(r["seconds"], 1) for r in runs["baseline"]],
        }
    emit(result)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accounts", type=int, default=100_000, help="portfolio size for the first brief")
    parser.add_argument("--ingest-accounts", type=int, default=2_000, help="portfolio size for full ingests")
    parser.add_argument("--baseline-timeout", type=float, default=150.0, help="seconds the old first brief gets")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each runtime and each ingest")
    parser.add_argument("--brief-repeats", type=int, default=1, help="fresh first briefs (and detection baselines)")
    parser.add_argument("--only", nargs="+", choices=MEASUREMENTS, default=list(MEASUREMENTS))
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "riskbrief-bench")
    parser.add_argument("--child-brief", nargs=3, metavar=("DATA", "HOME", "ACCOUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--old", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--whole-detection", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--child-ingest", nargs=3, metavar=("WHICH", "DATA", "STORE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_ingest:
        child_ingest(*args.child_ingest)
        return
    if args.child_brief:
        data, home, account = args.child_brief
        child_brief(data, home, account, old=args.old, whole=args.whole_detection)
        return
    args.workdir.mkdir(parents=True, exist_ok=True)
    if "embedding" in args.only:
        bench_embedding(args.repeats)
    if "first_brief" in args.only:
        bench_first_brief(args.workdir, args.accounts, args.baseline_timeout, args.brief_repeats)
    if "lazy_vs_full" in args.only:
        bench_lazy_vs_full(args.workdir, args.ingest_accounts)
    if "ingest" in args.only:
        bench_ingest(args.workdir, args.ingest_accounts, args.repeats)


if __name__ == "__main__":
    main()
