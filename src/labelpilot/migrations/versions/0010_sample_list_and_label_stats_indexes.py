"""sample list and label statistics indexes

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02 00:35:00.000000

ListSamples orders a dataset's samples by ``sample_time, id``: ``ix_samples_list_order`` walks
them in that order instead of sorting every sample of the dataset for each page. The label
statistics count the distinct samples per label name: ``ix_sample_labels_name`` gains
``sample_id`` so that they read the index alone (renames and deletions match its prefix).
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_samples_list_order", "samples", ["dataset_id", "sample_time", "id"])
    op.drop_index("ix_sample_labels_name", table_name="sample_labels")
    op.create_index("ix_sample_labels_name", "sample_labels", ["dataset_id", "name", "sample_id"])


def downgrade() -> None:
    op.drop_index("ix_sample_labels_name", table_name="sample_labels")
    op.create_index("ix_sample_labels_name", "sample_labels", ["dataset_id", "name"])
    op.drop_index("ix_samples_list_order", table_name="samples")
