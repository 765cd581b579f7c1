"""Text features for auto labeling: TF-IDF, and the choice between it and sentence embeddings.

Two representations, both dense, float32 and L2-normalised per row:

``minilm``
    384-d sentence embeddings. :class:`TextFeatures` only combines them: a subclass supplies them
    by overriding :meth:`TextFeatures.sentence_available` and :meth:`TextFeatures.embed_minilm`
    (:class:`labelpilot.mlmodels.text_encoders.TextEmbedder` with the packaged
    ``all-MiniLM-L6-v2``). Without one, only TF-IDF is used.
``tfidf``
    Word 1-2-gram TF-IDF (sublinear tf) reduced with truncated SVD (latent semantic
    analysis) to at most ``tfidf_components`` dimensions. It is fitted on every text passed to
    :meth:`TextFeatures.fit` (labeled and unlabeled; no labels are used), so its output depends on
    that corpus.

``mode`` chooses between them:

* ``"minilm"`` / ``"tfidf"``: that block only.
* ``"both"``: both blocks concatenated, each scaled by ``1/sqrt(2)`` so rows stay unit-norm and each
  block carries the same weight in distances and in a standardised linear model.
* ``"auto"`` (default): when labels are given to :meth:`TextFeatures.fit` (``-1`` = unlabeled) and
  every class has at least 2 labeled texts, the three candidates are compared by stratified
  cross-validated accuracy of a logistic regression on the labeled texts and the best one is kept
  (ties go to ``minilm``, then ``both``, then ``tfidf``). Without usable labels ``"both"`` is used.
  The choice is stored in ``mode_`` and the scores in ``cv_scores_``.

When sentence embeddings are unavailable, every mode falls back to the TF-IDF block.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from labelpilot.algorithms.linalg import l2_normalize_rows

__all__ = ["TextFeatures", "TextMode"]

TextMode = Literal["auto", "minilm", "tfidf", "both"]
_TFIDF_VERSION = "tfidf-v1"
_MODES = ("auto", "minilm", "tfidf", "both")
_AUTO_CANDIDATES = ("minilm", "both", "tfidf")  # preference order on ties


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return l2_normalize_rows(x).astype(np.float32)


class TextFeatures:
    """TF-IDF features for short texts, combined with sentence embeddings when a subclass has them.

    Parameters
    ----------
    mode : {"auto", "minilm", "tfidf", "both"}, default="auto"
        Representation; see the module docstring.
    tfidf_max_features : int, default=50000
        Vocabulary size of the TF-IDF vectoriser.
    tfidf_components : int, default=256
        SVD dimensions of the TF-IDF block (capped by the corpus size).
    ngram_range : tuple of int, default=(1, 2)
        Word n-grams for TF-IDF.
    cv_folds : int, default=3
        Maximum folds of the ``"auto"`` comparison (fewer when a class has fewer labeled texts).
    random_state : int, default=0
        Seed of the SVD and the cross-validation split.

    Attributes
    ----------
    mode_ : str
        Resolved representation after :meth:`fit` (``"minilm"``, ``"tfidf"`` or ``"both"``).
    cv_scores_ : dict of str to float
        Cross-validated accuracy per candidate when ``mode="auto"`` had labels; else empty.
    n_features_out_ : int
        Width of :meth:`transform` output.
    """

    sentence_dim: int = 0
    """Width of the sentence-embedding block (set by subclasses that provide one)."""

    def __init__(
        self,
        mode: TextMode = "auto",
        *,
        tfidf_max_features: int = 50_000,
        tfidf_components: int = 256,
        ngram_range: tuple[int, int] = (1, 2),
        cv_folds: int = 3,
        random_state: int = 0,
    ) -> None:
        self.mode = mode
        self.tfidf_max_features = tfidf_max_features
        self.tfidf_components = tfidf_components
        self.ngram_range = ngram_range
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.cv_scores_: dict[str, float] = {}
        self._tfidf: TfidfVectorizer | None = None
        self._svd: TruncatedSVD | None = None

    # ------------------------------------------------------------------ sentence block
    @property
    def minilm_available(self) -> bool:
        """Whether sentence embeddings can be computed (never, without a subclass)."""
        return False

    def embed_minilm(self, texts: Sequence[str]) -> np.ndarray:  # noqa: ARG002 - subclass hook
        """Sentence embeddings, shape (n, sentence_dim), float32, rows L2-normalised.

        Raises
        ------
        RuntimeError
            If no sentence encoder is available (use :meth:`transform`, which falls back).
        """
        raise RuntimeError("MiniLM model is not available")

    @property
    def sentence_version(self) -> str:
        """Identifier of the sentence-embedding block, for :attr:`version`."""
        return "none"

    # ------------------------------------------------------------------ TF-IDF
    def _fit_tfidf(self, texts: list[str]) -> None:
        vec = TfidfVectorizer(
            sublinear_tf=True,
            ngram_range=self.ngram_range,
            max_features=self.tfidf_max_features,
            min_df=1,
            strip_accents="unicode",
            dtype=np.float32,
        )
        mat = vec.fit_transform(texts)
        n_comp = int(min(self.tfidf_components, mat.shape[0] - 1, mat.shape[1] - 1))
        self._tfidf = vec
        self._svd = None
        if n_comp >= 2:
            svd = TruncatedSVD(n_components=n_comp, random_state=self.random_state)
            svd.fit(mat)
            self._svd = svd

    def embed_tfidf(self, texts: Sequence[str]) -> np.ndarray:
        """TF-IDF + SVD block (requires :meth:`fit`).

        Parameters
        ----------
        texts : sequence of str, length n

        Returns
        -------
        features : ndarray of shape (n, c), float32, rows L2-normalised; ``c <= tfidf_components``
        """
        if self._tfidf is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        mat = self._tfidf.transform([str(t) for t in texts])
        dense = self._svd.transform(mat) if self._svd is not None else mat.toarray()
        return _unit_rows(np.asarray(dense, dtype=np.float32))

    # ------------------------------------------------------------------ API
    def fit(
        self, texts: Sequence[str], y: Sequence[int] | np.ndarray | None = None
    ) -> TextFeatures:
        """Fit the TF-IDF block on all texts and resolve ``mode``.

        Parameters
        ----------
        texts : sequence of str, length n
            Labeled and unlabeled texts (the TF-IDF vocabulary and SVD use all of them).
        y : array-like of int, shape (n,), optional
            Class index per text, ``-1`` for unlabeled. Only used by ``mode="auto"``.

        Returns
        -------
        self : TextFeatures
        """
        if self.mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {self.mode!r}")
        texts_l = [str(t) for t in texts]
        if not texts_l:
            raise ValueError("fit needs at least one text")
        self._fit_tfidf(texts_l)
        self.cv_scores_ = {}
        wanted: str = self.mode
        if wanted in ("minilm", "both", "auto") and not self.minilm_available:
            wanted = "tfidf"
        if wanted == "auto":
            wanted = self._choose(texts_l, y)
        self.mode_ = wanted
        self.n_features_out_ = self._width()
        return self

    def _width(self) -> int:
        tfidf_w = (
            self._svd.n_components
            if self._svd is not None
            else len(self._tfidf.vocabulary_)
            if self._tfidf is not None
            else 0
        )
        dim = self.sentence_dim
        return {"minilm": dim, "tfidf": tfidf_w, "both": dim + tfidf_w}[self.mode_]

    def _choose(self, texts: list[str], y: Sequence[int] | np.ndarray | None) -> str:
        if y is None:
            return "both"
        y_arr = np.asarray(y)
        if y_arr.shape[0] != len(texts):
            raise ValueError("y must have one entry per text")
        mask = y_arr != -1
        classes, counts = np.unique(y_arr[mask], return_counts=True)
        if classes.size < 2 or counts.min() < 2:
            return "both"
        n_splits = int(min(self.cv_folds, counts.min()))
        lab_texts = [t for t, m in zip(texts, mask, strict=True) if m]
        y_lab = y_arr[mask]
        cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.random_state)
        for cand in _AUTO_CANDIDATES:
            feats = self._features(lab_texts, cand)
            clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
            self.cv_scores_[cand] = float(cross_val_score(clf, feats, y_lab, cv=cv).mean())
        best = max(self.cv_scores_.values())
        return next(c for c in _AUTO_CANDIDATES if self.cv_scores_[c] >= best - 1e-12)

    def _features(self, texts: list[str], mode: str) -> np.ndarray:
        if mode == "tfidf":
            return self.embed_tfidf(texts)
        if mode == "minilm":
            return self.embed_minilm(texts)
        scale = np.float32(1.0 / np.sqrt(2.0))
        return np.hstack([self.embed_minilm(texts) * scale, self.embed_tfidf(texts) * scale])

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Features of ``texts`` in the resolved mode.

        Parameters
        ----------
        texts : sequence of str, length n

        Returns
        -------
        features : ndarray of shape (n, n_features_out_), float32, rows unit-norm
        """
        if not hasattr(self, "mode_"):
            raise RuntimeError(f"{type(self).__name__} is not fitted")
        return self._features([str(t) for t in texts], self.mode_)

    def fit_transform(
        self, texts: Sequence[str], y: Sequence[int] | np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` on the same texts (MiniLM runs once per text)."""
        return self.fit(texts, y).transform(texts)

    @property
    def version(self) -> str:
        """Identifier of the feature definition, for cache keys.

        The MiniLM part is stable across corpora and can be cached by ``(text, version)``. The
        TF-IDF block depends on the corpus given to :meth:`fit`, so its vectors must not be reused
        across fits.
        """
        mode = getattr(self, "mode_", self.mode)
        minilm = self.sentence_version
        tfidf = (
            f"{_TFIDF_VERSION}/ng{self.ngram_range[0]}-{self.ngram_range[1]}"
            f"/v{self.tfidf_max_features}/svd{self.tfidf_components}"
        )
        parts = {"minilm": minilm, "tfidf": tfidf, "both": f"{minilm}+{tfidf}"}
        return f"text:{mode}:{parts.get(mode, f'{minilm}|{tfidf}')}"
