"""Run a registered model: ONNX files with ONNX Runtime, or an HTTP endpoint.

Every predictor answers a list of :class:`Prediction`, one per input, in the documented shape
that the HTTP model protocol also uses (``docs/models.md``)::

    {"labels": [{"name": "cat", "score": 0.93, "bbox": [x1, y1, x2, y2]}, ...],
     "scores": {"cat": 0.93, "dog": 0.07}}

``bbox`` (detection only) is in pixels of the original image, origin top-left, x1 < x2, y1 < y2.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from labelpilot.algorithms.boxes import nms
from labelpilot.mlmodels.spec import (
    ClassificationOutput,
    DetectionOutput,
    ImageInput,
    ModelConfig,
    TextEmbeddingInput,
    TextInput,
)

PICKLE_MAGIC = (b"\x80\x02", b"\x80\x03", b"\x80\x04", b"\x80\x05")
ZIP_MAGIC = b"PK\x03\x04"


class InvalidModel(ValueError):
    """The model cannot be used: the message says why (ModelArts.4934)."""


@dataclass
class PredictedLabel:
    name: str
    score: float
    bbox: tuple[float, float, float, float] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "score": round(float(self.score), 6)}
        if self.bbox is not None:
            out["bbox"] = [round(float(v), 2) for v in self.bbox]
        return out


@dataclass
class Prediction:
    labels: list[PredictedLabel] = field(default_factory=list)
    scores: dict[str, float] | None = None
    size: tuple[int, int] | None = None  # (width, height) of the original image

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"labels": [lb.to_json() for lb in self.labels]}
        if self.scores is not None:
            out["scores"] = {k: round(float(v), 6) for k, v in self.scores.items()}
        if self.size is not None:
            out["size"] = list(self.size)
        return out

    @classmethod
    def from_json(cls, data: Any) -> Prediction:
        """Parse one prediction of the HTTP protocol; ``InvalidModel`` when it does not fit."""
        if not isinstance(data, dict) or not isinstance(data.get("labels"), list):
            raise InvalidModel("each prediction must be an object with a 'labels' list")
        labels = []
        for item in data["labels"]:
            if not isinstance(item, dict) or not isinstance(item.get("name"), str):
                raise InvalidModel("each label must be an object with a string 'name'")
            score = float(item.get("score", 1.0))
            if not 0.0 <= score <= 1.0:
                raise InvalidModel(f"label score {score} is outside [0, 1]")
            bbox = item.get("bbox")
            if bbox is not None:
                if not isinstance(bbox, list) or len(bbox) != 4:
                    raise InvalidModel("bbox must be [x1, y1, x2, y2]")
                bbox = tuple(float(v) for v in bbox)
            labels.append(PredictedLabel(item["name"], score, bbox))
        scores = data.get("scores")
        return cls(labels, {str(k): float(v) for k, v in scores.items()} if scores else None)


class Predictor(Protocol):
    config: ModelConfig

    def predict_images(self, images: Sequence[bytes]) -> list[Prediction]: ...

    def predict_texts(self, texts: Sequence[str]) -> list[Prediction]: ...

    def close(self) -> None: ...


# -- ONNX -------------------------------------------------------------------------------------


def check_onnx_bytes(data: bytes) -> None:
    """Refuse what is not a self-contained ONNX graph (pickles, archives, external data)."""
    import onnx

    if data[:2] in PICKLE_MAGIC or data[:4] == ZIP_MAGIC:
        raise InvalidModel(
            "pickled or archived models (.pkl, .pt, .pth, .joblib) are refused: export to ONNX"
        )
    try:
        proto = onnx.load_model_from_string(data)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not ONNX"
        raise InvalidModel(f"the file is not an ONNX model ({type(exc).__name__})") from exc
    if not proto.graph.node and not proto.graph.output:
        raise InvalidModel("the file is not an ONNX model (empty graph)")
    for tensor in proto.graph.initializer:
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            raise InvalidModel("models with external tensor data are refused: embed the weights")


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


class OnnxPredictor:
    """ONNX Runtime session plus the config's pre- and post-processing."""

    def __init__(self, model: bytes, config: ModelConfig, threads: int = 0) -> None:
        import onnxruntime as ort

        try:
            config.check_onnx()
        except ValueError as exc:
            raise InvalidModel(str(exc)) from exc
        check_onnx_bytes(model)
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        try:
            self.session: Any = ort.InferenceSession(
                model, sess_options=opts, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # noqa: BLE001 - ORT raises many types for bad graphs
            raise InvalidModel(f"ONNX Runtime cannot load the model: {exc}") from exc
        self.config = config
        self._check_io()
        self._text_encoder: Any = None

    def close(self) -> None:
        self.session = None

    # -- validation --------------------------------------------------------------------------

    def _check_io(self) -> None:
        cfg = self.config
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name: o for o in self.session.get_outputs()}
        self.output_names = list(outputs)
        assert cfg.input is not None
        name = cfg.input.name or next(iter(inputs))
        if name not in inputs:
            raise InvalidModel(f"input.name '{name}' is not a graph input (have {list(inputs)})")
        self.input_name = name
        self.input_meta = inputs[name]
        rank = len(self.input_meta.shape)
        kind = cfg.input.kind
        is_string = self.input_meta.type == "tensor(string)"
        if kind == "text" and not is_string:
            raise InvalidModel(f"input '{name}' is {self.input_meta.type}, not a string tensor")
        if kind != "text" and is_string:
            raise InvalidModel(f"input '{name}' is a string tensor; set input.kind to 'text'")
        if isinstance(cfg.input, ImageInput):
            want = 2 if cfg.input.layout == "NF" else 4
            if rank != want:
                raise InvalidModel(
                    f"input '{name}' has rank {rank}; layout {cfg.input.layout} needs rank {want}"
                )
        batch = self.input_meta.shape[0] if rank else 1
        self.fixed_batch = batch if isinstance(batch, int) and batch > 0 else None
        out = cfg.output
        if isinstance(out, DetectionOutput):
            wanted = [out.boxes, out.scores] + ([out.classes] if out.classes else [])
        else:
            scores = cfg.classification_output.scores
            wanted = [scores] if scores else []
        for o in wanted:
            if o not in outputs:
                raise InvalidModel(f"output '{o}' is not a graph output (have {list(outputs)})")
        if not isinstance(out, DetectionOutput):
            self.scores_name = cfg.classification_output.scores or self._pick_scores(outputs)
            dims = outputs[self.scores_name].shape
            n = dims[-1] if dims else None
            if isinstance(n, int) and n != len(cfg.class_names):
                raise InvalidModel(
                    f"output '{self.scores_name}' has {n} classes but class_names lists "
                    f"{len(cfg.class_names)}"
                )

    @staticmethod
    def _pick_scores(outputs: dict[str, Any]) -> str:
        for name, meta in outputs.items():
            if meta.type in ("tensor(float)", "tensor(double)") and len(meta.shape) == 2:
                return name
        raise InvalidModel("no (batch, n_classes) float output found; name it in output.scores")

    # -- inference ---------------------------------------------------------------------------

    def _image_tensor(self, image: Any) -> np.ndarray:
        from PIL import Image

        spec = self.config.input
        assert isinstance(spec, ImageInput)
        img = image.convert("L" if spec.color == "GRAY" else "RGB")
        img = img.resize(spec.size, Image.Resampling.BILINEAR)
        arr = np.asarray(img, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if spec.color == "BGR":
            arr = arr[:, :, ::-1]
        x: np.ndarray = arr
        if spec.dtype != "uint8":
            x = (arr * spec.scale - np.asarray(spec.mean, np.float32)) / np.asarray(
                spec.std, np.float32
            )
        if spec.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        elif spec.layout == "NF":
            x = x.reshape(-1)
        return np.ascontiguousarray(x, dtype=np.uint8 if spec.dtype == "uint8" else np.float32)

    def _run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        values = self.session.run(self.output_names, {self.input_name: batch})
        return dict(zip(self.output_names, values, strict=True))

    def _chunks(self, n: int, size: int = 32) -> list[range]:
        step = self.fixed_batch or size
        return [range(i, min(i + step, n)) for i in range(0, n, step)]

    def _classify(self, tensors: np.ndarray) -> list[Prediction]:
        out = self._run(tensors)[self.scores_name]
        scores = np.asarray(out, dtype=np.float64).reshape(len(tensors), -1)
        act = self.config.classification_output.activation
        if act == "softmax":
            scores = _softmax(scores)
        elif act == "sigmoid":
            scores = 1 / (1 + np.exp(-scores))
        scores = np.clip(scores, 0.0, 1.0)
        names = self.config.class_names
        if scores.shape[1] != len(names):
            raise InvalidModel(
                f"the model answered {scores.shape[1]} scores for {len(names)} classes"
            )
        preds = []
        for row in scores:
            k = int(row.argmax())
            preds.append(
                Prediction(
                    [PredictedLabel(names[k], float(row[k]))],
                    {n: float(v) for n, v in zip(names, row, strict=True)},
                )
            )
        return preds

    def _detect(self, tensor: np.ndarray, size: tuple[int, int]) -> Prediction:
        spec = self.config.output
        inp = self.config.input
        assert isinstance(spec, DetectionOutput) and isinstance(inp, ImageInput)
        out = self._run(tensor[None])
        boxes = np.asarray(out[spec.boxes], dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(out[spec.scores], dtype=np.float64).reshape(-1)
        if spec.classes:
            classes = np.asarray(out[spec.classes]).reshape(-1).astype(np.int64)
        else:
            classes = np.zeros(len(scores), dtype=np.int64)
        if not (len(boxes) == len(scores) == len(classes)):
            raise InvalidModel("boxes, scores and classes outputs differ in length")
        if spec.box_format == "xywh":
            boxes[:, 2:] += boxes[:, :2]
        elif spec.box_format == "cxcywh":
            half = boxes[:, 2:] / 2
            boxes = np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)
        w, h = size
        if spec.normalized:
            boxes *= np.array([w, h, w, h], dtype=np.float64)
        else:
            iw, ih = inp.size
            boxes *= np.array([w / iw, h / ih, w / iw, h / ih], dtype=np.float64)
        boxes = np.clip(boxes, 0, np.array([w, h, w, h], dtype=np.float64))
        names = self.config.class_names
        ok = (
            (scores >= spec.score_threshold)
            & (boxes[:, 2] > boxes[:, 0])
            & (boxes[:, 3] > boxes[:, 1])
            & (classes >= 0)
            & (classes < len(names))
        )
        labels: list[PredictedLabel] = []
        for c in np.unique(classes[ok]):
            idx = np.flatnonzero(ok & (classes == c))
            for k in nms(boxes[idx], scores[idx], spec.nms_iou):
                i = idx[k]
                x1, y1, x2, y2 = (float(v) for v in boxes[i])
                score = float(np.clip(scores[i], 0, 1))
                labels.append(PredictedLabel(names[int(c)], score, (x1, y1, x2, y2)))
        labels.sort(key=lambda lb: -lb.score)
        return Prediction(labels[: spec.max_detections], None, size)

    def predict_images(self, images: Sequence[bytes]) -> list[Prediction]:
        from labelpilot.algorithms.image_decode import load_image

        if self.config.task == "text_classification":
            raise InvalidModel("this model classifies text, not images")
        decoded = [load_image(bytes(b)) for b in images]
        tensors = [self._image_tensor(img) for img in decoded]
        if self.config.task == "object_detection":
            return [self._detect(t, img.size) for t, img in zip(tensors, decoded, strict=True)]
        preds: list[Prediction] = []
        for chunk in self._chunks(len(tensors)):
            preds.extend(self._classify(np.stack([tensors[i] for i in chunk])))
        for p, img in zip(preds, decoded, strict=True):
            p.size = img.size
        return preds

    def predict_texts(self, texts: Sequence[str]) -> list[Prediction]:
        spec = self.config.input
        if isinstance(spec, ImageInput) or spec is None:
            raise InvalidModel("this model takes images, not text")
        preds: list[Prediction] = []
        for chunk in self._chunks(len(texts), 64):
            part = [str(texts[i]) for i in chunk]
            if isinstance(spec, TextInput):
                arr = np.array(part, dtype=object)
                if len(self.input_meta.shape) == 2:
                    arr = arr.reshape(-1, 1)
            else:
                assert isinstance(spec, TextEmbeddingInput)
                arr = self._encode(part)
            preds.extend(self._classify(arr))
        return preds

    def _encode(self, texts: list[str]) -> np.ndarray:
        from labelpilot.mlmodels.text_encoders import TextEmbedder

        if self._text_encoder is None:
            self._text_encoder = TextEmbedder()
            if not self._text_encoder.minilm_available:
                raise InvalidModel("the all-MiniLM-L6-v2 encoder is not installed")
        return np.asarray(self._text_encoder.embed_minilm(texts), dtype=np.float32)


# -- HTTP -------------------------------------------------------------------------------------


class HttpPredictor:
    """A model behind an HTTP endpoint speaking the LabelPilot prediction protocol."""

    def __init__(self, config: ModelConfig) -> None:
        import httpx

        try:
            config.check_http()
        except ValueError as exc:
            raise InvalidModel(str(exc)) from exc
        self.config = config
        self.client = httpx.Client(timeout=config.timeout_seconds)

    def close(self) -> None:
        self.client.close()

    def _call(self, instances: list[dict[str, str]]) -> list[Prediction]:
        import httpx

        assert self.config.req_uri is not None
        try:
            resp = self.client.post(self.config.req_uri, json={"instances": instances})
        except httpx.HTTPError as exc:
            raise ConnectionError(f"model endpoint {self.config.req_uri}: {exc}") from exc
        if resp.status_code != 200:
            raise ConnectionError(
                f"model endpoint {self.config.req_uri} answered HTTP {resp.status_code}: "
                f"{resp.text[:200]}"
            )
        try:
            body = resp.json()
        except ValueError as exc:
            raise InvalidModel("the model endpoint did not answer JSON") from exc
        preds = body.get("predictions") if isinstance(body, dict) else None
        if not isinstance(preds, list) or len(preds) != len(instances):
            raise InvalidModel("the model endpoint must answer one prediction per instance")
        return [Prediction.from_json(p) for p in preds]

    def predict_images(self, images: Sequence[bytes]) -> list[Prediction]:
        preds = self._call([{"image": base64.b64encode(bytes(b)).decode()} for b in images])
        if self.config.task == "object_detection":  # only boxes need the image size
            from labelpilot.algorithms.image_decode import load_image

            for p, data in zip(preds, images, strict=True):
                p.size = load_image(bytes(data)).size
        return preds

    def predict_texts(self, texts: Sequence[str]) -> list[Prediction]:
        return self._call([{"text": str(t)} for t in texts])


def open_predictor(
    model_type: str, config: ModelConfig, model_bytes: bytes | None = None, threads: int = 0
) -> Predictor:
    """A predictor for a registered model (``model_type`` ONNX or HTTP)."""
    if model_type == "HTTP":
        return HttpPredictor(config)
    if model_bytes is None:
        raise InvalidModel("an ONNX model needs its file")
    return OnnxPredictor(model_bytes, config, threads)


def decode_image_b64(value: str) -> bytes:
    """Base64 image bytes of one HTTP-protocol instance."""
    try:
        return base64.b64decode(value, validate=True)
    except (ValueError, TypeError) as exc:
        raise ValueError("image must be base64") from exc


__all__ = [
    "ClassificationOutput",
    "HttpPredictor",
    "InvalidModel",
    "OnnxPredictor",
    "Prediction",
    "PredictedLabel",
    "Predictor",
    "decode_image_b64",
    "open_predictor",
]
