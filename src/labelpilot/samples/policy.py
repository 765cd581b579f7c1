"""Where server-side imports may read files from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labelpilot.config import Settings
from labelpilot.errors import BadRequest, NotAvailable, PathNotAllowed
from labelpilot.storage.local import path_from_url


@dataclass(frozen=True)
class ImportPolicy:
    """Where server-side ``data_path`` imports may read: under ``roots`` (None: anywhere), never
    inside ``protected`` (the data directory: other datasets' files, the database)."""

    roots: tuple[Path, ...] | None
    protected: tuple[Path, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportPolicy:
        roots = None
        if settings.import_roots is not None:
            roots = tuple(Path(r).expanduser().resolve() for r in settings.import_roots)
        return cls(roots, (settings.data_dir.resolve(),))

    def check(self, path_or_url: str, field: str) -> Path:
        if "://" in path_or_url and not path_or_url.startswith("file://"):
            raise NotAvailable(
                f"{field} '{path_or_url}': importing from object storage URLs is not available "
                "yet; import a server-side directory or add samples through the API"
            )
        p = path_from_url(path_or_url).expanduser().resolve()

        def inside(root: Path) -> bool:
            return p == root or root in p.parents

        if any(inside(r) for r in self.protected) or (
            self.roots is not None and not any(inside(r) for r in self.roots)
        ):
            raise PathNotAllowed(f"{field} '{path_or_url}' is not in an allowed import location")
        return p

    def read_file(self, path_or_url: str, field: str) -> bytes:
        """The bytes of one allowed file."""
        p = self.check(path_or_url, field)
        if not p.is_file():
            raise BadRequest(f"{field} '{path_or_url}' is not a readable file")
        return p.read_bytes()
