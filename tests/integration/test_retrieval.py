"""Evidence store: ingest -> search round trip on a real Chroma store, filtering, idempotence, errors."""

from __future__ import annotations

import base64
import csv
import json
import os
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tools.embeddings import FloatArray, MiniLMEmbeddingFunction
from tools.errors import DependencyError, InputError
from tools.portfolio import Portfolio, load_portfolio
from tools.retrieval import (
    BRIEF_QUERIES,
    CHUNK_OVERLAP,
    CHUNK_WORDS,
    SHARDS,
    STATE_FILE,
    _client,
    chunk_spans,
    ingest,
    ingest_account,
    read_state,
    search,
    search_many,
    shard_name,
    store_complete,
)

AS_OF = date(2026, 11, 20)

ACCOUNTS = [
    {"account_id": "A-1", "name": "Acme", "arr": "50000", "renewal_date": "2027-03-01"},
    {"account_id": "A-2", "name": "Globex", "arr": "80000", "renewal_date": "2027-01-15"},
]
NOTES = [
    {
        "note_id": "N-1",
        "account_id": "A-1",
        "date": "2026-10-02",
        "author": "Dana",
        "text": "Champion said the team is evaluating a competitor because reporting exports keep failing.",
    },
    {
        "note_id": "N-2",
        "account_id": "A-1",
        "date": "2026-10-20",
        "author": "Dana",
        "text": "Quarterly review went well; the CFO was happy with onboarding of the new warehouse team.",
    },
    # Later than the as-of date: must never come back for a search as of AS_OF.
    {
        "note_id": "N-3",
        "account_id": "A-1",
        "date": "2026-12-05",
        "author": "Dana",
        "text": "Customer confirmed they will switch to a competitor next quarter.",
    },
    # Another account's text on the same topic: must never come back for A-1.
    {
        "note_id": "N-9",
        "account_id": "A-2",
        "date": "2026-09-01",
        "author": "Lee",
        "text": "Globex is evaluating a competitor; their exports keep failing too.",
    },
]
TICKETS = [
    {
        "ticket_id": "T-1",
        "account_id": "A-1",
        "opened_at": "2026-10-05",
        "priority": "P1",
        "status": "open",
        "sentiment": "frustrated",
        "subject": "CSV export times out",
        "body": "Nightly export to the data lake fails.",
    },
]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def make_portfolio(
    root: Path, notes: list[dict[str, Any]] = NOTES, tickets: list[dict[str, Any]] = TICKETS
) -> Portfolio:
    root.mkdir(parents=True, exist_ok=True)
    write_csv(root / "accounts.csv", ACCOUNTS)
    write_csv(root / "notes.csv", notes)
    write_csv(root / "tickets.csv", tickets)
    return load_portfolio(root)


def settled_portfolio(root: Path) -> Portfolio:
    """`make_portfolio` with files last changed an hour ago: settled, so a finished ingest vouches for them."""
    portfolio = make_portfolio(root)
    for path in portfolio.root.glob("*.csv"):
        os.utime(path, (time.time() - 3600, time.time() - 3600))
    return portfolio


def stored_ids(store: Path) -> set[str]:
    client = _client(store)
    return {
        chunk_id
        for index in range(SHARDS)
        for chunk_id in client.get_collection(shard_name(index), embedding_function=None).get(include=[])[
            "ids"
        ]
    }


class CountingEmbedder:
    """The real offline model, counting what it embeds (one shared instance keeps the suite fast)."""

    def __init__(self, inner: MiniLMEmbeddingFunction, model_name: str | None = None) -> None:
        self.inner = inner
        self.model_name = model_name or inner.model_name
        self.embedded = 0
        self.queries = 0

    def embed_documents(self, texts: Sequence[str]) -> FloatArray:
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def query_vector(self, text: str) -> FloatArray:
        self.queries += 1
        return self.inner.query_vector(text)


@pytest.fixture(scope="module")
def model() -> MiniLMEmbeddingFunction:
    return MiniLMEmbeddingFunction()


