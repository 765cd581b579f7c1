"""Image decoding, statistics and the MobileNetV2 ONNX embedder, on real packaged images."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from scipy import ndimage

from labelpilot.algorithms.image_decode import load_image
from labelpilot.algorithms.image_stats import STAT_NAMES, image_stats, laplacian_variance
from labelpilot.mlmodels.backbones import ONNX_FILE
from labelpilot.mlmodels.image_embedder import ImageEmbedder

SKIMAGE_DATA = Path(__import__("skimage").__file__).parent / "data"


def _encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def astronaut() -> Image.Image:
    return load_image((SKIMAGE_DATA / "astronaut.png").read_bytes())


# ------------------------------------------------------------------------------------------
# load_image
# ------------------------------------------------------------------------------------------


def test_load_png_and_jpeg_rgb(astronaut: Image.Image) -> None:
    assert astronaut.mode == "RGB" and astronaut.size == (512, 512)
    jpeg = load_image(_encode(astronaut, "JPEG", quality=90))
    assert jpeg.mode == "RGB" and jpeg.size == (512, 512)
    diff = np.abs(np.asarray(jpeg, dtype=float) - np.asarray(astronaut, dtype=float)).mean()
    assert diff < 8  # lossy, but the same picture
    real_jpeg = load_image((SKIMAGE_DATA / "hubble_deep_field.jpg").read_bytes())
    assert real_jpeg.mode == "RGB" and real_jpeg.size == (1000, 872)


def test_load_grey_expands_to_three_equal_channels() -> None:
    img = load_image((SKIMAGE_DATA / "camera.png").read_bytes())
    a = np.asarray(img)
    assert img.mode == "RGB" and a.shape == (512, 512, 3)
    assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()
    grey = np.asarray(Image.open(SKIMAGE_DATA / "camera.png"))
    assert (a[..., 0] == grey).all()


def test_load_rgba_composites_on_white(astronaut: Image.Image) -> None:
    rgba = np.dstack([np.asarray(astronaut), np.full((512, 512), 255, np.uint8)])
    rgba[:100, :, :3] = 0  # black pixels ...
    rgba[:100, :, 3] = 0  # ... fully transparent
    img = load_image(_encode(Image.fromarray(rgba, mode="RGBA"), "PNG"))
    a = np.asarray(img)
    assert img.mode == "RGB"
    assert (a[:100] == 255).all()  # transparent -> white, never black
    assert (a[100:] == np.asarray(astronaut)[100:]).all()  # opaque pixels unchanged
    horse = load_image((SKIMAGE_DATA / "horse.png").read_bytes())  # a real RGBA file
    assert horse.mode == "RGB" and horse.size == (400, 328)
    # Half-transparent black over white is mid grey.
    half = Image.new("RGBA", (4, 4), (0, 0, 0, 128))
    assert abs(int(np.asarray(load_image(_encode(half, "PNG")))[0, 0, 0]) - 127) <= 1
    la = Image.new("LA", (4, 4), (0, 0))
    assert (np.asarray(load_image(_encode(la, "PNG"))) == 255).all()


def test_load_palette_with_and_without_transparency(astronaut: Image.Image) -> None:
    pal = astronaut.convert("P", palette=Image.Palette.ADAPTIVE, colors=64)
    img = load_image(_encode(pal, "PNG"))
    assert img.mode == "RGB" and img.size == (512, 512)
    gif = load_image(_encode(pal, "GIF"))
    assert gif.mode == "RGB"
    transparent = pal.copy()
    transparent.info["transparency"] = int(np.asarray(pal)[0, 0])
    out = np.asarray(load_image(_encode(transparent, "PNG")))
    assert (out[0, 0] == 255).all()
    real_gif = load_image((SKIMAGE_DATA / "no_time_for_that_tiny.gif").read_bytes())
    assert real_gif.mode == "RGB"


def test_load_sixteen_bit_bilevel_cmyk_and_multipage() -> None:
    ramp = (np.arange(64, dtype=np.uint16) * 1024).reshape(8, 8)
    img16 = load_image(_encode(Image.fromarray(ramp), "PNG"))
    a = np.asarray(img16)[..., 0].astype(int)
    assert img16.mode == "RGB" and a.max() >= 250 and a.min() == 0  # scaled, not clipped
    assert (np.diff(a.ravel()) >= 0).all()
    bilevel = load_image(_encode(Image.new("1", (5, 5), 1), "PNG"))
    assert (np.asarray(bilevel) == 255).all()
    cmyk = load_image(_encode(Image.new("CMYK", (6, 6), (0, 255, 255, 0)), "JPEG"))
    r, g, b = np.asarray(cmyk)[3, 3].astype(int)
    assert cmyk.mode == "RGB" and r > 200 and g < 60 and b < 60  # red
    tif = load_image((SKIMAGE_DATA / "multipage.tif").read_bytes())
    assert tif.mode == "RGB" and tif.size == (10, 15)


def test_load_applies_exif_orientation(astronaut: Image.Image) -> None:
    small = astronaut.resize((40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img = load_image(_encode(small, "JPEG", exif=exif.tobytes()))
    assert img.size == (20, 40)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"this is not an image",
        os.urandom(2048),
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
    ],
    ids=["empty", "text", "random", "png-signature-only"],
)
def test_load_garbage_raises_value_error(data: bytes) -> None:
    with pytest.raises(ValueError, match="cannot decode image"):
        load_image(data)


def test_load_truncated_and_unsupported_raise_value_error(astronaut: Image.Image) -> None:
    png = _encode(astronaut, "PNG")
    with pytest.raises(ValueError, match="cannot decode image"):
        load_image(png[: len(png) // 2])
    # A real TIFF (JPEG-compressed multipage RGB) that Pillow cannot decode.
    with pytest.raises(ValueError, match="cannot decode image"):
        load_image((SKIMAGE_DATA / "multipage_rgb.tif").read_bytes())
    with pytest.raises(TypeError):
        load_image("astronaut.png")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------
# image_stats
# ------------------------------------------------------------------------------------------


def test_stats_shape_names_and_geometry(astronaut: Image.Image) -> None:
    chelsea = load_image((SKIMAGE_DATA / "chelsea.png").read_bytes())
    s = image_stats([astronaut, chelsea])
    assert s.shape == (2, 7) and s.dtype == np.float32
    assert STAT_NAMES == (
        "brightness",
        "saturation",
        "colorfulness",
        "sharpness",
        "width",
        "height",
        "aspect_ratio",
    )
    assert s[1, 4:].tolist() == pytest.approx([451, 300, 451 / 300])
    assert ((s[:, :2] >= 0) & (s[:, :2] <= 1)).all()
    assert image_stats([]).shape == (0, 7)


def test_stats_brightness_follows_darkening(astronaut: Image.Image) -> None:
    darker = astronaut.point(lambda v: v // 2)
    black = Image.new("RGB", (30, 20))
    white = Image.new("RGB", (30, 20), (255, 255, 255))
    s = image_stats([astronaut, darker, black, white])
    assert s[1, 0] < s[0, 0] * 0.55
    assert s[2, 0] == 0.0 and s[3, 0] == pytest.approx(1.0)
    grey = np.asarray(astronaut.convert("L").resize((128, 128)), dtype=float).mean() / 255
    assert s[0, 0] == pytest.approx(grey, abs=0.01)


def test_stats_grey_has_zero_saturation_and_colorfulness(astronaut: Image.Image) -> None:
    coffee = load_image((SKIMAGE_DATA / "coffee.png").read_bytes())
    camera = load_image((SKIMAGE_DATA / "camera.png").read_bytes())
    s = image_stats([astronaut.convert("L"), camera, astronaut, coffee])
    assert (s[:2, 1] == 0).all() and (s[:2, 2] == 0).all()
    assert (s[2:, 1] > 0.1).all() and (s[2:, 2] > 15).all()  # Hasler-Suesstrunk "slightly"+
    pure_red = image_stats([Image.new("RGB", (8, 8), (255, 0, 0))])[0]
    assert pure_red[1] == pytest.approx(1.0)
    # rg = 255, yb = 127.5, no spread: 0.3 * sqrt(255^2 + 127.5^2)
    assert pure_red[2] == pytest.approx(0.3 * np.hypot(255, 127.5), rel=1e-5)


def test_stats_sharpness_drops_with_blur_and_is_resolution_stable(astronaut: Image.Image) -> None:
    blurred = [astronaut.filter(ImageFilter.GaussianBlur(r)) for r in (2, 4)]
    s = image_stats([astronaut, *blurred, Image.new("RGB", (50, 50), (9, 9, 9))])
    assert s[0, 3] > s[1, 3] > s[2, 3] > s[3, 3] == 0
    assert s[1, 3] < 0.6 * s[0, 3]
    # The same picture at 512 and 1024 px: sharpness comparable (measured on a fixed size).
    big = astronaut.resize((1024, 1024), Image.Resampling.BICUBIC)
    ratio = image_stats([big])[0, 3] / s[0, 3]
    assert 0.7 < ratio < 1.4
    # MNIST-size images work and blur also lowers their score.
    digit = load_image((SKIMAGE_DATA / "microaneurysms.png").read_bytes()).resize((28, 28))
    sd = image_stats([digit, digit.filter(ImageFilter.GaussianBlur(1))])
    assert sd[1, 3] < sd[0, 3]


def test_laplacian_variance_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    stack = rng.uniform(0, 255, size=(3, 17, 23))
    expected = [ndimage.laplace(im)[1:-1, 1:-1].var() for im in stack]
    assert laplacian_variance(stack) == pytest.approx(expected, rel=1e-9)


def test_stats_mixed_sizes_and_modes_match_one_by_one(astronaut: Image.Image) -> None:
    images = [
        astronaut,
        astronaut.convert("L"),
        astronaut.resize((64, 32)),
        Image.new("RGBA", (8, 8), (10, 200, 30, 255)),
        astronaut.resize((28, 28)),
        astronaut.crop((0, 0, 300, 100)),
    ]
    together = image_stats(images)
    alone = np.vstack([image_stats([im]) for im in images])
    np.testing.assert_allclose(together, alone, rtol=1e-6)


# ------------------------------------------------------------------------------------------
# ImageEmbedder
# ------------------------------------------------------------------------------------------


def test_embedder_shape_norm_and_attributes(
    embedder: ImageEmbedder, astronaut: Image.Image
) -> None:
    images = [
        astronaut,
        astronaut.convert("L"),
        Image.new("L", (8, 8), 200),
        astronaut.resize((28, 28)).convert("L"),
        astronaut.resize((900, 300)),
        Image.new("RGBA", (33, 17), (1, 2, 3, 0)),
    ]
    e = embedder.embed(images)
    assert e.shape == (6, 1280) and e.dtype == np.float32 and embedder.dim == 1280
    np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, rtol=1e-5)
    assert embedder.embed([]).shape == (0, 1280)
    assert embedder.model_path.name == ONNX_FILE and "v1" in ONNX_FILE
    assert "112px" in embedder.version and "b0353104" in embedder.version


def test_embedder_version_and_cache(model_dir: Path, embedder: ImageEmbedder) -> None:
    other = ImageEmbedder(image_size=96, batch_size=5, num_threads=1, cache_dir=model_dir)
    assert other.model_path == embedder.model_path  # converted once, reused
    assert other.version != embedder.version  # preprocessing differs -> new cache key
    assert [p.name for p in model_dir.iterdir() if p.suffix == ".tmp"] == []
    with pytest.raises(ValueError):
        ImageEmbedder(image_size=8, cache_dir=model_dir)


def test_embedder_matches_torch(embedder: ImageEmbedder, mnist, astronaut: Image.Image) -> None:
    torch = pytest.importorskip("torch")
    from labelpilot.mlmodels.backbones import load_torch_mobilenet_v2

    model = load_torch_mobilenet_v2()
    digits, _ = mnist
    images = [Image.fromarray(d) for d in digits[::500]] + [astronaut]
    x = embedder.preprocess(images)
    assert x.shape == (11, 3, 112, 112) and x.dtype == np.float32
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    raw = embedder.embed_raw(images)
    assert np.abs(raw - ref).max() <= 1e-5 * max(1.0, float(np.abs(ref).max())) * 10
    ref_n = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    np.testing.assert_allclose(embedder.embed(images), ref_n, atol=1e-5)
    # ImageNet sanity: the classifier head on the same weights calls the astronaut picture
    # something with a person-made object, not noise: top-1 logit is well separated.
    with torch.no_grad():
        logits = model.classifier(torch.from_numpy(ref[-1:]))
    top2 = torch.topk(logits, 2).values[0]
    assert float(top2[0] - top2[1]) > 0.5


def test_embedder_deterministic_and_batch_invariant(model_dir: Path, mnist) -> None:
    digits, _ = mnist
    images = [Image.fromarray(d) for d in digits[::97]]
    a = ImageEmbedder(cache_dir=model_dir, batch_size=32).embed(images)
    b = ImageEmbedder(cache_dir=model_dir, batch_size=7, num_threads=1).embed(images)
    c = ImageEmbedder(cache_dir=model_dir, batch_size=32).embed(images)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_embed_bytes_equals_decode_stats_embed(model_dir: Path, mnist, astronaut) -> None:
    digits, _ = mnist
    images = [Image.fromarray(d) for d in digits[::400]] + [astronaut, astronaut.convert("L")]
    blobs = [_encode(im, "PNG") for im in images]
    small_batches = ImageEmbedder(cache_dir=model_dir, batch_size=4)  # 4 pipelined batches
    emb, stats = small_batches.embed_bytes(blobs)
    decoded = [load_image(b) for b in blobs]
    assert emb.shape == (15, 1280) and stats.shape == (15, 7)
    np.testing.assert_allclose(emb, small_batches.embed(decoded), atol=1e-6)
    np.testing.assert_array_equal(stats, image_stats(decoded))
    with pytest.raises(ValueError, match="image 5: cannot decode image"):
        small_batches.embed_bytes(blobs[:5] + [b"not an image"] + blobs[5:])
    e0, s0 = small_batches.embed_bytes([])
    assert e0.shape == (0, 1280) and s0.shape == (0, 7)


def test_embedder_separates_mnist_classes(embedder: ImageEmbedder, mnist) -> None:
    from sklearn.model_selection import cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    digits, y = mnist
    rng = np.random.default_rng(0)
    idx = np.concatenate([rng.choice(np.flatnonzero(y == c), 50, replace=False) for c in range(10)])
    e = embedder.embed([Image.fromarray(digits[i]) for i in idx])
    acc = cross_val_score(KNeighborsClassifier(5, metric="cosine"), e, y[idx], cv=5).mean()
    # Measured 0.80 on these 500 digits (chance: 0.10).
    assert acc > 0.65
    sims = e @ e.T
    same = y[idx][:, None] == y[idx][None, :]
    np.fill_diagonal(same, False)
    off = ~np.eye(len(idx), dtype=bool) & ~same
    assert sims[same].mean() > sims[off].mean() + 0.05


@pytest.mark.usefixtures("embedder")  # converts the ONNX file the subprocess loads
def test_inference_needs_no_torch(model_dir: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from PIL import Image\n"
        "from labelpilot.mlmodels.image_embedder import ImageEmbedder\n"
        f"e = ImageEmbedder(cache_dir={str(model_dir)!r})\n"
        "print(e.embed([Image.new('RGB', (40, 30), (200, 10, 10))]).shape)\n"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "(1, 1280)"
