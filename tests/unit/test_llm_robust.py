"""A model reply can never crash a brief: `agent.llm.call_structured` against a scripted fake endpoint.

Content problems come back as `ModelReply(draft=None, error=...)` after one request (never retried);
transport problems are retried and end in a `DependencyError`. Only 127.0.0.1 is contacted: these
tests carry no `vcr` mark, so pytest-recording leaves their traffic alone.
"""

from __future__ import annotations

import email.utils
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.config import ModelSettings, StructuredMethod
from agent.llm import ModelReply, ModelUnavailable, RawChatOpenAI, call_structured, retry_after_seconds
from evals.fake_openai import FakeOpenAI, Reply
from tools.errors import DependencyError

METHODS: list[StructuredMethod] = ["json_schema", "function_calling"]
GOOD = {"name": "Acme", "level": "high", "note": "renewal at risk"}


class Verdict(BaseModel):
    """A tiny stand-in for the draft schema."""

    name: str
    level: Literal["low", "high"]
    note: str = Field(max_length=40)


EXPECTED = Verdict.model_validate(GOOD)


def settings(fake: FakeOpenAI, method: StructuredMethod = "json_schema", **overrides: Any) -> ModelSettings:
    values: dict[str, Any] = {
        "model": "fake",
        "base_url": fake.base_url,
        "api_key": "sk-test",
        "structured_method": method,
        "retry_attempts": 3,
        "retry_wait_min_s": 0.01,
        "retry_wait_max_s": 0.05,
        "timeout_s": 5,
    }
    return ModelSettings(**{**values, **overrides})


def ask(fake: FakeOpenAI, method: StructuredMethod = "json_schema", **overrides: Any) -> ModelReply:
    messages = [SystemMessage("You judge accounts. Answer in JSON."), HumanMessage("Acme: usage down 40%.")]
    return call_structured(settings(fake, method, **overrides), Verdict, messages, prompt_version="test@v1")


def failed(reply: ModelReply, fake: FakeOpenAI, starts: str) -> None:
    """One request, no draft, and an error of the expected class."""
    assert reply.draft is None
    assert reply.error is not None and reply.error.startswith(starts), reply.error
    assert reply.requests == 1 and fake.calls == 1  # content problems are never retried
    assert reply.prompt_version == "test@v1"


# ------------------------------------------------------------------------------------ valid replies


@pytest.mark.parametrize("method", METHODS)
def test_valid_reply_is_parsed(method: StructuredMethod) -> None:
    with FakeOpenAI([Reply(content=GOOD, usage={"prompt_tokens": 120, "completion_tokens": 30})]) as fake:
        reply = ask(fake, method)
    assert reply.draft == EXPECTED
    assert reply.error is None
    assert (reply.input_tokens, reply.output_tokens) == (120, 30)
    assert reply.requests == 1 and fake.calls == 1
    assert json.loads(reply.raw) == GOOD
    sent = fake.requests[0]
    assert sent["model"] == "fake" and [m["role"] for m in sent["messages"]] == ["system", "user"]
    if method == "json_schema":
        # Sent as a plain dict: the SDK never sees a pydantic class, so it never parses the reply.
        assert sent["response_format"] == {
            "type": "json_schema",
            "json_schema": {"name": "Verdict", "schema": Verdict.model_json_schema(), "strict": False},
        }
        assert "tools" not in sent
    else:
        assert [t["function"]["name"] for t in sent["tools"]] == ["Verdict"]
        assert sent["tools"][0]["function"]["parameters"]["required"] == ["name", "level", "note"]
        assert sent["tool_choice"] == {"type": "function", "function": {"name": "Verdict"}}
        assert "response_format" not in sent


def test_json_mode_sends_json_object_and_the_schema_in_the_prompt() -> None:
    with FakeOpenAI([Reply(content=GOOD)]) as fake:
        reply = ask(fake, "json_mode")
    assert reply.draft == EXPECTED
    sent = fake.requests[0]
    assert sent["response_format"] == {"type": "json_object"}
    assert '"level"' in sent["messages"][-1]["content"] and "JSON schema" in sent["messages"][-1]["content"]


@pytest.mark.parametrize("method", METHODS)
def test_fenced_json_is_accepted(method: StructuredMethod) -> None:
    # Decision: fenced JSON that validates is accepted. The fence is formatting, not content: rejecting
    # it would spend the one repair call on a reply that says exactly what the schema asks for.
    fenced = "```json\n" + json.dumps(GOOD, indent=2) + "\n```"
    with FakeOpenAI([Reply(content=fenced)]) as fake:
        reply = ask(fake, method)
    assert reply.draft == EXPECTED and reply.error is None
    assert reply.raw == fenced  # raw keeps what the model wrote


@pytest.mark.parametrize("method", METHODS)
def test_chatter_around_the_object_is_accepted(method: StructuredMethod) -> None:
    with FakeOpenAI([Reply(content=f"Here is the verdict: {json.dumps(GOOD)} Let me know!")]) as fake:
        reply = ask(fake, method)
    assert reply.draft == EXPECTED


