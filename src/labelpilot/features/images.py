"""Image embeddings and statistics for a task's samples, through the feature cache."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from labelpilot.engine.context import RunContext
from labelpilot.features.store import FeatureStore

if TYPE_CHECKING:  # pragma: no cover - importing it loads ONNX Runtime
    from labelpilot.mlmodels.image_embedder import ImageEmbedder

STATS_VERSION = "stats-v1"
DEFAULT_IMAGE_SIZE = 112  # auto-grouping; auto-label embeds at 224 (see runners/autolabel.py)


@lru_cache(maxsize=4)
def embedder(cache_dir: str, image_size: int = DEFAULT_IMAGE_SIZE) -> ImageEmbedder:
    """One ImageEmbedder per process and input size (loading the ONNX session takes a moment)."""
    from labelpilot.mlmodels.image_embedder import ImageEmbedder

    return ImageEmbedder(image_size=image_size, cache_dir=cache_dir)


def feature_version(cache_dir: str, image_size: int = DEFAULT_IMAGE_SIZE) -> str:
    """The feature-cache version of :func:`image_features` at ``image_size``.

    It contains the embedder's version, which names the input size (``...-224px-...``), so
    features of different sizes never share a cache entry.
    """
    emb = embedder(cache_dir, image_size)
    return f"{emb.version}|{STATS_VERSION}"


def read_sample(ctx: RunContext, source: str) -> bytes:
    key = ctx.storage.key_of(source)
    if key is None:
        raise FileNotFoundError(f"sample file {source} is outside the storage root")
    return ctx.storage.get(key)


def image_features(
    ctx: RunContext,
    samples: Sequence[tuple[str, str]],
    *,
    image_size: int = DEFAULT_IMAGE_SIZE,
    progress_from: float = 0.0,
    progress_to: float = 80.0,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings ``(n, 1280)`` and statistics ``(n, 7)`` of ``(sample_id, source)`` pairs.

    Cached per sample and feature version (:func:`feature_version`, which includes
    ``image_size``). Missing rows are computed ``batch_size`` samples at a time with
    ``ImageEmbedder.embed_bytes`` (decoding and statistics of the next network batch run in a
    helper thread); progress moves from ``progress_from`` to ``progress_to`` while batches are
    computed, and a stop is honoured between batches.
    """
    cache_dir = str(ctx.settings.resolved_model_dir)
    emb = embedder(cache_dir, image_size)
    store = FeatureStore(ctx.storage, ctx.dataset_id, feature_version(cache_dir, image_size))
    sources = dict(samples)

    def compute(ids: Sequence[str]) -> dict[str, np.ndarray]:
        blobs = [read_sample(ctx, sources[i]) for i in ids]
        embeddings, stats = emb.embed_bytes(blobs)
        return {"embedding": embeddings.astype(np.float32), "stats": stats.astype(np.float32)}

    def on_batch(done: int, total: int) -> None:
        ctx.progress(progress_from + (progress_to - progress_from) * done / max(total, 1))

    ids = [sid for sid, _ in samples]
    out = store.compute(ids, compute, batch_size, on_batch)
    if not ids:
        return np.zeros((0, 1280), np.float32), np.zeros((0, 7), np.float32)
    return out["embedding"], out["stats"]
