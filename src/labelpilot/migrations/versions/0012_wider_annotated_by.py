"""wider sample_labels.annotated_by

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 20:20:00.000000

``annotated_by`` was VARCHAR(16): PostgreSQL refused ``modelarts/active-learning`` (the manifest
spec's own example) and ``modelarts/pre-label`` with a 500. It is 256 on PostgreSQL; SQLite
enforces no width, so its schema stays as it is (see ``SampleLabel.annotated_by``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "sample_labels", "annotated_by", type_=sa.String(256), existing_nullable=True
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "sample_labels",
            "annotated_by",
            type_=sa.String(16),
            existing_nullable=True,
            postgresql_using="left(annotated_by, 16)",
        )
