"""The import readers: what the writers write reads back, documents from the formats' own
documentation read, and malformed input becomes problems naming the place while the rest reads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from labelpilot.formats._records import (
    FEATURE,
    HARD,
    HARD_COEFFICIENT,
    HARD_REASONS,
    SHAPE,
    SIZE,
    LabelRecord,
    Problem,
    SampleRecord,
)
from labelpilot.formats.coco_read import read_coco
from labelpilot.formats.coco_write import CocoDocument
from labelpilot.formats.csv_read import read_jsonl_texts, read_text_table
from labelpilot.formats.csv_write import csv_header, csv_row, jsonl_line
from labelpilot.formats.manifest_read import read_manifest
from labelpilot.formats.manifest_write import manifest_line
from labelpilot.formats.voc_read import read_voc
from labelpilot.formats.voc_write import voc_xml
from labelpilot.formats.yolo_read import read_yolo_labels, read_yolo_list, read_yolo_names
from labelpilot.formats.yolo_write import yolo_labels, yolo_names

BIG = 2**70  # outside int64

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<annotation><filename>&lol9;</filename></annotation>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE annotation [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<annotation><filename>&xxe;</filename></annotation>
"""


def _box(
    name: str, corners: tuple[float, float, float, float], score: float | None = None
) -> LabelRecord:
    x1, y1, x2, y2 = corners
    return LabelRecord(name, 1, score, None, {SHAPE: "bndbox", FEATURE: [[x1, y1], [x2, y2]]})


def _corners(lb: LabelRecord) -> tuple[float, float, float, float]:
    box = lb.box
    assert box is not None, lb
    return box


def _same_boxes(got: list[LabelRecord], want: list[LabelRecord], abs_px: float = 0.0) -> None:
    """Names, scores and corners (1e-6 relative, or ``abs_px`` pixels) in the same order."""
    assert [lb.name for lb in got] == [lb.name for lb in want]
    assert [lb.type for lb in got] == [1] * len(want)
    for g, w in zip(got, want, strict=True):
        assert g.score == (None if w.score is None else pytest.approx(w.score, rel=1e-6))
        assert _corners(g) == pytest.approx(_corners(w), rel=1e-6, abs=abs_px)


# --- manifest -------------------------------------------------------------------------------


def _classified() -> list[SampleRecord]:
    hard_label = {HARD: "1", HARD_COEFFICIENT: "0.8000", "color": "white"}
    return [
        SampleRecord(
            "0162005993f8065ef47eefb59d1e4970",
            "猫 1.jpg",
            "s3://bucket/图片/猫 1.jpg",
            0,
            "TRAIN",
            (LabelRecord("猫", 0, None, "human", hard_label),),
            {HARD: 1.0, HARD_COEFFICIENT: 0.8, HARD_REASONS: [0, 3]},
        ),
        SampleRecord(
            "b2",
            "b.png",
            "obs://bucket/b.png",
            0,
            "EVAL",
            (
                LabelRecord("cat", 0, 0.75, "modelarts/active-learning", {}),
                LabelRecord("dog", 0, 0.25, "human", {"n": 3, "nested": {"a": [1, 2.5]}}),
            ),
            {HARD: 0.0},
        ),
        SampleRecord("c3", "c.jpg", "s3://bucket/c.jpg", 0, None, (), {}),
        SampleRecord(
            "t4",
            "",
            'content://a, "quoted" text\nwith a newline\tand a tab',
            1,
            "TRAIN",
            (LabelRecord("positive", 100, None, "human", {}),),
            {},
        ),
    ]


def test_manifest_round_trip_classification_text_and_hard() -> None:
    records = _classified()
    text = "\n".join(manifest_line(r, clear_hard=False) for r in records) + "\n"
    got, problems = read_manifest(text, "v1.manifest")
    assert problems == []
    assert got == records


def test_manifest_clear_hard_drops_hard_properties_only() -> None:
    records = _classified()
    text = "\n".join(manifest_line(r) for r in records)
    got, problems = read_manifest(text, "v1.manifest")
    assert problems == []
    assert got[0].metadata == {}
    assert got[0].labels[0].property == {"color": "white"}
    assert [r.usage for r in got] == ["TRAIN", "EVAL", None, "TRAIN"]


