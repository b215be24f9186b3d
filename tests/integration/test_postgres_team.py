"""A team at once, on SQLite and on a real Postgres: processes running `queue`, `digest`, `brief` and `review
decide` concurrently lose no alert state, decision or event; `brief` keeps one pending review per account
and as-of date (`--fresh` supersedes it); an inbox server killed in the middle of a decision is finished by
a retry on a new server, exactly once; two reviewers deciding one review at the same moment: one applies,
the other gets 409; a small run of the load benchmark (benchmarks/bench_decide_load.py) finds no double
apply and no lost decision; `db upgrade` / `db status` and an unreachable database (exit 3, one line)."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import TINY_AS_OF, load_benchmark
from pg import backend, postgres_server, postgres_url  # noqa: F401  (fixtures)

from agent import review
from agent.cli_agent import run_brief
from agent.config import AgentContext
from agent.review import CRASH_AT, CRASH_EXIT
from tools import retrieval, workspace
from tools.alerts import AlertStore
from tools.portfolio import load_portfolio

EARLIER = date(2026, 11, 19)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def environment(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in (CRASH_AT, "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["RISKBRIEF_HOME"] = str(home)
    env.update(extra)
    return env


def spawn(*args: str, home: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from agent.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(home),
        cwd=home.parent,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


@pytest.mark.usefixtures("backend")
def test_concurrent_queue_digest_brief_and_decide_lose_nothing(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    retrieval.ingest(load_portfolio(tiny_portfolio), progress=False)  # the workspace's store, for `brief`
    decided = [
        run_brief("A-017", tiny_portfolio, as_of=EARLIER, context=tiny_context, review_id=f"rv-A-017-c{i}").review_id
        for i in range(3)
    ]
    data = ("--data", str(tiny_portfolio), "--as-of", TINY_AS_OF)
    processes: dict[str, list[subprocess.Popen[str]]] = {
        "queue": [spawn("queue", *data, "--format", "json", home=home) for _ in range(3)],
        "digest": [spawn("digest", *data, "--csm", "Priya Patel", "--format", "json", home=home) for _ in range(3)],
        "brief": [
            spawn("brief", "A-017", "--data", str(tiny_portfolio), "--format", "json", home=home) for _ in range(3)
        ],
        "decide": [
            spawn("review", "decide", r, "--approve", "--reviewer", "Priya Patel", "--ack-stops", home=home)
            for r in [*decided, decided[0]]  # the last one a duplicate, on purpose
        ],
    }
    results = {kind: [finish(p) for p in group] for kind, group in processes.items()}

    for kind in ("queue", "digest", "brief"):
        assert all(code == 0 for code, _, _ in results[kind]), [err for _, _, err in results[kind]]
    # The alert state: each account's alerts were new to exactly one of the concurrent runs.
    queues = [json.loads(out) for _, out, _ in results["queue"]]
    firsts = [r["account_id"] for q in queues for r in q if r["alert"] == "new"]
    assert firsts and len(firsts) == len(set(firsts))
    assert {r["account_id"] for q in queues for r in q if r["alert"]} == set(firsts)
    digests = [json.loads(out) for _, out, _ in results["digest"]]
    new_in_digest = [a["account_id"] for d in digests for a in d["new"]]
    assert "A-017" in new_in_digest and new_in_digest.count("A-017") == len(
        [a for a in digests[0]["new"] + digests[1]["new"] + digests[2]["new"] if a["account_id"] == "A-017"]
    )
    rows = AlertStore(workspace.home() / "alerts.sqlite").rows()
    assert {r["channel"] for r in rows} == {"queue", "digest:priya patel"}
    assert {r["account_id"] for r in rows if r["channel"] == "queue"} == set(firsts)
    signals_per_run = [sum(1 for _ in d["new"]) for d in digests]
    assert sorted(signals_per_run)[:2] == [0, 0]  # the digest's news went to one run only

    # One pending review for A-017 as of the portfolio's date, whichever run drafted it.
    briefs = {json.loads(out)["review_id"] for _, out, _ in results["brief"]}
    assert len(briefs) == 1
    [pending] = [r for r in review.list_reviews() if r.as_of == TINY_AS_OF]
    assert pending.review_id in briefs and pending.status == "awaiting_review"

    # Every decision applied once; the duplicate refused with exit 2.
    codes = [code for code, _, _ in results["decide"]]
    assert sorted(codes) == [0, 0, 0, 2], [err for _, _, err in results["decide"]]
    for review_id in decided:
        assert review.get_review(review_id).status == "approved"
        assert review.table_counts(review_id) == {"review_tasks": 1, "actions": 1, "edits": 0, "events": 1}


@pytest.mark.usefixtures("backend")
def test_a_second_brief_returns_the_pending_review_and_fresh_supersedes_it(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    first = run_brief("A-017", tiny_portfolio, context=tiny_context, pending="reuse")
    again = run_brief("A-017", tiny_portfolio, context=tiny_context, pending="reuse")
    assert again.reused and again.review_id == first.review_id
    fresh = run_brief("A-017", tiny_portfolio, context=tiny_context, pending="fresh")
    assert fresh.review_id != first.review_id and fresh.superseded == [first.review_id]
    old = review.get_review(first.review_id)
    assert old.status == "superseded" and old.superseded_by == fresh.review_id
    with pytest.raises(review.ReviewConflict, match=f"superseded by a fresh draft \\(review {fresh.review_id}\\)"):
        from agent.cli_agent import decide_review

        decision = review.ReviewDecision(decision="approve", reviewer="Priya Patel", decided_at="t")
        decide_review(first.review_id, decision, tiny_context, require_ack=False)
    assert run_brief("A-017", tiny_portfolio, context=tiny_context, pending="reuse").review_id == fresh.review_id


# ------------------------------------------------------------------------------------------- the inbox


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """`riskbrief serve` in its own process, and a signed-in (local mode) browser session on it."""

    def __init__(self, home: Path, **env: str) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-c", "from agent.cli import main; main()", "serve", "--port", str(self.port)],
            env=environment(home, **env),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", follow_redirects=False, timeout=120)
        deadline = time.monotonic() + 90
        while True:
            try:
                self.client.get("/inbox")  # the session cookie
                break
            except httpx.TransportError:
                assert self.process.poll() is None and time.monotonic() < deadline, "riskbrief serve did not start"
                time.sleep(0.2)
        self.csrf = ""

    def decide(self, review_id: str, **form: Any) -> httpx.Response:
        if not self.csrf:  # the session's CSRF token, from a page with a form
            found = _CSRF.search(self.client.get(f"/reviews/{review_id}").text)
            assert found
            self.csrf = found.group(1)
        fields: dict[str, Any] = {"csrf": self.csrf, "reviewer": "Priya Patel", "action": "approve"}
        fields.update(triage="escalate", ack=[str(n) for n in range(10)])  # each stop reason acknowledged
        fields.update(form)
        return self.client.post(f"/reviews/{review_id}/decide", data=fields)

    def close(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def inboxes(home: Path) -> Iterator[list[Inbox]]:
    started: list[Inbox] = []
    yield started
    for inbox in started:
        inbox.close()


@pytest.mark.usefixtures("backend")
def test_an_inbox_killed_mid_decision_is_finished_once_by_a_retry_on_a_new_server(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext, inboxes: list[Inbox]
) -> None:
    review_id = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-srvcrash").review_id
    crashing = Inbox(home, **{CRASH_AT: "apply"})  # ends itself at once after applying, as kill -9 would
    inboxes.append(crashing)
    with pytest.raises(httpx.TransportError):
        crashing.decide(review_id, option="1")
    assert crashing.process.wait(timeout=30) == CRASH_EXIT
    assert review.get_review(review_id).status == "deciding"

    retry = Inbox(home)
    inboxes.append(retry)
    assert retry.decide(review_id, option="1").status_code == 303
    row = review.get_review(review_id)
    assert (row.status, row.triage) == ("approved", "escalate")
    assert review.table_counts(review_id) == {"review_tasks": 1, "actions": 2, "edits": 0, "events": 1}
    late = retry.decide(review_id, action="reject", reason="stale")
    assert late.status_code == 409 and "already decided" in late.text
    assert review.table_counts(review_id) == {"review_tasks": 1, "actions": 2, "edits": 0, "events": 1}


@pytest.mark.usefixtures("backend")
def test_two_reviewers_deciding_one_review_at_once_one_applies_the_other_gets_409(
    home: Path, tiny_portfolio: Path, tiny_context: AgentContext, inboxes: list[Inbox]
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ids = [
        run_brief("A-017", tiny_portfolio, context=tiny_context, review_id=f"rv-A-017-race{i}").review_id
        for i in range(3)
    ]
    one, two = Inbox(home), Inbox(home)  # two servers, one store
    inboxes += [one, two]
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = {
            r: [pool.submit(one.decide, r), pool.submit(two.decide, r, action="reject", reason="not a risk")]
            for r in ids
        }
        statuses = {r: sorted(f.result().status_code for f in fs) for r, fs in answers.items()}
    assert all(s == [303, 409] for s in statuses.values()), statuses
    for review_id in ids:
        assert review.get_review(review_id).status in ("approved", "rejected")
        assert review.table_counts(review_id)["events"] == 1


# -------------------------------------------------------------------------------------------- postgres


@pytest.mark.usefixtures("postgres_url")
def test_the_load_benchmark_finds_no_double_apply_and_no_lost_decision(tmp_path: Path) -> None:
    bench = load_benchmark("bench_decide_load")
    figures = bench.run_load(
        reviewers=5, reviews=40, graph_runs=2, workdir=tmp_path, database_url=os.environ["RISKBRIEF_DATABASE_URL"]
    )
    assert figures["applied"] == 40 and figures["requests"] == 48 and figures["conflicts"] == 8
    assert figures["double_applies"] == 0 and figures["lost"] == 0 and figures["other_status"] == 0
    assert figures["p50_ms"] is not None and figures["p95_ms"] >= figures["p50_ms"]


def riskbrief(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_db_upgrade_creates_and_reports_the_schema_and_commands_refuse_a_database_behind(
    request: pytest.FixtureRequest, home: Path
) -> None:
    cluster = request.getfixturevalue("postgres_server")
    url = cluster.fresh_schema()
    env = environment(home, RISKBRIEF_DATABASE_URL=url)
    behind = riskbrief("review", "list", env=env)
    assert behind.returncode == 3 and len(behind.stderr.strip().splitlines()) == 1
    assert "the review store is at schema version 0" in behind.stderr and "riskbrief db upgrade" in behind.stderr
    assert riskbrief("db", "status", env=env).returncode == 3
    first = riskbrief("db", "upgrade", env=env)
    assert first.returncode == 0, first.stderr
    assert "review: applied 1" in first.stdout and "alerts: applied 1" in first.stdout
    assert "checkpoints: LangGraph checkpointer tables current" in first.stdout
    again = riskbrief("db", "upgrade", env=env)
    assert "review: at version 3, current" in again.stdout and "applied" not in again.stdout
    status = riskbrief("db", "status", env=env)
    assert status.returncode == 0 and "review: version 3 (current)" in status.stdout
    assert riskbrief("review", "list", env=env).returncode == 0
    cluster.drop_schema(url)


def test_an_unreachable_database_is_exit_3_on_one_line_naming_the_host(home: Path) -> None:
    port = _free_port()  # nothing listens there
    env = environment(home, RISKBRIEF_DATABASE_URL=f"postgresql://riskbrief:secret@127.0.0.1:{port}/team")
    for args in (("review", "list"), ("db", "upgrade")):
        done = riskbrief(*args, env=env)
        assert done.returncode == 3, done.stderr
        assert done.stderr.startswith(f"error: database 127.0.0.1:{port}/team is unreachable")
        assert len(done.stderr.strip().splitlines()) == 1 and "secret" not in done.stderr
