"""Errors the CLI turns into one clear line and an exit code (see spec/interface.md)."""

from __future__ import annotations


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