def test_manifest_round_trip_boxes_through_their_voc_file() -> None:
    record = SampleRecord(
        "d1",
        "街 1.jpg",
        "s3://bucket/街 1.jpg",
        0,
        "TRAIN",
        (
            _box("person", (10.5, 20.25, 110.75, 220.0), 0.9375),
            LabelRecord("night", 0, None, "human", {}),
            _box("汽车", (0, 0, 639, 479)),
        ),
        {SIZE: [640, 480, 3]},
    )
    loc = "s3://bucket/Annotations/街 1.xml"
    files = {loc: voc_xml(record, size=(640, 480, 3))}
    line = manifest_line(record, annotation_loc=loc)
    got, problems = read_manifest(line, "v1.manifest", load=files.__getitem__)
    assert problems == []
    (sample,) = got
    assert (sample.id, sample.name, sample.usage) == ("d1", "街 1.jpg", "TRAIN")
    assert sample.metadata == {SIZE: [640, 480, 3]}  # from the VOC file
    boxes = [lb for lb in sample.labels if lb.type == 1]
    _same_boxes(boxes, [record.labels[0], record.labels[2]])
    assert [lb.annotated_by for lb in boxes] == ["human", "human"]
    assert [lb for lb in sample.labels if lb.type != 1] == [record.labels[1]]


VOC_OF_EXAMPLE = b"""<annotation>
  <folder>path</folder><filename>image1.jpg</filename>
  <source><database>Unknown</database></source>
  <size><width>800</width><height>600</height><depth>3</depth></size>
  <object><name>cat</name><pose>Unspecified</pose><truncated>0</truncated>
    <occluded>0</occluded><difficult>0</difficult>
    <bndbox><xmin>1</xmin><ymin>2</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object>
</annotation>"""

# DATA_MANAGEMENT §8.1's three examples, one a line, as ModelArts writes them: lowercase usage in
# the first, a type without the modelarts/ prefix in the third
MODELARTS_MANIFEST = "\n".join(
    [
        '{"source":"s3://path/to/image1.jpg","usage":"train","hard":"true",'
        '"hard-coefficient":0.8,"id":"0162005993f8065ef47eefb59d1e4970",'
        '"annotation":[{"type":"modelarts/image_classification","name":"cat",'
        '"property":{"color":"white"},"annotated-by":"human",'
        '"creation-time":"2019-01-23 11:30:30"}]}',
        '{"source":"s3://path/to/image1.jpg","usage":"TRAIN","annotation":['
        '{"type":"modelarts/object_detection","annotation-loc":"s3://path/to/annotation1.xml",'
        '"annotation-format":"PASCAL VOC","annotated-by":"human",'
        '"creation-time":"2019-01-23 11:30:30"}]}',
        '{"source":"content://I like this product ","id":"XGDVGS","annotation":['
        '{"type":"text_classification","name":"positive","annotated-by":"human",'
        '"creation-time":"2019-01-23 11:30:30"}]}',
    ]
)


def test_manifest_reads_the_modelarts_examples() -> None:
    files = {"s3://path/to/annotation1.xml": VOC_OF_EXAMPLE}
    got, problems = read_manifest(MODELARTS_MANIFEST, "a.manifest", load=files.__getitem__)
    assert problems == []
    first, second, third = got
    assert first.usage == "TRAIN"
    assert first.id == "0162005993f8065ef47eefb59d1e4970"
    assert (first.name, first.sample_type) == ("image1.jpg", 0)
    assert first.metadata == {HARD: 1.0, HARD_COEFFICIENT: 0.8}
    assert first.hard
    assert first.labels == (LabelRecord("cat", 0, None, "human", {"color": "white"}),)
    assert second.id == ""
    assert second.metadata == {SIZE: [800, 600, 3]}
    _same_boxes(list(second.labels), [_box("cat", (1, 2, 30, 40))])
    assert third.source == "content://I like this product "
    assert (third.id, third.name, third.sample_type, third.usage) == ("XGDVGS", "", 1, None)
    assert third.labels == (LabelRecord("positive", 100, None, "human", {}),)


def test_manifest_hard_keys_as_modelarts_writes_them() -> None:
    line = (
        '{"source":"s3://b/h.jpg","hard":true,"hard-coefficient":"0.5","hard-reasons":"1-2",'
        '"annotation":[{"type":"image_classification","name":"cat","hard":"true",'
        '"hard-coefficient":0.6,"confidence":0.7},'
        '{"type":"image_classification","name":"dog","hard":"false"}]}'
    )
    (got,), problems = read_manifest(line, "h.manifest")
    assert problems == []
    assert got.metadata == {HARD: 1.0, HARD_COEFFICIENT: 0.5, HARD_REASONS: [1, 2]}
    cat, dog = got.labels
    assert cat.property == {HARD: "1", HARD_COEFFICIENT: "0.6000"}
    assert cat.score == 0.7
    assert dog.property == {HARD: "0"}
    assert (cat.annotated_by, dog.annotated_by) == (None, None)


