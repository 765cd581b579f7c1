"""ModelArts manifest lines (DATA_MANAGEMENT §8.1) back into records: the inverse of
``manifest_write``, and what ModelArts itself writes (lowercase usage, ``"hard":"true"``,
annotation types without the ``modelarts/`` prefix).

Every line is read on its own: a line that cannot be stored becomes a :class:`Problem` naming
``where:lineno`` and the others still read. What cannot be stored includes integers outside int64
and NaN/Infinity anywhere in the line (the database keeps JSON; issue #12 "poisoned rows").
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from labelpilot.formats._records import (
    HARD,
    HARD_COEFFICIENT,
    HARD_REASONS,
    SIZE,
    LabelRecord,
    Problem,
    SampleRecord,
    file_name,
)
from labelpilot.formats.manifest_write import ANNOTATION_TYPES, LOCATED_TYPES, USAGES
from labelpilot.formats.voc_read import read_voc

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT32_MAX = 2**31 - 1
MAX_DEPTH = 32
CONTENT = "content://"
_SURROGATE = re.compile("[\ud800-\udfff]")
# annotation type name -> label type: the first code of each name (text_entity is 101, not 103
# inside a triplet; object_detection is 1, not 600 per video frame)
TYPE_CODES: dict[str, int] = {}
for _code, _name in sorted(ANNOTATION_TYPES.items()):
    TYPE_CODES.setdefault(_name, _code)
_TRUE = ("1", "1.0", "true", "yes")
_FALSE = ("0", "0.0", "false", "no", "")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_untrusted(text: str) -> Any:
    """``json.loads`` refusing NaN and Infinity (Python's parser accepts them, JSON has none).

    Raises
    ------
    ValueError
        On malformed JSON, a non-finite constant, or nesting Python cannot parse.
    """
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def unstorable(value: Any, where: str = "") -> str | None:
    """Why ``value`` cannot be stored as JSON and read back (the first offence, naming its
    path), or None. Integers must fit int64, floats be finite, strings hold no NUL and no
    unpaired surrogate, nesting stay under ``MAX_DEPTH``."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, bool) or item is None:
            continue
        if isinstance(item, int):
            if not INT64_MIN <= item <= INT64_MAX:
                return f"{path or 'value'}: integer outside the int64 range"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"{path or 'value'}: number is not finite"
        elif isinstance(item, str):
            if "\x00" in item or _SURROGATE.search(item):
                return f"{path or 'value'}: NUL or unpaired surrogate in a string"
        elif isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                return f"{path or 'value'}: nested deeper than {MAX_DEPTH} levels"
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in reversed(list(pairs)):
                if isinstance(key, str) and ("\x00" in key or _SURROGATE.search(key)):
                    return f"{path or 'value'}: NUL or unpaired surrogate in a key"
                sub = f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}" if path else key
                stack.append((child, sub, depth + 1))
    return None


class _Bad(ValueError):
    """A line that cannot be read (a Problem; the line is skipped)."""


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Bad(f"{what} {value!r} is not a number")
    try:
        out = float(value)
    except ValueError:
        raise _Bad(f"{what} {value!r} is not a number") from None
    if not math.isfinite(out):
        raise _Bad(f"{what} {value!r} is not a finite number")
    return out


def _is_hard(value: Any, what: str) -> bool:
    """``"true"`` (the examples), ``true``, ``1``, ``"1"``..."""
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise _Bad(f"{what} {value!r} is not a boolean")


def _reasons(value: Any) -> list[int]:
    """Hard reasons: the stored list of ints, or ModelArts' label form ``"1-2"``."""
    if isinstance(value, str):
        parts = [p for p in re.split(r"[-,\s]+", value) if p]
    elif isinstance(value, list):
        parts = value
    else:
        raise _Bad(f"hard-reasons {value!r} is not a list")
    try:
        reasons = [int(p) for p in parts if not isinstance(p, bool)]
    except (TypeError, ValueError):
        raise _Bad(f"hard-reasons {value!r} are not integers") from None
    # parsed from a string: the line's int64 check has not seen these
    if not all(INT64_MIN <= r <= INT64_MAX for r in reasons):
        raise _Bad("hard-reasons: integer outside the int64 range")
    return reasons