@pytest.fixture
def embedder(model: MiniLMEmbeddingFunction) -> CountingEmbedder:
    return CountingEmbedder(model)


def test_round_trip_filters_account_and_date(tmp_path: Path, embedder: CountingEmbedder) -> None:
    portfolio = make_portfolio(tmp_path / "p")
    store = tmp_path / "store"
    report = ingest(portfolio, progress=False, store_path=store, embedder=embedder)
    assert (report.evidence, report.embedded, report.unchanged) == (5, 5, 0)

    for method in ("hybrid", "vector", "bm25"):
        hits = search(
            "A-1",
            "evaluating a competitor",
            as_of=AS_OF,
            k=5,
            store_path=store,
            embedder=embedder,
            method=method,
            portfolio=portfolio,
        )
        ids = [h.id for h in hits]
        assert ids[0] == "note:N-1", method
        assert "note:N-3" not in ids and "note:N-9" not in ids, method
        assert all(h.account_id == "A-1" and h.date <= AS_OF.isoformat() for h in hits)

    later = search(
        "A-1", "switch to a competitor", as_of=date(2026, 12, 31), store_path=store, embedder=embedder
    )
    assert later[0].id == "note:N-3"
    ticket = search("A-1", "export timeout", as_of=AS_OF, k=1, store_path=store, embedder=embedder)[0]
    assert (ticket.id, ticket.kind, ticket.date) == ("ticket:T-1", "ticket", "2026-10-05")


def test_identical_texts_are_embedded_once_and_stay_per_account(
    tmp_path: Path, embedder: CountingEmbedder
) -> None:
    notes = [*NOTES, {**NOTES[0], "note_id": "N-5", "account_id": "A-2"}]  # N-1's text, in A-2
    store = tmp_path / "store"
    report = ingest(
        make_portfolio(tmp_path / "p", notes), progress=False, store_path=store, embedder=embedder
    )
    assert (report.embedded, embedder.embedded) == (6, 5)
    ids = [
        h.id
        for h in search("A-2", "evaluating a competitor", as_of=AS_OF, store_path=store, embedder=embedder)
    ]
    assert ids[0] in ("note:N-5", "note:N-9") and "note:N-1" not in ids


def test_reingest_is_idempotent_and_changed_rows_replace_their_chunks(
    tmp_path: Path, embedder: CountingEmbedder
) -> None:
    store = tmp_path / "store"
    ingest(make_portfolio(tmp_path / "p"), progress=False, store_path=store, embedder=embedder)
    again = ingest(make_portfolio(tmp_path / "p"), progress=False, store_path=store, embedder=embedder)
    assert (again.embedded, again.unchanged, again.removed) == (0, 5, 0)

    # The ticket is re-prioritised: its metadata changes, its text does not, so nothing is embedded again.
    closed = make_portfolio(tmp_path / "p", tickets=[{**TICKETS[0], "priority": "P2"}])
    relabelled = ingest(closed, progress=False, store_path=store, embedder=embedder)
    assert (relabelled.embedded, relabelled.relabelled, relabelled.unchanged) == (0, 1, 4)

    long_text = " ".join(f"word{i}" for i in range(400)) + " the renewal budget was cut"
    notes = [{**NOTES[0], "text": long_text}, *NOTES[1:3]]  # N-1 now long, N-9 gone
    changed = ingest(
        make_portfolio(tmp_path / "p", notes), progress=False, store_path=store, embedder=embedder
    )
    n_chunks = len(chunk_spans(long_text))
    assert n_chunks > 1
    assert (changed.embedded, changed.replaced) == (n_chunks, 1)
    assert changed.removed == 2  # the old single-chunk note:N-1 and the vanished note:N-9

    stored = stored_ids(store)
    assert {f"note:N-1#{i}" for i in range(n_chunks)} <= stored
    assert "note:N-1" not in stored and "note:N-9" not in stored
    hit = search("A-1", "renewal budget was cut", as_of=AS_OF, k=1, store_path=store, embedder=embedder)[0]
    assert hit.id == "note:N-1" and "budget was cut" in hit.text

    # N-2 moves to A-2 (another shard): it leaves A-1's results and appears in A-2's.
    moved = [notes[0], {**notes[1], "account_id": "A-2"}, notes[2]]
    report = ingest(
        make_portfolio(tmp_path / "p", moved), progress=False, store_path=store, embedder=embedder
    )
    assert (report.replaced, report.embedded, report.removed) == (1, 1, 1)
    query = "CFO happy with onboarding"
    assert "note:N-2" not in [
        h.id for h in search("A-1", query, as_of=AS_OF, store_path=store, embedder=embedder)
    ]
    assert search("A-2", query, as_of=AS_OF, store_path=store, embedder=embedder)[0].id == "note:N-2"


