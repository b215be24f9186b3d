"""The review store: reviews, decisions, the approved actions and the measurement events, in one
SQLite file of the workspace (`riskbrief.sqlite`), or in the team's Postgres when a database_url is
configured (`tools.db`: same SQL, versioned migrations in `SCHEMA`).

Every write that follows a decision is keyed by the review (UNIQUE + `ON CONFLICT DO NOTHING`), so a
resumed or retried run never applies twice. Nothing here sends anything: an outreach is recorded as a draft.
`riskbrief brief` keeps one pending review per account and as-of date (`pending_review`); a fresh draft
supersedes it (`supersede_pending`).

A decision moves a review awaiting_review → deciding (the claim, with the decision) → approved/rejected,
and the final status is written last, once every effect and the graph's last checkpoint are on disk: a
review still 'deciding' is a decide that stopped part-way, and retrying it finishes that decision.
"""

from __future__ import annotations

import json
import os
import re
import statistics
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from agent.brief import EDITABLE_FIELDS, RiskBrief
from tools import db, workspace
from tools.errors import InputError, shown
from tools.evidence import EvidenceRecord
from tools.rulebook import ACTION_CATALOGUE, approval_needed

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

_TABLES = """
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
    task_id {id},
    review_id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    title TEXT NOT NULL,
    assignee TEXT,
    due TEXT,
    status TEXT NOT NULL DEFAULT 'open',
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    action_id {id},
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
    event_id {id},
    review_id TEXT NOT NULL UNIQUE,
    account_id TEXT NOT NULL,
    as_of TEXT,
    signals_json TEXT NOT NULL,
    risk_level TEXT NOT NULL,
    risk_score {float},
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
CREATE TABLE IF NOT EXISTS outcomes (
    outcome_id {id},
    review_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    response TEXT NOT NULL,
    result TEXT NOT NULL,
    reason TEXT,
    recorded_by TEXT,
    recorded_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS reviewers (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    accounts_of TEXT,
    token_id TEXT NOT NULL UNIQUE,
    token_salt TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,
    reviewer TEXT,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
)
"""
PENDING = ("awaiting_review", "deciding")
"""A review's states before its decision is final (after: approved, rejected, or superseded by a fresh draft)."""


SCHEMA = db.Schema(
    name="review",
    sqlite_file=STORE_FILE,
    migrations=(
        db.Migration(
            1,
            "reviews, decisions, actions, edits, events, outcomes, reviewers, sessions",
            tuple(s for s in _TABLES.split(";") if s.strip()),
        ),
        db.Migration(
            2,
            "the brief and evidence kept with each review",
            (db.AddColumn("reviews", "brief_json", "TEXT"), db.AddColumn("reviews", "evidence_json", "TEXT")),
        ),
        db.Migration(
            3,
            "reviews superseded by a fresh draft",
            (
                db.AddColumn("reviews", "superseded_by", "TEXT"),
                "CREATE INDEX IF NOT EXISTS reviews_account ON reviews (account_id, as_of, status)",
                "CREATE INDEX IF NOT EXISTS outcomes_review ON outcomes (review_id)",
            ),
        ),
    ),
)
"""The review store's tables and their versions (`riskbrief db upgrade`; a SQLite file is migrated on first use)."""


class ReviewConflict(InputError):
    """The review was decided already, or superseded (exit 2 in the CLI, 409 in the inbox)."""


class ReviewDecision(BaseModel):
    """The reviewer's decision: the value the review interrupt resumes with."""

    decision: DecisionKind
    reviewer: str = Field(min_length=1)
    decided_at: str
    reason: str | None = None
    triage: Triage | None = None
    option: int | None = Field(default=None, ge=1, description="the chosen next-action option, 1-based")
    edits: dict[str, Any] = Field(default_factory=dict)
    acknowledged_stops: list[str] = Field(
        default_factory=list, description="the stop reasons of a 'not ready' brief the reviewer acknowledged"
    )

    @field_validator("reviewer")
    @classmethod
    def _printable(cls, value: str) -> str:
        # recorded and shown in lists, the inbox and reports: no terminal controls
        if not value.strip() or not value.isprintable():
            raise ValueError(f"reviewer '{shown(value)}' is empty or contains control characters")
        return value.strip()

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
    superseded_by: str | None = None

    def decided_message(self) -> str:
        if self.status == "superseded":
            return (
                f"review {self.review_id} was superseded by a fresh draft"
                + (f" (review {self.superseded_by})" if self.superseded_by else "")
                + ": decide that one"
            )
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


