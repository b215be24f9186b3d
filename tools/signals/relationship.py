"""Relationship signals: surveys, champion and sponsor changes, meetings, email replies, silence."""

from __future__ import annotations

import polars as pl

from tools.evidence import evidence_id_expr, survey_id_expr
from tools.signals.base import Context, days_between, evidence, iso, num, ordered_series, quote

SPONSOR_ROLES = ("champion", "executive_sponsor")


def _contact_id() -> pl.Expr:
    return evidence_id_expr("contact", pl.col("account_id"), iso(pl.col("date")), pl.col("contact_name"))


_SURVEY_KEYS = ["account_id", "kind"]


def _survey_series(surveys: pl.DataFrame) -> pl.DataFrame:
    """One reading per account, kind and day, ordered by series and day (`ordered_series`). Several
    respondents on one day count as one reading: their mean, the first comment given, and as evidence the
    response that gave it (else the first response that day)."""
    daily = (
        surveys.with_columns(survey_id_expr().alias("ev_id"))
        .group_by([*_SURVEY_KEYS, "date"])
        .agg(
            pl.col("score").mean(),
            pl.col("comment").drop_nulls().first(),
            pl.col("ev_id").sort_by(pl.col("comment").is_null(), maintain_order=True).first(),
        )
    )
    return ordered_series(daily, _SURVEY_KEYS, "date")


def _survey_benchmark(latest: pl.DataFrame, pct: float) -> pl.DataFrame:
    """segment, kind → the `pct` quantile of the latest readings (`latest`: one per account and kind)."""
    return latest.group_by("segment", "kind").agg(pl.col("score").quantile(pct, "linear").alias("benchmark"))


def survey_benchmark(ctx: Context) -> pl.DataFrame | None:
    """survey_decline's segment benchmark over `ctx`'s portfolio (see `survey_decline`), or None without
    surveys."""
    surveys = ctx.table("surveys")
    if surveys is None:
        return None
    pct = float(ctx.params("survey_decline")["percentile"])
    latest = _survey_series(surveys).filter(pl.col("last")).join(ctx.segments, on="account_id", how="left")
    return _survey_benchmark(latest, pct)


def survey_decline(ctx: Context) -> pl.DataFrame | None:
    surveys = ctx.table("surveys")
    if surveys is None:
        return None
    p = ctx.params("survey_decline")
    pct, drop, lookback = float(p["percentile"]), float(p["drop"]), int(p["lookback_days"])
    latest = (
        _survey_series(surveys)
        .with_columns(
            pl.when(pl.col("first")).then(None).otherwise(pl.col("date").shift(1)).alias("prior_date"),
            pl.when(pl.col("first")).then(None).otherwise(pl.col("score").shift(1)).alias("prior_score"),
        )
        .filter(pl.col("last"))
        .join(ctx.segments, on="account_id", how="left")
    )
    # The segment's benchmark: of the whole portfolio, also when detecting over one account's view.
    bench = ctx.benchmark("survey_decline")
    if bench is None:
        bench = _survey_benchmark(latest, pct)
    scored = latest.join(bench, on=["segment", "kind"])
    fired = scored.filter(
        (days_between(ctx.as_of, pl.col("date")) <= lookback)
        & ((pl.col("score") < pl.col("benchmark")) | (pl.col("prior_score") - pl.col("score") >= drop))
    )
    text = pl.concat_str(
        [
            pl.col("kind").str.to_uppercase(),
            pl.lit(" "),
            num(pl.col("score")),
            pl.lit(" on "),
            iso(pl.col("date")),
            pl.when(pl.col("prior_score").is_not_null())
            .then(
                pl.concat_str(
                    [
                        pl.lit(", prior "),
                        num(pl.col("prior_score")),
                        pl.lit(" on "),
                        iso(pl.col("prior_date")),
                    ]
                )
            )
            .otherwise(pl.lit(", no prior survey")),
            pl.lit(f"; {_ordinal(pct)} percentile of the "),
            pl.col("segment"),
            pl.lit(" segment "),
            num(pl.col("benchmark")),
            pl.when(pl.col("comment").is_not_null())
            .then(pl.concat_str([pl.lit('; comment: "'), quote(pl.col("comment")), pl.lit('"')]))
            .otherwise(pl.lit("")),
        ]
    )
    return evidence(
        fired, detected=pl.col("date"), ev_id=pl.col("ev_id"), ev_text=text, ev_date=pl.col("date"), summary=text
    )


