"""Small real models built by the tests: scikit-learn via skl2onnx, a hand-built ONNX detector."""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np


@cache
def mnist_pixel_classifier() -> tuple[bytes, dict[str, Any]]:
    """Logistic regression on 14x14 grey MNIST pixels, trained on the odd-numbered images of
    the sample; tests pre-label even-numbered ones, which the model has not seen."""
    from PIL import Image
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.linear_model import LogisticRegression

    from tests.support.images import mnist

    X, y = mnist()
    half = slice(1, None, 2)
    small = np.stack(
        [
            np.asarray(Image.fromarray(x).resize((14, 14), Image.Resampling.BILINEAR))
            for x in X[half]
        ]
    )
    feats = small.reshape(len(small), -1).astype(np.float32) / 255.0
    clf = LogisticRegression(max_iter=300, C=0.5).fit(feats, y[half])
    onx = convert_sklearn(
        clf,
        initial_types=[("pixels", FloatTensorType([None, 196]))],
        options={id(clf): {"zipmap": False}},
        target_opset=17,
    )
    config = {
        "task": "image_classification",
        "class_names": [str(c) for c in clf.classes_],
        "input": {
            "kind": "image",
            "size": [14, 14],
            "layout": "NF",
            "color": "GRAY",
            "scale": 1 / 255,
            "mean": [0.0],
            "std": [1.0],
        },
        "output": {"scores": "probabilities"},
    }
    return onx.SerializeToString(), config


@cache
def sentiment_classifier() -> tuple[bytes, dict[str, Any], float]:
    """TF-IDF + logistic regression on Rotten Tomatoes (string input); returns its accuracy
    on the held-out first 200 snippets as the third element."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import StringTensorType
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from tests.support.images import rotten_tomatoes

    rows = rotten_tomatoes()
    train = rows[200:4200]
    pipe = Pipeline(
        [
            ("tfidf", TfidfVectorizer(min_df=2, max_features=5000)),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    ).fit([t for t, _ in train], [c for _, c in train])
    held = rows[:200]
    acc = float(np.mean(pipe.predict([t for t, _ in held]) == np.array([c for _, c in held])))
    onx = convert_sklearn(
        pipe,
        initial_types=[("text", StringTensorType([None, 1]))],
        # the default en_US.UTF-8 locale of the lower-casing op is not installed everywhere
        options={
            id(pipe.named_steps["clf"]): {"zipmap": False},
            id(pipe.named_steps["tfidf"]): {"locale": "C"},
        },
        target_opset=17,
    )
    config = {
        "task": "text_classification",
        "class_names": [str(c) for c in pipe.classes_],
        "input": {"kind": "text"},
        "output": {"scores": "probabilities"},
    }
    return onx.SerializeToString(), config, acc


def rectangle_detector(size: int = 64) -> tuple[bytes, dict[str, Any]]:
    """A hand-built ONNX graph that finds the bright rectangle on a dark image.

    Input ``image`` (1, 3, size, size) in [0, 1]; mask = channel max > 0.5; the box is the
    bounding box of the mask in input pixels (xyxy, exclusive max). Score 0.9, class 0.
    """
    import onnx
    from onnx import TensorProto, helper

    def const(name: str, values: list, dtype: int = TensorProto.INT64) -> onnx.NodeProto:
        return helper.make_node(
            "Constant",
            [],
            [name],
            value=helper.make_tensor(name + "_v", dtype, [len(values)], values),
        )

    nodes = [
        helper.make_node("ReduceMax", ["image"], ["cmax"], axes=[1], keepdims=0),  # (1, H, W)
        const("half", [0.5], TensorProto.FLOAT),
        helper.make_node("Greater", ["cmax", "half"], ["mask"]),
        helper.make_node("NonZero", ["mask"], ["nz"]),  # (3, n): batch, y, x
        helper.make_node("Cast", ["nz"], ["nzf"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMin", ["nzf"], ["mins"], axes=[1], keepdims=0),  # (3,)
        helper.make_node("ReduceMax", ["nzf"], ["maxs"], axes=[1], keepdims=0),
        const("one", [1.0], TensorProto.FLOAT),
        helper.make_node("Add", ["maxs", "one"], ["maxs1"]),
        const("i_x", [2]),
        const("i_y", [1]),
        helper.make_node("Gather", ["mins", "i_x"], ["x1"], axis=0),
        helper.make_node("Gather", ["mins", "i_y"], ["y1"], axis=0),
        helper.make_node("Gather", ["maxs1", "i_x"], ["x2"], axis=0),
        helper.make_node("Gather", ["maxs1", "i_y"], ["y2"], axis=0),
        helper.make_node("Concat", ["x1", "y1", "x2", "y2"], ["box"], axis=0),
        const("shape", [1, 4]),
        helper.make_node("Reshape", ["box", "shape"], ["boxes"]),
        const("scores", [0.9], TensorProto.FLOAT),
        const("classes", [0]),
    ]
    graph = helper.make_graph(
        nodes,
        "rectangle_detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, [None, 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, [None]),
            helper.make_tensor_value_info("classes", TensorProto.INT64, [None]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    config = {
        "task": "object_detection",
        "class_names": ["rectangle"],
        "input": {"kind": "image", "size": [size, size], "layout": "NCHW", "color": "RGB"},
        "output": {
            "boxes": "boxes",
            "scores": "scores",
            "classes": "classes",
            "box_format": "xyxy",
            "normalized": False,
            "score_threshold": 0.5,
        },
    }
    return model.SerializeToString(), config


def rectangle_image(width: int, height: int, box: tuple[int, int, int, int]) -> bytes:
    """A PNG: dark noisy background with one bright rectangle ``box`` = (x1, y1, x2, y2)."""
    import io

    from PIL import Image

    rng = np.random.default_rng(width * 1000 + height + box[0])
    px = rng.integers(0, 60, size=(height, width, 3), dtype=np.uint8)
    x1, y1, x2, y2 = box
    px[y1:y2, x1:x2] = rng.integers(200, 256, size=(y2 - y1, x2 - x1, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(px).save(buf, "PNG")
    return buf.getvalue()


def box_iou(a: list[float], b: list[float]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / area if area > 0 else 0.0
