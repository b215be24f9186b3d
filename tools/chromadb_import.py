"""Loading chromadb without its development-time override checks.

chromadb marks about two hundred methods with `overrides.override`. At class creation that decorator
disassembles the class body's bytecode to find the base classes and compares each method's signature
with its base's. The check guards chromadb's own development and changes nothing about what the
classes do. In a sample brief it cost about 0.14 s: 0.08 s of chromadb's import and 0.06 s, half, of
making the local client (whose class, `chromadb.api.rust.RustBindingsAPI`, is defined on first use).

`load_chromadb` imports chromadb, and that class, with `override` replaced for the duration by what the
decorator leaves behind: the method itself, marked `__override__` as `EnforceOverrides` expects. It
restores the decorator afterwards, so nothing else in the process is affected, and does nothing if
chromadb is loaded already. tests/unit/test_chromadb_import.py checks that every chromadb class ends up
with the same methods, marked the same way, as with the checks on.
"""

from __future__ import annotations

import sys
from typing import Any

_CLASSES = ("chromadb", "chromadb.api.rust")  # the package and the local client's class


def _marked(method: Any = None, **_: Any) -> Any:
    """`overrides.override` minus its checks: usable bare or with keyword arguments, as chromadb uses it."""
    if method is None:
        return _marked
    method.__override__ = True
    return method


def load_chromadb() -> None:
    """Import chromadb and its local client class without the override checks (see the module's text).
    Raises ImportError as `import chromadb` would."""
    if "chromadb" in sys.modules:
        return
    try:
        import overrides
    except ImportError:  # a chromadb that no longer uses it (or none at all): import as it is
        for name in _CLASSES:
            __import__(name)
        return
    saved = overrides.override, overrides.overrides
    overrides.override = overrides.overrides = _marked
    try:
        for name in _CLASSES:
            __import__(name)
    finally:
        overrides.override, overrides.overrides = saved
