"""Who may decide: the workspace's reviewers, their sign-in tokens and browser sessions, and the rule that
says whether one of them may make a decision.

Reviewers live in the review store (`riskbrief.sqlite`, or the team's Postgres; table `reviewers`). A
sign-in token is shown once when the reviewer is added; only its scrypt hash (with a random salt) is kept. A token reads
`rbt_<token id>_<secret>`: the id finds the reviewer, the secret is checked against the hash.

With no reviewer configured the workspace is in *local single-user mode*: whoever can use it decides, as
the name they give, and every decision says so. With reviewers configured:

- a manager may make any decision;
- a CSM may decide the reviews of their own accounts (the brief's `account.csm_owner` is their name, or
  the name given by `--accounts-of`), and may approve internal actions only;
- an option that is customer-facing or touches budget (`customer_facing` / `affects_budget` in the
  options catalogue: executive outreach, billing follow-up, a commercial review, a check-in call, ...)
  needs a manager;
- anyone else is refused (`NotAllowed`: exit 2 in the CLI, 403 in the inbox).

Browser sessions: a random session id in an HttpOnly, SameSite=Strict cookie; the store keeps only its
SHA-256 (the id is 256 random bits, so a fast hash is enough) with the session's CSRF token and expiry.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from agent.review import connect
from tools.errors import InputError, shown

if TYPE_CHECKING:
    from agent.brief import RiskBrief
    from agent.review import ReviewDecision

Role = Literal["csm", "manager"]
ROLES: tuple[Role, ...] = ("csm", "manager")
TOKEN_PREFIX = "rbt"
SESSION_HOURS = 12
NAME_LIMIT = 100
_SCRYPT_N = 2**14
"""scrypt cost (r=8, p=1): about 16 MB and tens of milliseconds per check."""
LOCAL_MODE_NOTE = (
    "local single-user mode: no reviewers are configured in this workspace, so whoever uses it decides "
    "(add reviewers with `riskbrief reviewers add NAME --role manager|csm`)"
)


class NotAllowed(InputError):
    """This reviewer may not make this decision (exit 2 in the CLI, 403 in the inbox)."""


class Reviewer(BaseModel):
    """A person who may decide, and for which accounts."""

    name: str
    role: Role
    accounts_of: str | None = None
    created_at: str

    def covers(self) -> list[str]:
        """The CSM names whose accounts this reviewer decides (a manager: all)."""
        return [self.name] + ([self.accounts_of] if self.accounts_of and self.accounts_of != self.name else [])


class Session(BaseModel):
    """A browser session: who signed in (None: not signed in) and the CSRF token of its forms."""

    reviewer: str | None
    csrf: str
    expires_at: str


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _same(a: str | None, b: str | None) -> bool:
    return bool(a and b) and " ".join(str(a).split()).casefold() == " ".join(str(b).split()).casefold()


def _hash_secret(secret: str, salt: bytes) -> str:
    return hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=8, p=1, dklen=32).hex()


def check_name(name: str, what: str = "NAME") -> str:
    name = " ".join(name.split())
    if not name or not name.isprintable() or len(name) > NAME_LIMIT:
        raise InputError(f"{what}: '{shown(name)}' must be 1-{NAME_LIMIT} printable characters")
    return name


# ------------------------------------------------------------------------------------------ reviewers


def add_reviewer(name: str, role: str, accounts_of: str | None = None) -> tuple[Reviewer, str]:
    """Add a reviewer; returns it and its sign-in token (shown once: only its hash is kept)."""
    name = check_name(name)
    if role not in ROLES:
        raise InputError(f"--role: '{shown(role)}' is not one of {', '.join(ROLES)}")
    if accounts_of is not None:
        if role != "csm":
            raise InputError("--accounts-of is for a csm (a manager decides for every account)")
        accounts_of = check_name(accounts_of, "--accounts-of")
    token_id = secrets.token_hex(4)
    secret = secrets.token_urlsafe(24)
    salt = secrets.token_bytes(16)
    created = _now().isoformat()
    with connect() as conn:
        if conn.execute("SELECT 1 FROM reviewers WHERE lower(name) = lower(?)", (name,)).fetchone():
            raise InputError(f"reviewer '{shown(name)}' exists (remove them first to issue a new token)")
        conn.execute(
            "INSERT INTO reviewers (name, role, accounts_of, token_id, token_salt, token_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (name, role, accounts_of, token_id, salt.hex(), _hash_secret(secret, salt), created),
        )
    reviewer = Reviewer(name=name, role=role, accounts_of=accounts_of, created_at=created)
    return reviewer, f"{TOKEN_PREFIX}_{token_id}_{secret}"


def list_reviewers() -> list[Reviewer]:
    with connect(write=False) as conn:
        rows = conn.execute("SELECT name, role, accounts_of, created_at FROM reviewers ORDER BY name").fetchall()
    return [Reviewer.model_validate(dict(r)) for r in rows]


def get_reviewer(name: str) -> Reviewer | None:
    with connect(write=False) as conn:
        row = conn.execute(
            "SELECT name, role, accounts_of, created_at FROM reviewers WHERE lower(name) = lower(?)",
            (" ".join(name.split()),),
        ).fetchone()
    return Reviewer.model_validate(dict(row)) if row else None


def remove_reviewer(name: str) -> None:
    """Remove a reviewer and end their sessions; an unknown name is an InputError."""
    reviewer = get_reviewer(name)
    if reviewer is None:
        raise InputError(f"no reviewer '{shown(name)}' (see `riskbrief reviewers list`)")
    with connect() as conn:
        conn.execute("DELETE FROM reviewers WHERE name = ?", (reviewer.name,))
        conn.execute("DELETE FROM sessions WHERE reviewer = ?", (reviewer.name,))


def team_mode() -> bool:
    """Whether reviewers are configured (else: local single-user mode)."""
    with connect(write=False) as conn:
        return conn.execute("SELECT 1 FROM reviewers LIMIT 1").fetchone() is not None


def reviewer_for_token(token: str) -> Reviewer | None:
    """The reviewer this sign-in token belongs to, or None (malformed, unknown or wrong)."""
    parts = token.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    with connect(write=False) as conn:
        row = conn.execute("SELECT * FROM reviewers WHERE token_id = ?", (parts[1],)).fetchone()
    if row is None:
        _hash_secret(parts[2], b"\0" * 16)  # the same work whether or not the id exists
        return None
    if not hmac.compare_digest(_hash_secret(parts[2], bytes.fromhex(row["token_salt"])), row["token_hash"]):
        return None
    return Reviewer.model_validate({k: row[k] for k in ("name", "role", "accounts_of", "created_at")})


def identify(reviewer: str | None, token: str | None) -> str:
    """Who decides at the command line, as a name. Local mode: `--reviewer` as given. With reviewers
    configured: the token's reviewer (`--reviewer`, if also given, must be the same), else `--reviewer`,
    which must be a configured reviewer. The command line trusts the local user, who owns the workspace
    files anyway; the token is what the browser inbox checks, and lets a script decide without a name."""
    if not team_mode():
        if not reviewer or not reviewer.strip():
            raise InputError("--reviewer NAME is required (the decision is recorded with who made it)")
        return reviewer.strip()
    if token:
        found = reviewer_for_token(token)
        if found is None:
            raise NotAllowed("--token (or RISKBRIEF_TOKEN) is not a valid sign-in token of this workspace")
        if reviewer and not _same(reviewer, found.name):
            raise NotAllowed(f"--reviewer '{shown(reviewer)}' does not match the token, which is {found.name}'s")
        return found.name
    if not reviewer or not reviewer.strip():
        raise InputError("--reviewer NAME (a configured reviewer) or --token is required: reviewers are configured")
    found = get_reviewer(reviewer)
    if found is None:
        raise NotAllowed(f"'{shown(reviewer)}' is not a reviewer of this workspace (see `riskbrief reviewers list`)")
    return found.name


# ------------------------------------------------------------------------------------------ the rule


def may_decide_account(reviewer: Reviewer, brief: RiskBrief) -> bool:
    return reviewer.role == "manager" or any(_same(brief.account.csm_owner, n) for n in reviewer.covers())


def authorize(decision: ReviewDecision, brief: RiskBrief) -> None:
    """Refuse (NotAllowed, one line saying why) a decision its reviewer may not make; `brief` is the brief
    as the decision would leave it (edited). Local single-user mode allows everything."""
    if not team_mode():
        return
    reviewer = get_reviewer(decision.reviewer)
    if reviewer is None:
        raise NotAllowed(
            f"'{shown(decision.reviewer)}' is not a reviewer of this workspace (see `riskbrief reviewers list`)"
        )
    if not may_decide_account(reviewer, brief):
        owner = brief.account.csm_owner or "no CSM"
        raise NotAllowed(
            f"{reviewer.name} (csm) decides reviews of {' and '.join(reviewer.covers())}'s accounts; "
            f"{brief.account.name} belongs to {owner}: ask that CSM or a manager"
        )
    if decision.approved and decision.option is not None and reviewer.role != "manager":
        option = brief.next_action_options[decision.option - 1]
        if option.customer_facing or option.affects_budget:
            touches = " and ".join(
                w for w, on in (("the customer", option.customer_facing), ("budget", option.affects_budget)) if on
            )
            raise NotAllowed(
                f"option {option.number} ({option.kind}) touches {touches}: only a manager may approve it, "
                f"and {reviewer.name} is a csm"
            )


def authorize_outcome(name: str | None, brief: RiskBrief | None) -> None:
    """Recording an outcome: the account's CSM or a manager (anyone in local mode)."""
    if not team_mode():
        return
    reviewer = get_reviewer(name or "")
    if reviewer is None:
        raise NotAllowed(f"'{shown(name)}' is not a reviewer of this workspace (see `riskbrief reviewers list`)")
    if brief is not None and not may_decide_account(reviewer, brief):
        raise NotAllowed(
            f"{reviewer.name} (csm) records outcomes for {' and '.join(reviewer.covers())}'s accounts; "
            f"{brief.account.name} belongs to {brief.account.csm_owner or 'no CSM'}"
        )


