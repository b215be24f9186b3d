"""Evaluation of riskbrief: labelled scenario suites, deterministic scorers, a runner, data converters."""
