"""The only place a chat model is built and called.

`ChatOpenAI` with structured output into `BriefDraft`, against any OpenAI-compatible endpoint.
tenacity owns the retries (the client's own are off so the count and waits are ours): timeouts,
connection errors, 429 and 5xx, with exponential backoff and jitter. After the last try a
`DependencyError` tells the graph to fall back to the offline drafter.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import openai
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import Runnable
from langchain_openai import ChatOpenAI
from tenacity import (
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from agent.brief import ACTION_CATALOGUE, RISK_CATEGORIES, BriefDraft
from agent.config import ModelSettings
from prompts import render_prompt
from tools.errors import DependencyError
from tools.models import Signal
from tools.verify import EvidenceRecord, VerificationFailure


@dataclass
class ModelReply:
    """One structured-output call: the parsed draft, or why it could not be parsed, and its cost."""

    draft: BriefDraft | None
    error: str | None
    raw: str
    input_tokens: int
    output_tokens: int
    prompt_version: str


def build_chat_model(settings: ModelSettings) -> ChatOpenAI:
    """A chat model for `settings`; a placeholder key lets keyless local servers work."""
    extra_body = {"max_tokens": settings.max_tokens} if settings.send_max_tokens_in_body else None
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=settings.api_key or "not-needed",  # type: ignore[arg-type]  # pydantic coerces to SecretStr
        temperature=settings.temperature,
        max_tokens=None if settings.send_max_tokens_in_body else settings.max_tokens,  # type: ignore[call-arg]
        timeout=settings.timeout_s,
        max_retries=0,
        extra_body=extra_body,
    )


def structured_drafter(settings: ModelSettings) -> Runnable[Any, dict[str, Any]]:
    """The model bound to the draft schema; `include_raw` keeps usage and parse errors instead of raising."""
    return build_chat_model(settings).with_structured_output(
        BriefDraft, method=settings.structured_method, include_raw=True
    )


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, openai.APITimeoutError | openai.APIConnectionError | openai.RateLimitError):
        return True
    return isinstance(exc, openai.APIStatusError) and exc.status_code >= 500


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APITimeoutError):
        return "timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "connection failed"
    return type(exc).__name__


def call_with_retries(settings: ModelSettings, runnable: Runnable[Any, dict[str, Any]], messages: list[Any]) -> Any:
    """Invoke with tenacity's exponential backoff and jitter; `DependencyError` after the last try."""
    retrying = Retrying(
        stop=stop_after_attempt(settings.retry_attempts),
        wait=wait_exponential_jitter(
            multiplier=settings.retry_wait_min_s, max=settings.retry_wait_max_s, jitter=settings.retry_wait_min_s
        ),
        retry=retry_if_exception(_retryable),
        reraise=False,
    )
    try:
        return retrying(runnable.invoke, messages)
    except RetryError as exc:
        last = exc.last_attempt.exception()
        detail = _describe(last) if last else "no answer"
        raise DependencyError(
            f"model endpoint {settings.base_url or 'api.openai.com'} unavailable after "
            f"{settings.retry_attempts} tries ({detail})"
        ) from None
    except openai.APIError as exc:  # not retryable (400, 401, 404, ...): no point trying again
        raise DependencyError(f"model endpoint refused the request ({_describe(exc)}: {exc})") from None


# ------------------------------------------------------------------------------------------ prompts


def _quote(text: str) -> str:
    # Escaped so evidence text can't close its own <evidence> element and pose as prompt text.
    return html.escape(text, quote=False)


def render_evidence(evidence: dict[str, EvidenceRecord]) -> str:
    return "\n".join(
        f'<evidence id="{_quote(r.id)}" kind="{r.kind}" date="{r.date or ""}">\n{_quote(r.text)}\n</evidence>'
        for r in evidence.values()
    )


def render_signals(signals: Sequence[Signal]) -> str:
    lines = []
    for s in signals:
        ids = ", ".join(e.id for e in s.evidence)
        lines.append(f"- {s.signal} (severity {s.severity}, first detected {s.first_detected}): {s.summary} [{ids}]")
    return "\n".join(lines) or "- none"


def _catalogue() -> str:
    return "\n".join(f"   - {e.kind}: {e.title} (owner {e.owner})" for e in ACTION_CATALOGUE.values())


def _common_values(
    facts: Sequence[str], signals: Sequence[Signal], evidence: dict[str, EvidenceRecord]
) -> dict[str, str]:
    return {
        "categories": ", ".join(RISK_CATEGORIES),
        "catalogue": _catalogue(),
        "facts": "\n".join(f"- {f}" for f in facts),
        "signals": render_signals(signals),
        "evidence": render_evidence(evidence) or "(no text evidence)",
    }


def _invoke(settings: ModelSettings, prompt: str, values: dict[str, str]) -> ModelReply:
    system, user, version = render_prompt(prompt, values)
    messages = (
        [SystemMessage(system), HumanMessage(user)]
        if settings.system_message
        else [HumanMessage(f"{system}\n\n{user}")]
    )
    result = call_with_retries(settings, structured_drafter(settings), messages)
    raw = result.get("raw")
    usage = getattr(raw, "usage_metadata", None) or {}
    parsed = result.get("parsed")
    error = result.get("parsing_error")
    raw_text = ""
    if raw is not None:
        calls = getattr(raw, "tool_calls", None)
        broken = getattr(raw, "invalid_tool_calls", None)
        if calls:
            raw_text = json.dumps(calls[0].get("args"), default=str)
        elif broken:
            # Unparseable tool arguments (often cut off at max_tokens): keep them for the repair prompt.
            raw_text = str(broken[0].get("args") or "")
            error = error or f"the tool call's arguments are not valid JSON: {str(broken[0].get('error'))[:200]}"
        else:
            raw_text = str(getattr(raw, "content", ""))
    if parsed is None and error is None:
        error = "the model returned no structured draft"
    return ModelReply(
        draft=parsed if isinstance(parsed, BriefDraft) else None,
        error=None if isinstance(parsed, BriefDraft) else str(error)[:500],
        raw=raw_text[:4000],
        input_tokens=int(usage.get("input_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", 0)),
        prompt_version=version,
    )


def draft_with_model(
    settings: ModelSettings, facts: Sequence[str], signals: Sequence[Signal], evidence: dict[str, EvidenceRecord]
) -> ModelReply:
    """First draft. Raises `DependencyError` when the endpoint stays unavailable."""
    return _invoke(settings, "draft_brief", _common_values(facts, signals, evidence))


def repair_with_model(
    settings: ModelSettings,
    facts: Sequence[str],
    signals: Sequence[Signal],
    evidence: dict[str, EvidenceRecord],
    failures: Sequence[VerificationFailure],
    previous: str,
) -> ModelReply:
    """One repair pass: the failures listed, the previous draft shown."""
    values = _common_values(facts, signals, evidence)
    values["failures"] = "\n".join(f"- {f.code} at {f.where}: {f.message}" for f in failures) or "- none"
    values["previous"] = previous or "(empty)"
    return _invoke(settings, "repair_brief", values)
