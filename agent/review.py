"""The review store: reviews, decisions, the approved actions and the measurement events, in one
SQLite file of the workspace (`riskbrief.sqlite`).

Every write that follows a decision is keyed by the review (UNIQUE + `INSERT OR IGNORE`), so a resumed
or retried run never applies twice. Nothing here sends anything: an outreach is recorded as a draft.

A decision moves a review awaiting_review → deciding (the claim, with the decision) → approved/rejected,
and the final status is written last, once every effect and the graph's last checkpoint are on disk: a
review still 'deciding' is a decide that stopped part-way, and retrying it finishes that decision.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

from agent.brief import EDITABLE_FIELDS, RiskBrief
from tools import workspace
from tools.errors import InputError, shown

STORE_FILE = "riskbrief.sqlite"
EDIT_FILE_LIMIT = 1_000_000
"""Bytes read from a `--edit` file at most: a JSON object of brief fields is a few kilobytes."""
CRASH_AT = "RISKBRIEF_CRASH_AT"
DECIDE_STEPS = ("claim", "apply", "event", "checkpoint", "finish")
"""The steps of a decision, in order, each durable when it returns; `crash_point` can stop after any."""
CRASH_EXIT = 137
Triage = Literal["investigate", "escalate", "save_play", "monitor", "dismiss"]
DecisionKind = Literal["approve", "reject", "edit"]
PAST = {"approve": "approved", "reject": "rejected", "edit": "edited and approved"}
# The account status an approved triage records (a status change needs an approval: spec/brief.md).
TRIAGE_STATUS = {
    "investigate": "investigating",
    "escalate": "escalated",
    "save_play": "save_play",
    "monitor": "monitoring",
    "dismiss": "no_risk_false_positive",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    review_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    account_name TEXT,
    as_of TEXT,
    risk_level TEXT,
    brief_status TEXT,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'awaiting_review',
    decision TEXT,
    reviewer TEXT,
    decided_at TEXT,
    reason TEXT,
    triage TEXT,
    decision_json TEXT
);
CREATE TABLE IF NOT EXISTS review_tasks (
    task_id INTEGER PRIMARY KEY AUTOINCREMENT,
    review_id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    title TEXT NOT NULL,
    assignee TEXT,
    due TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    action_id INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    review_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    state TEXT NOT NULL,
    detail_json TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS edits (
    review_id TEXT NOT NULL,
    field TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT,
    edited_by TEXT NOT NULL,
    edited_at TEXT NOT NULL,
    UNIQUE (review_id, field)
);
CREATE TABLE IF NOT EXISTS events (
    event_id INTEGER PRIMARY KEY AUTOINCREMENT,
    review_id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    as_of TEXT,
    signals_json TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    risk_score REAL,
    brief_status TEXT,
    drafter TEXT,
    reviewer TEXT NOT NULL,
    decision TEXT NOT NULL,
    triage TEXT,
    option_kind TEXT,
    action_taken TEXT NOT NULL,
    reason TEXT,
    false_positive INTEGER,
    created_at TEXT,
    decided_at TEXT NOT NULL,
    logged_at TEXT NOT NULL,
    responded INTEGER,
    saved INTEGER,
    churned INTEGER,
    outcome TEXT,
    outcome_at TEXT,
    unresolved_reason TEXT
);
"""


class ReviewDecision(BaseModel):
    """The reviewer's decision: the value the review interrupt resumes with."""

    decision: DecisionKind
    reviewer: str = Field(min_length=1)
    decided_at: str
    reason: str | None = None
    triage: Triage | None = None
    option: int | None = Field(default=None, ge=1, description="the chosen next-action option, 1-based")
    edits: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> ReviewDecision:
        if self.decision == "reject":
            if not (self.reason and self.reason.strip()):
                raise ValueError("a rejection needs a reason (--reason TEXT)")
            if self.triage or self.option:
                raise ValueError("a rejection takes no triage or option")
        elif self.triage is None:
            self.triage = "investigate"
        if self.decision == "edit" and not self.edits:
            raise ValueError("an edit needs at least one changed field")
        return self

    @property
    def approved(self) -> bool:
        """Edit means "approve with these changes"; only reject withholds approval."""
        return self.decision in ("approve", "edit")

    def comparable(self) -> dict[str, Any]:
        """The decision without its timestamp, to recognise a retried identical decide."""
        return self.model_dump(mode="json", exclude={"decided_at"})


