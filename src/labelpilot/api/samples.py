"""Sample and auto-annotation routes."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from labelpilot.api import schemas as s
from labelpilot.api import translate
from labelpilot.api.deps import (
    DatasetForRead,
    DatasetForWrite,
    IntQuery,
    Limit,
    Offset,
    ReadSession,
    SampleForRead,
    Svc,
    WriteSession,
)
from labelpilot.api.openapi import errors
from labelpilot.api.render.datasets import batch_response
from labelpilot.api.render.samples import sample_out
from labelpilot.api.render.tolerant import each
from labelpilot.api.retry import RetryingRoute
from labelpilot.datasets.tables import STATE_AUTO, Dataset
from labelpilot.errors import (
    BadRequest,
    DatasetNotFound,
    ImageTooLarge,
    ImageUnreadable,
    LabelNotFound,
    NotAvailable,
    PathNotAllowed,
    SampleExists,
    SampleNotFound,
    SamplesNotFound,
    SamplesNotUpdated,
    SampleTooLarge,
)
from labelpilot.samples import query
from labelpilot.samples import service as samples
from labelpilot.samples.thumbnails import thumbnail
from labelpilot.samples.types import SampleFilter

router = APIRouter(tags=["samples"], route_class=RetryingRoute)
SAMPLES = "/v2/{project_id}/datasets/{dataset_id}/data-annotations/samples"
AUTO = "/v2/{project_id}/datasets/{dataset_id}/auto-annotations/samples"

Order = Literal["asc", "desc"]
# LabelPilot extension of the sample lists: hard examples first (issue #14 point 4)
SortBy = Literal["sample_time", "hard_coefficient"]


def _score(value: str | None, field: str) -> float | None:
    if value is None:
        return None
    try:
        v = float(value)
    except ValueError as exc:
        raise BadRequest(f"{field} must be a number in [0, 1]") from exc
    if not 0 <= v <= 1:
        raise BadRequest(f"{field} must be a number in [0, 1]")
    return v


def _list(
    session: ReadSession,
    ds: Dataset,
    *,
    only_state: str | None = None,
    sample_state: str | None = None,
    limit: int,
    offset: int,
    label_name: str | None,
    label_type: int | None,
    low_score: str | None,
    high_score: str | None,
    search_conditions: str | None,
    order: str,
    sort_by: str = "sample_time",
) -> s.ListSamplesResponse:
    where = SampleFilter(
        only_state=only_state,
        sample_state=sample_state,
        label_name=label_name,
        label_type=label_type,
        low_score=_score(low_score, "low_score"),
        high_score=_score(high_score, "high_score"),
        conditions=translate.search_conditions(search_conditions),
    )
    total, rows = query.list_samples(
        session, ds, where=where, offset=offset, limit=limit, order=order, sort_by=sort_by
    )
    return s.ListSamplesResponse(sample_count=total, samples=each(rows, sample_out, "sample"))


@router.get(
    SAMPLES,
    response_model=s.ListSamplesResponse,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def list_samples(
    dataset: DatasetForRead,
    session: ReadSession,
    limit: Limit = 10,
    offset: Offset = 0,
    sample_state: str | None = None,
    label_name: str | None = None,
    label_type: IntQuery = None,
    low_score: str | None = None,
    high_score: str | None = None,
    search_conditions: str | None = None,
    order: Order = "desc",
    sort_by: SortBy = "sample_time",
) -> s.ListSamplesResponse:
    """Samples filtered by state, label, score range and search conditions (AND-combined);
    ``sort_by=hard_coefficient`` (an extension) lists hard examples first."""
    return _list(
        session,
        dataset,
        limit=limit,
        offset=offset,
        sample_state=sample_state,
        label_name=label_name,
        label_type=label_type,
        low_score=low_score,
        high_score=high_score,
        search_conditions=search_conditions,
        order=order,
        sort_by=sort_by,
    )


@router.post(
    SAMPLES,
    response_model=s.BatchResponse,
    response_model_exclude_none=True,
    responses=errors(
        SampleExists,
        ImageUnreadable,
        SampleTooLarge,
        LabelNotFound,
        PathNotAllowed,
        DatasetNotFound,
        ImageTooLarge,
        NotAvailable,
    ),
)
def add_samples(
    dataset: DatasetForWrite, body: s.AddSamplesRequest, session: WriteSession, svc: Svc
) -> s.BatchResponse:
    """Add samples (base64 ``data`` or a ``data_source`` file); per-item results."""
    outcome = samples.add_samples(
        session=session,
        storage=svc.storage,
        dataset=dataset,
        samples=[translate.new_sample(x, f"samples[{i}]") for i, x in enumerate(body.samples)],
        final_annotation=body.final_annotation is not False,
        policy=svc.import_policy,
    )
    return batch_response(outcome)


@router.put(
    SAMPLES,
    response_model=s.BatchResponse,
    response_model_exclude_none=True,
    responses=errors(SamplesNotUpdated, SamplesNotFound, LabelNotFound, DatasetNotFound),
)
def update_samples(
    dataset: DatasetForWrite, body: s.UpdateSamplesRequest, session: WriteSession
) -> s.BatchResponse:
    """Write final labels (this confirms to-be-confirmed samples); empty labels clear.
    ``final_annotation: false`` (extension) writes them as to be confirmed instead."""
    edits = [translate.sample_edit(x, f"samples[{i}]") for i, x in enumerate(body.samples)]
    outcome = samples.update_samples(
        session=session, dataset=dataset, edits=edits, final=body.final_annotation is not False
    )
    return batch_response(outcome)


@router.post(
    SAMPLES + "/delete",
    response_model=s.BatchResponse,
    response_model_exclude_none=True,
    responses=errors(SamplesNotFound, DatasetNotFound),
)
def delete_samples(
    dataset: DatasetForWrite, body: s.DeleteSamplesRequest, session: WriteSession, svc: Svc
) -> s.BatchResponse:
    outcome = samples.delete_samples(
        session=session, storage=svc.storage, dataset=dataset, sample_ids=body.samples
    )
    return batch_response(outcome)


@router.get(
    SAMPLES + "/{sample_id}",
    response_model=s.SampleOut,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound, SampleNotFound),
)
def get_sample(sample: SampleForRead) -> s.SampleOut:
    return sample_out(sample)


@router.get(
    SAMPLES + "/{sample_id}/content",
    response_class=Response,
    responses=errors(DatasetNotFound, SampleNotFound),
)
def sample_content(sample: SampleForRead, svc: Svc) -> Response:
    """The sample's file bytes (LabelPilot extension; ``source`` is a storage URL)."""
    key = svc.storage.key_of(sample.source)
    if key is None or not svc.storage.exists(key):
        raise SampleNotFound(sample.id)
    media = mimetypes.guess_type(sample.name)[0] or "application/octet-stream"
    return Response(svc.storage.get(key), media_type=media)