def test_manifest_type_names_map_back_to_label_types() -> None:
    lines = [
        json.dumps({"source": f"s3://b/{i}.wav", "annotation": [{"type": t, "name": "x"}]})
        for i, t in enumerate(
            [
                "modelarts/text_entity",
                "text_triplet",
                "modelarts/audio_classification",
                "audio_content",
                "modelarts/audio_segmentation",
            ]
        )
    ]
    got, problems = read_manifest("\n".join(lines), "m")
    assert problems == []
    assert [r.labels[0].type for r in got] == [101, 102, 200, 201, 202]


def _failing_load(loc: str) -> bytes:
    raise OSError(f"no such object {loc}")


def test_manifest_bad_lines_are_problems_and_the_rest_reads() -> None:
    ok = '{"source":"s3://b/ok.jpg"}'
    detection = (
        '{"source":"s3://b/d.jpg","annotation":[{"type":"modelarts/object_detection",'
        '"annotation-loc":"s3://b/%s"}]}'
    )
    lines = [
        ok,  # 1
        '{"source": "s3://b/broken.jpg"',  # 2: bad JSON
        "[1, 2]",  # 3: not an object
        '{"usage": "TRAIN"}',  # 4: no source
        '{"source": "s3://b/big.jpg", "annotation": [{"type": "image_classification", '
        f'"name": "cat", "property": {{"n": {BIG}}}}}]}}',  # 5: int64 overflow in a property
        '{"source": "s3://b/nan.jpg", "hard-coefficient": NaN}',  # 6
        '{"source": "s3://b/inf.jpg", "property": {"x": -Infinity}}',  # 7
        "",  # 8: blank, ignored
        '{"source": "s3://b/usage.jpg", "usage": "validation"}',  # 9: read, usage None
        detection % "missing.xml",  # 10: load fails
        detection % "bomb.xml",  # 11: entity bomb refused
        '{"source": "s3://b/t.jpg", "annotation": [{"type": "modelarts/video_magic"}]}',  # 12
        '{"source": "s3://b/m.jpg", "id": 7, "sample-type": "x"}',  # 13: bad sample-type
        f'{{"source": "s3://b/meta.jpg", "hard-reasons": [1, {BIG}]}}',  # 14
        '{"source": "s3://b/last.jpg", "usage": "Eval"}',  # 15
        f'{{"source": "s3://b/st.jpg", "sample-type": "{BIG}"}}',  # 16: parsed from a string
        f'{{"source": "s3://b/hr.jpg", "hard-reasons": "1-{BIG}"}}',  # 17
    ]
    files = {"s3://b/bomb.xml": BILLION_LAUGHS}

    def load(loc: str) -> bytes:
        return files[loc] if loc in files else _failing_load(loc)

    got, problems = read_manifest("\n".join(lines), "train.manifest", load=load)
    assert [r.source for r in got] == ["s3://b/ok.jpg", "s3://b/usage.jpg", "s3://b/last.jpg"]
    assert [r.usage for r in got] == [None, None, "EVAL"]
    where = [p.where for p in problems]
    bad = (2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 16, 17)
    assert where == [f"train.manifest:{n}" for n in bad]
    reasons = dict(zip(where, (p.reason for p in problems), strict=True))
    assert "not JSON" in reasons["train.manifest:2"]
    assert "source" in reasons["train.manifest:4"]
    assert "int64" in reasons["train.manifest:5"]
    assert "NaN" in reasons["train.manifest:6"]
    assert "Infinity" in reasons["train.manifest:7"]
    assert "validation" in reasons["train.manifest:9"]
    assert "no such object" in reasons["train.manifest:10"]
    assert "refused" in reasons["train.manifest:11"]
    assert "video_magic" in reasons["train.manifest:12"]
    assert "sample-type" in reasons["train.manifest:13"]
    assert "int64" in reasons["train.manifest:14"]
    assert "sample type" in reasons["train.manifest:16"]
    assert "int64" in reasons["train.manifest:17"]