def _contact_line(verb: str) -> pl.Expr:
    return pl.concat_str(
        [
            pl.col("role").str.replace("_", " "),
            pl.lit(" "),
            pl.col("contact_name"),
            pl.when(pl.col("title").is_not_null())
            .then(pl.concat_str([pl.lit(" ("), pl.col("title"), pl.lit(")")]))
            .otherwise(pl.lit("")),
            pl.lit(f" {verb} on "),
            iso(pl.col("date")),
            pl.when(pl.col("detail").is_not_null())
            .then(pl.concat_str([pl.lit(": "), quote(pl.col("detail"), 120)]))
            .otherwise(pl.lit("")),
            pl.when(pl.col("source").is_not_null())
            .then(pl.concat_str([pl.lit(" — source: "), pl.col("source")]))
            .otherwise(pl.lit("")),
        ]
    )


def champion_departure(ctx: Context) -> pl.DataFrame | None:
    events = ctx.table("contact_events")
    if events is None:
        return None
    lookback = int(ctx.params("champion_departure")["lookback_days"])
    fired = events.filter(
        (pl.col("role") == "champion")
        & (pl.col("event") == "departed")
        & (days_between(ctx.as_of, pl.col("date")) <= lookback)
    )
    line = _contact_line("departed")
    return evidence(
        fired,
        detected=pl.col("date"),
        ev_id=_contact_id(),
        ev_text=line,
        ev_date=pl.col("date"),
        summary=line,
    )


def sponsor_change(ctx: Context) -> pl.DataFrame | None:
    events = ctx.table("contact_events")
    if events is None:
        return None
    lookback = int(ctx.params("sponsor_change")["lookback_days"])
    sponsors = events.filter(pl.col("role") == "executive_sponsor").sort("account_id", "date", maintain_order=True)
    in_window = days_between(ctx.as_of, pl.col("date")) <= lookback
    left = sponsors.filter(in_window & pl.col("event").is_in(["departed", "role_changed"]))
    # A new sponsor joining while an earlier, different sponsor was on record is a replacement.
    first_join = (
        sponsors.filter(pl.col("event") == "joined")
        .group_by("account_id")
        .agg(pl.col("date").min().alias("first_join"))
    )
    joined = (
        sponsors.filter(in_window & (pl.col("event") == "joined"))
        .join(first_join, on="account_id")
        .filter(pl.col("date") > pl.col("first_join"))
    )
    accounts = pl.concat([left.select("account_id"), joined.select("account_id")]).unique()
    rows = pl.concat(
        [
            left.with_columns(_contact_line("left the role").alias("line")),
            sponsors.filter(in_window & (pl.col("event") == "joined"))
            .join(accounts, on="account_id")
            .with_columns(_contact_line("joined as new sponsor").alias("line")),
        ],
        how="diagonal",
    ).sort("account_id", "date", maintain_order=True)
    summary = rows.group_by("account_id").agg(pl.col("line").str.join("; ").alias("summary_text"))
    rows = rows.join(summary, on="account_id")
    detected = rows.group_by("account_id").agg(pl.col("date").min().alias("first"))
    rows = rows.join(detected, on="account_id")
    return evidence(
        rows,
        detected=pl.col("first"),
        ev_id=_contact_id(),
        ev_text=pl.col("line"),
        ev_date=pl.col("date"),
        summary=pl.col("summary_text"),
    )


