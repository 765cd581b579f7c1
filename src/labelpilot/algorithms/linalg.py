"""Small array kernels shared by the algorithms and their callers."""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.utils.extmath import randomized_svd

__all__ = ["l2_normalize_rows", "pca_whitening", "softmax"]

_MAX_COVARIANCE_DIM = 4096


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


def pca_whitening(
    x: np.ndarray, q: int, *, seed: int, chunk: int = 8192
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA whitening, exact from the d x d covariance (one GEMM, one partial eigensolve).

    For n >> d (1280) this is faster than randomized SVD, and deterministic. Rows wider than
    4,096 use randomized SVD instead (O(n d) memory).

    Parameters
    ----------
    x : ndarray of shape (m, d)
    q : int
        Dimensions kept (at most ``min(d, m)``).
    seed : int
        Seed of the randomized SVD (wide rows only).
    chunk : int, default=8192
        Rows per float32 block of the covariance product.

    Returns
    -------
    mean : ndarray of shape (d,), float32
    explained_variance : ndarray of shape (q',), float64
        Descending; numerically empty directions dropped (``q' <= q``).
    whitening : ndarray of shape (d, q'), float32
        ``(x - mean) @ whitening`` has unit variance per column.
    """
    m, d = x.shape
    mean = x.mean(axis=0, dtype=np.float64)
    if d <= _MAX_COVARIANCE_DIM:
        # float32 GEMM per chunk (2x faster than float64), accumulated in float64.
        mean32 = mean.astype(np.float32)
        cov = np.zeros((d, d), dtype=np.float64)
        for start in range(0, m, chunk):
            block = x[start : start + chunk].astype(np.float32) - mean32
            cov += block.T @ block
        cov /= max(m - 1, 1)
        vals, vecs = linalg.eigh(cov, subset_by_index=[d - q, d - 1])
        vals, vecs = vals[::-1], vecs[:, ::-1]
    else:
        centred = x.astype(np.float32) - mean.astype(np.float32)
        _, sing, vt = randomized_svd(centred, q, random_state=seed)
        vals, vecs = sing.astype(np.float64) ** 2 / max(m - 1, 1), vt.T
    keep = vals > max(float(vals[0]), 1e-30) * 1e-8  # drop numerically empty directions
    vals, vecs = vals[keep], vecs[:, keep]
    return mean.astype(np.float32), vals, (vecs / np.sqrt(vals)).astype(np.float32)
