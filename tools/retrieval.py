"""The evidence store: portfolio text in a persistent Chroma collection, searched per account, as of a date.

Notes, ticket subjects and bodies, survey comments, opportunity objections and email subjects become
documents whose ids are their evidence ids (spec/data-format.md); long texts are chunked as
`note:N-1#0`, `note:N-1#1`, ... Ingest reads every row, whatever its date, and is incremental: a row
whose content hash is unchanged is not embedded again. Search always filters to one account and to
rows dated on or before the as-of date inside Chroma's `where`, so another account's text or a later
row can never come back; it ranks that account's chunks exactly (vectors, BM25, or both fused).

The collection is split into shards by account (see SHARDS); each shard records the embedding model
it was built with, and a store built with another model is refused until `ingest --rebuild`.

Two ways in. `ingest` indexes the whole portfolio: each distinct text is embedded once (a stored chunk
with the same text lends its vector instead), in batches upserted as soon as they are embedded, so an
interrupted run loses at most one batch and the next run carries on from what the store holds; a state
file beside Chroma's (STATE_FILE) says `complete` only after a run's last write, for the portfolio files
it read. `ingest_account` indexes one account the same way, for the first `brief` on a fresh workspace;
`brief` and `search` call it for their account whenever no complete ingest of the same files vouches for
the store, so a partial store is completed where it is read.

The store is a folder of the workspace (embedded Chroma), or a team's Chroma server (`[store] chroma_url`
or RISKBRIEF_CHROMA_URL, see `store_location`) with the same shards, metadata and model check. A server's
state lives in the server (STATE_COLLECTION's metadata), not in one machine's workspace, so every machine
sees a change any of them made; and its fingerprint names the machine that ingested, so another machine
never skips ingesting on the strength of files it may not have.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import platform
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import numpy as np
from pydantic import BaseModel, Field

from tools import bm25, workspace
from tools.embeddings import Embedder, default_embedder
from tools.errors import DependencyError, InputError, RiskbriefError

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
# Distinct texts embedded, then upserted, at a time: the most an interruption loses. 1024 rather than 256
# ingests the sample 20% faster (13.7 s vs 16.9 s): fuller encoder batches, larger upserts per shard.
_EMBED_BATCH = 1024
_REUSE_BATCH = 1024
_UPSERT_BATCH = 512
_RRF_K = 60  # reciprocal-rank-fusion constant (Cormack et al.); damps the weight of top ranks
_EPOCH = date(1970, 1, 1)
_WORD = re.compile(r"\S+")

BRIEF_QUERIES: dict[str, str] = {
    "general": "why the customer is unhappy: complaints, objections, budget, renewal concerns",
    "adoption/value": "users stopped using the product, low adoption, not getting value",
    "support/product": "bugs, outages, slow support, frustrated with tickets",
    "relationship/stakeholder": "champion or sponsor left, no reply, meetings declined, reorganisation",
    "competitive": "evaluating a competitor or alternative product",
    "commercial/financial": "budget cuts, pricing, invoices, payment",
    "renewal/contract": "renewal objection, contract terms, stalled negotiation",
}
"""The questions a brief asks the store, by risk category ("general" always; the others for the categories
of the account's active signals). Their vectors are embedded once, by the ingest, and kept in the store's
state (StoreState.query_vectors): a brief then searches without loading the embedding model."""


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


def evidence_rows(portfolio: Portfolio, account_id: str | None = None) -> list[Evidence]:
    """Every record with searchable text (of one account, or of all with `account_id=None`), of every date
    the portfolio holds (as-of filtering happens at search): the typed records of `tools.evidence`, their
    own words as the document. A row reads the same from a portfolio loaded as of any date that shows it."""
    return list(iter_evidence_rows(portfolio, account_id))


_ROW_SLICE = 5000  # accounts whose records are built at a time: bounds a full ingest's memory


def iter_evidence_rows(
    portfolio: Portfolio, account_id: str | None = None, *, done: Callable[[int], None] | None = None
) -> Iterator[Evidence]:
    """`evidence_rows`, built a slice of accounts at a time (the typed records of 100k accounts, 2M rows,
    held at once took several GB); `done(n)` is called after each slice of n accounts."""
    if account_id is not None:
        yield from _evidence_of(account_view(portfolio, account_id), account_id)
        return
    ids = portfolio.accounts["account_id"]
    for start in range(0, ids.len(), _ROW_SLICE):
        part = (
            portfolio if ids.len() <= _ROW_SLICE else accounts_view(portfolio, ids.slice(start, _ROW_SLICE).to_list())
        )
        yield from _evidence_of(part, None)
        if done is not None:
            done(min(_ROW_SLICE, ids.len() - start))


def _evidence_of(portfolio: Portfolio, account_id: str | None) -> Iterator[Evidence]:
    from tools.evidence import TicketFields, text_records

    for record in text_records(portfolio, account_id, with_spans=False):
        extra: dict[str, str | int | float] = {}
        if record.kind == "note" and record.author:
            extra["author"] = record.author
        if isinstance(record.fields, TicketFields):
            # Not `status`: it holds the ticket's latest state, which a search as of an earlier date must not see.
            extra.update(
                {k: v for k, v in (("priority", record.fields.priority), ("sentiment", record.fields.sentiment)) if v}
            )
        yield Evidence(
            record.id,
            str(record.account_id),
            cast(EvidenceKind, record.kind),
            date.fromisoformat(str(record.date)[:10]),
            record.text,
            extra,
        )


def account_view(portfolio: Portfolio, account_id: str) -> Portfolio:
    """The portfolio cut down to one account's rows: its records read the same (every rule that reads
    other rows reads the same account's, e.g. a contact's role or the respondents of one day's surveys),
    and building them costs milliseconds instead of a pass over every account's contacts."""
    import polars as pl

    return _view(portfolio, pl.col("account_id") == account_id)


def accounts_view(portfolio: Portfolio, account_ids: Sequence[str]) -> Portfolio:
    """`account_view` for several accounts."""
    import polars as pl

    return _view(portfolio, pl.col("account_id").is_in(list(account_ids)))


# The tables text records are built from (and contacts, for roles): cut down in a view. The others (usage,
# health: millions of rows) are passed whole, which costs nothing and reads the same.
_TEXT_TABLES = ("tickets", "notes", "opportunities", "surveys", "emails", "contact_events")


def _view(portfolio: Portfolio, mine: Any) -> Portfolio:
    import dataclasses

    tables = {
        name: frame.filter(mine) if name in _TEXT_TABLES and "account_id" in frame.columns else frame
        for name, frame in portfolio.tables.items()
    }
    return dataclasses.replace(portfolio, accounts=portfolio.accounts.filter(mine), tables=tables)


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


@dataclass(frozen=True)
class StoreLocation:
    """Where the evidence store is: a folder (embedded Chroma) or the URL of a Chroma server."""

    path: Path | None = None
    url: str | None = None

    @property
    def remote(self) -> bool:
        return self.url is not None

    def __str__(self) -> str:
        return _public_url(self.url) if self.url is not None else str(self.path)


def store_location(store_path: Path | None = None) -> StoreLocation:
    """`store_path` when given (a folder); else the team's Chroma server (RISKBRIEF_CHROMA_URL, else
    `[store] chroma_url`); else the workspace's folder."""
    if store_path is not None:
        return StoreLocation(path=store_path)
    url = workspace.chroma_url()
    if url:
        return StoreLocation(url=url.rstrip("/"))
    return StoreLocation(path=workspace.chroma_path())


def _located(where: StoreLocation | Path) -> StoreLocation:
    return where if isinstance(where, StoreLocation) else StoreLocation(path=where)


def _public_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


_clients: dict[Path | str, ClientAPI] = {}


def _client(where: StoreLocation | Path) -> ClientAPI:
    """One client per store and process: building Chroma's settings costs ~15 ms a call; a server's
    client checks the server once, when made."""
    where = _located(where)
    key: Path | str = where.url if where.url is not None else cast(Path, where.path).resolve()
    if key not in _clients:
        _clients[key] = _new_remote_client(key) if isinstance(key, str) else _new_client(key)
    return _clients[key]


def _chromadb() -> Any:
    try:
        from tools.chromadb_import import load_chromadb

        load_chromadb()
        import chromadb
    except ImportError as exc:
        raise DependencyError("chromadb is not installed: run `pip install 'chromadb>=1.5,<2'`") from exc
    return chromadb


def _new_client(path: Path) -> ClientAPI:
    chromadb = _chromadb()
    from chromadb.config import Settings

    try:
        # Telemetry off: it would try the network on every run.
        client: ClientAPI = chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))
    except Exception as exc:  # a locked or corrupt store is an unavailable dependency
        raise DependencyError(f"cannot open the evidence store at {path}: {exc}") from exc
    return client