def declined_meetings(ctx: Context) -> pl.DataFrame | None:
    meetings = ctx.table("meetings")
    if meetings is None:
        return None
    p = ctx.params("declined_meetings")
    count, window = int(p["count"]), int(p["window_days"])
    missed = meetings.filter(
        pl.col("status").is_in(["declined", "cancelled", "no_show"])
        & (days_between(ctx.as_of, pl.col("date")) < window)
    ).sort("account_id", "date", "meeting_id")
    missed = missed.with_columns(
        pl.len().over("account_id").alias("n"), pl.int_range(1, pl.len() + 1).over("account_id").alias("rank")
    ).filter(pl.col("n") >= count)
    detected = missed.filter(pl.col("rank") == count).select("account_id", pl.col("date").alias("detected"))
    missed = missed.join(detected, on="account_id")
    line = pl.concat_str(
        [
            pl.lit("meeting "),
            pl.col("meeting_id"),
            pl.lit(" ("),
            pl.col("kind").fill_null("meeting"),
            pl.lit(") on "),
            iso(pl.col("date")),
            pl.lit(": "),
            pl.col("status").str.replace("_", "-"),
        ]
    )
    summary = pl.concat_str(
        [
            pl.col("n").cast(pl.Utf8),
            pl.lit(f" meetings declined, cancelled or no-show in the last {window} days"),
        ]
    )
    return evidence(
        missed,
        detected=pl.col("detected"),
        ev_id=evidence_id_expr("meeting", pl.col("meeting_id")),
        ev_text=line,
        ev_date=pl.col("date"),
        summary=summary,
        order=pl.col("rank"),
    )


def no_reply_streak(ctx: Context) -> pl.DataFrame | None:
    emails = ctx.table("emails")
    if emails is None:
        return None
    count = int(ctx.params("no_reply_streak")["count"])
    last_in = (
        emails.filter(pl.col("direction") == "inbound")
        .group_by("account_id")
        .agg(pl.col("sent_at").max().alias("last_reply"))
    )
    trailing = (
        emails.filter(pl.col("direction") == "outbound")
        .join(last_in, on="account_id", how="left")
        .filter(pl.col("last_reply").is_null() | (pl.col("sent_at") > pl.col("last_reply")))
        .sort("account_id", "sent_at", "email_id")
        .with_columns(
            pl.len().over("account_id").alias("n"),
            pl.int_range(1, pl.len() + 1).over("account_id").alias("rank"),
        )
        .filter(pl.col("n") >= count)
    )
    detected = trailing.filter(pl.col("rank") == count).select("account_id", pl.col("sent_at").alias("detected"))
    trailing = trailing.join(detected, on="account_id")
    line = pl.concat_str(
        [
            pl.lit("outbound email "),
            pl.col("email_id"),
            pl.lit(" sent "),
            iso(pl.col("sent_at")),
            pl.when(pl.col("contact_name").is_not_null())
            .then(pl.concat_str([pl.lit(" to "), pl.col("contact_name")]))
            .otherwise(pl.lit("")),
            pl.lit(': "'),
            quote(pl.col("subject"), 100),
            pl.lit('", no reply'),
        ]
    )
    summary = pl.concat_str(
        [
            pl.col("n").cast(pl.Utf8),
            pl.lit(" consecutive outbound emails without a reply; "),
            pl.when(pl.col("last_reply").is_not_null())
            .then(
                pl.concat_str(
                    [
                        pl.lit("last reply "),
                        iso(pl.col("last_reply")),
                        pl.lit(" ("),
                        days_between(ctx.as_of, pl.col("last_reply")).cast(pl.Utf8),
                        pl.lit(" days ago)"),
                    ]
                )
            )
            .otherwise(pl.lit("no reply on record")),
        ]
    )
    return evidence(
        trailing,
        detected=pl.col("detected"),
        ev_id=evidence_id_expr("email", pl.col("email_id")),
        ev_text=line,
        ev_date=pl.col("sent_at"),
        summary=summary,
        order=pl.col("rank"),
    )


