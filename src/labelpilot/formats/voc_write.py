"""Pascal VOC XML of one image (DATA_MANAGEMENT §8.2): ``annotation`` with ``folder``,
``filename``, ``source``, ``size`` and one ``object`` per shape label."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from labelpilot.formats._records import FEATURE, SHAPE, LabelRecord, SampleRecord, file_name


def _num(value: Any) -> str:
    v = float(value)
    return str(int(v)) if v.is_integer() else repr(round(v, 4))


def _sub(parent: ET.Element, tag: str, text: str) -> ET.Element:
    el = ET.SubElement(parent, tag)
    el.text = text
    return el


def _shape(obj: ET.Element, lb: LabelRecord) -> bool:
    """Add the label's shape element; False when it has no shape VOC can hold."""
    shape, feature = lb.property.get(SHAPE), lb.property.get(FEATURE)
    if not isinstance(feature, list) or not feature:
        return False
    try:
        if shape == "bndbox":
            (x1, y1), (x2, y2) = feature[0], feature[1]
            box = ET.SubElement(obj, "bndbox")
            for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), (x1, y1, x2, y2), strict=True):
                _sub(box, tag, _num(v))
        elif shape in ("polygon", "polyline"):
            el = ET.SubElement(obj, shape)
            for i, (x, y) in enumerate(feature, start=1):
                _sub(el, f"x{i}", _num(x))
                _sub(el, f"y{i}", _num(y))
        elif shape == "circle":
            (cx, cy), (r,) = feature[0], feature[1]
            el = ET.SubElement(obj, "circle")
            for tag, v in (("cx", cx), ("cy", cy), ("r", r)):
                _sub(el, tag, _num(v))
        elif shape in ("line", "dashed"):
            (x1, y1), (x2, y2) = feature[0], feature[1]
            el = ET.SubElement(obj, shape)
            for tag, v in (("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2)):
                _sub(el, tag, _num(v))
        elif shape == "point":
            ((x, y),) = feature[:1]
            el = ET.SubElement(obj, "point")
            _sub(el, "x1", _num(x))
            _sub(el, "y1", _num(y))
        else:
            return False
    except (TypeError, ValueError):
        return False
    return True


def voc_xml(record: SampleRecord, *, folder: str = "", size: tuple[int, int, int]) -> bytes:
    """The VOC XML (UTF-8) of one image of ``size`` ``(width, height, depth)``; labels without
    a shape are left out."""
    root = ET.Element("annotation")
    _sub(root, "folder", folder)
    _sub(root, "filename", file_name(record.name))
    src = ET.SubElement(root, "source")
    _sub(src, "database", "LabelPilot")
    sz = ET.SubElement(root, "size")
    for tag, v in zip(("width", "height", "depth"), size, strict=True):
        _sub(sz, tag, str(int(v)))
    _sub(root, "segmented", "0")
    for lb in record.labels:
        obj = ET.Element("object")
        _sub(obj, "name", lb.name)
        _sub(obj, "pose", "Unspecified")
        _sub(obj, "truncated", "0")
        _sub(obj, "occluded", "0")
        _sub(obj, "difficult", "0")
        if lb.score is not None:
            _sub(obj, "confidence", _num(lb.score))
        if _shape(obj, lb):
            root.append(obj)
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
