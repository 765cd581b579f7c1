"""Credentials: an AK/SK pair and a token, bound to one project."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from labelpilot.db import Base


class Credential(Base):
    __tablename__ = "credentials"

    access_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    secret_key: Mapped[str] = mapped_column(String(128))
    token: Mapped[str] = mapped_column(String(128), unique=True, index=True)
    project_id: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class SignatureUse(Base):
    """A signed write already accepted; kept until its ``X-Sdk-Date`` leaves the clock window."""

    __tablename__ = "signature_uses"

    signature: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
