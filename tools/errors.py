"""Errors the CLI turns into one clear line and an exit code (see spec/interface.md).

Exit codes: 0 success, 1 a finding the caller asked to fail on, 2 bad input or usage, 3 a dependency
unavailable, 4 an internal error (a bug: never a finding).
"""

from __future__ import annotations

INTERNAL_ERROR_EXIT = 4
"""An unexpected exception: the CLI prints one line and exits with this code, never with 1."""


class RiskbriefError(Exception):
    """Base class: a problem the user can act on. `exit_code` follows the interface contract."""

    exit_code = 1


class InputError(RiskbriefError):
    """Bad input or usage: a malformed file, a missing field, an unknown account (exit 2)."""

    exit_code = 2


class DependencyError(RiskbriefError):
    """A dependency (model endpoint, vector store, embedding model) is unavailable (exit 3)."""

    exit_code = 3


def located(file: str, line: int | None, column: str | None, message: str) -> InputError:
    """An InputError that names file, line and column, e.g. `tickets.csv line 7, column opened_at: ...`."""
    where = file
    if line is not None:
        where += f" line {line}"
    if column is not None:
        where += f", column {column}" if line is not None else f" column {column}"
    return InputError(f"{where}: {message}")


def shown(value: object, limit: int | None = 60) -> str:
    """`value` safe to echo on a terminal, on one line: every non-printable character (ESC and other
    controls, newlines, bidi overrides) written as its escape, and cut to `limit` characters with an
    ellipsis. The caller adds any quotes."""
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(value))
    if limit is not None and len(text) > limit:
        return text[: max(limit - 1, 0)] + "…"
    return text
