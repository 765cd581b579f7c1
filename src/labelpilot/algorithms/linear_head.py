"""Linear classification heads on fixed features, and how they are split and scored.

Pure scikit-learn: arrays and label lists in, fitted (unfitted) pipelines, masks and metric
dictionaries out. auto-deploy trains these on image embeddings, text embeddings or raw texts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

MAX_FOLDS = 5


def linear_pipeline(C: float, max_iter: int) -> Any:
    """Standardised logistic regression on dense features (an unfitted ``Pipeline``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))


def tfidf_pipeline(C: float, max_iter: int) -> Any:
    """Word uni- and bigram TF-IDF, then logistic regression, on raw texts."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=C, max_iter=max_iter),
    )


def split(labels: list[str], ratio: float, seed: int) -> np.ndarray:
    """Boolean mask of the held-out samples: per label round(n * ratio), at least one."""
    rng = np.random.default_rng(seed)
    y = np.array(labels)
    held = np.zeros(len(y), dtype=bool)
    for name in sorted(set(labels)):
        idx = np.flatnonzero(y == name)
        n_eval = min(len(idx) - 1, max(1, round(len(idx) * ratio)))
        held[rng.permutation(idx)[:n_eval]] = True
    return held


def text_feature_scores(
    embeddings: np.ndarray,
    texts: Sequence[str],
    y: np.ndarray,
    *,
    C: float,
    max_iter: int,
    seed: int,
) -> dict[str, float]:
    """Cross-validated accuracy of the embedding head (``minilm``) and the ``tfidf`` head.

    ``embeddings`` ``(n, dim)``, ``texts`` and ``y`` ``(n,)`` are the training split. Empty when
    a label has fewer than two samples (no stratified folds).
    """
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = min(MAX_FOLDS, int(min(Counter(y.tolist()).values())))
    if folds < 2:
        return {}
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    return {
        "minilm": round(
            float(cross_val_score(linear_pipeline(C, max_iter), embeddings, y, cv=cv).mean()), 4
        ),
        "tfidf": round(
            float(cross_val_score(tfidf_pipeline(C, max_iter), list(texts), y, cv=cv).mean()), 4
        ),
    }


def class_metrics(y_true: list[str], y_pred: list[str], classes: list[str]) -> dict[str, Any]:
    """Accuracy and per-class precision, recall, F1 and support, rounded to 4 digits."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "per_class": {
            c: {
                "precision": round(float(p[i]), 4),
                "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4),
                "support": int(n[i]),
            }
            for i, c in enumerate(classes)
        },
    }
