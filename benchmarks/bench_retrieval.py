"""Evidence store benchmark: embedding and ingest throughput, search latency at 10k and 100k chunks.

    python benchmarks/bench_retrieval.py [--sizes 10000 100000] [--queries 200]

1. Embedding: the offline numpy all-MiniLM-L6-v2 on a few hundred synthetic texts, short (~12 words,
   the sample portfolio's average) and long (~180 words, one full chunk).
2. Stores: a synthetic portfolio of N notes (100 per account) goes through the real `ingest` (CSV load,
   hashing, chunking, upserts) and `search`. Document vectors are random unit vectors rather than
   model output, so building 100k chunks takes a minute instead of an hour; query vectors come from
   the real model, so search latency includes embedding the query. The goal is p50 < 50 ms at 100k.
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.embeddings import FloatArray, MiniLMEmbeddingFunction
from tools.portfolio import load_portfolio
from tools.retrieval import ingest, search

QUERIES = [
    "customer is evaluating a competitor",
    "reporting is too slow for the executive review",
    "price objection on the renewal",
    "champion left the company",
    "invoice overdue in procurement",
    "security review blocks the contract",
    "usage dropped after the outage",
    "integration sync failing",
]
# Synthetic notes draw their words from the queries plus filler, so BM25 and vectors both find matches.
FILLER = [
    "renewal budget champion sponsor dashboard export timeout ticket escalation hubspot outage",
    "pricing uplift migrate adoption seats training onboarding admin legal quarter team weekly",
    "customer said asked confirmed waiting engineering fix release roadmap feedback survey score",
]
WORDS = [word for phrase in [*QUERIES, *FILLER] for word in phrase.split()]
PER_ACCOUNT = 100
GOAL_P50_MS = 50.0


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class RandomDocsEmbedder:
    """Random unit vectors for documents (seeded by the text), the real model for queries."""

    model_name = "bench/random-docs+minilm-queries"

    def __init__(self, model: MiniLMEmbeddingFunction) -> None:
        self.model = model

    def embed_documents(self, texts: Sequence[str]) -> FloatArray:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rows.append(np.random.default_rng(seed).standard_normal(384, dtype=np.float32))
        matrix = np.vstack(rows)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def query_vector(self, text: str) -> FloatArray:
        return self.model.query_vector(text)


def bench_embedding(model: MiniLMEmbeddingFunction, rng: random.Random) -> dict[str, float]:
    model.embed_documents(["warm up"])
    out: dict[str, float] = {}
    for label, count, words in (("short_12_words", 400, 12), ("long_180_words", 96, 180)):
        texts = [sentence(rng, max(3, int(rng.gauss(words, words / 5)))) for _ in range(count)]
        started = time.perf_counter()
        model.embed_documents(texts)
        out[f"{label}_docs_per_s"] = round(count / (time.perf_counter() - started), 1)
    latencies = []
    for query in QUERIES * 5:
        started = time.perf_counter()
        model.query_vector(query)
        latencies.append(time.perf_counter() - started)
    out["query_embed_p50_ms"] = round(statistics.median(latencies) * 1000, 1)
    return out


def write_portfolio(root: Path, chunks: int, rng: random.Random) -> None:
    root.mkdir(parents=True, exist_ok=True)
    accounts = max(1, chunks // PER_ACCOUNT)
    start = date(2025, 11, 20)
    with (root / "accounts.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["account_id", "name", "arr", "renewal_date"])
        writer.writerows([f"A-{i:05d}", f"Account {i}", 50000, "2027-06-30"] for i in range(accounts))
    with (root / "notes.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["note_id", "account_id", "date", "author", "text"])
        for n in range(chunks):
            day = start + timedelta(days=rng.randrange(365))
            writer.writerow(
                [
                    f"N-{n}",
                    f"A-{n % accounts:05d}",
                    day.isoformat(),
                    "Dana",
                    sentence(rng, rng.randint(15, 60)),
                ]
            )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def bench_store(size: int, model: MiniLMEmbeddingFunction, queries: int, rng: random.Random, work: Path) -> dict:
    data, store = work / f"portfolio-{size}", work / f"store-{size}"
    write_portfolio(data, size, rng)
    portfolio = load_portfolio(data)
    embedder = RandomDocsEmbedder(model)
    first = ingest(portfolio, progress=False, store_path=store, embedder=embedder)
    again = ingest(portfolio, progress=False, store_path=store, embedder=embedder)
    accounts = sorted(portfolio.account_ids)
    result: dict = {
        "chunks": first.chunks,
        "ingest_s": first.seconds,
        "ingest_docs_per_s": round(first.chunks / first.seconds, 1),
        "reingest_unchanged_s": again.seconds,
    }
    for method in ("hybrid", "vector", "bm25"):
        latencies = []
        for i in range(queries):
            as_of = date(2026, 5, 1) + timedelta(days=rng.randrange(200))
            started = time.perf_counter()
            search(
                rng.choice(accounts),
                QUERIES[i % len(QUERIES)],
                as_of=as_of,
                k=5,
                store_path=store,
                embedder=embedder,
                method=method,
                portfolio=portfolio,
            )
            latencies.append((time.perf_counter() - started) * 1000)
        result[method] = {
            "p50_ms": round(percentile(latencies, 0.5), 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
        }
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description="Evidence store benchmark")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=200, help="searches per method and size")
    args = parser.parse_args()
    rng = random.Random(7)
    model = MiniLMEmbeddingFunction()
    embedding = bench_embedding(model, rng)
    print(f"embedding (numpy MiniLM): {embedding}")
    stores: dict[str, dict] = {}
    work = Path(tempfile.mkdtemp(prefix="riskbrief-bench-"))
    try:
        for size in args.sizes:
            stores[str(size)] = bench_store(size, model, args.queries, rng, work)
            print(f"{size} chunks: {stores[str(size)]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    largest = stores[str(max(args.sizes))]
    summary = {
        "benchmark": "retrieval",
        "embedding": embedding,
        "stores": stores,
        "document_vectors": "random unit vectors (query vectors from the real model)",
        "goal": {
            "p50_ms": GOAL_P50_MS,
            "at_chunks": max(args.sizes),
            "met": largest["hybrid"]["p50_ms"] < GOAL_P50_MS,
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
