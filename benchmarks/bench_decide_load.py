"""Benchmark: a team deciding at once, through the inbox (`riskbrief serve`) on Postgres.

    python -m benchmarks.bench_decide_load                          # 20 reviewers, 500 reviews
    python -m benchmarks.bench_decide_load --reviewers 5 --reviews 40
    RISKBRIEF_DATABASE_URL=postgresql://... python -m benchmarks.bench_decide_load   # an existing server

Without a database URL it starts a throwaway Postgres cluster (tests/pg.py: initdb + pg_ctl, which must be
installed) and removes it afterwards. Seeds the reviews (a few through the graph, the rest registered in
the store as LangGraph Server's review step registers them), adds the reviewers (managers) and starts
`riskbrief serve`. Then the reviewers sign in and decide every review over HTTP, concurrently; on purpose,
every 10th review also gets a conflicting decision (a rejection) and every 10th+5 a duplicate approval from
another reviewer, sent at the same moment. Each review must end with exactly one applied decision (303),
every other answer a 409, and the store must hold that decision's effects once.

The last line printed is JSON: reviewers, reviews, requests, applied, conflicts (409), double_applies,
lost, p50_ms / p95_ms (latency of the applied decisions), seconds, decisions_per_s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CLOCK = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Request:
    review_id: str
    reviewer: int
    action: str  # approve | reject
    purpose: str  # main | duplicate | conflict


@dataclass
class Answer:
    request: Request
    status: int
    seconds: float


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A database on a temporary cluster (tests/pg.py), removed afterwards."""
    spec = importlib.util.spec_from_file_location("riskbrief_test_pg", ROOT / "tests" / "pg.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    cluster = module.Cluster.start()
    try:
        yield str(cluster.url)
    finally:
        cluster.stop()


def seed(count: int, graph_runs: int, workdir: Path) -> list[str]:
    """`count` reviews awaiting a decision: `graph_runs` of them drafted by the graph (checkpointed here), the
    rest registered in the store with that brief (as a review step running under LangGraph Server does)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import write_tiny_portfolio

    from agent import review
    from agent.cli_agent import load_review, run_brief
    from agent.config import AgentContext
    from tools import retrieval
    from tools.portfolio import load_portfolio

    portfolio = write_tiny_portfolio(workdir / "portfolio")
    store = workdir / "chroma"
    retrieval.ingest(load_portfolio(portfolio), progress=False, store_path=store)
    context = AgentContext(now=lambda: CLOCK, store_path=str(store))
    ids = [
        run_brief("A-017", portfolio, context=context, review_id=f"rv-A-017-g{i:04d}").review_id
        for i in range(max(min(graph_runs, count), 1))
    ]
    paused = load_review(ids[0])
    evidence = {k: v.model_dump(mode="json") for k, v in paused.evidence.items()}
    for i in range(count - len(ids)):
        review_id = f"rv-A-017-s{i:04d}"
        review.register_review(review_id, paused.brief, CLOCK.isoformat(), evidence=evidence)
        ids.append(review_id)
    return ids


def plan(review_ids: list[str], reviewers: int) -> list[list[Request]]:
    """Per review, the requests sent for it at the same moment: the main approval, and on purpose a
    conflicting rejection (every 10th) or a duplicate approval (every 10th + 5) by another reviewer."""
    groups = []
    for i, review_id in enumerate(review_ids):
        who = i % reviewers
        group = [Request(review_id, who, "approve", "main")]
        if i % 10 == 0:
            group.append(Request(review_id, (who + 1) % reviewers, "reject", "conflict"))
        elif i % 10 == 5:
            group.append(Request(review_id, (who + 2) % reviewers, "approve", "duplicate"))
        groups.append(group)
    return groups


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """`riskbrief serve` in its own process; returns once it answers."""
    import httpx

    server = subprocess.Popen(
        [sys.executable, "-c", "from agent.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"riskbrief serve exited: {server.stderr.read().decode() if server.stderr else ''}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/signin", timeout=2)
            return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("riskbrief serve did not answer within 60 s")


def sign_in(base: str, token: str) -> tuple[str, str]:
    """A signed-in session: (cookie value, its CSRF token)."""
    import httpx

    with httpx.Client(base_url=base, follow_redirects=False, timeout=60) as client:
        page = client.get("/signin")
        csrf = _CSRF.search(page.text)
        assert csrf, "no CSRF token on the sign-in page"
        answer = client.post("/signin", data={"token": token, "csrf": csrf.group(1)})
        assert answer.status_code == 303, answer.text[:300]
        inbox = client.get("/inbox")
        csrf = _CSRF.search(inbox.text)
        assert inbox.status_code == 200 and csrf, inbox.text[:300]
        return client.cookies["riskbrief_session"], csrf.group(1)


def decide_all(base: str, sessions: list[tuple[str, str]], groups: list[list[Request]]) -> list[Answer]:
    """Send every group's requests at once, `len(sessions)` requests in flight at most."""
    import httpx

    local = threading.local()

    def client_for(reviewer: int) -> httpx.Client:
        clients: dict[int, httpx.Client] = local.__dict__.setdefault("clients", {})
        if reviewer not in clients:
            clients[reviewer] = httpx.Client(
                base_url=base, follow_redirects=False, timeout=120, cookies={"riskbrief_session": sessions[reviewer][0]}
            )
        return clients[reviewer]

    def send(request: Request) -> Answer:
        form = {"csrf": sessions[request.reviewer][1], "action": request.action}
        if request.action == "approve":
            form.update(triage="investigate", option="", summary="", risk_category="", other_fields="", note="")
            form["ack"] = [str(n) for n in range(10)]  # every stop reason of a "not ready" brief
        else:
            form["reason"] = "stale data (a conflicting decision, on purpose)"
        started = time.perf_counter()
        answer = client_for(request.reviewer).post(f"/reviews/{request.review_id}/decide", data=form)
        return Answer(request, answer.status_code, time.perf_counter() - started)

    with ThreadPoolExecutor(max_workers=len(sessions)) as pool:
        futures = [pool.submit(send, r) for group in groups for r in group]
        return [f.result() for f in futures]


def check(answers: list[Answer], review_ids: list[str]) -> dict[str, int]:
    """Count double applies and lost decisions, from the answers and from the store."""
    from agent import review

    applied: dict[str, list[Answer]] = {}
    for a in answers:
        if a.status == 303:
            applied.setdefault(a.request.review_id, []).append(a)
    double = sum(1 for wins in applied.values() if len(wins) > 1)
    lost = 0
    for review_id in review_ids:
        row = review.get_review(review_id)
        counts = review.table_counts(review_id)
        wins = applied.get(review_id, [])
        if not wins or row.status not in ("approved", "rejected") or counts["events"] != 1:
            lost += 1
            continue
        expected = {"approve": "approved", "reject": "rejected"}[wins[0].request.action]
        effects = (1, 1) if expected == "approved" else (0, 0)
        if row.status != expected:
            double += 1  # the store holds another decision than the one that was answered 303
        elif (counts["review_tasks"], counts["actions"]) != effects:
            double += 1
    return {
        "applied": len(applied),
        "conflicts": sum(1 for a in answers if a.status == 409),
        "other_status": sum(1 for a in answers if a.status not in (303, 409)),
        "double_applies": double,
        "lost": lost,
    }


def run_load(reviewers: int, reviews: int, graph_runs: int, workdir: Path, database_url: str) -> dict[str, Any]:
    """The whole benchmark against `database_url` (a fresh, empty database or schema); returns the figures."""
    from agent import reviewers as people
    from agent.cli_db import upgrade_stores
    from tools import db, workspace

    home = workdir / "home"
    os.environ["RISKBRIEF_DATABASE_URL"] = database_url
    workspace.set_home(home)
    upgrade_stores()
    review_ids = seed(reviews, graph_runs, workdir)
    tokens = [people.add_reviewer(f"Manager {n:02d}", "manager")[1] for n in range(reviewers)]
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update(RISKBRIEF_HOME=str(home), RISKBRIEF_DATABASE_URL=database_url)
    server = start_server(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        sessions = [sign_in(base, t) for t in tokens]
        import httpx  # warm up: the first page of a review loads the graph's modules (seconds, once per server)

        httpx.get(f"{base}/reviews/{review_ids[0]}", cookies={"riskbrief_session": sessions[0][0]}, timeout=120)
        groups = plan(review_ids, reviewers)
        started = time.perf_counter()
        answers = decide_all(base, sessions, groups)
        seconds = time.perf_counter() - started
    finally:
        server.kill()
        server.wait()
    figures = check(answers, review_ids)
    db.close_pools()
    latencies = sorted(a.seconds * 1000 for a in answers if a.status == 303)
    quantiles = statistics.quantiles(latencies, n=20) if len(latencies) > 1 else latencies * 19
    return {
        "reviewers": reviewers,
        "reviews": reviews,
        "graph_reviews": max(min(graph_runs, reviews), 1),
        "requests": len(answers),
        **figures,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(quantiles[18], 1) if latencies else None,
        "seconds": round(seconds, 2),
        "decisions_per_s": round(figures["applied"] / seconds, 1) if seconds else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reviewers", type=int, default=20)
    parser.add_argument("--reviews", type=int, default=500)
    parser.add_argument("--graph-reviews", type=int, default=10, help="reviews drafted through the graph")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="riskbrief-load-") as tmp:
        url = os.environ.get("RISKBRIEF_DATABASE_URL")
        if url:
            result = run_load(args.reviewers, args.reviews, args.graph_reviews, Path(tmp), url)
        else:
            with throwaway_postgres() as url:
                result = run_load(args.reviewers, args.reviews, args.graph_reviews, Path(tmp), url)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