def _involves_stakeholder(column: str) -> pl.Expr:
    """Unknown roles count as contact: silence is claimed only where the data shows it."""
    roles = pl.col(column).fill_null("").str.to_lowercase()
    return (
        pl.col(column).is_null()
        | roles.str.contains("champion")
        | roles.str.contains("executive_sponsor")
        | (roles.str.contains("sponsor"))
    )


def stakeholder_silence(ctx: Context) -> pl.DataFrame | None:
    meetings, emails = ctx.table("meetings"), ctx.table("emails")
    if meetings is None and emails is None:
        return None
    days = int(ctx.params("stakeholder_silence")["days"])
    contacts: list[pl.DataFrame] = []
    if meetings is not None:
        contacts.append(
            meetings.filter((pl.col("status") == "held") & _involves_stakeholder("attendee_roles")).select(
                "account_id",
                "date",
                pl.lit("meeting").alias("source"),
                pl.col("meeting_id").alias("source_id"),
                pl.col("kind").fill_null("meeting").alias("kind"),
                pl.col("attendees").alias("who"),
                pl.lit(None, pl.Utf8).alias("role"),
            )
        )
    if emails is not None:
        contacts.append(
            emails.filter((pl.col("direction") == "inbound") & _involves_stakeholder("contact_role")).select(
                "account_id",
                pl.col("sent_at").alias("date"),
                pl.lit("email").alias("source"),
                pl.col("email_id").alias("source_id"),
                pl.lit("email").alias("kind"),
                pl.col("contact_name").alias("who"),
                pl.col("contact_role").alias("role"),
            )
        )
    everything = pl.concat(contacts)
    # The latest contact per account first (cheap); text only for the accounts that are silent.
    last = everything.group_by("account_id").agg(pl.col("date").max())
    silent = last.filter(days_between(ctx.as_of, pl.col("date")) >= days)
    fired = (
        everything.join(silent, on=["account_id", "date"])
        .sort("account_id", "source", "source_id")
        .group_by("account_id", maintain_order=True)
        .last()
    )
    line = pl.concat_str(
        [
            pl.when(pl.col("source") == "meeting")
            .then(
                pl.concat_str(
                    [pl.lit("last held meeting "), pl.col("source_id"), pl.lit(" ("), pl.col("kind"), pl.lit(")")]
                )
            )
            .otherwise(pl.concat_str([pl.lit("last inbound email "), pl.col("source_id")])),
            pl.lit(" on "),
            iso(pl.col("date")),
            pl.when(pl.col("who").is_not_null())
            .then(
                pl.concat_str(
                    [
                        pl.when(pl.col("source") == "meeting").then(pl.lit(" with ")).otherwise(pl.lit(" from ")),
                        pl.col("who"),
                    ]
                )
            )
            .otherwise(pl.lit("")),
            pl.when(pl.col("role").is_not_null())
            .then(pl.concat_str([pl.lit(" ("), pl.col("role"), pl.lit(")")]))
            .otherwise(pl.lit("")),
        ]
    )
    summary = pl.concat_str(
        [
            pl.lit("no meeting held and no inbound email from champion or sponsor for "),
            days_between(ctx.as_of, pl.col("date")).cast(pl.Utf8),
            pl.lit(" days; "),
            line,
        ]
    )
    return evidence(
        fired,
        detected=pl.col("date") + pl.duration(days=days),
        ev_id=pl.when(pl.col("source") == "meeting")
        .then(evidence_id_expr("meeting", pl.col("source_id")))
        .otherwise(evidence_id_expr("email", pl.col("source_id"))),
        ev_text=summary,
        ev_date=pl.col("date"),
        summary=summary,
    )


def _ordinal(fraction: float) -> str:
    n = round(fraction * 100)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
