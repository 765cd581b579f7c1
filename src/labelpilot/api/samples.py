"""Sample and auto-annotation routes."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from labelpilot.api import schemas as s
from labelpilot.api.deps import ProjectId, ReadSession, Svc, WriteSession
from labelpilot.datasets.service import get_dataset
from labelpilot.datasets.tables import STATE_AUTO
from labelpilot.errors import BadRequest, SampleNotFound
from labelpilot.samples import service as samples

router = APIRouter(tags=["samples"])
SAMPLES = "/v2/{project_id}/datasets/{dataset_id}/data-annotations/samples"
AUTO = "/v2/{project_id}/datasets/{dataset_id}/auto-annotations/samples"

Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=2**31 - 1)]  # offset * limit must fit in SQL
Order = Literal["asc", "desc"]


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
    project_id: str,
    dataset_id: str,
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
) -> s.ListSamplesResponse:
    ds = get_dataset(session, project_id, dataset_id)
    total, rows = samples.list_samples(
        session,
        ds,
        offset=offset,
        limit=limit,
        sample_state=sample_state,
        label_name=label_name,
        label_type=label_type,
        low_score=_score(low_score, "low_score"),
        high_score=_score(high_score, "high_score"),
        search_conditions=samples.parse_search_conditions(search_conditions),
        order=order,
        only_state=only_state,
    )
    return s.ListSamplesResponse(sample_count=total, samples=[samples.sample_out(x) for x in rows])


@router.get(SAMPLES, response_model=s.ListSamplesResponse, response_model_exclude_none=True)
def list_samples(
    project_id: ProjectId,
    dataset_id: str,
    session: ReadSession,
    limit: Limit = 10,
    offset: Offset = 0,
    sample_state: str | None = None,
    label_name: str | None = None,
    label_type: int | None = None,
    low_score: str | None = None,
    high_score: str | None = None,
    search_conditions: str | None = None,
    order: Order = "desc",
) -> s.ListSamplesResponse:
    """Samples filtered by state, label, score range and search conditions (AND-combined)."""
    return _list(
        session,
        project_id,
        dataset_id,
        limit=limit,
        offset=offset,
        sample_state=sample_state,
        label_name=label_name,
        label_type=label_type,
        low_score=low_score,
        high_score=high_score,
        search_conditions=search_conditions,
        order=order,
    )


@router.post(SAMPLES, response_model=s.BatchResponse, response_model_exclude_none=True)
def add_samples(
    project_id: ProjectId,
    dataset_id: str,
    body: s.AddSamplesRequest,
    session: WriteSession,
    svc: Svc,
) -> s.BatchResponse:
    """Add samples (base64 ``data`` or a ``data_source`` file); per-item results."""
    ds = get_dataset(session, project_id, dataset_id)
    return samples.add_samples(session, svc.storage, ds, body, svc.import_policy)


@router.put(SAMPLES, response_model=s.BatchResponse, response_model_exclude_none=True)
def update_samples(
    project_id: ProjectId, dataset_id: str, body: s.UpdateSamplesRequest, session: WriteSession
) -> s.BatchResponse:
    """Write final labels (this confirms to-be-confirmed samples); empty labels clear."""
    ds = get_dataset(session, project_id, dataset_id)
    return samples.update_samples(session, ds, body)


@router.post(SAMPLES + "/delete", response_model=s.BatchResponse, response_model_exclude_none=True)
def delete_samples(
    project_id: ProjectId,
    dataset_id: str,
    body: s.DeleteSamplesRequest,
    session: WriteSession,
    svc: Svc,
) -> s.BatchResponse:
    ds = get_dataset(session, project_id, dataset_id)
    return samples.delete_samples(session, svc.storage, ds, body.samples)


@router.get(SAMPLES + "/{sample_id}", response_model=s.SampleOut, response_model_exclude_none=True)
def get_sample(
    project_id: ProjectId, dataset_id: str, sample_id: str, session: ReadSession
) -> s.SampleOut:
    ds = get_dataset(session, project_id, dataset_id)
    return samples.sample_out(samples.get_sample(session, ds, sample_id))


@router.get(SAMPLES + "/{sample_id}/content", response_class=Response)
def sample_content(
    project_id: ProjectId, dataset_id: str, sample_id: str, session: ReadSession, svc: Svc
) -> Response:
    """The sample's file bytes (LabelPilot extension; ``source`` is a storage URL)."""
    ds = get_dataset(session, project_id, dataset_id)
    sample = samples.get_sample(session, ds, sample_id)
    key = svc.storage.key_of(sample.source)
    if key is None or not svc.storage.exists(key):
        raise SampleNotFound(sample_id)
    media = mimetypes.guess_type(sample.name)[0] or "application/octet-stream"
    return Response(svc.storage.get(key), media_type=media)


@router.get(SAMPLES + "/{sample_id}/thumbnail", response_class=Response)
def sample_thumbnail(
    project_id: ProjectId,
    dataset_id: str,
    sample_id: str,
    session: ReadSession,
    svc: Svc,
    size: Annotated[int, Query(ge=16, le=512)] = 128,
) -> Response:
    """A JPEG thumbnail of an image sample, made once and cached in storage (extension)."""
    ds = get_dataset(session, project_id, dataset_id)
    sample = samples.get_sample(session, ds, sample_id)
    data = samples.thumbnail(svc.storage, sample, size)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "max-age=86400"})


@router.get(AUTO, response_model=s.ListSamplesResponse, response_model_exclude_none=True)
def list_auto_annotations(
    project_id: ProjectId,
    dataset_id: str,
    session: ReadSession,
    limit: Limit = 10,
    offset: Offset = 0,
    label_name: str | None = None,
    label_type: int | None = None,
    low_score: str | None = None,
    high_score: str | None = None,
    search_conditions: str | None = None,
    order: Order = "desc",
) -> s.ListSamplesResponse:
    """Samples waiting for confirmation, with their predicted labels and scores."""
    return _list(
        session,
        project_id,
        dataset_id,
        only_state=STATE_AUTO,
        limit=limit,
        offset=offset,
        label_name=label_name,
        label_type=label_type,
        low_score=low_score,
        high_score=high_score,
        search_conditions=search_conditions,
        order=order,
    )


@router.get(AUTO + "/{sample_id}", response_model=s.SampleOut, response_model_exclude_none=True)
def get_auto_annotation(
    project_id: ProjectId, dataset_id: str, sample_id: str, session: ReadSession
) -> s.SampleOut:
    ds = get_dataset(session, project_id, dataset_id)
    sample = samples.get_sample(session, ds, sample_id)
    if sample.state != STATE_AUTO:
        raise SampleNotFound(sample_id)
    return samples.sample_out(sample)
