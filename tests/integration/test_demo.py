"""`riskbrief demo`, the main job, end to end in fresh processes: queue, ingest, a brief paused for
review, then the printed approve command run from another process."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path


def riskbrief(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RISKBRIEF_"))}
    env["RISKBRIEF_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def test_demo_pauses_then_the_printed_command_approves(tmp_path: Path) -> None:
    home = tmp_path / "home"
    demo = riskbrief("demo", home=home)
    assert demo.returncode == 0, demo.stderr
    out = demo.stdout
    assert "TechStart Solutions" in out and "critical" in out
    assert "## Confirmed causes" in out and "## Suspected causes" in out
    approve = next(line for line in out.splitlines() if line.startswith("approve:"))
    command = shlex.split(approve.removeprefix("approve:").strip())
    assert command[:3] == ["riskbrief", "review", "decide"]
    review_id = command[3]
    assert review_id.startswith("rv-A-017-")

    listed = riskbrief("review", "list", home=home)
    assert review_id in listed.stdout and "awaiting_review" in listed.stdout

    args = [a if a != "YOUR NAME" else "Dana Whitfield" for a in command[1:]]
    decided = riskbrief(*args, home=home)
    assert decided.returncode == 0, decided.stderr
    assert "approved by Dana Whitfield" in decided.stdout and "Nothing was sent" in decided.stdout
    again = riskbrief(*args, home=home)
    assert again.returncode == 2 and "already decided" in again.stderr
