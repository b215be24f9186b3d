"""`riskbrief.toml`: one settings object with defaults, file overrides and environment overrides.

Read from `--config FILE`, else `riskbrief.toml` in the portfolio directory, else in the working
directory (spec/data-format.md). An unknown key or a bad value is an error naming it.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tools.errors import InputError
from tools.registry import REGISTRY, SignalSpec


class SignalOverride(BaseModel):
    """Per-signal table: `enabled`, `severity`, and any of the signal's parameters."""

    model_config = ConfigDict(extra="allow")

    enabled: bool = True
    severity: int | None = Field(default=None, ge=1, le=5)


class ProximityBand(BaseModel):
    """Renewal proximity: accounts renewing in fewer than `max_days` days get `adjustment`."""

    model_config = ConfigDict(extra="forbid")

    max_days: int
    adjustment: float


class RiskLevels(BaseModel):
    model_config = ConfigDict(extra="forbid")

    critical: float = 5.5
    high: float = 4.0
    medium: float = 2.5


class ModelSettings(BaseModel):
    """The chat model; environment variables win (OPENAI_BASE_URL, RISKBRIEF_MODEL)."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    base_url: str | None = None
    temperature: float = 0.0
    structured_method: str | None = None


class StoreSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    home: str | None = None


class Calibration(BaseModel):
    """A fitted churn model: logistic regression over signal indicators (see tools.calibration)."""

    model_config = ConfigDict(extra="allow")

    intercept: float = 0.0
    weights: dict[str, float] = Field(default_factory=dict)


class Config(BaseModel):
    """All settings. Signal parameters are resolved against the registry with `params(signal_id)`."""

    model_config = ConfigDict(extra="forbid")

    as_of: date | None = None
    competitors: list[str] = Field(default_factory=list)
    cluster_window_days: int = Field(default=14, ge=1)
    cause_recency_days: int = Field(
        default=180, ge=1, description="a note or survey older than this (days) cannot confirm a current cause"
    )
    history_days: int = Field(
        default=182, ge=30, description="how far back usage and health series are read for trends (days)"
    )
    cluster_cap: float = 5.0
    score_cap: float = 6.5
    renewal_proximity: list[ProximityBand] = Field(
        default_factory=lambda: [
            ProximityBand(max_days=30, adjustment=1.5),
            ProximityBand(max_days=90, adjustment=1.0),
            ProximityBand(max_days=181, adjustment=0.5),
        ]
    )
    risk_levels: RiskLevels = Field(default_factory=RiskLevels)
    suppression_days: int = Field(default=14, ge=0)
    signals: dict[str, SignalOverride] = Field(default_factory=dict)
    model: ModelSettings = Field(default_factory=ModelSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    calibration: Calibration | None = None
    source: str | None = Field(default=None, description="the file these settings came from")

    @field_validator("signals")
    @classmethod
    def _known_signals(cls, value: dict[str, SignalOverride]) -> dict[str, SignalOverride]:
        for key, override in value.items():
            if key not in REGISTRY:
                raise ValueError(f"unknown signal '{key}' (known: {', '.join(REGISTRY)})")
            spec = REGISTRY[key]
            for param, given in (override.model_extra or {}).items():
                if param not in spec.params:
                    allowed = ", ".join(["enabled", "severity", *spec.params])
                    raise ValueError(f"signals.{key}: unknown key '{param}' (allowed: {allowed})")
                default = spec.params[param]
                if isinstance(default, str) != isinstance(given, str) or isinstance(given, bool):
                    raise ValueError(f"signals.{key}.{param}: expected a {type(default).__name__}, got {given!r}")
        return value

    @model_validator(mode="after")
    def _bands_sorted(self) -> Config:
        self.renewal_proximity = sorted(self.renewal_proximity, key=lambda b: b.max_days)
        return self

    def spec(self, signal_id: str) -> SignalSpec:
        return REGISTRY[signal_id]

    def enabled(self, signal_id: str) -> bool:
        override = self.signals.get(signal_id)
        return override.enabled if override else True

    def severity(self, signal_id: str) -> int:
        override = self.signals.get(signal_id)
        if override and override.severity is not None:
            return override.severity
        return REGISTRY[signal_id].severity

    def params(self, signal_id: str) -> dict[str, Any]:
        merged: dict[str, Any] = dict(REGISTRY[signal_id].params)
        override = self.signals.get(signal_id)
        if override and override.model_extra:
            merged.update(override.model_extra)
        return merged

    def proximity_adjustment(self, days_to_renewal: int) -> float:
        for band in self.renewal_proximity:
            if days_to_renewal < band.max_days:
                return band.adjustment
        return 0.0

    def model_name(self) -> str | None:
        return os.environ.get("RISKBRIEF_MODEL") or self.model.name

    def base_url(self) -> str | None:
        return os.environ.get("OPENAI_BASE_URL") or self.model.base_url


def _format_error(path: Path, exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if p != "__root__")
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{path}: {where or 'config'}: {message}"


def parse_config(data: dict[str, Any], path: Path) -> Config:
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise InputError(_format_error(path, exc)) from None
    config.source = str(path)
    if config.store.home:
        from tools import workspace

        # Relative to the config file, so the same file works from any working directory.
        workspace.set_config_home((path.parent / config.store.home).resolve())
    return config


def find_config(data_dir: Path | None, config_file: Path | None = None) -> Path | None:
    if config_file is not None:
        if not Path(config_file).is_file():
            raise InputError(f"{config_file}: config file not found")
        return Path(config_file)
    for candidate in ([Path(data_dir) / "riskbrief.toml"] if data_dir else []) + [Path("riskbrief.toml")]:
        if candidate.is_file():
            return candidate
    return None


def load_config(data_dir: Path | None, config_file: Path | None = None) -> Config:
    """Settings from the first config file found (see module doc), or the defaults."""
    path = find_config(data_dir, config_file)
    if path is None:
        return Config()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, path)
