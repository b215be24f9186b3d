"""A decision survives a crash at any step (agent.review.DECIDE_STEPS).

`review decide` runs in a subprocess that ends itself abruptly (os._exit, as kill -9 would: no cleanup,
no commit) right after one step, via RISKBRIEF_CRASH_AT; the retry comes from a new process. Whatever
the step: the approval is applied exactly once, the event logged exactly once, the review ends in its
final status with the graph at its end, and a different decision is refused with exit 2.

Also: an unexpected exception is an internal error (exit 4, one line) that a retry recovers from, and
hostile input to `decide` (an endless --edit file, terminal escapes in names) is one escaped line, exit 2.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pg import backend, postgres_server, postgres_url  # noqa: F401  (fixtures)

from agent import review
from agent.cli import main
from agent.cli_agent import decide_review, run_brief
from agent.config import AgentContext
from agent.graph import checkpointed_graph
from agent.review import CRASH_AT, CRASH_EXIT, DECIDE_STEPS, ReviewDecision
from tools.errors import InputError

pytestmark = pytest.mark.usefixtures("backend")  # every test: on SQLite, then on Postgres

EDITS = {"risk_category": "relationship/stakeholder"}


def cli(*args: str, home: Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    """`riskbrief ARGS` in its own process, sharing only the workspace; `crash_at` ends it after that step."""
    env = {k: v for k, v in os.environ.items() if k not in (CRASH_AT, "OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env["RISKBRIEF_HOME"] = str(home)
    if crash_at:
        env[CRASH_AT] = crash_at
    return subprocess.run(
        [sys.executable, "-c", "from agent.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=home.parent,
        timeout=120,
    )


def in_process(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`riskbrief ARGS` in this process (the workspace from RISKBRIEF_HOME): exit code and stderr."""
    argv = sys.argv
    sys.argv = ["riskbrief", *args]
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        sys.argv = argv
    return code, capsys.readouterr().err


def graph_next(review_id: str) -> tuple[str, ...]:
    with checkpointed_graph() as graph:
        return tuple(graph.get_state({"configurable": {"thread_id": review_id}}).next)


def events(review_id: str) -> list[dict[str, Any]]:
    with review.connect() as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM events WHERE review_id = ?", (review_id,))]


@pytest.mark.parametrize("step", DECIDE_STEPS)
def test_a_decide_killed_after_any_step_is_finished_by_a_retry_from_a_new_process(
    step: str,
    home: Path,
    tiny_portfolio: Path,
    tiny_context: AgentContext,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    review_id = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id=f"rv-A-017-{step}").review_id
    edit = tmp_path / "edit.json"
    edit.write_text(json.dumps(EDITS), encoding="utf-8")
    decide = ("review", "decide", review_id, "--edit", str(edit), "--ack-stops", "--reviewer", "Priya Patel")
    decide += ("--triage", "escalate", "--option", "1")

    crashed = cli(*decide, home=home, crash_at=step)
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    # Until its last step a decision is 'deciding': never final with an effect missing.
    assert review.get_review(review_id).status == ("approved" if step == "finish" else "deciding")

    retried = cli(*decide, home=home)
    if step == "finish":  # it had finished: the retry is told so, naming who decided
        assert retried.returncode == 2
        assert "already decided (edited and approved by Priya Patel at" in retried.stderr
    else:
        assert retried.returncode == 0, retried.stderr
        assert "edited and approved by Priya Patel (triage escalate)" in retried.stdout

    row = review.get_review(review_id)
    assert (row.status, row.decision, row.triage) == ("approved", "edit", "escalate")
    assert review.table_counts(review_id) == {"review_tasks": 1, "actions": 2, "edits": 1, "events": 1}
    [event] = events(review_id)
    assert (event["decision"], event["triage"], event["decided_at"]) == ("edit", "escalate", row.decided_at)
    assert graph_next(review_id) == ()  # the graph ran to its end

    code, err = in_process(
        "review", "decide", review_id, "--reject", "--reviewer", "Sam Lee", "--reason", "late", capsys=capsys
    )
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"review {review_id} was already decided (edited and approved by Priya Patel" in err
    assert review.table_counts(review_id) == {"review_tasks": 1, "actions": 2, "edits": 1, "events": 1}


