"""The only place a chat model is built and called.

`ChatOpenAI` against any OpenAI-compatible endpoint, asked for one JSON object that follows a pydantic
schema (`call_structured`; `draft_with_model` and `repair_with_model` ask for the brief's draft). A
model's reply can never crash a brief:

- We never let the SDK parse. The schema goes out as a plain request field: `json_schema` sends a
  `response_format` with `strict: false` through `extra_body` (as a `response_format` kwarg,
  langchain-openai would call the SDK's `chat.completions.parse`, which raises on truncated or
  unparseable replies; this way it calls plain `chat.completions.create`); `function_calling` binds
  one tool and forces it with `tool_choice`; `json_mode` sends `{"type": "json_object"}` and puts the
  schema in the prompt. We read the raw reply ourselves: `RawChatOpenAI` keeps the tool call's
  arguments exactly as sent and hands back a response langchain-openai can't read, then we take the
  arguments or the content, strip code fences and chatter around the object, `json.loads`, and
  `schema.model_validate`.
- Transport and availability problems (timeouts, connection errors, 408, 429, 5xx) are retried by
  tenacity with exponential backoff and jitter, honouring `Retry-After` up to `retry_wait_max_s`; the
  client's own retries are off, so one attempt is one HTTP request and the count and waits are ours.
  After the last try, or at once for any other 4xx, `ModelUnavailable` (a `DependencyError`) tells
  the graph to fall back to the offline drafter.
- Everything about the reply's content (invalid or truncated JSON, a schema violation, a refusal, an
  empty, oversized or non-JSON body, or any other exception while reading it) comes back as
  `ModelReply(draft=None, error=<short reason>)`: never raised, never retried here (the graph
  repairs once, then falls back).
"""

from __future__ import annotations

import dataclasses
import email.utils
import html
import json
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import openai
import pydantic
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_openai import ChatOpenAI
from pydantic import BaseModel
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from agent.brief import SIGNAL_CATEGORY, BriefDraft
from agent.config import ModelSettings
from prompts import render_prompt
from tools.errors import DependencyError
from tools.evidence import ContactFields, EmailFields, EvidenceRecord, Fact, SurveyFields, describe
from tools.redact import Redactor
from tools.registry import RISK_CATEGORIES
from tools.rulebook import ACTION_CATALOGUE, approval_needed

if TYPE_CHECKING:
    from tools.models import Signal


class FailureLike(Protocol):
    """What the repair prompt shows of one verification failure (`tools.verify.VerificationFailure`)."""

    @property
    def code(self) -> str: ...
    @property
    def where(self) -> str: ...
    @property
    def message(self) -> str: ...


MAX_REPLY_CHARS = 200_000
"""A reply longer than this is not parsed (a runaway model, or the wrong endpoint)."""
RAW_KEEP_CHARS = 4000
"""How much of a reply `ModelReply.raw` keeps, for the repair prompt and the logs."""
_MAX_SCHEMA_ERRORS = 5
_MAX_ERROR_ITEM_CHARS = 120


@dataclass
class ModelReply:
    """One structured-output call: the parsed object, or a short reason why there is none, and its cost."""

    draft: BaseModel | None
    error: str | None
    raw: str
    input_tokens: int
    output_tokens: int
    prompt_version: str
    requests: int = 1
    """HTTP requests this call made, retries included (the client's own retries are off)."""
    finish_reason: str | None = None


class ModelUnavailable(DependencyError):
    """The endpoint stayed unavailable or refused the request; `requests` says how many were sent."""

    def __init__(self, message: str, requests: int) -> None:
        super().__init__(message)
        self.requests = requests


# ------------------------------------------------------------------------------------------ the model

RAW_ARGUMENTS = "riskbrief_raw_arguments"
"""`AIMessage.additional_kwargs` key: the first tool call's arguments exactly as the model sent them."""


class UnreadableResponse(Exception):
    """langchain-openai could not turn a 200 response into a message; `payload` is what the SDK returned
    (a `str` for a non-JSON body, else the completion as the SDK built it)."""

    def __init__(self, payload: object) -> None:
        super().__init__(f"langchain-openai could not read a {type(payload).__name__} response")
        self.payload = payload


