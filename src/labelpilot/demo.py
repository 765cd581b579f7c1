"""The demo dataset: scikit-learn's handwritten digits (shipped with scikit-learn), part labeled."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelpilot.datasets.service import create_dataset
from labelpilot.datasets.tables import Dataset
from labelpilot.datasets.types import DatasetType, LabelSpec, LabelType, NewDataset
from labelpilot.samples.service import store_sample
from labelpilot.samples.types import NewLabel
from labelpilot.storage import Storage

DEMO_NAME = "demo-digits"


def digit_png(pixels: np.ndarray, size: int = 32) -> bytes:
    """An 8x8 digit (values 0-16) as a ``size``-pixel grey PNG."""
    img = Image.fromarray((255 - pixels * 255 / 16).astype(np.uint8), mode="L")
    buf = io.BytesIO()
    img.resize((size, size), Image.Resampling.BICUBIC).save(buf, "PNG")
    return buf.getvalue()


def create_demo_dataset(
    session: Session,
    storage: Storage,
    project_id: str,
    *,
    labeled_per_class: int = 10,
    limit: int | None = None,
) -> tuple[Dataset, bool]:
    """Create (once) the demo dataset; return it and whether it was created now."""
    from sklearn.datasets import load_digits

    existing = session.scalar(
        select(Dataset).where(Dataset.project_id == project_id, Dataset.name == DEMO_NAME)
    )
    if existing is not None:
        return existing, False
    digits = load_digits()
    image = LabelType.IMAGE_CLASSIFICATION
    ds = create_dataset(
        session=session,
        storage=storage,
        project_id=project_id,
        new=NewDataset(
            name=DEMO_NAME,
            dataset_type=DatasetType.IMAGE_CLASSIFICATION,
            description="Handwritten digits from scikit-learn, 10 per class labeled",
            labels=[LabelSpec(name=str(d), type=image) for d in range(10)],
        ),
    )
    seen = dict.fromkeys(range(10), 0)
    n = len(digits.images) if limit is None else min(limit, len(digits.images))
    for i in range(n):
        target = int(digits.target[i])
        labels = []
        if seen[target] < labeled_per_class:
            seen[target] += 1
            labels = [NewLabel(name=str(target), type=image)]
        store_sample(
            session, storage, ds, f"digit_{i:04d}.png", digit_png(digits.images[i]), labels=labels
        )
    session.flush()
    return ds, True
