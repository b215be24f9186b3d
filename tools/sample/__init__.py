"""The bundled sample portfolio: about 200 synthetic accounts, as of 2026-11-20 (see portfolio/README.md).

The CSV files are package data, produced by `python -m tools.sample.generate`; `riskbrief demo` and the
tests read them from `portfolio_dir()`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

SAMPLE_AS_OF = date(2026, 11, 20)


def portfolio_dir() -> Path:
    """The folder holding the sample portfolio's CSV files and its `riskbrief.toml`."""
    return Path(__file__).parent / "portfolio"