@pytest.mark.parametrize("step", [s for s in DECIDE_STEPS if s not in ("apply", "finish")])
def test_a_different_decision_after_a_crash_finishes_the_first_and_is_refused(
    step: str, home: Path, tiny_portfolio: Path, tiny_context: AgentContext
) -> None:
    review_id = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id=f"rv-A-017-r{step}").review_id
    reject = ("review", "decide", review_id, "--reject", "--reviewer", "Sam Lee", "--reason", "stale data")
    assert cli(*reject, home=home, crash_at=step).returncode == CRASH_EXIT
    approve = ReviewDecision(decision="approve", reviewer="Priya Patel", decided_at="t9", option=1)
    with pytest.raises(InputError, match=r"already decided \(rejected by Sam Lee at"):
        decide_review(review_id, approve, tiny_context)
    assert review.get_review(review_id).status == "rejected"
    assert review.table_counts(review_id) == {"review_tasks": 0, "actions": 0, "edits": 0, "events": 1}
    assert events(review_id)[0]["reason"] == "stale data" and graph_next(review_id) == ()


def test_an_unexpected_exception_mid_decide_exits_4_on_one_line_and_the_retry_finishes(
    home: Path,
    tiny_portfolio: Path,
    tiny_context: AgentContext,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    review_id = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-internal").review_id
    decide = ("review", "decide", review_id, "--approve", "--ack-stops", "--reviewer", "Priya Patel")
    real_apply = review.apply_approved

    def broken(*args: Any) -> list[str]:
        raise RuntimeError("disk \x1b[2J on fire\nsecond line")

    monkeypatch.setattr(review, "apply_approved", broken)
    code, err = in_process(*decide, capsys=capsys)
    assert code == 4  # never 1, which means "a finding"
    assert err.strip() == (
        "internal error: RuntimeError: disk \\x1b[2J on fire\\nsecond line "
        "(run with --debug or RISKBRIEF_DEBUG=1 for the traceback)"
    )
    code, err = in_process("--debug", *decide, capsys=capsys)
    assert code == 4 and err.startswith("Traceback") and "RuntimeError: disk" in err
    assert review.get_review(review_id).status == "deciding"

    monkeypatch.setattr(review, "apply_approved", real_apply)
    assert in_process(*decide, capsys=capsys)[0] == 0
    assert review.get_review(review_id).status == "approved"
    assert review.table_counts(review_id) == {"review_tasks": 1, "actions": 1, "edits": 0, "events": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--edit", "/dev/zero"], "error: /dev/zero: edit file larger than 1,000,000 bytes"),
        (["--edit", "{deep}"], "not valid JSON (nested too deeply)"),
        (["--edit", "{folder}"], "can't read the edit file (Is a directory)"),
        (
            ["--approve", "--reviewer", "Eve\x1b]0;owned\x07\x1b[2J"],
            "--reviewer: 'Eve\\x1b]0;owned\\x07\\x1b[2J' contains",
        ),
        (["--edit", "{field}"], "unknown field 'mood\\x1b[5m' (editable:"),
    ],
)
def test_hostile_decide_input_is_one_escaped_line_exit_2_and_claims_nothing(
    home: Path,
    tiny_portfolio: Path,
    tiny_context: AgentContext,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    review_id = run_brief("A-017", tiny_portfolio, context=tiny_context, review_id="rv-A-017-hostile").review_id
    (tmp_path / "deep.json").write_text("[" * 200_000, encoding="utf-8")
    (tmp_path / "field.json").write_text(json.dumps({"mood\x1b[5m": "grim"}), encoding="utf-8")
    files = {"deep": tmp_path / "deep.json", "folder": tmp_path, "field": tmp_path / "field.json"}
    argv = [a.format(**files) for a in args]
    if "--reviewer" not in argv:
        argv += ["--reviewer", "Priya Patel"]
    code, err = in_process("review", "decide", review_id, *argv, capsys=capsys)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and "\x1b" not in err
    assert review.get_review(review_id).status == "awaiting_review"


def test_values_in_error_lines_are_text_not_markup(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = in_process("review", "show", "rv-[bold]x[/bold]", capsys=capsys)
    assert code == 2 and err.startswith("error: unknown review 'rv-[bold]x[/bold]' in ")
