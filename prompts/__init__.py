"""Versioned prompt files and their loader.

Each prompt is `NAME.vN.md`; `versions.toml` points at the version in use. A released version is
never edited: add `vN+1`, move the pointer, re-record the cassettes and re-run the evals.
A file holds the system part, then a line `<!-- user -->`, then the user part; `$placeholders`
are filled with `string.Template` so JSON braces in the text need no escaping.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from string import Template

USER_MARKER = "<!-- user -->"


def current_version(name: str) -> str:
    """The version `versions.toml` points at for prompt `name`."""
    pointers = tomllib.loads(resources.files(__package__).joinpath("versions.toml").read_text(encoding="utf-8"))
    try:
        return str(pointers[name])
    except KeyError:
        raise KeyError(f"prompt '{name}' has no entry in prompts/versions.toml") from None


def load_prompt(name: str, version: str | None = None) -> tuple[str, str]:
    """The text of prompt `name` (current version unless given) and its version tag, e.g. `draft_brief@v1`."""
    version = version or current_version(name)
    text = resources.files(__package__).joinpath(f"{name}.{version}.md").read_text(encoding="utf-8")
    return text, f"{name}@{version}"


def render_prompt(name: str, values: dict[str, str], version: str | None = None) -> tuple[str, str, str]:
    """(system, user, version tag) of prompt `name` with `values` substituted."""
    text, tag = load_prompt(name, version)
    system, _, user = text.partition(USER_MARKER)
    return (
        Template(system).substitute(values).strip(),
        Template(user).substitute(values).strip(),
        tag,
    )
