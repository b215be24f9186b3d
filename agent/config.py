"""One settings object for the agent: the chat model and its retries, and the run context (clock,
retrieval depth) handed to every node through LangGraph's runtime context.

Model names never appear in nodes: they come from here. Environment variables win over
`riskbrief.toml`'s `[model]` table (spec/interface.md).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

from pydantic.json_schema import SkipJsonSchema

from tools.config import Config
from tools.errors import InputError

StructuredMethod = Literal["json_schema", "function_calling", "json_mode"]
_METHODS: tuple[StructuredMethod, ...] = ("json_schema", "function_calling", "json_mode")
DEFAULT_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class ModelSettings:
    """How to reach an OpenAI-compatible chat endpoint and how hard to try."""

    model: str
    base_url: str | None = None
    api_key: str | None = None
    structured_method: StructuredMethod = "json_schema"
    temperature: float = 0.0
    max_tokens: int = 1500
    timeout_s: float = 60.0
    retry_attempts: int = 3
    retry_wait_min_s: float = 1.0
    retry_wait_max_s: float = 8.0
    # llama.cpp's server ignores max_completion_tokens; it honours max_tokens sent in the body.
    send_max_tokens_in_body: bool = False
    # Some chat templates (Gemma's on llama.cpp) silently drop system messages: send the rules in the user turn.
    system_message: bool = True


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise InputError(f"environment variable {name}: '{raw}' is not a number") from None


def model_settings(config: Config | None = None, env: Mapping[str, str] | None = None) -> ModelSettings | None:
    """The model to draft with, or None for the offline drafter (no key, no endpoint, or
    `RISKBRIEF_DRAFTER=offline`)."""
    env = os.environ if env is None else env
    if env.get("RISKBRIEF_DRAFTER", "").lower() == "offline":
        return None
    file_model = config.model if config else None
    base_url = env.get("OPENAI_BASE_URL") or (file_model.base_url if file_model else None)
    api_key = env.get("OPENAI_API_KEY")
    if not base_url and not api_key:
        return None
    method = (
        env.get("RISKBRIEF_STRUCTURED_METHOD")
        or (file_model.structured_method if file_model else None)
        or "json_schema"
    )
    if method not in _METHODS:
        raise InputError(f"RISKBRIEF_STRUCTURED_METHOD: '{method}' is not one of {', '.join(_METHODS)}")
    return ModelSettings(
        model=env.get("RISKBRIEF_MODEL") or (file_model.name if file_model and file_model.name else DEFAULT_MODEL),
        base_url=base_url,
        api_key=api_key,
        structured_method=cast(StructuredMethod, method),  # checked against _METHODS above
        temperature=file_model.temperature if file_model else 0.0,
        max_tokens=int(_float(env, "RISKBRIEF_MAX_TOKENS", 1500)),
        timeout_s=_float(env, "RISKBRIEF_TIMEOUT", 60.0),
        retry_attempts=max(1, int(_float(env, "RISKBRIEF_RETRY_ATTEMPTS", 3))),
        retry_wait_min_s=_float(env, "RISKBRIEF_RETRY_WAIT_MIN", 1.0),
        retry_wait_max_s=_float(env, "RISKBRIEF_RETRY_WAIT_MAX", 8.0),
        send_max_tokens_in_body=method == "function_calling",
        system_message=env.get("RISKBRIEF_SYSTEM_MESSAGE", "true").lower() not in ("0", "false", "no"),
    )


def utc_now() -> datetime:
    """Now, by the tool's clock (tools.clock: RISKBRIEF_NOW fixes it)."""
    from tools import clock

    return clock.now()


def new_review_id(account_id: str, token: Callable[[], str] = lambda: secrets.token_hex(4)) -> str:
    """A short readable review id that is also the graph's thread id: `rv-A-017-1f2e3d4c`."""
    return f"rv-{account_id}-{token()}"


@dataclass
class AgentContext:
    """What every node may read besides the state: injected so runs repeat in tests.

    Not checkpointed: a resumed run passes its own (the decision's timestamp travels in the decision).
    """

    model: ModelSettings | None = None
    """The chat model; None runs the offline drafter."""
    # Hidden from the JSON schema: LangGraph Studio renders the context as a form and can't show a callable.
    now: SkipJsonSchema[Callable[[], datetime]] = field(default=utc_now)
    """The clock for timestamps; tests pass a fixed one so runs repeat."""
    retrieval_k: int = 5
    """Retrieved passages per query."""
    store_path: str | None = None
    """The vector store folder; None is the workspace's."""
    ingest_progress: bool = False
    """Show a progress bar when the store has to be built first."""
