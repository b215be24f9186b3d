"""The graph's state, declared once. Nodes return partial updates and never mutate it.

Values are plain JSON (dicts of the pydantic models' `model_dump(mode="json")`), so checkpoints
load in any process, under `LANGGRAPH_STRICT_MSGPACK` too, without registering our classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(kw_only=True)
class InputState:
    """What a caller gives: which account, which portfolio, as of when."""

    account_id: str
    """The account to review (`accounts.csv` `account_id`)."""
    data_dir: str
    """The portfolio directory."""
    as_of: str | None = None
    """ISO as-of date; None means the config's `as_of`, else today by the injected clock. Set by
    collect_account to the date actually used."""
    config_file: str | None = None
    """An explicit `riskbrief.toml`; None looks in the portfolio directory, then the working directory."""


@dataclass(kw_only=True)
class State(InputState):
    """Everything the run knows, step by step."""

    profile: dict[str, Any] = field(default_factory=dict)
    """The account row's descriptive fields the signal engine does not carry (segment, goals)."""
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The account's text records by evidence id (tickets, notes, objections, survey comments), as-of filtered."""
    assessment: dict[str, Any] = field(default_factory=dict)
    """The signal engine's `QueueEntry` for the account: scores, signals with evidence, not-evaluated."""
    account: dict[str, Any] = field(default_factory=dict)
    """The brief's account block (`AccountBlock`), copied from the tools."""
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)
    """The citable evidence pool by id (`EvidenceRecord`): signal evidence plus retrieved text."""
    draft: dict[str, Any] | None = None
    """The current `BriefDraft`, or None when the drafter produced nothing usable."""
    draft_error: dict[str, str] | None = None
    """Why there is no draft: `{"kind": "unavailable" | "invalid", "message": ...}`."""
    raw_draft: str = ""
    """The model's last raw answer, shown to it again when repairing."""
    repair_attempted: bool = False
    """Whether the model already had its one repair pass."""
    drafter: dict[str, Any] = field(default_factory=dict)
    """`DrafterInfo`: which drafter, fallback and why, model calls and tokens."""
    verification: dict[str, Any] | None = None
    """The verifier's `VerificationReport` on the current draft."""
    brief: dict[str, Any] | None = None
    """The assembled `RiskBrief` shown to the reviewer (after an edit, the edited one)."""
    decision: dict[str, Any] | None = None
    """The reviewer's `ReviewDecision`, the value the review interrupt resumed with."""
    applied: list[str] = field(default_factory=list)
    """What apply_decision recorded (review task, status change, outreach draft); empty without approval."""
    event_logged: bool = False
    """Whether the measurement event is in the events table."""