def store_name() -> str:
    """Where the review store is, for messages: the team database (host:port/name) or the SQLite file."""
    url = workspace.database_url()
    return f"database {db.describe_url(url)}" if url else str(store_path())


@contextmanager
def connect(path: Path | None = None, *, write: bool = True) -> Iterator[db.Connection]:
    """One transaction on the review store (the team's Postgres, else the workspace's SQLite file or `path`),
    committed when the block ends. `write=False` for reads: on SQLite they don't take the write lock."""
    with db.transaction(SCHEMA, write=write, path=path) as conn:
        yield conn


# ------------------------------------------------------------------------------------------ reviews


def register_review(review_id: str, brief: RiskBrief, created_at: str, evidence: dict[str, Any] | None = None) -> None:
    """Record a brief paused for review (idempotent: a resumed run re-enters the review node).

    The brief and the account's evidence pool are kept with the review, so the inbox, `review show` and
    `review decide` work for a review whose graph runs elsewhere (e.g. under `langgraph dev`)."""
    with connect() as conn:
        conn.execute(
            "INSERT INTO reviews (review_id, account_id, account_name, as_of, risk_level, brief_status, created_at,"
            " brief_json, evidence_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (
                review_id,
                brief.account.account_id,
                brief.account.name,
                brief.account.as_of,
                brief.risk_level,
                brief.status,
                created_at,
                brief.model_dump_json(),
                json.dumps(evidence) if evidence is not None else None,
            ),
        )
        conn.execute(  # a review registered by an earlier version: add what it lacks
            "UPDATE reviews SET brief_json = COALESCE(brief_json, ?), evidence_json = COALESCE(evidence_json, ?)"
            " WHERE review_id = ?",
            (brief.model_dump_json(), json.dumps(evidence) if evidence is not None else None, review_id),
        )


def pending_review(account_id: str, as_of: str) -> ReviewRow | None:
    """The account's pending review for this as-of date (awaiting review or being decided), if any: a second
    `brief` run returns it instead of drafting again."""
    with connect(write=False) as conn:
        row = conn.execute(
            "SELECT * FROM reviews WHERE account_id = ? AND as_of = ? AND status IN (?, ?)"
            " ORDER BY created_at DESC LIMIT 1",
            (account_id, as_of, *PENDING),
        ).fetchone()
    return ReviewRow.model_validate(dict(row)) if row else None


def supersede_pending(account_id: str, as_of: str, by: str) -> list[str]:
    """Make way for a fresh draft (`brief --fresh`, review id `by`): the account's review awaiting a decision
    for this as-of date is marked superseded by it. One being decided is not: a ReviewConflict."""
    with connect() as conn:
        deciding = conn.execute(
            "SELECT review_id FROM reviews WHERE account_id = ? AND as_of = ? AND status = 'deciding'",
            (account_id, as_of),
        ).fetchone()
        if deciding:
            raise ReviewConflict(
                f"review {deciding['review_id']} of {account_id} as of {as_of} is being decided: "
                "a fresh draft can follow its decision"
            )
        rows = conn.execute(
            "SELECT review_id FROM reviews WHERE account_id = ? AND as_of = ? AND status = 'awaiting_review'"
            " AND review_id <> ?",
            (account_id, as_of, by),
        ).fetchall()
        conn.execute(
            "UPDATE reviews SET status = 'superseded', superseded_by = ? WHERE account_id = ? AND as_of = ?"
            " AND status = 'awaiting_review' AND review_id <> ?",
            (by, account_id, as_of, by),
        )
    return [r["review_id"] for r in rows]


def stored_brief(review_id: str) -> RiskBrief | None:
    """The brief kept with the review (the edited one once an edit is applied), if any."""
    with connect(write=False) as conn:
        row = conn.execute("SELECT brief_json FROM reviews WHERE review_id = ?", (review_id,)).fetchone()
    return RiskBrief.model_validate_json(row["brief_json"]) if row and row["brief_json"] else None


def stored_briefs() -> dict[str, RiskBrief]:
    """Every brief kept with a review, by review id (one query, for the inbox)."""
    with connect(write=False) as conn:
        rows = conn.execute("SELECT review_id, brief_json FROM reviews WHERE brief_json IS NOT NULL").fetchall()
    return {r["review_id"]: RiskBrief.model_validate_json(r["brief_json"]) for r in rows}


