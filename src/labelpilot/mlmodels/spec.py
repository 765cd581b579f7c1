"""The model config: what a registered model does and how to feed and read it (data, never code).

A model is an ONNX file plus this config, or an HTTP endpoint plus this config. See
``docs/models.md`` for the full description and examples.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ModelTask = Literal["image_classification", "object_detection", "text_classification"]

# the dataset types (ModelArts ``dataset_type``) each model task can pre-label
TASK_DATASET_TYPES: dict[str, tuple[int, ...]] = {
    "image_classification": (0,),
    "object_detection": (1,),
    "text_classification": (100,),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ImageInput(_Strict):
    """How an image becomes the model's input tensor."""

    kind: Literal["image"] = "image"
    name: str | None = Field(default=None, description="graph input name; default the first")
    size: tuple[int, int] = Field(description="[width, height] the image is resized to")
    layout: Literal["NCHW", "NHWC", "NF"] = Field(
        default="NCHW", description="NF = flattened pixels, shape (batch, features)"
    )
    color: Literal["RGB", "BGR", "GRAY"] = "RGB"
    dtype: Literal["float32", "uint8"] = "float32"
    scale: float = Field(default=1 / 255, description="pixel * scale, then (x - mean) / std")
    mean: list[float] = Field(default_factory=lambda: [0.0, 0.0, 0.0])
    std: list[float] = Field(default_factory=lambda: [1.0, 1.0, 1.0])

    @field_validator("size")
    @classmethod
    def _positive(cls, v: tuple[int, int]) -> tuple[int, int]:
        if min(v) < 1 or max(v) > 4096:
            raise ValueError("size must be [width, height] between 1 and 4096")
        return v

    @model_validator(mode="after")
    def _channels(self) -> ImageInput:
        channels = 1 if self.color == "GRAY" else 3
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) not in (1, channels):
                raise ValueError(f"{name} needs 1 or {channels} values for color {self.color}")
        if any(v == 0 for v in self.std):
            raise ValueError("std values must not be 0")
        return self


class TextInput(_Strict):
    """Raw strings fed to a string tensor (e.g. a scikit-learn TF-IDF pipeline via skl2onnx)."""

    kind: Literal["text"]
    name: str | None = None


class TextEmbeddingInput(_Strict):
    """Sentence embeddings of a packaged encoder, L2-normalised, shape (batch, dim)."""

    kind: Literal["text_embedding"]
    name: str | None = None
    encoder: Literal["all-MiniLM-L6-v2"] = "all-MiniLM-L6-v2"


ModelInput = Annotated[ImageInput | TextInput | TextEmbeddingInput, Field(discriminator="kind")]


class ClassificationOutput(_Strict):
    scores: str | None = Field(
        default=None, description="output holding (batch, n_classes) scores; default the first"
    )
    activation: Literal["none", "softmax", "sigmoid"] = Field(
        default="none", description="applied to the scores (none: they are probabilities)"
    )


class DetectionOutput(_Strict):
    boxes: str = Field(description="output holding (n, 4) or (1, n, 4) boxes")
    scores: str = Field(description="output holding (n,) or (1, n) scores")
    classes: str | None = Field(
        default=None, description="output holding (n,) class indices; none: one class"
    )
    box_format: Literal["xyxy", "xywh", "cxcywh"] = "xyxy"
    normalized: bool = Field(
        default=False, description="boxes in [0, 1] of the input, else input pixels"
    )
    score_threshold: float = Field(default=0.3, ge=0, le=1)
    nms_iou: float = Field(default=0.5, gt=0, le=1, description="per-class NMS IoU threshold")
    max_detections: int = Field(default=100, ge=1, le=1000)


class ModelConfig(_Strict):
    """The config of a registered model."""

    task: ModelTask
    class_names: list[str] = Field(
        default_factory=list, description="class names in output order (HTTP: optional)"
    )
    input: ModelInput | None = None
    output: ClassificationOutput | DetectionOutput | None = None
    # HTTP models
    req_uri: str | None = Field(default=None, description="HTTP model: POST endpoint")
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)

    @field_validator("class_names")
    @classmethod
    def _unique(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError("class_names must be unique")
        if any(not name.strip() for name in v):
            raise ValueError("class_names must not be empty strings")
        return v

    def check_onnx(self) -> None:
        """The parts an ONNX model must declare; raises ``ValueError`` naming the field."""
        if not self.class_names:
            raise ValueError("class_names is required for an ONNX model")
        if self.input is None:
            raise ValueError("input is required for an ONNX model")
        image_task = self.task != "text_classification"
        if image_task != (self.input.kind == "image"):
            raise ValueError(f"input.kind '{self.input.kind}' does not fit task '{self.task}'")
        if self.task == "object_detection":
            if not isinstance(self.output, DetectionOutput):
                raise ValueError("output with boxes and scores is required for object_detection")
        elif isinstance(self.output, DetectionOutput):
            raise ValueError(f"output for {self.task} takes scores and activation only")

    def check_http(self) -> None:
        if not self.req_uri or not self.req_uri.startswith(("http://", "https://")):
            raise ValueError("req_uri (an http:// or https:// URL) is required for an HTTP model")

    @property
    def classification_output(self) -> ClassificationOutput:
        if isinstance(self.output, ClassificationOutput):
            return self.output
        return ClassificationOutput()
