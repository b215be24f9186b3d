"""The review inbox: a small server-rendered web app over the workspace (`riskbrief serve`).

Pages: the inbox (pending briefs in queue order, filters, counts per state), a brief (facts, contacts,
signals with their quoted evidence, confirmed and suspected causes side by side, flags, assumptions,
stop reasons, options) with its decision and outcome forms, and the report. No JavaScript, no build
step: Jinja2 templates and one stylesheet.

Decisions go through `agent.cli_agent.decide_review`, the same function as `riskbrief review decide`,
with `require_ack=True` (each stop reason of a "not ready" brief is a checkbox); a review decided already,
or by someone else at the same moment, answers 409. Who may decide is
`agent.reviewers`: sign in with a token; a session is an HttpOnly, SameSite=Strict cookie holding a random
id whose hash the store keeps with the session's CSRF token, checked on every POST. With no reviewers the
app is in local single-user mode: it says so on every page, asks for a name on each decision, and
answers only requests addressed to this machine (127.0.0.1 / localhost).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from agent import reviewers
from agent.brief import EDITABLE_FIELDS, RISK_CATEGORIES, RiskBrief
from agent.render import URGENCY_LABEL, money
from agent.review import RESPONSES, RESULTS, TRIAGE_STATUS, ReviewConflict, ReviewRow, is_not_a_risk
from agent.reviewers import LOCAL_MODE_NOTE, NotAllowed, Reviewer, Session
from tools import workspace
from tools.errors import InputError
from tools.evidence import EvidenceRecord, describe

HERE = Path(__file__).parent
COOKIE = "riskbrief_session"
FORM_LIMIT = 256_000
"""Bytes of a form body read at most (an edit's JSON is a few kilobytes)."""
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
URGENCY_RANK = {"immediate": 0, "same_day": 1, "next_business_day": 2, "weekly": 3}
LEVELS = ("critical", "high", "medium", "low")
STATES = ("pending", "approved", "rejected", "all")
PENDING = ("awaiting_review", "deciding")
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


# ------------------------------------------------------------------------------------------ plumbing


@dataclass
class Ctx:
    """Who is asking: their session (created when absent) and reviewer, and the workspace's mode."""

    session: Session
    reviewer: Reviewer | None
    team: bool
    new_cookie: str | None = None
    secure: bool = False


class Form:
    """An urlencoded form body."""

    def __init__(self, data: dict[str, list[str]]) -> None:
        self.data = data

    def get(self, name: str, default: str = "") -> str:
        values = self.data.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self.data.get(name, []))


class FormTooLarge(InputError):
    pass


async def read_form(request: Request) -> Form:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InputError("expected a form (application/x-www-form-urlencoded)")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > FORM_LIMIT:
            raise FormTooLarge(f"form larger than {FORM_LIMIT:,} bytes")
    try:
        text = body.decode("utf-8")
        return Form(parse_qs(text, keep_blank_values=True, max_num_fields=200, strict_parsing=False))
    except (UnicodeDecodeError, ValueError):
        raise InputError("the form is not valid UTF-8 form data") from None


def _context(request: Request) -> Ctx:
    sid = request.cookies.get(COOKIE)
    session = reviewers.get_session(sid)
    new = None
    if session is None:
        new, session = reviewers.new_session(None)
    reviewer = reviewers.get_reviewer(session.reviewer) if session.reviewer else None
    secure = request.url.scheme == "https"
    return Ctx(session=session, reviewer=reviewer, team=reviewers.team_mode(), new_cookie=new, secure=secure)


def _finish(response: Response, ctx: Ctx | None) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if ctx is not None and ctx.new_cookie:
        response.set_cookie(
            COOKIE,
            ctx.new_cookie,
            max_age=reviewers.SESSION_HOURS * 3600,
            httponly=True,
            samesite="strict",
            secure=ctx.secure,
            path="/",
        )
    return response