def stored_evidence(review_id: str) -> dict[str, EvidenceRecord]:
    """The account's evidence pool kept with the review (what an edit may cite), by id."""
    with connect(write=False) as conn:
        row = conn.execute("SELECT evidence_json FROM reviews WHERE review_id = ?", (review_id,)).fetchone()
    if not row or not row["evidence_json"]:
        return {}
    return {k: EvidenceRecord.model_validate(v) for k, v in json.loads(row["evidence_json"]).items()}


def store_brief(review_id: str, brief: RiskBrief) -> None:
    """Keep the brief as it now is (after an applied edit)."""
    with connect() as conn:
        conn.execute("UPDATE reviews SET brief_json = ? WHERE review_id = ?", (brief.model_dump_json(), review_id))


def claimed_decision(review_id: str) -> ReviewDecision | None:
    """The decision already taken for this review in the store (claimed or final), if any: the review
    node resumes with it whatever value the graph was resumed with, so one decision holds everywhere."""
    with connect(write=False) as conn:
        row = conn.execute("SELECT status, decision_json FROM reviews WHERE review_id = ?", (review_id,)).fetchone()
    if row is None or row["status"] == "awaiting_review" or not row["decision_json"]:
        return None
    return ReviewDecision.model_validate_json(row["decision_json"])


def release_claim(review_id: str) -> None:
    """Undo a claim whose decision the graph refused (it re-interrupted): the review awaits a decision again."""
    with connect() as conn:
        conn.execute(
            "UPDATE reviews SET status = 'awaiting_review', decision = NULL, reviewer = NULL, decided_at = NULL,"
            " reason = NULL, triage = NULL, decision_json = NULL WHERE review_id = ? AND status = 'deciding'",
            (review_id,),
        )


def get_review(review_id: str) -> ReviewRow:
    """The review's row; an unknown id is an InputError."""
    with connect(write=False) as conn:
        row = conn.execute("SELECT * FROM reviews WHERE review_id = ?", (review_id,)).fetchone()
    if row is None:
        raise InputError(f"unknown review '{shown(review_id)}' in {store_name()} (see `riskbrief review list`)")
    return ReviewRow.model_validate(dict(row))


def list_reviews() -> list[ReviewRow]:
    """All reviews, newest first."""
    with connect(write=False) as conn:
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


def check_decision(
    brief: RiskBrief,
    decision: ReviewDecision,
    source: str = "edit file",
    *,
    evidence: Mapping[str, EvidenceRecord] | None = None,
) -> RiskBrief:
    """Validate a decision against the brief before anything is resumed (option in range, edits valid and
    re-verified against the account's evidence and the options catalogue); returns the brief as edited."""
    if decision.edits:
        _check_option_kinds(decision.edits, source)
        edited, fields = apply_edits(brief, decision.edits, source)
        verify_edits(brief, edited, fields, evidence, source)
    else:
        edited = brief
    if decision.option is not None and decision.option > len(edited.next_action_options):
        raise InputError(
            f"--option {decision.option}: the brief has {len(edited.next_action_options)} next-action options"
        )
    return edited


def validate_decision(
    brief: RiskBrief,
    decision: ReviewDecision,
    *,
    evidence: Mapping[str, EvidenceRecord] | None = None,
    require_ack: bool | None = None,
    source: str = "edit file",
) -> RiskBrief:
    """Everything a decision must pass before it is claimed or resumed, the same for `review decide`, the
    inbox and a resume of the graph: the edits (re-verified), the option, who may decide it
    (`agent.reviewers.authorize`), and, for a "not ready" brief, each stop reason acknowledged. Acks are
    required when `require_ack` says so, else when reviewers are configured. Returns the brief as edited."""
    from agent import reviewers

    edited = check_decision(brief, decision, source, evidence=evidence)
    reviewers.authorize(decision, edited)
    if (reviewers.team_mode() if require_ack is None else require_ack) and decision.approved:
        missing = unacknowledged(brief, decision)
        if missing:
            raise InputError(
                "the brief is not ready: acknowledge each stop reason before approving "
                "(--ack-stops; in the inbox, tick each): "
                + "; ".join(f"{n}) {shown(r, 200)}" for n, r in enumerate(missing, 1))
            )
    return edited