class RawChatOpenAI(ChatOpenAI):
    """`ChatOpenAI` that keeps the first tool call's arguments as sent (langchain parses them, and
    drops what it can't) and hands an unreadable response back as `UnreadableResponse`."""

    def _create_chat_result(self, response: dict | openai.BaseModel, generation_info: dict | None = None) -> ChatResult:
        try:
            result = super()._create_chat_result(response, generation_info)
        except Exception as exc:
            raise UnreadableResponse(response) from exc
        if not result.generations:  # `"choices": []`: langchain would fail later on generations[0]
            raise UnreadableResponse(response)
        arguments = _raw_arguments(_completion_dict(response))
        if arguments is not None:
            result.generations[0].message.additional_kwargs[RAW_ARGUMENTS] = arguments
        return result


def build_chat_model(settings: ModelSettings, extra_body: dict[str, Any] | None = None) -> ChatOpenAI:
    """A chat model for `settings`; a placeholder key lets keyless local servers work.

    `extra_body` is merged into the request body as is (langchain-openai does not look at it).
    """
    body = dict(extra_body or {})
    if settings.send_max_tokens_in_body:
        body["max_tokens"] = settings.max_tokens
    return RawChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=settings.api_key or "not-needed",  # type: ignore[arg-type]  # pydantic coerces to SecretStr
        temperature=settings.temperature,
        max_tokens=None if settings.send_max_tokens_in_body else settings.max_tokens,  # type: ignore[call-arg]
        timeout=settings.timeout_s,
        max_retries=0,
        use_responses_api=False,  # chat completions on every endpoint, whatever the model's name
        extra_body=body or None,
    )


def _schema_name(schema: type[BaseModel]) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", schema.__name__)[:64] or "Reply"


def structured_runnable(settings: ModelSettings, schema: type[BaseModel]) -> Runnable[Any, BaseMessage]:
    """The chat model asked for `schema` by `settings.structured_method`; it returns the raw `AIMessage`."""
    name = _schema_name(schema)
    if settings.structured_method == "function_calling":
        tool = convert_to_openai_tool(schema)
        tool["function"]["name"] = name
        return build_chat_model(settings).bind_tools([tool], tool_choice=name)
    if settings.structured_method == "json_mode":
        return build_chat_model(settings, {"response_format": {"type": "json_object"}})
    # A `response_format` kwarg would send langchain-openai down the SDK's `parse`, which raises on
    # length-truncated or unparseable replies; in `extra_body` it reaches the wire untouched.
    response_format = {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": schema.model_json_schema(), "strict": False},
    }
    return build_chat_model(settings, {"response_format": response_format})


def _json_mode_messages(schema: type[BaseModel], messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    # JSON mode carries no schema (and OpenAI wants the word JSON in the prompt): put it in the last turn.
    hint = "\n\nAnswer with one JSON object, nothing else, that follows this JSON schema:\n" + json.dumps(
        schema.model_json_schema(), separators=(",", ":")
    )
    out = list(messages)
    if out and isinstance(out[-1], HumanMessage) and isinstance(out[-1].content, str):
        out[-1] = HumanMessage(out[-1].content + hint)
    else:
        out.append(HumanMessage(hint.strip()))
    return out


# ------------------------------------------------------------------------------------------ retries


_RETRYABLE_STATUS = frozenset({408, 429})


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500)


