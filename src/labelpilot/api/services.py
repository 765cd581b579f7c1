"""Online service routes: a subset of ModelArts ``/v1/{project_id}/services``.

List, show (with ``status`` and ``access_address``), create from a registered ONNX model, start or
stop (``PUT`` with ``{"status": "running" | "stopped"}``) and delete. The supervisor in the
LabelPilot server process does the starting and stopping within about a second.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from labelpilot.api.deps import ProjectId, ReadSession, Svc, WriteSession
from labelpilot.api.openapi import errors
from labelpilot.api.retry import RetryingRoute
from labelpilot.api.untrusted import INT32_MAX, CheckedBody, Int32
from labelpilot.errors import (
    BadRequest,
    ModelNotFound,
    ServiceNotFound,
)
from labelpilot.mlmodels.tables import Model, Service
from labelpilot.serving import service as services

router = APIRouter(tags=["services"], route_class=RetryingRoute)
BASE = "/v1/{project_id}/services"


class _In(CheckedBody):
    model_config = ConfigDict(extra="ignore", protected_namespaces=())


class _Out(BaseModel):
    model_config = ConfigDict(protected_namespaces=())


class ServiceConfig(_Out):
    model_id: str
    model_name: str | None = None
    model_version: str | None = None
    specification: str = "local"
    instance_count: int
    weight: int = 100


class ServiceConfigIn(_In):
    model_id: str = Field(min_length=1, max_length=64)
    specification: str | None = Field(default=None, description="accepted and ignored")
    instance_count: int = Field(default=1, ge=1, le=INT32_MAX, description="worker processes")
    weight: Int32 | None = Field(default=None, description="100 (one model per service)")


class CreateServiceRequest(_In):
    service_name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")
    description: str | None = Field(default=None, max_length=1000)
    infer_type: str = Field(default="real-time", description="only real-time")
    config: list[ServiceConfigIn] = Field(min_length=1, max_length=1)


class CreateServiceResponse(_Out):
    service_id: str
    service_name: str


class ServiceSummary(_Out):
    service_id: str
    service_name: str
    description: str | None = None
    project: str
    infer_type: str = "real-time"
    status: str = Field(description="deploying | running | failed | stopped")
    desired_status: str = Field(description="LabelPilot: what was asked, running | stopped")
    access_address: str | None = Field(default=None, description="POST predictions here")
    model_id: str
    model_name: str | None = None
    model_version: str | None = None
    instance_count: int
    restart_count: int = Field(description="LabelPilot: restarts after crashes")
    failure_tip: str | None = None
    publish_at: int
    update_time: int
    dataset_id: str | None = None
    task_id: str | None = None


class ServiceDetail(ServiceSummary):
    config: list[ServiceConfig]
    pid: int | None = Field(default=None, description="LabelPilot: main server process")


class ListServicesResponse(_Out):
    total_count: int
    count: int
    services: list[ServiceSummary]


class UpdateServiceRequest(_In):
    status: str | None = Field(default=None, description="running (start) or stopped (stop)")
    description: str | None = Field(default=None, max_length=1000)


class DeleteServiceResponse(_Out):
    service_id: str
    deleted_model_ids: list[str] = Field(description="HTTP models registered for the service")


def _summary(row: Service, model: Model | None) -> ServiceSummary:
    return ServiceSummary(
        service_id=row.id,
        service_name=row.service_name,
        description=row.description,
        project=row.project_id,
        status=row.status,
        desired_status=row.desired,
        access_address=services.access_address(row),
        model_id=row.model_id,
        model_name=model.model_name if model else None,
        model_version=model.model_version if model else None,
        instance_count=row.instance_count,
        restart_count=row.restart_count,
        failure_tip=row.failure_tip,
        publish_at=row.create_at,
        update_time=row.update_at,
        dataset_id=row.dataset_id,
        task_id=row.task_id,
    )


def _detail(row: Service, model: Model | None) -> ServiceDetail:
    return ServiceDetail(
        **_summary(row, model).model_dump(),
        config=[
            ServiceConfig(
                model_id=row.model_id,
                model_name=model.model_name if model else None,
                model_version=model.model_version if model else None,
                instance_count=row.instance_count,
            )
        ],
        pid=row.pid,
    )


def _wake(request: Request) -> None:
    """Let the supervisor look soon (it also looks every second on its own)."""
    supervisor = getattr(request.app.state, "supervisor", None)
    if supervisor is not None:
        supervisor.wake()


@router.post(BASE, response_model=CreateServiceResponse, responses=errors(ModelNotFound))
def create_service(
    project_id: ProjectId,
    body: CreateServiceRequest,
    session: WriteSession,
    svc: Svc,
    request: Request,
) -> CreateServiceResponse:
    """Deploy a registered ONNX model as a real-time service (started by the supervisor)."""
    if body.infer_type != "real-time":
        raise BadRequest(f"infer_type '{body.infer_type}' is not supported: real-time only")
    cfg = body.config[0]
    if cfg.weight not in (None, 100):
        raise BadRequest("config[0].weight must be 100 (one model per service)")
    row = services.create_service(
        session,
        project_id,
        cfg.model_id,
        service_name=body.service_name,
        host=svc.settings.service_host,
        instance_count=cfg.instance_count,
        max_instances=svc.settings.service_max_instances,
        description=body.description,
    )
    _wake(request)
    return CreateServiceResponse(service_id=row.id, service_name=row.service_name)


@router.get(BASE, response_model=ListServicesResponse)
def list_services(
    project_id: ProjectId,
    session: ReadSession,
    service_name: Annotated[str | None, Query(max_length=64)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    model_id: Annotated[str | None, Query(max_length=64)] = None,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> ListServicesResponse:
    """Services newest first; ``offset`` is a page index; ``service_name`` a fuzzy filter."""
    total, rows = services.list_services(
        session,
        project_id,
        service_name=service_name,
        status=status,
        model_id=model_id,
        offset=offset,
        limit=limit,
    )
    ids = {r.model_id for r in rows}
    models = {m.id: m for m in session.scalars(select(Model).where(Model.id.in_(ids)))}
    return ListServicesResponse(
        total_count=total,
        count=len(rows),
        services=[_summary(r, models.get(r.model_id)) for r in rows],
    )


@router.get(
    BASE + "/{service_id}",
    response_model=ServiceDetail,
    response_model_exclude_none=True,
    responses=errors(ServiceNotFound),
)
def show_service(project_id: ProjectId, service_id: str, session: ReadSession) -> ServiceDetail:
    row = services.get_service(session, project_id, service_id)
    return _detail(row, session.get(Model, row.model_id))


@router.put(
    BASE + "/{service_id}",
    response_model=ServiceDetail,
    response_model_exclude_none=True,
    responses=errors(ServiceNotFound),
)
def update_service(
    project_id: ProjectId,
    service_id: str,
    body: UpdateServiceRequest,
    session: WriteSession,
    request: Request,
) -> ServiceDetail:
    """Start (``status: running``) or stop (``status: stopped``) a service, or describe it."""
    row = services.get_service(session, project_id, service_id)
    if body.status is None and body.description is None:
        raise BadRequest("send status (running | stopped) or description")
    if body.description is not None:
        row.description = body.description
    if body.status is not None:
        services.set_desired(session, row, body.status)
    _wake(request)
    return _detail(row, session.get(Model, row.model_id))


@router.delete(
    BASE + "/{service_id}", response_model=DeleteServiceResponse, responses=errors(ServiceNotFound)
)
def delete_service(
    project_id: ProjectId, service_id: str, session: WriteSession, request: Request
) -> DeleteServiceResponse:
    """Delete a service (its process ends) and the HTTP models registered for it."""
    row = services.get_service(session, project_id, service_id)
    deleted = services.delete_service(session, row)
    _wake(request)
    return DeleteServiceResponse(service_id=service_id, deleted_model_ids=deleted)