class ReviewRow(BaseModel):
    """One row of the reviews table."""

    review_id: str
    account_id: str
    account_name: str | None
    as_of: str | None
    risk_level: str | None
    brief_status: str | None
    created_at: str
    status: str
    decision: str | None
    reviewer: str | None
    decided_at: str | None
    reason: str | None
    triage: str | None
    decision_json: str | None

    def decided_message(self) -> str:
        verb = PAST.get(self.decision or "", self.status)
        return (
            f"review {self.review_id} was already decided "
            f"({verb} by {shown(self.reviewer)} at {shown(self.decided_at)})"
        )


def crash_point(step: str) -> None:
    """Fault injection for the crash tests: end the process at once, as kill -9 would (no cleanup, no
    commit), when RISKBRIEF_CRASH_AT names this step (one of DECIDE_STEPS). Does nothing otherwise."""
    if os.environ.get(CRASH_AT) == step:
        os._exit(CRASH_EXIT)


def store_path() -> Path:
    return workspace.sqlite_path(STORE_FILE)


@contextmanager
def connect(path: Path | None = None) -> Iterator[sqlite3.Connection]:
    """A connection to the review store, schema ensured; commits on success."""
    with closing(sqlite3.connect(path or store_path(), timeout=30)) as conn:
        conn.row_factory = sqlite3.Row
        conn.executescript(_SCHEMA)
        with conn:
            yield conn


# ------------------------------------------------------------------------------------------ reviews


def register_review(review_id: str, brief: RiskBrief, created_at: str) -> None:
    """Record a brief paused for review (idempotent: a resumed run re-enters the review node)."""
    with connect() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO reviews (review_id, account_id, account_name, as_of, risk_level, brief_status,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                review_id,
                brief.account.account_id,
                brief.account.name,
                brief.account.as_of,
                brief.risk_level,
                brief.status,
                created_at,
            ),
        )


def get_review(review_id: str) -> ReviewRow:
    """The review's row; an unknown id is an InputError."""
    with connect() as conn:
        row = conn.execute("SELECT * FROM reviews WHERE review_id = ?", (review_id,)).fetchone()
    if row is None:
        raise InputError(f"unknown review '{shown(review_id)}' in {store_path()} (see `riskbrief review list`)")
    return ReviewRow.model_validate(dict(row))


def list_reviews() -> list[ReviewRow]:
    """All reviews, newest first."""
    with connect() as conn:
        rows = conn.execute("SELECT * FROM reviews ORDER BY created_at DESC, review_id").fetchall()
    return [ReviewRow.model_validate(dict(r)) for r in rows]


def claim_review(review_id: str, decision: ReviewDecision) -> bool:
    """Atomically move an awaiting review to 'deciding' with this decision; False if someone got there first."""
    with connect() as conn:
        cursor = conn.execute(
            "UPDATE reviews SET status = 'deciding', decision = ?, reviewer = ?, decided_at = ?, reason = ?,"
            " triage = ?, decision_json = ? WHERE review_id = ? AND status = 'awaiting_review'",
            (
                decision.decision,
                decision.reviewer,
                decision.decided_at,
                decision.reason,
                decision.triage,
                decision.model_dump_json(),
                review_id,
            ),
        )
        return cursor.rowcount == 1


def finish_review(review_id: str, decision: ReviewDecision) -> None:
    """The last step of a claimed decision: 'deciding' → approved/rejected. Called once every effect and the
    graph's last checkpoint are written; a review already final is left as it is."""
    _mark_decided(review_id, decision, "deciding")
    crash_point("finish")