def test_arguments_encoded_twice_are_accepted() -> None:
    # Some servers send the tool arguments as a JSON string holding the object.
    with FakeOpenAI([Reply(content=json.dumps(json.dumps(GOOD)))]) as fake:
        reply = ask(fake, "function_calling")
    assert reply.draft == EXPECTED


# ------------------------------------------------------------------------------ content problems


@pytest.mark.parametrize("method", METHODS)
def test_invalid_json(method: StructuredMethod) -> None:
    with FakeOpenAI([Reply(content='{"name": "Acme", "level": high}'), Reply(content=GOOD)]) as fake:
        reply = ask(fake, method)
    failed(reply, fake, "invalid JSON")
    assert reply.raw == '{"name": "Acme", "level": high}'


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ({"name": "Acme", "level": "high"}, "note: Field required"),
        ({**GOOD, "level": "medium"}, "level: Input should be 'low' or 'high'"),
        ({**GOOD, "note": "x" * 41}, "note: String should have at most 40 characters"),
        (["not", "an", "object"], "(root): Input should be a valid dictionary"),
    ],
    ids=["missing-field", "wrong-enum", "over-long", "not-an-object"],
)
def test_schema_violation(method: StructuredMethod, content: Any, expected: str) -> None:
    with FakeOpenAI([Reply(content=content)]) as fake:
        reply = ask(fake, method)
    failed(reply, fake, "schema violation: ")
    assert expected in str(reply.error)


def test_schema_violations_are_summarised() -> None:
    with FakeOpenAI([Reply(content={f"x{i}": "y" * 500 for i in range(10)})]) as fake:
        reply = ask(fake)
    failed(reply, fake, "schema violation: ")
    items = str(reply.error).removeprefix("schema violation: ").split("; ")
    assert len(items) == 3  # name, level and note all missing
    assert all(len(item) <= 120 for item in items)


@pytest.mark.parametrize("method", METHODS)
def test_truncated_at_the_length_limit(method: StructuredMethod) -> None:
    cut = json.dumps(GOOD)[:30]
    with FakeOpenAI([Reply(content=cut, finish_reason="length", usage={"completion_tokens": 1500})]) as fake:
        reply = ask(fake, method)
    failed(reply, fake, "truncated at the length limit (finish_reason=length)")
    assert reply.raw == cut and reply.output_tokens == 1500 and reply.finish_reason == "length"


def test_cut_off_when_all_max_tokens_are_used_whatever_the_finish_reason() -> None:
    # llama.cpp's server reports finish_reason "tool_calls" for a tool call it cut off at max_tokens.
    cut = json.dumps(GOOD)[:30]
    with FakeOpenAI([Reply(content=cut, usage={"prompt_tokens": 900, "completion_tokens": 200})]) as fake:
        reply = ask(fake, "function_calling", max_tokens=200, send_max_tokens_in_body=True)
    failed(reply, fake, "truncated at the length limit (all 200 max_tokens used, finish_reason=tool_calls)")
    assert fake.requests[0]["max_tokens"] == 200


@pytest.mark.parametrize("method", METHODS)
def test_refusal(method: StructuredMethod) -> None:
    with FakeOpenAI([Reply(refusal="I can't assist with that request.")]) as fake:
        reply = ask(fake, method)
    failed(reply, fake, "refused: I can't assist with that request.")


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("content_type", ["text/html", "application/json"])
def test_html_body_on_a_200(method: StructuredMethod, content_type: str) -> None:
    page = "<html><body><h1>502 Bad Gateway</h1></body></html>"
    with FakeOpenAI([Reply(body=page, content_type=content_type)]) as fake:
        reply = ask(fake, method)
    failed(reply, fake, "non-JSON response body")
    assert reply.raw == page


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"error": {"message": "model overloaded"}}', "error in the response body: model overloaded"),
        ('{"object": "chat.completion", "choices": []}', "malformed response body (no choices)"),
    ],
    ids=["error-object", "no-choices"],
)
def test_json_body_that_is_no_completion(method: StructuredMethod, body: str, expected: str) -> None:
    with FakeOpenAI([Reply(body=body)]) as fake:
        reply = ask(fake, method)
    failed(reply, fake, expected)


@pytest.mark.parametrize("method", METHODS)
def test_empty_content(method: StructuredMethod) -> None:
    with FakeOpenAI([Reply(content="")]) as fake:
        reply = ask(fake, method)
    failed(reply, fake, "empty reply")


@pytest.mark.parametrize("method", METHODS)
def test_oversized_reply(method: StructuredMethod) -> None:
    huge = json.dumps({**GOOD, "note": "x" * 250_000})
    with FakeOpenAI([Reply(content=huge)]) as fake:
        reply = ask(fake, method)
    failed(reply, fake, f"reply too large ({len(huge)} characters)")
    assert len(reply.raw) == 4000


def test_oversized_non_json_body() -> None:
    with FakeOpenAI([Reply(body="x" * 300_000, content_type="text/plain")]) as fake:
        reply = ask(fake)
    failed(reply, fake, "reply too large (300000 characters)")


