"""Hard-example mining for auto labeling: the ModelArts hard-example reasons of each sample.

:class:`HardExampleMiner` looks at the auto-labeled (unlabeled) samples next to the labeled ones and
returns, per sample, a hard flag, a hard coefficient in [0, 1] and the ModelArts reason ids
(API contract §3.6) of every rule that fired. Arrays in, arrays out.

Rules
-----
Every rule gives a *strength* in [0, 1] per sample; the rule fires when its strength is >= 0.5.

1 - low confidence
    ``p = max(proba)``. With ``confidence_scope=(low, high)`` (the ModelArts window, e.g.
    ``"0.10-0.90"``) the rule fires when ``low <= p <= high``. Without it, it fires when ``p`` is
    below the midpoint between chance and certainty, ``(1 + 1/k) / 2`` (0.75 for 2 classes, 0.55
    for 10). Strength ``(1 - p) / (1 - 1/k)`` rescaled so that the firing boundary maps to 0.5.
2 - clustering disagrees with the prediction
    k-means (``n_clusters``, default ``2 k``; ``n_init=4``) on the labeled and unlabeled embeddings
    after PCA whitening (fitted on them, rows L2-normalised). Each cluster gets the majority class
    of its labeled members when it has at least 2 of them and the majority holds at least half of
    them. The rule fires when that class differs from the prediction; strength = majority share.
    Clusters without such a majority never fire.
3 - far from the same class's labeled samples
    Cosine distance from the sample to the nearest labeled sample of its *predicted* class, divided
    by that class's threshold: the ``far_quantile`` (0.95) quantile of the labeled samples'
    distances to their nearest other labeled sample of the same class (pooled over all classes
    when a class has fewer than 5 labeled samples). Fires when the ratio exceeds 1; strength
    ``ratio / 2`` (clipped).
5-10 - image-level distribution shift
    From :func:`~labelpilot.algorithms.image_stats.image_stats` rows: 5 resolution
    (``log(width * height)``), 6 aspect ratio (``log(width / height)``), 7 brightness,
    8 saturation, 9 colourfulness, 10 sharpness (``log1p`` of the Laplacian variance). Robust
    z-score ``|x - median| / max(1.4826 MAD, floor)`` against the labeled samples; fires above
    ``z_threshold`` (3.5, Iglewicz & Hoaglin); strength ``z / (2 z_threshold)``. The floors
    (``STAT_SCALE_FLOORS``) keep a statistic that is constant in the labeled set (all images
    28 x 28, all grey) from firing on tiny numerical differences. Skipped without statistics.
19-29 - prediction changes under an augmentation
    For each entry of ``augmented_proba`` (reason id -> probabilities of the augmented sample), the
    rule fires when the arg-max class differs from ``predicted``; strength = total variation
    distance between the two probability rows (at least 0.5 when it fires). See
    :func:`~labelpilot.algorithms.augment.augment_images` and
    :data:`~labelpilot.algorithms.augment.DEFAULT_AUGMENTATIONS`.
30 - outlier
    k-nearest-neighbour outlier score (Ramaswamy et al. 2000) on the labeled and unlabeled samples
    together: ``log`` of the mean cosine distance to the ``n_neighbors`` (10) nearest other
    samples. It fires when its robust z-score against the labeled samples' own scores exceeds
    ``z_threshold``; strength as for rules 5-10. The labeled samples serve as the in-distribution
    reference, so the threshold adapts to how spread out a data set's embeddings are. Measured on
    1,000 MNIST digits with 25 % injected corruptions, a local outlier factor and an isolation
    forest (raw or whitened PCA space) flagged about as many clean digits as injected ones; this
    score flagged none of the clean digits.

Rules 0, 4 and 11-18 (detection boxes, video frames) do not apply to classification and are not
produced.

Coefficient and flag
--------------------
As :func:`~labelpilot.algorithms.hard_rules.combine_strengths`: ``hard`` when a rule fires, the
noisy-OR of the fired strengths as ``coefficient``.

Augmentations
-------------
The augmented copies come from :mod:`labelpilot.algorithms.augment`; text samples get no
augmentation (reasons 19-29 never fire for text).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from labelpilot.algorithms.augment import AUGMENTATIONS
from labelpilot.algorithms.hard_rules import (
    HardExamples,
    combine_strengths,
    low_confidence_strength,
    prediction_change_strength,
)
from labelpilot.algorithms.linalg import l2_normalize_rows

__all__ = ["OUTLIER_SCALE_FLOOR", "STAT_SCALE_FLOORS", "HardExampleMiner"]


STAT_SCALE_FLOORS: dict[int, float] = {
    5: 0.10,  # log area: 10 % change of pixel count ~ one robust unit
    6: 0.05,  # log aspect ratio
    7: 0.02,  # mean luma in [0, 1]
    8: 0.02,  # mean HSV saturation in [0, 1]
    9: 2.0,  # Hasler-Suesstrunk colourfulness (0 grey, 15 slightly colourful)
    10: 0.10,  # log1p Laplacian variance
}
"""Smallest robust scale per statistic rule (see module docstring)."""

OUTLIER_SCALE_FLOOR = 0.05
"""Smallest robust scale of the rule 30 log-distance score (a 5 % distance change)."""


def _stat_columns(stats: np.ndarray) -> dict[int, np.ndarray]:
    s = np.asarray(stats, dtype=np.float64)
    if s.ndim != 2 or s.shape[1] != 7:
        raise ValueError("image statistics must be (n, 7) as returned by image_stats")
    w = np.maximum(s[:, 4], 1.0)
    h = np.maximum(s[:, 5], 1.0)
    return {
        5: np.log(w * h),
        6: np.log(w / h),
        7: s[:, 0],
        8: s[:, 1],
        9: s[:, 2],
        10: np.log1p(np.maximum(s[:, 3], 0.0)),
    }


def _l2_rows(x: np.ndarray) -> np.ndarray:
    return l2_normalize_rows(np.asarray(x, dtype=np.float64))


# ---------------------------------------------------------------------------------------------
# Miner
# ---------------------------------------------------------------------------------------------


class HardExampleMiner:
    """Flag auto-labeled samples that need a human look (see the module docstring for rules).

    Parameters
    ----------
    confidence_scope : tuple of float (low, high) or None, default=None
        Rule 1 window on the max-probability; ``None`` = below ``(1 + 1/k) / 2``.
    n_clusters : int or None, default=None
        k-means clusters of rule 2; ``None`` = ``2 * n_classes``.
    far_quantile : float, default=0.95
        Rule 3 quantile of labeled within-class nearest-neighbour distances.
    z_threshold : float, default=3.5
        Rules 5-10 robust z-score threshold.
    n_neighbors : int, default=10
        Neighbours of the rule 30 outlier score.
    n_components : int, default=64
        PCA (whitened) dimensions of the rule 2 clustering space.
    rules : sequence of int or None, default=None
        Restrict to these reason ids (``None`` = all applicable).
    random_state : int, default=0
    max_threads : int, default=1
        BLAS/OpenMP threads.

    Attributes
    ----------
    classes_ : ndarray of shape (k,)
        Sorted labeled classes; ``predicted`` values and ``proba`` columns refer to them.
    distance_threshold_ : ndarray of shape (k,)
        Rule 3 thresholds per class.
    stat_median_, stat_scale_ : dict of int to float
        Rules 5-10 reference location and scale (empty without statistics).
    """

    def __init__(
        self,
        confidence_scope: tuple[float, float] | None = None,
        *,
        n_clusters: int | None = None,
        far_quantile: float = 0.95,
        z_threshold: float = 3.5,
        n_neighbors: int = 10,
        n_components: int = 64,
        rules: Sequence[int] | None = None,
        random_state: int = 0,
        max_threads: int = 1,
    ) -> None:
        self.confidence_scope = confidence_scope
        self.n_clusters = n_clusters
        self.far_quantile = far_quantile
        self.z_threshold = z_threshold
        self.n_neighbors = n_neighbors
        self.n_components = n_components
        self.rules = rules
        self.random_state = random_state
        self.max_threads = max_threads

    def _enabled(self, rule: int) -> bool:
        return self.rules is None or rule in self.rules

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        X_labeled: np.ndarray,
        y_labeled: np.ndarray,
        stats_labeled: np.ndarray | None = None,
    ) -> HardExampleMiner:
        """Learn the labeled reference: embeddings per class, distances, image statistics.

        Parameters
        ----------
        X_labeled : ndarray of shape (n_l, d)
            Embeddings of the labeled samples.
        y_labeled : ndarray of shape (n_l,)
        stats_labeled : ndarray of shape (n_l, 7), optional
            :func:`~labelpilot.algorithms.image_stats.image_stats` of the labeled images.

        Returns
        -------
        self : HardExampleMiner
        """
        x = np.asarray(X_labeled, dtype=np.float64)
        y_raw = np.asarray(y_labeled)
        if x.ndim != 2 or y_raw.ndim != 1 or x.shape[0] != y_raw.shape[0] or x.shape[0] == 0:
            raise ValueError("X_labeled must be (n_l, d) and y_labeled (n_l,), n_l >= 1")
        if self.confidence_scope is not None:
            lo, hi = self.confidence_scope
            if not 0.0 <= lo <= hi <= 1.0:
                raise ValueError("confidence_scope must satisfy 0 <= low <= high <= 1")
        self.classes_, y = np.unique(y_raw, return_inverse=True)
        k = self.classes_.size
        self._x_l = _l2_rows(x)
        self._y_l = y
        self.n_features_in_ = x.shape[1]
        with threadpool_limits(limits=max(1, int(self.max_threads))):
            self.distance_threshold_ = self._fit_distances(k)
        self.stat_median_: dict[int, float] = {}
        self.stat_scale_: dict[int, float] = {}
        if stats_labeled is not None:
            cols = _stat_columns(stats_labeled)
            if cols[5].shape[0] != x.shape[0]:
                raise ValueError("stats_labeled must have one row per labeled sample")
            for rule, col in cols.items():
                med = float(np.median(col))
                mad = float(np.median(np.abs(col - med))) * 1.4826
                self.stat_median_[rule] = med
                self.stat_scale_[rule] = max(mad, STAT_SCALE_FLOORS[rule])
        return self

    def _fit_distances(self, k: int) -> np.ndarray:
        """Rule 3 threshold per class (cosine distance to the nearest same-class labeled row)."""
        within: list[np.ndarray] = []
        per_class: list[np.ndarray | None] = []
        for c in range(k):
            xc = self._x_l[self._y_l == c]
            if xc.shape[0] < 2:
                per_class.append(None)
                continue
            sim = xc @ xc.T
            np.fill_diagonal(sim, -np.inf)
            d = 1.0 - sim.max(axis=1)
            within.append(d)
            per_class.append(d)
        pooled = np.concatenate(within) if within else np.array([1.0])
        pooled_thr = float(np.quantile(pooled, self.far_quantile))
        thr = np.empty(k)
        for c, d in enumerate(per_class):
            thr[c] = (
                float(np.quantile(d, self.far_quantile))
                if d is not None and d.size >= 5
                else pooled_thr
            )
        return np.maximum(thr, 1e-6)

    # ------------------------------------------------------------------ score
    def score(
        self,
        X_unlabeled: np.ndarray,
        proba: np.ndarray,
        predicted: np.ndarray | None = None,
        stats_unlabeled: np.ndarray | None = None,
        augmented_proba: Mapping[int, np.ndarray] | None = None,
    ) -> HardExamples:
        """Apply every applicable rule to the unlabeled samples.

        Parameters
        ----------
        X_unlabeled : ndarray of shape (n_u, d)
            Embeddings (same space as in :meth:`fit`).
        proba : ndarray of shape (n_u, k)
            Class probabilities, columns in ``classes_`` order.
        predicted : ndarray of shape (n_u,), optional
            Predicted labels (values of ``classes_``); default ``classes_[proba.argmax(1)]``.
        stats_unlabeled : ndarray of shape (n_u, 7), optional
            Image statistics; rules 5-10 need them and statistics given to :meth:`fit`.
        augmented_proba : mapping of int to ndarray of shape (n_u, k), optional
            Reason id (19-29) -> probabilities of the augmented samples.

        Returns
        -------
        HardExamples
        """
        if not hasattr(self, "classes_"):
            raise RuntimeError("HardExampleMiner is not fitted")
        x = np.asarray(X_unlabeled, dtype=np.float64)
        p = np.asarray(proba, dtype=np.float64)
        k = self.classes_.size
        n = x.shape[0]
        if x.ndim != 2 or x.shape[1] != self.n_features_in_:
            raise ValueError(f"X_unlabeled must be (n_u, {self.n_features_in_})")
        if p.shape != (n, k):
            raise ValueError(f"proba must be ({n}, {k})")
        if predicted is None:
            pred = p.argmax(axis=1)
        else:
            pred_raw = np.asarray(predicted)
            pred = np.searchsorted(self.classes_, pred_raw)
            pred = np.clip(pred, 0, k - 1)
            if pred_raw.shape != (n,) or not np.all(self.classes_[pred] == pred_raw):
                raise ValueError("predicted must be (n_u,) with values from classes_")
        strengths: dict[int, np.ndarray] = {}
        if n == 0:
            return HardExamples(np.zeros(0, bool), np.zeros(0), [], strengths)
        xu = _l2_rows(x)
        with threadpool_limits(limits=max(1, int(self.max_threads))):
            if self._enabled(1):
                strengths[1] = self._rule_confidence(p)
            if self._enabled(3):
                strengths[3] = self._rule_far(xu, pred)
            if self._enabled(2) and self._x_l.shape[0] + n >= 3:
                z_all = self._whitened(np.vstack([self._x_l, xu]))
                strengths[2] = self._rule_cluster(z_all, pred)
            if self._enabled(30) and self._x_l.shape[0] >= 3:
                strengths[30] = self._rule_outlier(np.vstack([self._x_l, xu]))
        if stats_unlabeled is not None and self.stat_median_:
            cols = _stat_columns(stats_unlabeled)
            if cols[5].shape[0] != n:
                raise ValueError("stats_unlabeled must have one row per unlabeled sample")
            for rule, col in cols.items():
                if self._enabled(rule):
                    z = np.abs(col - self.stat_median_[rule]) / self.stat_scale_[rule]
                    strengths[rule] = np.clip(z / (2.0 * self.z_threshold), 0.0, 1.0)
        for rule, aug in (augmented_proba or {}).items():
            if rule not in AUGMENTATIONS:
                raise ValueError(f"augmented_proba keys must be reason ids 19-29, got {rule}")
            if not self._enabled(rule):
                continue
            a = np.asarray(aug, dtype=np.float64)
            if a.shape != (n, k):
                raise ValueError(f"augmented_proba[{rule}] must be ({n}, {k})")
            tv = 0.5 * np.abs(a - p).sum(axis=1)
            strengths[rule] = prediction_change_strength(tv, a.argmax(axis=1) != pred)
        return combine_strengths(strengths, n)

    def _rule_confidence(self, p: np.ndarray) -> np.ndarray:
        return low_confidence_strength(p.max(axis=1), p.shape[1], self.confidence_scope)

    def _rule_far(self, xu: np.ndarray, pred: np.ndarray) -> np.ndarray:
        out = np.zeros(xu.shape[0])
        for c in range(self.classes_.size):
            rows = pred == c
            ref = self._x_l[self._y_l == c]
            if not rows.any() or ref.shape[0] == 0:
                continue
            d = 1.0 - (xu[rows] @ ref.T).max(axis=1)
            out[rows] = np.clip(0.5 * d / self.distance_threshold_[c], 0.0, 1.0)
        return out

    def _whitened(self, x_all: np.ndarray) -> np.ndarray:
        n, d = x_all.shape
        n_comp = int(min(self.n_components, d, max(n - 1, 1)))
        pca = PCA(n_components=n_comp, whiten=True, random_state=self.random_state)
        return _l2_rows(pca.fit_transform(x_all))

    def _rule_cluster(self, z_all: np.ndarray, pred: np.ndarray) -> np.ndarray:
        n_l = self._x_l.shape[0]
        k = self.classes_.size
        n_clusters = int(min(self.n_clusters or 2 * k, z_all.shape[0]))
        if n_clusters < 2:
            return np.zeros(pred.shape[0])
        km = KMeans(n_clusters=n_clusters, n_init=4, random_state=self.random_state)
        assign = km.fit_predict(z_all)
        a_l, a_u = assign[:n_l], assign[n_l:]
        cluster_class = np.full(n_clusters, -1)
        cluster_share = np.zeros(n_clusters)
        for c in range(n_clusters):
            members = self._y_l[a_l == c]
            if members.size < 2:
                continue
            counts = np.bincount(members, minlength=k)
            share = counts.max() / members.size
            if share >= 0.5:
                cluster_class[c] = int(counts.argmax())
                cluster_share[c] = share
        voted = cluster_class[a_u]
        disagree = (voted >= 0) & (voted != pred)
        self.cluster_labels_ = assign
        return np.where(disagree, np.maximum(cluster_share[a_u], 0.5), 0.0)

    def _rule_outlier(self, x_all: np.ndarray) -> np.ndarray:
        n_l = self._x_l.shape[0]
        kk = int(min(self.n_neighbors, x_all.shape[0] - 1))
        dist, _ = NearestNeighbors(n_neighbors=kk + 1).fit(x_all).kneighbors(x_all)
        # column 0 is the sample itself (distance 0); euclidean on unit rows -> cosine distance
        cos = 0.5 * dist[:, 1:] ** 2
        score = np.log(np.maximum(cos.mean(axis=1), 1e-12))
        ref = score[:n_l]
        med = float(np.median(ref))
        scale = max(1.4826 * float(np.median(np.abs(ref - med))), OUTLIER_SCALE_FLOOR)
        z = (score[n_l:] - med) / scale  # one-sided: only unusually isolated samples
        return np.asarray(np.clip(z / (2.0 * self.z_threshold), 0.0, 1.0))
