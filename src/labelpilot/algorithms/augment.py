"""The eleven ModelArts image augmentations (reasons 19-29), implemented with Pillow.

:func:`augment_images` implements all eleven ModelArts augmentations with Pillow. The ones applied
by default (:data:`DEFAULT_AUGMENTATIONS`) keep the class of most images: 19 gaussianblur,
21 crop, 23 scale, 24 translate. 20 fliplr, 22 flipud and 29 invert change the meaning of digits,
characters and text-like images and are opt-in, as are the photometric 26-28. Text samples get no
augmentation (reasons 19-29 never fire for text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

__all__ = ["AUGMENTATIONS", "DEFAULT_AUGMENTATIONS", "augment_images", "augmented_probabilities"]

AUGMENTATIONS: dict[int, str] = {
    19: "gaussianblur",
    20: "fliplr",
    21: "crop",
    22: "flipud",
    23: "scale",
    24: "translate",
    25: "shear",
    26: "superpixels",
    27: "sharpen",
    28: "add",
    29: "invert",
}
"""Reason id -> augmentation name (API contract §3.6)."""

DEFAULT_AUGMENTATIONS: tuple[int, ...] = (19, 21, 23, 24)
"""Augmentations a caller applies by default: they keep the class of most images."""


def _fill_colour(img: Image.Image) -> tuple[int, ...]:
    """Median colour of the border pixels (used to fill areas uncovered by a geometric change)."""
    a = np.asarray(img.convert("RGB"))
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    return tuple(int(v) for v in np.median(border, axis=0))


def _affine(img: Image.Image, coeffs: tuple[float, ...]) -> Image.Image:
    return img.transform(
        img.size,
        Image.Transform.AFFINE,
        coeffs,
        resample=Image.Resampling.BILINEAR,
        fillcolor=_fill_colour(img),
    )


def _augment_one(img: Image.Image, reason_id: int) -> Image.Image:
    img = img.convert("RGB")
    w, h = img.size
    if reason_id == 19:  # gaussian blur, sigma 2 % of the longer side (at least 1 px)
        return img.filter(ImageFilter.GaussianBlur(radius=max(1.0, 0.02 * max(w, h))))
    if reason_id == 20:
        return ImageOps.mirror(img)
    if reason_id == 22:
        return ImageOps.flip(img)
    if reason_id == 21:  # central crop keeping 80 % of each side, resized back
        dx, dy = round(0.1 * w), round(0.1 * h)
        box = (dx, dy, max(dx + 1, w - dx), max(dy + 1, h - dy))
        return img.crop(box).resize((w, h), Image.Resampling.BILINEAR)
    if reason_id == 23:  # zoom out to 80 %, centred, border colour around
        sw, sh = max(1, round(0.8 * w)), max(1, round(0.8 * h))
        canvas = Image.new("RGB", (w, h), _fill_colour(img))
        canvas.paste(
            img.resize((sw, sh), Image.Resampling.BILINEAR), ((w - sw) // 2, (h - sh) // 2)
        )
        return canvas
    if reason_id == 24:  # shift right and down by 10 % of the size
        return _affine(img, (1.0, 0.0, -0.1 * w, 0.0, 1.0, -0.1 * h))
    if reason_id == 25:  # horizontal shear 0.2 about the centre
        sh_ = 0.2
        return _affine(img, (1.0, sh_, -sh_ * h / 2.0, 0.0, 1.0, 0.0))
    if reason_id == 26:  # superpixels approximated by 8 x 8 block means
        small = img.resize((max(1, w // 8), max(1, h // 8)), Image.Resampling.BOX)
        return small.resize((w, h), Image.Resampling.NEAREST)
    if reason_id == 27:
        return ImageEnhance.Sharpness(img).enhance(3.0)
    if reason_id == 28:  # add 40 to every channel
        return img.point(lambda v: min(255, v + 40))
    if reason_id == 29:
        return ImageOps.invert(img)
    raise ValueError(f"reason_id must be an augmentation id 19-29, got {reason_id}")


def augment_images(images: Sequence[Image.Image], reason_id: int) -> list[Image.Image]:
    """Apply the ModelArts augmentation ``reason_id`` to every image.

    Parameters
    ----------
    images : sequence of PIL.Image.Image, length n
    reason_id : int
        19 gaussianblur (sigma = 2 % of the longer side, >= 1 px), 20 fliplr, 21 crop (central
        80 % of each side, resized back), 22 flipud, 23 scale (zoom out to 80 %, border colour
        around), 24 translate (10 % right and down), 25 shear (0.2, horizontal), 26 superpixels
        (8 x 8 block means), 27 sharpen (Pillow sharpness x3), 28 add (+40 per channel),
        29 invert.

    Returns
    -------
    list of PIL.Image.Image, length n
        RGB images of the original sizes.
    """
    if reason_id not in AUGMENTATIONS:
        raise ValueError(f"reason_id must be an augmentation id 19-29, got {reason_id}")
    return [_augment_one(img, reason_id) for img in images]


def augmented_probabilities(
    images: Sequence[Image.Image],
    embed: Callable[[list[Image.Image]], np.ndarray],
    predict_proba: Callable[[np.ndarray], np.ndarray],
    reason_ids: Sequence[int] = DEFAULT_AUGMENTATIONS,
) -> dict[int, np.ndarray]:
    """Embed and classify augmented copies: ``augmented_proba`` of ``HardExampleMiner.score``.

    Parameters
    ----------
    images : sequence of PIL.Image.Image, length n
    embed : callable
        Images -> embeddings (n, d), e.g. ``ImageEmbedder(...).embed``.
    predict_proba : callable
        Embeddings -> probabilities (n, k), e.g. ``AutoLabeler.predict_proba``.
    reason_ids : sequence of int, default=DEFAULT_AUGMENTATIONS

    Returns
    -------
    dict of int to ndarray of shape (n, k)
    """
    out: dict[int, np.ndarray] = {}
    for rid in reason_ids:
        aug = augment_images(images, rid)
        out[rid] = np.asarray(predict_proba(embed(aug)), dtype=np.float64)
    return out
