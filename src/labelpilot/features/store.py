"""A storage-backed cache of per-sample feature rows, keyed by feature version.

Rows are written in chunks (one ``.npz`` per computed batch: sample ids plus arrays), so a second
task over the same samples and feature version reads them instead of recomputing.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Sequence

import numpy as np

from labelpilot.ids import uuid_str
from labelpilot.storage import Storage


def version_key(version: str) -> str:
    """A storage-safe name for a feature version string."""
    return hashlib.sha256(version.encode()).hexdigest()[:16]


class FeatureStore:
    """Cached feature rows of one dataset for one feature version."""

    def __init__(self, storage: Storage, dataset_id: str, version: str) -> None:
        self.storage = storage
        self.prefix = f"datasets/{dataset_id}/features/{version_key(version)}"
        self.version = version

    def load(self) -> dict[str, dict[str, np.ndarray]]:
        """All cached rows: sample id -> {array name -> row}."""
        rows: dict[str, dict[str, np.ndarray]] = {}
        for key in self.storage.list(self.prefix):
            if not key.endswith(".npz"):
                continue
            with np.load(io.BytesIO(self.storage.get(key)), allow_pickle=False) as z:
                ids = [str(x) for x in z["ids"]]
                arrays = {name: z[name] for name in z.files if name != "ids"}
            for i, sid in enumerate(ids):
                rows[sid] = {name: arr[i] for name, arr in arrays.items()}
        return rows

    def save(self, ids: Sequence[str], **arrays: np.ndarray) -> None:
        """Write one chunk of rows (every array has ``len(ids)`` rows)."""
        if not ids:
            return
        buf = io.BytesIO()
        np.savez(buf, ids=np.array(ids, dtype=str), **arrays)  # type: ignore[arg-type]
        self.storage.put(f"{self.prefix}/{uuid_str()}.npz", buf.getvalue())

    def compute(
        self,
        ids: Sequence[str],
        compute_batch: Callable[[Sequence[str]], tuple[list[str], dict[str, np.ndarray]]],
        batch_size: int,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> dict[str, np.ndarray]:
        """Rows for ``ids`` in order: cached ones are read, missing ones computed in batches.

        ``compute_batch(batch)`` returns the ids it computed (a subset of ``batch`` in order: a
        sample it could not read is left out, and so is its row here) and their rows.
        ``on_batch(done, total)`` is called after each computed batch (progress, stop checks).
        """
        cached = self.load()
        missing = [i for i in ids if i not in cached]
        total = len(missing)
        for start in range(0, total, batch_size):
            batch = missing[start : start + batch_size]
            done, arrays = compute_batch(batch)
            self.save(done, **arrays)
            for j, sid in enumerate(done):
                cached[sid] = {name: arr[j] for name, arr in arrays.items()}
            if on_batch:
                on_batch(min(start + batch_size, total), total)
        found = [i for i in ids if i in cached]
        if not found:
            return {}
        names = cached[found[0]].keys()
        return {name: np.stack([cached[i][name] for i in found]) for name in names}
