"""Creating and looking up credentials."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from labelpilot.auth.tables import Credential
from labelpilot.ids import utcnow


@dataclass(frozen=True)
class NewCredential:
    project_id: str
    access_key: str
    secret_key: str
    token: str

    def as_dict(self) -> dict[str, str]:
        return {
            "project_id": self.project_id,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "token": self.token,
        }


def create_credential(
    session: Session, project_id: str, token_hours: float | None = None
) -> NewCredential:
    """Create an AK/SK pair and a token for ``project_id`` (the token never expires if no hours)."""
    if not project_id or len(project_id) > 64:
        from labelpilot.errors import BadRequest

        raise BadRequest("project_id must be 1-64 characters")
    now = utcnow()
    cred = Credential(
        access_key=secrets.token_hex(10).upper(),
        secret_key=secrets.token_urlsafe(30),
        token=secrets.token_urlsafe(32),
        project_id=project_id,
        created_at=now,
        token_expires_at=now + timedelta(hours=token_hours) if token_hours else None,
    )
    session.add(cred)
    session.flush()
    return NewCredential(project_id, cred.access_key, cred.secret_key, cred.token)


def by_token(session: Session, token: str) -> Credential | None:
    return session.scalar(select(Credential).where(Credential.token == token))


def by_access_key(session: Session, access_key: str) -> Credential | None:
    return session.get(Credential, access_key)
