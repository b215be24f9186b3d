"""Typed records shared by the signal engine, the queue, the agent and the evals.

These are the JSON contract of `riskbrief queue --format json` (spec/interface.md). Dates serialise
as ISO strings.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RiskLevel = Literal["critical", "high", "medium", "low"]
Urgency = Literal["immediate", "same_day", "next_business_day", "weekly"]


class EvidenceItem(BaseModel):
    """One piece of source evidence: a typed evidence id (`ticket:T-9`, `usage:A-1:dau:2026-03-02`, ...)
    and the quoted value or snippet it supports."""

    id: str = Field(description="typed evidence id, see spec/data-format.md")
    text: str = Field(description="quoted value or snippet from the source row")
    date: str | None = Field(default=None, description="date of the source row (ISO)")


class Signal(BaseModel):
    """An active risk signal on one account, with the evidence the registry requires."""

    signal: str = Field(description="registry id, e.g. usage_sudden_drop")
    severity: int
    evidence: list[EvidenceItem]
    first_detected: str = Field(description="ISO date the condition was first met")
    summary: str = Field(default="", description="one line with the figures, built by the detector")


class ChurnFactor(BaseModel):
    """One factor behind an account's churn probability: its value and its push on the log-odds
    (positive raises risk), relative to the average account the model was fitted on."""

    factor: str
    value: str | float | None = None
    contribution: float


class QueueEntry(BaseModel):
    """One account in the ranked risk queue. Its numbers are finite: a NaN or an infinity is a bug to stop
    at, never a value to print (JSON has neither)."""

    model_config = ConfigDict(allow_inf_nan=False)

    account_id: str
    account_name: str
    risk_score: float = Field(description="adjusted score: clustered base + renewal proximity, capped")
    risk_level: RiskLevel
    arr: float
    days_to_renewal: int
    health_score: float | None
    active_signals: list[Signal]
    not_evaluated: list[str] = Field(description="'signal_id: reason' for signals the data could not decide")
    cluster_amplification: bool
    cluster_signals: list[str] = Field(default_factory=list)
    base_score: float = 0.0
    temporal_adjustment: float
    handoff_urgency: Urgency
    routed_to: list[str] = Field(default_factory=list)
    csm_owner: str | None = None
    segment: str | None = None
    renewal_date: str | None = None
    churn_probability: float | None = None
    arr_at_risk: float | None = None
    churn_horizon_days: int | None = Field(default=None, description="the calibrated model's horizon")
    churn_factors: list[ChurnFactor] | None = Field(
        default=None, description="the top factors behind churn_probability, largest push first"
    )
    alert: Literal["new", "escalated", "repeat", "suppressed"] | None = None