def test_manifest_boxes_without_a_loader_are_problems() -> None:
    line = (
        '{"source":"s3://b/d.jpg","annotation":[{"type":"object_detection",'
        '"annotation-loc":"s3://b/d.xml"}]}\n{"source":"s3://b/e.jpg"}'
    )
    got, problems = read_manifest(line, "x.manifest")
    assert [r.source for r in got] == ["s3://b/e.jpg"]
    assert [p.where for p in problems] == ["x.manifest:1"]
    assert "annotation-loc" in problems[0].reason


def test_manifest_detection_without_annotation_loc_is_a_problem() -> None:
    line = '{"source":"s3://b/d.jpg","annotation":[{"type":"modelarts/object_detection"}]}'
    got, problems = read_manifest(line, "x.manifest", load=_failing_load)
    assert got == []
    assert problems == [
        Problem("x.manifest:1", "object_detection annotation without an annotation-loc")
    ]


# --- Pascal VOC -----------------------------------------------------------------------------


def test_voc_round_trip_every_shape() -> None:
    shapes: list[tuple[str, list[Any]]] = [
        ("bndbox", [[10.5, 20.25], [110.0, 220.0]]),
        ("polygon", [[1, 2], [30.5, 4], [50, 60.125]]),
        ("polyline", [[0, 0], [5, 5]]),
        ("circle", [[100, 120], [40.5]]),
        ("line", [[1, 1], [9, 9]]),
        ("dashed", [[2, 3], [4, 5]]),
        ("point", [[7.25, 8]]),
    ]
    labels = tuple(
        LabelRecord(f"形状 {shape}", 1, 0.5 if i % 2 else None, None, {SHAPE: shape, FEATURE: f})
        for i, (shape, f) in enumerate(shapes)
    )
    record = SampleRecord("s", "dir/图 1.jpg", "s3://b/dir/图 1.jpg", labels=labels)
    got, problems = read_voc(voc_xml(record, folder="dir", size=(640, 480, 1)), "图 1.xml")
    assert problems == []
    assert got.source == "图 1.jpg"
    assert got.name == "图 1.jpg"
    assert got.metadata == {SIZE: [640, 480, 1]}
    assert [lb.name for lb in got.labels] == [lb.name for lb in labels]
    assert [lb.score for lb in got.labels] == [lb.score for lb in labels]
    for g, w in zip(got.labels, labels, strict=True):
        assert g.type == 1
        assert g.property[SHAPE] == w.property[SHAPE]
        assert g.property == w.property  # ints read back as ints, floats as floats
        assert set(g.property) == {SHAPE, FEATURE}


# in the style of DATA_MANAGEMENT §8.2's example: indented, an unclosed <r>, the point as x/y,
# floats in integer fields, elements no writer of ours knows
VOC_HANDMADE = b"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<annotation>
    <folder>NA</folder>
    <filename>  bike_1_1593531469339.png </filename>
    <source>
        <database>Unknown</database>
    </source>
    <size>
        <width>554.0</width>
        <height> 606 </height>
        <depth>3</depth>
    </size>
    <segmented>0</segmented>
    <owner><flickrid>someone</flickrid></owner>
    <object>
        <name>Dog</name>
        <pose>Unspecified</pose>
        <truncated>0</truncated>
        <difficult>1</difficult>
        <occluded>0</occluded>
        <confidence>0.9</confidence>
        <hard-coefficient>0.3</hard-coefficient>
        <attributes><color>brown</color></attributes>
        <bndbox>
            <xmin>279</xmin>
            <ymin>52.5</ymin>
            <xmax>474.0</xmax>
            <ymax>278</ymax>
        </bndbox>
    </object>
    <object>
        <name>Cat</name>
        <pose>Unspecified</pose>
        <truncated>0</truncated>
        <difficult>0</difficult>
        <circle>
            <cx>230</cx>
            <cy>303</cy>
            <r>100<r>
        </circle>
    </object>
    <object>
        <name>Bird</name>
        <point><x>12</x><y>34</y></point>
    </object>
    <object>
        <name>Ghost</name>
        <pose>Unspecified</pose>
    </object>
    <object>
        <name>Tri</name>
        <polygon><x1>0</x1><y1>0</y1><x2>10</x2><y2>0</y2><x3>5</x3><y3>8</y3></polygon>
    </object>
