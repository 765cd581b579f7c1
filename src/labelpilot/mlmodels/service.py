"""The model registry: register (validated), list, get, delete, load. The caller commits."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelpilot.db import after_commit
from labelpilot.errors import BadRequest, InvalidModel, ModelNotFound, ModelTooLarge
from labelpilot.ids import now_ms, uuid_str
from labelpilot.mlmodels.predictor import InvalidModel as ModelUnusable
from labelpilot.mlmodels.predictor import Predictor, open_predictor
from labelpilot.mlmodels.spec import ModelConfig
from labelpilot.mlmodels.tables import Model, Service
from labelpilot.storage import Storage

MODEL_TYPES = ("ONNX", "HTTP")
MODEL_FILE = "model.onnx"
CONFIG_FILE = "config.json"


def parse_config(raw: Any, field: str = "model_config") -> ModelConfig:
    """Validate a model config; 400 naming the first bad field."""
    if not isinstance(raw, dict):
        raise BadRequest(f"{field} must be a JSON object")
    try:
        return ModelConfig.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise BadRequest(
            f"{field}.{loc}: {err['msg']}" if loc else f"{field}: {err['msg']}"
        ) from exc


def model_key(model_id: str, name: str = MODEL_FILE) -> str:
    return f"models/{model_id}/{name}"


def read_model_source(path: Path, max_bytes: int) -> tuple[bytes, dict[str, Any] | None]:
    """Model bytes (and config.json when present) from a file or a directory."""
    if path.is_dir():
        config_path = path / CONFIG_FILE
        config = json.loads(config_path.read_text()) if config_path.is_file() else None
        candidates = sorted(path.glob("*.onnx"))
        if len(candidates) != 1:
            raise BadRequest(
                f"source_location '{path}' must hold exactly one .onnx file "
                f"(found {len(candidates)})"
            )
        path = candidates[0]
    elif not path.is_file():
        raise BadRequest(f"source_location '{path}' is not a readable file or directory")
    else:
        config = None
    if path.suffix.lower() in (".pkl", ".pickle", ".pt", ".pth", ".joblib", ".h5", ".pb"):
        raise InvalidModel(
            f"'{path.name}': pickled or framework-specific model files are refused: export to ONNX"
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise ModelTooLarge(
            f"the model file is {size} bytes; the limit is {max_bytes} (max_model_bytes)"
        )
    return path.read_bytes(), config


def validate(
    model_type: str, config: ModelConfig, model_bytes: bytes | None, max_bytes: int
) -> None:
    """Load the model once and check its declared inputs and outputs (4934 when it fails)."""
    if model_type not in MODEL_TYPES:
        raise BadRequest(f"model_type '{model_type}' is invalid: ONNX or HTTP")
    if model_type == "HTTP":
        try:
            config.check_http()
        except ValueError as exc:
            raise BadRequest(f"model_config.{exc}") from exc
        return
    if not model_bytes:
        raise BadRequest("an ONNX model needs source_location or model_file")
    if len(model_bytes) > max_bytes:
        raise ModelTooLarge(f"the model file is {len(model_bytes)} bytes; the limit is {max_bytes}")
    try:
        predictor = open_predictor("ONNX", config, model_bytes, threads=1)
    except ModelUnusable as exc:
        raise InvalidModel(f"invalid model: {exc}") from exc
    predictor.close()


@dataclass
class NewModel:
    project_id: str
    model_name: str
    model_version: str
    model_type: str
    config: ModelConfig
    model_bytes: bytes | None = None
    description: str | None = None
    metrics: dict[str, Any] | None = None
    dataset_id: str | None = None
    task_id: str | None = None


def register_model(session: Session, storage: Storage, new: NewModel, max_bytes: int) -> Model:
    """Validate and store a model version; raises 400 on a duplicate name and version."""
    validate(new.model_type, new.config, new.model_bytes, max_bytes)
    dup = session.scalar(
        select(Model.id).where(
            Model.project_id == new.project_id,
            Model.model_name == new.model_name,
            Model.model_version == new.model_version,
        )
    )
    if dup is not None:
        raise BadRequest(
            f"model_version '{new.model_version}' of model_name '{new.model_name}' already exists"
        )
    model_id = uuid_str()
    config_json = new.config.model_dump(mode="json", exclude_none=True)
    location = None
    if new.model_bytes is not None and new.model_type == "ONNX":
        location = storage.put(model_key(model_id), new.model_bytes)
        storage.put(model_key(model_id, CONFIG_FILE), json.dumps(config_json, indent=1).encode())
    row = Model(
        id=model_id,
        project_id=new.project_id,
        model_name=new.model_name,
        model_version=new.model_version,
        model_type=new.model_type,
        task=new.config.task,
        config=config_json,
        source_location=location,
        model_size=len(new.model_bytes or b""),
        model_status="published",
        description=new.description,
        metrics=new.metrics,
        dataset_id=new.dataset_id,
        task_id=new.task_id,
        create_at=now_ms(),
    )
    session.add(row)
    session.flush()
    return row


def next_version(session: Session, project_id: str, model_name: str) -> str:
    """The next ``0.0.N`` version of ``model_name`` (ModelArts' default version form)."""
    versions = session.scalars(
        select(Model.model_version).where(
            Model.project_id == project_id, Model.model_name == model_name
        )
    ).all()
    highest = 0
    for v in versions:
        parts = v.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            highest = max(highest, int(parts[2]) + 100 * int(parts[1]) + 10000 * int(parts[0]))
    n = highest + 1
    return f"{n // 10000}.{(n // 100) % 100}.{n % 100}"


def get_model(session: Session, project_id: str, model_id: str) -> Model:
    row = session.get(Model, model_id)
    if row is None or row.project_id != project_id:
        raise ModelNotFound(model_id)
    return row


def list_models(
    session: Session,
    project_id: str,
    *,
    model_name: str | None = None,
    model_version: str | None = None,
    model_type: str | None = None,
    offset: int = 0,
    limit: int = 10,
) -> tuple[int, list[Model]]:
    """``(total, page)`` newest first; ``model_name`` is a case-insensitive substring."""
    q = select(Model).where(Model.project_id == project_id)
    if model_name:
        q = q.where(func.lower(Model.model_name).contains(model_name.lower(), autoescape=True))
    if model_version:
        q = q.where(Model.model_version == model_version)
    if model_type:
        q = q.where(Model.model_type == model_type)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(Model.create_at.desc(), Model.id).offset(offset * limit).limit(limit)
    ).all()
    return int(total), list(rows)


def delete_model(session: Session, storage: Storage, project_id: str, model_id: str) -> None:
    """Delete a model version; refused while a service still uses it."""
    row = get_model(session, project_id, model_id)
    used = session.scalar(select(Service.id).where(Service.model_id == model_id).limit(1))
    if used is not None:
        raise BadRequest(f"model {model_id} is used by service {used}: delete the service first")
    session.delete(row)
    session.flush()
    after_commit(session, lambda: storage.delete_prefix(f"models/{model_id}/"))


def load_predictor(storage: Storage, row: Model, threads: int = 0) -> Predictor:
    """A predictor for a registered model (reads the ONNX file from storage)."""
    config = ModelConfig.model_validate(row.config)
    data = storage.get(model_key(row.id)) if row.model_type == "ONNX" else None
    return open_predictor(row.model_type, config, data, threads)