def finish_unclaimed(review_id: str, decision: ReviewDecision) -> None:
    """Mark decided a review whose graph was resumed outside `review decide` (e.g. from Studio), which
    nobody claimed; a claimed one is left to the decide that claimed it."""
    _mark_decided(review_id, decision, "awaiting_review")


def _mark_decided(review_id: str, decision: ReviewDecision, from_status: str) -> None:
    status = "approved" if decision.approved else "rejected"
    with connect() as conn:
        conn.execute(
            "UPDATE reviews SET status = ?, decision = ?, reviewer = ?, decided_at = ?, reason = ?, triage = ?,"
            " decision_json = ? WHERE review_id = ? AND status = ?",
            (
                status,
                decision.decision,
                decision.reviewer,
                decision.decided_at,
                decision.reason,
                decision.triage,
                decision.model_dump_json(),
                review_id,
                from_status,
            ),
        )


# --------------------------------------------------------------------------------------------- edits


def apply_edits(brief: RiskBrief, edits: dict[str, Any], source: str = "edit file") -> tuple[RiskBrief, list[str]]:
    """The brief with the reviewer's changes, and the fields that changed. Unknown or computed fields and
    invalid values are InputErrors naming the field."""
    for name in edits:
        if name not in RiskBrief.model_fields:
            raise InputError(f"{source}: unknown field '{shown(name)}' (editable: {', '.join(EDITABLE_FIELDS)})")
        if name not in EDITABLE_FIELDS:
            raise InputError(
                f"{source}: field '{name}' comes from the tools and can't be edited "
                f"(editable: {', '.join(EDITABLE_FIELDS)})"
            )
    data = brief.model_dump(mode="json")
    data.update(edits)
    try:
        edited = RiskBrief.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{source}: {where}: {first['msg']}") from None
    before = brief.model_dump(mode="json")
    after = edited.model_dump(mode="json")
    return edited, [name for name in edits if before[name] != after[name]]


def read_edit_file(path: Path) -> dict[str, Any]:
    """A JSON object of brief fields to change, from a file of at most EDIT_FILE_LIMIT bytes (read no
    further: `--edit /dev/zero` is an error, not an endless read)."""
    where = shown(path, limit=None)  # a path is escaped, never cut: the user needs all of it
    try:
        with open(path, "rb") as fh:
            raw = fh.read(EDIT_FILE_LIMIT + 1)
    except FileNotFoundError:
        raise InputError(f"{where}: edit file not found") from None
    except OSError as exc:  # a folder, no permission, ...
        raise InputError(f"{where}: can't read the edit file ({exc.strerror or exc})") from None
    if len(raw) > EDIT_FILE_LIMIT:
        raise InputError(
            f"{where}: edit file larger than {EDIT_FILE_LIMIT:,} bytes (expected a JSON object of brief fields)"
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{where}: not valid JSON ({shown(exc, 120)})") from None
    except RecursionError:
        raise InputError(f"{where}: not valid JSON (nested too deeply)") from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"{where}: expected a JSON object of brief fields to change")
    return data


def check_decision(brief: RiskBrief, decision: ReviewDecision, source: str = "edit file") -> None:
    """Validate a decision against the brief before anything is resumed (option in range, edits valid)."""
    edited = apply_edits(brief, decision.edits, source)[0] if decision.edits else brief
    if decision.option is not None and decision.option > len(edited.next_action_options):
        raise InputError(
            f"--option {decision.option}: the brief has {len(edited.next_action_options)} next-action options"
        )


# ------------------------------------------------------------------------------ applying a decision


def record_edits(
    review_id: str, before: RiskBrief, after: RiskBrief, fields: list[str], decision: ReviewDecision
) -> None:
    old = before.model_dump(mode="json")
    new = after.model_dump(mode="json")
    with connect() as conn:
        conn.executemany(
            "INSERT OR IGNORE INTO edits (review_id, field, before_json, after_json, edited_by, edited_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (review_id, f, json.dumps(old[f]), json.dumps(new[f]), decision.reviewer, decision.decided_at)
                for f in fields
            ],
        )


