"""Key contacts: champions and sponsors, current first, with when we last heard from each."""

from __future__ import annotations

from datetime import date

from agent.cli import resolve_data
from tools.contacts import key_contacts
from tools.portfolio import load_portfolio


def test_key_contacts_come_from_events_meetings_and_emails() -> None:
    as_of = date(2026, 11, 20)
    portfolio = load_portfolio(resolve_data("sample"), as_of)
    contacts = key_contacts(portfolio, "A-017", as_of)
    assert [(c.name, c.role, c.status) for c in contacts] == [
        ("Owen Park", "champion", "active"),
        ("Laura Mendes", "executive_sponsor", "active"),
    ]
    # The last QBR both attended; nothing after it (declined meetings and outbound e-mails don't count).
    assert [(c.last_heard, c.days_silent) for c in contacts] == [("2026-09-08", 73), ("2026-09-08", 73)]
    # As of an earlier date, later meetings are unseen.
    earlier = key_contacts(load_portfolio(resolve_data("sample"), date(2026, 9, 1)), "A-017", date(2026, 9, 1))
    assert all((c.last_heard or "") < "2026-09-08" for c in earlier)
