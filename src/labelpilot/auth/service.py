"""Creating and looking up credentials."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from labelpilot.auth.tables import Credential, SignatureUse
from labelpilot.errors import BadRequest, RequestReplayed
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


def use_signature(session: Session, signature: str, expires_at: datetime) -> None:
    """Record a signed write's signature, or raise ``RequestReplayed`` if it was used already.

    ``expires_at`` (naive UTC) is when its ``X-Sdk-Date`` leaves the clock window: after that the
    date check refuses the request anyway, so expired rows are pruned here.
    """
    now = utcnow()
    session.execute(delete(SignatureUse).where(SignatureUse.expires_at < now))
    if session.get(SignatureUse, signature) is not None:
        raise RequestReplayed("This signed request was already accepted: sign it again to repeat")
    session.add(SignatureUse(signature=signature, expires_at=expires_at))
    try:
        session.flush()
    except IntegrityError:  # an identical request committed first
        raise RequestReplayed(
            "This signed request was already accepted: sign it again to repeat"
        ) from None
