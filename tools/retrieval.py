"""The evidence store: portfolio text in a persistent Chroma collection, searched per account, as of a date.

Notes, ticket subjects and bodies, survey comments, opportunity objections and email subjects become
documents whose ids are their evidence ids (spec/data-format.md); long texts are chunked as
`note:N-1#0`, `note:N-1#1`, ... Ingest reads every row, whatever its date, and is incremental: a row
whose content hash is unchanged is not embedded again. Search always filters to one account and to
rows dated on or before the as-of date inside Chroma's `where`, so another account's text or a later
row can never come back; it ranks that account's chunks exactly (vectors, BM25, or both fused).

The collection is split into shards by account (see SHARDS); each shard records the embedding model
it was built with, and a store built with another model is refused until `ingest --rebuild`.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from pydantic import BaseModel, Field

from tools import workspace
from tools.embeddings import Embedder, default_embedder
from tools.errors import DependencyError, InputError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from tools.portfolio import Portfolio

COLLECTION = "evidence"  # chunks live in SHARDS collections, evidence-00 ... evidence-15, by account
# Chroma's local `get` with a `where` costs time in proportion to the collection's size (24 ms at 100k
# chunks, 3 ms at 6k, for the same 50 hits); sharding by account keeps every search on a small one.
SHARDS = 16
EvidenceKind = Literal["note", "ticket", "survey", "opportunity", "email"]
SearchMethod = Literal["hybrid", "vector", "bm25"]
DEFAULT_METHOD: SearchMethod = "hybrid"

CHUNK_WORDS = 180  # ~240 tokens: stays inside the embedding model's 256-token window
CHUNK_OVERLAP = 40
# Part of every content hash: a new chunking or metadata layout re-indexes on the next ingest.
_LAYOUT = f"v3,words={CHUNK_WORDS},overlap={CHUNK_OVERLAP}"
_EMBED_BATCH = 128
_UPSERT_BATCH = 512
_RRF_K = 60  # reciprocal-rank-fusion constant (Cormack et al.); damps the weight of top ranks
_EPOCH = date(1970, 1, 1)
_WORD = re.compile(r"\S+")


# ---------------------------------------------------------------------------------------------- records


class Hit(BaseModel):
    """One search result: the evidence id (no chunk suffix), its account, kind, date, text and score."""

    id: str = Field(description="typed evidence id, e.g. note:N-1")
    account_id: str
    kind: str = Field(description="note, ticket, survey, opportunity or email")
    date: str = Field(description="ISO date of the source row")
    text: str = Field(description="the best-matching chunk of the evidence text")
    score: float = Field(description="cosine similarity (vector), BM25 score (bm25) or fused RRF score (hybrid)")


class IngestReport(BaseModel):
    """What one ingest run did."""

    store: str
    model: str
    evidence: int = Field(description="source rows with text")
    chunks: int = Field(description="documents the store holds for them")
    embedded: int = Field(description="chunks embedded in this run")
    unchanged: int = Field(description="evidence rows skipped because their content hash matched")
    replaced: int = Field(description="evidence rows whose text changed and were re-embedded")
    relabelled: int = Field(default=0, description="evidence rows whose metadata alone changed (not re-embedded)")
    removed: int = Field(description="chunks deleted: stale chunks of changed rows and rows gone from the portfolio")
    seconds: float


@dataclass(frozen=True)
class Evidence:
    """One source row with text: the unit that is hashed, chunked and replaced as a whole."""

    evidence_id: str
    account_id: str
    kind: EvidenceKind
    day: date
    text: str
    extra: dict[str, str | int | float] = field(default_factory=dict)

    @property
    def content_hash(self) -> str:
        """Hash of everything stored: text and metadata. Unchanged -> the row is skipped."""
        payload = json.dumps(
            [
                self.account_id,
                self.kind,
                self.day.isoformat(),
                self.text,
                sorted(self.extra.items()),
                _LAYOUT,
            ],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode()).hexdigest()[:32]

    @property
    def text_hash(self) -> str:
        """Hash of what is embedded. Unchanged while the content hash changed (a ticket closed, a new
        metadata layout) -> only the metadata is rewritten, nothing is embedded again."""
        payload = json.dumps([self.text, CHUNK_WORDS, CHUNK_OVERLAP], ensure_ascii=False)
        return hashlib.sha256(payload.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Chunk:
    """One stored document: a slice of an evidence text, with its Chroma id and metadata."""

    id: str
    text: str
    metadata: dict[str, str | int | float]


# ------------------------------------------------------------------------------------ portfolio -> text


def evidence_rows(portfolio: Portfolio) -> list[Evidence]:
    """Every record with searchable text, of every date (as-of filtering happens at search): the typed
    records of `tools.evidence`, their own words as the document."""
    from tools.evidence import TicketFields, text_records

    rows: list[Evidence] = []
    for record in text_records(portfolio, with_spans=False):
        extra: dict[str, str | int | float] = {}
        if record.kind == "note" and record.author:
            extra["author"] = record.author
        if isinstance(record.fields, TicketFields):
            # Not `status`: it holds the ticket's latest state, which a search as of an earlier date must not see.
            extra.update(
                {k: v for k, v in (("priority", record.fields.priority), ("sentiment", record.fields.sentiment)) if v}
            )
        rows.append(
            Evidence(
                record.id,
                str(record.account_id),
                cast(EvidenceKind, record.kind),
                date.fromisoformat(str(record.date)[:10]),
                record.text,
                extra,
            )
        )
    return rows


def chunk_spans(text: str, words: int = CHUNK_WORDS, overlap: int = CHUNK_OVERLAP) -> list[tuple[int, str]]:
    """(word offset, chunk text) pairs; slices of the original text, so quotes stay verbatim."""
    spans = [m.span() for m in _WORD.finditer(text)]
    # A tail of fewer than `overlap` new words is kept in the previous chunk rather than alone.
    if len(spans) <= words + overlap:
        return [(0, text.strip())]
    step = words - overlap
    out: list[tuple[int, str]] = []
    start = 0
    while start < len(spans):
        end = min(start + words, len(spans))
        if len(spans) - end < overlap:
            end = len(spans)
        out.append((start, text[spans[start][0] : spans[end - 1][1]]))
        if end == len(spans):
            break
        start += step
    return out


def chunks_of(evidence: Evidence) -> list[Chunk]:
    """The stored documents of one evidence row: one when short, `#i`-suffixed slices when long."""
    spans = chunk_spans(evidence.text)
    base: dict[str, str | int | float] = {
        "evidence_id": evidence.evidence_id,
        "account_id": evidence.account_id,
        "kind": evidence.kind,
        "date": evidence.day.isoformat(),
        "date_ord": date_ord(evidence.day),
        account_date_key(evidence.account_id): date_ord(evidence.day),
        "content_hash": evidence.content_hash,
        "text_hash": evidence.text_hash,
        **evidence.extra,
    }
    if len(spans) == 1:
        return [Chunk(evidence.evidence_id, spans[0][1], {**base, "chunk_offset": 0})]
    return [
        Chunk(f"{evidence.evidence_id}#{i}", text, {**base, "chunk_offset": offset})
        for i, (offset, text) in enumerate(spans)
    ]


def date_ord(day: date) -> int:
    """Days since 1970-01-01: an integer Chroma's `where` can compare with `$lte`."""
    return (day - _EPOCH).days