def _type_code(value: Any) -> int:
    if not isinstance(value, str):
        raise _Bad(f"annotation type {value!r} is not a string")
    name = value.strip()
    name = name.removeprefix("modelarts/")
    code = TYPE_CODES.get(name)
    if code is None:
        raise _Bad(f"unknown annotation type {value!r}")
    return code


def _label(ann: dict[str, Any], code: int) -> LabelRecord:
    """A label annotation (classification, text, audio): name, property, score, hard."""
    name = ann.get("name")
    if not isinstance(name, str) or not name:
        raise _Bad("annotation without a name")
    prop = ann.get("property")
    if prop is None:
        prop = {}
    elif not isinstance(prop, dict):
        raise _Bad(f"annotation {name!r}: property is not an object")
    else:
        prop = dict(prop)
    # label-level hard: the stored property keeps strings ("1"/"0", "0.8000"); a property that
    # already holds them (LabelPilot writes both) wins over the line's keys
    if "hard" in ann and HARD not in prop:
        prop[HARD] = "1" if _is_hard(ann["hard"], "hard") else "0"
    if "hard-coefficient" in ann and HARD_COEFFICIENT not in prop:
        prop[HARD_COEFFICIENT] = f"{_number(ann['hard-coefficient'], 'hard-coefficient'):.4f}"
    score = None
    if ann.get("confidence") is not None:
        score = _number(ann["confidence"], "confidence")
    by = ann.get("annotated-by")
    if by is not None and not isinstance(by, str):
        raise _Bad(f"annotation {name!r}: annotated-by is not a string")
    return LabelRecord(name=name, type=code, score=score, annotated_by=by, property=prop)


def _located(
    ann: dict[str, Any],
    code: int,
    load: Callable[[str], bytes] | None,
    metadata: dict[str, Any],
    problems: list[Problem],
) -> list[LabelRecord]:
    """The boxes of a detection or segmentation annotation, from its VOC file."""
    loc = ann.get("annotation-loc")
    if not isinstance(loc, str) or not loc:
        raise _Bad(f"{ANNOTATION_TYPES[code]} annotation without an annotation-loc")
    fmt = ann.get("annotation-format")
    if fmt is not None and str(fmt).strip().upper().replace("_", " ") != "PASCAL VOC":
        raise _Bad(f"annotation-format {fmt!r} is not PASCAL VOC")
    if load is None:
        raise _Bad(f"annotation-loc {loc}: annotation files are not read by this import")
    try:
        data = load(loc)
    except Exception as exc:  # any storage error is this line's problem, not the import's
        raise _Bad(f"annotation-loc {loc}: cannot be read ({exc})") from None
    try:
        voc, voc_problems = read_voc(data, loc)
    except ValueError as exc:
        raise _Bad(f"annotation-loc {loc}: {exc}") from None
    problems.extend(voc_problems)
    if SIZE in voc.metadata:
        metadata.setdefault(SIZE, voc.metadata[SIZE])
    by = ann.get("annotated-by")
    by = by if isinstance(by, str) else None
    return [
        LabelRecord(name=lb.name, type=code, score=lb.score, annotated_by=by, property=lb.property)
        for lb in voc.labels
    ]