# ------------------------------------------------------------------------------------------- sessions


def _session_key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def new_session(reviewer: str | None = None) -> tuple[str, Session]:
    """A fresh session (signed in as `reviewer`, or anonymous); returns the id for the cookie."""
    session_id = secrets.token_urlsafe(32)
    now = _now()
    session = Session(
        reviewer=reviewer, csrf=secrets.token_urlsafe(32), expires_at=(now + timedelta(hours=SESSION_HOURS)).isoformat()
    )
    with connect() as conn:
        conn.execute("DELETE FROM sessions WHERE expires_at < ?", (now.isoformat(),))
        conn.execute(
            "INSERT INTO sessions (id_hash, reviewer, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
            (_session_key(session_id), reviewer, session.csrf, now.isoformat(), session.expires_at),
        )
    return session_id, session


def get_session(session_id: str | None) -> Session | None:
    """The live session of this cookie value; None if unknown, expired, or its reviewer was removed."""
    if not session_id or len(session_id) > 200:
        return None
    with connect(write=False) as conn:
        row = conn.execute(
            "SELECT s.reviewer, s.csrf, s.expires_at, r.name AS still FROM sessions s"
            " LEFT JOIN reviewers r ON r.name = s.reviewer WHERE s.id_hash = ?",
            (_session_key(session_id),),
        ).fetchone()
    if row is None or row["expires_at"] < _now().isoformat():
        return None
    if row["reviewer"] is not None and row["still"] is None:
        return None
    return Session(reviewer=row["reviewer"], csrf=row["csrf"], expires_at=row["expires_at"])


def end_session(session_id: str | None) -> None:
    if session_id:
        with connect() as conn:
            conn.execute("DELETE FROM sessions WHERE id_hash = ?", (_session_key(session_id),))


def csrf_ok(session: Session | None, token: str | None) -> bool:
    return session is not None and bool(token) and hmac.compare_digest(session.csrf, str(token))
