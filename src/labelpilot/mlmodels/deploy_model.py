"""The model auto-deploy trains: its ONNX file, its check against scikit-learn, its registration.

A ``Trained`` head becomes one self-contained ONNX file (``mlmodels.export``) with a
``ModelConfig`` the predictor understands; ``evaluate`` scores it on the held-out split and
reports how closely the exported graph reproduces scikit-learn; ``register_trained`` and
``register_service_model`` add the ONNX model and the HTTP model of its service to the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from labelpilot.algorithms.linear_head import class_metrics
from labelpilot.db import Database
from labelpilot.mlmodels.service import NewModel, next_version, register_model
from labelpilot.mlmodels.spec import ModelConfig
from labelpilot.mlmodels.tables import Model
from labelpilot.storage import Storage

EXPORT_CHECK_IMAGES = 32


@dataclass
class Trained:
    """A fitted head and the features it was trained on."""

    kind: str  # image | minilm | tfidf
    pipeline: Any
    X: np.ndarray  # features (or texts for tfidf) of every item
    y: np.ndarray
    features: str
    candidates: dict[str, float]
    backbone: Any = None  # ONNX file of the image backbone
    image_size: int = 112
    onnx: bytes | None = None

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in self.pipeline.classes_]

    @property
    def task(self) -> str:
        return "image_classification" if self.kind == "image" else "text_classification"


@dataclass(frozen=True)
class Origin:
    """Where a registered model comes from."""

    project_id: str
    dataset_id: str
    task_id: str


@dataclass
class Evaluation:
    metrics: dict[str, Any]
    export_check: dict[str, Any] = field(default_factory=dict)


def model_config(trained: Trained) -> ModelConfig:
    """The config of the exported ONNX file: inputs as the training features saw them."""
    from labelpilot.mlmodels.backbones import IMAGENET_MEAN, IMAGENET_STD
    from labelpilot.mlmodels.export import IMAGE_INPUT, PROBABILITIES
    from labelpilot.mlmodels.spec import (
        ClassificationOutput,
        ImageInput,
        TextEmbeddingInput,
        TextInput,
    )

    output = ClassificationOutput(scores=PROBABILITIES, activation="none")
    if trained.kind == "image":
        return ModelConfig(
            task="image_classification",
            class_names=trained.classes,
            input=ImageInput(
                name=IMAGE_INPUT,
                size=(trained.image_size, trained.image_size),
                layout="NCHW",
                color="RGB",
                dtype="float32",
                scale=1 / 255,
                mean=[float(v) for v in IMAGENET_MEAN],
                std=[float(v) for v in IMAGENET_STD],
            ),
            output=output,
        )
    text_input: Any = (
        TextEmbeddingInput(kind="text_embedding")
        if trained.kind == "minilm"
        else TextInput(kind="text")
    )
    return ModelConfig(
        task="text_classification", class_names=trained.classes, input=text_input, output=output
    )


def evaluate(
    trained: Trained,
    held: np.ndarray,
    sources: Sequence[str],
    read: Callable[[str], bytes],
) -> Evaluation:
    """Export ``trained`` to ONNX (sets ``trained.onnx``); metrics on the held-out split.

    Images: the whole graph (backbone included) runs through the predictor on up to
    ``EXPORT_CHECK_IMAGES`` raw held-out images (``read`` loads a sample's ``source``) and the
    metrics are scikit-learn's; texts: the metrics are the exported model's own answers.
    """
    from labelpilot.mlmodels import export

    pipe = trained.pipeline
    classes = trained.classes
    X_eval = trained.X[held]
    proba_sk = np.asarray(pipe.predict_proba(list(X_eval) if trained.kind == "tfidf" else X_eval))
    if trained.kind == "image":
        assert trained.backbone is not None
        trained.onnx = export.image_classifier_onnx(trained.backbone, pipe)
        predictor = _open(trained)
        check = [int(i) for i in np.flatnonzero(held)][:EXPORT_CHECK_IMAGES]
        preds = predictor.predict_images([read(sources[i]) for i in check])
        onnx_proba = np.array([[p.scores[c] for c in classes] for p in preds])
        ref = proba_sk[: len(check)]
        proba = proba_sk
    else:
        import onnxruntime as ort

        if trained.kind == "minilm":
            trained.onnx = export.text_head_onnx(pipe, trained.X.shape[1])
            feed = np.asarray(X_eval, dtype=np.float32)
        else:
            trained.onnx = export.text_tfidf_onnx(pipe)
            feed = np.array(list(X_eval), dtype=object).reshape(-1, 1)
        sess = ort.InferenceSession(trained.onnx, providers=["CPUExecutionProvider"])
        (onnx_proba,) = sess.run([export.PROBABILITIES], {sess.get_inputs()[0].name: feed})
        ref = proba_sk
        proba = np.asarray(onnx_proba)
    y_true = [str(v) for v in trained.y[held]]
    y_pred = [classes[k] for k in proba.argmax(axis=1)]
    metrics = class_metrics(y_true, y_pred, classes)
    metrics["eval_sample_count"] = int(held.sum())
    metrics["train_sample_count"] = int((~held).sum())
    onnx_proba = np.asarray(onnx_proba, dtype=np.float64)
    export_check = {
        "sample_count": len(ref),
        "top1_agreement": round(float((onnx_proba.argmax(1) == ref.argmax(1)).mean()), 4),
        "max_abs_diff": float(np.abs(onnx_proba - ref).max()) if len(ref) else 0.0,
    }
    return Evaluation(metrics, export_check)


def _open(trained: Trained) -> Any:
    from labelpilot.mlmodels.predictor import open_predictor

    return open_predictor("ONNX", model_config(trained), trained.onnx, threads=1)


def register_trained(
    session: Session,
    storage: Storage,
    trained: Trained,
    *,
    model_name: str,
    metrics: dict[str, Any],
    origin: Origin,
    max_bytes: int,
) -> Model:
    """Register the exported ONNX file as the next version of ``model_name``."""
    assert trained.onnx is not None
    return register_model(
        session,
        storage,
        NewModel(
            project_id=origin.project_id,
            model_name=model_name,
            model_version=next_version(session, origin.project_id, model_name),
            model_type="ONNX",
            config=model_config(trained),
            model_bytes=trained.onnx,
            description=f"trained by auto-deploy task {origin.task_id} "
            f"({trained.features}, logistic regression)",
            metrics=metrics,
            dataset_id=origin.dataset_id,
            task_id=origin.task_id,
        ),
        max_bytes,
    )


def register_service_model(
    session: Session,
    storage: Storage,
    trained: Trained,
    *,
    model_name: str,
    model_version: str,
    url: str,
    description: str,
    origin: Origin,
    max_bytes: int,
) -> Model:
    """Register a running service of ``trained`` as an HTTP model (for pre-label tasks)."""
    return register_model(
        session,
        storage,
        NewModel(
            project_id=origin.project_id,
            model_name=f"{model_name}-service",
            model_version=model_version,
            model_type="HTTP",
            config=ModelConfig(task=trained.task, class_names=trained.classes, req_uri=url),
            description=description,
            metrics=None,
            dataset_id=origin.dataset_id,
            task_id=origin.task_id,
        ),
        max_bytes,
    )


def remove_models(db: Database, storage: Storage, model_ids: Sequence[str]) -> None:
    """Delete model rows, then their files (a clean-up: ids already gone are skipped)."""
    with db.transaction() as sess:
        for model_id in model_ids:
            row = sess.get(Model, model_id)
            if row is not None:
                sess.delete(row)
    for model_id in model_ids:
        storage.delete_prefix(f"models/{model_id}/")
