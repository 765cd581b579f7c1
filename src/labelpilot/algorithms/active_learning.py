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

Calibration and auto accept
---------------------------
Probabilities are temperature-scaled on held-out predictions of the labeled rows, and
:meth:`AutoLabeler.auto_accept` picks the lowest score threshold whose accepted labels still reach
a target precision; see :mod:`labelpilot.algorithms.calibration` for both.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from labelpilot.algorithms._graph import self_tuning_knn_graph, spectral_embedding
from labelpilot.algorithms.calibration import (
    auto_accept_threshold,
    best_blend_weight,
    expected_calibration_error,
    fit_temperature,
)
from labelpilot.algorithms.label_spreading import normalise_scores, spread_scores
from labelpilot.algorithms.linalg import l2_normalize_rows, softmax

__all__ = ["AutoLabeler"]

Algorithm = Literal["fast", "accurate"]
_EPS = 1e-12
_BLEND_GRID = (0.0, 0.25, 0.5, 0.75, 1.0)


class AutoLabeler(BaseEstimator):  # type: ignore[misc, unused-ignore]  # sklearn is untyped
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
        return l2_normalize_rows(x)

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
        z = l2_normalize_rows(self._pca.fit_transform(f_all))
        s1, nn = self_tuning_knn_graph(z, self.n_neighbors)
        n_vec = self.n_eigenvectors or int(np.clip(4 * n_classes, 20, 64))
        emb = spectral_embedding(s1, n_vec, self.random_state)
        s2, _ = self_tuning_knn_graph(emb, self.n_neighbors)
        self._z_fit = z
        self._nn_fit = nn
        self._s_graph = s2

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
            full, held_out, graph_cv = spread_scores(
                self._s_graph, self.alpha, n_l, y, k, folds, loo_max_labeled=self.loo_max_labeled
            )
            self._graph_scores_fit = normalise_scores(full, k)
            graph_u = np.log(np.maximum(self._graph_scores_fit[n_l:], 1e-9))
            if held_out is not None and oof_lin is not None:
                graph_oof = np.log(np.maximum(normalise_scores(held_out, k), 1e-9))
                if self.blend == "auto":
                    w = best_blend_weight(graph_oof, oof_lin, y, _BLEND_GRID, self.blend_scores_)
                else:
                    w = float(np.clip(float(self.blend), 0.0, 1.0))
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
            cv_p = softmax(oof / t)
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
        self.transduction_proba_ = softmax(logits_u / t)
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
                return softmax(lin / self.temperature_)
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
                out[~hit] = softmax(z / self.temperature_)
            return out

    def _induct(self, f: np.ndarray) -> np.ndarray:
        z = l2_normalize_rows(self._pca.transform(f))
        n_fit = self._z_fit.shape[0]
        kk = int(min(self.n_neighbors, n_fit))
        dist, ind = self._nn_fit.kneighbors(z, n_neighbors=kk)
        sigma = np.maximum(dist[:, -1:], _EPS)
        w = np.exp(-(dist**2) / (sigma**2))
        scores = np.einsum("nk,nkc->nc", w, self._graph_scores_fit[ind])
        scores /= np.maximum(scores.sum(axis=1, keepdims=True), _EPS)
        return np.asarray(np.log(np.maximum(scores, 1e-9)))

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
