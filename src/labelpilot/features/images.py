"""Image embeddings and statistics for a task's samples, through the feature cache."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from labelpilot.engine.context import RunContext
from labelpilot.features.store import FeatureStore

STATS_VERSION = "stats-v1"


@lru_cache(maxsize=2)
def embedder(cache_dir: str) -> object:
    """One ImageEmbedder per process (loading the ONNX session takes a moment)."""
    from labelpilot.algorithms.image_features import ImageEmbedder

    return ImageEmbedder(cache_dir=cache_dir)


def read_sample(ctx: RunContext, source: str) -> bytes:
    key = ctx.storage.key_of(source)
    if key is None:
        raise FileNotFoundError(f"sample file {source} is outside the storage root")
    return ctx.storage.get(key)


def image_features(
    ctx: RunContext,
    samples: Sequence[tuple[str, str]],
    *,
    progress_from: float = 0.0,
    progress_to: float = 80.0,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings ``(n, 1280)`` and statistics ``(n, 7)`` of ``(sample_id, source)`` pairs.

    Cached per sample and feature version; progress moves from ``progress_from`` to
    ``progress_to`` while batches are computed, and a stop is honoured between batches.
    """
    from labelpilot.algorithms.image_features import image_stats, load_image

    emb = embedder(str(ctx.settings.resolved_model_dir))
    version = f"{emb.version}|{STATS_VERSION}"  # type: ignore[attr-defined]
    store = FeatureStore(ctx.storage, ctx.dataset_id, version)
    sources = dict(samples)

    def compute(ids: Sequence[str]) -> dict[str, np.ndarray]:
        images = [load_image(read_sample(ctx, sources[i])) for i in ids]
        return {
            "embedding": emb.embed(images).astype(np.float32),  # type: ignore[attr-defined]
            "stats": image_stats(images).astype(np.float32),
        }

    def on_batch(done: int, total: int) -> None:
        ctx.progress(progress_from + (progress_to - progress_from) * done / max(total, 1))

    ids = [sid for sid, _ in samples]
    out = store.compute(ids, compute, batch_size, on_batch)
    if not ids:
        return np.zeros((0, 1280), np.float32), np.zeros((0, 7), np.float32)
    return out["embedding"], out["stats"]