def test_unexpected_client_exception_is_a_failed_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(RawChatOpenAI, "_generate", explode)
    with FakeOpenAI([]) as fake:
        reply = ask(fake)
    assert reply.draft is None and reply.requests == 1
    assert reply.error == "unexpected RuntimeError: something nobody expected"


# ---------------------------------------------------------------------------- transport problems


@pytest.mark.parametrize("method", METHODS)
def test_429_honours_retry_after_capped_at_the_max_wait(method: StructuredMethod) -> None:
    with FakeOpenAI([Reply(status=429, headers={"Retry-After": "30"}), Reply(content=GOOD)]) as fake:
        start = time.monotonic()
        reply = ask(fake, method)  # retry_wait_max_s=0.05 caps the 30 s the server asked for
        elapsed = time.monotonic() - start
    assert reply.draft == EXPECTED
    assert reply.requests == 2 and fake.calls == 2
    assert elapsed < 1.0


def test_429_waits_as_long_as_retry_after_asks_below_the_cap() -> None:
    with FakeOpenAI([Reply(status=429, headers={"Retry-After": "0.3"}), Reply(content=GOOD)]) as fake:
        start = time.monotonic()
        reply = ask(fake, retry_wait_max_s=5)
        elapsed = time.monotonic() - start
    assert reply.draft == EXPECTED and reply.requests == 2
    assert 0.3 <= elapsed < 2.0


def test_retry_after_formats() -> None:
    def error(headers: dict[str, str]) -> Exception:
        exc = Exception()
        exc.response = httpx.Response(429, headers=headers)  # type: ignore[attr-defined]
        return exc

    now = datetime(2026, 11, 20, 9, tzinfo=UTC)
    later = email.utils.format_datetime(now + timedelta(seconds=12), usegmt=True)
    assert retry_after_seconds(error({"Retry-After": "7"})) == 7
    assert retry_after_seconds(error({"retry-after-ms": "250"})) == 0.25
    assert retry_after_seconds(error({"Retry-After": later}), now=now.timestamp) == 12
    assert retry_after_seconds(error({"Retry-After": "soon"})) is None
    assert retry_after_seconds(error({})) is None
    assert retry_after_seconds(None) is None


@pytest.mark.parametrize("method", METHODS)
def test_500_three_times_is_a_dependency_error(method: StructuredMethod) -> None:
    with (
        FakeOpenAI([Reply(status=500)] * 3 + [Reply(content=GOOD)]) as fake,
        pytest.raises(DependencyError, match=r"unavailable after 3 tries \(HTTP 500") as caught,
    ):
        ask(fake, method)
    assert fake.calls == 3  # the scripted success after them is never asked for
    assert isinstance(caught.value, ModelUnavailable) and caught.value.requests == 3


def test_5xx_and_408_then_success_are_retried() -> None:
    # 408 Request Timeout is a timeout, so it is retried like one (the only 4xx besides 429 that is).
    with FakeOpenAI([Reply(status=503), Reply(status=408), Reply(content=GOOD)]) as fake:
        reply = ask(fake)
    assert reply.draft == EXPECTED and reply.requests == 3 and fake.calls == 3


@pytest.mark.parametrize("method", METHODS)
def test_401_is_a_dependency_error_after_one_request(method: StructuredMethod) -> None:
    with (
        FakeOpenAI([Reply(status=401), Reply(content=GOOD)]) as fake,
        pytest.raises(DependencyError, match=r"refused the request \(HTTP 401") as caught,
    ):
        ask(fake, method)
    assert fake.calls == 1
    assert isinstance(caught.value, ModelUnavailable) and caught.value.requests == 1


def test_dropped_connections_are_retried_then_a_dependency_error() -> None:
    with (
        FakeOpenAI([Reply(disconnect=True)] * 3) as fake,
        pytest.raises(DependencyError, match=r"after 3 tries \(connection failed\)"),
    ):
        ask(fake)
    assert fake.calls == 3


def test_timeouts_are_retried_then_a_dependency_error() -> None:
    with (
        FakeOpenAI([Reply(content=GOOD, delay_s=1.0)] * 2) as fake,
        pytest.raises(DependencyError, match=r"after 2 tries \(timed out\)"),
    ):
        ask(fake, timeout_s=0.2, retry_attempts=2)
    assert fake.calls == 2


# ----------------------------------------------------------------------------------- the fake itself


def test_fake_answers_500_when_the_script_runs_out_and_404_elsewhere() -> None:
    with FakeOpenAI([]) as fake:
        exhausted = httpx.post(f"{fake.base_url}/chat/completions", json={"model": "m", "messages": []})
        elsewhere = httpx.post(f"{fake.base_url}/embeddings", json={})
    assert exhausted.status_code == 500 and "script exhausted" in exhausted.json()["error"]["message"]
    assert elsewhere.status_code == 404
    assert fake.requests == [{"model": "m", "messages": []}]  # only chat completions are recorded
