"""Temperature calibration of held-out predictions and the auto-accept threshold.

Arrays in, arrays out; used by :class:`~labelpilot.algorithms.active_learning.AutoLabeler`.

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
from typing import Literal

import numpy as np
from scipy import optimize, stats

from labelpilot.algorithms.linalg import softmax

__all__ = [
    "AcceptMethod",
    "auto_accept_threshold",
    "best_blend_weight",
    "error_inflation_bound",
    "expected_calibration_error",
    "fit_temperature",
]

AcceptMethod = Literal["calibration", "wilson", "clopper-pearson"]
_EPS = 1e-12


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


def best_blend_weight(
    graph_oof: np.ndarray,
    lin_oof: np.ndarray,
    y: np.ndarray,
    grid: tuple[float, ...],
    scores: dict[float, float],
) -> float:
    """Weight ``w`` of ``(1 - w) graph + w linear`` whose temperature-scaled held-out predictions
    have the lowest negative log-likelihood.

    Parameters
    ----------
    graph_oof, lin_oof : ndarray of shape (n, k)
        Held-out log-scores of the two models.
    y : ndarray of shape (n,)
        True class indices.
    grid : tuple of float
        Candidate weights, tried in order (the first of equal scores wins).
    scores : dict of float to float
        Filled with the NLL of every candidate.

    Returns
    -------
    float
    """
    rows = np.arange(y.shape[0])
    best_w, best_nll = 0.0, math.inf
    for w in grid:
        z = (1.0 - w) * graph_oof + w * lin_oof
        p = softmax(z / fit_temperature(z, y))
        nll = float(-np.mean(np.log(np.maximum(p[rows, y], 1e-300))))
        scores[w] = nll
        if nll < best_nll - 1e-9:
            best_w, best_nll = w, nll
    return best_w