def _host_ok(request: Request, team: bool) -> bool:
    """Local single-user mode has no sign-in: answer only requests addressed to this machine (a page on
    another site that rebinds its name to 127.0.0.1 is refused)."""
    if team:
        return True
    host = request.headers.get("host", "")
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in LOOPBACK


def _age_days(created_at: str, now: datetime) -> int:
    try:
        then = datetime.fromisoformat(created_at)
    except ValueError:
        return 0
    then = then if then.tzinfo else then.replace(tzinfo=UTC)
    return max((now - then).days, 0)


def _brief_of(row: ReviewRow, stored: dict[str, RiskBrief]) -> RiskBrief | None:
    """The review's brief: as kept with it, else (a review registered by an earlier version) as checkpointed."""
    from agent.cli_agent import load_review

    if row.review_id in stored:
        return stored[row.review_id]
    try:
        return load_review(row.review_id).brief
    except (InputError, ValueError):
        return None


def _option_needs_manager(brief: RiskBrief, number: int) -> bool:
    option = brief.next_action_options[number - 1]
    return option.customer_facing or option.affects_budget


# ---------------------------------------------------------------------------------------------- app


def create_app(home: Path | None = None) -> Starlette:
    """The inbox app over the workspace `home` (default: the process's workspace)."""
    if home is not None:
        workspace.set_home(home)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(HERE / "templates")),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = money
    env.filters["urgency"] = lambda u: URGENCY_LABEL.get(u, u)
    env.filters["label"] = lambda s: str(s).replace("_", " ")
    templates = Jinja2Templates(env=env)

    def page(request: Request, ctx: Ctx, name: str, data: dict[str, Any], status: int = 200) -> Response:
        base = {
            "me": ctx.reviewer,
            "team": ctx.team,
            "csrf": ctx.session.csrf,
            "local_note": LOCAL_MODE_NOTE,
            "home": str(workspace.home()),
        }
        return _finish(templates.TemplateResponse(request, name, {**base, **data}, status_code=status), ctx)

    def refuse(request: Request, ctx: Ctx, status: int, message: str) -> Response:
        return page(request, ctx, "error.html", {"status": status, "message": message}, status)

    def gate(request: Request, ctx: Ctx) -> Response | None:
        """None when the request may go on; else the answer (sign in first, or a refusal)."""
        if not _host_ok(request, ctx.team):
            return refuse(request, ctx, 403, "In local single-user mode the inbox answers only 127.0.0.1 / localhost.")
        if ctx.team and ctx.reviewer is None and request.url.path not in ("/signin",):
            if request.method == "GET":
                return _finish(RedirectResponse("/signin", status_code=303), ctx)
            return refuse(request, ctx, 403, "Sign in first.")
        return None

    async def post_form(request: Request, ctx: Ctx) -> Form | Response:
        try:
            form = await read_form(request)
        except FormTooLarge as exc:
            return refuse(request, ctx, 413, str(exc))
        except InputError as exc:
            return refuse(request, ctx, 400, str(exc))
        if not reviewers.csrf_ok(ctx.session, form.get("csrf")):
            return refuse(
                request,
                ctx,
                403,
                "This form is missing its CSRF token or it does not match your session: reload the page and try again.",
            )
        return form

    async def gated_form(request: Request) -> tuple[Ctx, Form] | Response:
        """A POST from someone the gate lets in, with its form read and its CSRF token checked; else the
        refusal to send."""
        ctx = await run_in_threadpool(_context, request)
        refused = gate(request, ctx)
        if refused is not None:
            return refused
        form = await post_form(request, ctx)
        return form if isinstance(form, Response) else (ctx, form)

    # ------------------------------------------------------------------------------- sign in / out

    def signin_page(request: Request) -> Response:
        ctx = _context(request)
        refused = gate(request, ctx)
        if refused is not None:
            return refused
        if not ctx.team:
            return _finish(RedirectResponse("/inbox", status_code=303), ctx)
        return page(request, ctx, "signin.html", {"error": None})

    async def signin(request: Request) -> Response:
        posted = await gated_form(request)
        if isinstance(posted, Response):
            return posted
        ctx, form = posted
        found = await run_in_threadpool(reviewers.reviewer_for_token, form.get("token")[:300])
        if found is None:
            return page(request, ctx, "signin.html", {"error": "That token is not valid here."}, 403)
        old = request.cookies.get(COOKIE)
        await run_in_threadpool(reviewers.end_session, old)
        sid, session = await run_in_threadpool(reviewers.new_session, found.name)  # a new id on sign-in
        fresh = Ctx(session=session, reviewer=found, team=True, new_cookie=sid, secure=ctx.secure)
        return _finish(RedirectResponse("/inbox", status_code=303), fresh)

    async def signout(request: Request) -> Response:
        ctx = await run_in_threadpool(_context, request)
        form = await post_form(request, ctx)
        if isinstance(form, Response):
            return form
        await run_in_threadpool(reviewers.end_session, request.cookies.get(COOKIE))
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return _finish(response, None)

    # ------------------------------------------------------------------------------------- inbox

    def inbox(request: Request) -> Response:
        from agent.review import list_reviews, stored_briefs

        ctx = _context(request)
        refused = gate(request, ctx)
        if refused is not None:
            return refused
        q = request.query_params
        state = q.get("state") or "pending"
        state = state if state in STATES else "pending"
        csm, level, category = q.get("csm") or "", q.get("level") or "", q.get("category") or ""
        try:
            min_age = max(int(q.get("age") or 0), 0)
        except ValueError:
            min_age = 0
        now = datetime.now(UTC)
        rows = list_reviews()
        stored = stored_briefs()
        counts = {s: 0 for s in ("awaiting_review", "deciding", "approved", "rejected")}
        items: list[dict[str, Any]] = []
        owners: set[str] = set()
        for row in rows:
            counts[row.status] = counts.get(row.status, 0) + 1
            brief = _brief_of(row, stored)
            if brief is None:
                continue
            owner = brief.account.csm_owner or ""
            if owner:
                owners.add(owner)
            item = {
                "row": row,
                "brief": brief,
                "age": _age_days(row.created_at, now),
                "mine": ctx.reviewer is not None and reviewers.may_decide_account(ctx.reviewer, brief),
            }
            if state == "pending" and row.status not in PENDING:
                continue
            if state in ("approved", "rejected") and row.status != state:
                continue
            if csm and owner != csm:
                continue
            if level and brief.risk_level != level:
                continue
            if category and brief.risk_category != category:
                continue
            if _age_days(row.created_at, now) < min_age:
                continue
            items.append(item)
        items.sort(
            key=lambda i: (
                URGENCY_RANK.get(i["brief"].handoff_urgency, 9),
                -i["brief"].risk_score,
                i["brief"].account.days_to_renewal,
                i["row"].created_at,
            )
        )
        filters = {"state": state, "csm": csm, "level": level, "category": category, "age": min_age}
        return page(
            request,
            ctx,
            "inbox.html",
            {
                "items": items,
                "counts": counts,
                "filters": filters,
                "csms": sorted(owners),
                "levels": LEVELS,
                "categories": RISK_CATEGORIES,
                "states": STATES,
            },
        )

    # ------------------------------------------------------------------------------------- brief

    def brief_data(review_id: str, ctx: Ctx) -> dict[str, Any]:
        from agent.cli_agent import load_review
        from agent.review import event_of, get_review, latest_outcome

        row = get_review(review_id)
        paused = load_review(review_id)
        brief = paused.brief
        pool: dict[str, EvidenceRecord] = {**paused.evidence, **{r.id: r for r in brief.evidence}}
        data = brief.model_dump(mode="json")
        others = {k: data[k] for k in EDITABLE_FIELDS if k not in ("summary", "risk_category")}
        may_decide = ctx.reviewer is None or reviewers.may_decide_account(ctx.reviewer, brief)
        return {
            "row": row,
            "brief": brief,
            "pool": pool,
            "describe": describe,
            "event": event_of(review_id),
            "outcome": latest_outcome(review_id),
            "pending": row.status in PENDING,
            "may_decide": may_decide,
            "needs_manager": {o.number: _option_needs_manager(brief, o.number) for o in brief.next_action_options},
            "edit_json": json.dumps(others, indent=2, ensure_ascii=False),
            "triages": list(TRIAGE_STATUS),
            "categories": RISK_CATEGORIES,
            "responses": RESPONSES,
            "results": RESULTS,
            "graph_elsewhere": not paused.local,
        }

    def show(request: Request) -> Response:
        ctx = _context(request)
        refused = gate(request, ctx)
        if refused is not None:
            return refused
        review_id = request.path_params["review_id"]
        try:
            data = brief_data(review_id, ctx)
        except InputError:
            return refuse(request, ctx, 404, "No such review in this workspace.")
        flash = {"decided": "Decision recorded.", "outcome": "Outcome recorded."}.get(
            request.query_params.get("done", "")
        )
        return page(request, ctx, "brief.html", {**data, "error": None, "flash": flash, "form": {}})

    def _decision(ctx: Ctx, brief: RiskBrief, form: Form) -> Any:
        """The ReviewDecision a decide form asks for (InputError when it can't be one)."""
        from pydantic import ValidationError

        from agent.config import utc_now
        from agent.review import ReviewDecision

        if ctx.team:
            assert ctx.reviewer is not None  # gate() signed them in
            name = ctx.reviewer.name
        else:
            name = " ".join(form.get("reviewer").split())
            if not name:
                raise InputError("Your name is required: the decision is recorded with who made it.")
        action = form.get("action")
        try:
            if action == "reject":
                reason = form.get("reason").strip()
                if not reason:
                    raise InputError("A rejection needs a reason.")
                if form.get("not_a_risk") and not is_not_a_risk(reason):
                    reason = f"not a risk: {reason}"
                return ReviewDecision(decision="reject", reviewer=name, decided_at=utc_now().isoformat(), reason=reason)
            if action != "approve":
                raise InputError("Choose approve or reject.")
            current = brief.model_dump(mode="json")
            edits: dict[str, Any] = {}
            summary = form.get("summary").replace("\r\n", "\n").strip()
            if summary and summary != current["summary"].strip():
                edits["summary"] = summary
            category = form.get("risk_category")
            if category and category != current["risk_category"]:
                edits["risk_category"] = category
            raw = form.get("other_fields").strip()
            if raw:
                try:
                    other = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise InputError(f"Other fields: not valid JSON ({exc.msg}, line {exc.lineno})") from None
                if not isinstance(other, dict):
                    raise InputError("Other fields: expected a JSON object of brief fields")
                edits.update({k: v for k, v in other.items() if k not in current or v != current[k]})
            option_raw = form.get("option")
            option = int(option_raw) if option_raw.isdigit() and int(option_raw) > 0 else None
            acks = [
                brief.stop_reasons[int(i)]
                for i in form.getlist("ack")
                if i.isdigit() and int(i) < len(brief.stop_reasons)
            ]
            return ReviewDecision(
                decision="edit" if edits else "approve",
                reviewer=name,
                decided_at=utc_now().isoformat(),
                triage=form.get("triage") or None,  # type: ignore[arg-type]  # validated by the model
                option=option,
                edits=edits,
                acknowledged_stops=acks,
                reason=form.get("note").strip() or None,
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            raise InputError(str(first["msg"]).removeprefix("Value error, ")) from None

    def do_decide(review_id: str, ctx: Ctx, form: Form) -> None:
        from agent.cli_agent import decide_review, load_review

        brief = load_review(review_id).brief
        decision = _decision(ctx, brief, form)
        decide_review(review_id, decision, require_ack=True)

    def review_action(act: Callable[[str, Ctx, Form], object], done: str) -> Callable[[Request], Awaitable[Response]]:
        """A form posted on one review (its decision, its outcome): the gate and the form's checks, then `act`
        in a worker thread. A refusal shows the review again with the form as filled and the reason: 403 not
        allowed, 409 decided already (or at the same moment by someone else) or superseded, 400 bad input."""

        async def endpoint(request: Request) -> Response:
            posted = await gated_form(request)
            if isinstance(posted, Response):
                return posted
            ctx, form = posted
            review_id = request.path_params["review_id"]
            try:
                await run_in_threadpool(act, review_id, ctx, form)
            except InputError as exc:
                status = 403 if isinstance(exc, NotAllowed) else 409 if isinstance(exc, ReviewConflict) else 400
                return await run_in_threadpool(form_error, request, ctx, review_id, form, str(exc), status)
            return _finish(RedirectResponse(f"/reviews/{review_id}?done={done}", status_code=303), ctx)

        return endpoint

    def form_error(request: Request, ctx: Ctx, review_id: str, form: Form, message: str, status: int) -> Response:
        try:
            data = brief_data(review_id, ctx)
        except InputError:
            return refuse(request, ctx, 404, "No such review in this workspace.")
        values: dict[str, Any] = {k: v[0] for k, v in form.data.items() if k != "csrf" and v}
        values["acks"] = form.getlist("ack")
        return page(request, ctx, "brief.html", {**data, "error": message, "flash": None, "form": values}, status)

    def do_outcome(review_id: str, ctx: Ctx, form: Form) -> None:
        from agent.config import utc_now
        from agent.review import Outcome, outcome_review, record_outcome, stored_brief

        row = outcome_review(review_id)
        name = ctx.reviewer.name if ctx.reviewer else (" ".join(form.get("reviewer").split()) or None)
        reviewers.authorize_outcome(name, stored_brief(row.review_id))
        response, result = form.get("response"), form.get("result")
        if response not in RESPONSES or result not in RESULTS:
            raise InputError("Choose a response and a result.")
        reason = form.get("reason").strip()[:500] or None
        record_outcome(
            Outcome(
                review_id=row.review_id,
                account_id=row.account_id,
                response=response,  # type: ignore[arg-type]  # checked above
                result=result,  # type: ignore[arg-type]
                reason=reason,
                recorded_by=name,
                recorded_at=utc_now().isoformat(),
            )
        )

    decide = review_action(do_decide, "decided")
    outcome = review_action(do_outcome, "outcome")

    # ------------------------------------------------------------------------------------ report

    def report_page(request: Request) -> Response:
        from agent.cli_agent import report_briefs
        from agent.review import PACKET_PARTS, build_report

        ctx = _context(request)
        refused = gate(request, ctx)
        if refused is not None:
            return refused
        since = request.query_params.get("since") or None
        error = None
        if since:
            try:
                since = date.fromisoformat(since).isoformat()
            except ValueError:
                error, since = f"'{since}' is not a date (YYYY-MM-DD)", None
        data = build_report(since, briefs=report_briefs)
        return page(
            request, ctx, "report.html", {"r": data, "since": since or "", "error": error, "parts": PACKET_PARTS}
        )

    def root(request: Request) -> Response:
        return _finish(RedirectResponse("/inbox", status_code=303), None)

    routes = [
        Route("/", root),
        Route("/signin", signin_page, methods=["GET"]),
        Route("/signin", signin, methods=["POST"]),
        Route("/signout", signout, methods=["POST"]),
        Route("/inbox", inbox),
        Route("/reviews/{review_id}", show),
        Route("/reviews/{review_id}/decide", decide, methods=["POST"]),
        Route("/reviews/{review_id}/outcome", outcome, methods=["POST"]),
        Route("/report", report_page),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    return Starlette(routes=routes)
