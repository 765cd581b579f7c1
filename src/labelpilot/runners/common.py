"""Helpers shared by runners: sample selection, batched label writing, hard-example outputs."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from labelpilot.datasets.tables import STATE_ALL, STATE_NONE, Dataset, Sample
from labelpilot.datasets.types import SampleType
from labelpilot.errors import BadRequest, TooManyUnreadableSamples

if TYPE_CHECKING:
    from labelpilot.algorithms.hard_rules import HardExamples
    from labelpilot.engine.context import RunContext

WRITE_BATCH = 500
LISTED_UNREADABLE = 100  # the result lists this many skipped samples (and counts them all)


def unlabeled_images(session: Session, dataset_id: str) -> list[tuple[str, str]]:
    """``(sample_id, source)`` of the dataset's unlabeled image samples, in a stable order."""
    rows = session.execute(
        select(Sample.id, Sample.source)
        .where(Sample.dataset_id == dataset_id, Sample.state == STATE_NONE)
        .where(Sample.sample_type == SampleType.IMAGE)
        .order_by(Sample.sample_time, Sample.id)
    ).all()
    return [(r.id, r.source) for r in rows]


def unreadable_outcome(ctx: RunContext, total: int, skipped: dict[str, str]) -> dict[str, Any]:
    """The result fields naming the samples a run skipped (``sample_id -> reason``).

    More than ``max_unreadable_fraction`` of ``total`` skipped fails the task with
    ``TooManyUnreadableSamples``: a dataset that broken needs a person, not a partial result.
    """
    from labelpilot.engine.context import TaskFailed

    if not skipped:
        return {}
    limit = ctx.settings.max_unreadable_fraction
    if len(skipped) > limit * total:
        sid, reason = next(iter(skipped.items()))
        raise TaskFailed(
            TooManyUnreadableSamples(
                f"{len(skipped)} of {total} samples could not be read, more than the "
                f"max_unreadable_fraction {limit} (LABELPILOT_MAX_UNREADABLE_FRACTION); "
                f"first: {sid}: {reason}"
            )
        )
    return {
        "unreadable_sample_count": len(skipped),
        "unreadable_samples": [
            {"sample_id": sid, "reason": reason}
            for sid, reason in list(skipped.items())[:LISTED_UNREADABLE]
        ],
    }


def instance_count(inf_config_list: list[dict[str, Any]] | None, maximum: int) -> int:
    """``inf_config_list[0].instance_count`` (default 1); 400 unless an integer 1..maximum."""
    infs = inf_config_list or []
    value = infs[0].get("instance_count") if infs and isinstance(infs[0], dict) else None
    if value is None:
        return 1
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= maximum:
        raise BadRequest(
            f"config.inf_config_list[0].instance_count must be an integer from 1 to {maximum}"
        )
    return value


def parse_scope(value: str | None) -> tuple[float, float] | None:
    """``config.confidence_scope`` ``'0.10-0.90'`` as ``(low, high)``; 400 when malformed."""
    if not value:
        return None
    try:
        lo, hi = (float(x) for x in value.split("-", 1))
    except ValueError as exc:
        raise BadRequest("config.confidence_scope must look like '0.10-0.90'") from exc
    if not 0 <= lo < hi <= 1:
        raise BadRequest("config.confidence_scope must be 'min-max' with 0 <= min < max <= 1")
    return lo, hi


def write_samples(
    ctx: RunContext,
    sample_ids: Sequence[str],
    write: Callable[[Session, Dataset, int, Sample], None],
    *,
    progress_from: float,
    progress_to: float = 100.0,
) -> None:
    """Call ``write(session, dataset, i, sample)`` for each target ``sample_ids[i]``.

    One transaction per ``WRITE_BATCH`` samples, a stop check between them; a sample deleted
    meanwhile, or confirmed by a person meanwhile (their labels win), is skipped.
    """
    n = len(sample_ids)
    for start in range(0, n, WRITE_BATCH):
        ctx.check_stop()
        chunk = range(start, min(start + WRITE_BATCH, n))
        with ctx.db.transaction() as sess:
            ds = sess.get(Dataset, ctx.dataset_id)
            assert ds is not None
            rows = {
                r.id: r
                for r in sess.scalars(
                    select(Sample).where(Sample.id.in_([sample_ids[i] for i in chunk]))
                )
            }
            for i in chunk:
                sample = rows.get(sample_ids[i])
                if sample is not None and sample.state != STATE_ALL:
                    write(sess, ds, i, sample)
        ctx.progress(progress_from + (progress_to - progress_from) * chunk.stop / n)


def hard_example_outputs(
    ctx: RunContext, samples: Sequence[tuple[str, str]], hard: HardExamples
) -> dict[str, Any]:
    """Write the hard samples' manifest to storage; the ``result`` fields that point to it.

    ``samples`` are ``(sample_id, source)`` in the order of ``hard``'s rows.
    """
    from labelpilot.storage.keys import hard_examples_key

    lines = [
        json.dumps(
            {
                "sample_id": samples[i][0],
                "source": samples[i][1],
                "hard_coefficient": round(float(hard.coefficient[i]), 4),
                "hard_reasons": [int(r) for r in hard.reasons[i]],
            }
        )
        for i in np.flatnonzero(np.asarray(hard.hard)).tolist()
    ]
    key = hard_examples_key(ctx.dataset_id, ctx.task_id)
    url = ctx.storage.put(key, ("\n".join(lines) + "\n").encode() if lines else b"")
    return {
        "hard_example_path": url,
        "hard_select_tasks": [
            {
                "id": ctx.task_id,
                "hard_select_task_id": ctx.task_id,
                "dataset_id": ctx.dataset_id,
                "task_status": "import_dataset_completed",
                "time": 0,
            }
        ],
    }