@router.get(
    SAMPLES + "/{sample_id}/thumbnail",
    response_class=Response,
    responses=errors(ImageUnreadable, DatasetNotFound, SampleNotFound, ImageTooLarge),
)
def sample_thumbnail(
    sample: SampleForRead, svc: Svc, size: Annotated[int, Query(ge=16, le=512)] = 128
) -> Response:
    """A JPEG thumbnail of an image sample, made once and cached in storage (extension)."""
    data = thumbnail(svc.storage, sample, size, svc.settings.max_image_pixels)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})


@router.get(
    AUTO,
    response_model=s.ListSamplesResponse,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound),
)
def list_auto_annotations(
    dataset: DatasetForRead,
    session: ReadSession,
    limit: Limit = 10,
    offset: Offset = 0,
    label_name: str | None = None,
    label_type: IntQuery = None,
    low_score: str | None = None,
    high_score: str | None = None,
    search_conditions: str | None = None,
    order: Order = "desc",
    sort_by: SortBy = "sample_time",
) -> s.ListSamplesResponse:
    """Samples waiting for confirmation, with their predicted labels and scores;
    ``sort_by=hard_coefficient`` (an extension) lists hard examples first."""
    return _list(
        session,
        dataset,
        only_state=STATE_AUTO,
        limit=limit,
        offset=offset,
        label_name=label_name,
        label_type=label_type,
        low_score=low_score,
        high_score=high_score,
        search_conditions=search_conditions,
        order=order,
        sort_by=sort_by,
    )


@router.get(
    AUTO + "/{sample_id}",
    response_model=s.SampleOut,
    response_model_exclude_none=True,
    responses=errors(DatasetNotFound, SampleNotFound),
)
def get_auto_annotation(sample: SampleForRead) -> s.SampleOut:
    if sample.state != STATE_AUTO:
        raise SampleNotFound(sample.id)
    return sample_out(sample)
