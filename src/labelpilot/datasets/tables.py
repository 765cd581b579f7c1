"""Dataset, label and sample tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from labelpilot.db import Base

# Sample states as stored; the API also accepts the ``__X__`` names as filters.
STATE_NONE = "__NONE__"
STATE_ALL = "__ALL__"
STATE_AUTO = "__AUTO_ANNOTATION__"


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_dataset_project_name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(256), default="")
    dataset_type: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[int] = mapped_column(Integer, default=1)
    work_path: Mapped[str] = mapped_column(String(1024), default="")
    work_path_type: Mapped[int] = mapped_column(Integer, default=0)
    data_sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    workspace_id: Mapped[str] = mapped_column(String(64), default="0")
    create_time: Mapped[int] = mapped_column(BigInteger)
    update_time: Mapped[int] = mapped_column(BigInteger)

    labels: Mapped[list[Label]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="Label.id"
    )


class Label(Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("dataset_id", "name", name="uq_label_dataset_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(256))
    type: Mapped[int] = mapped_column(Integer, default=0)
    property: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attributes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    dataset: Mapped[Dataset] = relationship(back_populates="labels")


class Sample(Base):
    __tablename__ = "samples"
    __table_args__ = (
        UniqueConstraint("dataset_id", "name", name="uq_sample_dataset_name"),
        Index("ix_samples_dataset_state", "dataset_id", "state"),
        Index("ix_samples_list_order", "dataset_id", "sample_time", "id"),  # ListSamples' order
        Index("ix_samples_content_hash", "dataset_id", "content_hash"),  # imports skip duplicates
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(
        ForeignKey("datasets.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(1024))
    sample_type: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    sample_time: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(32), default=STATE_NONE)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    sample_usage: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # SHA-256 of the file's bytes (hex); NULL for samples stored before migration 0011 until an
    # import of the dataset hashes them
    content_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    labels: Mapped[list[SampleLabel]] = relationship(
        back_populates="sample",
        cascade="all, delete-orphan",
        order_by="SampleLabel.position",
        lazy="selectin",
    )


class SampleLabel(Base):
    """One label on one sample; ``score`` is set by auto labeling."""

    __tablename__ = "sample_labels"
    # sample_id: the label statistics count distinct samples per name from the index alone
    __table_args__ = (Index("ix_sample_labels_name", "dataset_id", "name", "sample_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sample_id: Mapped[str] = mapped_column(ForeignKey("samples.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer, default=0)
    label_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    name: Mapped[str] = mapped_column(String(256))
    type: Mapped[int] = mapped_column(Integer, default=0)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    # "modelarts/active-learning" is 25 characters (manifest spec §8.1): 256 since migration
    # 0012. SQLite keeps the width of its first schema: it enforces none, and widening a column
    # there means rebuilding the table, whose drop would cascade to nothing but risk.
    annotated_by: Mapped[str | None] = mapped_column(
        String(256).with_variant(String(16), "sqlite"), nullable=True
    )
    property: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    sample: Mapped[Sample] = relationship(back_populates="labels")


class DatasetVersion(Base):
    """A published version: a frozen manifest in storage, its counts and the options it was
    published with (``status`` 0 creating, 1 normal, 4 failed; DATA_MANAGEMENT §4.5)."""

    __tablename__ = "dataset_versions"
    __table_args__ = (
        UniqueConstraint("dataset_id", "version_name", name="uq_dataset_version_name"),
        Index("ix_dataset_versions_list_order", "dataset_id", "create_time", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    version_name: Mapped[str] = mapped_column(String(32))
    version_format: Mapped[str] = mapped_column(String(16), default="Default")
    description: Mapped[str] = mapped_column(String(256), default="")
    status: Mapped[int] = mapped_column(Integer, default=0)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False)
    previous_version_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    train_evaluate_sample_ratio: Mapped[str] = mapped_column(String(16), default="1.00")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total_sample_count: Mapped[int] = mapped_column(Integer, default=0)
    annotated_sample_count: Mapped[int] = mapped_column(Integer, default=0)
    label_stats: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    storage_prefix: Mapped[str] = mapped_column(Text, default="")
    code: Mapped[str | None] = mapped_column(String(32), nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    create_time: Mapped[int] = mapped_column(BigInteger)
    update_time: Mapped[int] = mapped_column(BigInteger)