def test_model_mismatch_and_bad_input(tmp_path: Path, embedder: CountingEmbedder) -> None:
    store = tmp_path / "store"
    portfolio = make_portfolio(tmp_path / "p")
    with pytest.raises(InputError, match="riskbrief ingest --data"):
        search("A-1", "anything", as_of=AS_OF, store_path=store, embedder=embedder)
    ingest(portfolio, progress=False, store_path=store, embedder=embedder)

    other = CountingEmbedder(embedder.inner, model_name="openai/text-embedding-3-small")
    with pytest.raises(DependencyError, match=r"built with all-MiniLM-L6-v2/numpy.*--rebuild"):
        search("A-1", "competitor", as_of=AS_OF, store_path=store, embedder=other)
    with pytest.raises(DependencyError, match="--rebuild"):
        ingest(portfolio, progress=False, store_path=store, embedder=other)

    with pytest.raises(InputError, match="empty"):
        search("A-1", "   ", as_of=AS_OF, store_path=store, embedder=embedder)
    with pytest.raises(InputError, match="A-404"):
        search("A-404", "competitor", as_of=AS_OF, store_path=store, embedder=embedder)
    with pytest.raises(InputError, match="A-404"):
        search("A-404", "competitor", as_of=AS_OF, store_path=store, embedder=embedder, portfolio=portfolio)

    # --rebuild switches the store to the new model.
    rebuilt = ingest(portfolio, progress=False, store_path=store, embedder=other, rebuild=True)
    assert (rebuilt.model, rebuilt.embedded) == ("openai/text-embedding-3-small", 5)
    assert search("A-1", "competitor", as_of=AS_OF, store_path=store, embedder=other)
    with pytest.raises(DependencyError, match="built with openai/text-embedding-3-small"):
        search("A-1", "competitor", as_of=AS_OF, store_path=store, embedder=embedder)


def test_cli_ingest_and_search_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agent.cli import app

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    data = tmp_path / "p"
    make_portfolio(data)
    home = tmp_path / "home"
    runner = CliRunner()
    done = runner.invoke(app, ["ingest", "--data", str(data), "--home", str(home)])
    assert done.exit_code == 0, done.output
    found = runner.invoke(
        app,
        [
            "search",
            "A-1",
            "competitor",
            "--data",
            str(data),
            "--as-of",
            "2026-11-20",
            "--format",
            "json",
            "--home",
            str(home),
        ],
    )
    assert found.exit_code == 0, found.output
    hits = json.loads(found.stdout)
    assert hits[0]["id"] == "note:N-1"
    assert set(hits[0]) == {"id", "account_id", "kind", "date", "text", "score"}
    assert all(h["id"] != "note:N-3" for h in hits)


def test_long_texts_chunk_into_verbatim_overlapping_slices() -> None:
    text = "  ".join(f"w{i}" for i in range(500))
    spans = chunk_spans(text)
    assert [offset for offset, _ in spans] == [0, 140, 280, 420]
    assert all(chunk in text for _, chunk in spans)  # slices of the source: quotes stay verbatim
    assert spans[1][0] == CHUNK_WORDS - CHUNK_OVERLAP and spans[-1][1].endswith("w499")
    assert chunk_spans("a short note") == [(0, "a short note")]


