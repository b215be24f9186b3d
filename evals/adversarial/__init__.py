"""`riskbrief eval --suite adversarial`: a scripted OpenAI-compatible endpoint answers with plausible but
unfaithful drafts in the exact `BriefDraft` schema (and with broken replies), and the suite measures
whether any of them gets into a brief. Offline: the endpoint is a local fake, embeddings are local.

- `scenarios`: the dedicated portfolio's accounts seen as the graph sees them (`AccountView`), the
  faithful drafts, and the hostile and control scenarios built from the real evidence ids.
- `run`: the fake endpoint, the runner (`run_adversarial`) and its report (`AdversarialReport`).
"""