def _usage(value: Any) -> str | None:
    """The upper-cased usage; raises _Bad for a value that is none of USAGES."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().upper() in USAGES:
        return value.strip().upper()
    raise _Bad(f"usage {value!r} is not one of {', '.join(USAGES)}")


def _sample(
    obj: dict[str, Any],
    where: str,
    load: Callable[[str], bytes] | None,
    problems: list[Problem],
) -> SampleRecord:
    source = obj.get("source")
    if not isinstance(source, str) or not source.strip():
        raise _Bad("no source")
    text = source.startswith(CONTENT)
    raw_id = obj.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int | None):
        raise _Bad(f"id {raw_id!r} is not a string")
    sample_id = "" if raw_id is None else str(raw_id)
    kind = obj.get("sample-type")
    if kind is None:
        sample_type = 1 if text else 0
    elif isinstance(kind, int) and not isinstance(kind, bool):
        sample_type = kind
    elif isinstance(kind, str) and kind.strip().isdigit():
        sample_type = int(kind)
    else:
        raise _Bad(f"sample-type {kind!r} is not an integer")
    if not 0 <= sample_type <= INT32_MAX:  # an SQL INTEGER column
        raise _Bad(f"sample-type {kind!r} is not a sample type")

    metadata: dict[str, Any] = {}
    extra = obj.get("property")  # sample-level property (video frames, §8.1)
    if isinstance(extra, dict):
        metadata.update(extra)
    elif extra is not None:
        raise _Bad("property is not an object")
    # sample metadata keeps numbers (1.0/0.0, the coefficient, a list of reason ids)
    if "hard" in obj:
        metadata[HARD] = 1.0 if _is_hard(obj["hard"], "hard") else 0.0
    if "hard-coefficient" in obj:
        metadata[HARD_COEFFICIENT] = _number(obj["hard-coefficient"], "hard-coefficient")
    if obj.get("hard-reasons") not in (None, "", []):
        metadata[HARD_REASONS] = _reasons(obj["hard-reasons"])

    annotations = obj.get("annotation")
    if annotations is None:
        annotations = []
    elif isinstance(annotations, dict):  # a single object instead of a list: lenient
        annotations = [annotations]
    elif not isinstance(annotations, list):
        raise _Bad("annotation is not a list")
    labels: list[LabelRecord] = []
    line_problems: list[Problem] = []
    for i, ann in enumerate(annotations, start=1):
        if not isinstance(ann, dict):
            raise _Bad(f"annotation {i} is not an object")
        code = _type_code(ann.get("type"))
        if code in LOCATED_TYPES or "annotation-loc" in ann:
            labels += _located(ann, code, load, metadata, line_problems)
        else:
            labels.append(_label(ann, code))

    try:
        usage = _usage(obj.get("usage"))
    except _Bad as exc:  # the sample still reads, without a usage
        problems.append(Problem(where, str(exc)))
        usage = None
    problems.extend(line_problems)
    return SampleRecord(
        id=sample_id,
        name="" if text else file_name(source.split("?", 1)[0]),
        source=source,
        sample_type=sample_type,
        usage=usage,
        labels=tuple(labels),
        metadata=metadata,
    )


def read_manifest(
    text: str, where: str, load: Callable[[str], bytes] | None = None
) -> tuple[list[SampleRecord], list[Problem]]:
    """The samples of a manifest file (one per valid line) and the lines that could not be read.

    Parameters
    ----------
    text
        The manifest, decoded.
    where
        The file's name, for the problems (``where:lineno``).
    load
        Reads an ``annotation-loc`` URL (a VOC file); None: lines with boxes are problems.
    """
    records: list[SampleRecord] = []
    problems: list[Problem] = []
    # split on "\n" alone: JSON writers leave U+2028 and friends unescaped inside strings
    for lineno, raw in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw.strip()
        if not line:
            continue
        place = f"{where}:{lineno}"
        try:
            obj = loads_untrusted(line)
        except ValueError as exc:
            problems.append(Problem(place, f"not JSON: {exc}"))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(place, "not a JSON object"))
            continue
        why = unstorable(obj)
        if why is not None:
            problems.append(Problem(place, why))
            continue
        line_problems: list[Problem] = []
        try:
            records.append(_sample(obj, place, load, line_problems))
        except _Bad as exc:
            problems.append(Problem(place, str(exc)))
            continue
        except ValueError as exc:  # e.g. int() of a 5000-digit string: still this line's problem
            problems.append(Problem(place, f"cannot be read: {exc}"))
            continue
        problems.extend(line_problems)
    return records, problems
