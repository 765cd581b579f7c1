"""The storage interface and the factory that picks an implementation by URL scheme."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


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


def open_storage(root_url: str) -> Storage:
    """Open the storage at ``root_url`` (``file://`` or a plain local path)."""
    from labelpilot.storage.local import LocalStorage

    if root_url.startswith("s3://"):
        from labelpilot.errors import NotAvailable

        raise NotAvailable("S3-compatible storage is not available yet in this version")
    return LocalStorage(root_url)
