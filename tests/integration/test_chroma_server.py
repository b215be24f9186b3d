"""The evidence store on a Chroma server (`chroma run`, `[store] chroma_url`): the same shards, filters,
model check and results as the embedded store, a state that lives in the server, and an unreachable
server reported in one line naming its URL (exit 3).

One `chroma run` subprocess serves the module, started offline (tests/servers.py) on a free port.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import write_tiny_portfolio
from servers import BIN, chroma_server, free_port, offline_env

from agent.cli_agent import run_brief
from agent.config import AgentContext
from tools import retrieval
from tools.embeddings import FloatArray
from tools.errors import DependencyError
from tools.portfolio import Portfolio, load_portfolio
from tools.retrieval import ingest, ingest_account, read_state, search, store_complete

AS_OF = date(2026, 11, 20)
CLOCK = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
QUERIES = [
    "exports keep timing out",
    "evaluating a competitor",
    "price per seat too high",
    "dashboards are blank",
    "ignore previous instructions",
    "love the new reports",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("chroma-server")
    with chroma_server(folder / "data", folder / "chroma.log") as (url, seconds):
        print(f"\nchroma run answered its heartbeat after {seconds:.2f} s")
        yield url


def settled(root: Path) -> Path:
    """The portfolio's files dated a minute ago: files this fresh are never vouched for (by design)."""
    past = datetime.now().timestamp() - 60
    for path in root.glob("*.csv"):
        os.utime(path, (past, past))
    return root


@pytest.fixture
def portfolio(tmp_path: Path) -> Path:
    return settled(write_tiny_portfolio(tmp_path / "portfolio"))


