"""Typed settings. Environment variables use the prefix ``LABELPILOT_``.

``Settings`` configures the server, its workers and its online services; ``ClientSettings``
says where the CLI's client commands send requests; ``export_service_process`` and
``ServiceProcessSettings`` hand one online service's process its service. This is the only
module that reads or writes ``os.environ`` (mostly through pydantic-settings).
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# 8000 x 5000: cameras' photos fit; one decoded RGB copy stays within 120 MB
DEFAULT_MAX_IMAGE_PIXELS = 40_000_000


class Settings(BaseSettings):
    """LabelPilot settings; every field can be set as ``LABELPILOT_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="LABELPILOT_", extra="ignore")

    data_dir: Path = Field(default=Path("./labelpilot-data"), description="Root of local state")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default sqlite file under data_dir"
    )
    storage_root: str | None = Field(
        default=None,
        description="Storage URL for sample files: a local path, file:// or s3://bucket/prefix; "
        "default <data_dir>/storage",
    )
    s3_endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (MinIO, Ceph, ...); unset: AWS"
    )
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_region: str | None = None
    model_dir: Path | None = Field(
        default=None, description="Converted model files (ONNX); default <data_dir>/models"
    )
    host: str = "127.0.0.1"
    port: int = 8080
    auth_mode: Literal["required", "none"] = Field(
        default="required", description="'none' = explicit single-user mode without auth"
    )
    default_project_id: str = Field(
        default="labelpilot", description="Project used by single-user mode and the demo"
    )
    workers: int = Field(default=1, ge=0, description="Local worker processes started by serve")
    lease_seconds: float = Field(default=30.0, gt=0, description="Worker lease on a task")
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    poll_seconds: float = Field(default=0.5, gt=0, description="Worker idle poll interval")
    max_attempts: int = Field(
        default=2, ge=1, description="Runs of a task before a lost worker fails it"
    )
    signature_skew_seconds: int = 15 * 60
    auto_deploy_type: int = Field(default=8, description="RunningTask.type integer of auto-deploy")
    runner_plugins: dict[str, str] = Field(
        default_factory=dict,
        description="task_type -> 'module:Class' runner overrides (plugins, tests)",
    )
    max_body_bytes: int = Field(default=12 * 1024 * 1024, description="Request body limit (413)")
    max_model_bytes: int = Field(
        default=200 * 1024 * 1024, description="Largest ONNX model file the registry accepts"
    )
    # online services (auto-deploy): supervised HTTP inference servers
    service_host: str = Field(default="127.0.0.1", description="Address services listen on")
    service_threads: int = Field(
        default=1, ge=1, le=64, description="ONNX Runtime threads per service instance"
    )
    service_max_instances: int = Field(
        default=4, ge=1, description="Largest instance_count (worker processes) of a service"
    )
    service_start_timeout: float = Field(
        default=180.0, gt=0, description="Seconds a service may take to answer /health"
    )
    service_start_attempts: int = Field(
        default=3, ge=1, description="Failed starts in a row before a service is marked failed"
    )
    supervisor_lease_seconds: float = Field(
        default=15.0,
        gt=0,
        description="Lease of the one server that supervises the services of a database",
    )
    supervisor_interval: float = Field(
        default=1.0, gt=0, description="Seconds between the service supervisor's checks"
    )

    import_roots: list[Path] | None = Field(
        default=None,
        description="Directories server-side imports (data_sources, data_source) may read; "
        "unset: none, server paths are refused (docs/security.md). The data directory, the "
        "database, storage, models and /proc, /sys, /dev, /etc are refused even inside a root",
    )
    max_image_pixels: int = Field(
        default=DEFAULT_MAX_IMAGE_PIXELS,
        ge=1,
        description="Largest width x height of an image LabelPilot decodes (uploads, thumbnails, "
        "tasks, /predict); checked from the image header before decoding",
    )
    max_unreadable_fraction: float = Field(
        default=0.1,
        ge=0,
        le=1,
        description="A task skips samples it cannot read or decode (listed in its result) and "
        "fails with ModelArts.4428 when more than this fraction of its samples is unreadable",
    )

    def child_env(self) -> dict[str, str]:
        """The environment for a child process that must see these settings."""
        env = dict(os.environ)
        env.update(
            LABELPILOT_DATA_DIR=str(self.data_dir.resolve()),
            LABELPILOT_DATABASE_URL=self.resolved_database_url,
            LABELPILOT_STORAGE_ROOT=self.resolved_storage_root,
            LABELPILOT_MODEL_DIR=str(self.resolved_model_dir),
            LABELPILOT_LEASE_SECONDS=str(self.lease_seconds),
            LABELPILOT_HEARTBEAT_SECONDS=str(self.heartbeat_seconds),
            LABELPILOT_POLL_SECONDS=str(self.poll_seconds),
            LABELPILOT_MAX_ATTEMPTS=str(self.max_attempts),
            LABELPILOT_RUNNER_PLUGINS=json.dumps(self.runner_plugins),
            LABELPILOT_MAX_IMAGE_PIXELS=str(self.max_image_pixels),
            LABELPILOT_MAX_UNREADABLE_FRACTION=str(self.max_unreadable_fraction),
        )
        if self.import_roots is not None:  # a worker reads the files an import task names
            env["LABELPILOT_IMPORT_ROOTS"] = json.dumps([str(r) for r in self.import_roots])
        for name in ("s3_endpoint_url", "s3_access_key", "s3_secret_key", "s3_region"):
            value = getattr(self, name)
            if value is not None:
                env[f"LABELPILOT_{name.upper()}"] = value
        return env

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'labelpilot.db').resolve()}"

    @property
    def resolved_model_dir(self) -> Path:
        return (self.model_dir or self.data_dir / "models").resolve()

    @property
    def resolved_storage_root(self) -> str:
        if self.storage_root:
            return self.storage_root
        return (self.data_dir / "storage").resolve().as_uri()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


class ClientSettings(BaseSettings):
    """Where the CLI's client commands send requests, and with which credential.

    Read anew by every command (``ClientSettings()``), never cached.
    """

    model_config = SettingsConfigDict(env_prefix="LABELPILOT_", extra="ignore")

    url: str | None = Field(
        default=None, description="Server URL for CLI client commands; default the local server"
    )
    project_id: str | None = Field(
        default=None, description="Project of CLI client commands; default default_project_id"
    )
    access_key: str | None = None
    secret_key: str | None = None
    token: str | None = None

    def server_url(self, settings: Settings) -> str:
        """``url``, else the address ``settings`` would serve on."""
        return self.url or f"http://{settings.host}:{settings.port}"

    def project(self, settings: Settings) -> str:
        return self.project_id or settings.default_project_id


_SERVICE_ID = "LABELPILOT_SERVICE_ID"


class ServiceProcessSettings(BaseSettings):
    """The online service a ``serving.server`` process serves (see ``export_service_process``)."""

    model_config = SettingsConfigDict(env_prefix="LABELPILOT_", extra="ignore")

    service_id: str


def export_service_process(service_id: str, threads: int) -> None:
    """Name the service this process serves, for the app factory uvicorn imports by name.

    uvicorn builds the service's app from an import string, in this process or in its worker
    processes (which inherit the environment), so the service id travels as
    ``LABELPILOT_SERVICE_ID`` and the thread count as this process's ``service_threads``.
    """
    os.environ[_SERVICE_ID] = service_id
    os.environ["LABELPILOT_SERVICE_THREADS"] = str(threads)
