"""signature uses: the replay cache of signed writes

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:45:00.000000

An AK/SK-signed write is accepted once inside its ±15 minute window: its signature is kept in
``signature_uses`` until its ``X-Sdk-Date`` leaves the window (pruned on each signed write), so
every API process sharing the database refuses the replay.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signature_uses",
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("signature", name=op.f("pk_signature_uses")),
    )
    op.create_index(
        op.f("ix_signature_uses_expires_at"), "signature_uses", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_signature_uses_expires_at"), table_name="signature_uses")
    op.drop_table("signature_uses")
