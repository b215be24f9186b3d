"""A large synthetic portfolio for benchmarks, generated with numpy + polars (no per-row Python loops).

    python -m benchmarks.synth --accounts 100000 --out /tmp/synth100k

Same CSV format as spec/data-format.md (every table). Sizes for n accounts over `weeks` weeks:
usage has 4 metrics, each reported every 4 weeks and staggered by a week, so one row per account per
week (n × weeks: 10.4M for 100k × 104; values are written as floats, far cheaper than mixing formats);
health is weekly over the last 26 weeks; about 8 tickets, 3 surveys, 6 meetings, 8 emails, 4 invoices
and 3 notes per account.

About 15% of accounts carry one to three risky patterns (one per signal of spec/signals.md) so the
detectors have work; healthy series alternate gently, so they do not trip declines or drops by chance.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

SIGNALS = (
    "health_below_threshold", "health_rapid_decline", "usage_gradual_decline", "usage_sudden_drop",
    "adoption_plateau", "support_volume_spike", "survey_decline", "champion_departure", "sponsor_change",
    "declined_meetings", "no_reply_streak", "p1_escalation", "competitor_mention", "contract_objection",
    "payment_overdue", "stakeholder_silence", "unresolved_support",
)  # fmt: skip
RISKY_SHARE = 0.15
SEGMENTS = ("enterprise", "mid-market", "smb")
USAGE_METRICS = ("dau", "wau", "feature_adoption", "admin_logins")
ADOPTION_CENTRE = np.array([6.8, 6.4, 5.8])  # healthy feature_adoption level per segment
HEALTH_WEEKS = 26
COMPETITORS = ("Gainsight", "ChurnZero", "Totango", "Vitally")


def _words(text: str) -> np.ndarray:
    return np.array(text.split())


FIRST = _words("Alice Ben Carla David Elena Farid Grace Hiro Ines Jonas Kara Liam Maya Nikhil Olivia Pedro")
LAST = _words("Abbott Baker Castillo Dubois Eriksen Fischer Garcia Hughes Ito Jensen Kowalski Larsen")
HEADS = _words("Northwind Bluewater Summit Brightline Ironwood Cedar Harbor Keystone Lumen Meridian")
TAILS = _words("Logistics Analytics Health Labs Software Financial Robotics Foods Energy Retail")
GOALS = (
    "Replace spreadsheet reporting with live dashboards",
    "Get 90% of licensed users active weekly",
    "Forecast renewals within 5% accuracy",
    "Automate weekly account reviews",
)
TICKETS = (
    ("Unable to log in via SSO", "Some users get an error after the identity-provider redirect."),
    ("Dashboard not refreshing", "The dashboard still shows last week's numbers."),
    ("CSV export missing columns", "Custom fields are missing from the exported file."),
    ("CRM sync delayed", "Records take several hours to appear after an update."),
    ("Please add new users", "We have new starters next week; list attached."),
    ("API rate limit question", "We get HTTP 429 on the bulk endpoint; what is our limit?"),
)
RISK_TICKETS = {
    "support_volume_spike": ("Reports broken after upgrade", "Several reports fail since the last upgrade."),
    "unresolved_support": ("Export drops rows", "Exports stop at 10,000 rows; still waiting for a fix."),
    "p1_escalation": ("Production sync down", "No records sync for any user; the sales team is blocked."),
}
NOTES = (
    "Monthly check-in: rollout on track, no open concerns.",
    "QBR: reviewed goals; happy with dashboards; next step is training.",
    'Customer said: "the reports save my team hours every week."',
)
SUBJECTS = ("Checking in", "Recap of our check-in", "Resources for your rollout", "Agenda for our QBR")
MEETING_KINDS = ("check_in", "qbr", "check_in", "training", "check_in", "qbr")


@dataclass(frozen=True)
class Book:
    """Per-account attributes and risk flags that every table draws on."""

    n: int
    as_of: np.datetime64
    ids: pl.Series
    segment: np.ndarray
    arr: np.ndarray
    licenses: np.ndarray
    renewal_days: np.ndarray
    contract_days: np.ndarray
    risky: np.ndarray
    flags: dict[str, np.ndarray]
    champion: pl.Series
    sponsor: pl.Series
    csm: pl.Series

    def ids_at(self, idx: np.ndarray) -> pl.Series:
        return self.ids.gather(idx)

    def flagged(self, signal: str) -> np.ndarray:
        """Indices of the accounts carrying the risky pattern of `signal`."""
        return np.flatnonzero(self.flags[signal])


def _dates(as_of: np.datetime64, days_before: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Dates `days_before` the as-of date (negative: after it); `missing` rows become empty cells."""
    out = as_of - days_before.astype("timedelta64[D]")
    if missing is not None:
        out[missing] = np.datetime64("NaT")
    return out