def retry_after_seconds(exc: BaseException | None, now: Callable[[], float] = time.time) -> float | None:
    """The wait an error response asks for (`retry-after-ms`, or `Retry-After` in seconds or as an
    HTTP date), or None."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    for header, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(header)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except ValueError:
            if header == "retry-after-ms":
                continue
            try:
                when = email.utils.parsedate_to_datetime(value)
            except (TypeError, ValueError, IndexError):
                continue
            seconds = when.timestamp() - now()
        if math.isfinite(seconds):
            return max(0.0, seconds)
    return None


def _wait(settings: ModelSettings) -> Callable[[RetryCallState], float]:
    backoff = wait_exponential_jitter(
        multiplier=settings.retry_wait_min_s,
        min=settings.retry_wait_min_s,
        max=settings.retry_wait_max_s,
        jitter=settings.retry_wait_min_s,
    )

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = retry_after_seconds(exc)
        if asked is not None:
            return min(asked, settings.retry_wait_max_s)
        return float(backoff(state))

    return wait


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        message = _error_message(exc)
        return f"HTTP {exc.status_code}" + (f": {message}" if message else "")
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    return type(exc).__name__


def _error_message(exc: openai.APIStatusError) -> str:
    body = exc.body
    if isinstance(body, dict):
        body = body.get("message", body)
    return _clip(str(body) if body is not None else "", 200)


# ------------------------------------------------------------------------------------------ parsing


_FENCE = re.compile(r"```[ \t]*[A-Za-z0-9_-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def strip_fences(text: str) -> str:
    """The inside of the first markdown code fence (a missing closing fence is tolerated), else `text`."""
    match = _FENCE.search(text)
    return match.group(1).strip() if match else text.strip()


def _first_json(text: str) -> Any:
    try:
        return json.loads(text)  # the usual case; also keeps a ``` inside a string value intact
    except json.JSONDecodeError as exc:
        first = exc
    candidates = [strip_fences(text), text] if "```" in text else [text]
    for body in candidates:
        try:
            return json.loads(body)
        except json.JSONDecodeError:
            pass
        start = body.find("{")
        if start >= 0:
            try:
                return json.JSONDecoder().raw_decode(body, start)[0]
            except json.JSONDecodeError:
                pass
    raise first


def extract_json(text: str) -> Any:
    """The JSON value in `text`: fences stripped; when chatter surrounds it, the first complete object.

    Raises `json.JSONDecodeError` when there is none.
    """
    value = _first_json(text.strip())
    if isinstance(value, str) and value.lstrip().startswith("{"):
        value = json.loads(value)  # arguments encoded twice, as a JSON string holding the object
    return value


def summarise_validation(exc: pydantic.ValidationError) -> str:
    """`field.path: message; ...`, at most five items of at most 120 characters each."""
    items = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err.get("loc", ())) or "(root)"
        items.append(_clip(f"{where}: {err.get('msg', '')}", _MAX_ERROR_ITEM_CHARS))
    more = len(items) - _MAX_SCHEMA_ERRORS
    text = "; ".join(items[:_MAX_SCHEMA_ERRORS])
    return text + (f" (+{more} more)" if more > 0 else "")


@dataclass
class _Reply:
    """What one 200 response said, however it was read."""

    text: str
    refusal: str | None = None
    finish_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            part if isinstance(part, str) else str(part.get("text") or "")
            for part in content
            if isinstance(part, str) or (isinstance(part, dict) and part.get("type", "text") in ("text", "output_text"))
        )
    return json.dumps(content, ensure_ascii=False, default=str)


def _from_message(message: AIMessage) -> _Reply:
    """The first tool call's arguments as the model wrote them, else the content."""
    raw_args = message.additional_kwargs.get(RAW_ARGUMENTS)
    if isinstance(raw_args, str):
        text = raw_args
    elif message.tool_calls:
        text = json.dumps(message.tool_calls[0].get("args"), ensure_ascii=False, default=str)
    elif message.invalid_tool_calls:
        text = str(message.invalid_tool_calls[0].get("args") or "")
    else:
        text = _text_of(message.content)
    refusal = message.additional_kwargs.get("refusal")
    if not refusal and isinstance(message.content, list):
        refusal = next(
            (
                b.get("refusal") or "no reason given"
                for b in message.content
                if isinstance(b, dict) and b.get("type") == "refusal"
            ),
            None,
        )
    usage: Mapping[str, Any] = message.usage_metadata or {}
    return _Reply(
        text=text,
        refusal=str(refusal) if refusal else None,
        finish_reason=message.response_metadata.get("finish_reason"),
        input_tokens=int(usage.get("input_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
    )


def _completion_dict(response: object) -> dict[str, Any] | None:
    if isinstance(response, dict):
        return response
    if isinstance(response, openai.BaseModel):
        try:
            return response.model_dump(exclude_unset=True, warnings=False)
        except Exception:  # a body the SDK constructed without validation may not dump
            return None
    return None


def _first_choice_message(completion: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]] | None:
    choices = completion.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    message = choices[0].get("message")
    return (choices[0], message) if isinstance(message, dict) else None


def _raw_arguments(completion: dict[str, Any] | None) -> str | None:
    """The first tool call's `function.arguments`, exactly as sent."""
    found = _first_choice_message(completion) if completion else None
    calls = found[1].get("tool_calls") if found else None
    if not isinstance(calls, list) or not calls or not isinstance(calls[0], dict):
        return None
    arguments = (calls[0].get("function") or {}).get("arguments")
    if arguments is None or isinstance(arguments, str):
        return arguments or ""
    return json.dumps(arguments, ensure_ascii=False, default=str)


def _from_completion(completion: dict[str, Any]) -> _Reply | None:
    """A chat.completion body read by hand, for when langchain-openai could not read it."""
    found = _first_choice_message(completion)
    if found is None:
        return None
    choice, message = found
    arguments = _raw_arguments(completion)
    usage: dict[str, Any] = completion["usage"] if isinstance(completion.get("usage"), dict) else {}
    refusal = message.get("refusal")
    return _Reply(
        text=arguments if arguments is not None else _text_of(message.get("content")),
        refusal=str(refusal) if refusal else None,
        finish_reason=choice.get("finish_reason") if isinstance(choice.get("finish_reason"), str) else None,
        input_tokens=_int(usage.get("prompt_tokens")),
        output_tokens=_int(usage.get("completion_tokens")),
    )


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def judge(
    schema: type[BaseModel], reply: _Reply, max_tokens: int | None = None
) -> tuple[BaseModel | None, str | None, str]:
    """(object, None, raw text) or (None, short reason, raw text) for one reply; never raises.

    With `max_tokens`, a reply that used them all counts as cut off even when the server does not say
    `finish_reason=length` (llama.cpp's server says `tool_calls`).
    """
    finish, text = reply.finish_reason, reply.text
    if finish == "length":
        cut: str | None = "finish_reason=length"
    elif max_tokens and reply.output_tokens >= max_tokens:
        cut = f"all {max_tokens} max_tokens used, finish_reason={finish}"
    else:
        cut = None
    if reply.refusal is not None:
        return None, f"refused: {_clip(reply.refusal, 200)}", reply.refusal
    if len(text) > MAX_REPLY_CHARS:
        return None, f"reply too large ({len(text)} characters)", text
    if finish == "content_filter":
        return None, "refused: stopped by the provider's content filter (finish_reason=content_filter)", text
    if not text.strip():
        return None, f"truncated at the length limit ({cut})" if cut else "empty reply", text
    try:
        value = extract_json(text)
    except json.JSONDecodeError as exc:
        if cut:
            return None, f"truncated at the length limit ({cut})", text
        return None, f"invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", text
    try:
        # A reply that parses and validates is whole even when it stopped at the length limit: accepted.
        return schema.model_validate(value), None, text
    except pydantic.ValidationError as exc:
        return None, f"schema violation{f' ({cut})' if cut else ''}: {summarise_validation(exc)}", text


def parse_reply(schema: type[BaseModel], message: AIMessage) -> tuple[BaseModel | None, str | None, str]:
    """`judge` for a raw `AIMessage`."""
    return judge(schema, _from_message(message))


def _failed_read(
    schema: type[BaseModel], exc: Exception, max_tokens: int | None = None
) -> tuple[BaseModel | None, str | None, str, _Reply | None]:
    """(object, reason, raw text, reply) for an exception raised while the client read a 200 response.

    A completion langchain-openai could not turn into a message is read by hand, so even it may parse.
    """
    payload: object = exc.payload if isinstance(exc, UnreadableResponse) else None
    if isinstance(exc, json.JSONDecodeError):
        payload = exc.doc
    elif isinstance(exc, openai.APIResponseValidationError):
        payload = exc.body if isinstance(exc.body, str | dict) else str(exc.body)
    if isinstance(payload, str):
        body: str = payload
        if len(body) > MAX_REPLY_CHARS:
            return None, f"reply too large ({len(body)} characters)", body, None
        try:
            payload = json.loads(body)
        except json.JSONDecodeError:
            return None, "non-JSON response body", body, None
    completion = _completion_dict(payload)
    if completion is not None:
        raw = json.dumps(completion, ensure_ascii=False, default=str)
        error = completion.get("error")
        if error:
            message = error.get("message", error) if isinstance(error, dict) else error
            return None, f"error in the response body: {_clip(str(message), 200)}", raw, None
        reply = _from_completion(completion)
        if reply is None:
            return None, "malformed response body (no choices)", raw, None
        draft, reason, text = judge(schema, reply, max_tokens)
        return draft, reason, text, reply
    text = str(exc)
    return None, f"unexpected {type(exc).__name__}: {_clip(text, 200)}", text, None


# ------------------------------------------------------------------------------------------ the call


def call_structured(
    settings: ModelSettings,
    schema: type[BaseModel],
    messages: Sequence[BaseMessage],
    *,
    prompt_version: str = "",
) -> ModelReply:
    """Ask for one `schema` object. A reply that can't become one is a `ModelReply` with `error` set;
    `ModelUnavailable` (a `DependencyError`) only when the endpoint stays unavailable or refuses."""
    runnable = structured_runnable(settings, schema)
    sent = _json_mode_messages(schema, messages) if settings.structured_method == "json_mode" else list(messages)
    requests = 0

    def attempt() -> BaseMessage | Exception:
        nonlocal requests
        requests += 1  # one HTTP request per attempt: the client's own retries are off
        try:
            return runnable.invoke(sent)
        except (openai.APIStatusError, openai.APIConnectionError):
            raise
        except Exception as exc:  # about the reply's content: returned, so tenacity won't retry it
            return exc

    retrying = Retrying(
        stop=stop_after_attempt(max(1, settings.retry_attempts)),
        wait=_wait(settings),
        retry=retry_if_exception(_retryable),
        reraise=True,
    )
    endpoint = settings.base_url or "api.openai.com"
    try:
        result = retrying(attempt)
    except (openai.APIStatusError, openai.APIConnectionError) as exc:
        if _retryable(exc):
            message = f"model endpoint {endpoint} unavailable after {requests} tries ({_describe(exc)})"
        else:  # 400, 401, 404, ...: no point trying again
            message = f"model endpoint {endpoint} refused the request ({_describe(exc)})"
        raise ModelUnavailable(message, requests) from None

    reply: _Reply | None = None
    if isinstance(result, AIMessage):
        reply = _from_message(result)
        draft, error, raw = judge(schema, reply, settings.max_tokens)
    elif isinstance(result, Exception):
        draft, error, raw, reply = _failed_read(schema, result, settings.max_tokens)
    else:
        draft, error, raw, reply = None, f"unexpected {type(result).__name__} from the client", "", None
    return ModelReply(
        draft=draft,
        error=error,
        raw=raw[:RAW_KEEP_CHARS],
        input_tokens=reply.input_tokens if reply else 0,
        output_tokens=reply.output_tokens if reply else 0,
        prompt_version=prompt_version,
        requests=requests,
        finish_reason=reply.finish_reason if reply else None,
    )


# ------------------------------------------------------------------------------------------ prompts


def _quote(text: str) -> str:
    # Escaped so evidence text can't close its own <evidence> element and pose as prompt text.
    return html.escape(text, quote=False)


def _people(evidence: Mapping[str, EvidenceRecord], facts: Mapping[str, Fact] | None = None) -> list[str]:
    """People the brief's own records name: note authors, respondents, e-mail and event contacts, the CSM."""
    found: list[str] = []
    for r in evidence.values():
        f = r.fields
        found += [
            x
            for x in (
                r.author,
                f.respondent if isinstance(f, SurveyFields) else None,
                f.contact_name if isinstance(f, EmailFields | ContactFields) else None,
            )
            if x
        ]
    csm = (facts or {}).get("account.csm_owner")
    if csm is not None and csm.text.startswith("CSM "):
        found.append(csm.text.removeprefix("CSM "))
    return found


def prompt_redactor(
    facts: Mapping[str, Fact],
    evidence: Mapping[str, EvidenceRecord],
    names: Sequence[str] = (),
) -> Redactor:
    """The placeholders of one brief's prompts (`tools.redact`): contact data always; people's names (the
    records' own and `names`, e.g. the portfolio's contacts) when `RISKBRIEF_REDACT_NAMES=1`."""
    return Redactor.for_brief([*names, *_people(evidence, facts)])


def render_evidence(evidence: Mapping[str, EvidenceRecord], redactor: Redactor | None = None) -> str:
    """Each record: a typed header the tools wrote, then one line per span, `[span id, voice] words`, so the
    model can choose a span by id and sees whose words it is choosing. Contact data (and names, when
    configured) are placeholders (`tools.redact`)."""
    red = redactor or prompt_redactor({}, evidence)
    blocks = []
    for r in evidence.values():
        lines = [
            f"[{red.redact_ref(s.id)}, {s.voice}{', hedged' if s.hedged else ''}] {_quote(red.redact(s.text))}"
            for s in r.spans
        ]
        header = _quote(red.redact(describe(r)))
        blocks.append(
            f'<evidence id="{_quote(red.redact_ref(r.id))}" kind="{r.kind}">\n{header}\n'
            + "\n".join(lines)
            + "\n</evidence>"
        )
    return "\n".join(blocks)


def render_signals(signals: Sequence[Signal], redactor: Redactor | None = None) -> str:
    red = redactor or Redactor.for_brief()
    lines = []
    for s in signals:
        ids = ", ".join(red.redact_ref(e.id) for e in s.evidence)
        category = SIGNAL_CATEGORY.get(s.signal, "-")
        lines.append(f"- {s.signal} (severity {s.severity}, {category}) [{ids}]")
    return "\n".join(lines) or "- none"


def render_facts(facts: Mapping[str, Fact], redactor: Redactor | None = None) -> str:
    red = redactor or prompt_redactor(facts, {})
    return "\n".join(f"- {{{red.redact_ref(f.key)}}}: {_quote(red.redact(f.text))}" for f in facts.values()) or "- none"


def _catalogue() -> str:
    return "\n".join(
        f"   - {e.kind}: {e.title} (owner {e.owner}"
        + (f"; needs {who}'s approval" if (who := approval_needed(e.kind)) else "")
        + ")"
        for e in ACTION_CATALOGUE.values()
    )


def _common_values(
    facts: Mapping[str, Fact],
    signals: Sequence[Signal],
    evidence: Mapping[str, EvidenceRecord],
    redactor: Redactor | None = None,
) -> dict[str, str]:
    """The prompt's data, redacted with one redactor (its placeholders are numbered in this order, so a
    draft and its repair number them alike)."""
    red = redactor or prompt_redactor(facts, evidence)
    return {
        "categories": ", ".join(RISK_CATEGORIES),
        "catalogue": _catalogue(),
        "facts": render_facts(facts, red),
        "signals": render_signals(signals, red),
        "evidence": render_evidence(evidence, red) or "(no text evidence)",
    }


def _invoke(settings: ModelSettings, prompt: str, values: dict[str, str]) -> ModelReply:
    system, user, version = render_prompt(prompt, values)
    messages: list[BaseMessage] = (
        [SystemMessage(system), HumanMessage(user)]
        if settings.system_message
        else [HumanMessage(f"{system}\n\n{user}")]
    )
    return call_structured(settings, BriefDraft, messages, prompt_version=version)


def _restored(value: Any, redactor: Redactor) -> Any:
    if isinstance(value, str):
        return redactor.restore_refs_in(redactor.restore_ref(value))
    if isinstance(value, list):
        return [_restored(v, redactor) for v in value]
    if isinstance(value, dict):
        return {k: _restored(v, redactor) for k, v in value.items()}
    return value


def _restore_refs(reply: ModelReply, redactor: Redactor) -> ModelReply:
    """The reply with the ids and `{fact}` keys the prompt showed redacted (a contact's id holds a name)
    back as the tools know them; placeholders anywhere else stay, for the verifier to reject."""
    if reply.draft is None or not redactor.refs:
        return reply
    try:
        draft = type(reply.draft).model_validate(_restored(reply.draft.model_dump(mode="json"), redactor))
    except pydantic.ValidationError:
        return reply
    return dataclasses.replace(reply, draft=draft)


def draft_with_model(
    settings: ModelSettings,
    facts: Mapping[str, Fact],
    signals: Sequence[Signal],
    evidence: Mapping[str, EvidenceRecord],
    *,
    names: Sequence[str] = (),
) -> ModelReply:
    """First draft. Raises `DependencyError` (`ModelUnavailable`) when the endpoint stays unavailable.
    `names`: more people's names to redact when names are redacted (the portfolio's contacts)."""
    redactor = prompt_redactor(facts, evidence, names)
    reply = _invoke(settings, "draft_brief", _common_values(facts, signals, evidence, redactor))
    return _restore_refs(reply, redactor)


def repair_with_model(
    settings: ModelSettings,
    facts: Mapping[str, Fact],
    signals: Sequence[Signal],
    evidence: Mapping[str, EvidenceRecord],
    failures: Sequence[FailureLike],
    previous: str,
    *,
    names: Sequence[str] = (),
) -> ModelReply:
    """One repair pass: the failures listed, the previous draft shown (both redacted like the draft's
    prompt: the same values get the same placeholders)."""
    redactor = prompt_redactor(facts, evidence, names)
    values = _common_values(facts, signals, evidence, redactor)
    values["failures"] = (
        "\n".join(redactor.redact(f"- {f.code} at {f.where}: {f.message}") for f in failures) or "- none"
    )
    values["previous"] = _quote(redactor.redact(previous)[:RAW_KEEP_CHARS]) if previous else "(empty)"
    reply = _invoke(settings, "repair_brief", values)
    return _restore_refs(reply, redactor)
