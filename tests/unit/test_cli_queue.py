"""The queue and digest commands: JSON contract, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from builder import account, day, write_portfolio

from agent.cli import main

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "tools" / "check_contract.py"
QUEUE_KEYS = {
    "account_id",
    "account_name",
    "risk_score",
    "risk_level",
    "arr",
    "days_to_renewal",
    "health_score",
    "active_signals",
    "not_evaluated",
    "cluster_amplification",
    "temporal_adjustment",
    "handoff_urgency",
}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    argv = sys.argv
    sys.argv = ["riskbrief", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_portfolio(
        tmp_path / "p",
        accounts=[account("A-1", renewal_date=day(50), csm_owner="Dana"), account("A-2", csm_owner="Lee")],
        usage=[
            {"account_id": "A-1", "period_start": day(-7), "metric": "dau", "value": 100},
            {"account_id": "A-1", "period_start": day(0), "metric": "dau", "value": 40},
        ],
        tickets=[
            {
                "ticket_id": "T-1",
                "account_id": "A-2",
                "opened_at": day(-45),
                "priority": "P1",
                "status": "open",
                "subject": "Outage",
            }
        ],
    )


def test_queue_json_contract(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys,
        "--home",
        str(tmp_path / "h"),
        "queue",
        "--data",
        str(data),
        "--as-of",
        day(0),
        "--format",
        "json",
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["account_id"] for r in rows] == ["A-1", "A-2"]
    assert all(set(r) >= QUEUE_KEYS for r in rows)
    assert rows[0]["active_signals"][0]["evidence"][0]["id"] == f"usage:A-1:dau:{day(0)}"
    assert "payment_overdue: no invoices.csv" in rows[0]["not_evaluated"]
    if CONTRACT.is_file():
        check = subprocess.run([sys.executable, str(CONTRACT), "queue"], input=out, capture_output=True, text=True)
        assert check.returncode == 0, check.stdout


def test_queue_second_run_suppresses(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = (
        "--home",
        str(tmp_path / "h"),
        "queue",
        "--data",
        str(data),
        "--as-of",
        day(0),
        "--format",
        "json",
    )
    first = json.loads(cli(capsys, *args)[1])
    second = json.loads(cli(capsys, *args)[1])
    assert {r["alert"] for r in first} == {"new"} and {r["alert"] for r in second} == {"suppressed"}


def test_queue_table_and_filters(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        capsys, "--home", str(tmp_path / "h"), "queue", "--data", str(data), "--as-of", day(0), "--csm", "lee"
    )
    assert code == 0 and "Account A-2" in out and "Account A-1" not in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["queue", "--data", "{data}", "--as-of", "20-11-2026"], "--as-of: '20-11-2026' is not a date"),
        (["queue", "--data", "{tmp}/nowhere"], "not a portfolio directory"),
        (["queue"], "--data DIR is required"),
        (
            ["digest", "--data", "{data}", "--csm", "Nobody", "--as-of", "2026-11-20"],
            "no accounts owned by 'Nobody'",
        ),
    ],
)
def test_bad_input_exit_2_one_line(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = [a.format(data=data, tmp=tmp_path) for a in args]
    code, _, err = cli(capsys, "--home", str(tmp_path / "h"), *argv)
    assert code == 2
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_malformed_file_exit_2(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (data / "invoices.csv").write_text("invoice_id,account_id,issued_on,due_on,amount\nI-1,A-1,2026-01-01,soon,5\n")
    code, _, err = cli(capsys, "--home", str(tmp_path / "h"), "queue", "--data", str(data))
    assert code == 2
    assert "invoices.csv line 2, column due_on: 'soon' is not a date" in err


def test_digest_new_then_resolved(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    home = ("--home", str(tmp_path / "h"))
    code, out, _ = cli(
        capsys, *home, "digest", "--data", str(data), "--csm", "Dana", "--as-of", day(0), "--format", "json"
    )
    first = json.loads(out)
    assert code == 0 and [a["signal"] for a in first["new"]] == ["usage_sudden_drop"]
    # Recovery: the drop no longer holds next week → resolved in the next digest.
    (data / "usage.csv").write_text((data / "usage.csv").read_text() + f"A-1,{day(7)},dau,41\nA-1,{day(14)},dau,42\n")
    code, out, _ = cli(
        capsys, *home, "digest", "--data", str(data), "--csm", "Dana", "--as-of", day(40), "--format", "json"
    )
    later = json.loads(out)
    assert later["new"] == [] and later["resolved"] == [
        {"account_id": "A-1", "account_name": "Account A-1", "signal": "usage_sudden_drop"}
    ]
