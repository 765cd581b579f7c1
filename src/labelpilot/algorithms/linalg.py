"""Small array kernels shared by the algorithms and their callers.

numpy only: the ONNX embedders import it, and must not pull in scipy or scikit-learn.
"""

from __future__ import annotations

import numpy as np

__all__ = ["l2_normalize_rows", "softmax"]


def l2_normalize_rows(x: np.ndarray, *, out: np.ndarray | None = None) -> np.ndarray:
    """Divide every row by its Euclidean norm; all-zero rows stay zero.

    Parameters
    ----------
    x : ndarray of shape (n, d)
        Float rows (the result keeps their dtype).
    out : ndarray of shape (n, d), optional
        Where to write the result (``out=x`` normalises in place, saving a copy of large
        embedding matrices).

    Returns
    -------
    ndarray of shape (n, d)
    """
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    return np.asarray(np.divide(x, norms, out=out))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax.

    Parameters
    ----------
    logits : ndarray of shape (n, k), float

    Returns
    -------
    ndarray of shape (n, k)
        Rows sum to 1. ``logits`` is left unchanged.
    """
    z: np.ndarray = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z
