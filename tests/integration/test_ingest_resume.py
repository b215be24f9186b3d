"""Evidence store ingest at scale: resumable after an interruption (an exception or a SIGKILL), one account
at a time for `brief`, and a store left partial detected and completed before it is relied on."""

from __future__ import annotations

import csv
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.cli_agent import run_brief
from agent.config import AgentContext
from tools import retrieval
from tools.embeddings import FloatArray
from tools.portfolio import Portfolio, load_portfolio
from tools.retrieval import (
    SHARDS,
    _client,
    chunks_of,
    evidence_rows,
    ingest,
    ingest_account,
    read_state,
    search,
    shard_name,
    store_complete,
)
from tools.sample import portfolio_dir

AS_OF = date(2026, 11, 20)
LONG = " ".join(f"word{i}" for i in range(420)) + " the renewal budget was cut"


class HashEmbedder:
    """A fast stand-in for the model: a unit vector seeded by the text (the same text, the same vector),
    counting every text it embeds; optionally failing after `fail_after` calls, like a killed process."""

    model_name = "test/hash-vectors"

    def __init__(self, fail_after: int | None = None) -> None:
        self.fail_after = fail_after
        self.calls = 0
        self.texts: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> FloatArray:
        if self.fail_after is not None and self.calls >= self.fail_after:
            raise RuntimeError("killed")
        self.calls += 1
        self.texts += texts
        return np.vstack([vector(t) for t in texts]) if texts else np.zeros((0, 8), dtype=np.float32)

    def query_vector(self, text: str) -> FloatArray:
        return vector(text)


def vector(text: str) -> FloatArray:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    v = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
    return v / np.linalg.norm(v)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def make_portfolio(root: Path, accounts: int = 6, notes_per_account: int = 7) -> Path:
    """Accounts with distinct notes, a templated note every account shares, a long note (several chunks)
    and a ticket dated after AS_OF."""
    root.mkdir(parents=True, exist_ok=True)
    ids = [f"A-{i}" for i in range(1, accounts + 1)]
    write_csv(
        root / "accounts.csv",
        [{"account_id": a, "name": f"Account {a}", "arr": "50000", "renewal_date": "2027-03-01"} for a in ids],
    )
    notes = []
    for n, (a, k) in enumerate(((a, k) for a in ids for k in range(notes_per_account)), start=1):
        text = "Monthly check-in: rollout on track." if k == 0 else f"{a} note {k}: the export of report {n} fails."
        notes.append(
            {"note_id": f"N-{n}", "account_id": a, "date": f"2026-{1 + k:02d}-10", "author": "Dana", "text": text}
        )
    notes.append({"note_id": "N-LONG", "account_id": ids[0], "date": "2026-10-01", "author": "Dana", "text": LONG})
    write_csv(root / "notes.csv", notes)
    tickets = [
        {
            "ticket_id": f"T-{a}",
            "account_id": a,
            "opened_at": "2026-12-01",
            "priority": "P2",
            "status": "open",
            "sentiment": "negative",
            "subject": f"Later ticket of {a}",
            "body": "Dashboards blank.",
        }
        for a in ids
    ]
    write_csv(root / "tickets.csv", tickets)
    return settled(root)


def settled(root: Path) -> Path:
    """Files last modified an hour ago: fresher ones are never vouched for (portfolio_fingerprint)."""
    for path in root.glob("*.csv"):
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    return root


def snapshot(store: Path) -> dict[str, tuple[str, dict[str, Any], tuple[float, ...]]]:
    """Every stored chunk: id -> (document, metadata, rounded vector); raises if any part is missing."""
    out: dict[str, tuple[str, dict[str, Any], tuple[float, ...]]] = {}
    client = _client(store)
    for index in range(SHARDS):
        got = client.get_collection(shard_name(index), embedding_function=None).get(
            include=["documents", "metadatas", "embeddings"]
        )
        for chunk_id, doc, meta, emb in zip(
            got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True
        ):
            assert doc and meta and emb is not None and len(emb) == 8, chunk_id
            out[f"{index}/{chunk_id}"] = (doc, dict(meta), tuple(round(float(x), 6) for x in emb))
    return out


