"""kNN affinity graphs and spectral embeddings shared by auto labeling and auto grouping.

Both build a self-tuning Gaussian kNN affinity ``w_ij = exp(-d_ij^2 / (s_i s_j))`` (Zelnik-Manor &
Perona, 2004), symmetrised with ``max`` and normalised as ``D^-1/2 W D^-1/2``
(:func:`knn_affinity`, :func:`normalized_affinity`). They differ in the local scale ``s_i`` and in
the embedding taken from the graph: auto labeling scales the leading eigenvectors by their
eigenvalues (:func:`spectral_embedding`), auto grouping builds a diffusion map
(:func:`diffusion_eigenvectors`, in the space of :func:`pca_whitening`); each keeps its own
eigensolver settings, which its measured results depend on.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, sparse
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from sklearn.neighbors import NearestNeighbors
from sklearn.utils.extmath import randomized_svd

from labelpilot.algorithms.linalg import l2_normalize_rows

__all__ = [
    "diffusion_eigenvectors",
    "knn_affinity",
    "local_scale",
    "normalized_affinity",
    "pca_whitening",
    "self_tuning_knn_graph",
    "spectral_embedding",
]

_EPS = 1e-12
_DENSE_EIGEN_MAX = 300  # below this many rows a dense eigensolver is faster and more robust
_MAX_COVARIANCE_DIM = 4096


def knn_affinity(dist: np.ndarray, ind: np.ndarray, scale: np.ndarray) -> sparse.csr_matrix:
    """Symmetric self-tuning Gaussian affinity of a kNN graph.

    Parameters
    ----------
    dist, ind : ndarray of shape (n, k)
        Distances to and indices of each row's neighbours (the row itself excluded).
    scale : ndarray of shape (n,)
        Local scale ``s_i`` of each row (positive).

    Returns
    -------
    scipy.sparse.csr_matrix of shape (n, n)
        ``W`` with ``w_ij = exp(-d_ij^2 / (s_i s_j))``, symmetrised with ``max``.
    """
    n, k = ind.shape
    w = np.exp(-(np.asarray(dist, dtype=np.float64) ** 2) / (scale[:, None] * scale[ind]))
    rows = np.repeat(np.arange(n), k)
    mat = sparse.csr_matrix((w.ravel(), (rows, ind.ravel())), shape=(n, n))
    return mat.maximum(mat.T).tocsr()


def normalized_affinity(
    w: sparse.csr_matrix, *, min_degree: float = 0.0
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Symmetric normalisation ``D^-1/2 W D^-1/2``.

    Parameters
    ----------
    w : scipy.sparse.csr_matrix of shape (n, n)
    min_degree : float, default=0.0
        Degrees are floored at this value before the inverse square root.

    Returns
    -------
    s : scipy.sparse.csr_matrix of shape (n, n)
    degree : ndarray of shape (n,)
        Row sums of ``w`` (not floored).
    inv_sqrt : ndarray of shape (n,)
        ``1 / sqrt(max(degree, min_degree))``.
    """
    degree = np.asarray(w.sum(axis=1)).ravel()
    inv_sqrt = 1.0 / np.sqrt(np.maximum(degree, min_degree))
    return (sparse.diags(inv_sqrt) @ w @ sparse.diags(inv_sqrt)).tocsr(), degree, inv_sqrt


def local_scale(dist: np.ndarray, neighbor: int) -> np.ndarray:
    """Distance to the ``neighbor``-th neighbour, floored so duplicates keep the kernel finite.

    Parameters
    ----------
    dist : ndarray of shape (n, k)
        Sorted neighbour distances.
    neighbor : int
        1-based neighbour rank (capped at ``k``).

    Returns
    -------
    ndarray of shape (n,), float64
        At least ``1e-3`` times the median positive scale (and at least ``1e-12``).
    """
    col = min(neighbor, dist.shape[1]) - 1
    scale = dist[:, col].astype(np.float64)
    positive = scale[scale > 0]
    floor = 1e-3 * float(np.median(positive)) if positive.size else 1.0
    return np.maximum(scale, max(floor, 1e-12))


def self_tuning_knn_graph(
    z: np.ndarray, n_neighbors: int
) -> tuple[sparse.csr_matrix, NearestNeighbors]:
    """Normalised kNN affinity of the rows of ``z``, ``s_i`` = distance to the k-th neighbour.

    Parameters
    ----------
    z : ndarray of shape (n, d)
    n_neighbors : int
        Neighbours per row (capped at ``n - 1``).

    Returns
    -------
    s : scipy.sparse.csr_matrix of shape (n, n)
        ``D^-1/2 W D^-1/2`` (degrees floored at 1e-12).
    nn : sklearn.neighbors.NearestNeighbors
        The fitted index (``k + 1`` neighbours, the row itself first).
    """
    n = z.shape[0]
    k = int(min(n_neighbors, n - 1))
    nn = NearestNeighbors(n_neighbors=k + 1).fit(z)
    dist, ind = nn.kneighbors(z)
    dist, ind = dist[:, 1:], ind[:, 1:]
    sigma = np.maximum(dist[:, -1], _EPS)
    s, _, _ = normalized_affinity(knn_affinity(dist, ind, sigma), min_degree=_EPS)
    return s, nn


