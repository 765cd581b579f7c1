"""Local-directory storage."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse


def path_from_url(url: str) -> Path:
    """A local path from a ``file://`` URL or a plain path."""
    if url.startswith("file://"):
        return Path(unquote(urlparse(url).path))
    return Path(url)


class LocalStorage:
    """Files under a local root directory; writes are atomic (temp file + rename)."""

    def __init__(self, root_url: str) -> None:
        self.root = path_from_url(root_url).resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self.root_url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        key = key.lstrip("/")
        p = (self.root / key).resolve()
        if p != self.root and self.root not in p.parents:
            raise ValueError(f"storage key escapes the root: {key!r}")
        return p

    def put(self, key: str, data: bytes) -> str:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        try:  # a new key: nothing refers to it before this write returns, so write it in place
            f = p.open("xb")
        except FileExistsError:
            pass  # replacing a file others may read: a temp file, renamed over it
        else:
            try:
                with f:
                    f.write(data)
            except BaseException:
                p.unlink(missing_ok=True)  # a partial new file; the key is still unreferenced
                raise
            return p.as_uri()
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p.as_uri()

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def delete_prefix(self, prefix: str) -> None:
        p = self._path(prefix)
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        elif p.is_file():
            p.unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return
        for p in sorted(base.rglob("*")):
            if p.is_file() and not p.name.startswith(".tmp-"):
                yield p.relative_to(self.root).as_posix()

    def url(self, key: str) -> str:
        return self._path(key).as_uri()

    def key_of(self, url: str) -> str | None:
        p = path_from_url(url).resolve()
        if self.root in p.parents:
            return p.relative_to(self.root).as_posix()
        return None
