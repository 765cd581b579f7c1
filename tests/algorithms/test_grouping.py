"""ImageGrouper on real MNIST digits embedded with the ONNX MobileNetV2."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFilter
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score as nmi

from labelpilot.algorithms.grouping import ImageGrouper
from labelpilot.algorithms.image_stats import image_stats
from labelpilot.mlmodels.image_embedder import ImageEmbedder


@pytest.fixture(scope="module")
def digits_1000(mnist, embedder: ImageEmbedder) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings and classes of 1,000 digits, 100 per class, drawn at random."""
    x, y = mnist
    rng = np.random.default_rng(0)
    idx = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), 100, replace=False) for c in range(10)]
    )
    idx = rng.permutation(idx)
    return embedder.embed([Image.fromarray(x[i]) for i in idx]), y[idx]


TwoLevel = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def two_level(mnist, embedder: ImageEmbedder):
    """``kind -> (embeddings, stats, digit, level)`` of :func:`_two_level_set`, memoised."""
    cache: dict[str, TwoLevel] = {}

    def get(kind: str) -> TwoLevel:
        if kind not in cache:
            images, content, level = _two_level_set(mnist, kind)
            cache[kind] = (embedder.embed(images), image_stats(images), content, level)
        return cache[kind]

    return get


def _two_level_set(mnist, kind: str) -> tuple[list[Image.Image], np.ndarray, np.ndarray]:
    """60 digits "3" and 60 digits "7", dark on white, each shown at two levels of ``kind``."""
    x, y = mnist
    sel = np.concatenate([np.flatnonzero(y == c)[:60] for c in (3, 7)])
    images, content, level = [], [], []
    for lv in (0, 1):
        for i in sel:
            ink = 255 - x[i].astype(np.float32)  # paper-like: white background
            if kind == "brightness":
                img = Image.fromarray((ink * (1.0 if lv == 0 else 0.5)).astype(np.uint8))
            elif kind == "sharpness":
                img = Image.fromarray(ink.astype(np.uint8))
                if lv == 1:
                    img = img.filter(ImageFilter.GaussianBlur(1.5))
            else:  # colorfulness: grey vs sepia-tinted copy
                tint = np.array([1.0, 1.0, 1.0] if lv == 0 else [1.0, 0.55, 0.2])
                img = Image.fromarray((ink[..., None] * tint).astype(np.uint8))
            images.append(img)
            content.append(y[i])
            level.append(lv)
    return images, np.array(content), np.array(level)


def test_nmi_on_1000_mnist_digits(digits_1000) -> None:
    emb, y = digits_1000
    labels = ImageGrouper(10).fit_predict(emb)
    assert labels.shape == (1000,) and labels.dtype == np.int64
    assert set(labels.tolist()) == set(range(10))
    score = nmi(y, labels)
    baseline = nmi(y, KMeans(10, n_init=3, random_state=0).fit_predict(emb))
    # Measured: ImageGrouper 0.735-0.753 on this subset over 5 seeds, k-means 0.52 (the
    # full 5,000 reach 0.83, see bench/grouping.py). 0.68 leaves room for BLAS/platform noise.
    assert score > 0.68, score
    assert score > baseline + 0.1, (score, baseline)


def test_deterministic_for_fixed_random_state(digits_1000) -> None:
    emb = digits_1000[0][:400]
    a = ImageGrouper(10, random_state=3).fit(emb)
    b = ImageGrouper(10, random_state=3).fit(emb.copy())
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)
    np.testing.assert_array_equal(a.fit_predict(emb), a.labels_)


def test_subsample_path_with_nystroem_extension(digits_1000) -> None:
    emb, y = digits_1000
    g = ImageGrouper(10, max_graph_samples=500, random_state=0).fit(emb)
    assert g.anchor_indices_.shape == (500,)
    assert g.labels_.shape == (1000,) and g.labels_.min() >= 0 and g.labels_.max() < 10
    rest = np.setdiff1d(np.arange(1000), g.anchor_indices_)
    # The extended images are grouped about as well as the anchors themselves.
    assert nmi(y[rest], g.labels_[rest]) > 0.6
    assert nmi(y, g.labels_) > 0.6
    # predict() on unseen copies of the anchors agrees with their fitted labels.
    agree = (g.predict(emb[g.anchor_indices_]) == g.labels_[g.anchor_indices_]).mean()
    assert agree > 0.9, agree
    full = ImageGrouper(10, max_graph_samples=300, random_state=0).fit(emb[:300])
    np.testing.assert_array_equal(full.anchor_indices_, np.arange(300))