def _new_remote_client(url: str) -> ClientAPI:
    """A client of the Chroma server at `url` (http[s]://host:port[/prefix]). Chroma asks the server for
    its tenant and database when the client is made, so an unreachable server fails here, naming the URL."""
    chromadb = _chromadb()
    from chromadb.config import Settings

    headers = _auth_headers(url)
    try:
        client: ClientAPI = chromadb.HttpClient(
            host=url, ssl=url.startswith("https://"), headers=headers, settings=Settings(anonymized_telemetry=False)
        )
    except Exception as exc:
        raise _refused(url) or _unreachable(url, exc) from None
    return client


def _auth_headers(url: str) -> dict[str, str] | None:
    """The bearer token for the server at `url` (RISKBRIEF_CHROMA_TOKEN), if any; never over plain http to
    another machine."""
    token = workspace.chroma_token()
    if token and not url.startswith("https://") and not _loopback(url):
        raise InputError(
            f"RISKBRIEF_CHROMA_TOKEN is set but the Chroma server at {_public_url(url)} is plain http: the token "
            "would cross the network readable by anyone on the way. Use its https:// URL."
        )
    return {"Authorization": f"Bearer {token}"} if token else None


def _loopback(url: str) -> bool:
    """True for a URL on this machine (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refused(url: str) -> DependencyError | None:
    """After a failed request: the error to show when the server (or the proxy in front of it) refuses
    riskbrief's credentials, which Chroma's client reports only as the response's text. Never shows the
    token."""
    import httpx

    headers = _auth_headers(url)
    try:
        status = httpx.get(f"{url.rstrip('/')}/api/v2/heartbeat", headers=headers, timeout=5).status_code
    except httpx.HTTPError:
        return None
    if status not in (401, 403):
        return None
    if headers:
        return DependencyError(
            f"the Chroma server at {_public_url(url)} refused the token in RISKBRIEF_CHROMA_TOKEN (HTTP {status})"
        )
    return DependencyError(
        f"the Chroma server at {_public_url(url)} asks for credentials (HTTP {status}): "
        "set RISKBRIEF_CHROMA_TOKEN to a token it accepts"
    )


def _unreachable(url: str, exc: BaseException) -> DependencyError:
    reason = " ".join(str(exc).split()) or type(exc).__name__
    return DependencyError(f"cannot reach the Chroma server at {_public_url(url)}: {reason[:200]}")


def _connection_error(exc: BaseException) -> bool:
    import httpx

    return isinstance(exc, httpx.TransportError | ConnectionError) or (
        isinstance(exc, ValueError) and "could not connect" in str(exc).lower()
    )


@contextmanager
def _reachable(where: StoreLocation) -> Iterator[None]:
    """A Chroma server that stops answering mid-way, or starts refusing riskbrief's token (revoked while an
    ingest runs), is an unavailable dependency (exit 3, naming its URL), not an internal error."""
    try:
        yield
    except RiskbriefError:
        raise
    except Exception as exc:
        if where.url is not None and _connection_error(exc):
            raise _unreachable(where.url, exc) from None
        if where.url is not None and (refused := _refused(where.url)) is not None:
            raise refused from None
        raise


def shard_of(account_id: str) -> int:
    """The shard collection holding an account's chunks."""
    return zlib.crc32(account_id.encode()) % SHARDS


