"""Wire requests -> the domain's input types (the other half of the ModelArts line)."""

from __future__ import annotations

import json
from typing import Any

from labelpilot.api import schemas as s
from labelpilot.api.untrusted import check_free_json, check_json
from labelpilot.datasets.types import DataSourceSpec, LabelSpec, NewDataset
from labelpilot.errors import BadRequest
from labelpilot.samples.types import Condition, LabelMatch, NewLabel, NewSample, SampleEdit

# SearchCondition fields LabelPilot does not filter on (a 400 names the first one sent).
UNSUPPORTED_CONDITIONS = (
    "frame_in_video",
    "import_origin",
    "kvp",
    "labeler",
    "parent_sample_id",
    "sample_time",
    "slice_thickness",
    "study_date",
    "time_in_video",
)


def _free(value: Any, field: str) -> Any:
    """A free-form value that is stored as sent: bounded (400 naming ``field``)."""
    check_free_json(value, field)
    return value


def label_spec(lb: s.LabelIn, field: str) -> LabelSpec:
    return LabelSpec(
        name=lb.name,
        type=lb.type,
        property=_free(lb.property or {}, f"{field}.property"),
        attributes=_free(lb.attributes or [], f"{field}.attributes"),
    )


def new_dataset(req: s.CreateDatasetRequest) -> NewDataset:
    return NewDataset(
        name=req.dataset_name,
        description=req.description or "",
        dataset_type=req.dataset_type,
        work_path=req.work_path,
        work_path_type=req.work_path_type or 0,
        workspace_id=req.workspace_id or "0",
        labels=[label_spec(lb, f"labels[{i}]") for i, lb in enumerate(req.labels or [])],
        data_sources=[
            DataSourceSpec(
                data_type=d.data_type, data_path=d.data_path, stored=d.model_dump(exclude_none=True)
            )
            for d in req.data_sources or []
        ],
        import_annotations=bool(req.import_annotations),
    )


def new_label(lb: s.SampleLabel, field: str) -> NewLabel:
    prop = lb.property.model_dump(by_alias=True, exclude_none=True) if lb.property else {}
    return NewLabel(
        name=lb.name,
        type=lb.type,
        id=lb.id,
        score=lb.score,
        annotated_by=lb.annotated_by,
        property=_free(prop, f"{field}.property"),
    )


def _labels(labels: list[s.SampleLabel], field: str) -> list[NewLabel]:
    return [new_label(lb, f"{field}.labels[{i}]") for i, lb in enumerate(labels)]


def _metadata(meta: s.SampleMetadata | None, field: str) -> dict[str, Any] | None:
    if meta is None:
        return None
    return dict(_free(meta.model_dump(by_alias=True, exclude_none=True), f"{field}.metadata"))


def new_sample(item: s.SampleIn, field: str) -> NewSample:
    return NewSample(
        name=item.name,
        data=item.data,
        data_path=item.data_source.data_path if item.data_source is not None else None,
        sample_type=item.sample_type,
        labels=_labels(item.labels or [], field),
        metadata=_metadata(item.metadata, field),
    )


def sample_edit(item: s.SampleLabels, field: str) -> SampleEdit:
    return SampleEdit(
        sample_id=item.sample_id,
        labels=_labels(item.labels, field) if item.labels is not None else None,
        metadata=_metadata(item.metadata, field),
        sample_usage=item.sample_usage,
    )


def condition(c: s.SearchCondition) -> Condition:
    labels = c.label_list.labels if c.label_list and c.label_list.labels else None
    props = c.metadata.props if c.metadata and c.metadata.props else None
    return Condition(
        labels=(
            [LabelMatch(lb.name, lb.type, bool(lb.property)) for lb in labels] if labels else None
        ),
        labels_op=c.label_list.op if c.label_list else None,
        metadata=dict(props) if props else None,
        metadata_op=c.metadata.op if c.metadata else None,
        hard=c.hard,
        sample_name=c.sample_name,
        sample_dir=c.sample_dir,
        score=c.score,
        coefficient=c.coefficient,
        unsupported=tuple(n for n in UNSUPPORTED_CONDITIONS if getattr(c, n) is not None),
    )


def search_conditions(raw: str | None) -> list[Condition]:
    """ListSamples' ``search_conditions`` query value: a JSON array (or one object)."""
    if not raw:
        return []
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise BadRequest("search_conditions must be a JSON array of SearchCondition") from exc
    check_json(data, "search_conditions")
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise BadRequest("search_conditions must be a JSON array of SearchCondition")
    try:
        parsed = [s.SearchCondition.model_validate(x) for x in data]
    except ValueError as exc:
        raise BadRequest(f"search_conditions: {exc}") from exc
    return [condition(c) for c in parsed]