def unacknowledged(brief: RiskBrief, decision: ReviewDecision) -> list[str]:
    """The stop reasons of a 'not ready' brief this decision did not acknowledge."""
    if brief.status != "not ready":
        return []
    return [r for r in brief.stop_reasons if r not in decision.acknowledged_stops]


def _check_option_kinds(edits: dict[str, Any], source: str) -> None:
    """An edited option must be a catalogue kind (said plainly, before the model's long enum message)."""
    options = edits.get("next_action_options")
    if not isinstance(options, list):
        return
    for n, option in enumerate(options, 1):
        kind = option.get("kind") if isinstance(option, dict) else None
        if kind not in ACTION_CATALOGUE:
            raise InputError(
                f"{source}: next_action_options[{n}]: '{shown(kind)}' is not in the options catalogue "
                f"({', '.join(ACTION_CATALOGUE)})"
            )


def _plain(text: str) -> str:
    return " ".join(text.replace("\u201c", '"').replace("\u201d", '"').replace("\u2019", "'").split())


def verify_edits(
    before: RiskBrief,
    after: RiskBrief,
    fields: list[str],
    evidence: Mapping[str, EvidenceRecord] | None,
    source: str = "edit file",
) -> None:
    """Re-verify the changed fields of an edit, as the drafter's brief was verified: every cited id is
    evidence of this account; a new confirmed cause quotes, verbatim, words of the evidence it cites (an
    inference is a suspected cause, which says what would confirm it); options come from the catalogue
    with the catalogue's owner-approval facts (customer-facing, budget, approver), numbered 1..N."""
    account = before.account.account_id
    records: dict[str, EvidenceRecord] = {**dict(evidence or {}), **{r.id: r for r in before.evidence}}
    known = set(records) | {e.id for s in before.signals for e in s.evidence}

    def cited(where: str, ids: list[str]) -> None:
        for i in ids:
            record = records.get(i)
            if i not in known or (record is not None and record.account_id not in (None, account)):
                raise InputError(f"{source}: {where}: '{shown(i)}' is not evidence of account {account}")

    if "confirmed_causes" in fields:
        unchanged = {c.model_dump_json() for c in before.confirmed_causes}
        for n, cause in enumerate(after.confirmed_causes, 1):
            if cause.model_dump_json() in unchanged:
                continue
            where = f"confirmed_causes[{n}]"
            cited(where, cause.evidence_ids)
            if not cause.quote or not cause.quote.strip():
                raise InputError(
                    f"{source}: {where}: a confirmed cause quotes what the customer or a record says (quote) "
                    "from the evidence it cites; an inference is a suspected cause"
                )
            quote = _plain(cause.quote)
            sources = [records[i] for i in cause.evidence_ids if i in records]
            if not any(quote in _plain(r.text) for r in sources):
                raise InputError(f"{source}: {where}: the quote is not in the evidence it cites (quote it verbatim)")
            if any(
                quote in _plain(sp.text) or _plain(sp.text) in quote for r in sources for sp in r.spans if sp.injected
            ):
                raise InputError(f"{source}: {where}: the quote is instruction-like text, which is never quoted")
    if "suspected_causes" in fields:
        unchanged = {c.model_dump_json() for c in before.suspected_causes}
        for n, cause in enumerate(after.suspected_causes, 1):
            if cause.model_dump_json() in unchanged:
                continue
            where = f"suspected_causes[{n}]"
            cited(where, cause.evidence_ids)
            if not (cause.what_would_confirm or "").strip():
                raise InputError(f"{source}: {where}: a suspected cause says what would confirm or rule it out")
    if "next_action_options" in fields:
        options = after.next_action_options
        if len(options) > 3:
            raise InputError(f"{source}: next_action_options: at most 3 options ({len(options)} given)")
        for n, option in enumerate(options, 1):
            where = f"next_action_options[{n}]"
            if option.number != n:
                raise InputError(f"{source}: {where}: options are numbered 1..N in order (number {option.number})")
            entry = ACTION_CATALOGUE[option.kind]
            expected = {
                "title": entry.title,
                "customer_facing": entry.customer_facing,
                "affects_budget": entry.affects_budget,
                "needs_approval_from": approval_needed(option.kind),
            }
            for name, value in expected.items():
                if getattr(option, name) != value:
                    raise InputError(
                        f"{source}: {where}: {name} of {option.kind} comes from the options catalogue "
                        f"({json.dumps(value)}), not the edit"
                    )
            cited(where, option.evidence_ids)
    if "flags" in fields:
        for n, flag in enumerate(after.flags, 1):
            cited(f"flags[{n}]", flag.evidence_ids)


