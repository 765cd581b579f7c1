"""Thumbnails of image samples, made once and cached in storage."""

from __future__ import annotations

import io

from PIL import Image

from labelpilot.datasets.tables import Sample
from labelpilot.datasets.types import SampleType
from labelpilot.errors import BadRequest, ImageUnreadable, SampleNotFound
from labelpilot.mlmodels.imaging import DECODE_ERRORS, open_image
from labelpilot.storage import Storage
from labelpilot.storage.keys import thumbnail_key


def thumbnail(storage: Storage, sample: Sample, size: int, max_pixels: int) -> bytes:
    """A JPEG of at most ``size`` pixels a side, cached under the dataset's storage prefix.

    Images over ``max_pixels`` answer 413 and images that do not decode 400, before anything
    is decoded or cached.
    """
    if sample.sample_type != SampleType.IMAGE:
        raise BadRequest(f"sample {sample.id} is not an image; thumbnails exist for images only")
    key = thumbnail_key(sample.dataset_id, sample.id, size)
    if storage.exists(key):
        return storage.get(key)
    src = storage.key_of(sample.source)
    if src is None or not storage.exists(src):
        raise SampleNotFound(sample.id)
    with open_image(storage.get(src), max_pixels) as opened:
        try:
            data = _jpeg(opened, size)
        except DECODE_ERRORS as exc:  # e.g. a truncated file stored by an older version
            raise ImageUnreadable(
                f"sample {sample.id}: image does not decode: {type(exc).__name__}"
            ) from exc
    storage.put(key, data)
    return data


def _jpeg(opened: Image.Image, size: int) -> bytes:
    im = opened
    im.thumbnail((size, size))  # JPEGs decode at a reduced scale (draft mode)
    if im.mode != "RGB":
        rgba = im.convert("RGBA")
        im = Image.new("RGB", rgba.size, (255, 255, 255))
        im.paste(rgba, mask=rgba.getchannel("A"))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()