</annotation>
"""


def test_voc_reads_a_handmade_document_leniently() -> None:
    got, problems = read_voc(VOC_HANDMADE, "data/bike.xml")
    assert got.source == "bike_1_1593531469339.png"
    assert got.metadata == {SIZE: [554, 606, 3]}
    assert [lb.name for lb in got.labels] == ["Dog", "Cat", "Bird", "Tri"]
    dog, cat, bird, tri = got.labels
    assert dog.score == 0.9
    assert dog.property == {
        SHAPE: "bndbox",
        FEATURE: [[279, 52.5], [474, 278]],
        HARD_COEFFICIENT: "0.3000",
    }
    assert cat.property == {SHAPE: "circle", FEATURE: [[230, 303], [100]]}
    assert bird.property == {SHAPE: "point", FEATURE: [[12, 34]]}
    assert tri.property == {SHAPE: "polygon", FEATURE: [[0, 0], [10, 0], [5, 8]]}
    assert problems == [
        Problem(
            "data/bike.xml",
            "object 4: 'Ghost' has no shape element (bndbox, polygon, circle, line, point)",
        )
    ]


def test_voc_bad_objects_are_problems_and_the_rest_reads() -> None:
    doc = b"""<annotation><filename>a.jpg</filename>
    <object><name>nan</name><bndbox><xmin>nan</xmin><ymin>0</ymin><xmax>1</xmax><ymax>1</ymax>
    </bndbox></object>
    <object><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>1</xmax><ymax>1</ymax></bndbox></object>
    <object><name>short</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>1</xmax></bndbox></object>
    <object><name>huge</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>1e30</xmax>
    <ymax>1</ymax></bndbox></object>
    <object><name>ok</name><bndbox><xmin>0</xmin><ymin>0</ymin><xmax>5</xmax><ymax>6</ymax>
    </bndbox></object>
    </annotation>"""
    got, problems = read_voc(doc, "a.xml")
    assert [lb.name for lb in got.labels] == ["huge", "ok"]
    # 1e30 stays a float: an int that large could not be stored as JSON
    assert got.labels[0].property[FEATURE] == [[0, 0], [1e30, 1]]
    assert isinstance(got.labels[0].property[FEATURE][1][0], float)
    assert got.metadata == {}  # no <size>
    assert [p.reason for p in problems] == [
        "object 1: <xmin> 'nan' is not a finite number",
        "object 2: no <name>",
        "object 3: no <ymax>",
    ]
    assert {p.where for p in problems} == {"a.xml"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BILLION_LAUGHS, "refused"),
        (EXTERNAL_ENTITY, "refused"),
        (b"<html><body/></html>", "not a Pascal VOC annotation"),
        (b"not xml at all", "not well-formed"),
        (b"", "not well-formed"),
    ],
)
def test_voc_refuses_what_is_not_a_voc_annotation(data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_voc(data, "x.xml")


def test_voc_in_gbk() -> None:
    doc = (
        '<?xml version="1.0" encoding="GBK"?>\n<annotation><filename>街景.jpg</filename>'
        "<object><name>行人</name><bndbox><xmin>1</xmin><ymin>2</ymin><xmax>3</xmax>"
        "<ymax>4</ymax></bndbox></object></annotation>"
    ).encode("gbk")
    got, problems = read_voc(doc, "gbk.xml")
    assert problems == []
    assert got.source == "街景.jpg"
    _same_boxes(list(got.labels), [_box("行人", (1, 2, 3, 4))])


def test_voc_missing_filename_and_zero_size() -> None:
    doc = b"<annotation><size><width>0</width><height>0</height></size></annotation>"
    got, problems = read_voc(doc, "x.xml")
    assert (got.source, got.metadata, got.labels) == ("", {}, ())
    assert problems == [Problem("x.xml", "no <filename>")]


# --- COCO -----------------------------------------------------------------------------------


def test_coco_round_trip() -> None:
    records = [
        SampleRecord(
            "a",
            "a.jpg",
            "s3://b/a.jpg",
            labels=(
                _box("cat", (10.5, 20.25, 110.75, 220.125), 0.875),
                _box("狗", (0, 0, 5, 5)),
                LabelRecord("scene", 0),  # not a box: COCO has no place for it
            ),
        ),
        SampleRecord("b", "b.jpg", "s3://b/b.jpg"),
        SampleRecord("c", "c.jpg", "s3://b/c.jpg", labels=(_box("cat", (1, 2, 3, 4), 0.1),)),
    ]
    doc = CocoDocument(["cat", "狗"])
    for r, size in zip(records, [(640, 480, 3), (10, 20, 3), (30, 40, 3)], strict=True):
        doc.add(r, r.name, size)
    got, problems = read_coco(json.dumps(doc.document()).encode(), "coco.json")
    assert problems == []
    assert [r.source for r in got] == ["a.jpg", "b.jpg", "c.jpg"]
    assert [r.metadata for r in got] == [
        {SIZE: [640, 480, 3]},
        {SIZE: [10, 20, 3]},
        {SIZE: [30, 40, 3]},
    ]
    _same_boxes(list(got[0].labels), list(records[0].labels[:2]))
    assert got[1].labels == ()
    _same_boxes(list(got[2].labels), list(records[2].labels))


COCO_HANDMADE = {
    "info": {"description": "COCO-style example", "version": "1.0", "year": 2017},
    "licenses": [{"id": 1, "name": "CC BY 4.0", "url": "https://creativecommons.org"}],
    "images": [
        {
            "id": 397133,
            "file_name": "000000397133.jpg",
            "width": 640,
            "height": 427,
            "license": 1,
            "date_captured": "2013-11-14 17:02:52",
        },
        {"id": 37777, "file_name": "000000037777.jpg", "width": 352, "height": 230},
    ],
    "annotations": [
        {
            "id": 1768,
            "image_id": 397133,
            "category_id": 7,
            "bbox": [217.62, 240.54, 38.99, 57.75],
            "area": 2251.7,
            "iscrowd": 0,
            "segmentation": [[224.24, 297.18, 228.29, 297.18]],
        },
        {
            "id": 1769,
            "image_id": 397133,
            "category_id": 1,
            "bbox": [1.0, 2.0, 3.5, 4.25],
            "area": 14.875,
            "iscrowd": 0,
            "score": 0.42,
        },
    ],
    "categories": [
        {"supercategory": "person", "id": 1, "name": "person"},
        {"supercategory": "vehicle", "id": 3, "name": "car"},
        {"supercategory": "outdoor", "id": 7, "name": "traffic light"},
    ],
}


def test_coco_reads_a_handmade_document() -> None:
    got, problems = read_coco(json.dumps(COCO_HANDMADE).encode(), "instances.json")
    assert problems == []
    first, second = got
    assert (first.source, first.name) == ("000000397133.jpg", "000000397133.jpg")
    assert first.metadata == {SIZE: [640, 427, 3]}
    _same_boxes(
        list(first.labels),
        [
            _box("traffic light", (217.62, 240.54, 217.62 + 38.99, 240.54 + 57.75)),
            _box("person", (1.0, 2.0, 4.5, 6.25), 0.42),
        ],
    )
    assert second.source == "000000037777.jpg"
    assert second.labels == ()


def test_coco_bad_annotations_are_problems_and_the_rest_reads() -> None:
    doc = json.loads(json.dumps(COCO_HANDMADE))
    doc["images"].append({"id": 5})  # images[2]: no file_name
    doc["categories"].append({"id": 3, "name": "again"})  # categories[3]: id twice
    doc["annotations"] += [
        {"id": 9, "image_id": 12345, "category_id": 1, "bbox": [0, 0, 1, 1]},  # [2]
        {"id": 10, "image_id": 37777, "category_id": 99, "bbox": [0, 0, 1, 1]},  # [3]
        {"id": 11, "image_id": 37777, "category_id": 1, "bbox": [0, 0, 1]},  # [4]
        {"id": 12, "image_id": 37777, "category_id": 1, "bbox": [0, 0, BIG, 1]},  # [5]
        {"id": 13, "image_id": 37777, "category_id": 3, "bbox": [5, 6, 7, 8]},  # [6] ok
        "nonsense",  # [7]
    ]
    got, problems = read_coco(json.dumps(doc).encode(), "c.json")
    assert [len(r.labels) for r in got] == [2, 1]
    _same_boxes(list(got[1].labels), [_box("car", (5, 6, 12, 14))])
    assert [p.where for p in problems] == [
        "c.json:categories[3]",
        "c.json:images[2]",
        "c.json:annotations[2]",
        "c.json:annotations[3]",
        "c.json:annotations[4]",
        "c.json:annotations[5]",
        "c.json:annotations[7]",
    ]
    assert "12345" in problems[2].reason
    assert "99" in problems[3].reason
    assert "int64" in problems[5].reason


@pytest.mark.parametrize(
    "data",
    [
        b"not json",
        b'{"images": [], "annotations": []}',
        b'{"images": {}, "annotations": [], "categories": []}',
        b"[]",
        b'{"images": [], "annotations": [], "categories": [], "x": NaN}',
    ],
)
def test_coco_refuses_what_is_not_a_coco_document(data: bytes) -> None:
    with pytest.raises(ValueError, match="x.json"):
        read_coco(data, "x.json")


# --- YOLO -----------------------------------------------------------------------------------


def test_yolo_round_trip_within_a_pixel() -> None:
    classes = ["person", "自行车", "car"]
    record = SampleRecord(
        "a",
        "a.jpg",
        "s3://b/a.jpg",
        labels=(
            _box("car", (10.5, 20.25, 110.75, 220.125)),
            _box("person", (0, 0, 1919, 1079)),
            _box("自行车", (500, 600, 501, 601)),
        ),
    )
    size = (1920, 1080, 3)
    text = yolo_labels(record, size, {n: i for i, n in enumerate(classes)})
    names = read_yolo_names(yolo_names(classes))
    assert names == classes
    got, problems = read_yolo_labels(text, names, (1920, 1080), "obj_train_data/a.txt")
    assert problems == []
    _same_boxes(got, list(record.labels), abs_px=1.0)
    assert _corners(got[0]) != pytest.approx(_corners(record.labels[1]), abs=1.0)


def test_yolo_reads_a_handmade_pair_and_lists() -> None:
    names = read_yolo_names("\ufeffperson\r\n car \r\n\r\n")
    assert names == ["person", "car"]
    labels = "0 0.5 0.5 0.2 0.4\r\n\n1 0.25 0.75 0.1 0.1 0.9\n"
    got, problems = read_yolo_labels(labels, names, (200, 100), "x.txt")
    assert problems == []
    assert [(lb.name, lb.type, lb.score) for lb in got] == [("person", 1, None), ("car", 1, 0.9)]
    assert _corners(got[0]) == pytest.approx((80, 30, 120, 70))
    assert _corners(got[1]) == pytest.approx((40, 70, 60, 80))
    listing = "data/obj_train_data/a.jpg\r\n\n  data/obj_train_data/b c.jpg \n# comment\n"
    assert read_yolo_list(listing) == ["data/obj_train_data/a.jpg", "data/obj_train_data/b c.jpg"]


def test_yolo_bad_lines_are_problems_and_the_rest_reads() -> None:
    text = "\n".join(
        [
            "2 0.5 0.5 0.1 0.1",  # 1: index outside names
            "0 0.5 0.5",  # 2: too few fields
            "x 0.5 0.5 0.1 0.1",  # 3: not a number
            "0 nan 0.5 0.1 0.1",  # 4
            "-1 0.5 0.5 0.1 0.1",  # 5
            "0 0.5 0.5 -0.1 0.1",  # 6
            "1.5 0.5 0.5 0.1 0.1",  # 7
            "1 0.5 0.5 0.5 0.5",  # 8: ok
        ]
    )
    got, problems = read_yolo_labels(text, ["a", "b"], (10, 10), "l.txt")
    assert [(lb.name, _corners(lb)) for lb in got] == [("b", (2.5, 2.5, 7.5, 7.5))]
    assert [p.where for p in problems] == [f"l.txt:{n}" for n in range(1, 8)]
    assert "2 names" in problems[0].reason
    with pytest.raises(ValueError, match="size"):
        read_yolo_labels(text, ["a"], (0, 10), "l.txt")


# --- text tables and JSON lines -------------------------------------------------------------

TEXTS = [
    ("plain", ("positive",), "TRAIN"),
    ('a, "quoted", text', ("neg", "angry"), "EVAL"),
    ("two\nlines\r\nand CRLF", (), None),
    ("a\ttab and 中文 ☃", ("正面",), "TEST"),
    ("  leading and trailing spaces  ", ("xy",), None),
]


def _text_records() -> list[SampleRecord]:
    return [
        SampleRecord(
            "",
            "",
            "content://" + text,
            1,
            usage,
            tuple(LabelRecord(n, 100) for n in labels),
        )
        for text, labels, usage in TEXTS
    ]


def test_csv_round_trip() -> None:
    records = _text_records()
    table = csv_header() + "".join(csv_row(r, r.source.removeprefix("content://")) for r in records)
    got, problems = read_text_table(table, "texts.csv")
    assert problems == []
    assert got == records


def test_jsonl_round_trip() -> None:
    records = _text_records()
    for i, r in enumerate(records):
        r.id = f"id{i}"
    text = "\n".join(jsonl_line(r, r.source.removeprefix("content://")) for r in records)
    got, problems = read_jsonl_texts(text + "\n", "texts.jsonl")
    assert problems == []
    assert got == records


def test_modelarts_tsv_layout() -> None:
    # label_format defaults: Tab between the text and its labels, labels joined by ","
    tsv = (
        "I like this product\tpositive\r\n"
        'He said "great", twice\tpositive,happy\n'
        "no label at all\n"
        "a text\twith a tab\tnegative\n"
        "\n"
    )
    for delimiter in ("\t", None):
        got, problems = read_text_table(tsv, "t.txt", delimiter=delimiter, label_separator=",")
        assert problems == []
        assert [r.source for r in got] == [
            "content://I like this product",
            'content://He said "great", twice',
            "content://no label at all",
            "content://a text\twith a tab",
        ]
        assert [[lb.name for lb in r.labels] for r in got] == [
            ["positive"],
            ["positive", "happy"],
            [],
            ["negative"],
        ]
        assert {(r.sample_type, r.usage) for r in got} == {(1, None)}
        assert {lb.type for r in got for lb in r.labels} == {100}


def test_tsv_with_a_header_and_headerless_csv() -> None:
    tsv = "text\tlabels\tusage\nhello\ta,b\ttrain\n"
    got, _ = read_text_table(tsv, "t.tsv", label_separator=",")
    assert [(r.source, r.usage, [lb.name for lb in r.labels]) for r in got] == [
        ("content://hello", "TRAIN", ["a", "b"])
    ]
    csv_text = "text,labels\nfirst,a;b\n"
    as_data, _ = read_text_table(csv_text, "h.csv", with_header=False)
    assert [r.source for r in as_data] == ["content://text", "content://first"]


def test_text_table_bad_rows_are_problems_and_the_rest_reads() -> None:
    table = (
        "text,labels,usage\r\n"  # 1
        '"multi\r\nline",a,TRAIN\r\n'  # 2-3
        ",a,TRAIN\r\n"  # 4: no text
        "ok,a,validation\r\n"  # 5: read without a usage
        "nul\x00here,a,\r\n"  # 6: NUL
        '"bad\r\nusage",a,nope\r\n'  # 7-8: a problem on the line the row starts on
        "last,b,EVAL\r\n"  # 9
    )
    got, problems = read_text_table(table, "t.csv")
    assert [(r.source, r.usage) for r in got] == [
        ("content://multi\r\nline", "TRAIN"),
        ("content://ok", None),
        ("content://bad\r\nusage", None),
        ("content://last", "EVAL"),
    ]
    assert [p.where for p in problems] == ["t.csv:4", "t.csv:5", "t.csv:6", "t.csv:7"]
    assert "validation" in problems[1].reason
    assert "NUL" in problems[2].reason


def test_csv_broken_quotes_are_problems_and_reading_resumes() -> None:
    table = 'text,labels\n"Great" product,pos\nok,a\n"unclosed,a\nnext,b\n'
    got, problems = read_text_table(table, "q.csv")
    assert [r.source for r in got] == ["content://ok", "content://next"]
    assert [p.where for p in problems] == ["q.csv:2", "q.csv:4"]
    assert all(p.reason.startswith("not CSV") for p in problems)


def test_jsonl_bad_lines_are_problems_and_the_rest_reads() -> None:
    lines = [
        '{"id": "a", "text": "fine", "labels": ["x"], "usage": "train"}',  # 1
        '{"text": "broken"',  # 2
        "[]",  # 3
        '{"text": ""}',  # 4
        '{"text": "t", "labels": [1]}',  # 5
        '{"text": "t", "labels": [], "usage": NaN}',  # 6
        f'{{"text": "t", "id": {BIG}}}',  # 7
        '{"text": "kept", "usage": "later"}',  # 8: read without a usage
    ]
    got, problems = read_jsonl_texts("\n".join(lines), "x.jsonl")
    assert [(r.id, r.source, r.usage) for r in got] == [
        ("a", "content://fine", "TRAIN"),
        ("", "content://kept", None),
    ]
    assert [p.where for p in problems] == [f"x.jsonl:{n}" for n in (2, 3, 4, 5, 6, 7, 8)]
    assert "NaN" in problems[4].reason
