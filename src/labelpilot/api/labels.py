"""UpdateDataset and label maintenance: batch update, batch delete, update one, delete one
(DATA_MANAGEMENT.md §1, §2)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import ConfigDict, Field

from labelpilot.api import schemas as s
from labelpilot.api import translate
from labelpilot.api.deps import DatasetForWrite, IntQuery, Svc, WriteSession
from labelpilot.api.openapi import errors
from labelpilot.api.render.datasets import batch_response
from labelpilot.api.retry import RetryingRoute
from labelpilot.api.untrusted import CheckedBody, check_free_json
from labelpilot.datasets.types import LabelSpec
from labelpilot.errors import (
    BadRequest,
    DatasetNameTaken,
    DatasetNotFound,
    LabelExists,
    LabelNotFound,
    LabelShortcutTaken,
    NotAvailable,
)
from labelpilot.samples import label_edits
from labelpilot.samples.label_edits import DatasetEdit, DeletePolicy, LabelChange

router = APIRouter(tags=["labels"], route_class=RetryingRoute)
DATASET = "/v2/{project_id}/datasets/{dataset_id}"
LABELS = DATASET + "/data-annotations/labels"


class UpdateDatasetRequest(s.In):
    dataset_name: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_\-]+$"
    )
    description: str | None = Field(None, max_length=256, pattern=r"^[^\^!<>=&\"']*$")
    current_version_id: str | None = None
    add_labels: list[s.LabelIn] | None = None
    update_labels: list[s.LabelIn] | None = None
    delete_labels: list[s.LabelIn] | None = None
    labels: list[s.LabelIn] | None = None


class UpdateDatasetResponse(s.Out):
    dataset_id: str


class LabelPropertyMap(CheckedBody):
    """UpdateLabel's body: the LabelProperty map itself (``{"@modelarts:color": "#93c47d"}``)."""

    model_config = ConfigDict(extra="allow")


def _specs(labels: list[s.LabelIn] | None, field: str) -> list[LabelSpec] | None:
    if labels is None:
        return None
    return [translate.label_spec(x, f"{field}[{i}]") for i, x in enumerate(labels)]


def _change(lb: s.LabelIn, field: str) -> LabelChange:
    spec = translate.label_spec(lb, field)
    return LabelChange(
        name=spec.name,
        type=spec.type,
        property=spec.property,
        attributes=spec.attributes if lb.attributes is not None else None,
    )


def _policy(value: int | None) -> DeletePolicy:
    """``delete_policy``; otcextensions omits it when 0, so a missing value means 0."""
    if value is None:
        return DeletePolicy.LABEL_ONLY
    try:
        return DeletePolicy(value)
    except ValueError as exc:
        raise BadRequest("Invalid parameter delete_policy: must be 0, 1 or 2") from exc


@router.put(
    DATASET,
    response_model=UpdateDatasetResponse,
    responses=errors(
        DatasetNotFound,
        DatasetNameTaken,
        LabelExists,
        LabelNotFound,
        LabelShortcutTaken,
        NotAvailable,
    ),
)
def update_dataset(
    dataset: DatasetForWrite, body: UpdateDatasetRequest, session: WriteSession, svc: Svc
) -> UpdateDatasetResponse:
    """Name, description and labels in one transaction: delete_labels, add_labels, then
    update_labels (``labels`` alone is the full new list)."""
    if body.current_version_id is not None:
        raise NotAvailable("current_version_id: switching the current version is not available yet")
    edit = DatasetEdit(
        name=body.dataset_name,
        description=body.description,
        add_labels=_specs(body.add_labels, "add_labels"),
        update_labels=(
            [_change(x, f"update_labels[{i}]") for i, x in enumerate(body.update_labels)]
            if body.update_labels is not None
            else None
        ),
        delete_labels=[x.name for x in body.delete_labels] if body.delete_labels else None,
        labels=_specs(body.labels, "labels"),
    )
    label_edits.update_dataset(session, svc.storage, dataset, edit)
    return UpdateDatasetResponse(dataset_id=dataset.id)


@router.put(
    LABELS,
    response_model=s.BatchResponse,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def update_labels(
    dataset: DatasetForWrite, body: s.LabelsRequest, session: WriteSession
) -> s.BatchResponse:
    """Merge each label's ``property`` and ``attributes``; ``@modelarts:rename_to`` renames it
    on every sample. An unknown label fails its own item (4410)."""
    changes = [_change(x, f"labels[{i}]") for i, x in enumerate(body.labels)]
    return batch_response(label_edits.update_labels(session, dataset, changes))


@router.post(
    LABELS + "/delete",
    response_model=s.BatchResponse,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def delete_labels(
    dataset: DatasetForWrite,
    body: s.LabelsRequest,
    session: WriteSession,
    svc: Svc,
    delete_policy: IntQuery = None,
) -> s.BatchResponse:
    """Delete labels and strip them from the samples; ``delete_policy`` 1 also deletes the
    samples left without a label, 2 their stored files too."""
    names = [x.name for x in body.labels]
    outcome = label_edits.delete_labels(
        session, svc.storage, dataset, names, _policy(delete_policy)
    )
    return batch_response(outcome)


@router.put(
    LABELS + "/{label_name}",
    status_code=204,
    response_class=Response,
    responses=errors(DatasetNotFound, LabelNotFound, LabelExists, LabelShortcutTaken),
)
def update_label(
    dataset: DatasetForWrite,
    label_name: str,
    session: WriteSession,
    body: LabelPropertyMap | None = None,
    label_type: IntQuery = None,
) -> None:
    """Merge a LabelProperty map into one label (``@modelarts:rename_to`` renames it)."""
    prop = dict(body.model_extra or {}) if body is not None else {}
    check_free_json(prop, "body")
    label_edits.find_label(dataset, label_name, "label_name", label_type)  # 4410 naming the path
    change = LabelChange(name=label_name, type=label_type, property=prop)
    label_edits.update_label(session, dataset, change, "body")


@router.delete(
    LABELS + "/{label_name}",
    status_code=204,
    response_class=Response,
    responses=errors(DatasetNotFound, LabelNotFound),
)
def delete_label(
    dataset: DatasetForWrite,
    label_name: str,
    session: WriteSession,
    svc: Svc,
    delete_source: Annotated[bool, Query()] = False,
    label_type: IntQuery = None,
) -> None:
    """Delete a label and the samples that carry only it (their stored files too with
    ``delete_source=true``): delete_policy 1, or 2."""
    label = label_edits.find_label(dataset, label_name, "label_name", label_type)
    policy = DeletePolicy.SAMPLES_AND_FILES if delete_source else DeletePolicy.SAMPLES
    keys = label_edits.delete_label(session, svc.storage, dataset, label, policy)
    label_edits.delete_files_later(session, svc.storage, keys)
