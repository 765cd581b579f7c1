"""A test-only task kind, defined here alone: it sleeps in batches, reports progress, honours
stop. No ML. Registering it is one entry in ``Settings.runner_plugins``."""

from __future__ import annotations

import time
from typing import Any, ClassVar

from sqlalchemy.orm import Session
from typing_extensions import override

from labelpilot.datasets.tables import Dataset
from labelpilot.engine.context import RunContext
from labelpilot.errors import AssetMissing, AutoDeployRunning, BadRequest, TaskAlreadyRunning
from labelpilot.tasks.kinds import TaskConfig, TaskResult, TaskRunner

SLEEP_KIND = "test-sleep"
SLEEP_TYPE = 98


class SleepConfig(TaskConfig):
    parameters: list[dict[str, Any]] = []

    @property
    def batches(self) -> int:
        return int(self._params().get("batches", 20))

    @property
    def seconds(self) -> float:
        return float(self._params().get("seconds", 0.2))

    @property
    def compute(self) -> float:
        """Seconds of one computation without stop checks (``ctx.interruptible``) first."""
        return float(self._params().get("compute", 0))

    @property
    def fail(self) -> str:
        """``crash``: an unexpected exception; ``asset``: a missing packaged asset."""
        return self._params().get("fail", "")

    def _params(self) -> dict[str, str]:
        return {str(p.get("label")): str(p.get("value")) for p in self.parameters}


# task id -> when its computation ended (time.monotonic()), for tests that run a worker in-process
COMPUTED: dict[str, float] = {}


def _compute(task_id: str, seconds: float) -> None:
    time.sleep(seconds)
    COMPUTED[task_id] = time.monotonic()


class SleepRunner(TaskRunner[SleepConfig]):
    task_type: ClassVar[str] = SLEEP_KIND
    type_code: ClassVar[int] = SLEEP_TYPE
    submit_code: ClassVar[str] = "ModelArts.4900"
    submit_message: ClassVar[str] = "Sleep task submitted."
    success_message: ClassVar[str] = "sleep task executed successfully."
    running_error = TaskAlreadyRunning
    running_message: ClassVar[str] = "A sleep task is already running on this dataset."
    Config = SleepConfig

    @override
    def check(self, session: Session, dataset: Dataset, config: SleepConfig) -> None:
        if config.batches < 1:
            raise BadRequest("config.parameters: batches must be at least 1")

    @override
    def run(self, ctx: RunContext, config: SleepConfig) -> TaskResult:
        batches, seconds = config.batches, config.seconds
        if config.fail == "crash":
            raise RuntimeError("secret internal detail at /srv/private/path")
        if config.fail == "asset":
            raise AssetMissing("weights.bin not found: install the PyPI package 'some-weights'")
        if config.compute:
            with ctx.step("compute", f"{config.compute}s without stop checks"):
                ctx.interruptible(lambda: _compute(ctx.task_id, config.compute))
        with ctx.step("sleep", f"{batches} batches of {seconds}s"):
            for i in range(batches):
                time.sleep(seconds)
                ctx.progress(100.0 * (i + 1) / batches)
        return TaskResult(description=f"slept {batches} batches")


class SleepDeployRunner(SleepRunner):
    """The sleep kind standing in for auto-deploy, for tests of deploy-only behaviour (the
    console's deploy banner and form, ``exist_running_deploy_task``); registered explicitly."""

    task_type: ClassVar[str] = "auto-deploy"
    submit_message: ClassVar[str] = "Auto deploy task submitted."
    success_message: ClassVar[str] = "auto deploy task executed successfully."
    running_error = AutoDeployRunning
    running_message: ClassVar[str] = "An auto deploy task is already running on this dataset."
    unique_names: ClassVar[bool] = True

    @property
    def type(self) -> int:
        return self.settings.auto_deploy_type


class DataSleepRunner(SleepRunner):
    """A data task (not intelligent): runs on the engine, refused by CreateTask and ListTasks."""

    task_type: ClassVar[str] = "test-data-sleep"
    type_code: ClassVar[int] = 97
    intelligent: ClassVar[bool] = False
