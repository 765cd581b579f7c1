"""The manifest writer's two forms (a text line for versions, bytes for exports) agree."""

from __future__ import annotations

import json

from labelpilot.formats._records import LabelRecord, SampleRecord
from labelpilot.formats.manifest_write import manifest_bytes, manifest_line


def _record() -> SampleRecord:
    return SampleRecord(
        "s1",
        "a.jpg",
        "s3://bucket/a.jpg",
        0,
        "train",
        (LabelRecord("cat", 0, 0.75, "auto", {"color": "#ff0000"}),),
        {"@modelarts:hard": "1"},
    )


def test_bytes_are_the_line_and_a_newline() -> None:
    record = _record()
    line = manifest_line(record, clear_hard=False)
    data = manifest_bytes(record, clear_hard=False)
    assert data == line.encode() + b"\n"
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["usage"] == "TRAIN"
    assert obj["hard"] == "true"
    assert obj["annotation"] == [
        {
            "type": "modelarts/image_classification",
            "name": "cat",
            "property": {"color": "#ff0000"},
            "annotated-by": "auto",
            "confidence": 0.75,
        }
    ]
