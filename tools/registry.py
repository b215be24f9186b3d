"""The signal registry: the one source of truth for signal ids, families, thresholds, severities,
the data each signal needs and the evidence it must carry (spec/signals.md).

`riskbrief.toml` can override `severity`, `enabled` and any parameter of a signal
(`[signals.usage_sudden_drop] threshold = 0.3`); see `tools.config`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, get_args

Family = Literal["health", "usage", "support", "relationship", "commercial"]
RiskCategory = Literal[
    "adoption/value",
    "relationship/stakeholder",
    "support/product",
    "commercial/financial",
    "competitive",
    "renewal/contract",
]
Urgency = Literal["immediate", "same_day", "next_business_day", "weekly"]


@dataclass(frozen=True)
class SignalSpec:
    """One signal of the registry."""

    id: str
    family: Family
    kind: Literal["metric", "event"]
    severity: int
    fires_when: str
    evidence: str
    needs: tuple[str, ...]  # tables; with none of them present the signal is not evaluated
    params: dict[str, float | int | str] = field(default_factory=dict)
    risk_category: RiskCategory = "adoption/value"


REGISTRY: dict[str, SignalSpec] = {
    s.id: s
    for s in (
        SignalSpec(
            "health_below_threshold",
            "health",
            "metric",
            3,
            "latest health score below {threshold}",
            "score, date, component breakdown",
            ("health_scores",),
            {"threshold": 65.0},
            "adoption/value",
        ),
        SignalSpec(
            "health_rapid_decline",
            "health",
            "metric",
            4,
            "health fell more than {points} points within {window_days} days (in the last {lookback_days} days)",
            "both scores and dates, delta, components that moved",
            ("health_scores",),
            {"points": 10.0, "window_days": 7, "lookback_days": 30},
            "adoption/value",
        ),
        SignalSpec(
            "usage_gradual_decline",
            "usage",
            "metric",
            3,
            "a usage metric declined in {periods}+ consecutive periods, up to its latest period",
            "metric, baseline, current, delta %, number of periods",
            ("usage",),
            {"periods": 3},
            "adoption/value",
        ),
        SignalSpec(
            "usage_sudden_drop",
            "usage",
            "metric",
            4,
            "a usage metric fell more than {threshold:.0%} from the prior period (in the last {lookback_days} days)",
            "metric, prior value, current value, periods",
            ("usage",),
            {"threshold": 0.25, "lookback_days": 30},
            "adoption/value",
        ),
        SignalSpec(
            "adoption_plateau",
            "usage",
            "metric",
            2,
            "the {metric} metric below the segment median for {days}+ days",
            "metric, account value, segment median, days",
            ("usage",),
            {"metric": "feature_adoption", "days": 60},
            "adoption/value",
        ),
        SignalSpec(
            "support_volume_spike",
            "support",
            "metric",
            3,
            "tickets in the last {window_days} days > {ratio}x the monthly average of the prior {baseline_days} "
            "days, and at least {min_count}",
            "counts, ticket ids, priority mix, subjects",
            ("tickets",),
            {"ratio": 2.0, "min_count": 3, "window_days": 30, "baseline_days": 90},
            "support/product",
        ),
        SignalSpec(
            "survey_decline",
            "relationship",
            "metric",
            3,
            "NPS or CSAT below the segment {percentile:.0%} percentile, or down {drop}+ points "
            "(latest survey within {lookback_days} days)",
            "score, prior score, segment benchmark, comment",
            ("surveys",),
            {"percentile": 0.25, "drop": 2.0, "lookback_days": 180},
            "relationship/stakeholder",
        ),
        SignalSpec(
            "champion_departure",
            "relationship",
            "event",
            5,
            "a contact with role champion departed (in the last {lookback_days} days)",
            "name, title, departure date, source",
            ("contact_events",),
            {"lookback_days": 90},
            "relationship/stakeholder",
        ),
        SignalSpec(
            "sponsor_change",
            "relationship",
            "event",
            4,
            "the executive sponsor departed or was replaced (in the last {lookback_days} days)",
            "old sponsor, new sponsor if known, date",
            ("contact_events",),
            {"lookback_days": 90},
            "relationship/stakeholder",
        ),
        SignalSpec(
            "declined_meetings",
            "relationship",
            "event",
            3,
            "{count}+ meetings declined, cancelled or no-show in {window_days} days",
            "meeting ids, dates, kinds",
            ("meetings",),
            {"count": 2, "window_days": 30},
            "relationship/stakeholder",
        ),
        SignalSpec(
            "no_reply_streak",
            "relationship",
            "event",
            3,
            "{count}+ consecutive outbound emails without an inbound reply",
            "email ids, dates, subjects, days since last reply",
            ("emails",),
            {"count": 3},
            "relationship/stakeholder",
        ),
        SignalSpec(
            "p1_escalation",
            "support",
            "event",
            4,
            "an open P1 ticket, or an escalated ticket open or opened in the last {lookback_days} days",
            "ticket id, subject, days open",
            ("tickets",),
            {"lookback_days": 30},
            "support/product",
        ),
        SignalSpec(
            "competitor_mention",
            "commercial",
            "event",
            4,
            "a configured competitor named in a ticket, note or survey comment (in the last {lookback_days} days)",
            "source id, quoted snippet, competitor",
            ("tickets", "notes", "surveys"),
            {"lookback_days": 90},
            "competitive",
        ),
        SignalSpec(
            "contract_objection",
            "commercial",
            "event",
            3,
            "renewal opportunity stalled {stalled_days}+ days in a stage, or an objection recorded",
            "opportunity id, stage, days stalled, objection text",
            ("opportunities",),
            {"stalled_days": 30},
            "renewal/contract",
        ),
        SignalSpec(
            "payment_overdue",
            "commercial",
            "event",
            3,
            "an invoice unpaid more than {days} days after due",
            "invoice id, amount, days overdue",
            ("invoices",),
            {"days": 30},
            "commercial/financial",
        ),
        SignalSpec(
            "stakeholder_silence",
            "relationship",
            "event",
            3,
            "no meeting held and no inbound email from champion or sponsor for {days}+ days",
            "last contact date, days silent, who",
            ("meetings", "emails"),
            {"days": 60},
            "relationship/stakeholder",
        ),
        SignalSpec(
            "unresolved_support",
            "support",
            "event",
            2,
            "a ticket open more than {days} days",
            "ticket id, subject, days open",
            ("tickets",),
            {"days": 30},
            "support/product",
        ),
    )
}

SIGNAL_IDS: tuple[str, ...] = tuple(REGISTRY)

RISK_CATEGORIES: tuple[RiskCategory, ...] = get_args(RiskCategory)

# Routing (spec/signals.md): recommendation only, nothing is sent without a person.
URGENCY_RANK: dict[str, int] = {"immediate": 0, "same_day": 1, "next_business_day": 2, "weekly": 3}
ROUTES: dict[str, tuple[Urgency, tuple[str, ...]]] = {
    "champion_departure": ("immediate", ("CSM", "CS leadership")),
    "competitor_mention": ("immediate", ("CSM",)),
    "p1_escalation": ("same_day", ("CSM",)),
    "health_rapid_decline": ("same_day", ("CSM",)),
    "adoption_plateau": ("weekly", ("weekly digest",)),
}
CLUSTER_ROUTE: tuple[Urgency, tuple[str, ...]] = ("same_day", ("CSM", "manager review"))
DEFAULT_ROUTE: tuple[Urgency, tuple[str, ...]] = ("next_business_day", ("daily digest",))

LIMITS: tuple[str, ...] = (
    "Detection confidence is high: a signal is present or not, computed from the data by fixed rules.",
    "Prioritisation confidence is medium: weights and thresholds are defaults until calibrated on outcomes.",
    "Causal inference is low: signals are correlations, not proof of why a customer may leave.",
    "Clustering assumes independence: two signals with one root cause can overstate severity.",
)


def limits_in_force(prioritisation: str | None = None) -> list[str]:
    """The limits text, with the sentence on prioritisation replaced by what is in force (a calibrated churn
    model, see tools.churn_model.prioritisation_note) when given."""
    return [LIMITS[0], prioritisation or LIMITS[1], *LIMITS[2:]]


def describe(spec: SignalSpec, params: dict[str, float | int | str] | None = None) -> str:
    """The firing rule with the parameters in force, for help text and briefs."""
    return spec.fires_when.format(**(params or spec.params))