def consistent(store: Path, portfolio: Portfolio) -> None:
    """Every stored chunk is whole and is exactly what a full ingest of `portfolio` writes for its id."""
    expected = {
        f"{retrieval.shard_of(c.metadata['account_id'])}/{c.id}": c
        for row in evidence_rows(portfolio)
        for c in chunks_of(row)
    }
    for key, (doc, meta, emb) in snapshot(store).items():
        chunk = expected[key]
        assert (doc, meta) == (chunk.text, chunk.metadata), key
        assert np.allclose(emb, vector(doc), atol=1e-6), key


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retrieval, "_EMBED_BATCH", 4)  # many batches from a small portfolio


def test_an_interrupted_ingest_resumes_and_ends_as_a_clean_one(tmp_path: Path) -> None:
    portfolio = load_portfolio(make_portfolio(tmp_path / "p"))
    clean_store, store = tmp_path / "clean", tmp_path / "store"
    clean_embedder = HashEmbedder()
    clean = ingest(portfolio, progress=False, store_path=clean_store, embedder=clean_embedder)
    distinct = len(set(clean_embedder.texts))
    assert distinct == len(clean_embedder.texts) and clean_embedder.calls > 6  # each text once, many batches

    killed = HashEmbedder(fail_after=3)
    with pytest.raises(RuntimeError, match="killed"):
        ingest(portfolio, progress=False, store_path=store, embedder=killed)
    state = read_state(store)
    assert state is not None and not state.complete  # the interruption is visible
    assert not store_complete(portfolio, store_path=store, embedder=killed)
    consistent(store, portfolio)  # what is there is whole
    partial = snapshot(store)
    assert 0 < len(partial) < clean.chunks

    resumed_embedder = HashEmbedder()
    resumed = ingest(portfolio, progress=False, store_path=store, embedder=resumed_embedder)
    # Nothing embedded twice: the second run embeds exactly the texts the first did not.
    assert not set(killed.texts) & set(resumed_embedder.texts)
    assert len(killed.texts) + len(resumed_embedder.texts) == distinct
    assert (resumed.evidence, resumed.chunks) == (clean.evidence, clean.chunks)
    assert resumed.embedded == clean.chunks - len(partial)
    assert snapshot(store) == snapshot(clean_store)
    assert store_complete(portfolio, store_path=store, embedder=resumed_embedder)
    again = ingest(portfolio, progress=False, store_path=store, embedder=HashEmbedder())
    assert (again.embedded, again.unchanged, again.removed) == (0, clean.evidence, 0)


