"""What server-side imports may read, and how much of it (docs/security.md, "Imports")."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from labelpilot.config import DEFAULT_MAX_IMAGE_PIXELS, Settings
from labelpilot.errors import BadRequest, NotAvailable, PathNotAllowed, SampleTooLarge
from labelpilot.storage.local import path_from_url

MAX_SAMPLE_BYTES = 12_582_912
# never readable, whatever the roots say: the kernel's and the system's files
SYSTEM_DIRS = tuple(Path(p) for p in ("/proc", "/sys", "/dev", "/etc"))
_CHUNK = 1 << 20


def _inside(path: Path, root: Path) -> bool:
    """Whether resolved ``path`` is ``root`` or below it (string prefixes: ``Path.parents``
    builds every parent, a cost an import pays per file and root)."""
    p, r = str(path), str(root)
    return p == r or p.startswith(r if r.endswith(os.sep) else r + os.sep)


@dataclass(frozen=True)
class ImportPolicy:
    """Server paths imports may read: under one of ``roots`` (none when empty), never inside
    ``protected`` (LabelPilot's own files, system directories); samples at most ``max_bytes``
    bytes and, for images, ``max_image_pixels`` pixels."""

    roots: tuple[Path, ...]
    protected: tuple[Path, ...]
    max_bytes: int = MAX_SAMPLE_BYTES
    max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportPolicy:
        roots = tuple(Path(r).expanduser().resolve() for r in settings.import_roots or ())
        own = [settings.data_dir, settings.resolved_model_dir]
        db = settings.resolved_database_url
        if db.startswith("sqlite:///"):
            own.append(Path(db.removeprefix("sqlite:///")))
        if "://" not in settings.resolved_storage_root.removeprefix("file://"):
            own.append(path_from_url(settings.resolved_storage_root))
        protected = tuple(p.resolve() for p in own) + tuple(p.resolve() for p in SYSTEM_DIRS)
        return cls(roots, protected, max_image_pixels=settings.max_image_pixels)

    def _refuse(self, field: str, shown: str, why: str) -> PathNotAllowed:
        return PathNotAllowed(
            f"{field} '{shown}' {why}: server-side imports read only files under "
            "LABELPILOT_IMPORT_ROOTS, never LabelPilot's own files or /proc, /sys, /dev, /etc"
        )

    def allowed(self, resolved: Path) -> bool:
        """Whether a resolved path (symlinks followed) may be read."""
        if any(_inside(resolved, p) for p in self.protected):
            return False
        return any(_inside(resolved, r) for r in self.roots)

    def check(self, path_or_url: str, field: str) -> Path:
        """The resolved path of an allowed server path; 403 naming the policy otherwise."""
        if "://" in path_or_url and not path_or_url.startswith("file://"):
            raise NotAvailable(
                f"{field} '{path_or_url}': importing from object storage URLs is not available "
                "yet; import a server-side directory or add samples through the API"
            )
        if "\0" in path_or_url:
            raise BadRequest(f"{field} must not contain a NUL character")
        if not self.roots:
            raise self._refuse(field, path_or_url, "is refused (no import roots are set)")
        try:
            p = path_from_url(path_or_url).expanduser().resolve()
            p.is_dir()  # probes the name: one too long for the file system raises here, not later
        except (OSError, ValueError) as exc:
            why = getattr(exc, "strerror", None) or str(exc)
            raise BadRequest(f"{field} '{path_or_url[:200]}' is not a usable path: {why}") from exc
        if not self.allowed(p):
            raise self._refuse(field, path_or_url, "is not in an allowed import location")
        return p

    def check_member(self, file: Path, shown: str, field: str) -> Path:
        """A file found below a checked directory, resolved and checked on its own (a symlink
        inside an allowed directory may point anywhere)."""
        p = file.resolve()
        if not self.allowed(p):
            raise self._refuse(field, shown, "resolves outside the allowed import locations")
        return p

    def read(self, path: Path, shown: str, field: str) -> bytes:
        """The bytes of an allowed, resolved regular file: its size is checked with ``stat``
        first and the read stops at the limit (a file growing meanwhile cannot make it more)."""
        too_large = SampleTooLarge(f"{field} '{shown}' is larger than {self.max_bytes} bytes")
        if not path.is_file():  # before open: opening a FIFO would block
            raise BadRequest(f"{field} '{shown}' is not a readable file")
        if path.stat().st_size > self.max_bytes:
            raise too_large
        chunks: list[bytes] = []
        total = 0
        try:
            with path.open("rb") as f:
                if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                    raise BadRequest(f"{field} '{shown}' is not a readable file")
                while chunk := f.read(min(_CHUNK, self.max_bytes + 1 - total)):
                    chunks.append(chunk)
                    total += len(chunk)
                    if total > self.max_bytes:
                        raise too_large
        except OSError as exc:
            raise BadRequest(f"{field} '{shown}' is not a readable file") from exc
        return b"".join(chunks)

    def read_file(self, path_or_url: str, field: str) -> bytes:
        """The bytes of one allowed file (``data_source.data_path``)."""
        return self.read(self.check(path_or_url, field), path_or_url, field)
