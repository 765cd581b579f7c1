"""Detection box kernels: intersection over union and non-maximum suppression."""

from __future__ import annotations

import numpy as np

__all__ = ["nms"]


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0])
    y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2])
    y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return np.asarray(inter / np.maximum(area + areas - inter, 1e-9))


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Greedy non-maximum suppression.

    Parameters
    ----------
    boxes : ndarray of shape (n, 4)
        ``(x1, y1, x2, y2)`` corners.
    scores : ndarray of shape (n,)
    iou : float
        Boxes overlapping a kept, better box by more than this are dropped.

    Returns
    -------
    list of int
        Indices kept, best first.
    """
    order = list(np.argsort(-scores, kind="stable"))
    keep: list[int] = []
    while order:
        best = order.pop(0)
        keep.append(int(best))
        if not order:
            break
        rest = np.array(order)
        order = [int(i) for i in rest[_iou(boxes[best], boxes[rest]) <= iou]]
    return keep
