"""auto-deploy: one task turns a labeled dataset into a live prediction service.

Steps (each an event, in order):

``export``
    The confirmed labeled samples become a dataset version: a manifest (JSON lines with
    ``source``, ``usage`` TRAIN/EVAL and ``annotation``) under ``datasets/<id>/versions/``;
    ``version_id``/``version_name``/``manifest_path`` in the result. The held-out split is drawn
    here, stratified per label.
``train``
    Images: MobileNetV2 embeddings from the shared feature cache, then a standardised logistic
    regression. Texts: a logistic regression on MiniLM sentence embeddings or on TF-IDF
    (``text_features`` auto picks the better by cross-validation on the training split).
``evaluate``
    Accuracy and per-class precision/recall/F1 on the held-out split; the classifier is exported
    to one self-contained ONNX file (``serving.export``) and checked against scikit-learn.
``register``
    The ONNX file is registered as the next version of ``<dataset_name>-auto-deploy``, with its
    metrics (codes 4910 then 4912).
``deploy``
    A service is created and the task waits until the supervisor reports it running; then the
    service is registered as an HTTP model too, so pre-label tasks can use it.

``config.parameters`` (``[{"label", "value"}]``) understood: ``C``, ``max_iter``,
``eval_ratio``, ``text_features``, ``seed``, ``image_size``; others are refused at creation.
``inf_config_list[0].instance_count`` sets the service's worker processes. A stop or a failure
at any step removes what the task had created (version manifest, models, service, process).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from labelpilot.api import schemas as s
from labelpilot.datasets.service import dataset_prefix
from labelpilot.datasets.tables import STATE_ALL, Dataset, Sample
from labelpilot.engine.context import RunContext, TaskFailed
from labelpilot.errors import BadRequest, LabelPilotError
from labelpilot.ids import short_id
from labelpilot.runners.common import unsupported_dataset
from labelpilot.tasks.tables import Task

SUPPORTED_TYPES = (0, 100)  # image classification, text classification
MIN_PER_LABEL = 5
CODE_FAILED = "ModelArts.4392"
EXPORT_CHECK_IMAGES = 32


@dataclass(frozen=True)
class Params:
    C: float = 1.0
    max_iter: int = 1000
    eval_ratio: float = 0.2
    text_features: str = "auto"
    seed: int = 0
    image_size: int = 224


PARAMETERS: dict[str, str] = {
    "C": "inverse regularisation strength of the logistic regression, > 0 (default 1.0)",
    "max_iter": "solver iterations, 10-100000 (default 1000)",
    "eval_ratio": "share of each label's samples held out for evaluation, 0.05-0.5 (default 0.2)",
    "text_features": "text datasets: auto, minilm or tfidf (default auto)",
    "seed": "random seed of the split, an integer (default 0)",
    "image_size": "images: network input side in pixels, 64-448 (default 224, as auto-label)",
}


def parse_parameters(raw: list[dict[str, Any]] | None) -> Params:
    """``config.parameters`` -> Params; 400 naming the parameter that is unknown or invalid."""
    values: dict[str, Any] = {}
    for item in raw or []:
        name = str(item.get("label") or "")
        value = str(item.get("value") if item.get("value") is not None else "")
        if name not in PARAMETERS:
            allowed = ", ".join(PARAMETERS)
            raise BadRequest(
                f"config.parameters: unknown parameter '{name}' for auto-deploy; allowed: {allowed}"
            )
        try:
            if name == "C":
                v: Any = float(value)
                ok = v > 0 and np.isfinite(v)
            elif name == "max_iter":
                v = int(value)
                ok = 10 <= v <= 100000
            elif name == "eval_ratio":
                v = float(value)
                ok = 0.05 <= v <= 0.5
            elif name == "seed":
                v = int(value)
                ok = 0 <= v < 2**32
            elif name == "image_size":
                v = int(value)
                ok = 64 <= v <= 448
            else:
                v = value
                ok = v in ("auto", "minilm", "tfidf")
        except ValueError:
            ok = False
        if not ok:
            raise BadRequest(
                f"config.parameters: invalid value '{value}' for '{name}': {PARAMETERS[name]}"
            )
        values[name] = v
    return Params(**values)


def instance_count(config: dict[str, Any], max_instances: int) -> int:
    items = config.get("inf_config_list") or []
    n = items[0].get("instance_count") if items and isinstance(items[0], dict) else None
    n = 1 if n is None else n
    if not isinstance(n, int) or not 1 <= n <= max_instances:
        raise BadRequest(
            f"config.inf_config_list[0].instance_count must be between 1 and {max_instances}"
        )
    return n


@dataclass
class Item:
    sample_id: str
    source: str
    label: str


def labeled_items(session: Session, dataset_id: str) -> list[Item]:
    """Confirmed labeled samples with their first label, in a stable order."""
    rows = session.scalars(
        select(Sample)
        .where(Sample.dataset_id == dataset_id, Sample.state == STATE_ALL)
        .order_by(Sample.sample_time, Sample.id)
    ).all()
    return [Item(r.id, r.source, r.labels[0].name) for r in rows if r.labels]


def model_name_for(dataset_name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.\-]+", "-", dataset_name).strip("-.") or "dataset"
    return f"{base[:40]}-auto-deploy"


def split(labels: list[str], ratio: float, seed: int) -> np.ndarray:
    """Boolean mask of the held-out samples: per label round(n * ratio), at least one."""
    rng = np.random.default_rng(seed)
    y = np.array(labels)
    held = np.zeros(len(y), dtype=bool)
    for name in sorted(set(labels)):
        idx = np.flatnonzero(y == name)
        n_eval = min(len(idx) - 1, max(1, round(len(idx) * ratio)))
        held[rng.permutation(idx)[:n_eval]] = True
    return held


def class_metrics(y_true: list[str], y_pred: list[str], classes: list[str]) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    p, r, f, n = precision_recall_fscore_support(y_true, y_pred, labels=classes, zero_division=0)
    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "per_class": {
            c: {
                "precision": round(float(p[i]), 4),
                "recall": round(float(r[i]), 4),
                "f1": round(float(f[i]), 4),
                "support": int(n[i]),
            }
            for i, c in enumerate(classes)
        },
    }


@dataclass
class Created:
    """What this run created so far (removed again on a stop or a failure)."""

    manifest_key: str | None = None
    model_ids: list[str] = field(default_factory=list)
    service_id: str | None = None


class AutoDeployRunner:
    task_type: ClassVar[str] = "auto-deploy"

    # -- request time (no ML) ---------------------------------------------------------------

    def check(self, session: Session, dataset: Dataset, request: s.CreateTaskRequest) -> None:
        if dataset.dataset_type not in SUPPORTED_TYPES:
            raise unsupported_dataset(dataset, "auto-deploy")
        config = request.config or s.SmartTaskConfig()
        raw = config.model_dump(mode="json", exclude_none=True)
        parse_parameters(raw.get("parameters"))
        from labelpilot.config import get_settings

        instance_count(raw, get_settings().service_max_instances)
        items = labeled_items(session, dataset.id)
        if not items:
            raise LabelPilotError(
                "auto-deploy needs labeled samples: the dataset has none",
                error_code="ModelArts.4426",
            )
        counts = Counter(i.label for i in items)
        if len(counts) < 2:
            raise LabelPilotError(
                f"auto-deploy needs at least two labels with labeled samples (only "
                f"'{next(iter(counts))}' has some)",
                error_code="ModelArts.4426",
            )
        few = sorted((name, n) for name, n in counts.items() if n < MIN_PER_LABEL)
        if few:
            detail = ", ".join(f"{name}: {n}" for name, n in few)
            raise LabelPilotError(
                f"auto-deploy needs at least {MIN_PER_LABEL} labeled samples per label "
                f"(too few: {detail})",
                error_code="ModelArts.4427",
            )

    # -- worker -----------------------------------------------------------------------------

    def run(self, ctx: RunContext) -> dict[str, Any]:
        params = parse_parameters(ctx.config.get("parameters"))
        instances = instance_count(ctx.config, ctx.settings.service_max_instances)
        created = Created()
        try:
            return self._run(ctx, params, instances, created)
        except BaseException:
            self._cleanup(ctx, created)
            raise

    def _run(
        self, ctx: RunContext, params: Params, instances: int, created: Created
    ) -> dict[str, Any]:
        with ctx.db.read() as sess:
            ds = sess.get(Dataset, ctx.dataset_id)
            assert ds is not None
            dataset_name, dataset_type = ds.name, ds.dataset_type
            items = labeled_items(sess, ctx.dataset_id)
            task_name = sess.scalar(select(Task.name).where(Task.id == ctx.task_id)) or ""
        counts = Counter(i.label for i in items)
        if len(counts) < 2 or min(counts.values()) < MIN_PER_LABEL:
            raise TaskFailed(
                "ModelArts.4427",
                f"auto-deploy needs at least two labels with {MIN_PER_LABEL} labeled samples each",
            )
        result: dict[str, Any] = {
            "dataset_name": dataset_name,
            "dataset_type": str(dataset_type),
            "train_job_id": ctx.task_id,
            "train_job_name": f"{task_name or 'auto-deploy'}-train",
        }
        labels = [i.label for i in items]
        held = split(labels, params.eval_ratio, params.seed)

        with ctx.step("export", f"{len(items)} labeled samples as a dataset version"):
            result.update(self._export(ctx, items, held, dataset_type, created))
            ctx.progress(5.0)

        ctx.check_stop()
        with ctx.step("train", f"{int((~held).sum())} samples, {len(counts)} labels"):
            trained = self._train(ctx, dataset_type, items, held, params)
            ctx.progress(70.0)

        ctx.check_stop()
        with ctx.step("evaluate", f"{int(held.sum())} held-out samples"):
            evaluation = self._evaluate(ctx, trained, items, held)
            result["metrics"] = evaluation["metrics"]
            result["export_check"] = evaluation["export_check"]
            result["features"] = trained.features
            if trained.candidates:
                result["feature_candidates"] = trained.candidates
            ctx.progress(80.0)

        ctx.check_stop()
        model_name = model_name_for(dataset_name)
        with ctx.step("register", f"model {model_name}"):
            self._code(ctx, "ModelArts.4910", "Model import submitted.")
            model = self._register(ctx, trained, evaluation["metrics"], model_name, created)
            result.update(model)
            self._code(ctx, "ModelArts.4912", "Model import executed.")
            ctx.progress(85.0)

        ctx.check_stop()
        service_name = f"{model_name}-{model['model_version']}"
        with ctx.step("deploy", f"service {service_name}, {instances} instance(s)"):
            result.update(
                self._deploy(ctx, trained, model, service_name, instances, dataset_name, created)
            )
        return result

    # -- steps ------------------------------------------------------------------------------

    def _export(
        self,
        ctx: RunContext,
        items: list[Item],
        held: np.ndarray,
        dataset_type: int,
        created: Created,
    ) -> dict[str, Any]:
        prefix = f"{dataset_prefix(ctx.dataset_id)}/versions/"
        existing = sum(1 for k in ctx.storage.list(prefix) if k.endswith(".manifest"))
        version_name = f"V{existing + 1:03d}"
        version_id = short_id()
        kind = "image" if dataset_type == 0 else "text"
        lines = [
            json.dumps(
                {
                    "id": it.sample_id,
                    "source": it.source,
                    "usage": "EVAL" if held[k] else "TRAIN",
                    "annotation": [
                        {
                            "name": it.label,
                            "type": f"modelarts/{kind}_classification",
                            "annotated-by": "human",
                        }
                    ],
                }
            )
            for k, it in enumerate(items)
        ]
        key = f"{prefix}{version_name}-{version_id}.manifest"
        url = ctx.storage.put(key, ("\n".join(lines) + "\n").encode())
        created.manifest_key = key
        return {
            "version_id": version_id,
            "version_name": version_name,
            "manifest_path": url,
            "train_data_path": url,
        }

    def _train(
        self,
        ctx: RunContext,
        dataset_type: int,
        items: list[Item],
        held: np.ndarray,
        params: Params,
    ) -> Trained:
        y = np.array([i.label for i in items])
        if dataset_type == 0:
            from labelpilot.features.images import embedder, image_features

            X, _ = image_features(
                ctx,
                [(i.sample_id, i.source) for i in items],
                image_size=params.image_size,
                progress_from=5.0,
                progress_to=60.0,
            )
            emb: Any = embedder(str(ctx.settings.resolved_model_dir), params.image_size)
            pipe = _linear(params).fit(X[~held], y[~held])
            return Trained(
                "image",
                pipe,
                X,
                y,
                f"mobilenet_v2-{emb.image_size}px",
                {},
                emb.model_path,
                int(emb.image_size),
            )
        from labelpilot.features.images import read_sample

        texts = [read_sample(ctx, i.source).decode("utf-8", errors="replace") for i in items]
        ctx.progress(10.0)
        return self._train_text(ctx, texts, y, held, params)

    def _train_text(
        self, ctx: RunContext, texts: list[str], y: np.ndarray, held: np.ndarray, params: Params
    ) -> Trained:
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        from labelpilot.mlmodels.text_encoders import TextEmbedder

        train_texts = [t for t, h in zip(texts, held, strict=True) if not h]
        y_train = y[~held]
        wanted = params.text_features
        embedder = TextEmbedder()
        candidates: dict[str, float] = {}
        embeddings: np.ndarray | None = None
        if wanted in ("auto", "minilm") and embedder.minilm_available:
            embeddings = np.asarray(embedder.embed_minilm(texts), dtype=np.float32)
            ctx.progress(50.0)
        elif wanted == "minilm":
            raise TaskFailed(CODE_FAILED, "text_features=minilm: the MiniLM encoder is missing")
        ctx.check_stop()
        folds = min(5, int(min(Counter(y_train.tolist()).values())))
        if wanted == "auto" and embeddings is not None and folds >= 2:
            cv = StratifiedKFold(folds, shuffle=True, random_state=params.seed)
            candidates["minilm"] = round(
                float(cross_val_score(_linear(params), embeddings[~held], y_train, cv=cv).mean()), 4
            )
            candidates["tfidf"] = round(
                float(cross_val_score(_tfidf(params), train_texts, y_train, cv=cv).mean()), 4
            )
            choice = "minilm" if candidates["minilm"] >= candidates["tfidf"] else "tfidf"
        else:
            choice = "minilm" if embeddings is not None and wanted != "tfidf" else "tfidf"
        if choice == "minilm":
            assert embeddings is not None
            pipe = _linear(params).fit(embeddings[~held], y_train)
            return Trained("minilm", pipe, embeddings, y, "all-MiniLM-L6-v2", candidates)
        pipe = _tfidf(params).fit(train_texts, y_train)
        return Trained("tfidf", pipe, np.array(texts, dtype=object), y, "tfidf", candidates)

    def _evaluate(
        self, ctx: RunContext, trained: Trained, items: list[Item], held: np.ndarray
    ) -> dict[str, Any]:
        """Metrics on the held-out split, and the exported ONNX checked against scikit-learn."""
        from labelpilot.serving import export

        pipe = trained.pipeline
        classes = [str(c) for c in pipe.classes_]
        X_eval = trained.X[held]
        proba_sk = np.asarray(
            pipe.predict_proba(list(X_eval) if trained.kind == "tfidf" else X_eval)
        )
        if trained.kind == "image":
            assert trained.backbone is not None
            trained.onnx = export.image_classifier_onnx(trained.backbone, pipe)
            # the whole graph (backbone included) on raw held-out images, through the predictor
            from labelpilot.features.images import read_sample

            predictor = _open(trained, classes)
            check = [i for i in np.flatnonzero(held)][:EXPORT_CHECK_IMAGES]
            blobs = [read_sample(ctx, items[i].source) for i in check]
            preds = predictor.predict_images(blobs)
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
            proba = np.asarray(onnx_proba)  # the registered model's own answers
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
        return {"metrics": metrics, "export_check": export_check}

    def _register(
        self,
        ctx: RunContext,
        trained: Trained,
        metrics: dict[str, Any],
        model_name: str,
        created: Created,
    ) -> dict[str, Any]:
        from labelpilot.mlmodels.service import NewModel, next_version, register_model

        assert trained.onnx is not None
        config = _config(trained, [str(c) for c in trained.pipeline.classes_])
        with ctx.db.transaction() as sess:
            version = next_version(sess, ctx.project_id, model_name)
            row = register_model(
                sess,
                ctx.storage,
                NewModel(
                    project_id=ctx.project_id,
                    model_name=model_name,
                    model_version=version,
                    model_type="ONNX",
                    config=config,
                    model_bytes=trained.onnx,
                    description=f"trained by auto-deploy task {ctx.task_id} "
                    f"({trained.features}, logistic regression)",
                    metrics=metrics,
                    dataset_id=ctx.dataset_id,
                    task_id=ctx.task_id,
                ),
                ctx.settings.max_model_bytes,
            )
            model_id = row.id
        created.model_ids.append(model_id)
        return {"model_id": model_id, "model_name": model_name, "model_version": version}

    def _deploy(
        self,
        ctx: RunContext,
        trained: Trained,
        model: dict[str, Any],
        service_name: str,
        instances: int,
        dataset_name: str,
        created: Created,
    ) -> dict[str, Any]:
        from labelpilot.mlmodels.service import NewModel, register_model
        from labelpilot.mlmodels.spec import ModelConfig
        from labelpilot.mlmodels.tables import Service
        from labelpilot.serving import service as services

        with ctx.db.transaction() as sess:
            row = services.create_service(
                sess,
                ctx.project_id,
                model["model_id"],
                service_name=service_name,
                host=ctx.settings.service_host,
                instance_count=instances,
                max_instances=ctx.settings.service_max_instances,
                description=f"deployed by auto-deploy task {ctx.task_id} on {dataset_name}",
                dataset_id=ctx.dataset_id,
                task_id=ctx.task_id,
            )
            service_id = row.id
        created.service_id = service_id
        limit = ctx.settings.service_start_timeout * ctx.settings.service_start_attempts + 60
        deadline = time.monotonic() + limit
        while True:
            ctx.check_stop(0.0)
            with ctx.db.read() as sess:
                svc = sess.get(Service, service_id)
                assert svc is not None
                status, tip, url = svc.status, svc.failure_tip, services.access_address(svc)
            if status == "running" and url:
                break
            if status == "failed":
                raise TaskFailed(CODE_FAILED, f"the service could not start: {tip}"[:1000])
            if time.monotonic() > deadline:
                raise TaskFailed(
                    CODE_FAILED,
                    f"the service did not start within {limit:.0f} s; is a LabelPilot server "
                    "(which supervises services) running on this database?",
                )
            time.sleep(0.3)
        ctx.progress(95.0)
        classes = [str(c) for c in trained.pipeline.classes_]
        task = "image_classification" if trained.kind == "image" else "text_classification"
        with ctx.db.transaction() as sess:
            http = register_model(
                sess,
                ctx.storage,
                NewModel(
                    project_id=ctx.project_id,
                    model_name=f"{model['model_name']}-service",
                    model_version=model["model_version"],
                    model_type="HTTP",
                    config=ModelConfig(task=task, class_names=classes, req_uri=url),
                    description=f"online service {service_id} ({service_name})",
                    metrics=None,
                    dataset_id=ctx.dataset_id,
                    task_id=ctx.task_id,
                ),
                ctx.settings.max_model_bytes,
            )
            http_id = http.id
        created.model_ids.append(http_id)
        return {
            "service_id": service_id,
            "service_name": service_name,
            "access_address": url,
            "http_model_id": http_id,
            "instance_count": instances,
        }

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _code(ctx: RunContext, code: str, message: str) -> None:
        with ctx.db.transaction() as sess:
            sess.execute(
                update(Task)
                .where(Task.id == ctx.task_id, Task.worker_id == ctx.worker_id)
                .values(code=code, message=message)
            )

    def _cleanup(self, ctx: RunContext, created: Created) -> None:
        """Remove the service (after its process ended), the models and the manifest."""
        from labelpilot.mlmodels.tables import Model, Service
        from labelpilot.serving import service as services

        if created.service_id:
            with ctx.db.transaction() as sess:
                sess.execute(
                    update(Service)
                    .where(Service.id == created.service_id)
                    .values(desired="stopped")
                )
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                with ctx.db.read() as sess:
                    svc = sess.get(Service, created.service_id)
                    if svc is None or (svc.status == "stopped" and svc.pid is None):
                        break
                time.sleep(0.2)
            with ctx.db.transaction() as sess:
                svc = sess.get(Service, created.service_id)
                if svc is not None:
                    services.delete_service(sess, svc)
        if created.model_ids:
            with ctx.db.transaction() as sess:
                for model_id in created.model_ids:
                    row = sess.get(Model, model_id)
                    if row is not None:
                        sess.delete(row)
            for model_id in created.model_ids:
                ctx.storage.delete_prefix(f"models/{model_id}/")
        if created.manifest_key:
            ctx.storage.delete(created.manifest_key)


@dataclass
class Trained:
    kind: str  # image | minilm | tfidf
    pipeline: Any
    X: np.ndarray  # features (or texts for tfidf) of every item
    y: np.ndarray
    features: str
    candidates: dict[str, float]
    backbone: Any = None  # ONNX file of the image backbone
    image_size: int = 112
    onnx: bytes | None = None


def _linear(params: Params) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=params.C, max_iter=params.max_iter))


def _tfidf(params: Params) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True),
        LogisticRegression(C=params.C, max_iter=params.max_iter),
    )


def _config(trained: Trained, classes: list[str]) -> Any:
    from labelpilot.mlmodels.backbones import IMAGENET_MEAN, IMAGENET_STD
    from labelpilot.mlmodels.spec import (
        ClassificationOutput,
        ImageInput,
        ModelConfig,
        TextEmbeddingInput,
        TextInput,
    )
    from labelpilot.serving.export import IMAGE_INPUT, PROBABILITIES

    output = ClassificationOutput(scores=PROBABILITIES, activation="none")
    if trained.kind == "image":
        return ModelConfig(
            task="image_classification",
            class_names=classes,
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
        task="text_classification", class_names=classes, input=text_input, output=output
    )


def _open(trained: Trained, classes: list[str]) -> Any:
    from labelpilot.mlmodels.predictor import open_predictor

    return open_predictor("ONNX", _config(trained, classes), trained.onnx, threads=1)
