"""A scripted, dependency-free (stdlib only) fake of an OpenAI-compatible `POST /v1/chat/completions`
endpoint, on 127.0.0.1. The unit tests use it, and so does the adversarial suite (`evals.adversarial.run`),
which is why it lives in the package.

    with FakeOpenAI([Reply(content={"name": "x"}), Reply(status=429, headers={"Retry-After": "1"})]) as fake:
        settings = ModelSettings(model="fake", base_url=fake.base_url, api_key="sk-test")
        ...
        assert len(fake.requests) == 2 and fake.requests[0]["tools"]

Each request takes the next `Reply` of the script (or asks a callable `script(request, index)`, which
returns None where the script ends). A `Reply` with `content` is wrapped in a proper `chat.completion`
envelope: as `message.content`, or, when the request carried `tools` (or `tool_call` says so), as the
arguments of a call to the requested tool. A `Reply` with `body` is sent as it is; one with an error
`status` and neither gets an OpenAI-style error object. Past the end of the script the server answers
500 and says so. Other paths answer 404. Every request body is recorded (parsed JSON) in `.requests`,
its headers in `.headers`.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Script = Sequence["Reply"] | Callable[[dict[str, Any], int], "Reply | None"]


@dataclass
class Reply:
    """One scripted answer. `content` (str, or any JSON value, dumped for you) goes in an envelope;
    `body` (str or bytes) replaces the envelope entirely."""

    content: Any = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | bytes | None = None
    content_type: str = "application/json"
    finish_reason: str | None = None
    """None: "tool_calls" for a tool-call reply, "stop" otherwise."""
    refusal: str | None = None
    usage: dict[str, int] | None = None
    """None: 10 prompt and 5 completion tokens."""
    tool_call: bool | None = None
    """None: a tool call when the request carried `tools`, message content otherwise."""
    delay_s: float = 0.0
    """Sleep before answering (to trip the client's timeout)."""
    disconnect: bool = False
    """Close the connection without answering (a connection error for the client)."""


def completion(request: dict[str, Any], reply: Reply, index: int) -> dict[str, Any]:
    """The `chat.completion` envelope for `reply` to `request`."""
    content = reply.content
    if content is not None and not isinstance(content, str):
        content = json.dumps(content)
    as_tool = bool(request.get("tools")) if reply.tool_call is None else reply.tool_call
    message: dict[str, Any] = {"role": "assistant", "content": None if as_tool else content, "refusal": reply.refusal}
    if as_tool and reply.refusal is None:
        message["tool_calls"] = [
            {
                "id": f"call_{index}",
                "type": "function",
                "function": {"name": _tool_name(request), "arguments": content or ""},
            }
        ]
    usage = reply.usage or {"prompt_tokens": 10, "completion_tokens": 5}
    usage = {**usage, "total_tokens": usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)}
    return {
        "id": f"chatcmpl-fake-{index}",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": request.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": reply.finish_reason or ("tool_calls" if "tool_calls" in message else "stop"),
                "logprobs": None,
            }
        ],
        "usage": usage,
    }


def _tool_name(request: dict[str, Any]) -> str:
    choice = request.get("tool_choice")
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if name:
            return str(name)
    tools = request.get("tools") or [{}]
    return str((tools[0].get("function") or {}).get("name") or "tool")


def _error(status: int, message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "fake_error", "code": status}}).encode()


class FakeOpenAI:
    """The fake server: a context manager; `.base_url` ends in `/v1`; `.requests` holds the bodies."""

    def __init__(self, replies: Script) -> None:
        self.script = replies
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._server = _Server(("127.0.0.1", 0), _handler(self))
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def calls(self) -> int:
        return len(self.requests)

    def start(self) -> FakeOpenAI:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.02,), name="fake-openai", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next(self, request: dict[str, Any], headers: dict[str, str]) -> tuple[int, Reply | None]:
        with self._lock:
            index = len(self.requests)
            self.requests.append(request)
            self.headers.append(headers)
        if callable(self.script):
            return index, self.script(request, index)
        return index, self.script[index] if index < len(self.script) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hung up (its own timeout, a scripted disconnect) is no test failure; a bug here is.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

        def do_GET(self) -> None:
            self._send(404, _error(404, f"FakeOpenAI: no route GET {self.path}"))

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error(404, f"FakeOpenAI: no route POST {self.path}"))
                return
            try:
                request = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                request = {"_raw": raw.decode("utf-8", "replace")}
            index, reply = fake._next(request, dict(self.headers.items()))
            if reply is None:
                message = f"FakeOpenAI: script exhausted, no reply scripted for request #{index + 1}"
                self._send(500, _error(500, message))
                return
            if reply.delay_s:
                time.sleep(reply.delay_s)
            if reply.disconnect:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if reply.body is not None:
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
            elif reply.status >= 400 and reply.content is None:
                body = _error(reply.status, f"scripted HTTP {reply.status}")
            else:
                body = json.dumps(completion(request, reply, index)).encode()
            self._send(reply.status, body, reply.content_type, reply.headers)

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str = "application/json",
            headers: dict[str, str] | None = None,
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return Handler
