"""The storage interface and the factory that picks an implementation by URL scheme."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from labelpilot.config import Settings


class Storage(Protocol):
    """A flat key space of bytes under one root URL.

    Keys are ``/``-separated relative paths (``datasets/<id>/data/1.jpg``).
    """

    root_url: str

    def put(self, key: str, data: bytes) -> str:
        """Store ``data`` at ``key``; return its storage URL."""
        ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Delete ``key``; a missing key is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> None: ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys below ``prefix``, sorted."""
        ...

    def url(self, key: str) -> str: ...

    def key_of(self, url: str) -> str | None:
        """The key of a URL inside this storage, or None if it lies elsewhere."""
        ...


def open_storage(root_url: str, settings: Settings | None = None) -> Storage:
    """Open the storage at ``root_url``: ``s3://bucket/prefix`` (S3-compatible, endpoint and
    keys from ``settings``, default the process settings), ``file://`` or a plain local path."""
    if root_url.startswith("s3://"):
        from labelpilot.config import get_settings
        from labelpilot.storage.s3 import S3Storage

        st = settings or get_settings()
        return S3Storage(
            root_url,
            endpoint_url=st.s3_endpoint_url,
            access_key=st.s3_access_key,
            secret_key=st.s3_secret_key,
            region=st.s3_region,
        )
    from labelpilot.storage.local import LocalStorage

    return LocalStorage(root_url)
