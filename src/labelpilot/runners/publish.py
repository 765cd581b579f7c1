"""Publish a dataset version (task type 20, a data task): freeze the dataset's samples and
confirmed labels into the version's manifest, then make it current.

The route created the version row (status 0) and this task; a rerun after a crash writes the
files again from the start. A stop or a failure leaves the version in status 4 with the reason.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy.orm import Session
from typing_extensions import override

from labelpilot.datasets import versions
from labelpilot.datasets.tables import Dataset
from labelpilot.engine.context import RunContext, TaskFailed, TaskLost, TaskStopped
from labelpilot.errors import (
    DataTaskFailed,
    LabelPilotError,
    TaskCode,
    TaskCrashed,
    VersionPublishing,
)
from labelpilot.formats._records import SampleRecord
from labelpilot.mlmodels.imaging import open_image
from labelpilot.tasks.kinds import TaskConfig, TaskResult, TaskRunner


class PublishConfig(TaskConfig):
    version_id: str


def image_size(ctx: RunContext, record: SampleRecord) -> tuple[int, int, int]:
    """An image's ``(width, height, depth)``: its stored ``@modelarts:size``, else its header."""
    if record.size is not None:
        return record.size
    key = ctx.storage.key_of(record.source)
    if key is None:
        raise TaskFailed(DataTaskFailed(f"sample {record.id}: its file is outside the storage"))
    try:
        with open_image(ctx.storage.get(key), ctx.settings.max_image_pixels) as im:
            return im.size[0], im.size[1], len(im.getbands())
    except (LabelPilotError, OSError) as exc:
        raise TaskFailed(DataTaskFailed(f"sample {record.id}: size unreadable: {exc}")) from exc


class PublishRunner(TaskRunner[PublishConfig]):
    task_type: ClassVar[str] = "publish-version"
    type_code: ClassVar[int] = 20
    submit_code: ClassVar[str] = TaskCode.DATA_TASK_SUBMITTED
    submit_message: ClassVar[str] = "Version publish submitted."
    success_message: ClassVar[str] = "version published."
    running_error = VersionPublishing
    running_message: ClassVar[str] = "A version of this dataset is being published."
    Config = PublishConfig
    intelligent: ClassVar[bool] = False
    dataset_status: ClassVar[int | None] = 6  # publishing a version
    title: ClassVar[str] = "publishing a version"

    @override
    def check(self, session: Session, dataset: Dataset, config: PublishConfig) -> None:
        versions.get_version(session, dataset.id, config.version_id)

    @override
    def run(self, ctx: RunContext, config: PublishConfig) -> TaskResult:
        try:
            with ctx.step("freeze", "samples and confirmed labels into the manifest"):
                frozen = versions.freeze(
                    ctx.db,
                    ctx.storage,
                    config.version_id,
                    size_of=lambda r: image_size(ctx, r),
                    check_stop=ctx.check_stop,
                )
                ctx.progress(90.0)
            ctx.check_stop(0.0)
            with ctx.db.transaction() as s:
                version = versions.finish(s, config.version_id, frozen)
                name = version.version_name
        except TaskLost:
            raise  # the attempt is not ours any more; the rerun decides
        except TaskStopped:
            self._fail(ctx, config.version_id, "", "publishing stopped")
            raise
        except TaskFailed as exc:
            self._fail(ctx, config.version_id, exc.code, exc.message)
            raise
        except Exception as exc:
            self._fail(ctx, config.version_id, TaskCrashed.error_code, str(exc))
            raise
        return TaskResult(
            version_id=config.version_id,
            version_name=name,
            manifest_path=ctx.storage.url(frozen.manifest_key),
            total_sample_count=frozen.total,
            annotated_sample_count=frozen.annotated,
        )

    @staticmethod
    def _fail(ctx: RunContext, version_id: str, code: str, message: str) -> None:
        ctx.db.run(lambda s: versions.fail(s, version_id, code, message))