_SAFE_KEY = re.compile(r"[A-Za-z0-9_.:-]+")


def account_date_key(account_id: str) -> str:
    """Metadata key holding `date_ord` only on this account's chunks, e.g. `date_ord@A-17`.

    Chroma evaluates each clause of a `where` on its own: `date_ord <= D` matches nearly the whole
    store (30 ms at 11k chunks, growing with the store), while this per-account key matches only the
    account's rows (~5 ms whatever the store size).
    """
    if _SAFE_KEY.fullmatch(account_id):
        return f"date_ord@{account_id}"
    return "date_ord@#" + hashlib.sha256(account_id.encode()).hexdigest()[:16]


# -------------------------------------------------------------------------------------------- the store


_clients: dict[Path, ClientAPI] = {}


def _client(path: Path) -> ClientAPI:
    """One client per store folder and process: building Chroma's settings costs ~15 ms a call."""
    key = path.resolve()
    if key not in _clients:
        _clients[key] = _new_client(key)
    return _clients[key]


def _new_client(path: Path) -> ClientAPI:
    try:
        import chromadb
        from chromadb.config import Settings
    except ImportError as exc:
        raise DependencyError("chromadb is not installed: run `pip install 'chromadb>=1.5,<2'`") from exc
    try:
        # Telemetry off: it would try the network on every run.
        return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    except Exception as exc:  # a locked or corrupt store is an unavailable dependency
        raise DependencyError(f"cannot open the evidence store at {path}: {exc}") from exc


