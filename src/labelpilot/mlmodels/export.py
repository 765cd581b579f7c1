"""Self-contained ONNX models for auto-deploy, built from a trained scikit-learn classifier.

``image_classifier_onnx``
    The MobileNetV2 feature extractor used by ``ImageEmbedder`` (its ONNX file), then the same
    L2 normalisation of the 1280-d features, then the scaler + logistic regression: one graph
    whose input is the ImageNet-normalised ``(batch, 3, size, size)`` image tensor, so an
    ``ImageInput`` config (RGB, squash-resize, /255, ImageNet mean/std, NCHW) reproduces the
    embedder's preprocessing exactly.
``text_head_onnx``
    scaler + logistic regression on 384-d MiniLM sentence embeddings (a ``TextEmbeddingInput``
    model: the predictor encodes the texts).
``text_tfidf_onnx``
    TF-IDF + logistic regression with a string input (a ``TextInput`` model).

Every graph has one output ``probabilities`` of shape ``(batch, n_classes)``, classes in the
order of the classifier's ``classes_``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

OPSET = 17
ML_OPSET = 3
PROBABILITIES = "probabilities"
IMAGE_INPUT = "images"
TEXT_LOCALE = "C.UTF-8"  # present on every glibc system, unlike en_US.UTF-8


def _sklearn_onnx(pipeline: Any, input_type: Any) -> Any:
    from skl2onnx import convert_sklearn

    options: dict[int, dict[str, Any]] = {}
    for _, step in pipeline.steps:
        if type(step).__name__ == "TfidfVectorizer":
            # ONNX Runtime's StringNormalizer defaults to en_US.UTF-8, often not installed
            options[id(step)] = {"locale": TEXT_LOCALE}
    options[id(pipeline.steps[-1][1])] = {"zipmap": False}
    return convert_sklearn(
        pipeline,
        initial_types=[("input", input_type)],
        options=options,
        target_opset={"": OPSET, "ai.onnx.ml": ML_OPSET},
    )


def _only_probabilities(model: Any) -> Any:
    """Keep the ``probabilities`` output only (drop the label output)."""
    keep = [o for o in model.graph.output if o.name == PROBABILITIES]
    del model.graph.output[:]
    model.graph.output.extend(keep)
    return model


def text_head_onnx(pipeline: Any, dim: int) -> bytes:
    """``(batch, dim)`` float embeddings -> probabilities."""
    from skl2onnx.common.data_types import FloatTensorType

    model = _only_probabilities(_sklearn_onnx(pipeline, FloatTensorType([None, dim])))
    return bytes(model.SerializeToString())


def text_tfidf_onnx(pipeline: Any) -> bytes:
    """``(batch, 1)`` strings -> probabilities."""
    from skl2onnx.common.data_types import StringTensorType

    model = _only_probabilities(_sklearn_onnx(pipeline, StringTensorType([None, 1])))
    return bytes(model.SerializeToString())


def image_classifier_onnx(backbone_path: str | Path, pipeline: Any, dim: int = 1280) -> bytes:
    """Backbone features -> L2 normalisation -> ``pipeline``: one ONNX graph."""
    import numpy as np
    import onnx
    from onnx import TensorProto, compose, helper, numpy_helper
    from skl2onnx.common.data_types import FloatTensorType

    backbone = onnx.load(str(backbone_path))
    (feat_out,) = [o.name for o in backbone.graph.output]
    # x / max(||x||_2, tiny): as ImageEmbedder, an all-zero row stays zero
    eps = numpy_helper.from_array(np.array(1e-30, dtype=np.float32), "l2_eps")
    norm_graph = helper.make_graph(
        [
            helper.make_node("ReduceL2", ["feat"], ["norm"], axes=[1], keepdims=1),
            helper.make_node("Max", ["norm", "l2_eps"], ["norm_safe"]),
            helper.make_node("Div", ["feat", "norm_safe"], ["feat_l2"]),
        ],
        "l2_normalise",
        [helper.make_tensor_value_info("feat", TensorProto.FLOAT, ["batch", dim])],
        [helper.make_tensor_value_info("feat_l2", TensorProto.FLOAT, ["batch", dim])],
        initializer=[eps],
    )
    norm = helper.make_model(norm_graph, opset_imports=[helper.make_opsetid("", OPSET)])
    head = _only_probabilities(_sklearn_onnx(pipeline, FloatTensorType([None, dim])))
    head = compose.add_prefix(head, "head_")
    norm = compose.add_prefix(norm, "norm_")
    ir = max(backbone.ir_version, norm.ir_version, head.ir_version)
    for m in (backbone, norm, head):
        m.ir_version = ir
    opsets = {"": OPSET, "ai.onnx.ml": ML_OPSET}

    def with_opsets(m: Any) -> Any:
        del m.opset_import[:]
        m.opset_import.extend(helper.make_opsetid(d, v) for d, v in opsets.items())
        return m

    first = compose.merge_models(
        with_opsets(backbone), with_opsets(norm), io_map=[(feat_out, "norm_feat")]
    )
    merged = compose.merge_models(first, with_opsets(head), io_map=[("norm_feat_l2", "head_input")])
    keep = [o for o in merged.graph.output if o.name == f"head_{PROBABILITIES}"]
    del merged.graph.output[:]
    merged.graph.output.extend(keep)
    merged.graph.output[0].name = PROBABILITIES
    for node in merged.graph.node:
        for i, name in enumerate(node.output):
            if name == f"head_{PROBABILITIES}":
                node.output[i] = PROBABILITIES
    onnx.checker.check_model(merged)
    return bytes(merged.SerializeToString())
