"""Registered models and the online services that serve them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from labelpilot.db import Base


class Model(Base):
    """One version of a model: an ONNX file in storage plus its config, or an HTTP endpoint."""

    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("project_id", "model_name", "model_version", name="uq_models_version"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    model_name: Mapped[str] = mapped_column(String(128))
    model_version: Mapped[str] = mapped_column(String(64))
    model_type: Mapped[str] = mapped_column(String(16))  # ONNX | HTTP
    task: Mapped[str] = mapped_column(String(32))  # image_classification | ...
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_location: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_size: Mapped[int] = mapped_column(BigInteger, default=0)
    model_status: Mapped[str] = mapped_column(String(16), default="published")
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # provenance when LabelPilot trained it (auto-deploy)
    dataset_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    create_at: Mapped[int] = mapped_column(BigInteger)  # ms since the epoch, as ModelArts


class Service(Base):
    """An online inference service: a supervised HTTP server process for one model."""

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    service_name: Mapped[str] = mapped_column(String(128))
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id"))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # what the user asked for (running | stopped) and what the supervisor observed
    desired: Mapped[str] = mapped_column(String(16), default="running")
    status: Mapped[str] = mapped_column(String(16), default="deploying")
    instance_count: Mapped[int] = mapped_column(Integer, default=1)
    host: Mapped[str] = mapped_column(String(64), default="127.0.0.1")
    port: Mapped[int | None] = mapped_column(Integer, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    restart_count: Mapped[int] = mapped_column(Integer, default=0)
    failure_tip: Mapped[str | None] = mapped_column(Text, nullable=True)
    dataset_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    create_at: Mapped[int] = mapped_column(BigInteger)
    update_at: Mapped[int] = mapped_column(BigInteger)


class SupervisorLease(Base):
    """Who supervises a database's services: one LabelPilot server at a time, by lease."""

    __tablename__ = "supervisor_leases"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[int] = mapped_column(BigInteger)  # ms since the epoch
