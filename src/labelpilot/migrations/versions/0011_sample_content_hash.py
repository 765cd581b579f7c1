"""sample content hash

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 19:45:00.000000

Import tasks skip a file whose bytes a sample of the dataset already holds: ``content_hash`` is
the SHA-256 of a sample's bytes, indexed per dataset. Existing samples keep NULL until an import
into their dataset hashes them (``runners.importing``), so the migration reads no files.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


# Plain ALTER TABLE on both databases (SQLite 3.35+ drops columns in place): a batch rebuild
# of ``samples`` on SQLite would drop the old table and cascade to every sample's labels.


def upgrade() -> None:
    op.add_column("samples", sa.Column("content_hash", sa.String(64), nullable=True))
    op.create_index("ix_samples_content_hash", "samples", ["dataset_id", "content_hash"])


def downgrade() -> None:
    op.drop_index("ix_samples_content_hash", table_name="samples")
    op.drop_column("samples", "content_hash")
