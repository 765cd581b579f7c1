"""YOLO (Darknet) labels (DATA_MANAGEMENT §5.1) back into records: the inverse of
``yolo_write``. ``obj.names`` lists the classes, ``train.txt``/``valid.txt`` the images, and one
text file per image holds ``<class> <x_center> <y_center> <width> <height>`` normalised to [0, 1]
(a sixth column, the confidence some tools write, is read as the score)."""

from __future__ import annotations

import math

from labelpilot.formats._records import FEATURE, SHAPE, LabelRecord, Problem

# pixel corners keep 4 decimals: the writer's 6 normalised decimals are finer than that only for
# images wider than 10^4 px, and the noise of (xc - w/2) * width is not worth storing
_DECIMALS = 4


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.removeprefix("\ufeff").splitlines()]


def read_yolo_names(text: str) -> list[str]:
    """The class names of ``obj.names``, one a line; a label's index is its line's.

    Trailing blank lines are dropped; blank lines in between are kept (as "") so the indexes of
    the names after them stay right.
    """
    names = _lines(text)
    while names and not names[-1]:
        names.pop()
    return names


def read_yolo_list(text: str) -> list[str]:
    """The image paths of ``train.txt``/``valid.txt``, as written (blank lines and ``#``
    comments left out)."""
    return [line for line in _lines(text) if line and not line.startswith("#")]


def _line(fields: list[str], names: list[str], width: int, height: int) -> LabelRecord | str:
    """A label, or why the line is not one."""
    if len(fields) not in (5, 6):
        return f"{len(fields)} fields, expected <class> <x_center> <y_center> <width> <height>"
    try:
        index_value = float(fields[0])
        values = [float(v) for v in fields[1:]]
    except ValueError:
        return "a field is not a number"
    if not all(math.isfinite(v) for v in (index_value, *values)):
        return "a field is not a finite number"
    if not index_value.is_integer() or not 0 <= index_value < len(names):
        return f"class {fields[0]} is not an index of the {len(names)} names"
    name = names[int(index_value)]
    if not name:
        return f"class {fields[0]} has a blank name"
    xc, yc, w, h = values[:4]
    if w < 0 or h < 0:
        return "negative width or height"
    score = values[4] if len(values) == 5 else None
    x1, x2 = (xc - w / 2) * width, (xc + w / 2) * width
    y1, y2 = (yc - h / 2) * height, (yc + h / 2) * height
    feature = [
        [round(x1, _DECIMALS), round(y1, _DECIMALS)],
        [round(x2, _DECIMALS), round(y2, _DECIMALS)],
    ]
    return LabelRecord(name=name, type=1, score=score, property={SHAPE: "bndbox", FEATURE: feature})


def read_yolo_labels(
    text: str, names: list[str], size: tuple[int, int], where: str
) -> tuple[list[LabelRecord], list[Problem]]:
    """The boxes of one image's label file (type-1 labels, pixel corners for ``size``
    ``(width, height)``) and the lines that could not be read (``where:lineno``).

    Raises
    ------
    ValueError
        When ``size`` is not two positive integers (the caller's bug, not the file's).
    """
    width, height = size
    if width <= 0 or height <= 0:
        raise ValueError(f"{where}: image size {size!r} is not positive")
    labels: list[LabelRecord] = []
    problems: list[Problem] = []
    for lineno, line in enumerate(_lines(text), start=1):
        if not line or line.startswith("#"):
            continue
        out = _line(line.split(), names, width, height)
        if isinstance(out, str):
            problems.append(Problem(f"{where}:{lineno}", out))
        else:
            labels.append(out)
    return labels, problems
