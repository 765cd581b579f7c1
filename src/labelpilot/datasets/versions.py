"""Dataset versions: a frozen manifest of a dataset's confirmed labeled samples.

A version is one JSON-lines file ``datasets/<id>/versions/V<nnn>-<version_id>.manifest`` in
storage; each line holds a sample's ``id``, ``source``, ``usage`` (TRAIN or EVAL) and its
``annotation`` (ModelArts manifest format). Versions are numbered in the order they are made.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelpilot.datasets.tables import STATE_ALL, Sample
from labelpilot.ids import short_id
from labelpilot.storage import Storage
from labelpilot.storage.keys import versions_prefix

MANIFEST_SUFFIX = ".manifest"


@dataclass
class Item:
    """A confirmed labeled sample with its first label."""

    sample_id: str
    source: str
    label: str


@dataclass(frozen=True)
class Version:
    """A written version: its manifest's storage key and URL."""

    version_id: str
    version_name: str
    manifest_key: str
    manifest_url: str


def labeled_items(session: Session, dataset_id: str) -> list[Item]:
    """Confirmed labeled samples with their first label, in a stable order."""
    rows = session.scalars(
        select(Sample)
        .where(Sample.dataset_id == dataset_id, Sample.state == STATE_ALL)
        .order_by(Sample.sample_time, Sample.id)
    ).all()
    return [Item(r.id, r.source, r.labels[0].name) for r in rows if r.labels]


def write_version(
    storage: Storage,
    dataset_id: str,
    dataset_type: int,
    items: Sequence[Item],
    held_out: Sequence[bool],
) -> Version:
    """Write the next version of a classification dataset; ``held_out`` marks EVAL samples."""
    prefix = versions_prefix(dataset_id)
    existing = sum(1 for k in storage.list(prefix) if k.endswith(MANIFEST_SUFFIX))
    version_name = f"V{existing + 1:03d}"
    version_id = short_id()
    kind = "image" if dataset_type == 0 else "text"
    lines = [
        json.dumps(
            {
                "id": it.sample_id,
                "source": it.source,
                "usage": "EVAL" if held_out[k] else "TRAIN",
                "annotation": [
                    {
                        "name": it.label,
                        "type": f"modelarts/{kind}_classification",
                        "annotated-by": "human",
                    }
                ],
            }
        )
        for k, it in enumerate(items)
    ]
    key = f"{prefix}{version_name}-{version_id}{MANIFEST_SUFFIX}"
    url = storage.put(key, ("\n".join(lines) + "\n").encode())
    return Version(version_id, version_name, key, url)
