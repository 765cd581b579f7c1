"""Online services: rows of the ``services`` table. The caller owns the transaction.

The API and the deploy runner only write what the user wants (``desired``: running | stopped);
the supervisor (``serving.supervisor``) writes what it observes (``status``, ``pid``, ``port``,
``restart_count``, ``failure_tip``). Statuses: ``deploying`` (starting, or restarting after a
crash), ``running`` (answers ``/health``), ``failed`` (could not start; ``failure_tip`` says why),
``stopped``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from labelpilot.errors import BadRequest, ServiceNotFound
from labelpilot.ids import now_ms, uuid_str
from labelpilot.mlmodels.service import get_model
from labelpilot.mlmodels.tables import Model, Service

DESIRED = ("running", "stopped")
STATUSES = ("deploying", "running", "failed", "stopped")
PREDICT_PATH = "/predict"


def predict_url(host: str, port: int | None) -> str | None:
    """The URL of a service's predict endpoint (``None`` before its first start)."""
    return f"http://{host}:{port}{PREDICT_PATH}" if port else None


def access_address(row: Service) -> str | None:
    return predict_url(row.host, row.port)


def create_service(
    session: Session,
    project_id: str,
    model_id: str,
    *,
    service_name: str,
    host: str,
    instance_count: int = 1,
    max_instances: int = 4,
    description: str | None = None,
    dataset_id: str | None = None,
    task_id: str | None = None,
) -> Service:
    """A service that should run (the supervisor starts it); the model must be an ONNX model."""
    model = get_model(session, project_id, model_id)
    if model.model_type != "ONNX":
        raise BadRequest(
            f"model {model_id} is an {model.model_type} model: only ONNX can be served"
        )
    if not 1 <= instance_count <= max_instances:
        raise BadRequest(f"instance_count must be between 1 and {max_instances}")
    taken = session.scalar(
        select(Service.id).where(
            Service.project_id == project_id, Service.service_name == service_name
        )
    )
    if taken is not None:
        raise BadRequest(f"service_name '{service_name}' is already used by service {taken}")
    now = now_ms()
    row = Service(
        id=uuid_str(),
        project_id=project_id,
        service_name=service_name,
        model_id=model.id,
        description=description,
        desired="running",
        status="deploying",
        instance_count=instance_count,
        host=host,
        restart_count=0,
        dataset_id=dataset_id,
        task_id=task_id,
        create_at=now,
        update_at=now,
    )
    session.add(row)
    session.flush()
    return row


def get_service(session: Session, project_id: str, service_id: str) -> Service:
    row = session.get(Service, service_id)
    if row is None or row.project_id != project_id:
        raise ServiceNotFound(service_id)
    return row


def list_services(
    session: Session,
    project_id: str,
    *,
    service_name: str | None = None,
    status: str | None = None,
    model_id: str | None = None,
    offset: int = 0,
    limit: int = 10,
) -> tuple[int, list[Service]]:
    """``(total, page)`` newest first; ``offset`` is a page index, ``service_name`` fuzzy."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"status '{status}' is invalid: one of {', '.join(STATUSES)}")
    q = select(Service).where(Service.project_id == project_id)
    if service_name:
        q = q.where(
            func.lower(Service.service_name).contains(service_name.lower(), autoescape=True)
        )
    if status:
        q = q.where(Service.status == status)
    if model_id:
        q = q.where(Service.model_id == model_id)
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = session.scalars(
        q.order_by(Service.create_at.desc(), Service.id).offset(offset * limit).limit(limit)
    ).all()
    return int(total), list(rows)


def set_desired(session: Session, row: Service, desired: str) -> None:
    """Ask for a service to run or to stop; the supervisor acts within a second."""
    if desired not in DESIRED:
        raise BadRequest(f"status '{desired}' is invalid: running or stopped")
    row.desired = desired
    if desired == "running" and row.status in ("failed", "stopped"):
        row.status = "deploying"
        row.failure_tip = None
    row.update_at = now_ms()
    session.flush()


def service_http_models(session: Session, row: Service) -> list[Model]:
    """HTTP models registered for this service's endpoint (a deploy task registers one)."""
    url = access_address(row)
    if url is None:
        return []
    candidates = session.scalars(
        select(Model).where(Model.project_id == row.project_id, Model.model_type == "HTTP")
    ).all()
    return [m for m in candidates if (m.config or {}).get("req_uri") == url]


def delete_service(session: Session, row: Service) -> list[str]:
    """Delete a service and the HTTP models that point at it; the supervisor ends its process.

    Returns the ids of the HTTP models deleted.
    """
    models = service_http_models(session, row)
    for m in models:
        session.delete(m)
    session.delete(row)
    session.flush()
    return [m.id for m in models]


def move_http_models(session: Session, project_id: str, old_url: str, new_url: str) -> int:
    """Point HTTP models at a service's new address (after it had to change port)."""
    n = 0
    for m in session.scalars(
        select(Model).where(Model.project_id == project_id, Model.model_type == "HTTP")
    ).all():
        cfg: dict[str, Any] = dict(m.config or {})
        if cfg.get("req_uri") == old_url:
            cfg["req_uri"] = new_url
            m.config = cfg
            n += 1
    session.flush()
    return n
