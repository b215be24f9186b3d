"""Commercial signals: competitor mentions, contract objections, overdue payments."""

from __future__ import annotations

import re
from datetime import timedelta

import polars as pl

from tools.evidence import evidence_id_expr, survey_id_expr
from tools.signals.base import Context, days_between, evidence, iso, num, quote

CLOSED_STAGES = ("closed", "closed_won", "closed_lost", "won", "lost", "closed won", "closed lost")


def competitor_pattern(names: list[str]) -> str:
    """Whole-word, case-insensitive alternation of the configured competitor names."""
    escaped = "|".join(re.escape(n.strip()) for n in sorted(names, key=len, reverse=True) if n.strip())
    return rf"(?i)\b({escaped})\b"


def competitor_mention(ctx: Context) -> pl.DataFrame | None:
    lookback = int(ctx.params("competitor_mention")["lookback_days"])
    since = ctx.as_of - timedelta(days=lookback)
    sources: list[pl.DataFrame] = []
    tickets, notes, surveys = ctx.table("tickets"), ctx.table("notes"), ctx.table("surveys")
    if tickets is not None:
        sources.append(
            tickets.filter(pl.col("opened_at") >= since).select(
                "account_id",
                pl.col("opened_at").alias("date"),
                evidence_id_expr("ticket", pl.col("ticket_id")).alias("ev_id"),
                pl.concat_str([pl.col("subject").fill_null(""), pl.col("body").fill_null("")], separator=" — ").alias(
                    "text"
                ),
            )
        )
    if notes is not None:
        sources.append(
            notes.filter(pl.col("date") >= since).select(
                "account_id", "date", evidence_id_expr("note", pl.col("note_id")).alias("ev_id"), "text"
            )
        )
    if surveys is not None:
        sources.append(
            surveys.with_columns(survey_id_expr().alias("ev_id"))  # ids over whole days, before filtering
            .filter(pl.col("comment").is_not_null() & (pl.col("date") >= since))
            .select("account_id", "date", "ev_id", pl.col("comment").alias("text"))
        )
    if not sources:
        return None
    names = [n for n in ctx.config.competitors if n.strip()]
    texts = pl.concat(sources)
    if not names:
        return texts.head(0).pipe(_shape)
    pattern = competitor_pattern(names)
    escaped = pattern.removeprefix("(?i)")
    # Up to 70 characters either side of the first mention (character-based, so any script is safe).
    context = rf"(?is)(.{{0,70}}){escaped}(.{{0,100}})"
    flat = pl.col("text").fill_null("").str.replace_all(r"\s+", " ")
    # A cheap whole-word test first; the context extraction runs on the few texts that mention a name.
    hits = (
        texts.filter(pl.col("text").str.contains(pattern))
        .with_columns(flat.alias("flat"))
        .with_columns(pl.col("flat").str.extract_groups(context).alias("m"))
        .with_columns(
            pl.col("m").struct.field("1").alias("before"),
            pl.col("m").struct.field("2").alias("matched"),
            pl.col("m").struct.field("3").alias("after"),
        )
        .filter(pl.col("matched").is_not_null())
        .with_columns(  # name the competitor as configured, whatever the case in the text
            pl.col("matched")
            .str.to_lowercase()
            .replace_strict({n.strip().lower(): n.strip() for n in names}, default=pl.col("matched"))
            .alias("competitor")
        )
    )
    snippet = pl.concat_str(
        [
            pl.when(pl.col("before").str.len_chars() >= 70).then(pl.lit("…")).otherwise(pl.lit("")),
            pl.col("before"),
            pl.col("matched"),
            pl.col("after"),
            pl.when(pl.col("after").str.len_chars() >= 100).then(pl.lit("…")).otherwise(pl.lit("")),
        ]
    ).str.strip_chars()
    hits = hits.with_columns(snippet.alias("snippet"))
    return hits.pipe(_shape)


def _shape(hits: pl.DataFrame) -> pl.DataFrame:
    if "competitor" not in hits.columns:
        hits = hits.with_columns(pl.lit(None, pl.Utf8).alias("competitor"), pl.lit(None, pl.Utf8).alias("snippet"))
    line = pl.concat_str([pl.lit("mentions "), pl.col("competitor"), pl.lit(': "'), pl.col("snippet"), pl.lit('"')])
    return evidence(
        hits.sort("account_id", "date", maintain_order=True),
        detected=pl.col("date"),
        ev_id=pl.col("ev_id"),
        ev_text=line,
        ev_date=pl.col("date"),
        summary=line,
    )


def contract_objection(ctx: Context) -> pl.DataFrame | None:
    opportunities = ctx.table("opportunities")
    if opportunities is None:
        return None
    stalled_days = int(ctx.params("contract_objection")["stalled_days"])
    in_stage = days_between(ctx.as_of, pl.col("stage_entered_on"))
    open_renewals = opportunities.filter(
        (pl.col("kind") == "renewal") & ~pl.col("stage").str.to_lowercase().is_in(list(CLOSED_STAGES))
    )
    fired = open_renewals.filter((in_stage >= stalled_days) | pl.col("objection").is_not_null())
    line = pl.concat_str(
        [
            pl.lit("renewal opportunity "),
            pl.col("opportunity_id"),
            pl.lit(' in stage "'),
            pl.col("stage"),
            pl.lit('" for '),
            in_stage.cast(pl.Utf8),
            pl.lit(" days (since "),
            iso(pl.col("stage_entered_on")),
            pl.lit(")"),
            pl.when(pl.col("amount").is_not_null())
            .then(pl.concat_str([pl.lit(", amount "), num(pl.col("amount"))]))
            .otherwise(pl.lit("")),
            pl.when(pl.col("objection").is_not_null())
            .then(pl.concat_str([pl.lit('; objection: "'), quote(pl.col("objection")), pl.lit('"')]))
            .otherwise(pl.lit("")),
        ]
    )
    detected = (
        pl.when(pl.col("objection").is_not_null())
        .then(pl.col("stage_entered_on"))
        .otherwise(pl.col("stage_entered_on") + pl.duration(days=stalled_days))
    )
    return evidence(
        fired,
        detected=detected,
        ev_id=evidence_id_expr("opportunity", pl.col("opportunity_id")),
        ev_text=line,
        ev_date=pl.col("stage_entered_on"),
        summary=line,
    )


def payment_overdue(ctx: Context) -> pl.DataFrame | None:
    invoices = ctx.table("invoices")
    if invoices is None:
        return None
    days = int(ctx.params("payment_overdue")["days"])
    overdue = days_between(ctx.as_of, pl.col("due_on"))
    fired = invoices.filter(pl.col("paid_on").is_null() & (overdue > days)).sort(
        "account_id", "due_on", maintain_order=True
    )
    line = pl.concat_str(
        [
            pl.lit("invoice "),
            pl.col("invoice_id"),
            pl.lit(" for "),
            num(pl.col("amount"), 2),
            pl.when(pl.col("currency").is_not_null())
            .then(pl.concat_str([pl.lit(" "), pl.col("currency")]))
            .otherwise(pl.lit("")),
            pl.lit(" due "),
            iso(pl.col("due_on")),
            pl.lit(", unpaid, "),
            overdue.cast(pl.Utf8),
            pl.lit(" days overdue"),
        ]
    )
    return evidence(
        fired,
        detected=pl.col("due_on") + pl.duration(days=days + 1),
        ev_id=evidence_id_expr("invoice", pl.col("invoice_id")),
        ev_text=line,
        ev_date=pl.col("due_on"),
        summary=line,
    )