# ------------------------------------------------------------------------------ applying a decision


def record_edits(
    review_id: str, before: RiskBrief, after: RiskBrief, fields: list[str], decision: ReviewDecision
) -> None:
    old = before.model_dump(mode="json")
    new = after.model_dump(mode="json")
    with connect() as conn:
        conn.executemany(
            "INSERT INTO edits (review_id, field, before_json, after_json, edited_by, edited_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
            "INSERT INTO review_tasks (review_id, account_id, title, assignee, due, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (review_id, account_id, task.title, task.assignee, task.due, decision.decided_at),
        )
        conn.executemany(
            "INSERT INTO actions (idempotency_key, review_id, account_id, kind, state, detail_json,"
            " approved_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
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
        # The brief kept with the review becomes the one decided on (the edited one, after an edit).
        conn.execute("UPDATE reviews SET brief_json = ? WHERE review_id = ?", (brief.model_dump_json(), review_id))
        conn.execute(
            "INSERT INTO events (review_id, account_id, as_of, signals_json, risk_level, risk_score,"
            " brief_status, drafter, reviewer, decision, triage, option_kind, action_taken, reason, false_positive,"
            " created_at, decided_at, logged_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
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
                int(decision.triage == "dismiss") if decision.approved else int(is_not_a_risk(decision.reason)),
                created["created_at"] if created else None,
                decision.decided_at,
                logged_at,
            ),
        )
    crash_point("event")


def event_of(review_id: str) -> dict[str, Any] | None:
    """The measurement event logged for a review, if any."""
    with connect(write=False) as conn:
        row = conn.execute("SELECT * FROM events WHERE review_id = ?", (review_id,)).fetchone()
    return dict(row) if row else None


def table_counts(review_id: str | None = None) -> dict[str, int]:
    """Rows per table (for one review, or all): what tests and `review show` look at."""
    where, args = ("WHERE review_id = ?", (review_id,)) if review_id else ("", ())
    with connect(write=False) as conn:
        return {
            t: int(conn.scalar(f"SELECT COUNT(*) FROM {t} {where}", args))  # fixed table names
            for t in ("review_tasks", "actions", "edits", "events")
        }


# ------------------------------------------------------------------ LangChain human-in-the-loop shape

HITL_ACTION = "review_risk_brief"
HITL_DEFAULT_REVIEWER = "LangGraph user"
"""Who a human-in-the-loop response decides as when its args name nobody (accepted in local mode only)."""
_HITL_TYPES = ("accept", "edit", "response", "respond", "ignore")
_HITL_CONTROL = ("reviewer", "triage", "option", "ack_stops", "reason")
_HITL_SHOWN = ("review_id", "account", "risk_level", "status", "stop_reasons")


def interrupt_payload(review_id: str, brief: RiskBrief, error: str | None = None) -> dict[str, Any]:
    """What the review step interrupts with: the review id, status and brief (riskbrief's own shape), and
    the LangChain human-in-the-loop request (`action_request`, `config`, `description`) that Agent Inbox
    and LangGraph Studio render. `error` says why the previous resume was refused."""
    from agent import reviewers

    team = reviewers.team_mode()
    data = brief.model_dump(mode="json")
    args: dict[str, Any] = {
        "review_id": review_id,
        "account": f"{brief.account.name} ({brief.account.account_id})",
        "risk_level": brief.risk_level,
        "status": brief.status,
        "stop_reasons": brief.stop_reasons,
        "reviewer": None,
        "triage": "investigate",
        "option": None,
        "ack_stops": False,
        **{name: data[name] for name in EDITABLE_FIELDS},
    }
    options = "; ".join(
        f"{o.number}) {o.title} ({o.kind}"
        + (", needs a manager" if (o.customer_facing or o.affects_budget) and team else "")
        + ")"
        for o in brief.next_action_options
    )
    lines = [
        f"Risk brief for {brief.account.name}: {brief.risk_level} risk, {brief.risk_category}, {brief.status}.",
        brief.summary,
        f"Options: {options or 'none'}.",
    ]
    if brief.stop_reasons:
        lines.append("Stop reasons: " + "; ".join(brief.stop_reasons))
    lines.append(
        "Accept approves (triage investigate, no option). Edit approves with args changed: triage "
        "(investigate|escalate|save_play|monitor|dismiss), option (number), ack_stops (true acknowledges the "
        "stop reasons), reviewer, and any brief field; changed fields are re-verified. Respond rejects with "
        "your text as the reason; ignore rejects as 'ignored'."
    )
    if team:
        lines.append("Reviewers are configured: name yourself in args.reviewer (edit), or decide in the inbox.")
    payload: dict[str, Any] = {
        "review_id": review_id,
        "status": "awaiting_review",
        "brief": data,
        "action_request": {"action": HITL_ACTION, "args": args},
        "config": {"allow_accept": not team, "allow_edit": True, "allow_respond": not team, "allow_ignore": not team},
        "description": "\n\n".join(lines),
    }
    if error:
        payload["error"] = error
        payload["description"] = f"Your last answer was refused: {error}\n\n" + payload["description"]
    return payload


