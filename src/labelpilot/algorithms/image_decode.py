"""Decoding of image bytes of any format Pillow reads into RGB images."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps

__all__ = ["load_image", "to_rgb"]

_WHITE = (255, 255, 255)


def load_image(data: bytes) -> Image.Image:
    """Decode image bytes into an RGB :class:`PIL.Image.Image`.

    Parameters
    ----------
    data : bytes
        Encoded image (PNG, JPEG, GIF, BMP, TIFF, WebP, ... anything Pillow decodes).

    Returns
    -------
    PIL.Image.Image
        Mode ``"RGB"``, fully loaded (the bytes may be discarded). Grey and palette images are
        expanded to three channels; any alpha channel (RGBA, LA, palette transparency) is
        composited on a white background; 16-bit grey is scaled to 8 bits; 32-bit integer and
        float images are min-max scaled to 0..255 when they exceed that range; EXIF orientation
        is applied; for animated or multi-page files the first frame is used.

    Raises
    ------
    ValueError
        If the bytes are empty or cannot be decoded as an image (including images so large that
        Pillow refuses them as decompression bombs).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError(f"load_image expects bytes, got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("cannot decode image: no bytes")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.seek(0)
            opened.load()
            img = ImageOps.exif_transpose(opened) or opened
            return to_rgb(img)
    except Image.DecompressionBombError as exc:
        raise ValueError(f"cannot decode image: {exc}") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
        # Pillow raises UnidentifiedImageError (an OSError) for unknown formats, OSError for
        # truncated data, and occasionally SyntaxError / ValueError / IndexError for corrupt
        # headers.
        raise ValueError(
            f"cannot decode image ({len(data)} bytes): {type(exc).__name__}: {exc}"
        ) from exc


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert a loaded image of any mode to RGB (alpha on white)."""
    mode = img.mode
    if mode == "RGB":
        return img.copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 257.0
        else:
            lo, hi = float(arr.min()), float(arr.max())
            if lo < 0.0 or hi > 255.0:
                arr = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        grey = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        if img.mode == "RGB":
            return img
        mode = "RGBA"
    if mode in ("L", "1") and "transparency" in img.info:
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, _WHITE + (255,))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