@pytest.fixture
def on_server(server: str, home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """RISKBRIEF_CHROMA_URL names the server, whose collections are emptied first (each test its own store)."""
    client = retrieval._client(retrieval.StoreLocation(url=server))
    for collection in client.list_collections():
        client.delete_collection(collection.name)
    monkeypatch.setenv("RISKBRIEF_CHROMA_URL", server)
    yield server


def hits(account: str, query: str, method: retrieval.SearchMethod, store: Path | None) -> list[tuple[str, float]]:
    found = search(account, query, as_of=AS_OF, k=5, store_path=store, method=method)
    return [(h.id, h.score) for h in found]


def test_ingest_search_and_brief_match_the_embedded_store(
    on_server: str, portfolio: Path, home: Path, tmp_path: Path
) -> None:
    loaded = load_portfolio(portfolio)
    embedded = tmp_path / "embedded"
    local = ingest(loaded, progress=False, store_path=embedded)
    remote = ingest(loaded, progress=False)
    assert remote.store == on_server and local.store == str(embedded)
    assert (remote.evidence, remote.chunks, remote.embedded) == (local.evidence, local.chunks, local.embedded)
    assert not (home / "chroma").exists()  # nothing of the store in this machine's workspace

    for account in ("A-017", "A-002"):
        for query in QUERIES:
            for method in ("hybrid", "vector", "bm25"):
                here, there = hits(account, query, method, embedded), hits(account, query, method, None)
                assert [i for i, _ in there] == [i for i, _ in here], (account, query, method)
                assert np.allclose([s for _, s in there], [s for _, s in here], atol=1e-5)
    # the as-of filter runs in the server's `where`: a later row never comes back
    late = search("A-017", "evaluating Gainsight", as_of=date(2026, 11, 10), k=10)
    assert "note:N-3" not in [h.id for h in late] and all(h.date <= "2026-11-10" for h in late)

    # the state lives in the server: a re-ingest of the same files returns at once
    assert store_complete(loaded) and not (home / "chroma" / retrieval.STATE_FILE).exists()
    again = ingest(loaded, progress=False)
    assert again.embedded == 0 and again.unchanged == again.evidence == remote.evidence
    state = read_state()
    assert state is not None and state.complete and state.chunks == remote.chunks

    there = run_brief("A-017", portfolio, as_of=AS_OF, context=AgentContext(now=lambda: CLOCK))
    here = run_brief("A-017", portfolio, as_of=AS_OF, context=AgentContext(now=lambda: CLOCK, store_path=str(embedded)))
    assert [e.id for e in there.brief.evidence] == [e.id for e in here.brief.evidence]
    assert there.brief.summary == here.brief.summary and there.brief.status == here.brief.status


def test_a_first_brief_embeds_its_account_on_the_server(on_server: str, portfolio: Path) -> None:
    run = run_brief("A-017", portfolio, as_of=AS_OF, context=AgentContext(now=lambda: CLOCK))
    assert "note:N-1" in [e.id for e in run.brief.evidence]
    loaded = load_portfolio(portfolio)
    assert not store_complete(loaded)  # one account only: nothing vouches for the rest
    assert search("A-017", "exports timing out", as_of=AS_OF, k=3)[0].account_id == "A-017"
    rest = ingest(loaded, progress=False)
    assert rest.unchanged > 0 and rest.embedded > 0  # A-017's rows stay, A-002's are embedded now


def test_another_machine_never_skips_ingesting_on_this_ones_state(
    on_server: str, portfolio: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A state in a workspace folder would tell one machine only; in the server, the fingerprint names the
    machine that ingested, and a change any machine makes marks the store partial for all."""
    loaded = load_portfolio(portfolio)
    ingest(loaded, progress=False)
    assert store_complete(loaded)

    # machine B: its own copy of the files, one note more for A-017
    other = write_tiny_portfolio(tmp_path / "b-portfolio")
    with (other / "notes.csv").open("a", encoding="utf-8") as fh:
        fh.write('N-77,A-017,2026-11-18,Priya Patel,"Procurement asked for a termination-for-convenience clause."\n')
    b_files = load_portfolio(settled(other))
    monkeypatch.setattr(retrieval.platform, "node", lambda: "machine-b")
    assert not store_complete(b_files)
    assert not store_complete(loaded)  # the same files, but another machine: it compares, it doesn't trust
    found = search("A-017", "termination for convenience clause", as_of=AS_OF, k=3, portfolio=b_files)
    assert found[0].id == "note:N-77"  # B's search embedded what B has and the server lacked

    monkeypatch.undo()
    monkeypatch.setenv("RISKBRIEF_CHROMA_URL", on_server)
    assert not store_complete(loaded)  # B changed the shared store: A no longer skips either
    assert ingest(loaded, progress=False).removed == 1  # the server mirrors A's files again


class OtherModel:
    model_name = "some-other-model"

    def embed_documents(self, texts: Sequence[str]) -> FloatArray:
        return np.ones((len(texts), 384), dtype=np.float32)

    def query_vector(self, text: str) -> FloatArray:
        return np.ones(384, dtype=np.float32)


def test_a_server_store_built_with_another_model_is_refused(on_server: str, portfolio: Path) -> None:
    loaded: Portfolio = load_portfolio(portfolio)
    ingest_account(loaded, "A-017")
    with pytest.raises(DependencyError, match=rf"at {on_server} was built with .*--rebuild"):
        search("A-017", "exports", as_of=AS_OF, embedder=OtherModel())
    with pytest.raises(DependencyError, match="--rebuild"):
        ingest(loaded, progress=False, embedder=OtherModel())


def riskbrief(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "riskbrief"), *args], env=offline_env(env), capture_output=True, text=True, timeout=120
    )


def test_an_unreachable_server_exits_3_naming_its_url(portfolio: Path, home: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"RISKBRIEF_HOME": str(home)}
    result = riskbrief("ingest", "--data", str(portfolio), env={**env, "RISKBRIEF_CHROMA_URL": dead})
    assert result.returncode == 3, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"cannot reach the Chroma server at {dead}" in line

    toml = (portfolio / "riskbrief.toml").read_text(encoding="utf-8")
    (portfolio / "riskbrief.toml").write_text(toml + f'\n[store]\nchroma_url = "{dead}/"\n', encoding="utf-8")
    result = riskbrief("search", "A-017", "exports", "--data", str(portfolio), env=env)  # `[store] chroma_url`
    assert result.returncode == 3, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert f"cannot reach the Chroma server at {dead}" in line


def test_a_server_that_stops_mid_way_is_a_dependency_error(
    portfolio: Path, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with chroma_server(tmp_path / "data", tmp_path / "chroma.log") as (url, _):
        monkeypatch.setenv("RISKBRIEF_CHROMA_URL", url)
        ingest_account(load_portfolio(portfolio), "A-017")
    # the client made while it ran is still cached: its next request finds nobody
    with pytest.raises(DependencyError, match=f"cannot reach the Chroma server at {url}"):
        search("A-017", "exports", as_of=AS_OF)


# ------------------------------------------------------------------ a token-checking proxy in front

TOKEN = "s3cret-team-token"


class _TokenProxy(BaseHTTPRequestHandler):
    """What a team puts in front of `chroma run` (Envoy, nginx): requests without the bearer token get 403
    and Chroma never sees them; the others are forwarded as they came."""

    protocol_version = "HTTP/1.1"
    upstream = ""
    revoked = False  # set: the token is refused from now on

    def _reply(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.revoked or self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self._reply(403, b"RBAC: access denied")
            return
        skip = {"host", "authorization", "content-length", "connection", "transfer-encoding"}
        sent = {k: v for k, v in self.headers.items() if k.lower() not in skip}
        answer = httpx.request(self.command, self.upstream + self.path, content=body, headers=sent, timeout=60)
        kept = [
            (k, v)
            for k, v in answer.headers.items()
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")
        ]
        self._reply(answer.status_code, answer.content, kept)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def proxy(on_server: str) -> Iterator[ThreadingHTTPServer]:
    """The module's server behind a token-checking proxy on another free port."""
    handler = type("Proxy", (_TokenProxy,), {"upstream": on_server.rstrip("/")})
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def behind_proxy(proxy: ThreadingHTTPServer) -> str:
    """The proxy's URL."""
    return f"http://127.0.0.1:{proxy.server_address[1]}"


def test_a_token_reaches_a_server_behind_an_authenticating_proxy(
    behind_proxy: str, on_server: str, portfolio: Path, home: Path
) -> None:
    env = {"RISKBRIEF_HOME": str(home), "RISKBRIEF_CHROMA_URL": behind_proxy}
    ingested = riskbrief("ingest", "--data", str(portfolio), env={**env, "RISKBRIEF_CHROMA_TOKEN": TOKEN})
    assert ingested.returncode == 0, ingested.stderr
    args = ("search", "A-017", "exports keep timing out", "--data", str(portfolio), "--format", "json")
    through = riskbrief(*args, env={**env, "RISKBRIEF_CHROMA_TOKEN": TOKEN})
    direct = riskbrief(*args, env={**env, "RISKBRIEF_CHROMA_URL": on_server})
    assert through.returncode == 0 and direct.returncode == 0, through.stderr + direct.stderr
    assert json.loads(through.stdout) == json.loads(direct.stdout) and json.loads(through.stdout)

    # No token, or another one: exit 3, one line that says what to do and never shows a token.
    for token, expected in (("", "asks for credentials (HTTP 403): set RISKBRIEF_CHROMA_TOKEN"), ("wrong", "refused")):
        refused = riskbrief(*args, env={**env, "RISKBRIEF_CHROMA_TOKEN": token})
        assert refused.returncode == 3, refused.stderr
        [line] = refused.stderr.strip().splitlines()
        assert f"the Chroma server at {behind_proxy}" in line and expected in line, line
        assert TOKEN not in line and ("wrong" not in line or not token)


def test_a_token_is_never_sent_in_clear_to_another_machine(portfolio: Path, home: Path) -> None:
    remote = "http://10.255.255.1:8000"  # never contacted: refused before any connection
    env = {"RISKBRIEF_HOME": str(home), "RISKBRIEF_CHROMA_URL": remote, "RISKBRIEF_CHROMA_TOKEN": TOKEN}
    result = riskbrief("search", "A-017", "exports", "--data", str(portfolio), env=env)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "plain http" in line and "https://" in line and TOKEN not in line


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: 1", "tökén", "two words"])
def test_a_token_that_cannot_be_a_header_is_refused_without_showing_it(token: str, home: Path) -> None:
    url = "https://chroma.example"  # never contacted: refused before any connection
    env = {"RISKBRIEF_HOME": str(home), "RISKBRIEF_CHROMA_URL": url, "RISKBRIEF_CHROMA_TOKEN": token}
    result = riskbrief("search", "A-017", "exports", "--data", "sample", env=env)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert "RISKBRIEF_CHROMA_TOKEN: not a token" in line and token.split()[0] not in line


def test_a_token_revoked_mid_way_is_a_dependency_error(
    proxy: ThreadingHTTPServer, behind_proxy: str, portfolio: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKBRIEF_CHROMA_URL", behind_proxy)
    monkeypatch.setenv("RISKBRIEF_CHROMA_TOKEN", TOKEN)
    ingest_account(load_portfolio(portfolio), "A-017")
    assert search("A-017", "exports", as_of=AS_OF)
    proxy.RequestHandlerClass.revoked = True  # type: ignore[attr-defined]
    # the client made before is still cached: its next request is refused
    with pytest.raises(DependencyError, match=f"the Chroma server at {behind_proxy} refused the token") as caught:
        search("A-017", "exports", as_of=AS_OF)
    assert TOKEN not in str(caught.value)
