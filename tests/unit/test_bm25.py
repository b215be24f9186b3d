"""The hand-written BM25 (`tools.bm25`) tokenises, scores and ranks as bm25s does, on the sample's texts."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

import bm25s
import numpy as np
import pytest
from bm25s.stopwords import STOPWORDS_EN

from tools import bm25
from tools.retrieval import BRIEF_QUERIES, light_stem
from tools.sample import portfolio_dir

ROOT = Path(__file__).resolve().parents[2]


def _texts_by_account() -> dict[str, list[str]]:
    folder = portfolio_dir()
    out: dict[str, list[str]] = defaultdict(list)
    with (folder / "notes.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            out[row["account_id"]].append(row["text"])
    with (folder / "tickets.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            out[row["account_id"]].append(f"{row['subject']}\n{row['body']}")
    return out


def _queries() -> list[str]:
    labelled = json.loads((ROOT / "evals/retrieval/queries.json").read_text())["queries"]
    return [*BRIEF_QUERIES.values(), *(q["query"] for q in labelled), "the the and", "SSO sso Sso renewals renewal"]


def _reference(texts: list[str], query: str) -> np.ndarray | None:
    corpus = bm25s.tokenize(texts, stopwords="en", stemmer=light_stem, show_progress=False)
    vocab = corpus.vocab
    tokens = bm25s.tokenize([query], stopwords="en", stemmer=light_stem, return_ids=False, show_progress=False)
    terms = [t for t in tokens[0] if t in vocab]
    if not vocab or not terms:
        return None
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    return np.asarray(retriever.get_scores(terms))


def test_stopwords_are_bm25s_english_list() -> None:
    assert frozenset(STOPWORDS_EN) == bm25.STOPWORDS


def test_tokens_match_bm25s() -> None:
    texts = [*[t for ts in _texts_by_account().values() for t in ts][:300], "", "a", "Re-run: it's 2x, don't!"]
    ours = [bm25.tokenize(t, light_stem) for t in texts]
    theirs = bm25s.tokenize(texts, stopwords="en", stemmer=light_stem, return_ids=False, show_progress=False)
    assert ours == [list(t) for t in theirs]


@pytest.mark.parametrize("account", ["A-017", "A-003", "A-042", "A-001"])
def test_scores_and_ranking_match_bm25s(account: str) -> None:
    texts = _texts_by_account()[account]
    assert len(texts) > 10
    index = bm25.Index.build(texts, light_stem)
    compared = 0
    for query in _queries():
        expected = _reference(texts, query)
        got = index.scores(bm25.tokenize(query, light_stem))
        if expected is None:
            assert not got.any()
            continue
        compared += 1
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)
        assert np.argsort(-got, kind="stable").tolist() == np.argsort(-expected, kind="stable").tolist()
    assert compared >= 10


def test_empty_corpus_scores_nothing() -> None:
    index = bm25.Index.build([])
    assert index.scores(["renewal"]).shape == (0,)
