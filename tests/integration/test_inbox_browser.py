"""The review inbox in a real browser: Playwright driving Debian's Chromium against `riskbrief serve`.

A workspace with briefs drafted offline on a small portfolio and two reviewers (a manager and a CSM);
`riskbrief serve` runs in its own process on a free 127.0.0.1 port. The tests sign in, open the inbox
and a brief, expand evidence to its quoted source, approve with a triage outcome and an option, see the
brief leave the inbox and the report change; a CSM is refused a budget option (403); a form posted
without its CSRF token is refused; an outcome changes the report. Screenshots of the inbox, a brief and
the report go to docs/.

Skipped only when /usr/bin/chromium is absent (`apt-get install -y chromium`; CI installs it):
Playwright's own browser download is not used.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import write_tiny_portfolio

from agent import review, reviewers
from agent.cli_agent import run_brief
from agent.config import AgentContext
from tools import retrieval, workspace
from tools.portfolio import load_portfolio

CHROMIUM = Path("/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)"
)

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the dev extra is not installed: the module is skipped above or here
    pytest.skip("needs playwright (pip install -e '.[dev]')", allow_module_level=True)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium, not a Playwright download; no sandbox (containers, root in CI), no network chatter."""
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


# ------------------------------------------------------------------------------------------- the site


def add_account(root: Path, account_id: str, name: str, csm: str, arr: int) -> None:
    """A copy of A-017's rows as another account (another name, CSM and ARR): a fuller inbox."""
    renames = {"ticket_id", "meeting_id", "opportunity_id", "note_id"}
    for path in root.glob("*.csv"):
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = list(reader.fieldnames or [])
            rows = list(reader)
        extra = []
        for row in rows:
            if row.get("account_id") != "A-017":
                continue
            copy = {**row, "account_id": account_id}
            for column in renames & set(copy):
                copy[column] = f"{copy[column]}{account_id[-2:]}"
            if path.stem == "accounts":
                copy.update(name=name, csm_owner=csm, arr=str(arr))
            if copy.get("author") == "Priya Patel":
                copy["author"] = csm
            extra.append(copy)
        with path.open("a", newline="", encoding="utf-8") as fh:
            csv.DictWriter(fh, fieldnames=columns).writerows(extra)


