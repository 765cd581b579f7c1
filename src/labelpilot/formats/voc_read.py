"""Pascal VOC XML of one image (DATA_MANAGEMENT §8.2) back into a record: the inverse of
``voc_write``, lenient about what other tools write.

Parsed with defusedxml: a document declaring entities (billion laughs) or naming external ones is
refused before anything is expanded.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from typing import Any

import defusedxml.ElementTree as DET
from defusedxml import DefusedXmlException

from labelpilot.formats._records import (
    FEATURE,
    HARD_COEFFICIENT,
    SHAPE,
    SIZE,
    LabelRecord,
    Problem,
    SampleRecord,
    file_name,
)

# The §8.2 examples close elements with an opening tag (``<r>100<r>``); tried only when the
# document does not parse as it is, so a well-formed file is never rewritten.
_UNCLOSED = re.compile(r"<([A-Za-z_][\w.-]*)>([^<>]*)<\1>")
# the encoding an XML declaration names, in the raw bytes and in the decoded text
_DECLARED = re.compile(rb"""\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ENCODING = re.compile(r"""(<\?xml[^>]*?encoding\s*=\s*["'])[A-Za-z0-9._-]+""")
# Larger integers stay floats: a JSON integer outside int64 cannot be stored (issue #12).
_EXACT_INT = 2**53


class _Bad(ValueError):
    """One object's value that cannot be read (becomes a Problem, the object is skipped)."""


def _local(tag: Any) -> str:
    """The tag without a namespace, lower-cased (some tools write ``<Annotation>``)."""
    if not isinstance(tag, str):  # comments and processing instructions
        return ""
    return tag.rsplit("}", 1)[-1].lower()


def _child(el: ET.Element, tag: str) -> ET.Element | None:
    for sub in el:
        if _local(sub.tag) == tag:
            return sub
    return None


def _text(el: ET.Element, tag: str) -> str | None:
    sub = _child(el, tag)
    if sub is None or sub.text is None:
        return None
    text = sub.text.strip()
    return text or None


