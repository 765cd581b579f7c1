"""dataset versions: published, frozen manifests of a dataset

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 00:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("dataset_id", sa.String(length=32), nullable=False),
        sa.Column("version_name", sa.String(length=32), nullable=False),
        sa.Column("version_format", sa.String(length=16), nullable=False),
        sa.Column("description", sa.String(length=256), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.Column("previous_version_id", sa.String(length=32), nullable=True),
        sa.Column("task_id", sa.String(length=32), nullable=True),
        sa.Column("train_evaluate_sample_ratio", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("total_sample_count", sa.Integer(), nullable=False),
        sa.Column("annotated_sample_count", sa.Integer(), nullable=False),
        sa.Column("label_stats", sa.JSON(), nullable=False),
        sa.Column("storage_prefix", sa.Text(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("create_time", sa.BigInteger(), nullable=False),
        sa.Column("update_time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["datasets.id"],
            name=op.f("fk_dataset_versions_dataset_id_datasets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_versions")),
        sa.UniqueConstraint("dataset_id", "version_name", name="uq_dataset_version_name"),
    )
    op.create_index(
        "ix_dataset_versions_list_order",
        "dataset_versions",
        ["dataset_id", "create_time", "id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_dataset_versions_list_order", table_name="dataset_versions")
    op.drop_table("dataset_versions")