def resume_decision(answer: Any, brief: RiskBrief, decided_at: str) -> ReviewDecision:
    """The decision a resume value carries: riskbrief's own `ReviewDecision` shape, or a LangChain
    human-in-the-loop response (alone or in a one-item list): accept → approve, edit → edit (or approve,
    when only triage/option/reviewer changed), respond → reject with the text as reason, ignore → reject
    "ignored". Raises InputError or ValidationError on anything else."""
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    if not isinstance(answer, dict):
        raise InputError(f"a resume value is a decision object, not {type(answer).__name__}")
    kind = answer.get("type")
    if kind is None:
        return ReviewDecision.model_validate(answer)
    if kind not in _HITL_TYPES:
        raise InputError(f"unknown response type '{shown(kind)}' (one of {', '.join(_HITL_TYPES)})")
    raw = answer.get("args")
    if kind in ("response", "respond"):
        if not isinstance(raw, str) or not raw.strip():
            raise InputError("a response rejects the brief: its args is the reason, as text")
        return ReviewDecision(decision="reject", reviewer=HITL_DEFAULT_REVIEWER, decided_at=decided_at, reason=raw)
    if kind == "ignore":
        return ReviewDecision(
            decision="reject", reviewer=HITL_DEFAULT_REVIEWER, decided_at=decided_at, reason="ignored"
        )
    args: dict[str, Any] = {}
    if kind == "edit":
        if isinstance(raw, dict) and isinstance(raw.get("args"), dict):  # an ActionRequest
            raw = raw["args"]
        if not isinstance(raw, dict):
            raise InputError("an edit's args is the action request's args, changed")
        args = dict(raw)
    elif isinstance(raw, dict):
        args = dict(raw.get("args", raw)) if isinstance(raw.get("args", raw), dict) else {}
    current = brief.model_dump(mode="json")
    unknown = [k for k in args if k not in (*_HITL_CONTROL, *_HITL_SHOWN, *EDITABLE_FIELDS)]
    if unknown:
        raise InputError(f"unknown field '{shown(unknown[0])}' in the response's args")
    shown_values = {
        "account": f"{brief.account.name} ({brief.account.account_id})",
        "risk_level": brief.risk_level,
        "status": brief.status,
        "stop_reasons": brief.stop_reasons,
    }
    for name, value in shown_values.items():
        if name in args and args[name] != value:
            raise InputError(
                f"'{name}' comes from the tools and can't be edited (editable: {', '.join(EDITABLE_FIELDS)})"
            )
    edits = {k: args[k] for k in EDITABLE_FIELDS if k in args and args[k] != current[k]}
    reviewer = args.get("reviewer") or HITL_DEFAULT_REVIEWER
    return ReviewDecision(
        decision="edit" if edits else "approve",
        reviewer=str(reviewer).strip(),
        decided_at=decided_at,
        reason=args.get("reason"),
        triage=args.get("triage") or None,
        option=args.get("option") or None,
        edits=edits,
        acknowledged_stops=list(brief.stop_reasons) if args.get("ack_stops") is True else [],
    )


# ------------------------------------------------------------------------------------------- outcomes

Response = Literal["replied", "no_reply", "meeting_booked"]
Result = Literal["saved", "renewed", "churned", "downgraded", "open"]
RESPONSES: tuple[str, ...] = ("replied", "no_reply", "meeting_booked")
RESULTS: tuple[str, ...] = ("saved", "renewed", "churned", "downgraded", "open")
UNRESOLVED_RESULTS = ("open", "churned", "downgraded")
"""Results whose reason counts as an unresolved risk reason in the report."""


