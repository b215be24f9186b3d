"""The clock: every "today" and "now" the tool uses comes from here, so a run can be repeated.

`RISKBRIEF_NOW` fixes it for a process (`2026-11-20`, or `2026-11-20T09:00:00+00:00`): the default
as-of date of every command, review timestamps, due dates. Tests and scripts may also call `fixed()`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

from tools.errors import InputError, shown

_override: Callable[[], datetime] | None = None


def _from_env(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if "T" in value else datetime.fromisoformat(value + "T00:00:00")
    except ValueError:
        raise InputError(f"RISKBRIEF_NOW: {shown(value)} is not a date or time (expected YYYY-MM-DD)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def now() -> datetime:
    """The current time, timezone-aware UTC, to the second."""
    if _override is not None:
        return _override().astimezone(UTC).replace(microsecond=0)
    env = os.environ.get("RISKBRIEF_NOW")
    if env:
        return _from_env(env).astimezone(UTC).replace(microsecond=0)
    return datetime.now(UTC).replace(microsecond=0)


def today() -> date:
    """Today's date: the fixed clock's date when one is set, else the local calendar date."""
    if _override is not None or os.environ.get("RISKBRIEF_NOW"):
        return now().date()
    return date.today()


@contextmanager
def fixed(at: datetime) -> Iterator[None]:
    """Run a block with the clock stopped at `at`."""
    global _override
    before = _override
    _override = lambda: at  # noqa: E731
    try:
        yield
    finally:
        _override = before
