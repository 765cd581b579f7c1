"""auto-deploy: one task turns a labeled dataset into a live prediction service.

Steps (each an event, in order):

``export``
    The dataset's current version is the training data (``runners/training_data.py``); a
    dataset without one gets one published by the task, as ModelArts does, whose TRAIN/EVAL
    usage is the split (stratified per label, ``eval_ratio``); ``version_id``/``version_name``/
    ``manifest_path`` in the result. A version without EVAL samples gets a split drawn here.
``train``
    Images: MobileNetV2 embeddings from the shared feature cache, then a standardised logistic
    regression. Texts: a logistic regression on MiniLM sentence embeddings or on TF-IDF
    (``text_features`` auto picks the better by cross-validation on the training split).
``evaluate``
    Accuracy and per-class precision/recall/F1 on the held-out split; the classifier is exported
    to one self-contained ONNX file (``mlmodels.export``) and checked against scikit-learn.
``register``
    The ONNX file is registered as the next version of ``<dataset_name>-auto-deploy``, with its
    metrics (codes 4910 then 4912).
``deploy``
    A service is created and the task waits until the supervisor reports it running; then the
    service is registered as an HTTP model too, so pre-label tasks can use it.

``config.parameters`` (``[{"label", "value"}]``) understood: ``C``, ``max_iter``,
``eval_ratio``, ``text_features``, ``seed``, ``image_size``; others are refused at creation.
``inf_config_list[0].instance_count`` sets the service's worker processes. A stop or a failure
at any step removes what the task had created (the version it published, models, service,
process).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from pydantic import field_validator
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from typing_extensions import override

from labelpilot.algorithms.linear_head import (
    linear_pipeline,
    text_feature_scores,
    tfidf_pipeline,
)
from labelpilot.datasets.tables import Dataset
from labelpilot.datasets.types import DatasetType
from labelpilot.engine.context import RunContext, TaskFailed
from labelpilot.errors import (
    AutoDeployRunning,
    DeployNeedsLabels,
    DeployTooFewPerLabel,
    RunFailed,
    TaskCode,
)
from labelpilot.mlmodels.deploy_model import (
    Origin,
    Trained,
    evaluate,
    register_service_model,
    register_trained,
    remove_models,
)
from labelpilot.runners.common import instance_count
from labelpilot.runners.deploy_params import Params, model_name_for, parse_parameters
from labelpilot.runners.training_data import Item, label_counts, remove_version, training_data
from labelpilot.serving.rollout import ServiceDidNotStart, remove_service, wait_until_running
from labelpilot.serving.service import create_service
from labelpilot.tasks.kinds import TaskConfig, TaskResult, TaskRunner
from labelpilot.tasks.tables import Task

SUPPORTED_TYPES = (DatasetType.IMAGE_CLASSIFICATION, DatasetType.TEXT_CLASSIFICATION)
MIN_PER_LABEL = 5


@dataclass
class Created:
    """What this run created so far (removed again on a stop or a failure)."""

    version_id: str | None = None  # a version this task published
    model_ids: list[str] = field(default_factory=list)
    service_id: str | None = None


class AutoDeployConfig(TaskConfig):
    parameters: list[dict[str, Any]] | None = None
    inf_config_list: list[dict[str, Any]] | None = None

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        parse_parameters(value)
        return value

    @property
    def params(self) -> Params:
        return parse_parameters(self.parameters)


class AutoDeployRunner(TaskRunner[AutoDeployConfig]):
    task_type: ClassVar[str] = "auto-deploy"
    type_code: ClassVar[int] = 8  # the default; LABELPILOT_AUTO_DEPLOY_TYPE sets it
    submit_code: ClassVar[str] = TaskCode.AUTO_DEPLOY_SUBMITTED
    submit_message: ClassVar[str] = "Auto deploy task submitted."
    success_message: ClassVar[str] = "auto deploy task executed successfully."
    running_error = AutoDeployRunning
    running_message: ClassVar[str] = "An auto deploy task is already running on this dataset."
    Config = AutoDeployConfig
    unique_names: ClassVar[bool] = True
    dataset_types = SUPPORTED_TYPES
    title: ClassVar[str] = "auto-deploy"

    @property
    def type(self) -> int:
        """ModelArts does not document auto-deploy's ``type``; the setting decides."""
        return self.settings.auto_deploy_type

    # -- request time (no ML) ---------------------------------------------------------------

    @override
    def check(self, session: Session, dataset: Dataset, config: AutoDeployConfig) -> None:
        instance_count(config.inf_config_list, self.settings.service_max_instances)
        counts = label_counts(session, dataset.id)
        if not counts:
            raise DeployNeedsLabels("auto-deploy needs labeled samples: the dataset has none")
        if len(counts) < 2:
            raise DeployNeedsLabels(
                f"auto-deploy needs at least two labels with labeled samples (only "
                f"'{next(iter(counts))}' has some)"
            )
        few = sorted((name, n) for name, n in counts.items() if n < MIN_PER_LABEL)
        if few:
            detail = ", ".join(f"{name}: {n}" for name, n in few)
            raise DeployTooFewPerLabel(
                f"auto-deploy needs at least {MIN_PER_LABEL} labeled samples per label "
                f"(too few: {detail})"
            )

    # -- worker -----------------------------------------------------------------------------

    @override
    def run(self, ctx: RunContext, config: AutoDeployConfig) -> TaskResult:
        params = config.params
        instances = instance_count(config.inf_config_list, ctx.settings.service_max_instances)
        created = Created()
        try:
            return self._run(ctx, params, instances, created)
        except BaseException:
            self._cleanup(ctx, created)
            raise

    def _run(self, ctx: RunContext, params: Params, instances: int, created: Created) -> TaskResult:
        with ctx.db.read() as sess:
            ds = sess.get(Dataset, ctx.dataset_id)
            assert ds is not None
            dataset_name, dataset_type = ds.name, ds.dataset_type
            task_name = sess.scalar(select(Task.name).where(Task.id == ctx.task_id)) or ""
        with ctx.step("export", "the current dataset version (published if there is none)"):
            data = training_data(ctx, params.eval_ratio, params.seed)
            if data.published:
                created.version_id = data.version_id
            items, held = data.items, data.held
            ctx.progress(5.0)
        counts = Counter(i.label for i in items)
        if len(counts) < 2 or min(counts.values()) < MIN_PER_LABEL:
            raise TaskFailed(
                DeployTooFewPerLabel(
                    f"auto-deploy needs at least two labels with {MIN_PER_LABEL} labeled samples "
                    "each"
                )
            )
        result: dict[str, Any] = {
            "dataset_name": dataset_name,
            "dataset_type": str(dataset_type),
            "train_job_id": ctx.task_id,
            "train_job_name": f"{task_name or 'auto-deploy'}-train",
        }
        result.update(
            version_id=data.version_id,
            version_name=data.version_name,
            manifest_path=data.manifest_url,
            train_data_path=data.manifest_url,
        )
        origin = Origin(ctx.project_id, ctx.dataset_id, ctx.task_id)

        ctx.check_stop()
        with ctx.step("train", f"{int((~held).sum())} samples, {len(counts)} labels"):
            trained = ctx.interruptible(lambda: self._train(ctx, dataset_type, items, held, params))
            ctx.progress(70.0)

        ctx.check_stop()
        with ctx.step("evaluate", f"{int(held.sum())} held-out samples"):
            from labelpilot.features.images import read_sample

            evaluation = ctx.interruptible(
                lambda: evaluate(
                    trained,
                    held,
                    [i.source for i in items],
                    lambda source: read_sample(ctx, source),
                )
            )
            result["metrics"] = evaluation.metrics
            result["export_check"] = evaluation.export_check
            result["features"] = trained.features
            if trained.candidates:
                result["feature_candidates"] = trained.candidates
            ctx.progress(80.0)

        ctx.check_stop()
        model_name = model_name_for(dataset_name)
        with ctx.step("register", f"model {model_name}"):
            self._code(ctx, TaskCode.MODEL_IMPORT_SUBMITTED, "Model import submitted.")
            with ctx.db.transaction() as sess:
                row = register_trained(
                    sess,
                    ctx.storage,
                    trained,
                    model_name=model_name,
                    metrics=evaluation.metrics,
                    origin=origin,
                    max_bytes=ctx.settings.max_model_bytes,
                )
                model_id, model_version = row.id, row.model_version
            created.model_ids.append(model_id)
            result.update(model_id=model_id, model_name=model_name, model_version=model_version)
            self._code(ctx, TaskCode.MODEL_IMPORTED, "Model import executed.")
            ctx.progress(85.0)

        ctx.check_stop()
        service_name = f"{model_name}-{model_version}"
        with ctx.step("deploy", f"service {service_name}, {instances} instance(s)"):
            result.update(
                self._deploy(
                    ctx,
                    trained,
                    origin,
                    model_id=model_id,
                    model_name=model_name,
                    model_version=model_version,
                    service_name=service_name,
                    instances=instances,
                    dataset_name=dataset_name,
                    created=created,
                )
            )
        return TaskResult(**result)

    def _deploy(
        self,
        ctx: RunContext,
        trained: Trained,
        origin: Origin,
        *,
        model_id: str,
        model_name: str,
        model_version: str,
        service_name: str,
        instances: int,
        dataset_name: str,
        created: Created,
    ) -> dict[str, Any]:
        """Create the service, wait until it runs, register it as an HTTP model."""
        with ctx.db.transaction() as sess:
            svc = create_service(
                sess,
                ctx.project_id,
                model_id,
                service_name=service_name,
                host=ctx.settings.service_host,
                instance_count=instances,
                max_instances=ctx.settings.service_max_instances,
                description=f"deployed by auto-deploy task {ctx.task_id} on {dataset_name}",
                dataset_id=ctx.dataset_id,
                task_id=ctx.task_id,
            )
            service_id = svc.id
        created.service_id = service_id
        limit = ctx.settings.service_start_timeout * ctx.settings.service_start_attempts + 60
        try:
            url = wait_until_running(ctx.db, service_id, limit, lambda: ctx.check_stop(0.0))
        except ServiceDidNotStart as exc:
            raise TaskFailed(RunFailed(str(exc))) from exc
        ctx.progress(95.0)
        with ctx.db.transaction() as sess:
            http = register_service_model(
                sess,
                ctx.storage,
                trained,
                model_name=model_name,
                model_version=model_version,
                url=url,
                description=f"online service {service_id} ({service_name})",
                origin=origin,
                max_bytes=ctx.settings.max_model_bytes,
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

    # -- training ---------------------------------------------------------------------------

    def _train(
        self,
        ctx: RunContext,
        dataset_type: int,
        items: list[Item],
        held: np.ndarray,
        params: Params,
    ) -> Trained:
        y = np.array([i.label for i in items])
        if dataset_type == DatasetType.IMAGE_CLASSIFICATION:
            from labelpilot.features.images import embedder, image_features

            X, _, skipped = image_features(
                ctx,
                [(i.sample_id, i.source) for i in items],
                image_size=params.image_size,
                progress_from=5.0,
                progress_to=60.0,
            )
            if skipped:  # the exported version and the split name every labeled sample
                sid, reason = next(iter(skipped.items()))
                raise TaskFailed(
                    RunFailed(
                        f"{len(skipped)} labeled samples cannot be read (first: {sid}: {reason}); "
                        "auto-deploy trains on every labeled sample: fix or delete them"
                    )
                )
            emb: Any = embedder(str(ctx.settings.resolved_model_dir), params.image_size)
            pipe = linear_pipeline(params.C, params.max_iter).fit(X[~held], y[~held])
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
            raise TaskFailed(RunFailed("text_features=minilm: the MiniLM encoder is missing"))
        ctx.check_stop()
        if wanted == "auto" and embeddings is not None:
            candidates = text_feature_scores(
                embeddings[~held],
                train_texts,
                y_train,
                C=params.C,
                max_iter=params.max_iter,
                seed=params.seed,
            )
        if candidates:
            choice = "minilm" if candidates["minilm"] >= candidates["tfidf"] else "tfidf"
        else:
            choice = "minilm" if embeddings is not None and wanted != "tfidf" else "tfidf"
        if choice == "minilm":
            assert embeddings is not None
            pipe = linear_pipeline(params.C, params.max_iter).fit(embeddings[~held], y_train)
            return Trained("minilm", pipe, embeddings, y, "all-MiniLM-L6-v2", candidates)
        pipe = tfidf_pipeline(params.C, params.max_iter).fit(train_texts, y_train)
        return Trained("tfidf", pipe, np.array(texts, dtype=object), y, "tfidf", candidates)

    # -- helpers ----------------------------------------------------------------------------

    @staticmethod
    def _code(ctx: RunContext, code: str, message: str) -> None:
        with ctx.db.transaction() as sess:
            sess.execute(
                update(Task)
                .where(Task.id == ctx.task_id, Task.worker_id == ctx.worker_id)
                .values(code=code, message=message)
            )

    @staticmethod
    def _cleanup(ctx: RunContext, created: Created) -> None:
        """Remove the service (after its process ended), the models and the version it published."""
        if created.service_id:
            remove_service(ctx.db, created.service_id)
        if created.model_ids:
            remove_models(ctx.db, ctx.storage, created.model_ids)
        if created.version_id:
            remove_version(ctx, created.version_id)
