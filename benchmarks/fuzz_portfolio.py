"""Fuzz the portfolio loader through the CLI: mutate a small valid portfolio and its riskbrief.toml, run
`queue --format json` and `digest --format json` in-process, and check the contract of "nothing silent":

* exit 0 with valid JSON on stdout (no NaN, no Infinity), or
* exit 2 with exactly one line on stderr, starting `error:`;
* never a traceback, never exit 1 (a finding) or 4 (an internal error).

    python -m benchmarks.fuzz_portfolio --examples 2000 [--seed 7]

Prints one JSON line: examples run, runs that loaded (exit 0) and that were refused (exit 2), failures,
seconds, and the first failure (shrunk by hypothesis) if any. `tests/unit/test_fuzz_portfolio.py` runs
the same engine with a small bound.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import importlib.util
import io
import json
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

CSM = "Priya Patel"
COMMANDS: tuple[tuple[str, ...], ...] = (
    ("queue", "--format", "json", "--no-record"),
    ("digest", "--csm", CSM, "--format", "json"),
)

# ------------------------------------------------------------------------------------------ mutations

DATES = [
    "2026-11-01", "12/01/2026", "2026/01/05", "2026-1-5", "+2026-01-05", "27-03-27", "0001-01-01",
    "9999-12-31", "2026-02-30", " 2026-11-01 ", "2026-11-01T10:00:00", "20261101", "2026- 1-05", "",
]  # fmt: skip
NUMBERS = [
    "0", "-1", "85000", "85,000", "85.000,50", "1,2,3", "NaN", "nan", "inf", "-inf", "Infinity", "1e400",
    "1e308", "1e15", "1e16", "-0", "101", "11", "0.5", " 7 ", "$5", "0x10", "1_000", "",
]  # fmt: skip
TEXT = [
    "", " ", "x", "Ünïcödé ✓", "\x1b[31mred\x1b[0m", "[/bold]", "[bold]x", ":smile:", "a,b", 'quote"inside',
    '"', "line\nbreak", "tab\tin", "\x00", "\u202eevil", "nps", "csat", "NPS", "P1", "urgent", "closed",
    "yes", "maybe", "true", "A-017", "A-002", "A-999", "Priya Patel", "Gainsight", "A-017:x", "#s1",
]  # fmt: skip
TOML_LINES = [
    'as_of = "2026-11-20"', "as_of = 2026-11-20", "as_of = 0", "as_of = 0001-01-01", 'as_of = "2026-1-5"',
    "as_of = 2026-11-20T10:00:00", 'as_of = ["2026-11-20"]', "history_days = 3000000", "history_days = 29",
    "history_days = 182", "history_days = [1]", "history_days = 1.5", "cluster_window_days = 0",
    "cluster_cap = nan", "cluster_cap = inf", "score_cap = -1", "suppression_days = 400",
    'competitors = ["Gainsight", ""]', "competitors = 5", 'competitors = ["[/x]"]',
    "[signals.usage_sudden_drop]\nthreshold = 0.5", "[signals.usage_sudden_drop]\nthreshold = [1]",
    "[signals.usage_sudden_drop]\nthreshold = nan", "[signals.survey_decline]\npercentile = 2.0",
    "[signals.survey_decline]\nlookback_days = 100000000", "[signals.payment_overdue]\nseverity = 9",
    "[signals.no_such_signal]\nseverity = 2", "[risk_levels]\ncritical = 1.0\nhigh = 2.0",
    "[[renewal_proximity]]\nmax_days = 10\nadjustment = 100", "[calibration]\nintercept = 1e300",
    "[calibration]\nintercept = -3.0\n[calibration.weights]\np1_escalation = 2.0",
    '[formats]\ntickets.opened_at = "%m/%d/%Y"', '[formats]\ntickets.opened_at = "%m/%d/%y"',
    '[formats]\ndecimal = ","\nthousands = "."', '[formats]\ndecimal = ","\nthousands = ","',
    '[formats]\ndate = "%d.%m.%Y"', '[formats]\nnope.x = "%Y"', '[mapping.tickets]\ndelimiter = ";"',
    '[mapping.tickets]\ncolumns = {"Ticket ID" = "ticket_id"}', '[mapping.tickets]\ncolumns = {"x" = "nope"}',
    '[mapping.tickets]\nvalues.priority = {urgent = "P1", high = "P9"}',
    '[mapping.surveys]\nvalues.kind = {"Net Promoter" = "nps"}', "[limits]\nmax_cell_kb = 1",
    "[limits]\nmax_file_mb = 0", "[limits]\nmax_file_mb = 1", "this is not toml", "[store]\nhome = 5",
]  # fmt: skip

Table = dict[str, Any]  # {"header": [...], "rows": [[...], ...]}


def read_portfolio(root: Path) -> dict[str, Table]:
    tables: dict[str, Table] = {}
    for path in sorted(root.glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        tables[path.stem] = {"header": rows[0], "rows": rows[1:]}
    return tables


@dataclass
class Case:
    """One mutated portfolio: the tables as rows, raw byte edits, deleted files and the settings file."""

    tables: dict[str, Table]
    toml: str
    raw: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)  # file -> byte-level edits
    deleted: set[str] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)

    def write(self, root: Path) -> None:
        for old in root.glob("*.csv"):
            old.unlink()
        for name, table in self.tables.items():
            if name in self.deleted:
                continue
            buf = io.StringIO()
            sep = ";" if ("delimiter", ";") in self.raw.get(name, []) else ","
            writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
            writer.writerow(table["header"])
            writer.writerows(table["rows"])
            data = buf.getvalue().encode("utf-8")
            for kind, arg in self.raw.get(name, []):
                if kind == "insert":
                    at, blob = arg
                    at = at % (len(data) + 1)
                    data = data[:at] + blob + data[at:]
                elif kind == "crlf":
                    data = data.replace(b"\n", b"\r\n")
                elif kind == "bom":
                    data = b"\xef\xbb\xbf" + data
                elif kind == "blank":
                    data = data + b"\n\n" if arg else data.replace(b"\n", b"\n\n", 1)
                elif kind == "truncate":
                    data = data[: arg % (len(data) + 1)]
            (root / f"{name}.csv").write_bytes(data)
        (root / "riskbrief.toml").write_text(self.toml, encoding="utf-8")


@st.composite
def _cell(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["date", "number", "text", "random", "long"]))
    if kind == "date":
        return draw(st.sampled_from(DATES))
    if kind == "number":
        return draw(st.sampled_from(NUMBERS))
    if kind == "text":
        return draw(st.sampled_from(TEXT))
    if kind == "long":
        return draw(st.sampled_from(["x", "é", "1"])) * draw(st.sampled_from([200, 2000, 120_000]))
    return draw(st.text(max_size=12))


@st.composite
def _valid_cell(draw: st.DrawFn, table: str, column: str) -> str:
    """A value the loader accepts for this column, chosen at the edges of what is allowed."""
    from tools.portfolio import TABLES

    spec = TABLES.get(table)
    col = spec.column(column) if spec else None
    if col is None or col.kind == "str":
        return draw(st.sampled_from(["A-017", "A-002", "Priya Patel", "Gainsight", "x", "", "Lena Ortiz"]))
    if col.kind == "date":
        return draw(st.sampled_from(["1900-01-01", "2100-12-31", "2026-11-20", "2026-11-21", "2026-11-19", ""]))
    if col.kind == "float":
        high = min(col.high, 1e15)
        return draw(st.sampled_from(["0", f"{col.low if col.low > -1e15 else 0:g}", f"{high:g}", "0.0001", "1"]))
    if col.kind == "bool":
        return draw(st.sampled_from(["true", "false", "yes", "NO", "1", "0", ""]))
    return draw(st.sampled_from([*col.choices, *(c.upper() for c in col.choices), ""]))


@st.composite
def _mutation(draw: st.DrawFn, case: Case) -> None:
    names = sorted(case.tables)
    name = draw(st.sampled_from(names))
    table = case.tables[name]
    header, rows = table["header"], table["rows"]
    op = draw(
        st.sampled_from(
            [
                "cell", "cell", "cell", "cell", "drop_column", "dup_column", "rename_column", "title_case",
                "drop_row", "dup_row", "short_row", "long_row", "insert_bytes", "crlf", "bom", "blank",
                "truncate", "delete_file", "semicolon", "swap_rows", "valid", "valid", "valid", "header_only",
            ]
        )
    )  # fmt: skip
    case.notes.append(f"{op} {name}")
    if op == "cell" and rows:
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(header) - 1))
        if c < len(rows[r]):
            rows[r][c] = draw(_cell())
            case.notes[-1] += f" [{r}][{header[c]}]={rows[r][c][:40]!r}"
    elif op == "valid" and rows:  # unusual but valid: the loader accepts it, so nothing after may crash
        r = draw(st.integers(0, len(rows) - 1))
        c = draw(st.integers(0, len(header) - 1))
        if c < len(rows[r]):
            rows[r][c] = draw(_valid_cell(name, header[c]))
            case.notes[-1] += f" [{r}][{header[c]}]={rows[r][c][:40]!r}"
    elif op == "header_only":
        rows.clear()
    elif op == "drop_column" and len(header) > 1:
        c = draw(st.integers(0, len(header) - 1))
        del header[c]
        for row in rows:
            if c < len(row):
                del row[c]
    elif op == "dup_column":
        c = draw(st.integers(0, len(header) - 1))
        header.append(header[c])
        for row in rows:
            row.append(row[c] if c < len(row) else "")
    elif op == "rename_column":
        c = draw(st.integers(0, len(header) - 1))
        header[c] = draw(st.sampled_from(["", " ", "x", header[c] + " ", header[c].upper(), "[/x]"]))
    elif op == "title_case":
        table["header"] = [h.replace("_", " ").title() for h in header]
    elif op == "drop_row" and rows:
        del rows[draw(st.integers(0, len(rows) - 1))]
    elif op == "dup_row" and rows:
        r = draw(st.integers(0, len(rows) - 1))
        rows.insert(r, list(rows[r]))
    elif op == "short_row" and rows:
        r = draw(st.integers(0, len(rows) - 1))
        rows[r] = rows[r][: draw(st.integers(0, max(len(rows[r]) - 1, 0)))]
    elif op == "long_row" and rows:
        rows[draw(st.integers(0, len(rows) - 1))].append(draw(_cell()))
    elif op == "insert_bytes":
        blob = draw(st.sampled_from([b"\xff", b"\xe9", b"\x00", b'"', b"\r", b"\n", b",", b"\xef\xbb\xbf", b";"]))
        case.raw.setdefault(name, []).append(("insert", (draw(st.integers(0, 5000)), blob)))
    elif op in ("crlf", "bom"):
        case.raw.setdefault(name, []).append((op, None))
    elif op == "blank":
        case.raw.setdefault(name, []).append(("blank", draw(st.booleans())))
    elif op == "truncate":
        case.raw.setdefault(name, []).append(("truncate", draw(st.integers(0, 5000))))
    elif op == "delete_file":
        case.deleted.add(name)
    elif op == "semicolon":
        case.raw.setdefault(name, []).append(("delimiter", ";"))
    elif op == "swap_rows" and len(rows) > 1:
        rows.reverse()


@st.composite
def cases(draw: st.DrawFn, base: dict[str, Table], base_toml: str) -> Case:
    """A mutated copy of the base portfolio: one to three edits of its files, maybe of its settings."""
    case = Case({k: {"header": list(v["header"]), "rows": [list(r) for r in v["rows"]]} for k, v in base.items()}, "")
    for _ in range(draw(st.integers(1, 3))):
        draw(_mutation(case))
    extra = draw(st.lists(st.sampled_from(TOML_LINES), max_size=2, unique=True)) if draw(st.integers(0, 3)) == 0 else []
    case.toml = settings_file(base_toml, extra)
    case.notes.extend(f"toml: {line!r}" for line in extra)
    return case


def settings_file(base: str, extra: list[str]) -> str:
    """The base riskbrief.toml with `extra` lines: a top-level `key = value` replaces the base's line for
    that key (TOML forbids a key twice), tables go at the end."""

    def key(line: str) -> str:
        return line.split("=", 1)[0].strip()

    top = [line for line in extra if not line.startswith("[") and "=" in line]
    tables = [line for line in extra if line not in top]
    drawn = {key(line) for line in top}
    kept = [line for line in base.splitlines() if key(line) not in drawn]
    return "\n".join([*top, *kept, *tables]) + "\n"


# ------------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    command: str
    code: int
    stdout: str
    stderr: str


def run_cli(args: list[str]) -> Outcome:
    """Run `riskbrief ARGS` in-process through the real entry point (agent.cli.main), under typer's
    CliRunner isolation (its own stdin, stdout and stderr)."""
    from typer.testing import CliRunner

    from agent import cli

    runner = CliRunner()
    argv = sys.argv
    code = 0
    with runner.isolation() as streams:
        sys.argv = ["riskbrief", *args]
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        finally:
            sys.argv = argv
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr = streams[0].getvalue(), streams[1].getvalue()
    return Outcome(" ".join(args[:1]), code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace"))


def _no_constants(name: str) -> Any:
    raise ValueError(f"JSON holds {name}")


def problem(outcome: Outcome) -> str | None:
    """What breaks the contract in one run, or None."""
    lines = [line for line in outcome.stderr.splitlines() if line.strip()]
    if "Traceback" in outcome.stderr or "internal error" in outcome.stderr:
        return f"{outcome.command}: crashed (exit {outcome.code}): {outcome.stderr.strip()[-600:]}"
    if outcome.code == 0:
        try:
            json.loads(outcome.stdout, parse_constant=_no_constants)
        except ValueError as exc:
            return f"{outcome.command}: exit 0 without valid JSON ({exc}): {outcome.stdout[:300]!r}"
        return None
    if outcome.code == 2:
        if len(lines) != 1 or not lines[0].startswith("error:"):
            return f"{outcome.command}: exit 2 but stderr is not one 'error:' line: {outcome.stderr[:600]!r}"
        return None
    return f"{outcome.command}: exit {outcome.code}: {outcome.stderr.strip()[:600]}"


@dataclass
class Tally:
    examples: int = 0
    loaded: int = 0
    refused: int = 0
    runs: int = 0


@contextlib.contextmanager
def workspace(home: Path) -> Iterator[None]:
    """Point the workspace at `home` for the runs, and restore whatever was set before."""
    import os

    from tools import workspace as ws

    old = os.environ.get("RISKBRIEF_HOME")
    os.environ["RISKBRIEF_HOME"] = str(home)
    ws.set_home(None)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("RISKBRIEF_HOME", None)
        else:
            os.environ["RISKBRIEF_HOME"] = old
        ws.set_home(None)
        ws.set_config_home(None)


def check_case(case: Case, root: Path, tally: Tally) -> None:
    """Write the case, run both commands, raise AssertionError on any breach of the contract."""
    case.write(root)
    tally.examples += 1
    for command in COMMANDS:
        outcome = run_cli([*command[:1], "--data", str(root), *command[1:]])
        tally.runs += 1
        if outcome.code == 0:
            tally.loaded += 1
        elif outcome.code == 2:
            tally.refused += 1
        broken = problem(outcome)
        if broken:
            raise AssertionError(f"{broken}\nmutations: {case.notes}\nriskbrief.toml:\n{case.toml}")


def load_tiny_writer() -> Callable[[Path], Path]:
    """`write_tiny_portfolio` from tests/conftest.py (the tests' two-account portfolio)."""
    path = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"
    spec = importlib.util.spec_from_file_location("_riskbrief_tests_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_tiny_portfolio  # type: ignore[no-any-return]


def main() -> None:
    from hypothesis import HealthCheck, given, settings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="riskbrief-fuzz-"))
    base_root = load_tiny_writer()(work / "base")
    base, base_toml = read_portfolio(base_root), (base_root / "riskbrief.toml").read_text(encoding="utf-8")
    tally = Tally()
    failure: str | None = None

    @settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases(base, base_toml))
    def run(case: Case) -> None:
        check_case(case, work / "case", tally)

    (work / "case").mkdir()
    started = time.perf_counter()
    with workspace(work / "home"):
        try:
            from hypothesis import seed

            seed(args.seed)(run)()
        except AssertionError as exc:
            failure = str(exc)
    print(
        json.dumps(
            {
                "examples": tally.examples,
                "runs": tally.runs,
                "exit_0": tally.loaded,
                "exit_2": tally.refused,
                "failures": 0 if failure is None else 1,
                "seconds": round(time.perf_counter() - started, 1),
                "first_failure": failure,
            }
        )
    )
    if failure is not None:
        sys.exit(1)


if __name__ == "__main__":
    main()
