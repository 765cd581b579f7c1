"""GetDatasetStats: ``GET …/data-annotations/stats`` (DATA_MANAGEMENT.md §3)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from labelpilot.api import schemas as s
from labelpilot.api.deps import DatasetForRead, ReadSession
from labelpilot.api.openapi import errors
from labelpilot.api.render.tolerant import stored_json
from labelpilot.api.retry import RetryingRoute
from labelpilot.datasets.tables import Dataset
from labelpilot.errors import DatasetNotFound, NotAvailable
from labelpilot.samples.stats import DatasetStats, LabelCount, dataset_stats, split_enabled

router = APIRouter(tags=["labels"], route_class=RetryingRoute)

# Hard-example reasons (API contract §3.6): the text, a suggestion, and the LabelPilot
# algorithm that finds it ("" for reasons only ModelArts' detection models give).
_SHIFT = ("Add labeled samples like this one to the training set", "hard_examples")
_AUGMENTED = ("Check the label; add more varied labeled samples of its class", "hard_rules")
HARD_REASONS: dict[int, tuple[str, str, str]] = {
    0: ("no target detected", "Check whether the image holds an object to label", ""),
    1: ("low confidence", "Check the predicted label and confirm or correct it", "hard_rules"),
    2: ("clustering of the training set disagrees with the prediction", *_SHIFT),
    3: ("prediction far from same-class training data", *_SHIFT),
    4: ("consecutive similar images predicted inconsistently", "Check the labels", ""),
    5: ("resolution differs from the training set", *_SHIFT),
    6: ("aspect ratio differs from the training set", *_SHIFT),
    7: ("brightness differs from the training set", *_SHIFT),
    8: ("saturation differs from the training set", *_SHIFT),
    9: ("colorfulness differs from the training set", *_SHIFT),
    10: ("sharpness differs from the training set", *_SHIFT),
    11: ("box count differs from the training set", _SHIFT[0], ""),
    12: ("spread of box areas differs from the training set", _SHIFT[0], ""),
    13: ("box aspect ratio differs from the training set", _SHIFT[0], ""),
    14: ("box area share differs from the training set", _SHIFT[0], ""),
    15: ("boxes unusually close to the edge", _SHIFT[0], ""),
    16: ("box brightness differs from the training set", _SHIFT[0], ""),
    17: ("box sharpness differs from the training set", _SHIFT[0], ""),
    18: ("boxes overlap or stack unusually", _SHIFT[0], ""),
    19: ("blurred copy predicted differently", *_AUGMENTED),
    20: ("left-right flipped copy predicted differently", *_AUGMENTED),
    21: ("cropped copy predicted differently", *_AUGMENTED),
    22: ("upside-down copy predicted differently", *_AUGMENTED),
    23: ("scaled copy predicted differently", *_AUGMENTED),
    24: ("shifted copy predicted differently", *_AUGMENTED),
    25: ("sheared copy predicted differently", *_AUGMENTED),
    26: ("superpixel copy predicted differently", *_AUGMENTED),
    27: ("sharpened copy predicted differently", *_AUGMENTED),
    28: ("brightened copy predicted differently", *_AUGMENTED),
    29: ("inverted copy predicted differently", *_AUGMENTED),
    30: ("sample predicted as an outlier", "Check that the sample belongs here", "hard_examples"),
}


class LabelStats(s.Out):
    name: str
    type: int
    property: dict[str, Any] = Field(default_factory=dict)
    attributes: list[dict[str, Any]] | None = None
    count: int
    sample_count: int


class HardDetail(s.Out):
    id: int
    reason: str
    suggestion: str
    alo_name: str


class HardDetailStat(s.Out):
    key: int
    value: HardDetail


class DatasetStatsResponse(s.Out):
    label_stats: list[LabelStats]
    sample_stats: dict[str, int]
    key_sample_stats: dict[str, int]
    metadata_stats: dict[str, Any]
    data_spliting_enable: bool
    grouped_label_stats: dict[str, list[LabelStats]]
    hard_detail_stats: dict[str, HardDetailStat]
    data_path: str
    deletion_stats: dict[str, int]


def _label(lb: LabelCount, ds: Dataset) -> LabelStats:
    what = f"label {lb.name} of dataset {ds.id}"
    return LabelStats(
        name=lb.name,
        type=lb.type,
        property=stored_json(lb.property or {}, what),
        attributes=stored_json(lb.attributes, what),
        count=lb.count,
        sample_count=lb.sample_count,
    )


def _hard(reason: int, n: int) -> HardDetailStat:
    text, suggestion, algorithm = HARD_REASONS.get(reason, (f"reason {reason}", "", ""))
    detail = HardDetail(id=reason, reason=text, suggestion=suggestion, alo_name=algorithm)
    return HardDetailStat(key=n, value=detail)


def stats_out(ds: Dataset, st: DatasetStats) -> DatasetStatsResponse:
    labels = [_label(lb, ds) for lb in st.labels]
    grouped: dict[str, list[LabelStats]] = {}
    for lb in labels:
        grouped.setdefault(str(lb.type), []).append(lb)
    sources = stored_json(ds.data_sources or [], f"dataset {ds.id} data_sources")
    return DatasetStatsResponse(
        label_stats=labels,
        sample_stats={
            "total": st.total,
            "all": st.total,
            "lefted": st.total,  # deleted samples are gone at once: nothing is "deleted" here
            "deleted": 0,
            "un_annotation": st.unlabeled,
            "manual_annotation": st.labeled,
            "auto_annotation": st.unconfirmed,
        },
        key_sample_stats={
            "total": st.total,
            "key_sample": st.hard,
            "non_key_sample": st.total - st.hard,
        },
        metadata_stats={},
        data_spliting_enable=split_enabled(ds, st),
        grouped_label_stats=grouped,
        hard_detail_stats={str(r): _hard(r, n) for r, n in sorted(st.reasons.items())},
        data_path=str(sources[0].get("data_path") or "") if sources else "",
        deletion_stats={},
    )


@router.get(
    "/v2/{project_id}/datasets/{dataset_id}/data-annotations/stats",
    response_model=DatasetStatsResponse,
    responses=errors(DatasetNotFound, NotAvailable),
)
def get_stats(
    dataset: DatasetForRead,
    session: ReadSession,
    sample_state: str | None = None,
    locale: Literal["en-us", "zh-cn"] = "en-us",  # noqa: ARG001 - texts are English either way
    email: str | None = None,
) -> DatasetStatsResponse:
    """Label, sample-state and hard-example statistics (aggregate SQL); ``sample_state``
    restricts every count to the samples in that state."""
    if email is not None:
        raise NotAvailable("email: labeling teams are not available, so no member's statistics")
    return stats_out(dataset, dataset_stats(session, dataset, sample_state=sample_state))
