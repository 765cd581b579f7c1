"""Image embeddings and statistics for a task's samples, through the feature cache."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from labelpilot.engine.context import RunContext
from labelpilot.errors import LabelPilotError, StorageUnavailable
from labelpilot.features.store import FeatureStore
from labelpilot.mlmodels.imaging import check_image

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


def unreadable_reason(exc: Exception) -> str:
    """What a task lists for a sample it skipped."""
    if isinstance(exc, LabelPilotError):
        return exc.error_msg
    if isinstance(exc, FileNotFoundError):
        return "the sample's file is missing"
    return f"{type(exc).__name__}: {exc}"


# what reading or decoding one sample may raise; anything else is a bug and fails the task
SAMPLE_ERRORS = (LabelPilotError, OSError, ValueError)


def image_features(
    ctx: RunContext,
    samples: Sequence[tuple[str, str]],
    *,
    image_size: int = DEFAULT_IMAGE_SIZE,
    progress_from: float = 0.0,
    progress_to: float = 80.0,
    batch_size: int = 64,
) -> tuple[np.ndarray, np.ndarray, dict[str, str]]:
    """Embeddings ``(m, 1280)``, statistics ``(m, 7)`` and the skipped samples' reasons.

    ``samples`` are ``(sample_id, source)`` pairs; the rows are those of the ``m`` samples not
    skipped, in order. A sample whose file is missing, whose header says more than
    ``max_image_pixels`` or which does not decode is skipped (``sample_id -> reason``).
    Cached per sample and feature version (:func:`feature_version`, which includes
    ``image_size``). Missing rows are computed ``batch_size`` samples at a time with
    ``ImageEmbedder.embed_bytes`` (decoding and statistics of the next network batch run in a
    helper thread); progress moves from ``progress_from`` to ``progress_to`` while batches are
    computed, and a stop is honoured between batches.
    """
    cache_dir = str(ctx.settings.resolved_model_dir)
    max_pixels = ctx.settings.max_image_pixels
    emb = embedder(cache_dir, image_size)
    store = FeatureStore(ctx.storage, ctx.dataset_id, feature_version(cache_dir, image_size))
    sources = dict(samples)
    skipped: dict[str, str] = {}

    def compute(ids: Sequence[str]) -> tuple[list[str], dict[str, np.ndarray]]:
        done: list[str] = []
        blobs: list[bytes] = []
        for sid in ids:
            try:
                data = read_sample(ctx, sources[sid])
                check_image(data, max_pixels)
            except StorageUnavailable:
                raise  # not this sample's fault: the task fails saying so
            except SAMPLE_ERRORS as exc:
                skipped[sid] = unreadable_reason(exc)
                continue
            done.append(sid)
            blobs.append(data)
        if not blobs:
            return done, {
                "embedding": np.zeros((0, 1280), np.float32),
                "stats": np.zeros((0, 7), np.float32),
            }
        try:
            embeddings, stats = emb.embed_bytes(blobs)
        except ValueError:  # one of them does not decode: find it, one at a time
            rows = []
            for sid, data in zip(list(done), blobs, strict=True):
                try:
                    rows.append(emb.embed_bytes([data]))
                except ValueError as exc:
                    skipped[sid] = f"the image does not decode: {exc}"
                    done.remove(sid)
            embeddings = np.concatenate([r[0] for r in rows]) if rows else np.zeros((0, 1280))
            stats = np.concatenate([r[1] for r in rows]) if rows else np.zeros((0, 7))
        return done, {
            "embedding": embeddings.astype(np.float32),
            "stats": stats.astype(np.float32),
        }

    def on_batch(done: int, total: int) -> None:
        ctx.progress(progress_from + (progress_to - progress_from) * done / max(total, 1))

    ids = [sid for sid, _ in samples]
    out = store.compute(ids, compute, batch_size, on_batch)
    if not out:
        return np.zeros((0, 1280), np.float32), np.zeros((0, 7), np.float32), skipped
    return out["embedding"], out["stats"], skipped