def _number(text: str | None, what: str) -> int | float:
    """A coordinate: an int when it is one (``"10"``, ``"10.0"``), else a float."""
    if text is None:
        raise _Bad(f"no {what}")
    try:
        value = float(text)
    except ValueError:
        raise _Bad(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise _Bad(f"{what} {text!r} is not a finite number")
    if value.is_integer() and abs(value) < _EXACT_INT:
        return int(value)
    return value


def _coords(el: ET.Element, tags: tuple[str, ...]) -> list[int | float]:
    return [_number(_text(el, tag), f"<{tag}>") for tag in tags]


def _points(el: ET.Element) -> list[list[int | float]]:
    """``x1, y1, x2, y2, ...`` of a polygon or polyline, in index order, up to the first gap."""
    points: list[list[int | float]] = []
    i = 1
    while _child(el, f"x{i}") is not None or _child(el, f"y{i}") is not None:
        points.append(_coords(el, (f"x{i}", f"y{i}")))
        i += 1
    if not points:
        raise _Bad(f"<{_local(el.tag)}> has no points")
    return points


def _shape(obj: ET.Element) -> tuple[str, list[Any]] | None:
    """``(@modelarts:shape, @modelarts:feature)`` of an object, None when it has no shape."""
    for sub in obj:
        tag = _local(sub.tag)
        if tag == "bndbox":
            x1, y1, x2, y2 = _coords(sub, ("xmin", "ymin", "xmax", "ymax"))
            return "bndbox", [[x1, y1], [x2, y2]]
        if tag in ("polygon", "polyline"):
            return tag, _points(sub)
        if tag == "circle":
            cx, cy, r = _coords(sub, ("cx", "cy", "r"))
            return "circle", [[cx, cy], [r]]
        if tag in ("line", "dashed"):
            x1, y1, x2, y2 = _coords(sub, ("x1", "y1", "x2", "y2"))
            return tag, [[x1, y1], [x2, y2]]
        if tag == "point":
            # the §8.2 table says x, y; its example (and voc_write) x1, y1
            if _child(sub, "x1") is not None or _child(sub, "y1") is not None:
                return "point", [_coords(sub, ("x1", "y1"))]
            return "point", [_coords(sub, ("x", "y"))]
    return None


def _label(obj: ET.Element) -> LabelRecord:
    name = _text(obj, "name")
    if name is None:
        raise _Bad("no <name>")
    shape = _shape(obj)
    if shape is None:
        raise _Bad(f"{name!r} has no shape element (bndbox, polygon, circle, line, point)")
    score: float | None = None
    confidence = _text(obj, "confidence")
    if confidence is not None:
        score = float(_number(confidence, "<confidence>"))
    prop: dict[str, Any] = {SHAPE: shape[0], FEATURE: shape[1]}
    coefficient = _text(obj, "hard-coefficient")  # §8.2, optional; not written by voc_write
    if coefficient is not None:
        # a label property keeps its hard keys as strings, as the manifest reader does
        prop[HARD_COEFFICIENT] = f"{float(_number(coefficient, '<hard-coefficient>')):.4f}"
    return LabelRecord(name=name, type=1, score=score, property=prop)


class _Refused(ValueError):
    """A document defusedxml refuses (entities, external references)."""


def _defused(data: bytes, where: str) -> ET.Element:
    try:
        return DET.fromstring(data)  # type: ignore[no-any-return]
    except DefusedXmlException as exc:
        raise _Refused(f"{where}: refused XML ({type(exc).__name__})") from None


def _decode(data: bytes) -> str | None:
    """The document as text, its declaration saying UTF-8 (what it is encoded in next)."""
    declared = _DECLARED.match(data)
    encoding = declared.group(1).decode("ascii") if declared else "utf-8-sig"
    try:
        text = data.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return None
    return _ENCODING.sub(r"\1UTF-8", text, count=1)


def _parse(data: bytes, where: str) -> ET.Element:
    try:
        return _defused(data, where)
    except _Refused:
        raise
    except (ET.ParseError, ValueError) as exc:  # expat raises ValueError for GBK
        first = str(exc)
    # lenient second tries: GBK (§5.1 allows it; expat reads no multi-byte encoding) re-encoded
    # as UTF-8, then the §8.2 examples' unclosed elements closed
    text = _decode(data)
    if text is not None:
        for candidate in dict.fromkeys((text, _UNCLOSED.sub(r"<\1>\2</\1>", text))):
            try:
                return _defused(candidate.encode(), where)
            except ET.ParseError:
                continue
    raise ValueError(f"{where}: not well-formed XML ({first})")


def _size(root: ET.Element, where: str, problems: list[Problem]) -> list[int] | None:
    size = _child(root, "size")
    if size is None:
        return None
    try:
        width, height = (int(_number(_text(size, t), f"<{t}>")) for t in ("width", "height"))
        depth_text = _text(size, "depth")
        depth = 3 if depth_text is None else int(_number(depth_text, "<depth>"))
    except _Bad as exc:
        problems.append(Problem(where, f"<size>: {exc}"))
        return None
    # some tools write 0 x 0 for "unknown": no size rather than a wrong one
    if width <= 0 or height <= 0:
        return None
    return [width, height, depth]


def read_voc(data: bytes, where: str) -> tuple[SampleRecord, list[Problem]]:
    """One image's record (``source`` = ``<filename>``, ``@modelarts:size``, a type-1 label per
    ``<object>``) and the objects that could not be read.

    Raises
    ------
    ValueError
        When ``data`` is not XML, declares entities, or its root is not ``<annotation>``.
    """
    root = _parse(data, where)
    if _local(root.tag) != "annotation":
        raise ValueError(f"{where}: not a Pascal VOC annotation (root <{_local(root.tag)}>)")
    problems: list[Problem] = []
    source = _text(root, "filename")
    if source is None:
        problems.append(Problem(where, "no <filename>"))
        source = ""
    metadata: dict[str, Any] = {}
    size = _size(root, where, problems)
    if size is not None:
        metadata[SIZE] = size
    labels: list[LabelRecord] = []
    objects = [el for el in root if _local(el.tag) == "object"]
    for i, obj in enumerate(objects, start=1):
        try:
            labels.append(_label(obj))
        except _Bad as exc:
            problems.append(Problem(where, f"object {i}: {exc}"))
    record = SampleRecord(
        id="",
        name=file_name(source),
        source=source,
        labels=tuple(labels),
        metadata=metadata,
    )
    return record, problems
