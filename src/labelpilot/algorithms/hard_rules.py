"""Hard-example rules shared by auto labeling and pre-labeling, and their combination.

Every rule gives a *strength* in [0, 1] per sample; the rule fires when its strength is >= 0.5.
The reason ids are the ModelArts ones (API contract §3.6). This module holds the result type, the
model-agnostic rules (1, low confidence; 19-29, the prediction changes under an augmentation) and
their combination; :mod:`labelpilot.algorithms.hard_examples` adds the embedding-based rules of
auto labeling.

Coefficient and flag
--------------------
``hard`` is true when at least one rule fires. ``coefficient`` is the noisy-OR of the strengths of
the rules that fired, ``1 - prod(1 - s_r)`` (>= 0.5, growing with every extra reason), and for
samples where nothing fired the largest strength (< 0.5), so sorting by it ranks every sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "REASON_NAMES",
    "HardExamples",
    "combine_strengths",
    "low_confidence_strength",
    "prediction_change_strength",
]

REASON_NAMES: dict[int, str] = {
    1: "low confidence",
    2: "clustering disagrees with prediction",
    3: "far from same-class labeled samples",
    5: "resolution shift",
    6: "aspect ratio shift",
    7: "brightness shift",
    8: "saturation shift",
    9: "colorfulness shift",
    10: "sharpness shift",
    19: "gaussianblur changes prediction",
    20: "fliplr changes prediction",
    21: "crop changes prediction",
    22: "flipud changes prediction",
    23: "scale changes prediction",
    24: "translate changes prediction",
    25: "shear changes prediction",
    26: "superpixels changes prediction",
    27: "sharpen changes prediction",
    28: "add changes prediction",
    29: "invert changes prediction",
    30: "outlier",
}


@dataclass
class HardExamples:
    """Per-sample hard-example result.

    Attributes
    ----------
    hard : ndarray of bool, shape (n,)
    coefficient : ndarray of float, shape (n,)
        In [0, 1]; >= 0.5 exactly for hard samples.
    reasons : list of list of int, length n
        Sorted ModelArts reason ids of the rules that fired.
    strengths : dict of int to ndarray of shape (n,)
        Strength in [0, 1] of every evaluated rule (a rule fires at >= 0.5).
    """

    hard: np.ndarray
    coefficient: np.ndarray
    reasons: list[list[int]]
    strengths: dict[int, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.hard.shape[0])

    def flagged_by(self, reason_ids: Sequence[int]) -> np.ndarray:
        """Boolean mask (n,) of samples with at least one of ``reason_ids``."""
        wanted = set(reason_ids)
        return np.array([bool(wanted.intersection(r)) for r in self.reasons], dtype=bool)


def combine_strengths(strengths: dict[int, np.ndarray], n: int) -> HardExamples:
    """Rule strengths ``{reason id: (n,) in [0, 1]}`` -> flags, coefficients and reasons.

    A rule fires at strength >= 0.5; the coefficient is the noisy-OR of the fired strengths
    (the largest strength when none fired). See the module docstring.
    """
    ids = sorted(strengths)
    if not ids:
        return HardExamples(np.zeros(n, bool), np.zeros(n), [[] for _ in range(n)], strengths)
    mat = np.column_stack([np.clip(strengths[r], 0.0, 1.0) for r in ids])
    fired = mat >= 0.5
    noisy_or = 1.0 - np.prod(np.where(fired, 1.0 - mat, 1.0), axis=1)
    hard = np.asarray(fired.any(axis=1), dtype=bool)
    coefficient = np.where(hard, noisy_or, mat.max(axis=1))
    reasons = [[ids[j] for j in np.flatnonzero(row)] for row in fired]
    return HardExamples(hard, np.clip(coefficient, 0.0, 1.0), reasons, strengths)


def low_confidence_strength(
    top: np.ndarray,
    n_classes: int | np.ndarray,
    scope: tuple[float, float] | None = None,
) -> np.ndarray:
    """Rule 1 strength from each sample's (least) confidence; fires at >= 0.5.

    Parameters
    ----------
    top : ndarray of shape (n,)
        Confidence of each sample (the max-probability, or the least confident label's score).
    n_classes : int or ndarray of int, shape (n,)
        Classes behind each score; 0 when there is no class distribution (detection scores).
    scope : tuple of float (low, high), optional
        The ModelArts confidence window: strength 0.5 at its edges, up to 1 in its middle, 0
        outside.

    Returns
    -------
    ndarray of shape (n,)
        Without ``scope``: ``(1 - top) / (1 - 1/k)`` (``k`` at least 2), or ``1 - top`` where
        ``n_classes`` is 0, clipped to [0, 1], i.e. it fires at ``top <= (1 + 1/k) / 2``.
    """
    top = np.asarray(top, dtype=np.float64)
    if scope is not None:
        lo, hi = scope
        inside = (top >= lo) & (top <= hi)
        width = max(hi - lo, 1e-9)
        depth = 1.0 - np.abs(top - 0.5 * (lo + hi)) / (0.5 * width)
        return np.asarray(np.where(inside, 0.5 + 0.5 * np.clip(depth, 0.0, 1.0), 0.0))
    k = np.asarray(n_classes)
    u = np.where(k > 0, (1.0 - top) / (1.0 - 1.0 / np.maximum(k, 2)), 1.0 - top)
    return np.asarray(np.clip(u, 0.0, 1.0))


def prediction_change_strength(tv: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Strength of rules 19-29 ("the top class changed under an augmentation").

    Parameters
    ----------
    tv : ndarray of shape (n,)
        Total variation distance between the score rows before and after the augmentation.
    changed : ndarray of bool, shape (n,)
        Whether the top class changed.

    Returns
    -------
    ndarray of shape (n,)
        ``tv``, but at least 0.5 exactly where the class changed and below 0.5 elsewhere.
    """
    return np.asarray(np.where(changed, np.maximum(tv, 0.5), np.minimum(tv, 0.499)))
