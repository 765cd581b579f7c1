"""Reading a task's samples for a model: a sample that cannot be read or decoded is skipped and
remembered with its reason, not a failure of the task (see ``common.unreadable_outcome``)."""

from __future__ import annotations

from collections.abc import Sequence

from labelpilot.engine.context import RunContext
from labelpilot.errors import StorageUnavailable
from labelpilot.features.images import SAMPLE_ERRORS, read_sample, unreadable_reason
from labelpilot.mlmodels.imaging import check_image
from labelpilot.mlmodels.predictor import InvalidModel as ModelUnusable
from labelpilot.mlmodels.predictor import Prediction, Predictor


class SampleReader:
    """Reads samples (images are checked against the pixel limit) and runs a predictor on the
    readable ones; ``skipped`` maps each skipped sample id to its reason."""

    def __init__(self, ctx: RunContext, *, text: bool) -> None:
        self.ctx = ctx
        self.text = text
        self.skipped: dict[str, str] = {}  # written by several threads, one key per sample

    def read(self, sample_id: str, source: str) -> bytes | None:
        try:
            data = read_sample(self.ctx, source)
            if not self.text:
                check_image(data, self.ctx.settings.max_image_pixels)
            return data
        except StorageUnavailable:
            raise  # not this sample's fault: the task fails saying so
        except SAMPLE_ERRORS as exc:
            self.skipped[sample_id] = unreadable_reason(exc)
            return None

    def _predict(self, predictor: Predictor, data: list[bytes]) -> list[Prediction]:
        if self.text:
            return predictor.predict_texts([d.decode("utf-8", errors="replace") for d in data])
        return predictor.predict_images(data)

    def predict(
        self, predictor: Predictor, samples: Sequence[tuple[str, str]]
    ) -> list[Prediction | None]:
        """Predictions of ``(sample_id, source)`` pairs in order; None for a skipped sample."""
        data = {sid: self.read(sid, source) for sid, source in samples}
        ok = [(sid, d) for sid, d in data.items() if d is not None]
        preds: dict[str, Prediction] = {}
        try:
            preds = dict(
                zip((s for s, _ in ok), self._predict(predictor, [d for _, d in ok]), strict=True)
            )
        except ModelUnusable:
            raise
        except ValueError:  # a sample that does not decode: find it, one at a time
            for sid, d in ok:
                try:
                    preds[sid] = self._predict(predictor, [d])[0]
                except ModelUnusable:
                    raise
                except ValueError as exc:
                    self.skipped[sid] = f"the sample does not decode: {exc}"
        return [preds.get(sid) for sid, _ in samples]
