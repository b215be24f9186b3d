"""BM25 over one account's chunks: a few lines of numpy, scored as bm25s scores them.

An account holds tens to hundreds of chunks, so the index is built per brief in milliseconds and
needs no second store to keep in step with Chroma. Written here rather than imported because the
library loads scipy (≈0.2 s of a cold brief); `tests/unit/test_bm25.py` checks that tokens, scores and
rankings equal bm25s's (Lucene variant, k1 = 1.5, b = 0.75, its English stopwords) on the sample.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

K1 = 1.5
B = 0.75
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's CountVectorizer pattern, as bm25s uses
STOPWORDS = frozenset(
    [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "if", "in", "into", "is", "it", "no",
        "not", "of", "on", "or", "such", "that", "the", "their", "then", "there", "these", "they", "this", "to",
        "was", "will", "with",
    ]
)  # fmt: skip

Stemmer = Callable[[list[str]], list[str]]


def tokenize(text: str, stem: Stemmer | None = None) -> list[str]:
    """Lower-cased words of two or more characters, stopwords dropped, then stemmed."""
    tokens = [t for t in TOKEN.findall(text.lower()) if t not in STOPWORDS]
    return stem(tokens) if stem is not None and tokens else tokens


@dataclass(frozen=True)
class Index:
    """Per term, the documents holding it and their precomputed score contributions (float32)."""

    postings: dict[str, tuple[np.ndarray, np.ndarray]]
    size: int

    @classmethod
    def build(cls, texts: Sequence[str], stem: Stemmer | None = None) -> Index:
        docs = [tokenize(t, stem) for t in texts]
        n = len(docs)
        if not n:
            return cls({}, 0)
        avg_len = float(np.mean([len(d) for d in docs]))
        counts = [Counter(d) for d in docs]
        df: Counter[str] = Counter(term for c in counts for term in c)
        idf = {term: np.float32(math.log(1 + (n - k + 0.5) / (k + 0.5))) for term, k in df.items()}
        rows: dict[str, tuple[list[int], list[float]]] = {}
        for i, (doc, tf) in enumerate(zip(docs, counts, strict=True)):
            norm = K1 * ((1 - B) + B * len(doc) / avg_len) if avg_len else K1
            for term, f in tf.items():
                held = rows.setdefault(term, ([], []))
                held[0].append(i)
                held[1].append(float(idf[term]) * (f / (norm + f)))
        postings = {
            term: (np.asarray(d, dtype=np.int64), np.asarray(s, dtype=np.float32)) for term, (d, s) in rows.items()
        }
        return cls(postings, n)

    def scores(self, terms: Sequence[str]) -> np.ndarray:
        """Each document's score for the query's terms (a repeated term counts again), float32."""
        out = np.zeros(self.size, dtype=np.float32)
        for term in terms:
            posting = self.postings.get(term)
            if posting is not None:
                out[posting[0]] += posting[1]
        return out