@pytest.mark.parametrize("kind", ["brightness", "sharpness", "colorfulness"])
def test_statistic_option_changes_the_split(two_level, kind: str) -> None:
    """Same digits at two levels of a statistic: content split when off, level split when on."""
    emb, stats, content, level = two_level(kind)
    off = ImageGrouper(2).fit_predict(emb, stats)
    on = ImageGrouper(2, **{f"use_{kind}": True}).fit_predict(emb, stats)
    # Measured: off -> NMI with the digit 0.78-0.88 and with the level 0.00; on -> 1.0 / 0.0.
    assert nmi(level, off) < 0.1 and nmi(content, off) > 0.5
    assert nmi(level, on) > 0.9 and nmi(content, on) < 0.1


def test_statistics_are_appended_with_weight(two_level) -> None:
    emb, stats, _, _ = two_level("brightness")
    g = ImageGrouper(2, use_brightness=True, use_sharpness=True, stat_weight=1.5).fit(emb, stats)
    assert g.stat_names_ == ("brightness", "sharpness")
    block = g.embedding_[:, -2:]
    np.testing.assert_allclose(block.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(block.std(axis=0), 1.5, rtol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(g.embedding_[:, :-2], axis=1), 1.0, rtol=1e-5)
    # Stats are ignored when no option is on.
    plain = ImageGrouper(2).fit(emb, stats)
    assert plain.stat_names_ == () and plain.embedding_.shape[1] == g.embedding_.shape[1] - 2


def test_duplicates_and_small_inputs(digits_1000) -> None:
    emb, _ = digits_1000
    dup = np.vstack([emb[:30]] * 3)  # every image three times: zero neighbour distances
    labels = ImageGrouper(3).fit_predict(dup)
    assert np.isfinite(labels).all() and set(labels.tolist()) <= {0, 1, 2}
    np.testing.assert_array_equal(labels[:30], labels[30:60])
    tiny = ImageGrouper(2).fit_predict(emb[:5])
    assert tiny.shape == (5,)


def test_input_validation(digits_1000) -> None:
    emb, _ = digits_1000
    x = emb[:50]
    with pytest.raises(ValueError, match="n_clusters"):
        ImageGrouper(1).fit(x)
    with pytest.raises(ValueError, match="n_clusters"):
        ImageGrouper(50).fit(x)
    with pytest.raises(ValueError, match="n_clusters"):
        ImageGrouper(0).fit(x)
    with pytest.raises(TypeError):
        ImageGrouper(2.5).fit(x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="2-D"):
        ImageGrouper(2).fit(x[0])
    bad = x.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        ImageGrouper(2).fit(bad)
    with pytest.raises(ValueError, match="stats are required"):
        ImageGrouper(2, use_brightness=True).fit(x)
    with pytest.raises(ValueError, match="shape"):
        ImageGrouper(2, use_colorfulness=True).fit(x, np.zeros((49, 7)))
    with pytest.raises(ValueError, match="stat_weight"):
        ImageGrouper(2, stat_weight=-1.0).fit(x)
    with pytest.raises(ValueError, match="diffusion_time"):
        ImageGrouper(2, diffusion_time="soon").fit(x)
    with pytest.raises(ValueError, match="not fitted"):
        ImageGrouper(2).predict(x)
    g = ImageGrouper(2).fit(x)
    with pytest.raises(ValueError, match="features"):
        g.predict(x[:, :10])


def test_sklearn_conventions() -> None:
    from sklearn.base import clone

    g = ImageGrouper(4, use_brightness=True, random_state=7)
    params = g.get_params()
    assert params["n_clusters"] == 4 and params["use_brightness"] is True
    assert params["random_state"] == 7
    c = clone(g)
    assert c.get_params() == params and not hasattr(c, "labels_")
