"""Rendering queue and digest for people (rich tables, Markdown). JSON is the models' own dump."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tools.registry import limits_in_force

if TYPE_CHECKING:  # annotations only: rendering the queue need not import the digest (nor its scoring, signals)
    from tools.config import Config
    from tools.digest import Digest
    from tools.models import QueueEntry

LEVEL_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "green"}
URGENCY_LABEL = {
    "immediate": "immediate",
    "same_day": "same day",
    "next_business_day": "next day",
    "weekly": "weekly",
}


def money(value: float) -> str:
    return f"${value / 1000:,.0f}K" if value >= 1000 else f"${value:,.0f}"


def queue_table(entries: list[QueueEntry], alerts: dict[str, str] | None = None, title: str = "Risk queue") -> Table:
    """The ranked queue as a rich table."""
    calibrated = any(e.churn_probability is not None for e in entries)
    table = Table(title=title, title_justify="left", header_style="bold", expand=False)
    table.add_column("#", justify="right", style="dim")
    table.add_column("Account", min_width=18)
    table.add_column("Level", no_wrap=True)
    table.add_column("Score", justify="right")
    table.add_column("ARR", justify="right")
    table.add_column("Renews in", justify="right", no_wrap=True)
    table.add_column("Health", justify="right")
    explained = any(e.churn_factors for e in entries)
    if calibrated:
        table.add_column("P(churn)", justify="right")
        table.add_column("ARR at risk", justify="right")
    if explained:
        table.add_column("Why (model)", min_width=24)
    table.add_column("Signals (severity)", min_width=30)
    table.add_column("Urgency", no_wrap=True)
    if alerts is not None:
        table.add_column("Alert")
    for i, e in enumerate(entries, 1):
        shown = e.active_signals[:3]
        sigs = ", ".join(f"{s.signal} ({s.severity})" for s in shown)
        if len(e.active_signals) > len(shown):
            sigs += f" [dim]+{len(e.active_signals) - len(shown)} more[/dim]"
        if e.cluster_amplification:
            sigs += f" [dim]· cluster of {len(e.cluster_signals)}[/dim]"
        row = [
            str(i),
            f"{e.account_name}\n[dim]{e.account_id} · {e.csm_owner or 'no owner'}[/dim]",
            f"[{LEVEL_STYLE[e.risk_level]}]{e.risk_level}[/]",
            f"{e.risk_score:g}",
            money(e.arr),
            f"{e.days_to_renewal} d",
            "—" if e.health_score is None else f"{e.health_score:g}",
        ]
        if calibrated:
            row += [
                "—" if e.churn_probability is None else f"{e.churn_probability:.0%}",
                "—" if e.arr_at_risk is None else money(e.arr_at_risk),
            ]
        if explained:
            from tools.churn_model import describe_factors

            row.append(escape(describe_factors(e.churn_factors)) or "—")
        row += [sigs, URGENCY_LABEL[e.handoff_urgency]]
        if alerts is not None:
            row.append(alerts.get(e.account_id, ""))
        table.add_row(*row)
    return table


def not_evaluated_note(entries: list[QueueEntry], shared: list[str]) -> Text | None:
    """Signals that no account could be evaluated on (absent files), said once under the table."""
    if not shared:
        return None
    return Text("Not evaluated (missing data): " + "; ".join(shared), style="yellow")


def limits_note(config: Config | None = None) -> Text:
    """The limits text under the queue; with `config`, it says which score is in force."""
    note = None
    if config is not None:
        from tools.churn_model import prioritisation_note

        note = prioritisation_note(config)
    return Text(" ".join(limits_in_force(note)), style="dim")


def digest_view(d: Digest) -> Group:
    parts: list[Table | Text] = [
        Text(f"Digest for {d.csm} — as of {d.as_of.isoformat()} — {d.accounts} accounts", style="bold"),
        Text(f"Trend: {d.trend}"),
    ]
    for title, alerts in (
        ("New alerts", d.new),
        ("Escalated", d.escalated),
        ("Reminders (unacknowledged)", d.reminders),
    ):
        if not alerts:
            parts.append(Text(f"{title}: none"))
            continue
        table = Table(title=f"{title}: {len(alerts)}", title_justify="left", header_style="bold")
        table.add_column("Account")
        table.add_column("Signal")
        table.add_column("Severity", justify="right")
        for a in alerts:
            sev = f"{a.previous_severity} → {a.severity}" if title == "Escalated" else str(a.severity)
            table.add_row(f"{a.account_name} [dim]{a.account_id}[/dim]", a.signal, sev)
        parts.append(table)
    if d.resolved:
        resolved = Table(
            title=f"Resolved (condition no longer met): {len(d.resolved)}", title_justify="left", header_style="bold"
        )
        resolved.add_column("Account")
        resolved.add_column("Signal")
        for account_id, name, signal in d.resolved:
            resolved.add_row(f"{name} [dim]{account_id}[/dim]", signal)
        parts.append(resolved)
    else:
        parts.append(Text("Resolved (condition no longer met): none"))
    parts.append(Text(f"{d.suppressed} repeat alerts suppressed (already alerted, unchanged).", style="dim"))
    return Group(*parts)


def digest_markdown(d: Digest) -> str:
    lines = [
        f"# Digest for {d.csm} — as of {d.as_of.isoformat()}",
        "",
        f"- Accounts: {d.accounts}",
        f"- Trend: {d.trend}",
        f"- Suppressed repeats: {d.suppressed}",
        "",
    ]
    for title, alerts in (("New alerts", d.new), ("Escalated", d.escalated), ("Reminders", d.reminders)):
        lines.append(f"## {title} ({len(alerts)})")
        lines += [f"- {a.account_name} ({a.account_id}): {a.signal}, severity {a.severity}" for a in alerts] or [
            "- none"
        ]
        lines.append("")
    lines.append(f"## Resolved ({len(d.resolved)})")
    lines += [f"- {name} ({aid}): {sig}" for aid, name, sig in d.resolved] or ["- none"]
    return "\n".join(lines) + "\n"