def test_a_store_without_a_state_file_is_checked_per_account_not_embedded_again(
    tmp_path: Path, embedder: CountingEmbedder
) -> None:
    # A store built before the state file existed (or whose ingest was interrupted): searching with the
    # portfolio checks the account's rows against it, finds them unchanged and embeds nothing.
    portfolio = settled_portfolio(tmp_path / "p")
    store = tmp_path / "store"
    ingest(portfolio, progress=False, store_path=store, embedder=embedder)
    assert store_complete(portfolio, store_path=store, embedder=embedder)
    (store / STATE_FILE).unlink()
    assert read_state(store) is None and not store_complete(portfolio, store_path=store, embedder=embedder)
    embedder.embedded = 0
    hits = search("A-1", "competitor", as_of=AS_OF, store_path=store, embedder=embedder, portfolio=portfolio)
    assert hits[0].id == "note:N-1" and embedder.embedded == 0
    report = ingest_account(portfolio, "A-1", store_path=store, embedder=embedder)
    assert (report.evidence, report.unchanged, report.embedded, report.removed) == (4, 4, 0, 0)


def test_the_brief_questions_are_embedded_by_the_ingest_and_searched_without_the_model(
    tmp_path: Path, embedder: CountingEmbedder
) -> None:
    portfolio = settled_portfolio(tmp_path / "p")
    store = tmp_path / "store"
    ingest(portfolio, progress=False, store_path=store, embedder=embedder)
    state = read_state(store)
    assert state is not None and set(state.query_vectors) == set(BRIEF_QUERIES.values())
    for query, encoded in state.query_vectors.items():
        kept = np.frombuffer(base64.b64decode(encoded), dtype="<f4")
        assert np.allclose(kept, embedder.inner.query_vector(query), atol=1e-6)

    questions = [BRIEF_QUERIES["general"], BRIEF_QUERIES["competitive"]]
    embedder.queries = 0
    kept_hits = search_many("A-1", questions, as_of=AS_OF, store_path=store, embedder=embedder)
    assert embedder.queries == 0  # the store's vectors served: the model was not asked
    search("A-1", "CSV export times out", as_of=AS_OF, store_path=store, embedder=embedder)
    assert embedder.queries == 1  # any other question is embedded as before

    # The same hits as embedding the questions now: a store whose state keeps no vectors (built before
    # they were kept) is searched that way, and its next ingest adds them without embedding any text.
    (store / STATE_FILE).write_text(state.model_copy(update={"query_vectors": {}}).model_dump_json())
    embedder.queries = 0
    assert search_many("A-1", questions, as_of=AS_OF, store_path=store, embedder=embedder) == kept_hits
    assert embedder.queries == 2 and kept_hits[0] and kept_hits[1]
    embedder.embedded = 0
    ingest(portfolio, progress=False, store_path=store, embedder=embedder)
    again = read_state(store)
    assert embedder.embedded == 0 and again is not None and set(again.query_vectors) == set(BRIEF_QUERIES.values())


def test_damaged_kept_vectors_are_not_used(tmp_path: Path, embedder: CountingEmbedder) -> None:
    portfolio = make_portfolio(tmp_path / "p")
    store = tmp_path / "store"
    ingest(portfolio, progress=False, store_path=store, embedder=embedder)
    state = read_state(store)
    assert state is not None
    question = BRIEF_QUERIES["general"]
    expected = search("A-1", question, as_of=AS_OF, store_path=store, embedder=embedder)
    short = base64.b64encode(np.ones(7, dtype="<f4").tobytes()).decode()  # vectors of another length
    not_finite = base64.b64encode(np.full(384, np.nan, dtype="<f4").tobytes()).decode()
    for damage in ("not base64!", "AAAAAAA=", short, not_finite):
        damaged = dict.fromkeys(state.query_vectors, damage)
        (store / STATE_FILE).write_text(state.model_copy(update={"query_vectors": damaged}).model_dump_json())
        embedder.queries = 0
        assert search("A-1", question, as_of=AS_OF, store_path=store, embedder=embedder) == expected, damage
        assert embedder.queries == 1, damage