def shard_name(index: int) -> str:
    return f"{COLLECTION}-{index:02d}"


def _check_model(collection: Collection, embedder: Embedder, where: StoreLocation | Path) -> None:
    built_with = (collection.metadata or {}).get("embedding_model")
    if built_with != embedder.model_name:
        raise DependencyError(
            f"the evidence store at {where} was built with {built_with}, searching with "
            f"{embedder.model_name}: re-run `riskbrief ingest --rebuild`"
        )


def _get_shard(client: ClientAPI, index: int, embedder: Embedder, where: StoreLocation | Path) -> Collection:
    # No embedding function here: Chroma would raise its own conflict error before ours could name both
    # models; vectors are always passed explicitly anyway.
    collection = client.get_collection(shard_name(index), embedding_function=None)
    _check_model(collection, embedder, where)
    return collection


def _open_shard(where: StoreLocation, embedder: Embedder, account_id: str) -> Collection | None:
    """The shard holding `account_id`, checked against the embedding model; None when there is no store."""
    if where.path is not None and not (where.path / "chroma.sqlite3").is_file():
        return None
    client = _client(where)
    try:
        return _get_shard(client, shard_of(account_id), embedder, where)
    except DependencyError:
        raise
    except Exception as exc:  # Chroma raises its own NotFoundError (a ValueError in some versions)
        if where.url is not None and _connection_error(exc):
            raise _unreachable(where.url, exc) from None
        if where.url is not None and (refused := _refused(where.url)) is not None:
            raise refused from None  # not "no store": the server (or its proxy) refuses us
        return None


def _open_all(where: StoreLocation | Path, embedder: Embedder, *, rebuild: bool) -> list[Collection]:
    """Every shard, created when missing, checked against the embedding model."""
    where = _located(where)
    client = _client(where)
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
            shards.append(_get_shard(client, index, embedder, where))
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


# --------------------------------------------------------------------------------------- store state


STATE_FILE = "riskbrief-ingest.json"
STATE_COLLECTION = "riskbrief-state"
"""On a Chroma server: the collection whose metadata holds the store's state (it holds no documents)."""