class Outcome(BaseModel):
    """What happened after an approved review: the customer's response and the account's result."""

    review_id: str
    account_id: str
    response: Response
    result: Result
    reason: str | None = None
    recorded_by: str | None = None
    recorded_at: str


def outcome_review(ref: str) -> ReviewRow:
    """The approved review an outcome is for: a review id, or an account id (its latest approved review).
    Anything else, or a review not approved, is an InputError."""
    with connect(write=False) as conn:
        row = conn.execute("SELECT * FROM reviews WHERE review_id = ?", (ref,)).fetchone()
        if row is None:
            row = conn.execute(
                "SELECT * FROM reviews WHERE account_id = ? AND status = 'approved'"
                " ORDER BY decided_at DESC, created_at DESC LIMIT 1",
                (ref,),
            ).fetchone()
            if row is None:
                known = conn.execute("SELECT 1 FROM reviews WHERE account_id = ?", (ref,)).fetchone()
                if known:
                    raise InputError(f"account {shown(ref)} has no approved review yet: outcomes follow an approval")
                raise InputError(f"'{shown(ref)}' is neither a review id nor an account with reviews in {store_name()}")
    review = ReviewRow.model_validate(dict(row))
    if review.status != "approved":
        what = "was rejected" if review.status == "rejected" else f"is {review.status}"
        raise InputError(f"review {review.review_id} {what}: outcomes are recorded after an approval")
    return review


def record_outcome(outcome: Outcome) -> None:
    """Keep the outcome (history kept; the latest counts) and fill the review's measurement event."""
    responded = int(outcome.response in ("replied", "meeting_booked"))
    with connect() as conn:
        conn.execute(
            "INSERT INTO outcomes (review_id, account_id, response, result, reason, recorded_by, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                outcome.review_id,
                outcome.account_id,
                outcome.response,
                outcome.result,
                outcome.reason,
                outcome.recorded_by,
                outcome.recorded_at,
            ),
        )
        conn.execute(
            "UPDATE events SET responded = ?, saved = ?, churned = ?, outcome = ?, outcome_at = ?,"
            " unresolved_reason = ? WHERE review_id = ?",
            (
                responded,
                int(outcome.result in ("saved", "renewed")),
                int(outcome.result == "churned"),
                outcome.result,
                outcome.recorded_at,
                outcome.reason if outcome.result in UNRESOLVED_RESULTS else None,
                outcome.review_id,
            ),
        )


def latest_outcome(review_id: str) -> Outcome | None:
    with connect(write=False) as conn:
        row = conn.execute(
            "SELECT * FROM outcomes WHERE review_id = ? ORDER BY outcome_id DESC LIMIT 1", (review_id,)
        ).fetchone()
    return Outcome.model_validate(dict(row)) if row else None


# --------------------------------------------------------------------------------------------- report

_NOT_A_RISK = re.compile(r"\b(not\s+(a\s+)?(real\s+)?risk|false[\s-]+positive|no\s+risk)\b", re.IGNORECASE)


def is_not_a_risk(reason: str | None) -> bool:
    """A rejection whose reason says the account is not at risk: a false positive."""
    return bool(reason and _NOT_A_RISK.search(reason))


def _hours(start: str | None, end: str | None) -> float | None:
    try:
        a = datetime.fromisoformat(str(start))
        b = datetime.fromisoformat(str(end))
    except ValueError:
        return None
    a = a if a.tzinfo else a.replace(tzinfo=UTC)
    b = b if b.tzinfo else b.replace(tzinfo=UTC)
    return max((b - a).total_seconds() / 3600, 0.0)


PACKET_PARTS = (
    "evidence",
    "severity",
    "owner",
    "mitigation",
    "escalation_decision",
    "review_decision",
    "next_review_date",
)


def decision_packet(row: dict[str, Any], brief: RiskBrief | None) -> dict[str, bool]:
    """Which parts of a decision packet a review's record has: evidence on every signal, a severity, an
    owner, a mitigation (a chosen option), an escalation decision (the triage of an approval), a review
    decision and a next review date."""
    approved = row["status"] == "approved"
    return {
        "evidence": bool(brief and brief.signals and all(s.evidence for s in brief.signals)),
        "severity": bool(row["risk_level"]) and bool(brief is None or all(s.severity for s in brief.signals)),
        "owner": bool(brief and brief.account.csm_owner),
        "mitigation": approved and bool(row["option_kind"]),
        "escalation_decision": approved and bool(row["triage"]),
        "review_decision": row["status"] in ("approved", "rejected"),
        "next_review_date": bool(brief and brief.review_task.next_review),
    }