def apply_approved(review_id: str, brief: RiskBrief, decision: ReviewDecision) -> list[str]:
    """Carry out an approved decision once: the CSM review task, the account status change, and the
    chosen option as an outreach draft (customer-facing) or an internal task. Returns what was recorded."""
    if not decision.approved:
        raise ValueError("apply_approved needs an approval")  # a programming error, never user input
    account_id = brief.account.account_id
    task = brief.review_task
    applied = ["review_task"]
    status = TRIAGE_STATUS[decision.triage or "investigate"]
    actions: list[tuple[str, str, str, dict[str, Any]]] = [
        (f"{review_id}:status", "status_change", "recorded", {"account_status": status, "triage": decision.triage}),
    ]
    applied.append(f"status_change:{status}")
    if decision.option is not None:
        option = brief.next_action_options[decision.option - 1]
        kind = "outreach_draft" if option.customer_facing else "internal_task"
        detail = {
            "option": option.number,
            "option_kind": option.kind,
            "title": option.title,
            "owner": option.owner,
            "timing": option.timing,
            "why": option.why,
            "needs_approval_from": option.needs_approval_from,
        }
        if option.customer_facing:
            detail["subject"] = f"{brief.account.name}: {option.title}"
            detail["note"] = "draft only: riskbrief never sends messages"
        actions.append((f"{review_id}:option", kind, "draft" if option.customer_facing else "open", detail))
        applied.append(f"{kind}:{option.kind}")
    with connect() as conn:
        conn.execute(
            "INSERT OR IGNORE INTO review_tasks (review_id, account_id, title, assignee, due, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (review_id, account_id, task.title, task.assignee, task.due, decision.decided_at),
        )
        conn.executemany(
            "INSERT OR IGNORE INTO actions (idempotency_key, review_id, account_id, kind, state, detail_json,"
            " approved_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (key, review_id, account_id, kind, state, json.dumps(detail), decision.reviewer, decision.decided_at)
                for key, kind, state, detail in actions
            ],
        )
    crash_point("apply")
    return applied


def log_event(review_id: str, brief: RiskBrief, decision: ReviewDecision, applied: list[str], logged_at: str) -> None:
    """The measurement event of this review (once per review); outcome columns stay empty until known."""
    option_kind = (
        brief.next_action_options[decision.option - 1].kind
        if decision.approved and decision.option is not None
        else None
    )
    with connect() as conn:
        created = conn.execute("SELECT created_at FROM reviews WHERE review_id = ?", (review_id,)).fetchone()
        conn.execute(
            "INSERT OR IGNORE INTO events (review_id, account_id, as_of, signals_json, risk_level, risk_score,"
            " brief_status, drafter, reviewer, decision, triage, option_kind, action_taken, reason, false_positive,"
            " created_at, decided_at, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                review_id,
                brief.account.account_id,
                brief.account.as_of,
                json.dumps([s.signal for s in brief.signals]),
                brief.risk_level,
                brief.risk_score,
                brief.status,
                brief.drafter.name + (" (fallback)" if brief.drafter.fallback else ""),
                decision.reviewer,
                decision.decision,
                decision.triage,
                option_kind,
                ", ".join(applied) if applied else "none",
                decision.reason,
                None if not decision.approved else int(decision.triage == "dismiss"),
                created["created_at"] if created else None,
                decision.decided_at,
                logged_at,
            ),
        )
    crash_point("event")


def event_of(review_id: str) -> dict[str, Any] | None:
    """The measurement event logged for a review, if any."""
    with connect() as conn:
        row = conn.execute("SELECT * FROM events WHERE review_id = ?", (review_id,)).fetchone()
    return dict(row) if row else None


def table_counts(review_id: str | None = None) -> dict[str, int]:
    """Rows per table (for one review, or all): what tests and `review show` look at."""
    where, args = ("WHERE review_id = ?", (review_id,)) if review_id else ("", ())
    with connect() as conn:
        return {
            t: int(conn.execute(f"SELECT COUNT(*) FROM {t} {where}", args).fetchone()[0])  # fixed table names
            for t in ("review_tasks", "actions", "edits", "events")
        }