class StoreState(BaseModel):
    """What the last full ingest did to a store: kept beside Chroma's files in `STATE_FILE` (a folder), or
    in the server as STATE_COLLECTION's metadata (a Chroma server, shared by every machine that uses it).

    An ingest writes `complete: false` before its first change and `complete: true` after its last, so a
    store left partial by an interrupted ingest (or filled account by account by `brief`) is known to be
    partial: `brief` and `search` then embed the account they need before reading it.
    """

    complete: bool
    fingerprint: str = Field(description="portfolio_fingerprint of the files ingested; empty when too fresh")
    model: str
    layout: str
    evidence: int = 0
    chunks: int = 0
    updated: str = ""
    query_vectors: dict[str, str] = Field(
        default_factory=dict,
        description="BRIEF_QUERIES' vectors under `model` (query text -> base64 of little-endian float32)",
    )


# A file modified this recently may be modified again within the file system's timestamp granularity at
# the same size, and its fingerprint could not tell the two versions apart: a few ms on ext4, APFS or
# NTFS; whole seconds on HFS+ and FAT, which keep no sub-second part.
_SETTLED_S, _SETTLED_COARSE_S = 0.1, 2.0


def portfolio_fingerprint(portfolio: Portfolio) -> str | None:
    """The identity of a portfolio's files: its folder and each CSV's name, size and modification time.
    Reads no file, so it costs microseconds; any edit (even one that changes no text) gives a new one.
    None while a file is too fresh to tell from a next edit (_SETTLED_S): such files are never vouched for."""
    root = portfolio.root.resolve()
    files = [(p.name, p.stat()) for p in sorted(root.glob("*.csv")) if p.is_file()]
    coarse = all(stat.st_mtime_ns % 1_000_000_000 == 0 for _, stat in files)
    if any(stat.st_mtime > time.time() - (_SETTLED_COARSE_S if coarse else _SETTLED_S) for _, stat in files):
        return None
    listing = [[name, stat.st_size, stat.st_mtime_ns] for name, stat in files]
    return hashlib.sha256(json.dumps([str(root), listing]).encode()).hexdigest()[:32]


def _store_fingerprint(where: StoreLocation, portfolio: Portfolio) -> str | None:
    """`portfolio_fingerprint`, and on a server the machine's name too: a folder path, sizes and times say
    nothing about the files another machine holds, so a state one machine wrote never lets another skip
    ingesting (that one compares its own files with the store and embeds only what differs)."""
    fingerprint = portfolio_fingerprint(portfolio)
    if fingerprint is None or not where.remote:
        return fingerprint
    return hashlib.sha256(json.dumps([platform.node(), fingerprint]).encode()).hexdigest()[:32]


def read_state(store_path: Path | None = None) -> StoreState | None:
    """The store's state; None when there is none (a fresh store, or one built before it existed)."""
    where = store_location(store_path)
    with _reachable(where):
        return _read_state(where)


def _read_state(where: StoreLocation) -> StoreState | None:
    try:
        if where.path is not None:
            return StoreState.model_validate_json((where.path / STATE_FILE).read_text(encoding="utf-8"))
        client = _client(where)
        if STATE_COLLECTION not in {c.name for c in client.list_collections()}:
            return None
        held = client.get_collection(STATE_COLLECTION, embedding_function=None).metadata or {}
        return StoreState.model_validate_json(str(held.get("state", "")))
    except (OSError, ValueError):
        return None


