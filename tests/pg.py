"""A throwaway PostgreSQL cluster for the storage tests, and the `backend` fixture that runs a test on both
the embedded SQLite files and a real Postgres.

The cluster is made once per session in a temp folder (`initdb`, then `pg_ctl start` on a free 127.0.0.1
port with its socket in that folder) and removed at the end. As root (CI) the server runs as the
`postgres` user, which Postgres requires. Each test gets its own schema (`search_path` in the URL) at the
current version (`riskbrief db upgrade`), dropped afterwards.

Without the server binaries the Postgres half is skipped locally; with RISKBRIEF_REQUIRE_POSTGRES=1 (set by
.ci/run) it fails instead, so CI never passes by skipping.

Import the fixtures a test module needs: `from pg import backend, postgres_server, postgres_url  # noqa: F401`.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE = "RISKBRIEF_REQUIRE_POSTGRES"
BACKENDS = ("sqlite", "postgres")


def server_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").is_file() and Path(folder, "pg_ctl").is_file():
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A running throwaway cluster: `url` is its `riskbrief` database."""

    root: Path
    bin: Path
    port: int
    as_postgres: bool

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/riskbrief"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=120)

    @classmethod
    def start(cls) -> Cluster:
        binaries = server_binaries()
        if binaries is None:
            raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        root = Path(tempfile.mkdtemp(prefix="riskbrief-pg-"))
        as_postgres = os.geteuid() == 0  # Postgres refuses to run as root
        if as_postgres:
            shutil.chown(root, "postgres", "postgres")
        cluster = cls(root, binaries, _free_port(), as_postgres)
        data = root / "data"
        cluster._run(
            "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync"
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {cluster.port} -k {root} -c max_connections=400 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        cluster._run("pg_ctl", "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start")
        import psycopg

        with psycopg.connect(cluster.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE riskbrief")
        return cluster

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def fresh_schema(self) -> str:
        """A URL whose connections work in a new, empty schema."""
        import psycopg

        name = "t_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {name}")
        return f"{self.url}?options=-csearch_path%3D{name}"

    def drop_schema(self, url: str) -> None:
        import psycopg

        name = url.rsplit("%3D", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Cluster]:
    """The session's Postgres cluster (skipped without server binaries, unless RISKBRIEF_REQUIRE_POSTGRES=1)."""
    if server_binaries() is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found: apt-get install -y postgresql"
        if os.environ.get(REQUIRE) == "1":
            pytest.fail(f"{message} ({REQUIRE}=1)")
        pytest.skip(message)
    cluster = Cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """RISKBRIEF_DATABASE_URL set (for this process and its subprocesses) to a fresh schema, upgraded."""
    from agent.cli_db import upgrade_stores
    from tools import db

    url = postgres_server.fresh_schema()
    monkeypatch.setenv("RISKBRIEF_DATABASE_URL", url)
    upgrade_stores()
    yield url
    db.close_pools()
    postgres_server.drop_schema(url)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test on each backend: "sqlite" (the workspace's files) or "postgres" (a real server)."""
    monkeypatch.delenv("RISKBRIEF_DATABASE_URL", raising=False)
    if request.param == "postgres":
        request.getfixturevalue("postgres_url")
    return str(request.param)
