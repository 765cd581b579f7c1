"""Hostile images made without decoding them: a huge PNG of a few KB, a truncated PNG."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def huge_png(width: int = 13000, height: int = 13000) -> bytes:
    """A valid black greyscale PNG of ``width`` x ``height`` pixels, compressed row by row (the
    default is 169 megapixels in about 164 KB)."""
    comp = zlib.compressobj(9)
    row = bytes(width + 1)  # filter byte 0, then black pixels
    parts = [comp.compress(row) for _ in range(height)]
    parts.append(comp.flush())
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def png(size: int = 64, color: tuple[int, int, int] = (10, 200, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buf, "PNG")
    return buf.getvalue()


def truncated_png(size: int = 64) -> bytes:
    """A PNG whose header reads but whose pixel data stops half way."""
    buf = io.BytesIO()
    Image.effect_noise((size, size), 64).convert("RGB").save(buf, "PNG")
    data = buf.getvalue()
    return data[: len(data) // 2]