def _write_state(where: StoreLocation | Path, state: StoreState) -> None:
    """Replace the state atomically (a reader sees the old or the new one); a file is private like the store."""
    where = _located(where)
    state.updated = datetime.now(UTC).isoformat(timespec="seconds")
    if where.path is None:
        collection = _client(where).get_or_create_collection(STATE_COLLECTION, embedding_function=None)
        collection.modify(metadata={"state": state.model_dump_json()})
        return
    path = where.path
    temporary = path / f".{STATE_FILE}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(handle, "w", encoding="utf-8") as fh:
        fh.write(state.model_dump_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(temporary, path / STATE_FILE)


def _mark(
    where: StoreLocation,
    embedder: Embedder,
    fingerprint: str | None,
    *,
    complete: bool,
    evidence: int = 0,
    chunks: int = 0,
    query_vectors: dict[str, str] | None = None,
) -> None:
    _write_state(
        where,
        StoreState(
            complete=complete,
            fingerprint=fingerprint or "",  # "": files too fresh to vouch for (see portfolio_fingerprint)
            model=embedder.model_name,
            layout=_LAYOUT,
            evidence=evidence,
            chunks=chunks,
            query_vectors=query_vectors or {},
        ),
    )


def _embed_brief_queries(embedder: Embedder) -> dict[str, str]:
    """BRIEF_QUERIES' vectors as StoreState keeps them."""
    return {
        query: base64.b64encode(np.asarray(embedder.query_vector(query), dtype="<f4").tobytes()).decode("ascii")
        for query in BRIEF_QUERIES.values()
    }


def _known_query_vectors(where: StoreLocation, embedder: Embedder) -> dict[str, np.ndarray[Any, Any]]:
    """The query vectors the store's state keeps for this embedding model ({} when none, or another
    model's): the same vectors `embedder.query_vector` gives, embedded by the ingest."""
    state = _read_state(where)
    if state is None or state.model != embedder.model_name:
        return {}
    try:
        vectors = {
            query: np.frombuffer(base64.b64decode(encoded, validate=True), dtype="<f4").astype(np.float32)
            for query, encoded in state.query_vectors.items()
        }
    except ValueError:  # a damaged state: embed the queries instead
        return {}
    sizes = {v.shape[0] for v in vectors.values()}
    if len(sizes) > 1 or not all(np.isfinite(v).all() and v.any() for v in vectors.values()):
        return {}
    return vectors


def store_complete(portfolio: Portfolio, *, store_path: Path | None = None, embedder: Embedder | None = None) -> bool:
    """True when a full ingest of exactly these portfolio files finished in the store, with this embedding
    model and chunk layout, and nothing changed it since: every account's text is then in it. On a Chroma
    server only an ingest run on this machine vouches (see `_store_fingerprint`)."""
    where = store_location(store_path)
    with _reachable(where):
        return _vouches(_read_state(where), _store_fingerprint(where, portfolio), embedder or default_embedder())


def _vouches(state: StoreState | None, fingerprint: str | None, embedder: Embedder) -> bool:
    if state is None or not state.complete or state.layout != _LAYOUT or state.model != embedder.model_name:
        return False
    return fingerprint is not None and state.fingerprint == fingerprint


# -------------------------------------------------------------------------------------- ingest: plan


@dataclass
class _Held:
    """What the store holds for one evidence id: each chunk by (shard, chunk id) -> (content hash, text
    hash), and the row's date (`date_ord`)."""

    chunks: dict[tuple[int, str], tuple[str, str]] = field(default_factory=dict)
    day: int = 0


def _read_held(out: dict[str, _Held], collection: Collection, index: int, where: dict[str, Any] | None = None) -> None:
    page, offset = 5000, 0
    while True:
        got = collection.get(where=where, include=["metadatas"], limit=page, offset=offset)
        for chunk_id, meta in zip(got["ids"], got["metadatas"] or [], strict=True):
            held = out.setdefault(str(meta.get("evidence_id", chunk_id)), _Held())
            held.chunks[(index, chunk_id)] = (str(meta.get("content_hash")), str(meta.get("text_hash")))
            held.day = int(cast(int, meta.get("date_ord", 0)))
        if len(got["ids"]) < page:
            return
        offset += page


def _existing(shards: list[Collection]) -> dict[str, _Held]:
    out: dict[str, _Held] = {}
    for index, collection in enumerate(shards):
        _read_held(out, collection, index)
    return out


@dataclass
class _Plan:
    """What one ingest writes: chunks to upsert with a vector, chunks whose metadata alone changed, chunk
    ids to delete per shard, and stored chunks whose vectors can serve identical texts."""

    evidence: int = 0
    chunks: int = 0
    write: list[Chunk] = field(default_factory=list)
    relabel: list[Chunk] = field(default_factory=list)
    stale: dict[int, list[str]] = field(default_factory=dict)
    # chunk text -> (shard, chunk id) of a stored chunk holding exactly that text (and so its vector)
    stored_text: dict[str, tuple[int, str]] = field(default_factory=dict)
    unchanged: int = 0
    replaced: int = 0
    relabelled: int = 0

    @property
    def changes(self) -> bool:
        return bool(self.write or self.relabel or self.stale)

    @property
    def removed(self) -> int:
        return sum(len(ids) for ids in self.stale.values())


def _plan(rows: Iterable[Evidence], held: dict[str, _Held], *, gone_up_to: int | None) -> _Plan:
    """Compare the rows with what the store holds, chunk by chunk, so a rerun after an interruption picks
    up exactly what is missing: a chunk stored under its id, in its account's shard, with the row's
    content hash, is done. Held rows not among `rows` are deleted when dated on or before `gone_up_to`
    (None: all of them; a portfolio loaded as of a date cannot tell a later row from a deleted one)."""
    plan = _Plan()
    for row in rows:
        plan.evidence += 1
        chunks = chunks_of(row)
        plan.chunks += len(chunks)
        mine = held.pop(row.evidence_id, None)
        if mine is None:
            plan.write.extend(chunks)
            continue
        shard = shard_of(row.account_id)
        wanted = {(shard, c.id) for c in chunks}
        writes = relabels = 0
        for chunk in chunks:
            stored = mine.chunks.get((shard, chunk.id))
            if stored is not None and stored[0] == row.content_hash:
                plan.stored_text.setdefault(chunk.text, (shard, chunk.id))
                continue
            if stored is not None and stored[1] == row.text_hash:
                plan.relabel.append(chunk)
                relabels += 1
                continue
            plan.write.append(chunk)
            writes += 1
            # The same chunk of the same text stored in another shard (the row moved account): its vector
            # serves, nothing is embedded again.
            for (index, chunk_id), (_, text_hash) in mine.chunks.items():
                if chunk_id == chunk.id and text_hash == row.text_hash:
                    plan.stored_text.setdefault(chunk.text, (index, chunk_id))
        extra = [key for key in mine.chunks if key not in wanted]
        for index, chunk_id in extra:
            plan.stale.setdefault(index, []).append(chunk_id)
        if writes or extra:
            plan.replaced += 1
        elif relabels:
            plan.relabelled += 1
        else:
            plan.unchanged += 1
    for mine in held.values():  # evidence no longer in the portfolio
        if gone_up_to is None or mine.day <= gone_up_to:
            for index, chunk_id in mine.chunks:
                plan.stale.setdefault(index, []).append(chunk_id)
    return plan


# ------------------------------------------------------------------------------------- ingest: runs


def ingest(
    portfolio: Portfolio,
    *,
    progress: bool = True,
    store_path: Path | None = None,
    rebuild: bool = False,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Index the portfolio's text; unchanged rows are skipped, changed rows replace their chunks.

    The store mirrors the last ingested portfolio: evidence absent from it is removed. Resumable: each
    batch of texts is upserted as soon as it is embedded, so an interrupted run leaves every chunk it
    wrote complete, and the next run embeds only what is still missing. The store's state file says
    `complete` only after the last write (see StoreState); a run on the very files a finished run read
    (portfolio_fingerprint) returns at once.
    """
    started = time.perf_counter()
    where = store_location(store_path)
    embedder = embedder or default_embedder()
    with _reachable(where):
        return _ingest(portfolio, where, embedder, started, progress=progress, rebuild=rebuild)


def _ingest(
    portfolio: Portfolio, where: StoreLocation, embedder: Embedder, started: float, *, progress: bool, rebuild: bool
) -> IngestReport:
    fingerprint = _store_fingerprint(where, portfolio)

    def mark(complete: bool, plan: _Plan | None = None) -> None:
        counts = {"evidence": plan.evidence, "chunks": plan.chunks} if plan is not None else {}
        _mark(where, embedder, fingerprint, complete=complete, query_vectors=queries(), **counts)

    queries = functools.cache(lambda: _embed_brief_queries(embedder))
    if rebuild:
        _client(where)  # creates the folder (or checks the server)
        mark(complete=False)
    shards = _open_all(where, embedder, rebuild=rebuild)
    state = _read_state(where)
    if not rebuild and state is not None and _vouches(state, fingerprint, embedder):
        # The last ingest finished on these very files: nothing to compare (minutes at 2M chunks).
        plan = _Plan(evidence=state.evidence, chunks=state.chunks, unchanged=state.evidence)
        if set(state.query_vectors) != set(BRIEF_QUERIES.values()):  # a store built before they were kept
            mark(complete=True, plan=plan)
        return _report(where, embedder, plan, started)
    held = _existing(shards)
    reading = _Bar(portfolio.accounts.height, show=progress, label="Reading evidence  ")
    try:
        plan = _plan(iter_evidence_rows(portfolio, done=reading.advance), held, gone_up_to=None)
    finally:
        reading.stop()
    if plan.changes:
        mark(complete=False)
        _apply(shards, embedder, plan, progress=progress)
    mark(complete=True, plan=plan)
    return _report(where, embedder, plan, started)


def ingest_account(
    portfolio: Portfolio,
    account_id: str,
    *,
    progress: bool = False,
    store_path: Path | None = None,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Index one account's text: what `ingest` would write for it, and nothing else (seconds, whatever
    the portfolio's size). The same ids, chunks, hashes and metadata as `ingest`, so a later full ingest
    finds these rows unchanged and embeds only the rest.

    `portfolio` may be loaded as of a date: its rows are written, and the account's stored rows dated on
    or before that date that it no longer holds are removed; later rows are left to `ingest`.
    """
    started = time.perf_counter()
    where = store_location(store_path)
    embedder = embedder or default_embedder()
    view = account_view(portfolio, account_id)
    if view.accounts.height == 0:
        portfolio.account(account_id)  # raises the InputError naming the account and the file
    with _reachable(where):
        return _ingest_account(view, portfolio, account_id, where, embedder, started, progress=progress)


def _ingest_account(
    view: Portfolio,
    portfolio: Portfolio,
    account_id: str,
    where: StoreLocation,
    embedder: Embedder,
    started: float,
    *,
    progress: bool,
) -> IngestReport:
    shards = _open_all(where, embedder, rebuild=False)
    index = shard_of(account_id)
    held: dict[str, _Held] = {}
    _read_held(held, shards[index], index, where={"account_id": account_id})
    cutoff = None if portfolio.as_of is None else date_ord(portfolio.as_of)
    plan = _plan(iter_evidence_rows(view, account_id), held, gone_up_to=cutoff)
    if plan.changes:
        state = _read_state(where)
        if state is not None and state.complete:  # no longer the mirror of the portfolio it names
            state.complete = False
            _write_state(where, state)
        _apply(shards, embedder, plan, progress=progress)
    return _report(where, embedder, plan, started)


def _report(where: StoreLocation, embedder: Embedder, plan: _Plan, started: float) -> IngestReport:
    return IngestReport(
        store=str(where),
        model=embedder.model_name,
        evidence=plan.evidence,
        chunks=plan.chunks,
        embedded=len(plan.write),
        unchanged=plan.unchanged,
        replaced=plan.replaced,
        relabelled=plan.relabelled,
        removed=plan.removed,
        seconds=round(time.perf_counter() - started, 3),
    )


def _apply(shards: list[Collection], embedder: Embedder, plan: _Plan, *, progress: bool) -> None:
    """Write the plan: new vectors first (batch by batch, each upserted at once), then metadata-only
    updates, then deletions of stale chunks."""
    _embed_and_upsert(shards, embedder, plan.write, plan.stored_text, progress=progress)
    max_batch = _max_batch(shards[0])
    for batch in _batches(plan.relabel, max_batch):
        for index, part in _by_shard(batch).items():
            shards[index].update(ids=[c.id for c in part], metadatas=[c.metadata for c in part])
    for index, ids in plan.stale.items():
        for start in range(0, len(ids), max_batch):
            shards[index].delete(ids=ids[start : start + max_batch])


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


class _Bar:
    """The rich progress bar on stderr (transient), or nothing."""

    def __init__(self, total: int, *, show: bool, label: str = "Embedding evidence") -> None:
        self._bar: Any = None
        if not show or total == 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._bar = Progress(
            TextColumn(label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task("embed", total=total)

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, n)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def _embed_and_upsert(
    shards: list[Collection],
    embedder: Embedder,
    chunks: list[Chunk],
    stored_text: dict[str, tuple[int, str]],
    *,
    progress: bool,
) -> None:
    """Give every chunk a vector and upsert it, one batch of distinct texts at a time.

    Each distinct text gets one vector: from a stored chunk holding the same text when there is one,
    else from the model, once however many chunks share it (templated emails, "Quick and helpful."
    survey comments: on the sample portfolio 11k chunks hold 1.7k distinct texts). A batch's chunks are
    upserted right after its texts are embedded, so an interruption loses at most the batch in flight.
    """
    if not chunks:
        return
    sharing: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        sharing.setdefault(chunk.text, []).append(chunk)
    reuse = [text for text in sharing if text in stored_text]
    # Similar lengths side by side: the encoder pads each batch to its longest text.
    fresh = sorted((text for text in sharing if text not in stored_text), key=len)
    max_batch = min(_max_batch(shards[0]), _UPSERT_BATCH)
    bar = _Bar(len(chunks), show=progress)

    def upsert(texts: Sequence[str], vectors: Any) -> None:
        pending: dict[int, list[tuple[Chunk, Any]]] = {}
        for text, vector in zip(texts, vectors, strict=True):
            for chunk in sharing[text]:
                pending.setdefault(shard_of(str(chunk.metadata["account_id"])), []).append((chunk, vector))
        for index, part in sorted(pending.items()):
            for first in range(0, len(part), max_batch):
                piece = part[first : first + max_batch]
                shards[index].upsert(
                    ids=[c.id for c, _ in piece],
                    embeddings=np.vstack([v for _, v in piece]),
                    documents=[c.text for c, _ in piece],
                    metadatas=[c.metadata for c, _ in piece],
                )
                bar.advance(len(piece))

    try:
        for start in range(0, len(reuse), _REUSE_BATCH):
            batch = reuse[start : start + _REUSE_BATCH]
            upsert(batch, _stored_vectors(shards, [stored_text[text] for text in batch]))
        for start in range(0, len(fresh), _EMBED_BATCH):
            batch = fresh[start : start + _EMBED_BATCH]
            upsert(batch, np.asarray(embedder.embed_documents(batch), dtype=np.float32))
    finally:
        bar.stop()


def _stored_vectors(shards: list[Collection], where: Sequence[tuple[int, str]]) -> Any:
    """The stored vectors of (shard, chunk id) pairs, in order."""
    found: dict[tuple[int, str], Any] = {}
    by_shard: dict[int, list[str]] = {}
    for index, chunk_id in where:
        by_shard.setdefault(index, []).append(chunk_id)
    for index, ids in by_shard.items():
        got = shards[index].get(ids=sorted(set(ids)), include=["embeddings"])
        vectors = got["embeddings"] if got["embeddings"] is not None else []
        for chunk_id, vector in zip(got["ids"], vectors, strict=True):
            found[(index, chunk_id)] = vector
    return np.asarray([found[key] for key in where], dtype=np.float32)


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
    ensure_indexed: bool = True,
) -> list[Hit]:
    """The `k` best pieces of one account's evidence dated on or before `as_of`: best first, one per id.

    With `portfolio`, a store that no finished ingest of that portfolio's files vouches for (interrupted,
    filled account by account by `brief`, or built from other files) first gets this account's missing
    text (`ingest_account`); `ensure_indexed=False` skips that for a caller that has just done it.
    """
    return search_many(
        account_id,
        [query],
        as_of=as_of,
        k=k,
        portfolio=portfolio,
        store_path=store_path,
        method=method,
        embedder=embedder,
        ensure_indexed=ensure_indexed,
    )[0]


def search_many(
    account_id: str,
    queries: Sequence[str],
    *,
    as_of: date | None,
    k: int = 5,
    portfolio: Portfolio | None = None,
    store_path: Path | None = None,
    method: SearchMethod = DEFAULT_METHOD,
    embedder: Embedder | None = None,
    ensure_indexed: bool = True,
) -> list[list[Hit]]:
    """`search` for several queries over one account: the store is opened, the account's chunks fetched
    and its BM25 index built once for all of them (a brief asks five questions of one account)."""
    if not queries or any(not q or not q.strip() for q in queries):
        raise InputError("search: the query is empty")
    if k < 1:
        raise InputError(f"--k: must be at least 1 (got {k})")
    if portfolio is not None and account_id not in portfolio.account_ids:
        raise InputError(f"unknown account '{account_id}': not in {portfolio.root / 'accounts.csv'}")
    location = store_location(store_path)
    embedder = embedder or default_embedder()
    with _reachable(location):
        return _search(account_id, queries, location, embedder, as_of, k, portfolio, method, ensure_indexed)


def _search(
    account_id: str,
    queries: Sequence[str],
    location: StoreLocation,
    embedder: Embedder,
    as_of: date | None,
    k: int,
    portfolio: Portfolio | None,
    method: SearchMethod,
    ensure_indexed: bool,
) -> list[list[Hit]]:
    collection = _open_shard(location, embedder, account_id)
    if collection is None:
        raise InputError(f"no evidence store at {location}: run `riskbrief ingest --data DIR` first")
    if (
        portfolio is not None
        and ensure_indexed
        and not _vouches(_read_state(location), _store_fingerprint(location, portfolio), embedder)
    ):
        view = account_view(portfolio, account_id)
        _ingest_account(view, portfolio, account_id, location, embedder, time.perf_counter(), progress=False)
    where = account_filter(account_id, as_of)
    docs = _fetch(collection, where, with_embeddings=method != "bm25")
    if (
        not docs.ids
        and portfolio is None
        and not collection.get(where={"account_id": account_id}, limit=1, include=[])["ids"]
    ):
        raise InputError(f"unknown account '{account_id}': the evidence store holds no text for it")
    wanted = k * 4  # chunks of one evidence row collapse into one hit
    index = bm25.Index.build(docs.texts, light_stem) if method in ("bm25", "hybrid") else None
    known = _known_query_vectors(location, embedder) if method in ("vector", "hybrid") else {}
    # A kept vector must fit the chunks' (no chunks, no vectors: nothing to compare, nothing to rank).
    width = docs.embeddings.shape[1:] if docs.embeddings is not None and docs.embeddings.ndim == 2 else None
    out: list[list[Hit]] = []
    for query in queries:
        ranked: list[list[_Candidate]] = []
        if method in ("vector", "hybrid"):
            query_vector = known.get(query.strip())
            if query_vector is None or (width is not None and query_vector.shape != width):
                query_vector = np.asarray(embedder.query_vector(query.strip()), dtype=np.float32)
            ranked.append(_vector_ranking(collection, docs, query_vector, where, wanted))
        if index is not None:
            ranked.append(bm25_ranking(docs, query, wanted, index))
        candidates = ranked[0] if len(ranked) == 1 else rrf(ranked)
        out.append(_dedupe(candidates, k))
    return out


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


def bm25_ranking(docs: _AccountDocs, query: str, n: int, index: bm25.Index | None = None) -> list[_Candidate]:
    """BM25 over one account's chunks (`tools.bm25`): they are few (tens to hundreds), so indexing them
    per brief is cheap and needs no second index to keep in step with the store."""
    if not docs.ids:
        return []
    index = index or bm25.Index.build(docs.texts, light_stem)
    terms = bm25.tokenize(query, light_stem)
    if not index.postings or not any(t in index.postings for t in terms):
        return []
    scores = index.scores(terms)
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
