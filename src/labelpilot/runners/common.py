"""Helpers shared by runners: sample selection and precondition errors."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelpilot.datasets.tables import STATE_NONE, Dataset, Sample
from labelpilot.errors import LabelPilotError

IMAGE_DATASET_TYPES = (0, 1, 3)


def unsupported_dataset(dataset: Dataset, what: str) -> LabelPilotError:
    return LabelPilotError(
        f"{what} is not supported for dataset type {dataset.dataset_type} yet",
        error_code="ModelArts.4383",
        status_code=501,
    )


def unlabeled_images(session: Session, dataset_id: str) -> list[tuple[str, str]]:
    """``(sample_id, source)`` of the dataset's unlabeled image samples, in a stable order."""
    rows = session.execute(
        select(Sample.id, Sample.source)
        .where(Sample.dataset_id == dataset_id, Sample.state == STATE_NONE)
        .where(Sample.sample_type == 0)
        .order_by(Sample.sample_time, Sample.id)
    ).all()
    return [(r.id, r.source) for r in rows]
