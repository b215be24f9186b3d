"""Memory housekeeping for runs that build many small records."""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic records (queue entries, their
    signals and evidence, alert rows). They are freed by reference counting as usual; the collector would only
    walk them again and again as they pile up, which on a 100k-account queue cost more than building them.
    Nested uses are safe: the collector's previous state is restored on the way out."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def loading_modules() -> Iterator[None]:
    """Around a heavy import (LangGraph with langchain-core and langsmith, Chroma): the hundred thousand
    classes, functions and tables it creates live as long as the process. The collector is paused while
    they are created, instead of walking the growing heap again and again (a third of a second of a sample
    brief), and they are frozen (`gc.freeze`) before it resumes, so that no collection walks them: not even
    the first one, which would otherwise find them all in its young generation. When everything was loaded
    already (a second brief in the same process), it only pauses the collector for the block."""
    loaded = len(sys.modules)
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # Only when modules were loaded: a long-running process (`riskbrief serve`) passes here on every
        # brief, and freezing each time would keep whatever else was alive out of collection for good.
        if len(sys.modules) > loaded:
            gc.freeze()
        if enabled:
            gc.enable()


def exit_without_collecting() -> None:
    """Freeze every object when the process exits, so that the interpreter's final collections skip a heap
    of module objects they would walk several times over (half a second at the end of a brief). Objects
    are still freed by reference counting; what a command writes (databases, the store, files) it commits
    and closes itself, never leaving it to the collector. Registered once however often it is called."""
    global _exit_freeze
    if not _exit_freeze:
        import atexit

        atexit.register(gc.freeze)
        _exit_freeze = True


_exit_freeze = False