def shard_of(account_id: str) -> int:
    """The shard collection holding an account's chunks."""
    return zlib.crc32(account_id.encode()) % SHARDS


def shard_name(index: int) -> str:
    return f"{COLLECTION}-{index:02d}"


def _check_model(collection: Collection, embedder: Embedder, path: Path) -> None:
    built_with = (collection.metadata or {}).get("embedding_model")
    if built_with != embedder.model_name:
        raise DependencyError(
            f"the evidence store at {path} was built with {built_with}, searching with "
            f"{embedder.model_name}: re-run `riskbrief ingest --rebuild`"
        )


def _get_shard(client: ClientAPI, index: int, embedder: Embedder, path: Path) -> Collection:
    # No embedding function here: Chroma would raise its own conflict error before ours could name both
    # models; vectors are always passed explicitly anyway.
    collection = client.get_collection(shard_name(index), embedding_function=None)
    _check_model(collection, embedder, path)
    return collection


def _open_shard(path: Path, embedder: Embedder, account_id: str) -> Collection | None:
    """The shard holding `account_id`, checked against the embedding model; None when there is no store."""
    if not (path / "chroma.sqlite3").is_file():
        return None
    client = _client(path)
    try:
        return _get_shard(client, shard_of(account_id), embedder, path)
    except DependencyError:
        raise
    except Exception:  # Chroma raises its own NotFoundError (a ValueError in some versions)
        return None


def _open_all(path: Path, embedder: Embedder, *, rebuild: bool) -> list[Collection]:
    """Every shard, created when missing, checked against the embedding model."""
    client = _client(path)
    names = {c.name for c in client.list_collections()}
    ours = {n for n in names if n == COLLECTION or n.startswith(f"{COLLECTION}-")}
    # The unsharded collection of earlier versions is never read again: its rows are re-indexed.
    for name in sorted(ours if rebuild else ours & {COLLECTION}):
        client.delete_collection(name)
        ours.discard(name)
    from chromadb.api.types import EmbeddingFunction

    # Recorded in each collection's configuration when it is a Chroma embedding function (ours are).
    chroma_ef = embedder if isinstance(embedder, EmbeddingFunction) else None
    shards = []
    for index in range(SHARDS):
        if shard_name(index) in ours:
            shards.append(_get_shard(client, index, embedder, path))
            continue
        shards.append(
            client.create_collection(
                shard_name(index),
                embedding_function=cast(Any, chroma_ef),
                metadata={"embedding_model": embedder.model_name},
                configuration={"hnsw": {"space": "cosine"}},
            )
        )
    return shards


@dataclass
class _Held:
    """What the store holds for one evidence id."""

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
    progress: bool = True,
    store_path: Path | None = None,
    rebuild: bool = False,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Index the portfolio's text; unchanged rows are skipped, changed rows replace their chunks.

    The store mirrors the last ingested portfolio: evidence absent from it is removed.
    """
    started = time.perf_counter()
    path = store_path or workspace.chroma_path()
    embedder = embedder or default_embedder()
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
    for held in existing.values():  # evidence no longer in the portfolio
        stale.setdefault(held.shard, []).extend(sorted(held.ids))
    _embed_and_upsert(shards, embedder, to_embed, progress=progress)
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


def _by_shard(chunks: Sequence[Chunk]) -> dict[int, list[Chunk]]:
    out: dict[int, list[Chunk]] = {}
    for chunk in chunks:
        out.setdefault(shard_of(str(chunk.metadata["account_id"])), []).append(chunk)
    return out


def _batches(items: Sequence[Chunk], size: int) -> Iterator[Sequence[Chunk]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _max_batch(collection: Collection) -> int:
    try:
        return int(collection._client.get_max_batch_size())
    except Exception:  # older or remote clients: a size every backend accepts
        return 1000


def _embed_and_upsert(shards: list[Collection], embedder: Embedder, chunks: list[Chunk], *, progress: bool) -> None:
    if not chunks:
        return
    # Identical texts (templated emails, "Quick and helpful." survey comments) are embedded once: on the
    # sample portfolio 11k chunks hold 1.7k distinct texts.
    sharing: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        sharing.setdefault(chunk.text, []).append(chunk)
    # Similar lengths side by side: the encoder pads each batch to its longest text.
    texts = sorted(sharing, key=len)
    max_batch = _max_batch(shards[0])
    bar = None
    if progress:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(
            TextColumn("Embedding evidence"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        bar.start()
        task = bar.add_task("embed", total=len(chunks))
    # Upserts are buffered per shard: one call per few hundred chunks, not one per shard and batch.
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

    try:
        for start in range(0, len(texts), _EMBED_BATCH):
            batch = texts[start : start + _EMBED_BATCH]
            vectors = np.asarray(embedder.embed_documents(batch), dtype=np.float32)
            for text, vector in zip(batch, vectors, strict=True):
                for chunk in sharing[text]:
                    index = shard_of(str(chunk.metadata["account_id"]))
                    pending.setdefault(index, []).append((chunk, vector))
                    if len(pending[index]) >= _UPSERT_BATCH:
                        flush(index)
                if bar is not None:
                    bar.advance(task, len(sharing[text]))
        for index in list(pending):
            flush(index)
    finally:
        if bar is not None:
            bar.stop()


# ------------------------------------------------------------------------------------------------ search


def account_filter(account_id: str, as_of: date | None) -> dict[str, Any]:
    """The Chroma `where` every search runs under: one account, rows dated on or before as-of."""
    if as_of is None:
        return {"account_id": account_id}
    return {"$and": [{"account_id": account_id}, {account_date_key(account_id): {"$lte": date_ord(as_of)}}]}


@dataclass
class _Candidate:
    chunk_id: str
    text: str
    metadata: dict[str, Any]
    score: float


@dataclass
class _AccountDocs:
    """One account's chunks up to the as-of date, fetched once through the `where` filter."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, Any]]
    embeddings: Any  # (n, dim) float32, or None when the account was too large to fetch them
    complete: bool  # False when over EXACT_LIMIT: vector search falls back to the HNSW index


