"""Alert and digest state lose nothing: keyed by portfolio, never rewritten by a run dated before the
latest one, acknowledgements kept across both, and stores from before the keying carried over."""

from __future__ import annotations

import gc
import json
import sqlite3
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from builder import AS_OF, account, day, write_portfolio
from pg import backend, postgres_server, postgres_url  # noqa: F401  (fixtures)

from agent.cli import main
from tools.alerts import AlertStore, portfolio_key
from tools.models import QueueEntry, Signal
from tools.portfolio import load_portfolio

pytestmark = pytest.mark.usefixtures("backend")  # every test: on SQLite, then on Postgres


def entry(account_id: str, *signals: tuple[str, int]) -> QueueEntry:
    return QueueEntry(
        account_id=account_id,
        account_name=account_id,
        risk_score=3,
        risk_level="medium",
        arr=1,
        days_to_renewal=100,
        health_score=None,
        not_evaluated=[],
        cluster_amplification=False,
        temporal_adjustment=0,
        handoff_urgency="next_business_day",
        active_signals=[Signal(signal=s, severity=v, evidence=[], first_detected=day(0)) for s, v in signals],
    )


def later(days: int) -> date:
    return AS_OF + timedelta(days=days)


def kinds(run_alerts: list) -> list[str]:  # type: ignore[type-arg]
    return [a.kind for a in run_alerts]


def acknowledged(db: Path) -> list[tuple[object, ...]]:
    """(portfolio, channel, account, acknowledged_on, active) of every alert row, read through the store (the
    SQLite file `db`, or the team database when one is configured)."""
    keys = ("portfolio", "channel", "account_id", "acknowledged_on", "active")
    return [tuple(r[k] for k in keys) for r in AlertStore(db).rows()]