def build_report(since: str | None = None, briefs: Any = None) -> dict[str, Any]:
    """The measurement report over the workspace's reviews (spec/interface.md: `report --format json`).

    A review counts when it was decided on or after `since` (pending ones: drafted on or after it).
    `briefs(review_id)` may supply a brief the store lacks (reviews registered by an earlier version)."""
    with connect(write=False) as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                "SELECT r.review_id, r.account_id, r.account_name, r.risk_level, r.status, r.created_at,"
                " r.decided_at, r.brief_json, e.decision, e.triage, e.option_kind, e.reason, e.false_positive,"
                " e.created_at AS drafted_at, e.decided_at AS event_decided_at"
                " FROM reviews r LEFT JOIN events e ON e.review_id = r.review_id"
                " ORDER BY r.created_at, r.review_id"
            )
        ]
        latest = {
            r["review_id"]: dict(r)
            for r in conn.execute("SELECT * FROM outcomes ORDER BY outcome_id")  # later rows win
        }
    if since:
        rows = [r for r in rows if str(r["decided_at"] or r["created_at"])[:10] >= since]
    decided = [r for r in rows if r["status"] in ("approved", "rejected") and r["decision"]]
    approved = [r for r in decided if r["status"] == "approved"]
    false_positive = [
        r
        for r in decided
        if (r["status"] == "approved" and r["triage"] == "dismiss")
        or (r["status"] == "rejected" and (r["false_positive"] or is_not_a_risk(r["reason"])))
    ]
    outcomes = [latest[r["review_id"]] for r in approved if r["review_id"] in latest]
    reasons: dict[str, int] = {}
    for o in outcomes:
        if o["result"] in UNRESOLVED_RESULTS:
            key = (o["reason"] or "").strip() or "no reason given"
            reasons[key] = reasons.get(key, 0) + 1
    hours = [h for r in decided if (h := _hours(r["drafted_at"] or r["created_at"], r["event_decided_at"])) is not None]

    def brief_of(r: dict[str, Any]) -> RiskBrief | None:
        if r["brief_json"]:
            return RiskBrief.model_validate_json(r["brief_json"])
        return briefs(r["review_id"]) if briefs else None

    per_account: dict[str, dict[str, Any]] = {}
    for r in rows:  # the latest review of each account
        per_account[r["account_id"]] = r
    serious = [r for r in per_account.values() if r["risk_level"] in ("high", "critical")]
    packets = {r["account_id"]: decision_packet(r, brief_of(r)) for r in serious}
    complete = [a for a, parts in packets.items() if all(parts.values())]
    by_state: dict[str, int] = {}
    for r in rows:
        by_state[r["status"]] = by_state.get(r["status"], 0) + 1
    return {
        "since": since,
        "accounts_reviewed": len({r["account_id"] for r in decided}),
        "risks_confirmed": len({r["account_id"] for r in approved if r["triage"] != "dismiss"}),
        "actions_taken": sum(1 for r in approved if r["option_kind"]),
        "responses": sum(1 for o in outcomes if o["response"] in ("replied", "meeting_booked")),
        "saved_accounts": len({o["account_id"] for o in outcomes if o["result"] in ("saved", "renewed")}),
        "false_positives": len(false_positive),
        "unresolved_risk_reasons": [
            {"reason": k, "count": v} for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        "median_hours_to_decision": round(statistics.median(hours), 2) if hours else None,
        "decision_packet_rate": round(len(complete) / len(packets), 4) if packets else 0.0,
        "reviews": by_state,
        "outcomes_recorded": len(outcomes),
        "outcome_results": {k: sum(1 for o in outcomes if o["result"] == k) for k in RESULTS},
        "outcome_responses": {k: sum(1 for o in outcomes if o["response"] == k) for k in RESPONSES},
        "decision_packet_accounts": len(packets),
        "decision_packet_complete": len(complete),
        "decision_packet_missing": {
            part: sum(1 for parts in packets.values() if not parts[part]) for part in PACKET_PARTS
        },
    }