# Up to this many chunks per account, vector search is exact (a dot product over the fetched vectors).
# Chroma's filtered HNSW query misses results when the filter keeps a small share of the collection:
# on the sample portfolio (11k chunks, ~60 per account) it returned 0 of 63 matching chunks for one
# account and 43 of 58 for another.
EXACT_LIMIT = 5000


def search(
    account_id: str,
    query: str,
    *,
    as_of: date | None,
    k: int = 5,
    portfolio: Portfolio | None = None,
    store_path: Path | None = None,
    method: SearchMethod = DEFAULT_METHOD,
    embedder: Embedder | None = None,
) -> list[Hit]:
    """The `k` best pieces of one account's evidence dated on or before `as_of`: best first, one per id."""
    if not query or not query.strip():
        raise InputError("search: the query is empty")
    if k < 1:
        raise InputError(f"--k: must be at least 1 (got {k})")
    if portfolio is not None and account_id not in portfolio.account_ids:
        raise InputError(f"unknown account '{account_id}': not in {portfolio.root / 'accounts.csv'}")
    path = store_path or workspace.chroma_path()
    embedder = embedder or default_embedder()
    collection = _open_shard(path, embedder, account_id)
    if collection is None:
        raise InputError(f"no evidence store at {path}: run `riskbrief ingest --data DIR` first")
    where = account_filter(account_id, as_of)
    docs = _fetch(collection, where, with_embeddings=method != "bm25")
    if (
        not docs.ids
        and portfolio is None
        and not collection.get(where={"account_id": account_id}, limit=1, include=[])["ids"]
    ):
        raise InputError(f"unknown account '{account_id}': the evidence store holds no text for it")
    wanted = k * 4  # chunks of one evidence row collapse into one hit
    ranked: list[list[_Candidate]] = []
    if method in ("vector", "hybrid"):
        query_vector = np.asarray(embedder.query_vector(query.strip()), dtype=np.float32)
        ranked.append(_vector_ranking(collection, docs, query_vector, where, wanted))
    if method in ("bm25", "hybrid"):
        ranked.append(bm25_ranking(docs, query, wanted))
    candidates = ranked[0] if len(ranked) == 1 else rrf(ranked)
    return _dedupe(candidates, k)


def _fetch(collection: Collection, where: dict[str, Any], *, with_embeddings: bool) -> _AccountDocs:
    include: list[Any] = ["documents", "metadatas", *(["embeddings"] if with_embeddings else [])]
    got = collection.get(where=where, include=include, limit=EXACT_LIMIT + 1)
    complete = len(got["ids"]) <= EXACT_LIMIT
    if not complete:  # a very large account: all its text for BM25, its vectors stay in the index
        got = collection.get(where=where, include=["documents", "metadatas"])
    embeddings = got.get("embeddings") if complete and with_embeddings else None
    return _AccountDocs(
        ids=list(got["ids"]),
        texts=[d or "" for d in (got["documents"] or [])],
        metadatas=[dict(m or {}) for m in (got["metadatas"] or [])],
        embeddings=None if embeddings is None else np.asarray(embeddings, dtype=np.float32),
        complete=complete,
    )


