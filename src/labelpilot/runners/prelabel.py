"""pre-label: run a registered model over the dataset and write its predictions to be confirmed.

Steps (each an event): ``loading`` (the model file is read and validated, one session per
inference instance), ``inference`` (samples in batches of 32, ``instance_count`` instances in
parallel, progress 5-90 %), ``writing`` (to-be-confirmed labels, 90-100 %).

Targets: the samples listed in ``config.samples`` (ids, or objects with ``sample_id``) when given;
otherwise every unlabeled and every still-unconfirmed sample (confirmed labels are never
touched). Classification writes one label per sample; detection writes ``bndbox`` labels with
``@modelarts:feature`` corners in pixels and ``@modelarts:size`` in the metadata. Classes the
dataset does not have: ``config.unknown_labels`` = ``create`` (default: the label is added to
the dataset) or ``skip`` (that prediction is dropped and counted in the result).
"""

from __future__ import annotations

import io
import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from pydantic import field_validator, model_validator
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from typing_extensions import override

from labelpilot.algorithms.hard_rules import (
    HardExamples,
    combine_strengths,
    low_confidence_strength,
    prediction_change_strength,
)
from labelpilot.datasets.tables import STATE_AUTO, STATE_NONE, Dataset, Sample
from labelpilot.datasets.types import DatasetType, LabelType, SampleType
from labelpilot.engine.context import RunContext, TaskFailed
from labelpilot.errors import (
    BadRequest,
    InferenceFailed,
    InvalidModel,
    ModelDoesNotFitDataset,
    NoTargetSamples,
    PreLabelRunning,
    TaskCode,
)
from labelpilot.features.images import read_sample
from labelpilot.mlmodels.predictor import InvalidModel as ModelUnusable
from labelpilot.mlmodels.predictor import Prediction, Predictor
from labelpilot.mlmodels.spec import TASK_DATASET_TYPES
from labelpilot.mlmodels.tables import Model
from labelpilot.runners.common import (
    hard_example_outputs,
    instance_count,
    parse_scope,
    unreadable_outcome,
    write_samples,
)
from labelpilot.runners.reading import SampleReader
from labelpilot.samples import attributes
from labelpilot.samples.service import set_labels
from labelpilot.samples.types import NewLabel
from labelpilot.tasks.kinds import TaskConfig, TaskResult, TaskRunner
from labelpilot.tasks.tables import Task

BATCH = 32
MAX_AUGMENTED = 2000  # augmentation checks (4 more inferences each) above this are skipped
MAX_INSTANCES = 8
DATASET_TASK_NAMES = {0: "image classification", 1: "object detection", 100: "text classification"}


@dataclass
class Target:
    sample_id: str
    source: str


class PreLabelConfig(TaskConfig):
    """``model_id`` is the task's (request or config), else the first inf_config's."""

    model_id: str | None = None
    inf_config_list: list[dict[str, Any]] | None = None
    unknown_labels: str = "create"
    confidence_scope: str | None = None
    samples: Any = None

    @model_validator(mode="after")
    def _values(self) -> PreLabelConfig:
        _ = self.instance_count  # raises on a bad value
        if self.unknown_labels not in ("create", "skip"):
            raise BadRequest("config.unknown_labels must be 'create' or 'skip'")
        parse_scope(self.confidence_scope)
        _ = self.sample_ids
        return self

    @field_validator("inf_config_list", mode="before")
    @classmethod
    def _objects(cls, value: Any) -> Any:
        return (
            [v if isinstance(v, dict) else {} for v in value] if isinstance(value, list) else value
        )

    @property
    def model(self) -> str | None:
        """The model to run: ``model_id`` or the first inf_config's."""
        if self.model_id:
            return self.model_id
        for inf in self.inf_config_list or []:
            if inf.get("model_id"):
                return str(inf["model_id"])
        return None

    @property
    def instance_count(self) -> int:
        return instance_count(self.inf_config_list, MAX_INSTANCES)

    @property
    def sample_ids(self) -> list[str] | None:
        raw = self.samples
        if raw is None:
            return None
        if not isinstance(raw, list) or not raw:
            raise BadRequest("config.samples must be a non-empty list of sample ids")
        ids = []
        for i, item in enumerate(raw):
            sid = item.get("sample_id") if isinstance(item, dict) else item
            if not isinstance(sid, str) or not sid:
                raise BadRequest(f"config.samples[{i}] must be a sample id")
            ids.append(sid)
        return ids


