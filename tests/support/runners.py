"""A test-only runner: sleeps in batches, reports progress, honours stop. No ML."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from labelpilot.api.schemas import CreateTaskRequest
from labelpilot.datasets.tables import Dataset
from labelpilot.engine.context import RunContext


class SleepRunner:
    task_type = "test-sleep"

    def check(
        self,
        session: Session,
        dataset: Dataset,
        request: CreateTaskRequest,  # noqa: ARG002
    ) -> None:
        """Nothing to check; the signature is the runner protocol's."""

    def run(self, ctx: RunContext) -> dict[str, Any]:
        params = {p["label"]: p["value"] for p in ctx.config.get("parameters", [])}
        batches = int(params.get("batches", 20))
        seconds = float(params.get("seconds", 0.2))
        with ctx.step("sleep", f"{batches} batches of {seconds}s"):
            for i in range(batches):
                time.sleep(seconds)
                ctx.progress(100.0 * (i + 1) / batches)
        return {"description": f"slept {batches} batches"}
