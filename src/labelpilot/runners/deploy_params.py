"""auto-deploy's ``config.parameters`` (``[{"label", "value"}]``): one table of what each means,
how it parses and which values are valid; the 400 names the parameter."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from labelpilot.errors import BadRequest


@dataclass(frozen=True)
class Params:
    C: float = 1.0
    max_iter: int = 1000
    eval_ratio: float = 0.2
    text_features: str = "auto"
    seed: int = 0
    image_size: int = 224


# name -> (parse, valid, what it means); the meaning is also the 400's hint
PARAMETERS: dict[str, tuple[Callable[[str], Any], Callable[[Any], bool], str]] = {
    "C": (
        float,
        lambda v: v > 0 and np.isfinite(v),
        "inverse regularisation strength of the logistic regression, > 0 (default 1.0)",
    ),
    "max_iter": (int, lambda v: 10 <= v <= 100000, "solver iterations, 10-100000 (default 1000)"),
    "eval_ratio": (
        float,
        lambda v: 0.05 <= v <= 0.5,
        "share of each label's samples held out for evaluation, 0.05-0.5 (default 0.2)",
    ),
    "text_features": (
        str,
        lambda v: v in ("auto", "minilm", "tfidf"),
        "text datasets: auto, minilm or tfidf (default auto)",
    ),
    "seed": (int, lambda v: 0 <= v < 2**32, "random seed of the split, an integer (default 0)"),
    "image_size": (
        int,
        lambda v: 64 <= v <= 448,
        "images: network input side in pixels, 64-448 (default 224, as auto-label)",
    ),
}


def parse_parameters(raw: list[dict[str, Any]] | None) -> Params:
    """``config.parameters`` -> Params; 400 naming the parameter that is unknown or invalid."""
    values: dict[str, Any] = {}
    for item in raw or []:
        name = str(item.get("label") or "")
        value = str(item.get("value") if item.get("value") is not None else "")
        if name not in PARAMETERS:
            allowed = ", ".join(PARAMETERS)
            raise BadRequest(
                f"config.parameters: unknown parameter '{name}' for auto-deploy; allowed: {allowed}"
            )
        parse, valid, meaning = PARAMETERS[name]
        try:
            v = parse(value)
            ok = bool(valid(v))
        except ValueError:
            ok = False
        if not ok:
            raise BadRequest(f"config.parameters: invalid value '{value}' for '{name}': {meaning}")
        values[name] = v
    return Params(**values)


def model_name_for(dataset_name: str) -> str:
    base = re.sub(r"[^A-Za-z0-9_.\-]+", "-", dataset_name).strip("-.") or "dataset"
    return f"{base[:40]}-auto-deploy"