def _names(rng: np.random.Generator, n: int) -> pl.Series:
    first, last = rng.integers(0, len(FIRST), n), rng.integers(0, len(LAST), n)
    return pl.Series(np.char.add(np.char.add(FIRST[first], " "), LAST[last]))


def _serial(prefix: str, n: int, name: str) -> pl.Series:
    """Ids `prefix1`, `prefix2`, ... for a table of n rows."""
    return (prefix + pl.Series(np.arange(1, n + 1)).cast(pl.String)).alias(name)


def _const(value: str | None, n: int) -> pl.Series:
    """A column of n copies of one value."""
    return pl.repeat(value, n, dtype=pl.String, eager=True)


def _pick(options: tuple[str, ...], idx: np.ndarray) -> pl.Series:
    return pl.Series(options).gather(idx)


def plan(rng: np.random.Generator, n: int, weeks: int, as_of: date) -> Book:
    """Draw the accounts and decide which risky patterns each carries."""
    segment = rng.choice(3, n, p=[0.2, 0.4, 0.4])
    low, high = np.array([150_000, 40_000, 12_000]), np.array([650_000, 150_000, 36_000])
    arr = np.round(rng.uniform(low[segment], high[segment]), -2).astype(np.int64)
    licenses = np.maximum(10, np.round(arr / np.array([450.0, 680.0, 470.0])[segment])).astype(np.int64)
    risky = rng.random(n) < RISKY_SHARE
    # Each risky account gets about two patterns, at least one.
    draws = risky[:, None] & (rng.random((n, len(SIGNALS))) < 1.2 / len(SIGNALS))
    draws[np.flatnonzero(risky), rng.integers(0, len(SIGNALS), int(risky.sum()))] = True
    ids = pl.Series("account_id", np.arange(1, n + 1)).cast(pl.String).str.zfill(6)
    return Book(
        n=n,
        as_of=np.datetime64(as_of, "D"),
        ids=("A-" + ids).alias("account_id"),
        segment=segment,
        arr=arr,
        licenses=licenses,
        renewal_days=rng.integers(30, 451, n),
        contract_days=weeks * 7 + rng.integers(0, 1500, n),
        risky=risky,
        flags={s: draws[:, i] for i, s in enumerate(SIGNALS)},
        champion=_names(rng, n),
        sponsor=_names(rng, n),
        csm=_names(rng, max(1, n // 250)).gather(rng.integers(0, max(1, n // 250), n)),
    )


def accounts(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    names = np.char.add(
        np.char.add(HEADS[rng.integers(0, len(HEADS), b.n)], " "), TAILS[rng.integers(0, len(TAILS), b.n)]
    )
    return pl.DataFrame(
        {
            "account_id": b.ids,
            "name": names,
            "arr": b.arr,
            "renewal_date": _dates(b.as_of, -b.renewal_days),
            "segment": _pick(SEGMENTS, b.segment),
            "csm_owner": b.csm,
            "licenses": b.licenses,
            "contract_start": _dates(b.as_of, b.contract_days),
            "goals": _pick(GOALS, rng.integers(0, len(GOALS), b.n)),
        }
    )


def usage(b: Book, rng: np.random.Generator, weeks: int) -> pl.DataFrame:
    """Metric m is reported in weeks w with w % 4 == m: one row per account per week."""
    a = np.repeat(np.arange(b.n), weeks)
    w = np.tile(np.arange(weeks), b.n)
    metric, k = w % 4, w // 4
    back = (weeks - 1 - metric) // 4 - k  # 0 at a metric's latest period
    phase = rng.integers(0, 2, b.n)
    alt = np.where((k + phase[a]) % 2 == 0, 1.0, -1.0)  # a gentle zigzag: never two declines in a row
    dau = np.maximum(12, b.licenses * rng.uniform(0.3, 0.6, b.n))  # large enough that 10% steps survive rounding
    levels = np.stack([dau, dau * rng.uniform(1.3, 1.6, b.n), np.zeros(b.n), rng.uniform(6, 40, b.n)], axis=1)
    base = levels[a, metric]
    value = np.round(base * (1 + 0.03 * alt + rng.uniform(-0.01, 0.01, a.size)))
    centre = ADOPTION_CENTRE[b.segment] + rng.uniform(-0.3, 0.3, b.n)
    adoption = centre[a] + 0.5 * alt + rng.uniform(-0.05, 0.05, a.size)
    adoption = np.where(b.flags["adoption_plateau"][a], centre[a] - 2.2 + 0.1 * alt, adoption)
    value = np.where(metric == 2, np.round(adoption, 1), value)
    declining = b.flags["usage_gradual_decline"][a] & (metric == 0) & (back < 5)
    value = np.where(declining, np.round(base * 0.9 ** (5 - back)), value)
    dropped = b.flags["usage_sudden_drop"][a] & (metric == 1) & (back == 0)
    value = np.where(dropped, np.round(base * 0.55), value)
    monday = b.as_of - np.timedelta64((b.as_of.astype(int) - 4) % 7, "D")  # 1970-01-05 was a Monday
    return pl.DataFrame(
        {
            "account_id": b.ids_at(a),
            "period_start": monday - ((weeks - 1 - w) * 7).astype("timedelta64[D]"),
            "metric": _pick(USAGE_METRICS, metric),
            "value": value,
        }
    )


def health(b: Book, rng: np.random.Generator, weeks: int) -> pl.DataFrame:
    """Weekly scores over the last 26 weeks, with four components."""
    span = min(HEALTH_WEEKS, weeks)
    a = np.repeat(np.arange(b.n), span)
    back = np.tile(np.arange(span - 1, -1, -1), b.n)
    level = np.where(b.flags["health_rapid_decline"], rng.uniform(84, 95, b.n), rng.uniform(72, 95, b.n))
    level = np.where(b.flags["health_below_threshold"], rng.uniform(50, 61, b.n), level)
    score = level[a] + rng.uniform(-2, 2, a.size)
    score = np.where(b.flags["health_rapid_decline"][a] & (back == 0), level[a] - 15, score)
    score = np.clip(np.round(score), 0, 100).astype(np.int64)
    frame = {"account_id": b.ids_at(a), "date": _dates(b.as_of, back * 7), "score": score}
    for name in ("usage", "support", "engagement", "sentiment"):
        offset = rng.uniform(-6, 6, b.n)
        frame[name] = np.clip(np.round(score + offset[a] + rng.uniform(-2, 2, a.size)), 0, 100).astype(np.int64)
    return pl.DataFrame(frame)


def _ticket_frame(
    b: Book, a: np.ndarray, opened: np.ndarray, closed: np.ndarray, priority: np.ndarray, escalated: np.ndarray,
    sentiment: np.ndarray, subject: pl.Series, body: pl.Series,
) -> pl.DataFrame:  # fmt: skip
    is_open = closed < 0  # closes after the as-of date: still open
    return pl.DataFrame(
        {
            "account_id": b.ids_at(a),
            "opened_at": _dates(b.as_of, opened),
            "closed_at": _dates(b.as_of, closed, missing=is_open),
            "priority": priority,
            "status": np.where(is_open, "open", "closed"),
            "escalated": escalated,
            "sentiment": sentiment,
            "subject": subject,
            "body": body,
        }
    )


def tickets(b: Book, rng: np.random.Generator, weeks: int) -> pl.DataFrame:
    """About 8 ordinary tickets per account; spikes, long-open tickets and open P1s for risky ones."""
    a = np.repeat(np.arange(b.n), rng.poisson(8, b.n))
    opened = rng.integers(1, weeks * 7, a.size)
    template = rng.integers(0, len(TICKETS), a.size)
    frames = [
        _ticket_frame(
            b, a, opened, opened - rng.integers(1, 8, a.size), rng.choice(np.array(["P2", "P3", "P4"]), a.size),
            np.zeros(a.size, bool), rng.choice(np.array(["positive", "neutral", "neutral", "negative"]), a.size),
            _pick(tuple(t[0] for t in TICKETS), template), _pick(tuple(t[1] for t in TICKETS), template),
        )
    ]  # fmt: skip
    extra = {  # signal -> (tickets per account, opened range, closed after, priority, escalated)
        "support_volume_spike": (5, (1, 26), 3, "P3", False),
        "unresolved_support": (1, (35, 90), 9999, "P3", False),
        "p1_escalation": (1, (1, 10), 9999, "P1", True),
    }
    for signal, (count, (lo, hi), days_open, priority, escalated) in extra.items():
        ra = np.repeat(b.flagged(signal), count)
        ro = rng.integers(lo, hi, ra.size)
        subject, body = RISK_TICKETS[signal]
        frames.append(
            _ticket_frame(
                b, ra, ro, ro - days_open, np.full(ra.size, priority), np.full(ra.size, escalated),
                np.full(ra.size, "frustrated"), _const(subject, ra.size), _const(body, ra.size),
            )
        )  # fmt: skip
    out = pl.concat(frames)
    return out.insert_column(0, _serial("T-", out.height, "ticket_id"))


def surveys(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    """Two NPS readings per account and a CSAT for most; risky ones fall to 3-5."""
    level = np.array([8, 9, 8, 10, 9])[np.arange(b.n) % 5]
    earlier = np.minimum(10, level + rng.integers(0, 2, b.n))
    declined = b.flags["survey_decline"]
    latest = np.where(declined, rng.integers(3, 6, b.n), level)
    earlier = np.where(declined, 8, earlier)
    idx = np.arange(b.n)
    has_csat = np.flatnonzero(rng.random(b.n) < 0.6)
    comment = np.where(b.flags["competitor_mention"], f"{COMPETITORS[1]}'s playbooks look more flexible.", "")
    parts = [
        (idx, rng.integers(150, 200, b.n), "nps", earlier, _const("Dashboards are central to our reviews.", b.n)),
        (idx, rng.integers(10, 60, b.n), "nps", latest, pl.Series(comment).replace("", None)),
        (has_csat, rng.integers(5, 150, has_csat.size), "csat", rng.integers(4, 6, has_csat.size), None),
    ]
    frames = [
        pl.DataFrame(
            {
                "account_id": b.ids_at(a),
                "date": _dates(b.as_of, days),
                "kind": _const(kind, a.size),
                "score": score,
                "respondent": b.champion.gather(a),
                "comment": comments if comments is not None else _const(None, a.size),
            }
        )
        for a, days, kind, score, comments in parts
    ]
    return pl.concat(frames)


def contact_events(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    """Champion and sponsor joined at contract start; departures (and a new sponsor) for risky accounts."""
    idx = np.arange(b.n)
    champ, spons = b.flagged("champion_departure"), b.flagged("sponsor_change")
    left = rng.integers(20, 60, spons.size)
    successors = _names(rng, spons.size)
    parts = [
        (idx, b.contract_days, b.champion, "champion", "joined", "Named at contract signature", "crm"),
        (idx, b.contract_days, b.sponsor, "executive_sponsor", "joined", "Named at contract signature", "crm"),
        (champ, rng.integers(5, 60, champ.size), b.champion.gather(champ), "champion", "departed",
         "Left the company", "linkedin"),
        (spons, left, b.sponsor.gather(spons), "executive_sponsor", "departed", "Left the company", "crm"),
        (spons, left - 10, successors, "executive_sponsor", "joined", "Replaces the previous sponsor", "csm_call"),
    ]  # fmt: skip
    return pl.concat(
        pl.DataFrame(
            {
                "account_id": b.ids_at(a),
                "date": _dates(b.as_of, days),
                "contact_name": names,
                "role": _const(role, a.size),
                "event": _const(event, a.size),
                "title": _const("VP Sales" if role == "executive_sponsor" else "Operations Director", a.size),
                "detail": _const(detail, a.size),
                "source": _const(source, a.size),
            }
        )
        for a, days, names, role, event, detail, source in parts
    )


def _contact_offsets(b: Book, rng: np.random.Generator, per_account: int, a: np.ndarray) -> np.ndarray:
    """Days before as-of: the first contact within 35 days, the rest within the year; silent accounts 70+."""
    first = np.arange(a.size) % per_account == 0
    days = np.where(first, rng.integers(5, 35, a.size), rng.integers(36, 360, a.size))
    return days + np.where(b.flags["stakeholder_silence"][a], 70, 0)


def meetings(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    """Six held meetings per account (QBRs with the sponsor); declines and no-shows for risky ones."""
    a = np.repeat(np.arange(b.n), len(MEETING_KINDS))
    days = _contact_offsets(b, rng, len(MEETING_KINDS), a)
    kind = np.tile(np.arange(len(MEETING_KINDS)), b.n)
    status = np.where((days > 60) & (rng.random(a.size) < 0.04), "cancelled", "held")
    missed = np.repeat(b.flagged("declined_meetings"), 2)
    a = np.concatenate([a, missed])
    days = np.concatenate([days, rng.integers(2, 28, missed.size)])
    kind = np.concatenate([kind, np.ones(missed.size, np.int64)])
    status = np.concatenate([status, rng.choice(np.array(["declined", "cancelled", "no_show"]), missed.size)])
    qbr = pl.Series(MEETING_KINDS).gather(kind) == "qbr"
    pair = pl.concat_str([b.csm.gather(a), b.champion.gather(a)], separator=";")
    frame = pl.DataFrame(
        {
            "account_id": b.ids_at(a),
            "date": _dates(b.as_of, days),
            "kind": _pick(MEETING_KINDS, kind),
            "status": status,
            "attendees": pl.select(
                pl.when(qbr).then(pl.concat_str([pair, b.sponsor.gather(a)], separator=";")).otherwise(pair)
            ).to_series(),
            "attendee_roles": pl.select(
                pl.when(qbr).then(pl.lit("csm;champion;executive_sponsor")).otherwise(pl.lit("csm;champion"))
            ).to_series(),
        }
    )
    return frame.insert_column(0, _serial("M-", frame.height, "meeting_id"))


def emails(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    """Four outbound emails per account, each answered a day later; unanswered streaks for risky ones."""
    a = np.repeat(np.arange(b.n), 4)
    days = _contact_offsets(b, rng, 4, a) + np.where(b.flags["no_reply_streak"][a], 20, 0)
    streak = np.repeat(b.flagged("no_reply_streak"), 3)
    subject = _pick(SUBJECTS, rng.integers(0, len(SUBJECTS), a.size))
    parts = [
        (a, days, "outbound", subject),
        (a, days - 1, "inbound", "Re: " + subject),
        (
            streak,
            np.tile(np.array([16, 9, 2]), streak.size // 3),
            "outbound",
            _const("Following up", streak.size),
        ),
    ]
    frame = pl.concat(
        pl.DataFrame(
            {
                "account_id": b.ids_at(ax),
                "sent_at": _dates(b.as_of, d),
                "direction": _const(direction, ax.size),
                "contact_name": b.champion.gather(ax),
                "contact_role": _const("champion", ax.size),
                "subject": subj,
            }
        )
        for ax, d, direction, subj in parts
    )
    return frame.insert_column(0, _serial("E-", frame.height, "email_id"))


def invoices(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    """Quarterly invoices, net 30, paid within the terms; one left unpaid for risky accounts."""
    a = np.repeat(np.arange(b.n), 4)
    quarter = np.tile(np.arange(4), b.n)
    issued = 15 + 91 * quarter + rng.integers(0, 60, b.n)[a]
    paid = issued - rng.integers(5, 26, a.size)
    unpaid = (paid < 0) | (b.flags["payment_overdue"][a] & (quarter == 1))
    return pl.DataFrame(
        {
            "invoice_id": _serial("INV-", a.size, "invoice_id"),
            "account_id": b.ids_at(a),
            "issued_on": _dates(b.as_of, issued),
            "due_on": _dates(b.as_of, issued - 30),
            "paid_on": _dates(b.as_of, paid, missing=unpaid),
            "amount": np.round(b.arr[a] / 4, 2),
            "currency": _const("USD", a.size),
        }
    )


def opportunities(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    """Open renewals near renewal (recent stage changes); stalled ones with objections for risky accounts."""
    stalled = b.flags["contract_objection"]
    a = np.flatnonzero((b.renewal_days <= 150) | stalled)
    days = b.renewal_days[a]
    stage = np.where(days > 110, "qualification", np.where(days > 60, "proposal", "negotiation"))
    entered = np.where(stalled[a], rng.integers(40, 90, a.size), rng.integers(3, 21, a.size))
    with_objection = pl.Series(stalled[a] & (rng.random(a.size) < 0.5))
    objection = pl.select(pl.when(with_objection).then(pl.lit("Price: wants to renew flat, no uplift"))).to_series()
    return pl.DataFrame(
        {
            "opportunity_id": _serial("OPP-", a.size, "opportunity_id"),
            "account_id": b.ids_at(a),
            "kind": _const("renewal", a.size),
            "stage": stage,
            "stage_entered_on": _dates(b.as_of, entered),
            "close_date": _dates(b.as_of, -days),
            "amount": np.round(b.arr[a] * 1.05).astype(np.int64),
            "objection": objection,
        }
    )


def notes(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    """Three CSM notes per account; a quoted competitor for risky ones."""
    a = np.repeat(np.arange(b.n), 3)
    text = _pick(NOTES, rng.integers(0, len(NOTES), a.size))
    named = b.flagged("competitor_mention")
    competitor = _pick(COMPETITORS, rng.integers(0, len(COMPETITORS), named.size))
    mention = pl.concat_str([pl.lit('Customer said: "we are moving budget to '), competitor, pl.lit(' next year."')])
    frame = pl.DataFrame(
        {
            "account_id": pl.concat([b.ids_at(a), b.ids_at(named)]),
            "date": _dates(b.as_of, np.concatenate([rng.integers(10, 300, a.size), rng.integers(3, 60, named.size)])),
            "author": pl.concat([b.csm.gather(a), b.csm.gather(named)]),
            "text": pl.concat([text, pl.select(mention).to_series()]),
        }
    )
    return frame.insert_column(0, _serial("N-", frame.height, "note_id"))


def outcomes(b: Book, rng: np.random.Generator) -> pl.DataFrame:
    """Renewals in the next 180 days (for backtests; risky accounts churn more) and last year's renewals."""
    soon = np.flatnonzero(b.renewal_days <= 180)
    churn = rng.random(soon.size) < np.where(b.risky[soon], 0.35, 0.04)
    future = np.where(churn, "churned", np.where(rng.random(soon.size) < 0.15, "expanded", "renewed"))
    past = np.flatnonzero((b.renewal_days < 365) & (b.contract_days > 365 - b.renewal_days))
    return pl.DataFrame(
        {
            "account_id": pl.concat([b.ids_at(soon), b.ids_at(past)]),
            "date": _dates(b.as_of, np.concatenate([-b.renewal_days[soon], 365 - b.renewal_days[past]])),
            "outcome": np.concatenate([future, np.full(past.size, "renewed")]),
        }
    )


def generate(
    out_dir: Path, n_accounts: int = 100_000, weeks: int = 104, seed: int = 7, as_of: date = date(2026, 11, 20)
) -> dict[str, int]:
    """Write a synthetic portfolio directory; returns the row count of each table."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    b = plan(rng, n_accounts, weeks, as_of)
    builders = {
        "accounts": lambda: accounts(b, rng),
        "usage": lambda: usage(b, rng, weeks),
        "health_scores": lambda: health(b, rng, weeks),
        "tickets": lambda: tickets(b, rng, weeks),
        "surveys": lambda: surveys(b, rng),
        "contact_events": lambda: contact_events(b, rng),
        "meetings": lambda: meetings(b, rng),
        "emails": lambda: emails(b, rng),
        "invoices": lambda: invoices(b, rng),
        "opportunities": lambda: opportunities(b, rng),
        "notes": lambda: notes(b, rng),
        "outcomes": lambda: outcomes(b, rng),
    }
    counts: dict[str, int] = {}
    for name, build in builders.items():
        frame = build()  # one table at a time keeps peak memory to the largest table
        frame.write_csv(out_dir / f"{name}.csv", float_precision=2 if name == "invoices" else None)
        counts[name] = frame.height
    competitors = ", ".join(f'"{c}"' for c in COMPETITORS)
    (out_dir / "riskbrief.toml").write_text(f'as_of = "{as_of.isoformat()}"\ncompetitors = [{competitors}]\n')
    return counts


def ensure(workdir: Path, n_accounts: int = 100_000, weeks: int = 104) -> Path:
    """The portfolio of `n_accounts` accounts over `weeks` weeks in `workdir`, generated once (the
    benchmarks share it): `synth-<n>` for two years, `synth-<n>-<weeks>` otherwise. Complete once its
    riskbrief.toml (written last) exists."""
    folder = Path(workdir) / (f"synth-{n_accounts}" if weeks == 104 else f"synth-{n_accounts}-{weeks}")
    if not (folder / "riskbrief.toml").is_file():
        generate(folder, n_accounts=n_accounts, weeks=weeks)
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic benchmark portfolio.")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--weeks", type=int, default=104)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    counts = generate(args.out, n_accounts=args.accounts, weeks=args.weeks, seed=args.seed)
    elapsed = time.perf_counter() - started
    for name, n in counts.items():
        print(f"{name:16} {n:>11,d} rows")
    print(f"{'total':16} {sum(counts.values()):>11,d} rows in {elapsed:.1f} s -> {args.out}")


if __name__ == "__main__":
    main()
