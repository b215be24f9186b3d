"""Retrieval-quality eval: labelled queries over the sample portfolio, scored for vector, BM25 and hybrid."""
