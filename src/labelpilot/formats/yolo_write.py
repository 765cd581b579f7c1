"""YOLO (Darknet) labels as ModelArts imports them (DATA_MANAGEMENT §5.1): ``obj.names``,
``obj.data``, ``train.txt``/``valid.txt`` and one ``obj_train_data/<image>.txt`` per image holding
``<class> <x_center> <y_center> <width> <height>`` normalised to [0, 1]."""

from __future__ import annotations

from collections.abc import Sequence

from labelpilot.formats._records import SampleRecord

DATA_DIR = "obj_train_data"


def yolo_labels(
    record: SampleRecord, size: tuple[int, int, int], class_index: dict[str, int]
) -> str:
    """The label file of one image; boxes only, one line each."""
    width, height = size[0], size[1]
    lines = []
    for lb in record.labels:
        box = lb.box
        if box is None or lb.name not in class_index:
            continue
        x1, y1, x2, y2 = box
        xc, yc = (x1 + x2) / 2 / width, (y1 + y2) / 2 / height
        w, h = (x2 - x1) / width, (y2 - y1) / height
        lines.append(f"{class_index[lb.name]} {xc:.6f} {yc:.6f} {w:.6f} {h:.6f}")
    return "".join(line + "\n" for line in lines)


def yolo_names(classes: Sequence[str]) -> str:
    return "".join(f"{name}\n" for name in classes)


def yolo_data(classes: Sequence[str], *, has_valid: bool) -> str:
    """``obj.data``: the class count and the files that list the images."""
    lines = [f"classes = {len(classes)}", "train = data/train.txt"]
    if has_valid:
        lines.append("valid = data/valid.txt")
    lines += ["names = data/obj.names", "backup = backup/"]
    return "\n".join(lines) + "\n"