def _targets_query(dataset_id: str, sample_type: int, ids: list[str] | None) -> Select[str, str]:
    q = select(Sample.id, Sample.source).where(Sample.dataset_id == dataset_id)
    if ids is None:
        q = q.where(Sample.state.in_((STATE_NONE, STATE_AUTO)))
    else:
        q = q.where(Sample.id.in_(ids))
    return q.where(Sample.sample_type == sample_type)


def load_targets(
    session: Session, dataset_id: str, sample_type: int, ids: list[str] | None
) -> list[Target]:
    q = _targets_query(dataset_id, sample_type, ids).order_by(Sample.sample_time, Sample.id)
    return [Target(r.id, r.source) for r in session.execute(q)]


def _sample_type(dataset_type: int) -> SampleType:
    return SampleType.TEXT if dataset_type == DatasetType.TEXT_CLASSIFICATION else SampleType.IMAGE


class PreLabelRunner(TaskRunner[PreLabelConfig]):
    task_type: ClassVar[str] = "pre-label"
    type_code: ClassVar[int] = 1
    submit_code: ClassVar[str] = TaskCode.PRE_LABEL_SUBMITTED
    submit_message: ClassVar[str] = "Auto inference task submitted."
    success_message: ClassVar[str] = "prelabel task execute successfully."
    running_error = PreLabelRunning
    running_message: ClassVar[str] = "A pre-label task is already running on this dataset."
    Config = PreLabelConfig

    @override
    def check(self, session: Session, dataset: Dataset, config: PreLabelConfig) -> None:
        model_id = config.model
        if not model_id:
            raise BadRequest("model_id is required for a pre-label task")
        model = session.get(Model, model_id)
        if model is None or model.project_id != dataset.project_id:
            raise InvalidModel(f"model_id '{model_id}' does not exist")
        if model.model_status != "published":
            raise InvalidModel(f"model {model_id} is {model.model_status}, not published")
        allowed = TASK_DATASET_TYPES.get(model.task, ())
        if dataset.dataset_type not in allowed:
            kind = DATASET_TASK_NAMES.get(dataset.dataset_type, f"type {dataset.dataset_type}")
            raise ModelDoesNotFitDataset(
                f"model {model.model_name} {model.model_version} is a {model.task} model; "
                f"the dataset is {kind}"
            )
        ids = config.sample_ids
        query = _targets_query(dataset.id, _sample_type(dataset.dataset_type), ids)
        if session.execute(query.limit(1)).first() is None:
            raise NoTargetSamples(
                "the given samples do not exist in the dataset"
                if ids
                else "the dataset has no unlabeled or unconfirmed samples"
            )

    @override
    def run(self, ctx: RunContext, config: PreLabelConfig) -> TaskResult:
        from labelpilot.mlmodels.service import load_predictor

        model_id = config.model
        n_instances = config.instance_count
        policy = config.unknown_labels
        scope = parse_scope(config.confidence_scope)
        with ctx.db.read() as sess:
            ds = sess.get(Dataset, ctx.dataset_id)
            model = sess.get(Model, model_id) if model_id else None
            if ds is None or model is None:
                raise TaskFailed(InvalidModel(f"model {model_id} no longer exists"))
            dataset_type = ds.dataset_type
            targets = load_targets(
                sess, ctx.dataset_id, _sample_type(dataset_type), config.sample_ids
            )
            known = {lb.name for lb in ds.labels}
            sess.expunge(model)
        info = {
            "model_id": model.id,
            "model_name": model.model_name,
            "model_version": model.model_version,
        }
        with ctx.db.transaction() as sess:
            task = sess.get(Task, ctx.task_id)
            if task is not None:
                task.model_id, task.model_name = model.id, model.model_name
                task.model_version = model.model_version
        ctx.set_result(**info)
        threads = max(1, (os.cpu_count() or 1) // n_instances)
        with ctx.step("loading", f"{model.model_name} {model.model_version} ({model.model_type})"):
            try:
                predictors = ctx.interruptible(
                    lambda: [
                        load_predictor(ctx.storage, model, threads) for _ in range(n_instances)
                    ]
                )
            except ModelUnusable as exc:
                raise TaskFailed(InvalidModel(f"invalid model: {exc}")) from exc
            except FileNotFoundError as exc:  # the registry row outlived its file
                raise TaskFailed(
                    InvalidModel(
                        f"model {model.model_name} {model.model_version}: its file is missing "
                        "from storage; register the model again"
                    )
                ) from exc
            ctx.progress(5.0)
        hard = None
        try:
            with ctx.step(
                "inference", f"{len(targets)} samples, {n_instances} instance(s) in parallel"
            ):
                total = len(targets)
                targets, preds, unreadable = self._infer(
                    ctx, predictors, targets, dataset_type == DatasetType.TEXT_CLASSIFICATION
                )
                unreadable_fields = unreadable_outcome(ctx, total, unreadable)
            if ctx.collect_key_sample:
                with ctx.step("hard examples", "low confidence; augmentations for image classes"):
                    hard = self._hard(ctx, predictors[0], model, targets, preds, scope)
        finally:
            for p in predictors:
                p.close()
        ctx.check_stop()
        with ctx.step("writing", f"{len(targets)} samples"):
            counts, skipped, empty = self._write(ctx, model, targets, preds, hard, known, policy)
        result: dict[str, Any] = {
            **info,
            "label_counts": dict(counts),
            "predicted_sample_count": len(targets),
            "unlabeled_prediction_count": empty,
            "instance_count": n_instances,
            **unreadable_fields,
        }
        if skipped:
            result["skipped_unknown_labels"] = dict(skipped)
        if hard is not None:
            result["hard_sample_count"] = int(np.asarray(hard.hard).sum())
            samples = [(t.sample_id, t.source) for t in targets]
            result.update(hard_example_outputs(ctx, samples, hard))
        return TaskResult(**result)

    # -- steps ------------------------------------------------------------------------------

    def _infer(
        self, ctx: RunContext, predictors: list[Predictor], targets: list[Target], text: bool
    ) -> tuple[list[Target], list[Prediction], dict[str, str]]:
        """The targets that could be read, their predictions, and the skipped ones' reasons."""
        chunks = [targets[i : i + BATCH] for i in range(0, len(targets), BATCH)]
        out: list[list[Prediction | None] | None] = [None] * len(chunks)
        done = 0
        reader = SampleReader(ctx, text=text)

        def work(predictor: Predictor, k: int) -> list[Prediction | None]:
            return reader.predict(predictor, [(t.sample_id, t.source) for t in chunks[k]])

        n = len(predictors)
        with ThreadPoolExecutor(max_workers=n) as pool:
            # instance i handles chunks i, i+n, ...: each session is used by one thread at a time
            for start in range(0, len(chunks), n):
                ctx.check_stop()
                futures = {
                    k: pool.submit(work, predictors[k - start], k)
                    for k in range(start, min(start + n, len(chunks)))
                }
                for k, fut in futures.items():
                    try:
                        out[k] = fut.result()
                    except ModelUnusable as exc:
                        raise TaskFailed(InvalidModel(f"invalid model: {exc}")) from exc
                    except ConnectionError as exc:
                        raise TaskFailed(InferenceFailed(str(exc))) from exc
                    done += len(chunks[k])
                ctx.progress(5.0 + 85.0 * done / max(len(targets), 1))
        flat = [p for chunk in out for p in (chunk or [])]
        kept = [(t, p) for t, p in zip(targets, flat, strict=True) if p is not None]
        return [t for t, _ in kept], [p for _, p in kept], reader.skipped

    def _hard(
        self,
        ctx: RunContext,
        predictor: Predictor,
        model: Model,
        targets: list[Target],
        preds: list[Prediction],
        scope: tuple[float, float] | None,
    ) -> HardExamples:
        """Hard-example reasons that apply to any model (see docs/prelabel.md).

        1, low confidence, on a sample's least confident label: inside ``confidence_scope``
        when given, else at most the midpoint between chance and certainty (classification,
        strength ``(1 - p) / (1 - 1/k)`` as in auto-label) or below 0.5 (detection, strength
        ``1 - p``; a sample without boxes is hard). 19, 21, 23, 24 (image classification, at
        most ``MAX_AUGMENTED`` samples): the top class changes when the image is blurred,
        cropped, scaled or translated; strength the total variation between the two score
        rows (at least 0.5 when the class changes).
        """
        n = len(preds)
        low = np.array([min((lb.score for lb in p.labels), default=0.0) for p in preds])
        k = np.array([len(p.scores) if p.scores else 0 for p in preds])
        strengths: dict[int, np.ndarray] = {}
        strengths[1] = np.where(
            [not p.labels for p in preds], 1.0, low_confidence_strength(low, k, scope)
        )
        if model.task == "image_classification" and 0 < n <= MAX_AUGMENTED:
            strengths.update(self._augmented(ctx, predictor, targets, preds))
        return combine_strengths({r: np.clip(v, 0.0, 1.0) for r, v in strengths.items()}, n)

    def _augmented(
        self, ctx: RunContext, predictor: Predictor, targets: list[Target], preds: list[Prediction]
    ) -> dict[int, np.ndarray]:
        from labelpilot.algorithms.augment import DEFAULT_AUGMENTATIONS, augment_images
        from labelpilot.algorithms.image_decode import load_image

        tv = {rid: np.zeros(len(targets)) for rid in DEFAULT_AUGMENTATIONS}
        changed = {rid: np.zeros(len(targets), dtype=bool) for rid in DEFAULT_AUGMENTATIONS}
        for start in range(0, len(targets), BATCH):
            ctx.check_stop()
            chunk = range(start, min(start + BATCH, len(targets)))
            images = [load_image(read_sample(ctx, targets[i].source)) for i in chunk]
            for rid in DEFAULT_AUGMENTATIONS:
                augmented = predictor.predict_images(
                    [_png(im) for im in augment_images(images, rid)]
                )
                for i, aug in zip(chunk, augmented, strict=True):
                    tv[rid][i], changed[rid][i] = _change(preds[i], aug)
        return {rid: prediction_change_strength(tv[rid], changed[rid]) for rid in tv}

    def _write(
        self,
        ctx: RunContext,
        model: Model,
        targets: list[Target],
        preds: list[Prediction],
        hard: HardExamples | None,
        known: set[str],
        policy: str,
    ) -> tuple[Counter[str], Counter[str], int]:
        detection = model.task == "object_detection"
        label_type = {
            "image_classification": LabelType.IMAGE_CLASSIFICATION,
            "object_detection": LabelType.OBJECT_DETECTION,
        }.get(model.task, LabelType.TEXT_CLASSIFICATION)
        tag = f"{model.model_name}:{model.model_version}"
        counts: Counter[str] = Counter()
        skipped: Counter[str] = Counter()
        empty = 0

        def write(sess: Session, ds: Dataset, i: int, sample: Sample) -> None:
            nonlocal empty
            labels = []
            if hard is not None:
                hard_row = (hard.hard[i], hard.coefficient[i], hard.reasons[i])
            for lb in preds[i].labels:
                if lb.name not in known and policy == "skip":
                    skipped[lb.name] += 1
                    continue
                prop: dict[str, Any] = {}  # attribute keys first, as ModelArts orders them
                if detection and lb.bbox is not None:
                    prop.update(attributes.bndbox_property(lb.bbox))
                if hard is not None:
                    prop.update(attributes.hard_label_property(*hard_row))
                prop.update(attributes.model_property(tag, ctx.task_id, model.id))
                labels.append(
                    NewLabel(
                        name=lb.name,
                        type=label_type,
                        score=round(float(np.clip(lb.score, 0, 1)), 6),
                        annotated_by="auto",
                        property=prop,
                    )
                )
                counts[lb.name] += 1
                known.add(lb.name)
            meta = dict(sample.meta or {})
            size = preds[i].size
            if detection and size is not None:
                meta.update(attributes.image_size_metadata(size[0], size[1]))
            if hard is not None:
                meta.update(attributes.hard_metadata(*hard_row))
            elif labels:  # new predictions without hard-example checks: no stale flags
                meta = attributes.without_hard(meta)
            if not labels:
                empty += 1
                if sample.state == STATE_AUTO:
                    return  # an older prediction stays until someone decides
            state = STATE_AUTO if labels else STATE_NONE
            set_labels(sess, ds, sample, labels, state=state, metadata=meta)

        write_samples(ctx, [t.sample_id for t in targets], write, progress_from=90.0)
        return counts, skipped, empty


def _png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _change(before: Prediction, after: Prediction) -> tuple[float, bool]:
    """Total variation between the score rows, and whether the top class changed."""
    top = before.labels[0].name if before.labels else None
    changed = (after.labels[0].name if after.labels else None) != top
    if before.scores and after.scores:
        names = set(before.scores) | set(after.scores)
        tv = 0.5 * sum(abs(before.scores.get(c, 0.0) - after.scores.get(c, 0.0)) for c in names)
    else:
        tv = 1.0 if changed else 0.0
    return tv, changed
