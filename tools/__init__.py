"""Deterministic tools of riskbrief: loading, signals, scoring, retrieval, verification. No LLM here."""
