"""The riskbrief agent: a LangGraph graph that drafts, verifies and pauses each brief for approval."""
