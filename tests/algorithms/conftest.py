"""Fixtures shared by the algorithm tests: the packaged MNIST sample and the image embedder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from labelpilot.mlmodels.image_embedder import ImageEmbedder
from tests.support.images import mnist as load_mnist


@pytest.fixture(scope="module")
def mnist() -> tuple[np.ndarray, np.ndarray]:
    return load_mnist()


@pytest.fixture(scope="module")
def embedder(model_dir: Path) -> ImageEmbedder:
    return ImageEmbedder(cache_dir=model_dir)
