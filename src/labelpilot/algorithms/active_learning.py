"""Auto labeling (ModelArts "active learning"): calibrated classifiers over embeddings.

Arrays in, arrays out. :class:`AutoLabeler` learns from a few labeled rows and predicts class
probabilities for the unlabeled rows; :func:`auto_accept_threshold` picks the lowest confidence
score whose accepted auto labels still reach a target precision, judged from labeled data only.

Algorithms
----------
Both algorithms first put the rows through the same preprocessing: when every value is
non-negative (ReLU CNN features such as the MobileNetV2 embeddings) the square root is taken
("power normalisation", ``feature_transform="auto"``), then each row is L2-normalised.

``fast`` (ModelArts ``algorithm_type="fast"``: labeled samples only)
    Standardisation (fitted on the labeled rows) followed by a multinomial L2 logistic
    regression (``C``). Nothing but the labeled rows is used.

``accurate`` (semi-supervised: labeled and unlabeled rows)
    1. PCA with whitening fitted on all rows (labeled and unlabeled; no labels used), rows
       re-normalised. Whitening stops a few dominant directions of the embedding from
       deciding all neighbourhoods.
    2. A k-nearest-neighbour graph in that space, with self-tuning Gaussian weights
       ``exp(-d_ij^2 / (s_i s_j))`` (``s_i`` = distance to the k-th neighbour) and symmetric
       normalisation ``S = D^-1/2 W D^-1/2``.
    3. A spectral embedding: the leading eigenvectors of ``S`` (the trivial one dropped),
       scaled by their eigenvalues, rows normalised. Distances in it follow the cluster
       structure of the whole data set; a second kNN graph ``S2`` is built in it.
    4. Label spreading (Zhou et al. 2004) on ``S2``, solved to convergence:
       ``F = (1 - alpha) (I - alpha S2)^-1 Y`` by batched conjugate gradients; each class column
       divided by its number of seeds (class mass normalisation, Zhu et al. 2003), rows
       normalised. The per-class division also keeps held-out scores unbiased: a labeled row
       left out loses one seed of its own class, which would otherwise count against it and
       make the calibration under-confident.
    5. Geometric blend with the ``fast`` model: ``(1 - w) log p_graph + w log p_linear``.
       ``blend="auto"`` picks ``w`` in ``{0, .25, .5, .75, 1}`` by held-out log-likelihood, so
       where the unlabeled structure does not follow the classes (sentiment of short texts:
       neighbours share a topic, not a polarity) ``accurate`` falls back towards ``fast``
       instead of losing to it.

    Graph, PCA and spectral embedding use no labels, so every held-out evaluation below reuses
    them. The result for the rows passed to :meth:`AutoLabeler.fit` is transductive
    (``transduction_proba_``; :meth:`AutoLabeler.predict_proba` returns it for rows identical to
    fitted ones); other rows get the similarity-weighted average of the spreading scores of their
    k nearest fitted rows in the PCA space, blended with the linear model the same way.

    Cost: two exact kNN searches over all rows (O(n^2 d)), an eigendecomposition of a sparse
    n x n matrix, and conjugate-gradient solves (about 100 sparse products each) for one
    right-hand side per labeled row (leave-one-out, up to 300 labeled rows) or per fold and
    class. Intended for data sets up to a few tens of thousands of rows; see
    ``docs/auto-label.md`` for measured times.

Calibration
-----------
Probabilities are temperature-scaled (Guo et al. 2017) with one temperature ``T`` that minimises
the negative log-likelihood of held-out predictions of the labeled rows, then applied to the final
model (trained on all labeled rows):

* ``fast``: stratified K-fold, ``K = min(cv_folds, smallest class count)``.
* ``accurate``: up to ``loo_max_labeled`` (300) labeled rows the graph part is evaluated
  leave-one-out, exactly (each labeled row's own seed is subtracted from the closed-form solution;
  the row is then an unlabeled row of the graph, like the real unlabeled rows); above that with
  the same K folds as the linear part, which uses the K-fold of ``fast``.

The held-out probabilities (temperature-scaled) and true classes are kept in ``cv_proba_`` /
``cv_true_`` for :func:`auto_accept_threshold`. The fold models see fewer labels than the final
one, so at tiny budgets the calibration errs on the side of under-confidence (measured: expected
accuracy 0.89 for a true 0.93 with 5 labels per class), which keeps auto accept safe.

With 2 labeled rows per class, 2 folds are used (every training fold still sees each class).
When a class has a single labeled row, held-out evaluation is impossible: ``T = 1`` (no
calibration), ``cv_proba_`` is ``None``, ``calibration_["method"] == "none"``, ``accurate`` uses
``w = 0.5`` and :meth:`AutoLabeler.auto_accept` accepts nothing.

``estimated_accuracy_`` is the mean calibrated max-probability over the unlabeled rows, i.e. the
accuracy the calibrated model expects of its own auto labels. ``calibration_["cv_accuracy"]`` is
the measured held-out accuracy of the fold models (trained on fewer labels, so pessimistic).

Auto accept
-----------
:func:`auto_accept_threshold` (``method="calibration"``, default) bounds how much more often the
model errs than its calibrated scores say: observed held-out errors ``e`` versus expected errors
``E = sum(1 - s_i)`` give a one-sided upper confidence bound ``lambda`` on the error-inflation
factor (exact Poisson / Garwood bound, floored at 1). Accepting the rows with score ``>= t`` then
has estimated precision ``1 - lambda * mean(1 - s | s >= t)``. Because a single factor cannot
see an over-confident tail or an unrepresentative labeled set, ``t`` must also be supported by
held-out evidence: when ``t`` accepts a fraction ``q`` of the rows, the top ``q`` fraction of the
held-out rows (ranked by their held-out scores; at least ``min_support`` = 10 rows) must have a
one-sided 80 % Wilson lower bound of observed precision that reaches the target. Matching by
rank rather than by score keeps the check valid when the fold models are systematically less
confident than the final model (leave-one-out with 5 labels per class).
The lowest ``t`` passing both is returned. ``method="wilson"`` / ``"clopper-pearson"`` instead bound
the empirical precision of the accepted held-out rows only; that assumes nothing but needs roughly
``3 / (1 - target)`` accepted rows without error (60 at 0.95) before anything can be accepted.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np
from scipy import optimize, sparse, stats
from scipy.sparse.linalg import ArpackNoConvergence, eigsh
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

__all__ = [
    "AutoLabeler",
    "auto_accept_threshold",
    "expected_calibration_error",
    "fit_temperature",
]

Algorithm = Literal["fast", "accurate"]
AcceptMethod = Literal["calibration", "wilson", "clopper-pearson"]
_EPS = 1e-12
_BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


# ---------------------------------------------------------------------------------------------
# Small numeric helpers
# ---------------------------------------------------------------------------------------------


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _l2_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    return x / norms


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising the NLL of ``softmax(logits / T)``.

    Parameters
    ----------
    logits : ndarray of shape (n, k)
        Held-out (out-of-fold) scores; any monotone log-score works (log-probabilities too).
    y : ndarray of shape (n,)
        True class indices in ``[0, k)``.

    Returns
    -------
    temperature : float
        In ``[0.02, 50]``; ``1.0`` when ``n == 0``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if logits.shape[0] == 0:
        return 1.0
    rows = np.arange(logits.shape[0])

    def nll(log_t: float) -> float:
        z = logits / math.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(lse - z[rows, y]))

    res = optimize.minimize_scalar(nll, bounds=(math.log(0.02), math.log(50.0)), method="bounded")
    return float(math.exp(res.x))


def expected_calibration_error(
    y_true: np.ndarray, proba: np.ndarray, n_bins: int = 15, classes: np.ndarray | None = None
) -> float:
    """Expected calibration error of the max-probability (equal-width bins on [0, 1]).

    Parameters
    ----------
    y_true : ndarray of shape (n,)
        True labels: class indices into the columns of ``proba`` or, when ``classes`` is given,
        values of ``classes``.
    proba : ndarray of shape (n, k)
        Predicted probabilities.
    n_bins : int, default=15
    classes : ndarray of shape (k,), optional
        Labels of the columns of ``proba``.

    Returns
    -------
    ece : float
        ``sum_b |B_b|/n * |acc(B_b) - conf(B_b)|``, in [0, 1]; 0.0 for empty input.
    """
    proba = np.asarray(proba, dtype=np.float64)
    y_true = np.asarray(y_true)
    if proba.shape[0] == 0:
        return 0.0
    pred = proba.argmax(axis=1)
    if classes is not None:
        pred_labels = np.asarray(classes)[pred]
        correct = pred_labels == y_true
    else:
        correct = pred == y_true
    conf = proba.max(axis=1)
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(ece)


# ---------------------------------------------------------------------------------------------
# Auto-accept threshold
# ---------------------------------------------------------------------------------------------


def _wilson_lower(k: np.ndarray, n: np.ndarray, z: float) -> np.ndarray:
    p = k / n
    denom = 1.0 + z * z / n
    centre = p + z * z / (2 * n)
    margin = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.asarray((centre - margin) / denom)


def _clopper_pearson_lower(k: np.ndarray, n: np.ndarray, confidence: float) -> np.ndarray:
    alpha = 1.0 - confidence
    with np.errstate(invalid="ignore"):
        lo = stats.beta.ppf(alpha, k, n - k + 1)
    return np.asarray(np.where(k <= 0, 0.0, lo))


def error_inflation_bound(
    correct: np.ndarray, scores: np.ndarray, confidence: float = 0.95
) -> float:
    """Upper confidence bound on (observed errors) / (errors expected from calibrated scores).

    Parameters
    ----------
    correct : ndarray of bool, shape (n,)
        Whether each out-of-fold prediction was right.
    scores : ndarray of shape (n,)
        Calibrated max-probabilities of those predictions.
    confidence : float, default=0.95
        One-sided confidence level.

    Returns
    -------
    lam : float
        ``max(1, chi2.ppf(confidence, 2 (e + 1)) / 2 / E)`` with ``e`` the observed and ``E`` the
        expected number of errors (exact Poisson upper bound, conservative for a sum of
        Bernoulli variables). ``inf`` when ``n == 0``.
    """
    correct = np.asarray(correct, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if correct.size == 0:
        return math.inf
    observed = float((~correct).sum())
    expected = float(np.clip(1.0 - scores, 0.0, 1.0).sum())
    upper = float(stats.chi2.ppf(confidence, 2.0 * (observed + 1.0)) / 2.0)
    if expected <= _EPS:
        return math.inf
    return max(1.0, upper / expected)


def auto_accept_threshold(
    y_true_cv: np.ndarray,
    proba_cv: np.ndarray,
    target_precision: float,
    *,
    confidence: float = 0.95,
    method: AcceptMethod = "calibration",
    scores_target: np.ndarray | None = None,
    min_support: int = 10,
    support_confidence: float = 0.8,
) -> tuple[float, float, float]:
    """Lowest score threshold whose accepted predictions reach ``target_precision``.

    A prediction is accepted when its max-probability is ``>= threshold``. Only labeled data is
    used to judge precision: out-of-fold predictions ``proba_cv`` of the labeled rows and their
    true classes (``AutoLabeler.cv_proba_`` / ``AutoLabeler.cv_true_``).

    Parameters
    ----------
    y_true_cv : ndarray of shape (n,)
        True class indices (columns of ``proba_cv``).
    proba_cv : ndarray of shape (n, k)
        Out-of-fold calibrated probabilities.
    target_precision : float
        Wanted precision of accepted labels, in (0, 1).
    confidence : float, default=0.95
        One-sided confidence of the bound.
    method : {"calibration", "wilson", "clopper-pearson"}, default="calibration"
        ``calibration``: ``1 - lambda * mean(1 - s | s >= t)`` with ``lambda`` from
        :func:`error_inflation_bound` on all out-of-fold rows, and a held-out check: if ``t``
        accepts a fraction ``q`` of the rows, the top ``q`` fraction of the out-of-fold rows (by
        their own scores, at least ``min_support`` rows) must have a Wilson lower bound (at
        ``support_confidence``) of observed precision reaching the target.
        ``wilson`` / ``clopper-pearson``: lower confidence bound of the empirical precision of
        the accepted out-of-fold rows.
    scores_target : ndarray of shape (m,), optional
        Max-probabilities of the rows the threshold will be applied to (e.g. the unlabeled rows;
        no labels needed). With ``method="calibration"`` the precision estimate and the
        threshold are then computed over them, and the coverage is theirs. Without it, the
        out-of-fold scores stand in for them.
    min_support : int, default=10
        ``calibration`` only: fewest out-of-fold rows behind an accepted fraction.
    support_confidence : float, default=0.8
        ``calibration`` only: one-sided confidence of the Wilson lower bound that the observed
        precision of those rows must reach (at 0.8, 14 rows without error are the minimum
        evidence for a target of 0.95).

    Returns
    -------
    threshold : float
        ``inf`` when nothing can be accepted at that precision (then precision is ``nan`` and
        coverage ``0.0``).
    estimated_precision : float
        The conservative precision estimate at ``threshold``.
    estimated_coverage : float
        Fraction of rows (target rows if given, else out-of-fold rows) with score
        ``>= threshold``.
    """
    proba_cv = np.asarray(proba_cv, dtype=np.float64)
    y_true_cv = np.asarray(y_true_cv, dtype=np.int64)
    if not 0.0 < target_precision < 1.0:
        raise ValueError("target_precision must be in (0, 1)")
    if proba_cv.ndim != 2 or proba_cv.shape[0] != y_true_cv.shape[0]:
        raise ValueError("proba_cv must be (n, k) with one row per entry of y_true_cv")
    none = (math.inf, math.nan, 0.0)
    if proba_cv.shape[0] == 0:
        return none
    scores = proba_cv.max(axis=1)
    correct = proba_cv.argmax(axis=1) == y_true_cv

    if method == "calibration":
        lam = error_inflation_bound(correct, scores, confidence)
        if not math.isfinite(lam):
            return none
        pool = scores if scores_target is None else np.asarray(scores_target, dtype=np.float64)
        if pool.size == 0:
            return none
        desc = np.sort(pool)[::-1]
        mean_err = np.cumsum(1.0 - desc) / np.arange(1, desc.size + 1)
        prec = 1.0 - lam * mean_err
        # held-out support of each candidate: the same top fraction of the out-of-fold rows
        # (rank-matched, so a systematic score shift of the fold models does not matter)
        cv_order = np.argsort(-scores, kind="stable")
        cv_correct_cum = np.r_[0, np.cumsum(correct[cv_order])]
        coverage = np.arange(1, desc.size + 1) / desc.size
        n_support = np.minimum(np.ceil(coverage * scores.size - 1e-9).astype(np.int64), scores.size)
        z_support = float(stats.norm.ppf(support_confidence))
        emp_lower = _wilson_lower(
            cv_correct_cum[n_support].astype(np.float64),
            np.maximum(n_support, 1).astype(np.float64),
            z_support,
        )
        supported = (n_support >= min_support) & (emp_lower >= target_precision)
        # a threshold t accepts every row with score >= t: only the last of equal scores counts
        last_of_run = np.r_[desc[1:] != desc[:-1], True]
        ok = np.flatnonzero((prec >= target_precision) & supported & last_of_run)
        if ok.size == 0:
            return none
        i = int(ok.max())
        return float(desc[i]), float(prec[i]), float(coverage[i])

    if method not in ("wilson", "clopper-pearson"):
        raise ValueError(f"unknown method {method!r}")
    order = np.argsort(-scores, kind="stable")
    desc = scores[order]
    k = np.cumsum(correct[order]).astype(np.float64)
    n = np.arange(1, desc.size + 1, dtype=np.float64)
    if method == "wilson":
        lower = _wilson_lower(k, n, float(stats.norm.ppf(confidence)))
    else:
        lower = _clopper_pearson_lower(k, n, confidence)
    last_of_run = np.r_[desc[1:] != desc[:-1], True]
    ok = np.flatnonzero((lower >= target_precision) & last_of_run)
    if ok.size == 0:
        return none
    i = int(ok.max())
    threshold = float(desc[i])
    if scores_target is not None:
        tgt = np.asarray(scores_target, dtype=np.float64)
        accepted = float((tgt >= threshold).mean()) if tgt.size else 0.0
    else:
        accepted = float((i + 1) / desc.size)
    return threshold, float(lower[i]), accepted


# ---------------------------------------------------------------------------------------------
# Graph machinery for the accurate algorithm
# ---------------------------------------------------------------------------------------------


def _knn_graph(z: np.ndarray, n_neighbors: int) -> tuple[sparse.csr_matrix, NearestNeighbors]:
    """Symmetrically normalised self-tuning kNN affinity ``D^-1/2 W D^-1/2`` of rows of ``z``."""
    n = z.shape[0]
    k = int(min(n_neighbors, n - 1))
    nn = NearestNeighbors(n_neighbors=k + 1).fit(z)
    dist, ind = nn.kneighbors(z)
    dist, ind = dist[:, 1:], ind[:, 1:]
    sigma = np.maximum(dist[:, -1], _EPS)
    w = np.exp(-(dist**2) / (sigma[:, None] * sigma[ind]))
    rows = np.repeat(np.arange(n), k)
    mat = sparse.csr_matrix((w.ravel(), (rows, ind.ravel())), shape=(n, n))
    mat = mat.maximum(mat.T).tocsr()
    deg = np.asarray(mat.sum(axis=1)).ravel()
    inv = sparse.diags(1.0 / np.sqrt(np.maximum(deg, _EPS)))
    return (inv @ mat @ inv).tocsr(), nn


def _spectral_embedding(s: sparse.csr_matrix, n_vectors: int, random_state: int) -> np.ndarray:
    """Leading eigenvectors (trivial one dropped) of ``s`` scaled by eigenvalue, rows normalised."""
    n = s.shape[0]
    k = int(min(n_vectors + 1, n - 1))
    if n <= 300 or k >= n - 1:
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
    return _l2_rows(emb)


def _cg_solve(a: sparse.csr_matrix, b: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    """Solve ``a x = b`` for every column of ``b`` by conjugate gradients, all columns at once.

    ``a = I - alpha S`` is symmetric positive definite with eigenvalues in
    ``[1 - alpha, 1 + alpha]``, so CG needs about ``sqrt(1 / (1 - alpha)) log(1 / tol)``
    iterations (about 70-150 at ``alpha = 0.99``) whatever the graph; a sparse LU, by contrast,
    filled in to 11 million entries on a 6,000-text kNN graph.
    """
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rr = np.einsum("ij,ij->j", r, r)
    stop = tol * tol * rr
    zero = np.zeros_like(rr)
    for _ in range(5000):
        active = rr > stop
        if not active.any():
            break
        ap = a @ p
        pap = np.einsum("ij,ij->j", p, ap)
        step = np.divide(rr, pap, out=zero.copy(), where=active & (pap > 0))
        x += step * p
        r -= step * ap
        rr_new = np.einsum("ij,ij->j", r, r)
        beta = np.divide(rr_new, rr, out=zero.copy(), where=active & (rr > 0))
        p = r + beta * p
        rr = rr_new
    return x


def _normalise_scores(f: np.ndarray, n_classes: int) -> np.ndarray:
    """Non-negative spreading scores normalised per row (uniform for rows no seed reaches)."""
    f = np.maximum(f, 0.0)
    tot = f.sum(axis=1, keepdims=True)
    return np.asarray(np.where(tot > _EPS, f / np.maximum(tot, _EPS), 1.0 / n_classes))


# ---------------------------------------------------------------------------------------------
# AutoLabeler
# ---------------------------------------------------------------------------------------------


class AutoLabeler(BaseEstimator):
    """Calibrated auto labeling from few labels (``fast``) or few labels plus unlabeled rows
    (``accurate``); see the module docstring for the method.

    Parameters
    ----------
    algorithm : {"fast", "accurate"}, default="fast"
    random_state : int, default=0
        Seed of the cross-validation split, PCA and eigen solver.
    C : float, default=0.1
        Inverse L2 regularisation of the logistic regression (on standardised features).
    feature_transform : {"auto", "sqrt", "none"}, default="auto"
        ``auto`` takes the square root when all training values are non-negative.
    n_components : int, default=256
        PCA dimensions (whitened) of the ``accurate`` graph space.
    n_neighbors : int, default=10
        Neighbours per row of the kNN graphs.
    n_eigenvectors : int or None, default=None
        Spectral embedding size; ``None`` = ``clip(4 * n_classes, 20, 64)``.
    alpha : float, default=0.99
        Label spreading: weight of the neighbours versus the seed labels.
    blend : float in [0, 1] or "auto", default="auto"
        ``accurate`` only: weight ``w`` of the linear (``fast``) model in
        ``(1 - w) log p_graph + w log p_linear``. ``auto`` picks ``w`` from
        ``(0, 0.25, 0.5, 0.75, 1)`` by out-of-fold log-likelihood (0.5 when folds are impossible).
    cv_folds : int, default=5
        Maximum folds of the calibration cross-validation.
    loo_max_labeled : int, default=300
        ``accurate``: the graph part is evaluated leave-one-out up to this many labeled rows
        (one linear solve per labeled row), with the ``cv_folds`` folds above it.
    max_threads : int, default=1
        BLAS/OpenMP threads during fit and predict. One thread is the default because the work
        is many small matrix products: on a busy 2-core host a 50 x 1280 logistic regression
        took 1.25 s with 2 OpenBLAS threads and 0.06 s with one.

    Attributes
    ----------
    classes_ : ndarray of shape (k,)
        Sorted class labels.
    temperature_ : float
        Calibration temperature (1.0 when uncalibrated).
    blend_ : float
        Weight of the linear model actually used (1.0 for ``fast``).
    blend_scores_ : dict of float to float
        Out-of-fold NLL per blend weight tried by ``blend="auto"``.
    calibration_ : dict
        ``method`` ("temperature" or "none"), ``temperature``, ``n_folds``, ``cv_accuracy``,
        ``cv_ece``, ``cv_nll``, ``reason`` (when method is "none").
    cv_proba_ : ndarray of shape (n_l, k) or None
        Calibrated out-of-fold probabilities of the labeled rows.
    cv_true_ : ndarray of shape (n_l,) or None
        Their true class indices (columns of ``cv_proba_``).
    transduction_proba_ : ndarray of shape (n_u, k)
        Calibrated probabilities of the unlabeled rows passed to :meth:`fit`.
    estimated_accuracy_ : float
        Mean calibrated max-probability over the unlabeled rows (over the labeled rows'
        out-of-fold predictions when there are no unlabeled rows).
    n_features_in_ : int
    """

    def __init__(
        self,
        algorithm: Algorithm = "fast",
        random_state: int = 0,
        *,
        C: float = 0.1,
        feature_transform: Literal["auto", "sqrt", "none"] = "auto",
        n_components: int = 256,
        n_neighbors: int = 10,
        n_eigenvectors: int | None = None,
        alpha: float = 0.99,
        blend: float | Literal["auto"] = "auto",
        cv_folds: int = 5,
        loo_max_labeled: int = 300,
        max_threads: int = 1,
    ) -> None:
        self.algorithm = algorithm
        self.random_state = random_state
        self.C = C
        self.feature_transform = feature_transform
        self.n_components = n_components
        self.n_neighbors = n_neighbors
        self.n_eigenvectors = n_eigenvectors
        self.alpha = alpha
        self.blend = blend
        self.cv_folds = cv_folds
        self.loo_max_labeled = loo_max_labeled
        self.max_threads = max_threads

    # ------------------------------------------------------------------ preprocessing
    def _prep(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._sqrt:
            x = np.sqrt(np.maximum(x, 0.0))
        return _l2_rows(x)

    # ------------------------------------------------------------------ fast model
    def _fit_linear(self, x: np.ndarray, y: np.ndarray) -> tuple[StandardScaler, Any]:
        scaler = StandardScaler().fit(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf = LogisticRegression(C=self.C, max_iter=1000).fit(scaler.transform(x), y)
        return scaler, clf

    def _linear_logits(
        self, model: tuple[StandardScaler, Any], x: np.ndarray, n_classes: int
    ) -> np.ndarray:
        scaler, clf = model
        if x.shape[0] == 0:
            return np.zeros((0, n_classes))
        logp = np.asarray(clf.predict_log_proba(scaler.transform(x)))
        out = np.full((x.shape[0], n_classes), -50.0)
        out[:, clf.classes_] = logp  # a fold may miss no class (stratified), but stay safe
        return out

    # ------------------------------------------------------------------ accurate model
    def _build_graph(self, f_all: np.ndarray, n_classes: int) -> None:
        n, d = f_all.shape
        n_comp = int(min(self.n_components, d, max(n - 1, 1)))
        self._pca = PCA(n_components=n_comp, whiten=True, random_state=self.random_state)
        z = _l2_rows(self._pca.fit_transform(f_all))
        s1, nn = _knn_graph(z, self.n_neighbors)
        n_vec = self.n_eigenvectors or int(np.clip(4 * n_classes, 20, 64))
        emb = _spectral_embedding(s1, n_vec, self.random_state)
        s2, _ = _knn_graph(emb, self.n_neighbors)
        self._z_fit = z
        self._nn_fit = nn
        self._s_graph = s2

    def _spread_scores(
        self, n_l: int, y: np.ndarray, k: int, folds: list[tuple[np.ndarray, np.ndarray]] | None
    ) -> tuple[np.ndarray, np.ndarray | None, str]:
        """Exact label spreading ``F = (1 - alpha) (I - alpha S)^-1 Y`` with the labeled rows
        ``0..n_l-1`` as seeds, and held-out scores of the labeled rows.

        Parameters
        ----------
        n_l : int
        y : ndarray of shape (n_l,)
        k : int
        folds : list of (train, test) index arrays, or None when held-out scores are impossible

        Returns
        -------
        full : ndarray of shape (n, k)
            Spreading scores from all seeds (not normalised).
        held_out : ndarray of shape (n_l, k) or None
            Leave-one-out when ``n_l <= loo_max_labeled``: row ``j`` is
            ``full[j] - G[j, j] * onehot(y_j)`` with ``G = (1 - alpha) (I - alpha S)^-1``, i.e.
            the scores with row ``j``'s own seed removed. Otherwise the given folds: each test
            fold scored by spreading from the other folds' seeds.
        name : str
        """
        s = self._s_graph
        n = s.shape[0]
        alpha = float(self.alpha)
        a = (sparse.identity(n, format="csr") - alpha * s).tocsr()
        onehot = np.eye(k)[y]
        counts = np.maximum(onehot.sum(axis=0), 1.0)
        if folds is not None and n_l <= self.loo_max_labeled:
            full = np.zeros((n, k))
            diag = np.empty(n_l)
            chunk = 128
            for start in range(0, n_l, chunk):
                stop = min(start + chunk, n_l)
                rhs = np.zeros((n, stop - start))
                rhs[np.arange(start, stop), np.arange(stop - start)] = 1.0 - alpha
                g = _cg_solve(a, rhs)  # columns of G for seeds start..stop-1
                full += g @ onehot[start:stop]
                diag[start:stop] = g[np.arange(start, stop), np.arange(stop - start)]
            held_out = (full[:n_l] - diag[:, None] * onehot) / np.maximum(counts - onehot, 1.0)
            return full / counts, held_out, "leave-one-out"
        rhs_list = [np.zeros((n, k))]
        rhs_list[0][:n_l] = (1.0 - alpha) * onehot
        for tr, _ in folds or []:
            r = np.zeros((n, k))
            r[tr] = (1.0 - alpha) * onehot[tr]
            rhs_list.append(r)
        sol = _cg_solve(a, np.hstack(rhs_list))
        full = sol[:, :k] / counts
        if folds is None:
            return full, None, "none"
        held_out = np.zeros((n_l, k))
        for i, (tr, te) in enumerate(folds, start=1):
            fold_counts = np.maximum(onehot[tr].sum(axis=0), 1.0)
            held_out[te] = sol[te, i * k : (i + 1) * k] / fold_counts
        return full, held_out, f"{len(folds)}-fold"

    def _choose_blend(self, graph_oof: np.ndarray, lin_oof: np.ndarray, y: np.ndarray) -> float:
        """Blend weight of the linear model: fixed, or the grid value whose temperature-scaled
        out-of-fold predictions have the lowest negative log-likelihood."""
        if self.blend != "auto":
            return float(np.clip(float(self.blend), 0.0, 1.0))
        rows = np.arange(y.shape[0])
        best_w, best_nll = 0.0, math.inf
        for w in _BLEND_GRID:
            z = (1.0 - w) * graph_oof + w * lin_oof
            p = _softmax(z / fit_temperature(z, y))
            nll = float(-np.mean(np.log(np.maximum(p[rows, y], 1e-300))))
            self.blend_scores_[w] = nll
            if nll < best_nll - 1e-9:
                best_w, best_nll = w, nll
        return best_w

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X_labeled: np.ndarray,
        y_labeled: np.ndarray,
        X_unlabeled: np.ndarray | None = None,
    ) -> AutoLabeler:
        """Fit on labeled rows (and, for ``accurate``, unlabeled rows).

        Parameters
        ----------
        X_labeled : ndarray of shape (n_l, d)
        y_labeled : ndarray of shape (n_l,)
            Any hashable, sortable labels; at least 2 classes.
        X_unlabeled : ndarray of shape (n_u, d), optional
            Rows to auto label (used in training only by ``accurate``).

        Returns
        -------
        self : AutoLabeler
        """
        if self.algorithm not in ("fast", "accurate"):
            raise ValueError(f"algorithm must be 'fast' or 'accurate', got {self.algorithm!r}")
        x_l = np.asarray(X_labeled, dtype=np.float64)
        y_raw = np.asarray(y_labeled)
        if x_l.ndim != 2 or y_raw.ndim != 1 or x_l.shape[0] != y_raw.shape[0]:
            raise ValueError("X_labeled must be (n_l, d) and y_labeled (n_l,)")
        d = x_l.shape[1]
        x_u = np.zeros((0, d)) if X_unlabeled is None else np.asarray(X_unlabeled, dtype=np.float64)
        if x_u.ndim != 2 or x_u.shape[1] != d:
            raise ValueError("X_unlabeled must be (n_u, d) with the same d as X_labeled")
        if not (np.isfinite(x_l).all() and np.isfinite(x_u).all()):
            raise ValueError("features must be finite")
        self.classes_, y = np.unique(y_raw, return_inverse=True)
        k = int(self.classes_.size)
        if k < 2:
            raise ValueError("at least two classes must be labeled")
        self.n_features_in_ = d
        with threadpool_limits(limits=max(1, int(self.max_threads))):
            self._fit(x_l, y, x_u, k)
        return self

    def _fit(self, x_l: np.ndarray, y: np.ndarray, x_u: np.ndarray, k: int) -> None:
        mode = self.feature_transform
        if mode not in ("auto", "sqrt", "none"):
            raise ValueError(f"unknown feature_transform {mode!r}")
        nonneg = bool((x_l >= 0).all() and (x_u >= 0).all())
        self._sqrt = mode == "sqrt" or (mode == "auto" and nonneg)
        f_l, f_u = self._prep(x_l), self._prep(x_u)
        n_l = f_l.shape[0]
        accurate = self.algorithm == "accurate"
        if accurate:
            self._build_graph(np.vstack([f_l, f_u]), k)

        counts = np.bincount(y, minlength=k)
        can_cv = int(counts.min()) >= 2
        self.cv_proba_: np.ndarray | None = None
        self.cv_true_: np.ndarray | None = None
        self.blend_scores_: dict[float, float] = {}
        oof: np.ndarray | None = None
        cv_name = "none"
        oof_lin: np.ndarray | None = None
        folds: list[tuple[np.ndarray, np.ndarray]] | None = None
        if can_cv:
            n_folds = int(min(self.cv_folds, counts.min()))
            oof_lin = np.zeros((n_l, k))
            skf = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=self.random_state)
            folds = list(skf.split(f_l, y))
            for tr, te in folds:
                oof_lin[te] = self._linear_logits(self._fit_linear(f_l[tr], y[tr]), f_l[te], k)
            cv_name = f"stratified {n_folds}-fold"
        self._linear = self._fit_linear(f_l, y)
        lin_u = self._linear_logits(self._linear, f_u, k)
        if accurate:
            full, held_out, graph_cv = self._spread_scores(n_l, y, k, folds)
            self._graph_scores_fit = _normalise_scores(full, k)
            graph_u = np.log(np.maximum(self._graph_scores_fit[n_l:], 1e-9))
            if held_out is not None and oof_lin is not None:
                graph_oof = np.log(np.maximum(_normalise_scores(held_out, k), 1e-9))
                w = self._choose_blend(graph_oof, oof_lin, y)
                oof = (1.0 - w) * graph_oof + w * oof_lin
                cv_name = f"{graph_cv} (graph) + {cv_name} (linear)"
            else:
                w = 0.5 if self.blend == "auto" else float(self.blend)
            self.blend_ = w
            logits_u = (1.0 - w) * graph_u + w * lin_u
        else:
            self.blend_ = 1.0
            oof = oof_lin
            logits_u = lin_u
        if oof is not None:
            t = fit_temperature(oof, y)
            cv_p = _softmax(oof / t)
            self.cv_proba_ = cv_p
            self.cv_true_ = y.copy()
            rows = np.arange(n_l)
            self.calibration_: dict[str, Any] = {
                "method": "temperature",
                "temperature": t,
                "cv": cv_name,
                "cv_accuracy": float((cv_p.argmax(1) == y).mean()),
                "cv_ece": expected_calibration_error(y, cv_p),
                "cv_nll": float(-np.mean(np.log(np.maximum(cv_p[rows, y], 1e-300)))),
            }
        else:
            t = 1.0
            self.calibration_ = {
                "method": "none",
                "temperature": 1.0,
                "cv": "none",
                "reason": "a class has fewer than 2 labeled rows; held-out folds are impossible",
            }
        self.temperature_ = t
        self.transduction_proba_ = _softmax(logits_u / t)
        self._fit_rows: dict[bytes, int] = {}
        if accurate:
            for i, row in enumerate(x_u):
                self._fit_rows.setdefault(np.ascontiguousarray(row).tobytes(), i)
        if self.transduction_proba_.shape[0]:
            self.estimated_accuracy_ = float(self.transduction_proba_.max(axis=1).mean())
        elif self.cv_proba_ is not None:
            self.estimated_accuracy_ = float(self.cv_proba_.max(axis=1).mean())
        else:
            self.estimated_accuracy_ = math.nan

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "temperature_"):
            raise RuntimeError("AutoLabeler is not fitted")

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities.

        Parameters
        ----------
        X : ndarray of shape (n, d)

        Returns
        -------
        proba : ndarray of shape (n, k)
            Rows sum to 1, columns follow ``classes_``. For ``accurate``, rows identical to
            unlabeled rows given to :meth:`fit` get their transductive result; others the
            inductive extension (see module docstring).
        """
        self._check_fitted()
        x = np.asarray(X, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"X must be (n, {self.n_features_in_})")
        k = int(self.classes_.size)
        with threadpool_limits(limits=max(1, int(self.max_threads))):
            f = self._prep(x)
            lin = self._linear_logits(self._linear, f, k)
            if self.algorithm != "accurate":
                return _softmax(lin / self.temperature_)
            out = np.empty((x.shape[0], k))
            known = np.array(
                [self._fit_rows.get(np.ascontiguousarray(r).tobytes(), -1) for r in x],
                dtype=np.int64,
            )
            hit = known >= 0
            out[hit] = self.transduction_proba_[known[hit]]
            if (~hit).any():
                w = self.blend_
                z = (1.0 - w) * self._induct(f[~hit]) + w * lin[~hit]
                out[~hit] = _softmax(z / self.temperature_)
            return out

    def _induct(self, f: np.ndarray) -> np.ndarray:
        z = _l2_rows(self._pca.transform(f))
        n_fit = self._z_fit.shape[0]
        kk = int(min(self.n_neighbors, n_fit))
        dist, ind = self._nn_fit.kneighbors(z, n_neighbors=kk)
        sigma = np.maximum(dist[:, -1:], _EPS)
        w = np.exp(-(dist**2) / (sigma**2))
        scores = np.einsum("nk,nkc->nc", w, self._graph_scores_fit[ind])
        scores /= np.maximum(scores.sum(axis=1, keepdims=True), _EPS)
        return np.log(np.maximum(scores, 1e-9))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable class label per row.

        Parameters
        ----------
        X : ndarray of shape (n, d)

        Returns
        -------
        labels : ndarray of shape (n,), values from ``classes_``
        """
        return np.asarray(self.classes_[self.predict_proba(X).argmax(axis=1)])

    def auto_accept(
        self,
        target_precision: float,
        proba: np.ndarray | None = None,
        *,
        min_labeled_per_class: int = 5,
        **kwargs: Any,
    ) -> tuple[float, float, float]:
        """:func:`auto_accept_threshold` from this model's held-out predictions.

        Parameters
        ----------
        target_precision : float
        proba : ndarray of shape (m, k), optional
            Probabilities of the rows to be accepted (default ``transduction_proba_``); their
            max-probabilities are passed as ``scores_target``.
        min_labeled_per_class : int, default=5
            Accept nothing when a class has fewer labeled rows (the ModelArts precondition of
            auto labeling; below it a lucky labeled sample can fake precision: with 2 per class
            on the sklearn digits one run in five accepted labels at 0.93 precision).
        **kwargs
            Forwarded (``confidence``, ``method``, ``min_support``, ``support_confidence``).

        Returns
        -------
        threshold, estimated_precision, estimated_coverage : float
            ``(inf, nan, 0.0)`` when nothing may be accepted.
        """
        self._check_fitted()
        if self.cv_proba_ is None or self.cv_true_ is None:
            return math.inf, math.nan, 0.0
        if int(np.bincount(self.cv_true_).min()) < min_labeled_per_class:
            return math.inf, math.nan, 0.0
        p = self.transduction_proba_ if proba is None else np.asarray(proba)
        return auto_accept_threshold(
            self.cv_true_,
            self.cv_proba_,
            target_precision,
            scores_target=p.max(axis=1) if p.shape[0] else None,
            **kwargs,
        )