def spectral_embedding(s: sparse.csr_matrix, n_vectors: int, random_state: int) -> np.ndarray:
    """Leading eigenvectors of ``s`` (trivial one dropped) scaled by eigenvalue, rows normalised.

    Parameters
    ----------
    s : scipy.sparse.csr_matrix of shape (n, n)
        Normalised affinity.
    n_vectors : int
    random_state : int
        Seeds the ARPACK start vector.

    Returns
    -------
    ndarray of shape (n, min(n_vectors, n - 2))
    """
    n = s.shape[0]
    k = int(min(n_vectors + 1, n - 1))
    if n <= _DENSE_EIGEN_MAX or k >= n - 1:
        vals, vecs = np.linalg.eigh(s.toarray())
    else:
        v0 = np.random.default_rng(random_state).uniform(0.5, 1.5, size=n)
        try:
            vals, vecs = eigsh(s, k=k, which="LA", v0=v0, tol=1e-6, maxiter=5000)
        except ArpackNoConvergence as exc:  # pragma: no cover - keep what converged
            vals, vecs = exc.eigenvalues, exc.eigenvectors
    order = np.argsort(-vals)[:k]
    vals, vecs = vals[order], vecs[:, order]
    emb = vecs[:, 1:] * np.clip(vals[1:], 0.0, None)
    return l2_normalize_rows(emb)


def diffusion_eigenvectors(
    s: sparse.csr_matrix,
    degree: np.ndarray,
    inv_sqrt: np.ndarray,
    n_eig: int,
    rng: np.random.RandomState,
) -> tuple[np.ndarray, np.ndarray]:
    """Random-walk eigenvectors of a normalised affinity, the trivial one removed (diffusion map).

    Parameters
    ----------
    s : scipy.sparse.csr_matrix of shape (m, m)
        ``D^-1/2 W D^-1/2`` (:func:`normalized_affinity`).
    degree, inv_sqrt : ndarray of shape (m,)
        As returned with ``s``.
    n_eig : int
        Eigenvectors wanted (capped at ``m``, or ``m - 2`` for the sparse solver).
    rng : numpy.random.RandomState
        Draws the ARPACK start vector (only above 300 rows).

    Returns
    -------
    vals : ndarray of shape (q,)
        Eigenvalues, descending.
    psi : ndarray of shape (m, q)
        Random-walk eigenvectors with a reproducible sign, degree-centred.
    """
    m = s.shape[0]
    if m <= _DENSE_EIGEN_MAX:
        n_eig = int(min(n_eig, m))
        vals, vecs = linalg.eigh(s.toarray(), subset_by_index=[m - n_eig, m - 1])
    else:
        n_eig = int(min(n_eig, m - 2))
        # Shift by the identity so the wanted (largest algebraic) eigenvalues are also the
        # largest in magnitude, ARPACK's fastest mode.
        shifted = (s + sparse.identity(m, format="csr")).tocsr()
        v0 = rng.uniform(-1.0, 1.0, size=m)
        vals, vecs = eigsh(shifted, k=n_eig, which="LM", v0=v0, tol=1e-6, maxiter=100 * m)
        vals = vals - 1.0
    order = np.argsort(-vals)
    vals, vecs = vals[order], vecs[:, order]
    # Fix each eigenvector's sign (the solvers' sign is arbitrary) for reproducible output.
    signs = np.sign(vecs[np.abs(vecs).argmax(axis=0), np.arange(n_eig)])
    vecs = vecs * np.where(signs == 0, 1.0, signs)
    psi = vecs * inv_sqrt[:, None]
    # Remove the constant direction (the trivial eigenvector, eigenvalue 1): it carries no
    # grouping information but would dominate the row normalisation. Non-trivial
    # eigenvectors are degree-orthogonal to constants, so this only removes that one.
    psi = psi - (degree @ psi) / degree.sum()
    norms = np.sqrt(degree @ psi**2)  # 1 for non-trivial eigenvectors, ~0 for the trivial
    keep = norms > 1e-3
    if keep.any():
        psi, vals = psi[:, keep], vals[keep]
    return vals, psi


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
