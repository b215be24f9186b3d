"""Real servers for the integration tests: `chroma run` and `langgraph dev`, each a subprocess on a free
loopback port, started offline and stopped (by its own process id) when the test is done.

Offline means: telemetry and tracing off, no LangSmith key, and every outbound HTTP(S) request sent to a
proxy that refuses connections, so a server that needed the network at start-up would fail the test
instead of waiting on it. Loopback stays direct (NO_PROXY).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def offline_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment, with nothing that could reach beyond the machine."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "LANGCHAIN_"))}
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: any outbound request fails at once
    env.update(
        {
            "HTTP_PROXY": dead,
            "HTTPS_PROXY": dead,
            "http_proxy": dead,
            "https_proxy": dead,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "LANGGRAPH_CLI_NO_ANALYTICS": "1",
            "LANGSMITH_TRACING": "false",
            "LANGCHAIN_TRACING_V2": "false",
            "ANONYMIZED_TELEMETRY": "False",
            "HF_HUB_OFFLINE": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def _get(url: str, timeout: float = 2.0) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    with opener.open(url, timeout=timeout) as response:
        return bytes(response.read())


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Seconds until `url` answers 200; fails with the server's log when it exits or takes too long."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text(errors='replace')[-4000:]}")
        try:
            _get(url)
            return time.perf_counter() - started
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server not ready after {timeout:.0f} s:\n{log.read_text(errors='replace')[-4000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the server and everything it started (its own process group), by id."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextmanager
def running(
    command: list[str], ready: str, log: Path, env: Mapping[str, str], cwd: Path, timeout: float
) -> Iterator[float]:
    """Run `command` until the block ends; yields the seconds it took to answer `ready`."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield wait_for(ready, process, log, timeout)
        finally:
            stop(process)


@contextmanager
def chroma_server(path: Path, log: Path) -> Iterator[tuple[str, float]]:
    """`chroma run` over the folder `path`: yields its URL and the seconds it took to answer its heartbeat."""
    port = free_port()
    command = [str(BIN / "chroma"), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/api/v2/heartbeat", log, offline_env(), path.parent, timeout=60) as seconds:
        yield url, seconds


def served_config(folder: Path) -> Path:
    """This project's langgraph.json, its paths made absolute, written in `folder`: `langgraph dev` resolves
    graph and dependency paths from its working directory and keeps its checkpoints there (.langgraph_api),
    so the server runs in a temporary folder, serving the project's very graph and settings."""
    config = json.loads((ROOT / "langgraph.json").read_text(encoding="utf-8"))
    for name, spec in config["graphs"].items():
        path, _, variable = spec.partition(":")
        config["graphs"][name] = f"{(ROOT / path).resolve()}:{variable}"
    config["dependencies"] = [str((ROOT / dep).resolve()) for dep in config.get("dependencies", [])]
    target = folder / "langgraph.json"
    target.write_text(json.dumps(config, indent=2), encoding="utf-8")
    return target


@contextmanager
def langgraph_server(env: Mapping[str, str], folder: Path) -> Iterator[tuple[str, float]]:
    """`langgraph dev` serving this project's graph from `folder` (see served_config): yields its URL and
    the seconds it took to answer /ok. `env` is added to the offline environment (RISKBRIEF_HOME...)."""
    port = free_port()
    command = [
        str(BIN / "langgraph"),
        "dev",
        "--no-browser",
        "--no-reload",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--config",
        str(served_config(folder)),
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, f"{url}/ok", folder / "langgraph.log", offline_env(env), folder, timeout=120) as seconds:
        yield url, seconds
