"""The demo dataset: scikit-learn's handwritten digits (shipped with scikit-learn), part labeled."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelpilot.config import Settings
from labelpilot.datasets.service import create_dataset
from labelpilot.datasets.tables import Dataset
from labelpilot.datasets.types import DatasetType, LabelSpec, LabelType, NewDataset
from labelpilot.db import Database
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


@dataclass(frozen=True)
class DemoSeed:
    """What ``seed_demo`` found or created."""

    project_id: str
    dataset_id: str
    dataset_created: bool
    credential: dict[str, str]
    model_state: str | None  # "<name> (registered)" or "<name> (already there)"; None: skipped


def ensure_demo_model(settings: Settings, db: Database, storage: Storage, project: str) -> str:
    """Register the packaged ImageNet classifier in the demo project (once)."""
    from labelpilot.mlmodels import pretrained
    from labelpilot.mlmodels.service import NewModel, register_model
    from labelpilot.mlmodels.tables import Model

    with db.read() as session:
        if session.scalar(
            select(Model.id).where(
                Model.project_id == project, Model.model_name == pretrained.MODEL_NAME
            )
        ):
            return f"{pretrained.MODEL_NAME} (already there)"
    path, config = pretrained.imagenet_classifier(settings.resolved_model_dir)
    with db.transaction() as session:
        register_model(
            session,
            storage,
            NewModel(
                project_id=project,
                model_name=pretrained.MODEL_NAME,
                model_version=pretrained.MODEL_VERSION,
                model_type="ONNX",
                config=config,
                model_bytes=path.read_bytes(),
                description=pretrained.DESCRIPTION,
            ),
            settings.max_model_bytes,
        )
    return f"{pretrained.MODEL_NAME} (registered)"


def seed_demo(settings: Settings, db: Database, storage: Storage, *, model: bool) -> DemoSeed:
    """The demo dataset, a credential of the demo project and (``model``) the demo model."""
    from labelpilot.auth.service import create_credential
    from labelpilot.auth.tables import Credential

    project = settings.default_project_id
    with db.transaction() as session:
        ds, created = create_demo_dataset(session, storage, project)
        cred = session.scalar(select(Credential).where(Credential.project_id == project).limit(1))
        info: dict[str, str] = (
            {
                "project_id": cred.project_id,
                "access_key": cred.access_key,
                "secret_key": cred.secret_key,
                "token": cred.token,
            }
            if cred
            else create_credential(session, project).as_dict()
        )
        ds_id = ds.id
    model_state = ensure_demo_model(settings, db, storage, project) if model else None
    return DemoSeed(project, ds_id, created, info, model_state)
