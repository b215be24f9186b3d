"""Write small portfolios for tests: `write_portfolio(path, accounts=[...], tickets=[...])`.

Columns come from the portfolio spec (tools.portfolio.TABLES); cells not given are left empty.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tools.portfolio import TABLES

AS_OF = date(2026, 11, 20)


def day(offset: int) -> str:
    """ISO date `offset` days from AS_OF (negative = before)."""
    return (AS_OF + timedelta(days=offset)).isoformat()


def account(account_id: str = "A-1", **fields: Any) -> dict[str, Any]:
    row = {
        "account_id": account_id,
        "name": f"Account {account_id}",
        "arr": 50000,
        "renewal_date": day(365),
        "segment": "mid-market",
        "csm_owner": "Dana",
    }
    row.update(fields)
    return row


def write_portfolio(root: Path, **tables: list[dict[str, Any]]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    tables.setdefault("accounts", [account()])
    for name, rows in tables.items():
        spec = TABLES[name]
        columns = [c.name for c in spec.columns]
        extra = [k for r in rows for k in r if k not in columns]
        columns += list(dict.fromkeys(extra))
        with (root / spec.file).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for r in rows:
                writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return root
