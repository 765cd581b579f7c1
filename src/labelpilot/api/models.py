"""Model registry routes: a subset of ModelArts ``/v1/{project_id}/models``."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from labelpilot.api.deps import ProjectId, ReadSession, Svc, WriteSession
from labelpilot.api.openapi import errors
from labelpilot.api.retry import RetryingRoute
from labelpilot.api.untrusted import CheckedBody
from labelpilot.errors import (
    BadRequest,
    InvalidModel,
    ModelNotFound,
    ModelTooLarge,
    PathNotAllowed,
)
from labelpilot.mlmodels import service as registry
from labelpilot.mlmodels.tables import Model

router = APIRouter(tags=["models"], route_class=RetryingRoute)
BASE = "/v1/{project_id}/models"


class _In(CheckedBody):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class _Out(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


class CreateModelRequest(_In):
    model_name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    model_version: str = Field(
        default="0.0.1", min_length=1, max_length=32, pattern=r"^[0-9A-Za-z_.\-]+$"
    )
    model_type: str = Field(description="ONNX (a file) or HTTP (an endpoint)")
    source_location: str | None = Field(
        default=None,
        description="ONNX: a server-side .onnx file or a directory holding one .onnx file and "
        "config.json (subject to the import locations)",
    )
    model_file: str | None = Field(
        default=None, description="ONNX: the file itself, base64 (LabelPilot extension)"
    )
    config: dict[str, Any] | None = Field(
        default=None,
        description="task, class_names, input and output contract (docs/models.md); "
        "default: config.json beside source_location",
    )
    description: str | None = Field(default=None, max_length=1000)


class CreateModelResponse(_Out):
    model_id: str


class ModelSummary(_Out):
    model_id: str
    model_name: str
    model_version: str
    model_type: str
    model_size: int
    model_status: str
    create_at: int
    description: str | None = None
    task: str


class ModelDetail(ModelSummary):
    project: str
    source_location: str | None = None
    config: dict[str, Any]
    model_metrics: str | None = Field(
        default=None, description="evaluation metrics (JSON text), for models LabelPilot trained"
    )
    dataset_id: str | None = None
    task_id: str | None = None


class ListModelsResponse(_Out):
    total_count: int
    count: int
    models: list[ModelSummary]


class DeleteModelResponse(_Out):
    delete_success_list: list[str]
    delete_failed_list: list[dict[str, str]]


def _summary(row: Model) -> ModelSummary:
    return ModelSummary(
        model_id=row.id,
        model_name=row.model_name,
        model_version=row.model_version,
        model_type=row.model_type,
        model_size=row.model_size,
        model_status=row.model_status,
        create_at=row.create_at,
        description=row.description,
        task=row.task,
    )


def _detail(row: Model) -> ModelDetail:
    return ModelDetail(
        **_summary(row).model_dump(),
        project=row.project_id,
        source_location=row.source_location,
        config=row.config,
        model_metrics=json.dumps(row.metrics) if row.metrics else None,
        dataset_id=row.dataset_id,
        task_id=row.task_id,
    )


@router.post(
    BASE,
    response_model=CreateModelResponse,
    responses=errors(InvalidModel, PathNotAllowed, ModelTooLarge),
)
def create_model(
    project_id: ProjectId, body: CreateModelRequest, session: WriteSession, svc: Svc
) -> CreateModelResponse:
    """Register a model version; the file is loaded and its inputs and outputs checked."""
    if body.model_type not in registry.MODEL_TYPES:
        raise BadRequest(f"model_type '{body.model_type}' is invalid: ONNX or HTTP")
    data: bytes | None = None
    file_config: dict[str, Any] | None = None
    if body.model_type == "ONNX":
        if bool(body.source_location) == bool(body.model_file):
            raise BadRequest("an ONNX model needs exactly one of source_location and model_file")
        if body.model_file:
            try:
                data = base64.b64decode(body.model_file, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise BadRequest("model_file must be base64") from exc
        else:
            assert body.source_location is not None
            path = svc.import_policy.check(body.source_location, "source_location")
            data, file_config = registry.read_model_source(path, svc.settings.max_model_bytes)
    raw = body.config if body.config is not None else file_config
    if raw is None:
        raise BadRequest("config is required (or a config.json beside source_location)")
    config = registry.parse_config(raw, "config")
    row = registry.register_model(
        session,
        svc.storage,
        registry.NewModel(
            project_id=project_id,
            model_name=body.model_name,
            model_version=body.model_version,
            model_type=body.model_type,
            config=config,
            model_bytes=data,
            description=body.description,
        ),
        svc.settings.max_model_bytes,
    )
    return CreateModelResponse(model_id=row.id)


@router.get(BASE, response_model=ListModelsResponse)
def list_models(
    project_id: ProjectId,
    session: ReadSession,
    model_name: Annotated[str | None, Query(max_length=64)] = None,
    model_version: Annotated[str | None, Query(max_length=32)] = None,
    model_type: Annotated[str | None, Query(max_length=16)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> ListModelsResponse:
    """Models newest first; ``offset`` is a page index; ``model_name`` a fuzzy filter."""
    total, rows = registry.list_models(
        session,
        project_id,
        model_name=model_name,
        model_version=model_version,
        model_type=model_type,
        offset=offset,
        limit=limit,
    )
    return ListModelsResponse(
        total_count=total, count=len(rows), models=[_summary(r) for r in rows]
    )


@router.get(
    BASE + "/{model_id}",
    response_model=ModelDetail,
    response_model_exclude_none=True,
    responses=errors(ModelNotFound),
)
def show_model(project_id: ProjectId, model_id: str, session: ReadSession) -> ModelDetail:
    return _detail(registry.get_model(session, project_id, model_id))


@router.delete(
    BASE + "/{model_id}", response_model=DeleteModelResponse, responses=errors(ModelNotFound)
)
def delete_model(
    project_id: ProjectId, model_id: str, session: WriteSession, svc: Svc
) -> DeleteModelResponse:
    """Delete a model version and its file (refused while a service uses it)."""
    registry.delete_model(session, svc.storage, project_id, model_id)
    return DeleteModelResponse(delete_success_list=[model_id], delete_failed_list=[])