def test_a_killed_ingest_process_leaves_a_store_the_next_run_completes(tmp_path: Path) -> None:
    """A real SIGKILL mid-way: Chroma keeps what was upserted, the state file says partial, and the rerun
    embeds only the rest."""
    data = make_portfolio(tmp_path / "p", accounts=10)
    store = tmp_path / "store"
    script = tmp_path / "slow_ingest.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys, time
            sys.path.insert(0, {str(Path(__file__).parents[2])!r})
            import hashlib
            from pathlib import Path

            import numpy as np

            from tools import retrieval
            from tools.portfolio import load_portfolio

            class Slow:  # HashEmbedder, printing and pausing after each batch
                model_name = "test/hash-vectors"
                calls = 0

                def embed_documents(self, texts):
                    out = []
                    for text in texts:
                        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
                        v = np.random.default_rng(seed).standard_normal(8).astype(np.float32)
                        out.append(v / np.linalg.norm(v))
                    self.calls += 1
                    print("batch", self.calls, flush=True)
                    time.sleep(0.3 if self.calls < 3 else 60)
                    return np.vstack(out)

                def query_vector(self, text):
                    return np.ones(8, dtype=np.float32) / np.sqrt(8)

            retrieval._EMBED_BATCH = 4
            retrieval.ingest(load_portfolio(Path({str(data)!r})), progress=False, store_path=Path({str(store)!r}),
                             embedder=Slow())
            """
        )
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("batch 3"):
            break
    time.sleep(0.5)  # batch 2 is upserted before batch 3 is embedded; batch 3's never is
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)

    portfolio = load_portfolio(data)
    state = read_state(store)
    assert state is not None and not state.complete
    consistent(store, portfolio)
    before = len(snapshot(store))
    assert before >= 8  # two batches of 4 distinct texts (more chunks: the shared text)
    embedder = HashEmbedder()
    report = ingest(portfolio, progress=False, store_path=store, embedder=embedder)
    assert report.unchanged >= 8 and report.embedded == report.chunks - before
    consistent(store, portfolio)
    assert len(snapshot(store)) == report.chunks and store_complete(portfolio, store_path=store, embedder=embedder)


def test_one_account_first_then_the_full_ingest_embeds_only_the_rest(tmp_path: Path) -> None:
    data = make_portfolio(tmp_path / "p")
    store = tmp_path / "store"
    as_of = load_portfolio(data, AS_OF)
    embedder = HashEmbedder()
    first = ingest_account(as_of, "A-1", store_path=store, embedder=embedder)
    mine = [r for r in evidence_rows(load_portfolio(data)) if r.account_id == "A-1"]
    visible = [r for r in mine if r.day <= AS_OF]  # the ticket dated after as-of is left to `ingest`
    assert len(visible) == len(mine) - 1
    assert (first.evidence, first.embedded) == (len(visible), sum(len(chunks_of(r)) for r in visible))
    assert {k.split("/", 1)[1].split("#")[0] for k in snapshot(store)} == {r.evidence_id for r in visible}
    assert read_state(store) is None  # nothing claims the store is complete
    assert search("A-1", "renewal budget was cut", as_of=AS_OF, store_path=store, embedder=embedder)[0].id == (
        "note:N-LONG"
    )
    again = ingest_account(as_of, "A-1", store_path=store, embedder=embedder)
    assert (again.embedded, again.unchanged, again.removed) == (0, len(visible), 0)

    full_embedder = HashEmbedder()
    full = ingest(load_portfolio(data), progress=False, store_path=store, embedder=full_embedder)
    assert full.unchanged == len(visible) and full.embedded == full.chunks - first.embedded
    # The templated note A-1 holds is not embedded again for the other accounts: its stored vector serves.
    assert not set(full_embedder.texts) & set(embedder.texts)
    clean = tmp_path / "clean"
    ingest(load_portfolio(data), progress=False, store_path=clean, embedder=HashEmbedder())
    assert snapshot(store) == snapshot(clean)


def test_brief_on_a_fresh_workspace_embeds_only_its_account(home: Path, tiny_portfolio: Path) -> None:
    store = home / "store"
    context = AgentContext(store_path=str(store))
    run = run_brief("A-017", tiny_portfolio, context=context, review_id="rv-A-017-00000001")
    assert run.brief.verification.passed
    stored = snapshot_ids(store)
    visible = {r.evidence_id for r in evidence_rows(load_portfolio(tiny_portfolio, AS_OF), "A-017")}
    assert stored == visible and not any("A-002" in i for i in stored)
    full = ingest(load_portfolio(settled(tiny_portfolio)), progress=False, store_path=store)
    assert full.unchanged == len(visible) and full.embedded == full.chunks - len(visible)
    assert store_complete(load_portfolio(tiny_portfolio), store_path=store)


def snapshot_ids(store: Path) -> set[str]:
    client = _client(store)
    return {
        str(meta["evidence_id"])
        for index in range(SHARDS)
        for meta in client.get_collection(shard_name(index), embedding_function=None).get(include=["metadatas"])[
            "metadatas"
        ]
        or []
    }


def test_a_partial_store_is_completed_for_the_account_searched(tmp_path: Path) -> None:
    data = make_portfolio(tmp_path / "p")
    portfolio = load_portfolio(data)
    store = tmp_path / "store"
    with pytest.raises(RuntimeError):
        ingest(portfolio, progress=False, store_path=store, embedder=HashEmbedder(fail_after=2))
    assert not store_complete(portfolio, store_path=store, embedder=HashEmbedder())
    stored = snapshot_ids(store)
    rows = [r for r in evidence_rows(portfolio) if r.day <= AS_OF]
    account = next(
        a for a in ("A-6", "A-5", "A-4") if any(r.evidence_id not in stored for r in rows if r.account_id == a)
    )
    missing = {r.evidence_id for r in rows if r.account_id == account} - stored
    # Without the portfolio, search reads the store as it is; with it, the account is completed first.
    found = search(account, "export fails", as_of=AS_OF, k=20, store_path=store, embedder=HashEmbedder())
    assert not missing & {h.id for h in found}
    found = search(
        account, "export fails", as_of=AS_OF, k=20, portfolio=portfolio, store_path=store, embedder=HashEmbedder()
    )
    assert missing <= {h.id for h in found} and all(h.account_id == account for h in found)
    assert missing <= snapshot_ids(store)
    assert not store_complete(portfolio, store_path=store, embedder=HashEmbedder())  # the others still wait
    # A finished ingest vouches for the store until the portfolio's files change.
    ingest(portfolio, progress=False, store_path=store, embedder=HashEmbedder())
    assert store_complete(portfolio, store_path=store, embedder=HashEmbedder())
    notes = data / "notes.csv"
    notes.write_text(notes.read_text(encoding="utf-8").replace("rollout on track", "rollout stalled"), encoding="utf-8")
    changed = load_portfolio(data)
    assert not store_complete(changed, store_path=store, embedder=HashEmbedder())  # a new fingerprint
    assert not store_complete(load_portfolio(settled(data)), store_path=store, embedder=HashEmbedder())
    hits = search("A-2", "rollout", as_of=AS_OF, portfolio=changed, store_path=store, embedder=HashEmbedder(), k=10)
    assert any("rollout stalled" in h.text for h in hits) and not any("on track" in h.text for h in hits)
    state = read_state(store)  # the store no longer mirrors the files the last full ingest read
    assert state is not None and not state.complete


def test_one_account_as_of_a_date_removes_its_deleted_rows_and_keeps_later_ones(tmp_path: Path) -> None:
    data = make_portfolio(tmp_path / "p")
    store = tmp_path / "store"
    ingest(load_portfolio(data), progress=False, store_path=store, embedder=HashEmbedder())
    notes = data / "notes.csv"
    lines = notes.read_text(encoding="utf-8").splitlines(keepends=True)
    notes.write_text("".join(line for line in lines if not line.startswith("N-2,")), encoding="utf-8")
    report = ingest_account(load_portfolio(data, AS_OF), "A-1", store_path=store, embedder=HashEmbedder())
    assert (report.embedded, report.removed) == (0, 1)  # N-2 is gone; T-A-1, dated after as-of, stays
    ids = snapshot_ids(store)
    assert "note:N-2" not in ids and "ticket:T-A-1" in ids


def test_one_account_rows_read_as_in_the_whole_portfolio_at_any_as_of() -> None:
    """`ingest_account` cuts the portfolio down to the account and may read it as of a date: its rows must
    be exactly those a full ingest writes (same ids, text, metadata, hashes)."""
    full = load_portfolio(portfolio_dir())
    everything = {r.evidence_id: r for r in evidence_rows(full)}
    for as_of in (None, date(2026, 6, 1)):
        view = load_portfolio(portfolio_dir(), as_of) if as_of else full
        for account in sorted(full.account_ids):
            rows = evidence_rows(view, account)
            assert all(r.account_id == account for r in rows)
            assert all(everything[r.evidence_id] == r for r in rows)
            expected = {i for i, r in everything.items() if r.account_id == account and (not as_of or r.day <= as_of)}
            assert {r.evidence_id for r in rows} == expected


def test_a_finished_ingest_of_the_same_files_is_not_compared_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = make_portfolio(tmp_path / "p")
    store = tmp_path / "store"
    first = ingest(load_portfolio(data), progress=False, store_path=store, embedder=HashEmbedder())

    def no_reading(*_: Any) -> None:
        raise AssertionError("the store was read")

    monkeypatch.setattr(retrieval, "_existing", no_reading)
    again = ingest(load_portfolio(data), progress=False, store_path=store, embedder=HashEmbedder())
    assert (again.evidence, again.chunks, again.unchanged, again.embedded) == (
        first.evidence,
        first.chunks,
        first.evidence,
        0,
    )
    # Files modified a moment ago are never vouched for: the same size could hide a second edit.
    portfolio = load_portfolio(data)
    (data / "notes.csv").touch()
    assert retrieval.portfolio_fingerprint(portfolio) is None
    with pytest.raises(AssertionError, match="the store was read"):
        ingest(portfolio, progress=False, store_path=store, embedder=HashEmbedder())
