"""The evidence-store code this work replaced, kept for the benchmarks' baselines (bench_ingest).

`ingest` is `tools.retrieval.ingest` as of commit ddece60: it plans per evidence row, buffers upserts per
shard and writes no state file (an interrupted run restarts from what Chroma holds, with nothing saying
the store is partial). `retrieve` is the `_retrieve` of `agent/nodes.py` at that commit: the first brief
on a store holding none of its account's text ingests the whole portfolio first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tools import workspace
from tools.embeddings import Embedder, MiniLMEmbeddingFunction
from tools.errors import InputError
from tools.retrieval import (
    Chunk,
    IngestReport,
    _batches,
    _by_shard,
    _max_batch,
    _open_all,
    chunks_of,
    evidence_rows,
    shard_of,
)

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

    from tools.portfolio import Portfolio

_EMBED_BATCH = 128
_UPSERT_BATCH = 512


@dataclass
class _Held:
    shard: int
    ids: set[str] = field(default_factory=set)
    content_hashes: set[str] = field(default_factory=set)
    text_hashes: set[str] = field(default_factory=set)


def _existing(shards: list[Collection]) -> dict[str, _Held]:
    out: dict[str, _Held] = {}
    for index, collection in enumerate(shards):
        page, offset = 5000, 0
        while True:
            got = collection.get(include=["metadatas"], limit=page, offset=offset)
            for chunk_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
                held = out.setdefault(str(meta.get("evidence_id", chunk_id)), _Held(index))
                held.ids.add(chunk_id)
                held.content_hashes.add(str(meta.get("content_hash")))
                held.text_hashes.add(str(meta.get("text_hash")))
            if len(got["ids"]) < page:
                break
            offset += page
    return out


def ingest(
    portfolio: Portfolio,
    *,
    progress: bool = False,
    store_path: Path | None = None,
    rebuild: bool = False,
    embedder: Embedder | None = None,
) -> IngestReport:
    started = time.perf_counter()
    path = store_path or workspace.chroma_path()
    embedder = embedder or MiniLMEmbeddingFunction(runtime="numpy")  # the one runtime there was
    shards = _open_all(path, embedder, rebuild=rebuild)
    evidence = evidence_rows(portfolio)
    existing = _existing(shards)
    to_embed: list[Chunk] = []
    to_relabel: list[Chunk] = []
    stale: dict[int, list[str]] = {}
    unchanged = replaced = total_chunks = 0
    for row in evidence:
        chunks = chunks_of(row)
        total_chunks += len(chunks)
        held = existing.pop(row.evidence_id, None)
        wanted = {c.id for c in chunks}
        same_place = held is not None and held.ids == wanted and held.shard == shard_of(row.account_id)
        if same_place and held is not None and held.content_hashes == {row.content_hash}:
            unchanged += 1
        elif same_place and held is not None and held.text_hashes == {row.text_hash}:
            to_relabel.extend(chunks)
        else:
            if held is not None:
                replaced += 1
                keep = wanted if held.shard == shard_of(row.account_id) else set()
                stale.setdefault(held.shard, []).extend(sorted(held.ids - keep))
            to_embed.extend(chunks)
    for held in existing.values():
        stale.setdefault(held.shard, []).extend(sorted(held.ids))
    _embed_and_upsert(shards, embedder, to_embed)
    max_batch = _max_batch(shards[0])
    for batch in _batches(to_relabel, max_batch):
        for index, part in _by_shard(batch).items():
            shards[index].update(ids=[c.id for c in part], metadatas=[c.metadata for c in part])
    for index, ids in stale.items():
        for start in range(0, len(ids), max_batch):
            shards[index].delete(ids=ids[start : start + max_batch])
    return IngestReport(
        store=str(path),
        model=embedder.model_name,
        evidence=len(evidence),
        chunks=total_chunks,
        embedded=len(to_embed),
        unchanged=unchanged,
        replaced=replaced,
        relabelled=len({c.metadata["evidence_id"] for c in to_relabel}),
        removed=sum(len(ids) for ids in stale.values()),
        seconds=round(time.perf_counter() - started, 3),
    )


def _embed_and_upsert(shards: list[Collection], embedder: Embedder, chunks: list[Chunk]) -> None:
    if not chunks:
        return
    sharing: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        sharing.setdefault(chunk.text, []).append(chunk)
    texts = sorted(sharing, key=len)
    max_batch = _max_batch(shards[0])
    pending: dict[int, list[tuple[Chunk, Any]]] = {}

    def flush(index: int) -> None:
        part = pending.pop(index, [])
        for first in range(0, len(part), max_batch):
            piece = part[first : first + max_batch]
            shards[index].upsert(
                ids=[c.id for c, _ in piece],
                embeddings=np.vstack([v for _, v in piece]),
                documents=[c.text for c, _ in piece],
                metadatas=[c.metadata for c, _ in piece],
            )

    for start in range(0, len(texts), _EMBED_BATCH):
        batch = texts[start : start + _EMBED_BATCH]
        vectors = np.asarray(embedder.embed_documents(batch), dtype=np.float32)
        for text, vector in zip(batch, vectors, strict=True):
            for chunk in sharing[text]:
                index = shard_of(str(chunk.metadata["account_id"]))
                pending.setdefault(index, []).append((chunk, vector))
                if len(pending[index]) >= _UPSERT_BATCH:
                    flush(index)
    for index in list(pending):
        flush(index)


def retrieve(state: Any, context: Any, queries: list[str], records: dict[str, Any]) -> list[Any]:
    """`agent.nodes._retrieve` as of ddece60: search; when nothing is found, ingest the whole portfolio."""
    from agent.nodes import _portfolio
    from tools import retrieval

    store_path = Path(context.store_path) if context.store_path else None
    portfolio = _portfolio(state.data_dir, state.as_of)
    as_of = date.fromisoformat(str(state.as_of))

    def run() -> list[Any]:
        hits = []
        for query in queries:
            hits += retrieval.search(
                state.account_id,
                query,
                as_of=as_of,
                k=context.retrieval_k,
                portfolio=portfolio,
                store_path=store_path,
                ensure_indexed=False,
            )
        return [h for h in hits if h.account_id == state.account_id and h.id in records]

    try:
        hits = run()
    except InputError:  # no store yet
        hits = []
    if not hits:
        ingest(_portfolio(state.data_dir, None), store_path=store_path)
        hits = run()
    return hits