def test_a_run_dated_before_the_latest_reads_the_state_and_changes_nothing(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    drop = entry("A", ("usage_sudden_drop", 4))
    assert kinds(store.record("queue", [drop], AS_OF, portfolio="p1").alerts) == ["new"]
    store.acknowledge("A", None, AS_OF)
    before = acknowledged(tmp_path / "alerts.sqlite")

    # As of a week earlier the drop had not happened: compared, reported, not stored.
    past = store.record("queue", [], later(-7), portfolio="p1")
    assert past.resolved == [("A", "usage_sudden_drop")]
    assert not past.recorded and past.latest_run == AS_OF
    assert acknowledged(tmp_path / "alerts.sqlite") == before

    # Back at the present the alert is still the acknowledged one: quiet, and no reminder later on.
    assert kinds(store.record("queue", [drop], AS_OF, portfolio="p1").alerts) == ["suppressed"]
    assert kinds(store.record("queue", [drop], later(30), portfolio="p1").alerts) == ["suppressed"]
    assert acknowledged(tmp_path / "alerts.sqlite")[0][3] == AS_OF.isoformat()


def test_another_portfolio_neither_resolves_nor_reopens_this_one(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    store.record("queue", [entry("A", ("usage_sudden_drop", 4))], AS_OF, portfolio="p1")
    store.acknowledge("A", "usage_sudden_drop", AS_OF)
    other = store.record("queue", [entry("B", ("payment_overdue", 3))], later(1), portfolio="p2")
    assert other.resolved == [] and kinds(other.alerts) == ["new"]
    # An account id both portfolios use is two accounts: p2's A is new, p1's A stays acknowledged.
    same_id = store.record("queue", [entry("A", ("usage_sudden_drop", 4))], later(2), portfolio="p2")
    assert kinds(same_id.alerts) == ["new"]
    back = store.record("queue", [entry("A", ("usage_sudden_drop", 4))], later(30), portfolio="p1")
    assert kinds(back.alerts) == ["suppressed"]
    assert ("p1", "queue", "A", AS_OF.isoformat(), 1) in acknowledged(tmp_path / "alerts.sqlite")


def test_the_portfolio_key_is_the_folder_not_its_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert portfolio_key("data") == portfolio_key(tmp_path / "data") == portfolio_key(tmp_path / "x" / ".." / "data")
    (tmp_path / "exports" / "2026-11-20").mkdir(parents=True)
    (tmp_path / "current").symlink_to(tmp_path / "exports" / "2026-11-20")
    assert portfolio_key(tmp_path / "current") != portfolio_key(tmp_path / "exports" / "2026-11-20")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # a file of an earlier release: SQLite only
def test_a_store_from_before_the_keying_is_adopted_with_its_acknowledgements(tmp_path: Path) -> None:
    path = tmp_path / "alerts.sqlite"
    with sqlite3.connect(path) as old:  # the schema of the previous release
        old.executescript(
            """
            CREATE TABLE alerts (channel TEXT NOT NULL, account_id TEXT NOT NULL, signal TEXT NOT NULL,
                severity INTEGER NOT NULL, first_alerted TEXT NOT NULL, last_alerted TEXT NOT NULL,
                acknowledged_on TEXT, active INTEGER NOT NULL DEFAULT 1, resolved_on TEXT,
                PRIMARY KEY (channel, account_id, signal));
            CREATE TABLE runs (channel TEXT NOT NULL, as_of TEXT NOT NULL, active_signals INTEGER NOT NULL,
                PRIMARY KEY (channel, as_of));
            """
        )
        old.execute(
            "INSERT INTO alerts VALUES ('queue', 'A', 'usage_sudden_drop', 4, ?, ?, ?, 1, NULL)",
            (day(0), day(0), day(1)),
        )
        old.execute(
            "INSERT INTO alerts VALUES ('queue', 'Z', 'payment_overdue', 3, ?, ?, NULL, 1, NULL)", (day(0),) * 2
        )
        old.execute("INSERT INTO runs VALUES ('queue', ?, 2)", (day(0),))
    store = AlertStore(path)
    portfolio = write_portfolio(tmp_path / "p", accounts=[account("A")])
    from tools.portfolio import load_portfolio

    run = store.record("queue", [entry("A", ("usage_sudden_drop", 4))], later(30), portfolio=load_portfolio(portfolio))
    assert kinds(run.alerts) == ["suppressed"] and run.latest_run == AS_OF  # acknowledged before the upgrade
    assert run.resolved == []  # Z is not this portfolio's: left unkeyed, not resolved
    rows = acknowledged(path)
    assert (portfolio_key(portfolio), "queue", "A", day(1), 1) in rows and ("", "queue", "Z", None, 1) in rows
    assert kinds(AlertStore(path).record("queue", [], later(-1), portfolio=load_portfolio(portfolio)).alerts) == []


# ---------------------------------------------------------------------------------------- command line


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


def test_an_ack_survives_an_earlier_queue_another_portfolio_and_the_digest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dana = write_portfolio(
        tmp_path / "dana",
        accounts=[account("A-1", csm_owner="Dana")],
        usage=[
            {"account_id": "A-1", "period_start": day(-7), "metric": "dau", "value": 100},
            {"account_id": "A-1", "period_start": day(0), "metric": "dau", "value": 40},
        ],
    )
    other = write_portfolio(
        tmp_path / "other",
        accounts=[account("A-2", csm_owner="Dana")],
        tickets=[{"ticket_id": "T-1", "account_id": "A-2", "opened_at": day(-45), "priority": "P1", "status": "open"}],
    )
    home = ("--home", str(tmp_path / "h"))

    def queue(data: Path, as_of: str) -> dict[str, str | None]:
        code, out, err = cli(capsys, *home, "queue", "--data", str(data), "--as-of", as_of, "--format", "json")
        assert code == 0, err
        return {r["account_id"]: r["alert"] for r in json.loads(out)}

    def digest(data: Path, as_of: str) -> dict[str, list[str]]:
        code, out, err = cli(
            capsys, *home, "digest", "--data", str(data), "--csm", "Dana", "--as-of", as_of, "--format", "json"
        )
        assert code == 0, err
        found = json.loads(out)
        return {k: sorted({a["account_id"] for a in found[k]}) for k in ("new", "reminders", "resolved")}

    assert queue(dana, day(0)) == {"A-1": "new"}
    assert digest(dana, day(0))["new"] == ["A-1"]
    code, out, _ = cli(capsys, *home, "ack", "A-1", "--on", day(0))
    assert code == 0 and "Acknowledged 2 alert(s)" in out  # the queue's and Dana's digest's

    assert queue(dana, day(-3)) == {}  # before the drop: nothing at risk, and nothing resolved in the store
    assert digest(dana, day(-3)) == {"new": [], "reminders": [], "resolved": ["A-1"]}  # read, not stored
    assert queue(other, day(0)) == {"A-2": "new"}
    assert digest(other, day(0))["new"] == ["A-2"]  # the same CSM name in another portfolio: its own state

    assert queue(dana, day(20)) == {"A-1": "suppressed"}  # still acknowledged: no "repeat" after 14 days
    assert digest(dana, day(20)) == {"new": [], "reminders": [], "resolved": []}
    rows = acknowledged(tmp_path / "h" / "alerts.sqlite")
    assert [(r[1], r[3]) for r in rows if r[2] == "A-1"] == [("digest:dana", day(0)), ("queue", day(0))]


# Alert runs over many accounts: a portfolio's first keyed run adopts the unkeyed state of exactly its own
# accounts (looked up, not updated account by account); a run leaves the garbage collector as it found it,
# and a failed run changes nothing.


def rows(store: AlertStore) -> list[tuple[object, ...]]:
    return [(r["portfolio"], r["channel"], r["account_id"], r["signal"], r["active"]) for r in store.rows()]


def test_the_first_keyed_run_adopts_the_unkeyed_state_of_its_own_accounts(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    unkeyed = [
        entry("A-1", ("usage_sudden_drop", 4)),
        entry("A-7", ("payment_overdue", 3)),
        entry("Z", ("p1_escalation", 5)),
    ]
    store.record("queue", unkeyed, AS_OF)  # no portfolio named: the unkeyed state
    store.record("digest:dana", [entry("A-2", ("payment_overdue", 3))], AS_OF)  # another channel: not adopted
    root = write_portfolio(tmp_path / "p", accounts=[account(f"A-{i}") for i in range(1, 400)])
    portfolio = load_portfolio(root)
    key = portfolio_key(root)

    run = store.record("queue", [entry("A-1", ("usage_sudden_drop", 4))], date(2026, 11, 21), portfolio=portfolio)
    assert [a.kind for a in run.alerts] == ["suppressed"]  # alerted the day before, under the unkeyed state
    assert run.latest_run == AS_OF and run.resolved == [("A-7", "payment_overdue")]
    assert rows(store) == [
        ("", "digest:dana", "A-2", "payment_overdue", 1),
        ("", "queue", "Z", "p1_escalation", 1),  # not this portfolio's account: left unkeyed
        (key, "queue", "A-1", "usage_sudden_drop", 1),
        (key, "queue", "A-7", "payment_overdue", 0),
    ]
    again = store.record("queue", [entry("A-3", ("payment_overdue", 3))], date(2026, 11, 22), portfolio=portfolio)
    assert [a.kind for a in again.alerts] == ["new"] and again.resolved == [("A-1", "usage_sudden_drop")]


def test_a_run_leaves_the_collector_as_it_was_and_a_failed_run_changes_nothing(tmp_path: Path) -> None:
    store = AlertStore(tmp_path / "alerts.sqlite")
    many = [entry(f"A-{i}", ("usage_sudden_drop", 4), ("payment_overdue", 3)) for i in range(3000)]
    assert gc.isenabled()
    run = store.record("queue", many, AS_OF, portfolio="p")
    assert gc.isenabled() and len(run.alerts) == 6000 and len(store.rows()) == 6000
    gc.disable()
    try:
        store.record("queue", many[:10], AS_OF, portfolio="p")
        assert not gc.isenabled()
    finally:
        gc.enable()
    before = store.rows()

    broken = entry("B").model_copy(update={"active_signals": [None]})  # fails mid-run, after C was compared
    with pytest.raises(AttributeError):
        store.record("queue", [entry("C", ("p1_escalation", 5)), broken], date(2026, 11, 21), portfolio="p")
    assert gc.isenabled() and store.rows() == before
