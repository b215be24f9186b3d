"""Key contacts of an account as of a date: who the champion and the sponsor are, and when we last heard
from each. Deterministic, from `contact_events`, `meetings` and `emails`; a manager reads it first."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from tools.portfolio import Portfolio

KEY_ROLES = ("champion", "executive_sponsor")


class KeyContact(BaseModel):
    """One contact of the account: role, status, and the last time we heard from them."""

    name: str
    role: str
    title: str | None = None
    status: str = Field(description="active or departed (as of the brief's date)")
    since: str | None = Field(default=None, description="when they joined or took the role")
    last_heard: str | None = Field(
        default=None, description="their last held meeting or inbound e-mail, on or before the as-of date"
    )
    days_silent: int | None = Field(default=None, description="days from last_heard to the as-of date")


def _rows(portfolio: Portfolio, table: str, account_id: str) -> list[dict[str, Any]]:
    frame = portfolio.table(table)
    if frame is None:
        return []
    import polars as pl

    return frame.filter(pl.col("account_id") == account_id).to_dicts()


def key_contacts(portfolio: Portfolio, account_id: str, as_of: date) -> list[KeyContact]:
    """The account's champions and sponsors (current first, then those who left), with when we last heard
    from each: a held meeting they attended or an e-mail from them."""
    latest: dict[str, dict[str, Any]] = {}
    for row in sorted(_rows(portfolio, "contact_events", account_id), key=lambda r: r["date"]):
        latest[str(row["contact_name"])] = row
    heard: dict[str, date] = {}
    for row in _rows(portfolio, "meetings", account_id):
        if row.get("status") == "held" and row.get("attendees"):
            for name in str(row["attendees"]).split(";"):
                name = name.strip()
                if name and (name not in heard or row["date"] > heard[name]):
                    heard[name] = row["date"]
    for row in _rows(portfolio, "emails", account_id):
        sender = str(row.get("contact_name") or "")
        if row.get("direction") == "inbound" and sender and (sender not in heard or row["sent_at"] > heard[sender]):
            heard[sender] = row["sent_at"]
    out: list[KeyContact] = []
    for name, row in latest.items():
        if row["role"] not in KEY_ROLES:
            continue
        last = heard.get(name)
        out.append(
            KeyContact(
                name=name,
                role=str(row["role"]),
                title=row.get("title"),
                status="departed" if row["event"] == "departed" else "active",
                since=row["date"].isoformat(),
                last_heard=last.isoformat() if last else None,
                days_silent=(as_of - last).days if last else None,
            )
        )
    return sorted(out, key=lambda c: (c.status != "active", KEY_ROLES.index(c.role), c.name))