def _vector_ranking(
    collection: Collection, docs: _AccountDocs, query_vector: Any, where: dict[str, Any], n: int
) -> list[_Candidate]:
    if docs.complete:
        if not docs.ids or docs.embeddings is None:
            return []
        matrix = docs.embeddings
        norms = np.maximum(np.linalg.norm(matrix, axis=1), 1e-12)
        scores = (matrix @ query_vector) / (norms * max(float(np.linalg.norm(query_vector)), 1e-12))
        order = np.argsort(-scores, kind="stable")[:n]
        return [_Candidate(docs.ids[i], docs.texts[i], docs.metadatas[i], float(scores[i])) for i in order]
    got = collection.query(
        query_embeddings=[query_vector.tolist()],
        n_results=n,
        where=where,
        include=["documents", "metadatas", "distances"],
    )
    ids = got["ids"][0]
    texts = (got["documents"] or [[]])[0]
    metas = (got["metadatas"] or [[]])[0]
    dists = (got["distances"] or [[]])[0]
    return [
        _Candidate(i, d or "", dict(m or {}), 1.0 - float(dist))
        for i, d, m, dist in zip(ids, texts, metas, dists, strict=True)
    ]


_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "s", "ly")


def light_stem(tokens: list[str]) -> list[str]:
    """A small English suffix stripper so `renewal`/`renewals`, `cancel`/`cancelled` match in BM25."""
    out = []
    for token in tokens:
        for suffix in _SUFFIXES:
            if len(token) > len(suffix) + 2 and token.endswith(suffix):
                token = token[: -len(suffix)] + ("y" if suffix in ("ies", "ied") else "")
                break
        out.append(token)
    return out


def bm25_ranking(docs: _AccountDocs, query: str, n: int) -> list[_Candidate]:
    """BM25 over one account's chunks, indexed per query: they are few (tens to hundreds), so this is
    cheap and needs no second index to keep in step with the store."""
    import bm25s

    if not docs.ids:
        return []
    corpus = bm25s.tokenize(docs.texts, stopwords="en", stemmer=light_stem, show_progress=False)
    vocab = cast(dict[str, int], corpus.vocab)
    if not vocab:
        return []
    query_tokens = bm25s.tokenize([query], stopwords="en", stemmer=light_stem, return_ids=False, show_progress=False)
    terms = [t for t in cast(list[list[str]], query_tokens)[0] if t in vocab]
    if not terms:
        return []
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    scores = retriever.get_scores(terms)
    order = [int(i) for i in np.argsort(-scores, kind="stable")[:n] if scores[i] > 0]
    return [_Candidate(docs.ids[i], docs.texts[i], docs.metadatas[i], float(scores[i])) for i in order]


def rrf(rankings: Sequence[Sequence[_Candidate]]) -> list[_Candidate]:
    """Reciprocal-rank fusion: each list adds 1/(60 + rank); robust to the lists' different score scales."""
    fused: dict[str, _Candidate] = {}
    for ranking in rankings:
        for rank, cand in enumerate(ranking, start=1):
            held = fused.get(cand.chunk_id)
            if held is None:
                fused[cand.chunk_id] = held = _Candidate(cand.chunk_id, cand.text, cand.metadata, 0.0)
            held.score += 1.0 / (_RRF_K + rank)
    return sorted(fused.values(), key=lambda c: -c.score)


def _dedupe(candidates: Sequence[_Candidate], k: int) -> list[Hit]:
    hits: list[Hit] = []
    seen: set[str] = set()
    for cand in candidates:  # best first, so the first chunk of an evidence id is its best
        meta = cand.metadata
        evidence_id = str(meta.get("evidence_id") or cand.chunk_id.split("#", 1)[0])
        if evidence_id in seen:
            continue
        seen.add(evidence_id)
        hits.append(
            Hit(
                id=evidence_id,
                account_id=str(meta.get("account_id", "")),
                kind=str(meta.get("kind", "")),
                date=str(meta.get("date", "")),
                text=cand.text,
                score=round(cand.score, 6),
            )
        )
        if len(hits) == k:
            break
    return hits