@dataclass
class Site:
    url: str
    home: Path
    manager_token: str
    csm_token: str
    reviews: dict[str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("inbox")
    data = write_tiny_portfolio(root / "portfolio")
    add_account(data, "A-031", "Brightwave Media", "Sam Lee", 120000)
    add_account(data, "A-041", "Harbor Logistics", "Priya Patel", 95000)
    add_account(data, "A-052", "Cobalt Analytics", "Priya Patel", 60000)
    home = root / "home"
    store = root / "chroma"
    retrieval.ingest(load_portfolio(data), progress=False, store_path=store)
    context = AgentContext(store_path=str(store))
    with workspace.using(home):
        ids = {
            name: run_brief(account, data, context=context, review_id=f"rv-{account}-{name}").review_id
            for name, account in (
                ("approve", "A-017"),
                ("refuse", "A-041"),
                ("csrf", "A-052"),
                ("outcome", "A-031"),
                ("low", "A-002"),
            )
        }
        _, manager = reviewers.add_reviewer("Morgan Diaz", "manager")
        _, csm = reviewers.add_reviewer("Priya Patel", "csm")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "RISKBRIEF_"))}
    env["RISKBRIEF_HOME"] = str(home)
    server = subprocess.Popen(
        [sys.executable, "-c", "from agent.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/signin", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                output = server.stdout.read() if server.stdout else ""
                pytest.fail(f"riskbrief serve did not start: {output}")
            time.sleep(0.2)
        yield Site(url=url, home=home, manager_token=manager, csm_token=csm, reviews=ids)
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


@pytest.fixture(autouse=True)
def _site_workspace(site: Site) -> None:
    """This process reads the same workspace as the server (conftest resets it for every test)."""
    workspace.set_home(site.home)


# ---------------------------------------------------------------------------------------------- steps


def sign_in(page: Page, site: Site, token: str) -> None:
    page.goto(f"{site.url}/inbox")
    expect(page).to_have_url(f"{site.url}/signin")  # signed out: the inbox asks who you are
    page.fill("#token", token)
    page.click("form[action='/signin'] button")
    expect(page).to_have_url(f"{site.url}/inbox")


def metric(page: Page, site: Site, name: str) -> int:
    page.goto(f"{site.url}/report")
    return int(page.locator(f"#m-{name}").inner_text().strip())


def fill_approval(page: Page, triage: str, option: int | None) -> None:
    form = page.locator("#approve-form")
    form.locator("select[name=triage]").select_option(triage)
    form.locator(f"input[name=option][value='{option or ''}']").check()
    for box in form.locator("input[name=ack]").all():
        box.check()


def shot(page: Page, name: str, height: int | None = None) -> None:
    """A PNG for the README in docs/: the whole page, or its top `height` pixels."""
    DOCS.mkdir(exist_ok=True)
    clip = {"x": 0, "y": 0, "width": 1280, "height": height} if height else None
    page.screenshot(path=str(DOCS / name), full_page=True, clip=clip)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- tests


def test_a_manager_approves_from_the_inbox_and_the_report_counts_it(page: Page, site: Site) -> None:
    sign_in(page, site, site.manager_token)
    before = {name: metric(page, site, name) for name in ("accounts_reviewed", "actions_taken", "risks_confirmed")}

    page.goto(f"{site.url}/inbox")
    expect(page.locator("header .who")).to_contain_text("Morgan Diaz")
    expect(page.locator(".banner")).to_have_count(0)  # reviewers configured: not local mode
    rows = page.locator("table.queue tbody tr")
    expect(rows).to_have_count(5)
    # Queue order: urgency, then score, then renewal; the low-risk account comes last.
    expect(rows.last).to_contain_text("Northwind Traders")
    page.select_option("select[name=csm]", "Sam Lee")
    page.select_option("select[name=level]", "critical")
    page.click("form.filters button")
    expect(rows).to_have_count(1)  # Sam Lee's critical account (his other one is low)
    expect(rows.first).to_contain_text("Brightwave Media")
    page.goto(f"{site.url}/inbox")
    shot(page, "inbox.png")

    review_id = site.reviews["approve"]
    page.click(f"a[href='/reviews/{review_id}']")
    expect(page.locator("h1")).to_contain_text("TechStart Solutions")
    # Confirmed and suspected causes side by side; evidence opens to the quoted source text.
    expect(page.locator(".causes > div")).to_have_count(2)
    quote = page.locator(".cause.confirmed details.ev").filter(has_text="note N-1").first
    expect(quote.locator("blockquote")).to_be_hidden()
    quote.locator("summary").click()
    expect(quote.locator("blockquote")).to_be_visible()
    expect(quote.locator("blockquote")).to_contain_text("the exports keep timing out")
    page.locator("section.causes").screenshot(path=str(DOCS / "brief-causes.png"))
    signal_evidence = page.locator(".signal details.ev").filter(has=page.locator("blockquote")).first
    signal_evidence.locator("summary").click()
    expect(signal_evidence.locator("blockquote")).to_be_visible()
    shot(page, "brief.png", height=1500)

    fill_approval(page, "escalate", 3)  # commercial_review touches budget: a manager may approve it
    page.click("#approve-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Decision recorded.")
    expect(page.locator("#review-status")).to_contain_text("approved by Morgan Diaz")
    expect(page.locator("#review-status")).to_contain_text("triage escalate")
    row = review.get_review(review_id)
    assert (row.status, row.reviewer, row.triage) == ("approved", "Morgan Diaz", "escalate")

    page.goto(f"{site.url}/inbox")
    expect(page.locator(f"a[href='/reviews/{review_id}']")).to_have_count(0)  # it left the inbox
    expect(page.locator("#count-approved")).to_have_text("1")
    assert metric(page, site, "accounts_reviewed") == before["accounts_reviewed"] + 1
    assert metric(page, site, "actions_taken") == before["actions_taken"] + 1
    assert metric(page, site, "risks_confirmed") == before["risks_confirmed"] + 1


def test_a_csm_is_refused_an_option_that_needs_a_manager(page: Page, site: Site) -> None:
    sign_in(page, site, site.csm_token)
    review_id = site.reviews["refuse"]
    page.goto(f"{site.url}/reviews/{review_id}")
    fill_approval(page, "investigate", 3)
    with page.expect_response(lambda r: r.url.endswith(f"/reviews/{review_id}/decide")) as answer:
        page.click("#approve-form button[type=submit]")
    assert answer.value.status == 403
    expect(page.locator("#form-error")).to_contain_text("only a manager may approve it")
    assert review.get_review(review_id).status == "awaiting_review"

    # The same CSM may approve an internal action on their own account.
    fill_approval(page, "investigate", 1)
    page.click("#approve-form button[type=submit]")
    expect(page.locator("#review-status")).to_contain_text("approved by Priya Patel")

    # ... and not decide for another CSM's account.
    page.goto(f"{site.url}/reviews/{site.reviews['outcome']}")
    expect(page.locator(".decide")).to_contain_text("don't decide for Sam Lee's accounts")
    page.fill("#reason", "not ours")
    with page.expect_response(lambda r: r.url.endswith("/decide")) as refused:
        page.click("#reject-form button[type=submit]")
    assert refused.value.status == 403


def test_a_form_without_its_csrf_token_is_refused(page: Page, site: Site) -> None:
    sign_in(page, site, site.manager_token)
    review_id = site.reviews["csrf"]
    page.goto(f"{site.url}/reviews/{review_id}")
    page.locator("#reject-form input[name=csrf]").evaluate("node => node.remove()")
    page.fill("#reason", "stale data")
    with page.expect_response(lambda r: r.url.endswith("/decide")) as answer:
        page.click("#reject-form button[type=submit]")
    assert answer.value.status == 403
    expect(page.locator(".error")).to_contain_text("CSRF token")
    forged = page.request.post(
        f"{site.url}/reviews/{review_id}/decide", form={"csrf": "guess", "action": "reject", "reason": "x"}
    )
    assert forged.status == 403
    assert review.get_review(review_id).status == "awaiting_review"

    # Signed out, a post is refused even with a token from an earlier page.
    anonymous = page.context.browser.new_context() if page.context.browser else None
    assert anonymous is not None
    try:
        other = anonymous.new_page()
        other.goto(f"{site.url}/signin")
        csrf = other.locator("input[name=csrf]").first.get_attribute("value") or ""
        posted = other.request.post(
            f"{site.url}/reviews/{review_id}/decide", form={"csrf": csrf, "action": "reject", "reason": "x"}
        )
        assert posted.status == 403
    finally:
        anonymous.close()


def test_an_outcome_changes_the_report(page: Page, site: Site) -> None:
    sign_in(page, site, site.manager_token)
    review_id = site.reviews["outcome"]
    page.goto(f"{site.url}/reviews/{review_id}")
    fill_approval(page, "save_play", 1)
    page.click("#approve-form button[type=submit]")
    expect(page.locator("#review-status")).to_contain_text("approved by Morgan Diaz")
    responses, saved = metric(page, site, "responses"), metric(page, site, "saved_accounts")

    page.goto(f"{site.url}/reviews/{review_id}")
    page.select_option("#response", "meeting_booked")
    page.select_option("#result", "saved")
    page.click("#outcome-form button[type=submit]")
    expect(page.locator(".flash")).to_contain_text("Outcome recorded.")
    expect(page.locator("#latest-outcome")).to_contain_text("saved")

    assert metric(page, site, "responses") == responses + 1
    assert metric(page, site, "saved_accounts") == saved + 1
    expect(page.locator("#m-decision_packet_rate")).to_contain_text("%")
    shot(page, "report.png")

    page.click("header form[action='/signout'] button")
    expect(page).to_have_url(f"{site.url}/signin")
    page.goto(f"{site.url}/report")
    expect(page).to_have_url(f"{site.url}/signin")  # the session ended
