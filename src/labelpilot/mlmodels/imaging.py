"""The decoding guard: an image's size is read from its header and checked before it is decoded.

Every place that decodes an image (uploads, thumbnails, task features, ``/predict``) goes
through :func:`open_image` with the ``max_image_pixels`` setting. It also sets Pillow's own
decompression-bomb guard (``Image.MAX_IMAGE_PIXELS``) to the same limit, so code decoding
without this module still meets Pillow's hard error at twice the limit.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from PIL import Image, UnidentifiedImageError

from labelpilot.errors import ImageTooLarge, ImageUnreadable

# what Pillow raises for unknown formats (UnidentifiedImageError is an OSError), truncated data
# and corrupt headers
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError)


def _too_large(width: int, height: int, max_pixels: int) -> ImageTooLarge:
    return ImageTooLarge(
        f"image of {width}x{height} pixels is over the limit of {max_pixels} pixels "
        "(LABELPILOT_MAX_IMAGE_PIXELS)"
    )


@contextmanager
def open_image(data: bytes, max_pixels: int) -> Iterator[Image.Image]:
    """The opened (not yet decoded) image; 413 over ``max_pixels``, 400 if unreadable."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        im = Image.open(io.BytesIO(data))
    # Pillow warns over the limit (an exception where warnings are errors, as in the tests) and
    # raises at twice it; otherwise the check below refuses what it warned about
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLarge(
            f"image is over the limit of {max_pixels} pixels (LABELPILOT_MAX_IMAGE_PIXELS): {exc}"
        ) from exc
    except (UnidentifiedImageError, *DECODE_ERRORS) as exc:
        raise ImageUnreadable(f"image is not readable: {type(exc).__name__}") from exc
    with im:
        width, height = im.size
        if width * height > max_pixels:
            raise _too_large(width, height, max_pixels)
        yield im


def check_image(data: bytes, max_pixels: int) -> None:
    """Raise unless the header says an image of at most ``max_pixels`` (nothing is decoded)."""
    with open_image(data, max_pixels):
        pass


def decoded_size(data: bytes, max_pixels: int) -> list[int]:
    """``[width, height, depth]`` of an image that decodes completely (a truncated file fails);
    413 over ``max_pixels`` (checked before decoding), 400 if it does not decode."""
    with open_image(data, max_pixels) as im:
        try:
            im.load()
        except DECODE_ERRORS as exc:
            raise ImageUnreadable(f"image does not decode: {type(exc).__name__}: {exc}") from exc
        return [im.width, im.height, len(im.getbands())]
