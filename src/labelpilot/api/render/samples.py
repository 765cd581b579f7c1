"""Samples and their labels as ModelArts renders them."""

from __future__ import annotations

import posixpath

from labelpilot.api import schemas as s
from labelpilot.api.render.tolerant import stored_json
from labelpilot.datasets.tables import STATE_ALL, STATE_AUTO, STATE_NONE, Sample, SampleLabel

STATUS_OUT = {
    STATE_NONE: "UN_ANNOTATION",
    STATE_ALL: "MANUAL_ANNOTATION",
    STATE_AUTO: "AUTO_ANNOTATION",
}


def sample_out(sample: Sample) -> s.SampleOut:
    name = sample.name
    return s.SampleOut(
        sample_id=sample.id,
        sample_type=sample.sample_type,
        sample_name=posixpath.basename(name),
        sample_dir=posixpath.dirname(sample.source) + "/",
        sample_size=sample.size,
        sample_time=sample.sample_time,
        sample_status=STATUS_OUT.get(sample.state, sample.state),
        source=sample.source,
        labels=[label_out(lb) for lb in sample.labels],
        metadata=s.SampleMetadata.model_validate(
            stored_json(sample.meta or {}, f"sample {sample.id} metadata")
        ),
    )


def label_out(lb: SampleLabel) -> s.SampleLabel:
    return s.SampleLabel(
        id=lb.label_id,
        name=lb.name,
        type=lb.type,
        score=lb.score,
        annotated_by=lb.annotated_by,
        property=(
            s.SampleLabelProperty.model_validate(
                stored_json(lb.property, f"label {lb.id} property")
            )
            if lb.property
            else None
        ),
    )
