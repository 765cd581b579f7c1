"""Datasets, labels and batch answers as ModelArts renders them."""

from __future__ import annotations

from typing import TypedDict

from labelpilot.api import schemas as s
from labelpilot.api.render.tolerant import stored_json
from labelpilot.datasets.tables import Dataset, Label
from labelpilot.samples.types import BatchOutcome
from labelpilot.storage import Storage
from labelpilot.storage.keys import dataset_prefix


class InnerPaths(TypedDict):
    inner_work_path: str
    inner_annotation_path: str
    inner_data_path: str
    inner_log_path: str
    inner_temp_path: str
    inner_task_path: str


def inner_paths(storage: Storage, ds: Dataset) -> InnerPaths:
    base = dataset_prefix(ds.id)
    return {
        "inner_work_path": storage.url(base) + "/",
        "inner_annotation_path": storage.url(f"{base}/annotation") + "/",
        "inner_data_path": storage.url(f"{base}/data") + "/",
        "inner_log_path": storage.url(f"{base}/logs") + "/",
        "inner_temp_path": storage.url(f"{base}/temp") + "/",
        "inner_task_path": storage.url(f"{base}/task") + "/",
    }


def label_out(label: Label) -> s.LabelOut:
    what = f"label {label.id} of dataset {label.dataset_id}"
    return s.LabelOut(
        name=label.name,
        type=label.type,
        property=stored_json(label.property or {}, what),
        attributes=stored_json(label.attributes, what),
    )


def dataset_out(
    storage: Storage,
    ds: Dataset,
    counters: dict[str, int],
    running: list[str],
    status: int | None = None,
) -> s.DatasetOut:
    return s.DatasetOut(
        dataset_id=ds.id,
        dataset_name=ds.name,
        dataset_type=ds.dataset_type,
        status=ds.status if status is None else status,
        description=ds.description,
        data_sources=[
            s.DataSource.model_validate(d)
            for d in stored_json(ds.data_sources or [], f"dataset {ds.id} data_sources")
        ],
        work_path=ds.work_path,
        work_path_type=ds.work_path_type,
        labels=[label_out(lb) for lb in ds.labels],
        workspace_id=ds.workspace_id,
        create_time=ds.create_time,
        update_time=ds.update_time,
        total_sample_count=counters["total"],
        annotated_sample_count=counters["annotated"],
        unconfirmed_sample_count=counters["unconfirmed"],
        exist_running_task=bool(running),
        running_tasks_id=list(running),
        **inner_paths(storage, ds),
    )


def batch_response(outcome: BatchOutcome) -> s.BatchResponse:
    """A batch write's answer: success only if every item succeeded."""
    return s.BatchResponse(
        success=outcome.success,
        results=[
            s.BatchResult(
                success=r.success,
                name=r.name,
                info=r.info,
                error_code=r.error_code,
                error_msg=r.error_msg,
            )
            for r in outcome.results
        ],
        error_code=outcome.error_code,
        error_msg=outcome.error_msg,
    )
